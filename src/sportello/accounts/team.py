"""The team as admins manage it: inviting people, their role, groups, skills and capacity,
deactivating them, and the groups (tiers) they work in.

- **Invitations.** An invited user is created active, without a usable password, and mailed a
  signed link (INVITE_DAYS) to a page where they choose a password. The link carries a digest
  of the user's unusable password: setting a password spends it, and a resend draws a new
  unusable password, so only the newest link works. The mail goes through the outbox in the
  creating transaction (core/outbox.py), like every mail.
- **The last admin.** No change may leave the help desk without an active admin: demoting or
  deactivating the last one is refused (the admin rows are locked first, so two admins demoting
  each other at once cannot both succeed).
- **Deactivation** is a save of the user: Django's sessions stop at the next request (the
  backend refuses inactive users) and API tokens at once (token_cache forgets on every save of a
  user). Groups and skills are kept, so a reactivated agent comes back as they were.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from sportello.accounts.models import Group, Role, User
from sportello.core.errors import InvalidInput
from sportello.core.models import OutboxMessage

log = logging.getLogger("sportello.accounts")

STAFF_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)
INVITE_SALT = "sportello.accounts.invitation"
INVITATION_MAIL = "accounts.invitation"  # the outbox kind of the mail
INVITE_DAYS = 7  # how long the link in an invitation works


class InvitationInvalid(InvalidInput):
    """The link is expired, already used, replaced by a newer one, or forged."""


# --- Listing -----------------------------------------------------------------------------------------


def people(*, role: str = "", active: str = "", text: str = "") -> QuerySet[User]:
    """The users of the settings page: staff unless `role` asks for customers; never the system user."""
    users = User.objects.exclude(role=Role.SYSTEM)
    users = users.filter(role=role) if role else users.filter(role__in=STAFF_ROLES)
    if active in ("yes", "no"):
        users = users.filter(is_active=active == "yes")
    for word in text.split()[:5]:
        users = users.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    return users.prefetch_related("support_groups").order_by("-is_active", "first_name", "last_name", "username")


def is_invited(user: User) -> bool:
    """Invited and not yet accepted: no usable password and never signed in."""
    return user.last_login is None and not user.has_usable_password()


# --- The last admin ----------------------------------------------------------------------------------


def _is_admin(role: str, is_active: bool, is_superuser: bool) -> bool:
    return is_active and (role == Role.ADMIN or is_superuser)


def _check_admins_remain(user: User, *, role: str, is_active: bool) -> None:
    """Refuse a change that would leave no active admin. Locks the admin rows (call in a transaction)."""
    if not _is_admin(user.role, user.is_active, user.is_superuser):
        return
    if _is_admin(role, is_active, user.is_superuser):
        return
    others = list(
        User.objects.select_for_update()
        .filter(is_active=True)
        .filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
        .exclude(pk=user.pk)
        .values_list("pk", flat=True)
    )
    if not others:
        raise InvalidInput(
            _(
                "%(name)s is the last active admin: make someone else an admin first, "
                "or nobody could manage the help desk."
            )
            % {"name": user.display_name},
            field="role" if is_active else None,
        )


# --- Invitations -------------------------------------------------------------------------------------


def _password_digest(user: User) -> str:
    return hashlib.sha256(user.password.encode()).hexdigest()[:16]


def invitation_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "p": _password_digest(user)}, salt=INVITE_SALT)


def invitation_url(user: User) -> str:
    return settings.SITE_URL + reverse("invitation", kwargs={"token": invitation_token(user)})


def invite_user(
    *, email: str, first_name: str, last_name: str, role: str, groups: Sequence[Group], language: str = ""
) -> User:
    """Create a user without a password and mail them an invitation (sent after commit)."""
    from sportello.audit import services as audit
    from sportello.audit.models import Action

    email = email.strip().lower()
    if role not in STAFF_ROLES:
        raise InvalidInput(_("Invite admins, agents or light agents; customers sign in on the portal."), field="role")
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise InvalidInput(_("Someone here already has this address."), field="email")
    with transaction.atomic():
        user = User(
            username=email[:150], email=email, first_name=first_name.strip(), last_name=last_name.strip(), role=role
        )
        user.language = language
        user.set_unusable_password()
        user._audit_creation_recorded = True  # type: ignore[attr-defined]  # recorded below, as an invitation
        user.save()
        audit.record(
            Action.PERMISSION_CHANGED,
            target=user,
            target_label=user.get_username(),
            after={"invited": email, "role": role, "is_active": True},
        )
        user.support_groups.set(groups)
        _put_invitation(user)
    return user


def resend_invitation(user: User) -> None:
    """A new link for someone who has not accepted yet; older links stop working."""
    if not is_invited(user):
        raise InvalidInput(_("%(name)s already accepted the invitation.") % {"name": user.display_name})
    if not user.is_active:
        raise InvalidInput(_("%(name)s is deactivated: reactivate them first.") % {"name": user.display_name})
    from sportello.audit import services as audit

    with transaction.atomic():
        user.set_unusable_password()
        user.save(update_fields=["password"])
        _put_invitation(user)
        # A new sign-in link, earlier ones spent: recorded as the invitation itself was.
        audit.power_used("invitation.resent", target=user, target_label=user.get_username(), details={"to": user.email})


def _put_invitation(user: User) -> None:
    from sportello.core import outbox

    outbox.put(INVITATION_MAIL, {"user": user.pk, "url": invitation_url(user)})


def handle_invitation_mail(message: OutboxMessage) -> None:
    """Outbox handler: the invitation, in the invitee's language; not sent once they accepted or
    were deactivated. Its Message-ID is the row's, so a resend of this row is the same mail."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.utils import translation

    from sportello.mail.outbound import outbox_message_id
    from sportello.mail.sender import brand_for_mail, branded_html, sender

    user = User.objects.filter(pk=message.payload.get("user")).first()
    if user is None or not user.is_active or not is_invited(user) or not user.email:
        log.info("invitation mail %s not sent: the user accepted, left or has no address", message.pk)
        return
    context = {"user": user, "url": message.payload["url"], "days": INVITE_DAYS, "site": settings.SITE_URL}
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("accounts/mail/invitation_subject.txt", context).split())
        text = render_to_string("accounts/mail/invitation_body.txt", context)
        html = render_to_string("accounts/mail/invitation_body.html", context)
    brand = brand_for_mail()
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(brand=brand),
        to=[user.email],
        headers={"Message-ID": outbox_message_id(message, "invite"), "Auto-Submitted": "auto-generated"},
    )
    mail.attach_alternative(branded_html(html, brand), "text/html")
    mail.send()


