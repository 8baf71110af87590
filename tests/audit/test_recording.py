"""What the audit trail records (issue #15, item 4): sign-ins with the address, permission and
settings changes with before/after, token creation; rows are append-only; the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group as DjangoGroup
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from sportello.accounts.models import ApiToken, Role
from sportello.audit import services
from sportello.audit.models import AppendOnlyError, AuditEvent
from sportello.fields.models import CustomField
from sportello.mail.models import Mailbox
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def mark() -> int:
    """The newest row so far: fixtures (an agent joining a group) are audited too."""
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture(autouse=True)
def fresh_counters():  # type: ignore[no-untyped-def]
    cache.clear()  # the sign-in lockout counts failures in the cache
    yield
    cache.clear()


def test_a_sign_in_is_recorded_with_the_address(agent):
    client = Client(REMOTE_ADDR="203.0.113.7")
    response = client.post("/accounts/login/", {"username": agent.username, "password": PASSWORD})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.sign_in")
    assert (event.actor, event.actor_label, event.actor_ip) == (agent, agent.username, "203.0.113.7")


def test_a_failed_sign_in_keeps_the_username_tried_never_the_password(agent):
    client = Client(REMOTE_ADDR="198.51.100.4")
    client.post("/accounts/login/", {"username": "alice_agent", "password": "hunter2-wrong"})
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert (event.actor, event.actor_label, event.target_label, event.actor_ip) == (
        None,
        "alice_agent",
        "alice_agent",
        "198.51.100.4",
    )
    stored = str(list(AuditEvent.objects.values()))
    assert "hunter2" not in stored


def test_a_role_change_records_before_and_after(agent, admin):
    start = mark()
    agent.role = Role.ADMIN
    agent.save()
    event = AuditEvent.objects.get(action="permission.changed", id__gt=start)
    assert (event.target_label, event.before, event.after) == (
        agent.username,
        {"role": "agent"},
        {"role": "admin"},
    )


def test_deactivating_and_group_membership_are_recorded(agent, second_level):
    start = mark()
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    staff = DjangoGroup.objects.create(name="Supervisors")
    agent.groups.add(staff)
    second_level.members.add(agent)
    changes = [
        (e.before, e.after) for e in AuditEvent.objects.filter(action="permission.changed", id__gt=start).order_by("id")
    ]
    assert changes == [
        ({"is_active": True}, {"is_active": False}),
        ({"groups": []}, {"groups": ["Supervisors"]}),
        ({"support_groups": ["First level"]}, {"support_groups": ["First level", "Second level"]}),
    ]


def test_saves_that_change_nothing_watched_record_nothing(agent):
    start = mark()
    agent.last_login = timezone.now()
    agent.save(update_fields=["last_login"])
    agent.first_name = "Alicia"
    agent.save()
    assert not AuditEvent.objects.filter(id__gt=start).exists()


def test_changing_a_custom_field_records_the_changed_fields(admin):
    field = CustomField.objects.create(target="ticket", key="product", label="Product", type="text")
    field.label = "Product bought"
    field.required = True
    field.save()
    field.delete()
    created, changed, deleted = AuditEvent.objects.filter(action="settings.changed").order_by("id")
    assert created.target_type == "fields.customfield"
    assert (created.before, created.after["label"]) == ({}, "Product")
    assert (changed.target_label, changed.before, changed.after) == (
        "Product bought (ticket)",
        {"label": "Product", "required": False},
        {"label": "Product bought", "required": True},
    )
    assert (deleted.before["label"], deleted.after) == ("Product bought", {})


def test_mailbox_bookkeeping_is_not_a_settings_change(db):
    mailbox = Mailbox.objects.create(address="help@example.org")
    mailbox.last_fetch_at = timezone.now()
    mailbox.imap_last_uid = 42
    mailbox.save()
    assert AuditEvent.objects.filter(action="settings.changed").count() == 1  # the creation only


def test_creating_an_api_token_is_recorded_without_the_key(agent):
    token, key = ApiToken.issue(agent, "CI", scopes=["read"])
    event = AuditEvent.objects.get(action="token.created")
    assert (event.target_label, event.after["name"], event.after["user"], event.after["scopes"]) == (
        str(token),
        "CI",
        agent.username,
        "read",
    )
    assert key not in str(list(AuditEvent.objects.values()))


def test_rows_cannot_be_updated_or_deleted_through_the_orm(db):
    event = services.record("export", target_label="x")
    event.target_label = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(target_label="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().target_label == "x"


@override_settings(SPORTELLO_AUDIT_RETENTION_DAYS=30)
def test_the_sweep_removes_only_rows_older_than_the_retention(db):
    now = timezone.now()
    old = AuditEvent.objects.create(action="export", target_label="old", at=now - timedelta(days=31))
    AuditEvent.objects.create(action="export", target_label="recent", at=now - timedelta(days=29))
    AuditEvent.objects.create(action="export", target_label="new")
    assert services.sweep_old_events() == 1
    assert sorted(AuditEvent.objects.values_list("target_label", flat=True)) == ["new", "recent"]
    assert not AuditEvent.objects.filter(pk=old.pk).exists()


def test_the_sweep_is_a_scheduled_job():
    from sportello.core import scheduler

    assert "audit.sweep" in {job.name for job in scheduler.jobs()}


@override_settings(SPORTELLO_AUDIT_RETENTION_DAYS=0)
def test_a_retention_of_zero_keeps_everything(db):
    AuditEvent.objects.create(action="export", target_label="ancient", at=timezone.now() - timedelta(days=5000))
    assert services.sweep_old_events() == 0
    assert AuditEvent.objects.count() == 1


def test_a_channel_accounts_credentials_are_recorded_as_changed_never_copied(db):
    from sportello.social.models import AccountKind
    from sportello.social.services import create_account

    account = create_account(
        AccountKind.TELEGRAM, "Telegram bot", credentials={"bot_token": "123:SECRET-BOT-TOKEN"}, settings={}
    )
    created = AuditEvent.objects.filter(target_type="social.channelaccount").get()
    assert created.after["credentials_sealed"] == "•••"
    assert "SECRET-BOT-TOKEN" not in str(created.after)
    # A webhook's bookkeeping on the account is not a settings change.
    account.last_event_at = timezone.now()
    account.save(update_fields=["last_event_at"])
    account.save()
    assert AuditEvent.objects.filter(target_type="social.channelaccount").count() == 1


def test_an_identity_providers_secret_and_key_are_never_copied(db):
    from allauth.socialaccount.models import SocialApp

    app = SocialApp.objects.create(provider="openid_connect", name="Okta", client_id="cid", secret="s3", key="k3")
    app.secret, app.key = "s4", "k4"
    app.save()
    recorded = [e.after for e in AuditEvent.objects.filter(target_type="socialaccount.socialapp").order_by("id")]
    assert recorded[0]["secret"] == recorded[0]["key"] == "•••" and recorded[0]["client_id"] == "cid"
    assert recorded[1] == {"secret": "•••", "key": "•••"}


def test_a_new_account_with_powers_is_recorded_a_customers_is_not(db, monkeypatch):
    """`createsuperuser` (or the admin site, or a first sign-in through SSO) gives someone powers
    as surely as a role change does; a customer's portal account gives none."""
    from django.core.management import call_command

    from sportello.accounts.models import User

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    since = mark()
    call_command("createsuperuser", "--noinput", username="root2", email="root2@example.org", verbosity=0)
    User.objects.create_user("shopper", email="shopper@example.org", role=Role.CUSTOMER)
    User.objects.create_user("newagent", email="newagent@example.org", role=Role.AGENT)
    events = AuditEvent.objects.filter(id__gt=since, action="permission.changed").order_by("id")
    assert [(e.target_label, e.after["created"], e.after["is_superuser"], e.after["role"]) for e in events] == [
        ("root2", True, True, Role.AGENT),  # an agent by role, every power by is_superuser
        ("newagent", True, False, Role.AGENT),
    ]
    assert all(e.actor_label.startswith("shell:") for e in events)  # a process on the server did it
