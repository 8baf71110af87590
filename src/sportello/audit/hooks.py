"""Signal receivers that feed the audit trail. Each costs at most one SELECT (the row as it was,
only for the models and fields watched) and one INSERT; saves that change nothing watched, like
a mailbox's poll bookkeeping or a user's last_login, record nothing."""

from __future__ import annotations

import datetime
import decimal
import os
import sys
import uuid
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import connections, models, transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from sportello.audit import services
from sportello.audit.models import Action

# The near-static settings models: every save or delete is recorded with the fields that changed.
SETTINGS_MODELS = [
    "tickets.Status",
    "accounts.Group",
    "fields.CustomField",
    "sla.Policy",
    "sla.Target",
    "automation.Trigger",
    "automation.Macro",
    "automation.TimeRule",
    "automation.Skill",
    "automation.AgentProfile",
    "automation.GroupAssignment",
    "mail.Mailbox",
    "mail.EmailTemplate",
    "tickets.Category",
    "kb.Category",
    "sla.Calendar",  # its hours and holidays: CHILD_COLLECTIONS
    "social.ChannelAccount",
    "chat.ChatChannel",
    "core.Branding",
    "sso.SignInPolicy",
    "sso.ClaimRule",
    "socialaccount.SocialApp",  # the identity providers of single sign-on
    "privacy.RetentionPolicy",
    "phone.CtiAccount",  # its token rotated from the phone page
    "customers.Integration",  # an outside system sent customers' identities
    "mail.BlockedSender",  # whose mail is quarantined
    "forum.ForumCategory",
    "forum.Member",  # trusted, banned and unbanned by moderators (forum/services.py)
    "triage.TriageSettings",  # per prediction: off, suggest or apply, and its threshold
    "assist.AssistSettings",  # the model server agents' tickets are sent to
    "forum.ForumSettings",  # when a topic counts as unanswered (the inbox's view)
]

# Bookkeeping that changes without anyone changing a setting.
IGNORED_FIELDS = {
    "created_at",
    "updated_at",
    "usage_count",
    "last_fetch_at",
    "last_error",
    "last_error_at",
    "messages_waiting",
    "poll_lease_until",
    "poll_lease_holder",
    "imap_uidvalidity",
    "imap_last_uid",
    "inbound_token_created_at",
    "last_event_at",  # a channel account's last webhook
    "last_agent",  # round robin's place in a group
}
# Never copied into the trail; a change shows as "changed" instead of the value.
SECRET_MARKERS = ("password", "secret", "token", "key_hash", "sealed", "credentials")
# Fields of one model that hold secrets under plain names (a provider's key; its settings may carry
# a SAML private key).
SECRET_FIELDS = {"socialaccount.SocialApp": frozenset({"key", "settings"})}

USER_FIELDS = ("role", "is_active", "is_staff", "is_superuser")

# Many-to-many fields of settings models recorded elsewhere: a group's members, on each member
# (a permission change, like user.groups).
M2M_RECORDED_ELSEWHERE = {("accounts.Group", "members")}

_before_attr = "_audit_before"


def _plain(value: Any) -> Any:
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time | decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def _is_secret(name: str) -> bool:
    return any(marker in name for marker in SECRET_MARKERS)


def watched_fields(model: type[models.Model]) -> list[str]:
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not field.primary_key and field.name not in IGNORED_FIELDS
    ]


def snapshot(instance: models.Model, names: list[str]) -> dict[str, Any]:
    return {name: _plain(getattr(instance, name)) for name in names}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in changed}, {n: after[n] for n in changed}


def _stored(sender: type[models.Model], instance: models.Model, names: list[str]) -> dict[str, Any] | None:
    if instance._state.adding or instance.pk is None:
        return None
    row = sender._base_manager.using(instance._state.db).filter(pk=instance.pk).values(*names).first()
    if row is None:
        return None
    return {name: _plain(row[name]) for name in names}


def masked(values: dict[str, Any], model: type[models.Model] | None = None) -> dict[str, Any]:
    """Secrets are compared for real but never written down: a change shows as "•••". That goes
    for secrets inside a JSON field too, such as a trigger's webhook action's `secret`."""
    extra = SECRET_FIELDS.get(model._meta.label, frozenset()) if model is not None else frozenset()
    return {
        name: ("•••" if (_is_secret(name) or name in extra) and value else _masked_inside(value))
        for name, value in values.items()
    }


