"""The admins' settings pages for SLA policies and business-hours calendars.

Every write goes through `services.save_policy` / `save_calendar` (the API's path too), which
also re-reads the settings and recomputes the affected open tickets' clocks after commit. A
policy's form previews the open tickets it would take before it is saved, and a policy with no
conditions is saved only once the admin ticks that it applies to every ticket.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Max, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.core.errors import ServiceError
from sportello.sla import services
from sportello.sla.models import Calendar, Policy, Target
from sportello.sla.preview import Preview, preview_policy
from sportello.sla.settings_forms import TARGET_LABELS, WEEKDAY_LABELS, CalendarForm, PolicyForm, format_duration
from sportello.tickets.access import require_admin
from sportello.tickets.models import Channel, Priority
from sportello.tickets.views import AgentRequest, agent_view

# --- Policies -----------------------------------------------------------------------------------------


def _policies() -> list[Policy]:
    targets = Prefetch("targets", queryset=Target.objects.order_by("-priority"))
    return list(
        Policy.objects.select_related("calendar")
        .prefetch_related("groups", "organizations", "tags", targets)
        .order_by("position", "id")
    )


def describe_conditions(policy: Policy) -> list[str]:
    """The policy's conditions in words, one per line; empty when it takes every ticket."""
    lines = []
    if policy.priorities:
        names = [str(Priority(value).label) for value in sorted(policy.priorities, reverse=True)]
        lines.append(_("Priority: %(values)s") % {"values": ", ".join(names)})
    if policy.channels:
        names = [str(Channel(value).label) for value in policy.channels]
        lines.append(_("Channel: %(values)s") % {"values": ", ".join(names)})
    if policy.tiers:
        lines.append(_("Tier: %(values)s") % {"values": ", ".join(map(str, sorted(policy.tiers)))})
    for label, related in (
        (_("Group: %(values)s"), policy.groups.all()),
        (_("Organization: %(values)s"), policy.organizations.all()),
        (_("Tag: %(values)s"), policy.tags.all()),
    ):
        names = sorted(str(row) for row in related)
        if names:
            lines.append(label % {"values": ", ".join(names)})
    return lines


def describe_targets(policy: Policy) -> list[str]:
    lines = []
    for target in policy.targets.all():
        parts = [
            f"{TARGET_LABELS[name]} {format_duration(minutes)} h"
            for name in services.TARGETS
            if (minutes := getattr(target, f"{name}_minutes")) is not None
        ]
        lines.append(f"{Priority(target.priority).label}: {', '.join(parts) or '—'}")
    return lines


@agent_view
def policy_list(request: AgentRequest) -> HttpResponse:
    """The policies in the order they are tried, with what they take and their targets."""
    require_admin(request.user)
    rows = [
        {"policy": policy, "conditions": describe_conditions(policy), "targets": describe_targets(policy)}
        for policy in _policies()
    ]
    return render(request, "sla/settings/policies.html", {"rows": rows})