def invited_user(token: str) -> User:
    """The user an invitation link names, if it still works; else InvitationInvalid saying why."""
    try:
        data = signing.loads(token or "", salt=INVITE_SALT, max_age=INVITE_DAYS * 24 * 3600)
        pk, digest = int(data["u"]), str(data["p"])
    except signing.SignatureExpired as exc:
        raise InvitationInvalid(
            _("This invitation expired: invitations work for %(days)d days. Ask an admin to send a new one.")
            % {"days": INVITE_DAYS}
        ) from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvitationInvalid(_("This invitation link is not valid. Ask an admin to send a new one.")) from exc
    user = User.objects.filter(pk=pk).first()
    if user is None or not user.is_active:
        raise InvitationInvalid(_("This account is no longer active. Ask an admin if you need access."))
    if not is_invited(user):
        raise InvitationInvalid(_("This invitation was already used. Sign in with your password."))
    if digest != _password_digest(user):
        raise InvitationInvalid(_("A newer invitation was sent for this account: use the link in the latest mail."))
    return user


def accept_invitation(token: str, password: str) -> User:
    """Set the invitee's password; the link is spent (its digest no longer matches)."""
    with transaction.atomic():
        user = invited_user(token)
        user = User.objects.select_for_update().get(pk=user.pk)
        if not is_invited(user):
            raise InvitationInvalid(_("This invitation was already used. Sign in with your password."))
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages), field="password1") from exc
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


# --- Editing -----------------------------------------------------------------------------------------


@dataclass
class PersonChanges:
    first_name: str
    last_name: str
    email: str
    role: str
    language: str
    is_active: bool
    groups: Sequence[Group]
    # Only for agents and admins (whom assignment picks): skill → level (None: 1).
    skills: dict[Any, int | None] = field(default_factory=dict)
    spoken_languages: list[str] = field(default_factory=list)
    capacity: int | None = None


def update_person(user: User, changes: PersonChanges) -> User:
    """Save what an admin changed of a staff user; refuses to leave the help desk without an admin."""
    from sportello.automation.assignment import ASSIGNABLE_ROLES, set_agent_profile

    if user.role not in STAFF_ROLES:
        raise InvalidInput(_("Only agents and admins are edited here."))
    if changes.role not in STAFF_ROLES:
        raise InvalidInput(_("Choose admin, agent or light agent."), field="role")
    email = changes.email.strip().lower()
    if email and User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise InvalidInput(_("Someone here already has this address."), field="email")
    with transaction.atomic():
        _check_admins_remain(user, role=changes.role, is_active=changes.is_active)
        user.first_name, user.last_name, user.email = changes.first_name.strip(), changes.last_name.strip(), email
        user.role, user.language, user.is_active = changes.role, changes.language, changes.is_active
        user.save()  # a save: the audit trail sees role and activity, the token cache forgets
        _set_groups(user, changes.groups)
        if user.role in ASSIGNABLE_ROLES:
            set_agent_profile(
                user,
                skills=list(changes.skills.items()),
                languages=changes.spoken_languages,
                max_open_tickets=changes.capacity,
            )
    return user


def _set_groups(user: User, groups: Sequence[Group]) -> None:
    wanted = {group.pk for group in groups}
    current = set(user.support_groups.values_list("pk", flat=True))
    if wanted != current:  # .set() would record nothing either way, but would run two queries more
        user.support_groups.set(groups)


