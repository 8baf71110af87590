"""The automation pages of the settings area: triggers, time rules, macros, webhooks, skills.

Triggers, time rules and shared macros are edited with the condition and action builder
(settings_forms.Builder) and saved through the same services as the API (`save_trigger`,
`save_time_rule`, `save_macro`); the edit page of a trigger or a time rule also runs the rule as
typed against one ticket without writing anything (dry_run.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Max, Model, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from sportello.accounts.models import Group, User
from sportello.automation import assignment, services
from sportello.automation.actions import FIELD_ACTIONS, OTHER_ACTIONS
from sportello.automation.dry_run import dry_run
from sportello.automation.models import (
    AgentSkill,
    AssignmentMethod,
    Macro,
    Match,
    Skill,
    TimeRule,
    Trigger,
    WebhookCall,
)
from sportello.automation.settings_forms import (
    ACTION_LABELS,
    ACTION_PARAMS,
    CONDITION_FIELDS,
    LIST_OPS,
    NO_VALUE_OPS,
    OPERATOR_LABELS,
    SPECS,
    ActionRow,
    Builder,
    ConditionRow,
    MacroSettingsForm,
    SkillForm,
    TimeRuleSettingsForm,
    TriggerSettingsForm,
    WebhookLogFilter,
    WebhookTestForm,
    builder_spec,
    choice_lists,
)
from sportello.automation.webhook_tools import TestCallResult, retry_webhook_call, send_test_call
from sportello.core.errors import InvalidInput, NotFound, ServiceError
from sportello.core.paging import filtered_page
from sportello.tickets.access import require_admin, ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view

# --- Triggers, time rules, macros ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """What differs between the three kinds of rule on these pages."""

    model: type[Model]
    form: type[forms.ModelForm]
    save: Callable[..., Any]
    list_url: str
    edit_url: str
    delete_url: str
    title: Any
    one: Any
    actions: tuple[str, ...]
    conditions: bool
    dry_run: bool
    deleted: Any = ""  # the message once one is deleted, with %(name)s

    @property
    def model_name(self) -> str:
        """The model's name ("trigger", "timerule", "macro") for templates, which would call `model`."""
        return str(self.model._meta.model_name)


TRIGGERS = Kind(
    Trigger,
    TriggerSettingsForm,
    services.save_trigger,
    "settings-triggers",
    "settings-trigger",
    "settings-trigger-delete",
    gettext_lazy("Triggers"),
    gettext_lazy("trigger"),
    FIELD_ACTIONS + OTHER_ACTIONS,
    conditions=True,
    dry_run=True,
    deleted=gettext_lazy("Trigger “%(name)s” deleted."),
)
TIME_RULES = Kind(
    TimeRule,
    TimeRuleSettingsForm,
    services.save_time_rule,
    "settings-time-rules",
    "settings-time-rule",
    "settings-time-rule-delete",
    gettext_lazy("Time rules"),
    gettext_lazy("time rule"),
    FIELD_ACTIONS + OTHER_ACTIONS,
    conditions=True,
    dry_run=True,
    deleted=gettext_lazy("Time rule “%(name)s” deleted."),
)
MACROS = Kind(
    Macro,
    MacroSettingsForm,
    lambda actor, data, macro: services.save_macro(actor, {**data, "shared": True}, macro),
    "settings-macros",
    "settings-macro",
    "settings-macro-delete",
    gettext_lazy("Macros"),
    gettext_lazy("macro"),
    FIELD_ACTIONS,
    conditions=False,
    dry_run=False,
    deleted=gettext_lazy("Macro “%(name)s” deleted."),
)


@agent_view
def trigger_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    triggers = Trigger.objects.annotate(run_count=Count("runs"), last_run=Max("runs__created_at")).order_by(
        "position", "id"
    )
    return render(request, "automation/settings/trigger_list.html", {"rules": triggers, "kind": TRIGGERS})


@agent_view
def time_rule_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    rules = TimeRule.objects.annotate(run_count=Count("runs"), last_run=Max("runs__created_at")).order_by(
        "position", "id"
    )
    return render(request, "automation/settings/time_rule_list.html", {"rules": rules, "kind": TIME_RULES})