@agent_view
def policy_add(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    last = Policy.objects.aggregate(last=Max("position"))["last"]
    initial = {"active": True, "position": (last or 0) + 10, "warning_minutes": 60}
    return _policy_form(request, None, PolicyForm(request.POST or None, initial=initial))


@agent_view
def policy_edit(request: AgentRequest, policy_id: int) -> HttpResponse:
    require_admin(request.user)
    policy = get_object_or_404(
        Policy.objects.prefetch_related("groups", "organizations", "tags", "targets"), pk=policy_id
    )
    return _policy_form(request, policy, PolicyForm(request.POST or None, policy=policy))


def _policy_form(request: AgentRequest, policy: Policy | None, form: PolicyForm) -> HttpResponse:
    """Show the form; on "Preview", the tickets the policy as typed would take; on "Save", save it
    (a policy with no conditions only with `confirm_all` ticked, after it was shown the count)."""
    preview = None
    confirm = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "preview" or not form.has_conditions():
            preview = _preview(form, policy)
        confirm = not form.has_conditions()
        if request.POST.get("action") != "preview":
            if confirm and data["active"] and not data["confirm_all"]:
                assert preview is not None
                form.add_error(
                    "confirm_all",
                    _(
                        "This policy has no conditions: it applies to every ticket no policy above it takes, "
                        "%(count)s open ticket(s) today. Tick the box to save it anyway, or add a condition."
                    )
                    % {"count": preview.taken},
                )
            else:
                saved = _save_policy(form, policy)
                if saved is not None:
                    messages.success(request, _("Policy “%(name)s” saved.") % {"name": saved.name})
                    return redirect("settings-sla")
    context = {"form": form, "policy": policy, "preview": preview, "confirm": confirm}
    return render(request, "sla/settings/policy_form.html", context, status=422 if form.errors else 200)


def _preview(form: PolicyForm, policy: Policy | None) -> Preview:
    data = form.cleaned_data
    typed = services.Conditions(
        policy=policy or Policy(name=data["name"]),
        priorities=frozenset(data["priorities"]),
        channels=frozenset(data["channels"]),
        tiers=frozenset(data["tiers"]),
        groups=frozenset(group.pk for group in data["groups"]),
        organizations=frozenset(organization.pk for organization in data["organizations"]),
        # Typed tags that no ticket has yet match nothing; an id no row has stands for them.
        tags=form.tag_ids() or (frozenset({0}) if data["tags"] else frozenset()),
    )
    return preview_policy(typed, data["position"], policy.pk if policy else None)


def _save_policy(form: PolicyForm, policy: Policy | None) -> Policy | None:
    try:
        return services.save_policy(policy or Policy(), **form.service_arguments())
    except ServiceError as err:
        field = err.details.get("field")
        form.add_error(field if field in form.fields else None, err.message)
        return None


@require_POST
@agent_view
def policy_move(request: AgentRequest, policy_id: int) -> HttpResponse:
    """Move a policy one place up or down (`services.move_policy`: its tickets are recomputed)."""
    require_admin(request.user)
    policy = Policy.objects.filter(pk=policy_id).first()
    if policy is not None:
        services.move_policy(policy, up=request.POST.get("direction") == "up")
    return redirect("settings-sla")


@require_POST
@agent_view
def policy_active(request: AgentRequest, policy_id: int) -> HttpResponse:
    """Deactivate a policy (its tickets go to the next policy that matches them) or activate it.
    A policy with no conditions is activated from its form, where the count is shown first."""
    require_admin(request.user)
    policy = get_object_or_404(Policy.objects.prefetch_related("groups", "organizations", "tags"), pk=policy_id)
    active = request.POST.get("active") == "true"
    if active and not services.Conditions.of(policy).tickets():
        messages.error(
            request,
            _("“%(name)s” has no conditions and would apply to every ticket: preview it and confirm here.")
            % {"name": policy.name},
        )
        return redirect("settings-sla-edit", policy_id=policy.pk)
    services.save_policy(policy, {"active": active})
    if active:
        messages.success(request, _("Policy “%(name)s” is active.") % {"name": policy.name})
    else:
        messages.success(
            request,
            _("Policy “%(name)s” is inactive: its tickets go to the next policy that matches them.")
            % {"name": policy.name},
        )
    return redirect("settings-sla")


# --- Calendars ----------------------------------------------------------------------------------------


def _hours_text(calendar: Calendar) -> list[str]:
    """The weekly hours in words: "Monday: 09:00-13:00, 14:00-18:00", closed days left out."""
    days: list[list[str]] = [[] for _ in range(7)]
    for interval in calendar.intervals.all():
        end = "24:00" if interval.end.hour == interval.end.minute == 0 else f"{interval.end:%H:%M}"
        days[interval.weekday].append(f"{interval.start:%H:%M}-{end}")
    return [f"{WEEKDAY_LABELS[day]}: {', '.join(hours)}" for day, hours in enumerate(days) if hours]


def _calendar_page(request: AgentRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    calendars = Calendar.objects.prefetch_related("intervals", "holidays", "policies").order_by("name")
    rows = [
        {"calendar": calendar, "hours": _hours_text(calendar), "policies": list(calendar.policies.all())}
        for calendar in calendars
    ]
    return render(request, "sla/settings/calendars.html", {"rows": rows, "error": error}, status=status)


@agent_view
def calendar_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _calendar_page(request)


@agent_view
def calendar_add(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _calendar_form(request, None, CalendarForm(request.POST or None))


@agent_view
def calendar_edit(request: AgentRequest, calendar_id: int) -> HttpResponse:
    require_admin(request.user)
    calendar = get_object_or_404(Calendar.objects.prefetch_related("intervals", "holidays"), pk=calendar_id)
    return _calendar_form(request, calendar, CalendarForm(request.POST or None, calendar=calendar))


def _calendar_form(request: AgentRequest, calendar: Calendar | None, form: CalendarForm) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_calendar(calendar or Calendar(), **form.service_arguments())
        except ServiceError as err:
            field = err.details.get("field")
            form.add_error(field if field in form.fields else None, err.message)
        else:
            messages.success(request, _("Calendar “%(name)s” saved.") % {"name": saved.name})
            return redirect("settings-calendars")
    context: dict[str, Any] = {"form": form, "calendar": calendar}
    return render(request, "sla/settings/calendar_form.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def calendar_delete(request: AgentRequest, calendar_id: int) -> HttpResponse:
    """Delete a calendar no policy uses; otherwise name the policies that use it (409)."""
    require_admin(request.user)
    calendar = get_object_or_404(Calendar, pk=calendar_id)
    users = list(calendar.policies.order_by("position", "id").values_list("name", flat=True))
    if users:
        error = _("“%(calendar)s” is not deleted: the policies %(policies)s count their targets on it.") % {
            "calendar": calendar.name,
            "policies": ", ".join(f"“{name}”" for name in users),
        }
        return _calendar_page(request, error=error, status=409)
    name = calendar.name
    services.delete_calendar(calendar)
    messages.success(request, _("Calendar “%(name)s” deleted.") % {"name": name})
    return redirect("settings-calendars")
