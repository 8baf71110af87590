"""The admins' settings pages for people: users and agents (invite, edit, deactivate), groups and
everyone's API tokens; and the page where an invited person sets their password."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.core.paginator import Paginator
from django.db.models import Count, F
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.accounts import services, team
from sportello.accounts.models import ApiToken, Availability, Group, Role, User
from sportello.accounts.settings_forms import (
    ASSIGNMENT_NAMES,
    AcceptInvitationForm,
    DeleteGroupForm,
    GroupForm,
    InviteForm,
    PeopleFilterForm,
    PersonForm,
)
from sportello.automation.assignment import ASSIGNABLE_ROLES, load_report
from sportello.automation.models import AgentProfile, AgentSkill, AssignmentMethod, GroupAssignment, Skill
from sportello.core.errors import InvalidInput, ServiceError
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

PAGE_SIZE = 50


def _posted(request: HttpRequest) -> QueryDict | None:
    """The form's data on POST (even an empty one: it is then invalid, 422), else unbound."""
    return request.POST if request.method == "POST" else None


# --- Users and agents --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_view
def user_list(request: AgentRequest) -> HttpResponse:
    """Everyone who works tickets, filtered and paginated, with the invitation form."""
    require_admin(request.user)
    form = InviteForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = team.invite_user(
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                groups=list(data["groups"]),
                language=data["language"],
            )
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": user.email})
            return redirect("settings-users")
    filters = PeopleFilterForm(request.GET or None, auto_id="filter_%s")  # ids apart from the invitation form's
    page = Paginator(team.people(**filters.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "invited": {user.pk for user in page if team.is_invited(user)},
        "customers": filters.filters()["role"] == Role.CUSTOMER,
        "days": team.INVITE_DAYS,
    }
    return render(request, "accounts/settings/users.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def user_edit(request: AgentRequest, user_id: int) -> HttpResponse:
    require_admin(request.user)
    person = get_object_or_404(User, pk=user_id, role__in=team.STAFF_ROLES)
    skills = list(Skill.objects.order_by("name"))
    form = PersonForm(_posted(request), skills=skills, initial=_initial(person))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = team.PersonChanges(
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            role=data["role"],
            language=data["language"],
            is_active=data["is_active"],
            groups=list(data["groups"]),
            skills=form.chosen_skills(),
            spoken_languages=data["spoken_languages"],
            capacity=data["capacity"],
        )
        try:
            team.update_person(person, changes)
        except InvalidInput as err:
            person.refresh_from_db()
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": person.display_name})
            return redirect("settings-users")
    context = {
        "form": form,
        "person": person,
        "invited": team.is_invited(person),
        "assignable": person.role in ASSIGNABLE_ROLES,
    }
    return render(request, "accounts/settings/user_edit.html", context, status=422 if form.errors else 200)


def _initial(person: User) -> dict[str, object]:
    profile = AgentProfile.objects.filter(agent=person).first()
    initial: dict[str, object] = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "role": person.role,
        "language": person.language,
        "is_active": person.is_active,
        "groups": list(person.support_groups.all()),
        "spoken_languages": ", ".join(profile.languages) if profile else "",
        "capacity": profile.max_open_tickets if profile else None,
    }
    for row in AgentSkill.objects.filter(agent=person):
        initial[f"skill_{row.skill_id}"] = str(row.level or 1)
    return initial


@require_POST
@agent_view
def user_active(request: AgentRequest, user_id: int) -> HttpResponse:
    """Deactivate (sign-in and API tokens refused from the next request) or reactivate."""
    require_admin(request.user)
    person = get_object_or_404(User.objects.exclude(role=Role.SYSTEM), pk=user_id)
    active = request.POST.get("active") == "true"
    try:
        team.set_person_active(person, active)
    except InvalidInput as err:
        messages.error(request, err.message)
    else:
        if active:
            messages.success(request, _("%(name)s can sign in again.") % {"name": person.display_name})
        else:
            messages.success(
                request,
                _("%(name)s is deactivated: they cannot sign in, and their API tokens are refused.")
                % {"name": person.display_name},
            )
    if person.role == Role.CUSTOMER:  # back to the list it was done from
        return redirect(f"{reverse('settings-users')}?role={Role.CUSTOMER}")
    return redirect("settings-users")


@require_POST
@agent_view
def user_resend(request: AgentRequest, user_id: int) -> HttpResponse:
    require_admin(request.user)
    person = get_object_or_404(User, pk=user_id, role__in=team.STAFF_ROLES)
    try:
        team.resend_invitation(person)
    except InvalidInput as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request,
            _("A new invitation was sent to %(email)s; earlier links no longer work.") % {"email": person.email},
        )
    return redirect("settings-users")