@agent_view
def macro_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    context = {
        "rules": Macro.objects.filter(owner=None).order_by("name", "id"),
        "personal": Macro.objects.exclude(owner=None).count(),
        "kind": MACROS,
    }
    return render(request, "automation/settings/macro_list.html", context)


@agent_view
def trigger_edit(request: AgentRequest, rule_id: int | None = None) -> HttpResponse:
    require_admin(request.user)
    return _edit(request, TRIGGERS, get_object_or_404(Trigger, pk=rule_id) if rule_id else None)


@agent_view
def time_rule_edit(request: AgentRequest, rule_id: int | None = None) -> HttpResponse:
    require_admin(request.user)
    return _edit(request, TIME_RULES, get_object_or_404(TimeRule, pk=rule_id) if rule_id else None)


@agent_view
def macro_edit(request: AgentRequest, rule_id: int | None = None) -> HttpResponse:
    require_admin(request.user)
    # Agents' personal macros are theirs to edit (services.save_macro); this page keeps the shared ones.
    return _edit(request, MACROS, get_object_or_404(Macro, pk=rule_id, owner=None) if rule_id else None)


@require_http_methods(["GET", "POST"])
@agent_view
def trigger_delete(request: AgentRequest, rule_id: int) -> HttpResponse:
    require_admin(request.user)
    trigger = get_object_or_404(Trigger, pk=rule_id)
    return _delete(request, TRIGGERS, trigger, lambda: services.delete_trigger(request.user, trigger))


@require_http_methods(["GET", "POST"])
@agent_view
def time_rule_delete(request: AgentRequest, rule_id: int) -> HttpResponse:
    require_admin(request.user)
    rule = get_object_or_404(TimeRule, pk=rule_id)
    return _delete(request, TIME_RULES, rule, lambda: services.delete_time_rule(request.user, rule))


@require_http_methods(["GET", "POST"])
@agent_view
def macro_delete(request: AgentRequest, rule_id: int) -> HttpResponse:
    require_admin(request.user)
    macro = get_object_or_404(Macro, pk=rule_id, owner=None)
    return _delete(request, MACROS, macro, lambda: services.delete_macro(request.user, macro))


def _delete(request: AgentRequest, kind: Kind, rule: Any, delete: Callable[[], None]) -> HttpResponse:
    """The question first (what goes with the rule); only a POST of its button deletes. A POST
    without it (a form of an older page, a script) gets the question too and deletes nothing."""
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        name = rule.name
        delete()
        messages.success(request, str(kind.deleted) % {"name": name})
        return redirect(kind.list_url)
    runs = rule.runs.count() if kind.model is not Macro else 0
    context = {"kind": kind, "rule": rule, "runs": runs}
    return render(request, "automation/settings/rule_delete.html", context)


def _edit(request: AgentRequest, kind: Kind, rule: Any) -> HttpResponse:
    """The edit page, its save and its dry run (a POST with `dry_run`: nothing is written)."""
    form = kind.form(request.POST or None, instance=rule)
    if request.method != "POST":
        stored = rule.conditions if rule is not None and kind.conditions else []
        builder = Builder.from_stored(stored, rule.actions if rule is not None else [])
        return _edit_page(request, kind, rule, form, builder)
    builder = Builder.from_post(request.POST, allowed=kind.actions, stored=list(rule.actions) if rule else [])
    if not kind.conditions:
        builder.conditions, builder.condition_rows = [], []
    if "dry_run" in request.POST and kind.dry_run:
        return _dry_run_page(request, kind, rule, form, builder)
    if form.is_valid() and builder.valid:
        data = {**form.cleaned_data, "actions": builder.actions}
        if kind.conditions:
            data["conditions"] = builder.conditions
        try:
            saved = kind.save(request.user, data, rule)
        except InvalidInput as exc:
            where = exc.details.get("field")
            if not builder.place(exc):
                form.add_error(where if where in form.fields else None, exc.message)
        else:
            messages.success(request, _("“%(name)s” saved.") % {"name": saved.name})
            return redirect(kind.edit_url, rule_id=saved.pk)
    return _edit_page(request, kind, rule, form, builder, status=422)


