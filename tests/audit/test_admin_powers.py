"""Uses of admin powers that change no setting are in the audit trail (issue #15, item 4): a webhook's
test call and retry, revoking a token, pointing a Telegram bot here; and what commands run on the
server do (sso_policy, privacy retention, token, createadmin) names the command and its user."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from sportello.accounts.models import ApiToken, Role, User
from sportello.audit import services
from sportello.audit.models import AuditEvent
from sportello.automation.models import Trigger
from sportello.mail.models import Mailbox, RawState
from sportello.mail.services import receive_raw
from sportello.privacy.models import RetentionPolicy
from sportello.social import settings_views as social_views
from sportello.social.checks import AccountCheck
from sportello.social.models import AccountKind, ChannelAccount
from sportello.sso.models import SignInPolicy
from tests.automation.settings.test_webhooks_page import loopback_allowed, make_call, receiver  # noqa: F401
from tests.conftest import client_for
from tests.privacy.test_retention import aged  # noqa: F401

pytestmark = pytest.mark.django_db


def mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def stored(event: AuditEvent) -> str:
    return json.dumps([event.before, event.after, event.target_label], ensure_ascii=False)


def test_a_test_call_to_a_typed_url_says_who_where_and_what_came_back(admin, receiver, loopback_allowed):  # noqa: F811
    hook = receiver(status=202)
    client = client_for(admin)  # (signing in is recorded too)
    start = mark()
    url = f"{hook.url}?api_key=query-key-42"
    response = client.post("/settings/webhooks/test/", {"url": url, "secret": "typed-s3cret"})
    assert response.status_code == 200 and len(hook.requests) == 1
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.target_type, event.target_label) == (
        "admin.power",
        admin,
        "automation.webhook",
        f"{hook.url}?…",
    )
    assert event.after["power"] == "webhook.test_call"
    assert (event.after["status"], event.after["ok"], event.after["own_secret"]) == (202, True, True)
    assert "typed-s3cret" not in stored(event) and "query-key-42" not in stored(event)


def test_a_triggers_webhook_test_names_the_trigger_and_a_failure(admin, receiver, loopback_allowed):  # noqa: F811
    hook = receiver(status=500, body=b"down")
    trigger = Trigger.objects.create(
        name="Tell the CRM",
        event="ticket_created",
        actions=[{"type": "webhook", "url": hook.url, "secret": "crm-key"}],
    )
    client = client_for(admin)
    start = mark()
    client.post("/settings/webhooks/test/", {"source": f"{trigger.pk}:0"})
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.target_type, event.target_id, event.target_label) == (
        "admin.power",
        admin,
        "automation.trigger",
        str(trigger.pk),
        f"Tell the CRM → {hook.url}",
    )
    assert (event.after["status"], event.after["ok"], event.after["own_secret"]) == (500, False, True)
    assert "crm-key" not in stored(event)


def test_a_refused_or_invalid_test_call(admin):
    client = client_for(admin)
    start = mark()
    client.post("/settings/webhooks/test/", {"url": "http://127.0.0.1:9/hook"})  # refused: loopback
    assert client.post("/settings/webhooks/test/", {"url": "not a url"}).status_code == 422  # never sent
    [event] = AuditEvent.objects.filter(id__gt=start)
    assert event.after["ok"] is False and event.after["status"] is None and event.after["error"]


def test_retrying_a_failed_call_is_recorded(admin, receiver, loopback_allowed):  # noqa: F811
    call = make_call("https://crm.example/hook?token=abc123", "failed")
    client = client_for(admin)
    start = mark()
    client.post(f"/settings/webhooks/calls/{call.pk}/retry/")
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.after["power"], event.after["url"]) == (
        "admin.power",
        admin,
        "webhook.retry",
        "https://crm.example/hook?…",
    )
    assert "abc123" not in stored(event)


def test_revoking_a_token_is_recorded(admin):
    token, key = ApiToken.issue(admin, "deploy script")
    client = client_for(admin)
    start = mark()
    client.post(f"/accounts/tokens/{token.pk}/revoke")
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.after) == (
        "token.revoked",
        admin,
        {"name": "deploy script", "hint": token.hint, "user": admin.username},
    )
    assert key not in stored(event)
    client.post(f"/accounts/tokens/{token.pk}/revoke")  # already revoked: nothing more
    assert AuditEvent.objects.filter(id__gt=start).count() == 1


def test_pointing_a_telegram_bot_here_is_recorded_without_its_address(admin, monkeypatch):
    account = ChannelAccount.objects.create(kind=AccountKind.TELEGRAM, name="Bot")
    secret_address = f"https://help.example/social/webhook/{account.key}"
    monkeypatch.setattr(
        social_views, "set_telegram_webhook", lambda account: AccountCheck(True, f"Now sent to {secret_address}")
    )
    client = client_for(admin)
    start = mark()
    client.post(f"/settings/channels/accounts/{account.pk}/webhook")
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.target_id, event.after) == (
        "admin.power",
        admin,
        str(account.pk),
        {"power": "telegram.set_webhook", "ok": True},
    )
    assert account.key not in stored(event)


def test_a_command_names_itself_and_the_shells_user():
    policy = SignInPolicy.current()
    policy.agents_sso_only = True
    policy.save()
    start = mark()
    call_command("sso_policy", "--allow-passwords", stdout=StringIO())
    event = AuditEvent.objects.get(id__gt=start)
    assert event.action == "settings.changed" and event.after == {"agents_sso_only": False}
    assert event.actor is None and event.actor_label.startswith("shell:sso_policy (")


def test_createadmin_and_token_commands_are_recorded(monkeypatch):
    monkeypatch.setenv("SPORTELLO_ADMIN_PASSWORD", "a long and unusual passphrase 42")
    start = mark()
    call_command("createadmin", "root2", "root2@example.com", stdout=StringIO())
    out = StringIO()
    call_command("token", "create", "root2", "--name", "ci", stdout=out)
    token = ApiToken.objects.get(user__username="root2")
    call_command("token", "revoke", str(token.pk), stdout=StringIO())
    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id"))
    assert [(e.action, e.actor_label.split(" (")[0]) for e in events] == [
        ("permission.changed", "shell:createadmin"),
        ("token.created", "shell:token create"),
        ("token.revoked", "shell:token revoke"),
    ]
    assert events[0].after == {"created": "root2", "role": "admin", "is_superuser": True}
    assert User.objects.get(username="root2").role == Role.ADMIN
    assert all(out.getvalue().strip() not in stored(e) for e in events)  # never the key


def test_the_retention_command_records_each_erasure_and_each_batch_of_tickets(aged):  # noqa: F811
    RetentionPolicy.objects.update_or_create(
        pk=RetentionPolicy.current().pk, defaults={"anonymise_inactive_years": 3, "delete_closed_months": 12}
    )
    start = mark()
    out = StringIO()
    call_command("privacy", "retention", stdout=out)
    events = AuditEvent.objects.filter(id__gt=start, action__startswith="privacy.")
    erased = events.filter(action="privacy.erased")
    deleted = events.filter(action="privacy.tickets_deleted")
    assert erased.count() == 5 and deleted.count() >= 1
    assert {e.actor_label.split(" (")[0] for e in events} == {"shell:privacy retention"}
    assert f"deleted {sum(e.after['tickets'] for e in deleted)} closed tickets" in out.getvalue()
    # The scheduler's runs say "retention".
    assert services.current_actor_label.get() == ""


def test_the_audit_filter_offers_the_privacy_actions(admin):
    page = client_for(admin).get("/settings/audit/?action=privacy.erased")
    assert page.status_code == 200
    assert 'value="privacy.erased"' in page.content.decode()


def test_releasing_and_downloading_a_quarantined_mail_are_recorded(admin):
    mailbox = Mailbox.objects.create(address="help@example.test", name="Help desk")
    quarantined = receive_raw(b"Subject: who sent this?\r\n\r\nbody\r\n", mailbox=mailbox, source="imap")
    assert quarantined.state == RawState.QUARANTINED
    client = client_for(admin)
    start = mark()
    client.post(f"/mail/raw/{quarantined.pk}/retry")
    response = client.get(f"/mail/raw/{quarantined.pk}/download")
    assert response.status_code == 200
    released, downloaded = AuditEvent.objects.filter(id__gt=start).order_by("id")
    assert (released.action, released.actor, released.after["power"], released.target_label) == (
        "admin.power",
        admin,
        "mail.release",
        f"Raw message {quarantined.pk}",
    )
    assert (downloaded.action, downloaded.actor, downloaded.target_type) == ("export", admin, "mail.rawmessage")
    assert "who sent this" not in stored(released) + stored(downloaded)  # not the mail's content


def test_resending_an_invitation_is_recorded(admin, django_capture_on_commit_callbacks):
    from sportello.accounts import team

    with django_capture_on_commit_callbacks(execute=True):
        nora = team.invite_user(email="nora@example.org", first_name="Nora", last_name="", role="agent", groups=[])
    client = client_for(admin)
    start = mark()
    assert client.post(f"/settings/users/{nora.pk}/resend").status_code == 302
    event = AuditEvent.objects.get(id__gt=start)
    assert (event.action, event.actor, event.target_label, event.after) == (
        "admin.power",
        admin,
        "nora@example.org",
        {"power": "invitation.resent", "to": "nora@example.org"},
    )