def _masked_inside(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: ("•••" if _is_secret(str(key)) and item else _masked_inside(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_inside(item) for item in value]
    return value


# --- Settings models -------------------------------------------------------------------------------


def settings_pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    names = watched_fields(sender)
    update_fields = kwargs.get("update_fields")
    if update_fields is not None:
        names = [n for n in names if n in update_fields or n.removesuffix("_id") in update_fields]
        if not names:
            setattr(instance, _before_attr, False)  # nothing watched: skip post_save too
            return
    setattr(instance, _before_attr, _stored(sender, instance, names))


def settings_post_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return
    stored = instance.__dict__.pop(_before_attr, None)
    if stored is False:
        return
    names = watched_fields(sender) if stored is None else list(stored)
    now = snapshot(instance, names)
    before: dict[str, Any]
    if created or stored is None:
        before, after = {}, now
    else:
        before, after = diff(stored, now)
        if not after:
            return
    services.record(
        Action.SETTINGS_CHANGED, target=instance, before=masked(before, sender), after=masked(after, sender)
    )


def settings_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    before = masked(snapshot(instance, watched_fields(sender)), sender)
    services.record(Action.SETTINGS_CHANGED, target=instance, before=before, after={})


# --- Collections: many-to-many fields, and rows that belong to a settings object ----------------------
#
# An SLA policy's groups, a skill's categories, an agent's skills: a change is recorded once per object
# and transaction, not once per row. The first change in a transaction notes the collection as it
# was; when the transaction commits, one event compares it with the collection as committed. So
# `.set()` (a remove, then an add) is one event, a change that nets out is none, and a change rolled
# back is none either. Each note costs one SELECT, the commit one more per object changed.


def _agent_skills(agent_id: Any) -> dict[str, int | None]:
    rows = apps.get_model("automation", "AgentSkill")._base_manager.filter(agent_id=agent_id)
    return {str(row.skill): row.level for row in rows.select_related("skill")}


def _calendar_hours(calendar_id: Any) -> list[str]:
    rows = apps.get_model("sla", "CalendarInterval")._base_manager.filter(calendar_id=calendar_id)
    return [str(row) for row in rows.order_by("weekday", "start", "end")]


def _calendar_holidays(calendar_id: Any) -> list[str]:
    rows = apps.get_model("sla", "Holiday")._base_manager.filter(calendar_id=calendar_id)
    return [f"{row}{' (yearly)' if row.yearly else ''}" for row in rows.order_by("date", "name")]


# Rows recorded as a part of the object they belong to: model → (its foreign key to that object, the
# collection's name in the trail, the collection of one object as recorded).
CHILD_COLLECTIONS: dict[str, tuple[str, str, Any]] = {
    "automation.AgentSkill": ("agent", "skills", _agent_skills),
    "sla.CalendarInterval": ("calendar", "hours", _calendar_hours),
    "sla.Holiday": ("calendar", "holidays", _calendar_holidays),
}
# Collections replaced with bulk_create (which sends no signal) after their object is saved
# (sla.services.save_calendar): noted when the object is saved in a transaction.
NOTED_ON_PARENT_SAVE = ("sla.CalendarInterval", "sla.Holiday")


def _m2m_reader(field: models.ManyToManyField) -> Any:  # type: ignore[type-arg]
    """The related objects' names of one object, read through the m2m table (works for
    related_name="+" too)."""
    through: Any = field.remote_field.through
    source, target = field.m2m_field_name(), field.m2m_reverse_field_name()

    def read(pk: Any) -> list[str]:
        rows = through._base_manager.filter(**{f"{source}_id": pk}).select_related(target)
        return sorted(str(getattr(row, target)) for row in rows)

    return read


class _Pending:
    """The collections changed in one transaction (on one database), as they were."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.request = services.current_request.get()
        # (model label, pk) → (model, {collection name: (reader, value before)})
        self.objects: dict[tuple[str, Any], tuple[type[models.Model], dict[str, tuple[Any, Any]]]] = {}
        self.flushed = False

    def note(self, model: type[models.Model], pk: Any, name: str, read: Any) -> None:
        if pk is None:
            return
        _model, collections = self.objects.setdefault((model._meta.label, pk), (model, {}))
        if name not in collections:
            collections[name] = (read, read(pk))

    def flush(self) -> None:
        self.flushed = True
        for (_label, pk), (model, collections) in self.objects.items():
            instance = model._base_manager.using(self.using).filter(pk=pk).first()
            if instance is None:  # deleted since: its deletion is what the trail shows
                continue
            before, after = diff(
                {name: value for name, (_read, value) in collections.items()},
                {name: read(pk) for name, (read, _value) in collections.items()},
            )
            if not after:
                continue
            label = instance.get_username() if hasattr(instance, "get_username") else ""
            services.record(
                Action.SETTINGS_CHANGED,
                target=instance,
                target_label=label,
                before=masked(before, model),
                after=masked(after, model),
                request=self.request,
            )


def _pending(using: str) -> _Pending:
    """This transaction's notes: found among the callbacks waiting for its commit, so a rollback
    (which drops them) forgets the notes too. Only called inside a transaction."""
    for entry in connections[using].run_on_commit:  # (savepoint ids, callback, robust)
        found = getattr(entry[1], "audit_pending", None)
        if found is not None and not found.flushed:  # (tests run callbacks and leave them listed)
            return found  # type: ignore[no-any-return]
    pending = _Pending(using)

    def flush() -> None:
        pending.flush()

    flush.audit_pending = pending  # type: ignore[attr-defined]
    transaction.on_commit(flush, using=using)
    return pending


def _m2m_receiver(model: type[models.Model], field: models.ManyToManyField) -> Any:  # type: ignore[type-arg]
    read = _m2m_reader(field)
    through: Any = field.remote_field.through
    source, target = field.m2m_field_name(), field.m2m_reverse_field_name()

    def receiver(
        sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[Any] | None, using: str, **kwargs: Any
    ) -> None:
        if action not in {"pre_add", "pre_remove", "pre_clear"}:
            return
        if not reverse:
            owners = [instance.pk]
        elif pk_set is not None:  # from the other side: each object of ours added or removed
            owners = list(pk_set)
        else:  # cleared from the other side: every object of ours it was in
            owners = list(
                through._base_manager.filter(**{f"{target}_id": instance.pk}).values_list(f"{source}_id", flat=True)
            )
        if not owners:
            return
        pending = _pending(using)
        for pk in owners:
            pending.note(model, pk, field.name, read)

    return receiver


def _m2m_other_side_deleted(model: type[models.Model], field: models.ManyToManyField) -> Any:  # type: ignore[type-arg]
    """pre_delete of the other side (a tag, a group): its rows of the m2m table go with it, without
    m2m_changed nor (the table being auto-created) pre_delete; our objects it was in are noted."""
    read = _m2m_reader(field)
    through: Any = field.remote_field.through
    source, target = field.m2m_field_name(), field.m2m_reverse_field_name()

    def receiver(sender: Any, instance: Any, using: str = "default", **kwargs: Any) -> None:
        if not connections[using].in_atomic_block:  # (a deletion is: the Collector's transaction)
            return
        owners = list(
            through._base_manager.filter(**{f"{target}_id": instance.pk}).values_list(f"{source}_id", flat=True)
        )
        if owners:
            pending = _pending(using)
            for pk in owners:
                pending.note(model, pk, field.name, read)

    return receiver


def child_pre_change(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    """pre_save / pre_delete of a row of CHILD_COLLECTIONS: note its object's collection."""
    if raw:
        return
    fk, name, read = CHILD_COLLECTIONS[sender._meta.label]
    field: Any = sender._meta.get_field(fk)
    owners = {getattr(instance, field.attname)}
    if not instance._state.adding and instance.pk is not None:  # moved from another object?
        owners |= set(sender._base_manager.filter(pk=instance.pk).values_list(field.attname, flat=True))
    using = kwargs.get("using") or instance._state.db or "default"
    if connections[using].in_atomic_block:
        pending = _pending(using)
        for pk in owners:
            pending.note(field.related_model, pk, name, read)
    else:  # one row saved on its own (autocommit): record in post_save/post_delete
        alone = _Pending(using)
        for pk in owners:
            alone.note(field.related_model, pk, name, read)
        instance.__dict__["_audit_child"] = alone


def parent_saved(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    """post_save of an object whose collections are in NOTED_ON_PARENT_SAVE: note them (a new
    object's are empty), so rows bulk-created after the save are compared at commit."""
    using = kwargs.get("using") or instance._state.db or "default"
    if raw or not connections[using].in_atomic_block:
        return
    pending = _pending(using)
    for label in NOTED_ON_PARENT_SAVE:
        fk, name, read = CHILD_COLLECTIONS[label]
        if apps.get_model(label)._meta.get_field(fk).related_model is sender:
            pending.note(sender, instance.pk, name, read)


def child_post_change(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    alone = instance.__dict__.pop("_audit_child", None)
    if alone is not None and not raw:
        alone.flush()


# --- Users: role, activity, staff, groups ----------------------------------------------------------


def user_pre_save(sender: type[models.Model], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    names = list(USER_FIELDS)
    update_fields = kwargs.get("update_fields")
    if update_fields is not None:
        names = [n for n in names if n in update_fields]
    setattr(instance, _before_attr, _stored(sender, instance, names) if names else False)


def user_post_save(sender: type[models.Model], instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    stored = instance.__dict__.pop(_before_attr, None)
    if created:
        _record_new_account(instance)
        return
    if not stored:
        return
    before, after = diff(stored, snapshot(instance, list(stored)))
    if after:
        services.record(
            Action.PERMISSION_CHANGED, target=instance, target_label=instance.get_username(), before=before, after=after
        )


def _record_new_account(user: Any) -> None:
    """A new account with powers (an agent, an admin, a superuser: `createsuperuser`, the admin
    site, single sign-on's first sign-in) is a permission change; customers' accounts are not.
    An invitation records its own creation (accounts/team.py) and marks the user so."""
    if user.__dict__.pop("_audit_creation_recorded", False):
        return
    if not (user.is_superuser or user.is_staff or getattr(user, "is_staff_member", False)):
        return
    after = {name: getattr(user, name) for name in USER_FIELDS}
    label = ""
    if services.current_request.get() is None and not services.current_actor_label.get():
        # No one signed in and no command named itself: a process on the server (`createsuperuser`).
        label = services.command_actor(" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:2]]).strip())
    services.record(
        Action.PERMISSION_CHANGED,
        target=user,
        target_label=user.get_username(),
        actor_label=label,
        after={"created": True, **after},
    )


def _group_names(user: Any, relation: str) -> list[str]:
    return sorted(str(group) for group in getattr(user, relation).all())


def _membership_changed(relation: str, *, reverse_relation: str) -> Any:
    """A receiver for a user↔group m2m, from either side (user.groups.add / group.members.add)."""
    user_model = get_user_model()

    def receiver(
        sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[Any] | None, **kwargs: Any
    ) -> None:
        if action not in {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}:
            return
        users = [instance] if isinstance(instance, user_model) else None
        if users is None:  # changed from the group's side: each user touched
            ids = pk_set if pk_set is not None else getattr(instance, reverse_relation).values_list("pk", flat=True)
            users = list(user_model._base_manager.filter(pk__in=list(ids)))
            if action.startswith("pre_"):
                instance.__dict__[f"_audit_users_{relation}"] = users
            else:
                users = instance.__dict__.pop(f"_audit_users_{relation}", users)
        for user in users:
            key = f"_audit_{relation}"
            if action.startswith("pre_"):
                user.__dict__[key] = _group_names(user, relation)
                continue
            before = user.__dict__.pop(key, None)
            after = _group_names(user, relation)
            if before is None or before == after:
                continue
            services.record(
                Action.PERMISSION_CHANGED,
                target=user,
                target_label=user.get_username(),
                before={relation: before},
                after={relation: after},
            )

    return receiver


# --- Sign-ins, tokens, admin site ------------------------------------------------------------------


def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.record(Action.SIGN_IN, actor=user, request=request, target=user, target_label=user.get_username())


def sign_in_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Never the password: Django already masks it in `credentials`, and we keep only the username.
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    services.record(
        Action.SIGN_IN_FAILED,
        request=request,
        actor_label=username,
        target_type=get_user_model()._meta.label_lower,
        target_label=username,
    )


def _two_factor_receiver(change: str) -> Any:
    """allauth.mfa's authenticator_added / _removed / _reset: which kind (totp, webauthn,
    recovery_codes), never its secret or codes."""

    def receiver(sender: Any, request: Any = None, user: Any = None, authenticator: Any = None, **kwargs: Any) -> None:
        if user is None:
            return
        kind = str(getattr(authenticator, "type", "") or "")
        services.record(
            Action.TWO_FACTOR_CHANGED,
            request=request,
            target=user,
            target_label=user.get_username(),
            after={change: kind},
        )

    return receiver


def two_factor_failed(
    sender: Any, request: Any = None, user: Any = None, authenticator: Any = None, **kwargs: Any
) -> None:
    """A wrong second-factor code after a right password: a failed sign-in (the user is not signed
    in yet, so the username names who tried)."""
    if user is None:
        return
    username = user.get_username()
    services.record(
        Action.SIGN_IN_FAILED,
        request=request,
        actor_label=username,
        target=user,
        target_label=username,
        after={"step": "two-factor", "method": str(getattr(authenticator, "type", "") or "")},
    )


def token_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        services.record(
            Action.TOKEN_CREATED,
            target=instance,
            after={
                "name": instance.name,
                "hint": instance.hint,
                "user": instance.user.get_username(),
                "scopes": getattr(instance, "scopes", ""),
                "expires_at": _plain(getattr(instance, "expires_at", None)),
            },
        )


def admin_logged(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        services.record(
            Action.ADMIN_ACTION,
            actor=instance.user,
            target_type=instance.content_type.model if instance.content_type_id else "",
            target_id=instance.object_id or "",
            target_label=instance.object_repr,
            after={"flag": instance.action_flag, "change": instance.get_change_message()},
        )


def connect() -> None:
    user_logged_in.connect(signed_in, dispatch_uid="audit-signed-in")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit-sign-in-failed")
    user_model = get_user_model()
    pre_save.connect(user_pre_save, sender=user_model, dispatch_uid="audit-user-pre")
    post_save.connect(user_post_save, sender=user_model, dispatch_uid="audit-user-post")
    m2m_changed.connect(
        _membership_changed("groups", reverse_relation="user_set"),
        sender=user_model.groups.through,
        dispatch_uid="audit-user-groups",
        weak=False,
    )
    support_group = apps.get_model("accounts", "Group")
    m2m_changed.connect(
        _membership_changed("support_groups", reverse_relation="members"),
        sender=support_group.members.through,
        dispatch_uid="audit-support-groups",
        weak=False,
    )
    for label in SETTINGS_MODELS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        pre_save.connect(settings_pre_save, sender=model, dispatch_uid=f"audit-pre-{label}")
        post_save.connect(settings_post_save, sender=model, dispatch_uid=f"audit-post-{label}")
        post_delete.connect(settings_post_delete, sender=model, dispatch_uid=f"audit-del-{label}")
        for field in model._meta.many_to_many:
            if (label, field.name) in M2M_RECORDED_ELSEWHERE:
                continue
            m2m_changed.connect(
                _m2m_receiver(model, field),
                sender=field.remote_field.through,
                dispatch_uid=f"audit-m2m-{label}-{field.name}",
                weak=False,
            )
            pre_delete.connect(
                _m2m_other_side_deleted(model, field),
                sender=field.related_model,
                dispatch_uid=f"audit-m2m-other-{label}-{field.name}",
                weak=False,
            )
    for label in CHILD_COLLECTIONS:
        model = apps.get_model(label)
        pre_save.connect(child_pre_change, sender=model, dispatch_uid=f"audit-child-pre-{label}")
        pre_delete.connect(child_pre_change, sender=model, dispatch_uid=f"audit-child-pre-del-{label}")
        post_save.connect(child_post_change, sender=model, dispatch_uid=f"audit-child-post-{label}")
        post_delete.connect(child_post_change, sender=model, dispatch_uid=f"audit-child-post-del-{label}")
    for label in NOTED_ON_PARENT_SAVE:
        fk, _name, _read = CHILD_COLLECTIONS[label]
        parent = apps.get_model(label)._meta.get_field(fk).related_model
        post_save.connect(parent_saved, sender=parent, dispatch_uid=f"audit-parent-{parent._meta.label}")
    post_save.connect(token_saved, sender=apps.get_model("accounts", "ApiToken"), dispatch_uid="audit-token")
    if apps.is_installed("allauth.mfa"):
        from allauth.mfa import signals as mfa

        for change, signal in (
            ("added", mfa.authenticator_added),
            ("removed", mfa.authenticator_removed),
            ("reset", mfa.authenticator_reset),
        ):
            signal.connect(_two_factor_receiver(change), dispatch_uid=f"audit-2fa-{change}", weak=False)
        mfa.authentication_failed.connect(two_factor_failed, dispatch_uid="audit-2fa-failed")
    if apps.is_installed("django.contrib.admin"):
        post_save.connect(admin_logged, sender=apps.get_model("admin", "LogEntry"), dispatch_uid="audit-admin")