def _dry_run_page(
    request: AgentRequest, kind: Kind, rule: Any, form: forms.ModelForm, builder: Builder
) -> HttpResponse:
    error = ""
    result = None
    raw = request.POST.get("dry_run_ticket", "").strip().lstrip("#")
    if not builder.valid:
        error = _("Correct the rows marked below first.")
    elif not raw.isdecimal():
        error = _("Type a ticket's number.")
    else:
        try:
            ticket = ticket_for_agent(request.user, int(raw))
        except NotFound:
            error = _("There is no ticket #%(number)s.") % {"number": raw}
        else:
            time_rule = None
            if kind.model is TimeRule:
                time_rule = TimeRule(
                    pk=rule.pk if rule else None,
                    since=request.POST.get("since") or TimeRule.Since.STATUS_CHANGED,
                    hours=_whole(request.POST.get("hours")),
                )
                if time_rule.since not in TimeRule.Since.values:
                    time_rule.since = TimeRule.Since.STATUS_CHANGED
            result = dry_run(
                ticket,
                builder.conditions,
                builder.actions,
                match_all=request.POST.get("match", Match.ALL) != Match.ANY,
                time_rule=time_rule,
            )
    context = {"dry_run": result, "dry_run_error": error, "dry_run_ticket": raw}
    return _edit_page(request, kind, rule, form, builder, status=422 if error else 200, extra=context)


def _whole(text: str | None) -> int:
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0