@never_cache  # the link in the address is a credential
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee chooses a password and is signed in; a spent or expired link says so."""
    try:
        person = team.invited_user(token)
    except InvalidInput as err:
        return render(request, "accounts/invitation.html", {"problem": err.message}, status=410)
    form = AcceptInvitationForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            person = team.accept_invitation(token, form.cleaned_data["password1"])
        except team.InvitationInvalid as err:
            return render(request, "accounts/invitation.html", {"problem": err.message}, status=410)
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            # Signed in through the configured backends, so the sign-in policy applies (while
            # agents must use single sign-on, the new password does not sign them in).
            signed_in = authenticate(request, username=person.username, password=form.cleaned_data["password1"])
            if signed_in is None:
                messages.info(request, _("Your password is set. Sign in as your help desk asks you to."))
                return redirect("login")
            login(request, signed_in)
            messages.success(request, _("Welcome, %(name)s: your password is set.") % {"name": person.display_name})
            return redirect("inbox")
    context = {"form": form, "person": person}
    return render(request, "accounts/invitation.html", context, status=422 if form.errors else 200)


# --- Groups ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_view
def group_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = GroupForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            group = team.save_group_settings(Group(), **_group_arguments(data))
        except ServiceError as err:  # InvalidInput, or Conflict for a name taken
            _refused(form, err)
        else:
            messages.success(request, _("Group “%(name)s” added.") % {"name": group.name})
            return redirect("settings-groups")
    groups = (
        Group.objects.annotate(ticket_count=Count("tickets", distinct=True))
        .select_related("assignment")
        .prefetch_related("members")
    )
    rows = [(group, _assignment_summary(getattr(group, "assignment", None))) for group in groups]
    context = {"form": form, "rows": rows}
    return render(request, "accounts/settings/groups.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@agent_view
def group_edit(request: AgentRequest, group_id: int) -> HttpResponse:
    require_admin(request.user)
    group = get_object_or_404(Group, pk=group_id)
    assignment = GroupAssignment.objects.filter(group=group).first()
    initial = {
        "name": group.name,
        "description": group.description,
        "tier": group.tier,
        "members": list(group.members.all()),
        "assignment_method": assignment.method if assignment else AssignmentMethod.NONE.value,
        "default_capacity": assignment.default_capacity if assignment else None,
    }
    form = GroupForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            team.save_group_settings(group, **_group_arguments(form.cleaned_data))
        except ServiceError as err:  # InvalidInput, or Conflict for a name taken
            group.refresh_from_db()
            _refused(form, err)
        else:
            messages.success(request, _("Group “%(name)s” saved.") % {"name": group.name})
            return redirect("settings-groups")
    inactive = [m for m in group.members.all() if not m.is_active]
    load = next((row for row in load_report() if row.id == group.pk), None)
    labels = dict(Availability.choices)
    agents = [(agent, labels.get(agent.availability, agent.availability)) for agent in load.agents] if load else []
    context = {"form": form, "group": group, "inactive_members": inactive, "load": load, "agents": agents}
    return render(request, "accounts/settings/group_edit.html", context, status=422 if form.errors else 200)


def _group_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """What `team.save_group_settings` takes, from the cleaned group form."""
    return {
        "name": data["name"],
        "description": data["description"],
        "tier": data["tier"],
        "members": list(data["members"]),
        "assignment_method": data["assignment_method"] or None,
        "default_capacity": data["default_capacity"],
    }


def _refused(form: GroupForm, err: ServiceError) -> None:
    field = err.details.get("field")
    form.add_error(field if field in form.fields else None, err.message)


def _assignment_summary(assignment: GroupAssignment | None) -> str:
    """“Round-robin, at most 5 open tickets each” for the list of groups."""
    if assignment is None or assignment.method == AssignmentMethod.NONE:
        return str(ASSIGNMENT_NAMES[AssignmentMethod.NONE.value])
    name = str(ASSIGNMENT_NAMES.get(assignment.method, assignment.method))
    if assignment.default_capacity is None:
        return name
    count = assignment.default_capacity
    return ngettext(
        "%(method)s, at most %(count)s open ticket each", "%(method)s, at most %(count)s open tickets each", count
    ) % {"method": name, "count": count}


@require_http_methods(["GET", "POST"])
@agent_view
def group_delete(request: AgentRequest, group_id: int) -> HttpResponse:
    """Confirm, then delete; refused while rules name the group, its tickets moved on request."""
    require_admin(request.user)
    group = get_object_or_404(Group, pk=group_id)
    usage = team.group_usage(group)
    form = DeleteGroupForm(_posted(request), group=group)
    if request.method == "POST" and form.is_valid():
        try:
            team.delete_group(group, request.user, move_tickets_to=form.cleaned_data["move_to"])
        except InvalidInput as err:
            form.add_error(err.details.get("field"), err.message)
        else:
            messages.success(request, _("Group “%(name)s” deleted.") % {"name": group.name})
            return redirect("settings-groups")
    context = {"form": form, "group": group, "usage": usage}
    return render(request, "accounts/settings/group_delete.html", context, status=422 if form.errors else 200)


# --- Everyone's API tokens ---------------------------------------------------------------------------


@require_GET
@agent_view
def token_list(request: AgentRequest) -> HttpResponse:
    """Every user's tokens, active ones first (each agent creates their own at /accounts/tokens/)."""
    require_admin(request.user)
    tokens = ApiToken.objects.select_related("user").order_by(F("revoked_at").desc(nulls_first=True), "-created_at")
    page = Paginator(tokens, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/settings/tokens.html", {"page": page, "now": timezone.now()})


@require_http_methods(["GET", "POST"])
@agent_view
def token_revoke(request: AgentRequest, token_id: int) -> HttpResponse:
    """A confirmation naming the token and its owner; then the token is refused from the next request."""
    require_admin(request.user)
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    if token.revoked_at is not None:
        messages.info(request, _("The token “%(name)s” was already revoked.") % {"name": token.name})
        return redirect("settings-tokens")
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        if services.revoke_token(token.pk):  # audited: TOKEN_REVOKED, by this admin, naming the owner
            messages.success(
                request,
                _("The token “%(name)s” of %(owner)s was revoked; programs using it are refused from now on.")
                % {"name": token.name, "owner": token.user.display_name},
            )
        else:  # revoked meanwhile
            messages.info(request, _("The token “%(name)s” was already revoked.") % {"name": token.name})
        return redirect("settings-tokens")
    return render(request, "accounts/settings/token_revoke.html", {"token": token, "now": timezone.now()})