def set_person_active(user: User, active: bool) -> User:
    """Deactivate (sign-in and API tokens refused from the next request) or reactivate a user."""
    if user.role == Role.SYSTEM:
        raise InvalidInput(_("The automation's account cannot be changed."))
    with transaction.atomic():
        _check_admins_remain(user, role=user.role, is_active=active)
        user.is_active = active
        user.save(update_fields=["is_active"])
    return user


# --- Groups ------------------------------------------------------------------------------------------


def save_group_settings(
    group: Group,
    *,
    name: str,
    description: str,
    tier: int,
    members: Sequence[User],
    assignment_method: str | None = None,
    default_capacity: int | EllipsisType | None = ...,
) -> Group:
    """Create or change a group. Members chosen among active staff; deactivated members stay.
    `assignment_method` and `default_capacity` (`None`: no limit) are how the group hands out
    its tickets (automation.assignment); left out, they stay as they are."""
    from sportello.accounts.services import save_group

    kept = [m.pk for m in group.members.all() if not m.is_active or m.role not in STAFF_ROLES] if group.pk else []
    with transaction.atomic():
        save_group(group, {"name": name.strip(), "description": description, "tier": tier}, None)
        wanted = {m.pk for m in members} | set(kept)
        if wanted != set(group.members.values_list("pk", flat=True)):
            group.members.set(list(wanted))
        _set_group_assignment(group, assignment_method, default_capacity)
    return group


def _set_group_assignment(group: Group, method: str | None, capacity: int | EllipsisType | None) -> None:
    """Save the group's assignment settings only when they change: a group left on manual
    assignment gets no settings row (nor an audit entry) for it."""
    from sportello.automation.assignment import configure_group_assignment
    from sportello.automation.models import AssignmentMethod, GroupAssignment

    current = GroupAssignment.objects.filter(group=group).first()
    before = (current.method, current.default_capacity) if current else (AssignmentMethod.NONE.value, None)
    after = (before[0] if method is None else method, before[1] if isinstance(capacity, EllipsisType) else capacity)
    if after != before:
        configure_group_assignment(group, method=after[0], default_capacity=after[1])


@dataclass
class GroupUsage:
    tickets: int
    rules: list[str]  # "Trigger “Escalate”", "SLA policy “VIP”"…

    @property
    def in_use(self) -> bool:
        return bool(self.tickets or self.rules)


def _mentions_group(items: Any, group_id: int, *, key: str) -> bool:
    """A condition on the group field, or a set_group action, naming this group."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if key == "condition" and item.get("field") != "group":
            continue
        if key == "action" and item.get("type") != "set_group":
            continue
        value = item.get("value") if key == "condition" else item.get("group")
        values = value if isinstance(value, list) else [value]
        if str(group_id) in {str(v) for v in values}:
            return True
    return False


def group_usage(group: Group) -> GroupUsage:
    """What would lose its group if it went: its tickets, and the rules that name it."""
    from sportello.automation.models import Macro, TimeRule, Trigger
    from sportello.mail.models import Mailbox
    from sportello.sla.models import Policy
    from sportello.tickets.models import Ticket

    rules: list[str] = []
    for label, model in ((_("Trigger"), Trigger), (_("Time rule"), TimeRule)):
        for rule in model.objects.only("name", "conditions", "actions"):
            if _mentions_group(rule.conditions, group.pk, key="condition") or _mentions_group(
                rule.actions, group.pk, key="action"
            ):
                rules.append(f"{label} “{rule.name}”")
    for macro in Macro.objects.only("name", "actions"):
        if _mentions_group(macro.actions, group.pk, key="action"):
            rules.append(f"{_('Macro')} “{macro.name}”")
    rules += [
        f"{_('SLA policy')} “{name}”" for name in Policy.objects.filter(groups=group).values_list("name", flat=True)
    ]
    rules += [
        f"{_('Mailbox')} “{address}”"
        for address in Mailbox.objects.filter(group=group).values_list("address", flat=True)
    ]
    return GroupUsage(tickets=Ticket.objects.filter(group=group).count(), rules=rules)


def delete_group(group: Group, actor: User, *, move_tickets_to: Group | None = None) -> None:
    """Delete a group no rule names; its tickets move to `move_tickets_to` first (through
    update_ticket, so each ticket's history says so), else a group with tickets is refused."""
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import TicketChanges, update_ticket

    usage = group_usage(group)
    if usage.rules:
        raise InvalidInput(
            _("%(group)s is used by: %(rules)s. Change these first.")
            % {"group": group.name, "rules": ", ".join(usage.rules)}
        )
    if move_tickets_to is not None and move_tickets_to.pk == group.pk:
        raise InvalidInput(_("Move the tickets to another group."), field="move_to")
    if usage.tickets and move_tickets_to is None:
        raise InvalidInput(
            _("%(group)s still has %(count)d tickets: move them to another group to delete it.")
            % {"group": group.name, "count": usage.tickets}
        )
    with transaction.atomic():
        for ticket in Ticket.objects.filter(group=group).order_by("pk").iterator(chunk_size=500):
            update_ticket(ticket, actor, TicketChanges(group=move_tickets_to))
        group.delete()