def _edit_page(
    request: AgentRequest,
    kind: Kind,
    rule: Any,
    form: forms.ModelForm,
    builder: Builder,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    lists = choice_lists()
    spec = builder_spec(lists, kind.actions)
    spec["strings"] = {
        "condition": _("Condition"),
        "action": _("Action"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": _("Value"),
        "remove": _("Remove"),
        "commas": _("Separate values with commas"),
        "added": _("%(what)s %(number)s added"),
        "removed": _("%(what)s removed"),
    }
    context = {
        "kind": kind,
        "rule": rule,
        "form": form,
        "builder": builder,
        "condition_rows": [_condition_view(row, lists) for row in builder.condition_rows],
        "action_rows": [_action_view(row, lists, kind.actions) for row in builder.action_rows],
        "spec": spec,
        "is_trigger": kind.model is Trigger,
        **(extra or {}),
    }
    return render(request, "automation/settings/rule_edit.html", context, status=status)


def _options(choices: list[tuple[str, str]], selected: list[str]) -> list[tuple[str, str, bool]]:
    """(value, label, selected), with a stored value no longer offered kept visible as unknown."""
    known = {value for value, _label in choices}
    missing = [(value, _("unknown (%(value)s)") % {"value": value}, True) for value in selected if value not in known]
    return [(value, label, value in selected) for value, label in choices] + missing


def _condition_view(row: ConditionRow, lists: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    spec = SPECS.get(row.field)
    fields = [(s.name, str(s.label), s.name == row.field) for s in CONDITION_FIELDS]
    if spec is None:
        fields.append((row.field, _("unknown (%(value)s)") % {"value": row.field}, True))
    operators = spec.operators if spec else tuple(OPERATOR_LABELS)
    ops = [(op, str(OPERATOR_LABELS[op]), op == row.op) for op in operators]
    if row.op not in operators:
        ops.append((row.op, _("unknown (%(value)s)") % {"value": row.op}, True))
    widget, options, text = "text", [], ", ".join(row.values)
    if row.op in NO_VALUE_OPS:
        widget = "none"
    elif spec is not None and spec.kind == "choice":
        widget = "multiple" if row.op in LIST_OPS else "select"
        options = _options(lists.get(spec.name, []), row.values)
    elif spec is not None and spec.kind == "number" and row.op not in LIST_OPS:
        widget = "number"
    return {"row": row, "fields": fields, "ops": ops, "widget": widget, "options": options, "text": text}


def _action_view(row: ActionRow, lists: dict[str, list[tuple[str, str]]], allowed: tuple[str, ...]) -> dict[str, Any]:
    types = [(kind, str(ACTION_LABELS[kind]), kind == row.type) for kind in allowed]
    if row.type not in allowed:
        types.append((row.type, _("unknown (%(value)s)") % {"value": row.type}, True))
    params = []
    for param in ACTION_PARAMS.get(row.type, ()):
        value = row.params.get(param.name, "")
        options = _options(lists.get(param.choices, []), [value]) if param.kind == "choice" else []
        params.append({"param": param, "value": value, "options": options})
    return {"row": row, "types": types, "params": params}


# --- Webhooks ------------------------------------------------------------------------------------------

LOG_PAGE_SIZE = 50


@agent_view
def webhooks(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return _webhooks_page(request, WebhookTestForm())


@require_POST
@agent_view
def webhook_test(request: AgentRequest) -> HttpResponse:
    """A test call to the URL typed, or to a trigger's webhook with its own secret."""
    require_admin(request.user)
    source = request.POST.get("source", "")
    if source:
        trigger, url, secret = _webhook_of(source)
        form = WebhookTestForm(initial={"url": url})
        return _webhooks_page(request, form, result=send_test_call(url, secret, trigger=trigger))
    form = WebhookTestForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, form, status=422)
    result = send_test_call(form.cleaned_data["url"], form.cleaned_data["secret"])
    return _webhooks_page(request, form, result=result)


@require_POST
@agent_view
def webhook_retry(request: AgentRequest, call_id: int) -> HttpResponse:
    require_admin(request.user)
    call = retry_webhook_call(request.user, get_object_or_404(WebhookCall, pk=call_id))
    messages.success(request, _("Call %(id)s to %(url)s is queued again.") % {"id": call.pk, "url": call.url})
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/settings/webhooks/") else "settings-webhooks")


def _webhook_of(source: str) -> tuple[Trigger, str, str]:
    """ "<trigger id>:<action number>" → that trigger, its webhook action's URL and secret."""
    trigger_id, _sep, number = source.partition(":")
    trigger = Trigger.objects.filter(pk=int(trigger_id) if trigger_id.isdecimal() else 0).first()
    actions = [a for a in (trigger.actions if trigger else []) if a.get("type") == "webhook"]
    index = int(number) if number.isdecimal() else -1
    if trigger is None or not 0 <= index < len(actions):
        raise NotFound("No such webhook")
    return trigger, str(actions[index].get("url", "")), str(actions[index].get("secret") or "")


def _webhook_actions() -> list[dict[str, Any]]:
    found = []
    for trigger in Trigger.objects.order_by("position", "id"):
        hooks = [a for a in trigger.actions if isinstance(a, dict) and a.get("type") == "webhook"]
        for index, action in enumerate(hooks):
            found.append(
                {
                    "trigger": trigger,
                    "url": action.get("url", ""),
                    "signed": bool(action.get("secret")),
                    "source": f"{trigger.pk}:{index}",
                }
            )
    return found


# The delivery log's filter fields (settings_forms.WebhookLogFilter) and what each narrows.
WEBHOOK_LOG_FILTERS = {
    "state": "state",
    "trigger": "trigger_id",
    "since": "created_at__date__gte",
    "until": "created_at__date__lte",
}


def _webhooks_page(
    request: AgentRequest, form: WebhookTestForm, *, result: TestCallResult | None = None, status: int = 200
) -> HttpResponse:
    filters = WebhookLogFilter(request.GET or None)
    calls = WebhookCall.objects.select_related("trigger", "ticket").order_by("-created_at", "-id")
    page, query = filtered_page(request, calls, filters, WEBHOOK_LOG_FILTERS, size=LOG_PAGE_SIZE)
    context = {
        "hooks": _webhook_actions(),
        "form": form,
        "result": result,
        "filters": filters,
        "page": page,
        "query": query,
        "here": request.get_full_path() if request.method == "GET" else "/settings/webhooks/",
    }
    return render(request, "automation/settings/webhooks.html", context, status=status)


# --- Skills --------------------------------------------------------------------------------------------
#
# What a ticket needs (by its type or a tag) and which agents have it, at what level: the method
# "By skills" of a group's page prefers the online agent with the best match. Saved through the same
# services as the API (`assignment.save_skill`, `set_skill_holders`, `delete_skill`).


def _skill_agents() -> list[User]:
    """The people a skill can be given to: active agents and admins, by name."""
    return list(
        User.objects.filter(is_active=True, role__in=assignment.ASSIGNABLE_ROLES).order_by(
            "first_name", "last_name", "username"
        )
    )


def _skill_refused(form: SkillForm, err: ServiceError) -> None:
    field = err.details.get("field")
    form.add_error(field if field in form.fields else None, err.message)


@require_http_methods(["GET", "POST"])
@agent_view
def skill_list(request: AgentRequest) -> HttpResponse:
    """The skills with what needs them and who has them, and the form to add one."""
    require_admin(request.user)
    form = SkillForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            skill = assignment.save_skill(
                Skill(), name=data["name"], categories=[c.pk for c in data["categories"]], tags=data["tags"]
            )
        except ServiceError as err:
            _skill_refused(form, err)
        else:
            messages.success(
                request, _("Skill “%(name)s” added: now choose which agents have it.") % {"name": skill.name}
            )
            return redirect("settings-skill", skill_id=skill.pk)
    holders = Prefetch(
        "agents",
        queryset=AgentSkill.objects.select_related("agent").order_by("-level", "agent__first_name", "agent__username"),
    )
    skills = Skill.objects.prefetch_related("categories", "tags", holders).order_by("name")
    skill_groups = Group.objects.filter(assignment__method=AssignmentMethod.SKILLS).order_by("name")
    context = {"form": form, "skills": skills, "skill_groups": skill_groups}
    return render(request, "automation/settings/skills.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def skill_edit(request: AgentRequest, skill_id: int) -> HttpResponse:
    require_admin(request.user)
    skill = get_object_or_404(Skill.objects.prefetch_related("categories", "tags"), pk=skill_id)
    agents = _skill_agents()
    held = {row.agent_id: row for row in AgentSkill.objects.filter(skill=skill).select_related("agent")}
    initial: dict[str, Any] = {
        "name": skill.name,
        "categories": list(skill.categories.all()),
        "tags": ", ".join(tag.name for tag in skill.tags.all()),
    }
    for agent in agents:
        if agent.pk in held:
            initial[f"agent_{agent.pk}"] = str(held[agent.pk].level or 1)
    form = SkillForm(request.POST if request.method == "POST" else None, agents=agents, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                assignment.save_skill(
                    skill, name=data["name"], categories=[c.pk for c in data["categories"]], tags=data["tags"]
                )
                assignment.set_skill_holders(skill, form.levels(), among=agents)
        except ServiceError as err:
            skill.refresh_from_db()
            _skill_refused(form, err)
        else:
            messages.success(request, _("Skill “%(name)s” saved.") % {"name": skill.name})
            return redirect("settings-skills")
    # Holders who cannot be edited here (deactivated, or no longer agents): shown, kept.
    others = [row for agent_id, row in held.items() if agent_id not in {agent.pk for agent in agents}]
    context = {"form": form, "skill": skill, "others": others}
    return render(request, "automation/settings/skill_edit.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def skill_delete(request: AgentRequest, skill_id: int) -> HttpResponse:
    """The question first (the agents who lose it, what needed it); only its button deletes."""
    require_admin(request.user)
    skill = get_object_or_404(Skill.objects.prefetch_related("categories", "tags"), pk=skill_id)
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        name = skill.name
        assignment.delete_skill(skill)
        messages.success(request, _("Skill “%(name)s” deleted.") % {"name": name})
        return redirect("settings-skills")
    context = {"skill": skill, "holders": skill.agents.count()}
    return render(request, "automation/settings/skill_delete.html", context)
