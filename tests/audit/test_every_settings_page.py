"""Every page of the settings area leaves a trace (issue #15: "every change is in the audit trail").

An admin changes something on each page listed in admin_area/registry.py, through the real views,
with the values the page's own form carries (tests/audit/html_forms.py reads them as a browser
would), and each change (create, edit, delete, and the page's other buttons) must be followed by
an audit record of the kind of object it changed, written by that admin. A page added to the
registry without a walk here fails `test_every_page_of_the_registry_is_walked`: write its walk, or
name it in READ_ONLY with the reason. No value typed as a secret may reach the trail.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from allauth.socialaccount.models import SocialApp
from django.db import models
from django.test import Client

from sportello.accounts.models import ApiToken, Group, Role, User
from sportello.admin_area.registry import SECTIONS
from sportello.audit.models import AuditEvent
from sportello.automation.models import Macro, Skill, TimeRule, Trigger
from sportello.chat.models import ChatChannel
from sportello.fields.models import CustomField
from sportello.kb.models import Category as KbCategory
from sportello.mail.models import Mailbox
from sportello.phone.models import CtiAccount
from sportello.sla.models import Calendar, Policy
from sportello.social.models import ChannelAccount
from sportello.sso.models import ClaimRule
from sportello.tickets.models import Category, Status
from tests.audit.html_forms import Forms
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

# Pages with nothing to change: the reason.
READ_ONLY = {"audit:list": "it reads the trail; its CSV export is itself recorded (tests/audit/test_page.py)"}

HEADER_FORMS = ("/accounts/logout/", "/chat/availability")  # in every page's header


@dataclass
class Walk:
    client: Client
    admin: User
    capture: Any  # django_capture_on_commit_callbacks: the trail of collections is written at commit
    secrets: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def form(self, url: str, *, action: str | None = None, has: str | None = None) -> dict[str, Any]:
        """The values the page's form would send: the form posting to `action` (by default the
        page itself), or the one with a field `has`."""
        page = self.client.get(url)
        assert page.status_code == 200, f"GET {url}: {page.status_code}"
        forms = [f for f in Forms(page.content.decode()).forms if f.method == "post" and f.action not in HEADER_FORMS]
        if has is not None:
            found = [f for f in forms if has in f.names]
        else:
            wanted = action or url
            found = [f for f in forms if (f.action or url) == wanted]
        assert found, f"{url}: no form {'with ' + has if has else 'posting to ' + (action or url)}"
        return {name: values if len(values) > 1 else values[0] for name, values in found[0].fields.items()}

    def change(
        self,
        what: str,
        url: str,
        data: dict[str, Any] | None = None,
        *,
        target: str,
        shows: str = "",
        gone: models.Model | None = None,
    ) -> None:
        """POST as a browser would; then a record of the admin on an object of type `target`
        (whose before/after mention `shows`, when given) must be there; `gone` must be deleted."""
        start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with self.capture(execute=True):
            response = self.client.post(url, data or {})
        problem = ""
        if response.status_code >= 400 and response.context and response.context.get("form") is not None:
            problem = str(response.context["form"].errors.as_data())
        assert response.status_code < 400, f"{what}: POST {url} answered {response.status_code} {problem}"
        events = AuditEvent.objects.filter(id__gt=start, actor=self.admin, target_type=target)
        found = [json.dumps([e.before, e.after, e.target_label], ensure_ascii=False, default=str) for e in events]
        assert found, f"{what}: no audit record on {target} (got: {self._recorded(start)})"
        if shows:
            assert any(shows in text for text in found), f"{what}: {shows!r} in no record: {found}"
        if gone is not None:
            assert not type(gone)._base_manager.filter(pk=gone.pk).exists(), f"{what}: {gone!r} is still there"
        self.steps.append(what)

    def _recorded(self, start: int) -> list[tuple[str, str]]:
        return list(AuditEvent.objects.filter(id__gt=start).values_list("action", "target_type"))

    def secret(self, value: str) -> str:
        self.secrets.append(value)
        return value


def _pk(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, pattern
    return int(match.group(1))


# --- The walks, one per page ----------------------------------------------------------------------------


def walk_users(w: Walk) -> None:
    invite = {**w.form("/settings/users/", has="email"), "email": "newbie@example.com", "first_name": "Nina"}
    w.change("invite", "/settings/users/", invite, target="accounts.user", shows="newbie@example.com")
    person = User.objects.get(email="newbie@example.com")
    Skill.objects.create(name="Billing")
    skill = Skill.objects.get(name="Billing")
    url = f"/settings/users/{person.pk}/"
    edit = {**w.form(url), "role": Role.LIGHT_AGENT.value}
    w.change("change the role", url, edit, target="accounts.user", shows=Role.LIGHT_AGENT.value)
    edit = {**w.form(url), "role": Role.AGENT.value, f"skill_{skill.pk}": "3"}
    w.change("give a skill", url, edit, target="accounts.user", shows="Billing")
    resend = f"/settings/users/{person.pk}/resend"
    w.change("resend the invitation", resend, target="accounts.user", shows="invitation.resent")
    w.change("deactivate", f"/settings/users/{person.pk}/active", {"active": "false"}, target="accounts.user")


def walk_groups(w: Walk) -> None:
    data = {**w.form("/settings/groups/"), "name": "Billing desk", "description": "Invoices"}
    w.change("create", "/settings/groups/", data, target="accounts.group", shows="Billing desk")
    group = Group.objects.get(name="Billing desk")
    url = f"/settings/groups/{group.pk}/"
    w.change("edit", url, {**w.form(url), "tier": "2"}, target="accounts.group", shows="2")
    member = make_user("mia_member", Role.AGENT)
    w.change("add a member", url, {**w.form(url), "members": [str(member.pk)]}, target="accounts.user")
    delete = f"/settings/groups/{group.pk}/delete"
    w.change("delete", delete, w.form(delete), target="accounts.group", shows="Billing desk", gone=group)


def walk_skills(w: Walk) -> None:
    category = Category.objects.create(name="Invoices")
    data = {**w.form("/settings/skills/"), "name": "SAP", "categories": [str(category.pk)], "tags": "sap"}
    w.change("create", "/settings/skills/", data, target="automation.skill", shows="SAP")
    skill = Skill.objects.get(name="SAP")
    url = f"/settings/skills/{skill.pk}/"
    w.change(
        "edit", url, {**w.form(url), "name": "SAP ERP", "tags": "sap, erp"}, target="automation.skill", shows="erp"
    )
    agent = make_user("sam_sap", Role.AGENT)
    w.change("give an agent", url, {**w.form(url), f"agent_{agent.pk}": "4"}, target="accounts.user", shows="SAP ERP")
    w.change("change the level", url, {**w.form(url), f"agent_{agent.pk}": "2"}, target="accounts.user", shows="2")
    delete = f"/settings/skills/{skill.pk}/delete/"
    w.change("delete", delete, w.form(delete), target="automation.skill", shows="SAP ERP", gone=skill)


def walk_tokens(w: Walk) -> None:
    data = {**w.form("/accounts/tokens/"), "name": "deploy script"}
    with w.capture(execute=True):
        page = w.client.post("/accounts/tokens/", data).content.decode()
    token = ApiToken.objects.get(name="deploy script")
    key = re.search(rf"{ApiToken.PREFIX}[A-Za-z0-9_\-]+", page)
    assert key, "the new key is shown once"
    w.secret(key.group(0))
    assert AuditEvent.objects.filter(action="token.created", actor=w.admin, target_id=str(token.pk)).exists()
    w.steps.append("create")
    w.change("revoke", f"/accounts/tokens/{token.pk}/revoke", target="accounts.apitoken", shows="deploy script")
    agents, _key = ApiToken.issue(make_user("tom_tokens", Role.AGENT), "agent's sync")
    revoke = f"/settings/tokens/{agents.pk}/revoke"
    w.change("revoke an agent's", revoke, w.form(revoke), target="accounts.apitoken", shows="tom_tokens")


def walk_statuses(w: Walk) -> None:
    data = {**w.form("/settings/statuses/"), "name": "Waiting for parts", "category": "pending"}
    w.change("create", "/settings/statuses/", data, target="tickets.status", shows="Waiting for parts")
    status = Status.objects.get(name="Waiting for parts")
    url = f"/settings/statuses/{status.pk}/"
    w.change("edit", url, {**w.form(url), "name": "Parts ordered"}, target="tickets.status", shows="Parts ordered")
    w.change("move", f"/settings/statuses/{status.pk}/move", {"direction": "up"}, target="tickets.status")
    w.change("deactivate", f"/settings/statuses/{status.pk}/active", {"active": "false"}, target="tickets.status")
    delete = f"/settings/statuses/{status.pk}/delete"
    w.change("delete", delete, {"confirmed": "yes"}, target="tickets.status", shows="Parts ordered", gone=status)
    w.change("preset", "/settings/statuses/preset", {"preset": "liveagent"}, target="tickets.status")


def walk_ticket_types(w: Walk) -> None:
    data = {**w.form("/settings/ticket-types/"), "name": "Refunds"}
    w.change("create", "/settings/ticket-types/", data, target="tickets.category", shows="Refunds")
    category = Category.objects.get(name="Refunds")
    url = f"/settings/ticket-types/{category.pk}/"
    w.change("edit", url, {**w.form(url), "name": "Refund"}, target="tickets.category", shows="Refund")
    active = f"/settings/ticket-types/{category.pk}/active"
    w.change("deactivate", active, {"active": "false"}, target="tickets.category")
    delete = f"/settings/ticket-types/{category.pk}/delete"
    w.change("delete", delete, {"confirmed": "yes"}, target="tickets.category", shows="Refund", gone=category)


def walk_custom_fields(w: Walk) -> None:
    data = {**w.form("/settings/fields/"), "label": "Order number", "key": "order_number", "type": "text"}
    w.change("create", "/settings/fields/", data, target="fields.customfield", shows="order_number")
    custom = CustomField.objects.get(key="order_number")
    url = f"/settings/fields/{custom.pk}/"
    w.change("edit", url, {**w.form(url), "label": "Order no."}, target="fields.customfield", shows="Order no.")
    w.change("move", f"/settings/fields/{custom.pk}/move", {"direction": "up"}, target="fields.customfield")
    active = f"/settings/fields/{custom.pk}/active"
    w.change("deactivate", active, {"active": "false"}, target="fields.customfield")


def walk_sla(w: Walk, *, group: Group) -> None:
    data = {**w.form("/settings/sla/new/"), "name": "VIP", "groups": [str(group.pk)], "target_4_first_response": "30"}
    w.change("create", "/settings/sla/new/", data, target="sla.policy", shows="VIP")
    policy = Policy.objects.get(name="VIP")
    assert AuditEvent.objects.filter(target_type="sla.policy", after__groups=[group.name]).exists(), "its groups"
    url = f"/settings/sla/{policy.pk}/"
    w.change("edit", url, {**w.form(url), "warning_minutes": "3"}, target="sla.policy", shows="warning_minutes")
    other = Group.objects.create(name="Key accounts")
    moved = {**w.form(url), "groups": [str(other.pk)]}
    w.change("change its groups", url, moved, target="sla.policy", shows=f'"groups": ["{group.name}"]')
    w.change("edit a target", url, {**w.form(url), "target_4_first_response": "45"}, target="sla.target")
    Policy.objects.create(name="Standard", position=1, priorities=[1])  # one to move past
    w.change("move", f"/settings/sla/{policy.pk}/move", {"direction": "up"}, target="sla.policy")
    w.change("deactivate", f"/settings/sla/{policy.pk}/active", {"active": "false"}, target="sla.policy")


def walk_calendars(w: Walk) -> None:
    data = {**w.form("/settings/calendars/new/"), "name": "Office", "day_0_0_start": "09:00", "day_0_0_end": "17:00"}
    w.change("create", "/settings/calendars/new/", data, target="sla.calendar", shows="Office")
    calendar = Calendar.objects.get(name="Office")
    url = f"/settings/calendars/{calendar.pk}/"
    holiday = {**w.form(url), "holiday_0_date": "2026-12-25", "holiday_0_name": "Christmas"}
    w.change("add a holiday", url, holiday, target="sla.calendar", shows="2026-12-25 Christmas")
    w.change("edit", url, {**w.form(url), "name": "Front office"}, target="sla.calendar", shows="Front office")
    w.change("change the hours", url, {**w.form(url), "day_0_0_end": "18:00"}, target="sla.calendar", shows="18:00")
    delete = f"/settings/calendars/{calendar.pk}/delete"
    w.change("delete", delete, target="sla.calendar", shows="Front office", gone=calendar)


def _walk_rule(w: Walk, *, base: str, model: type[Any], target: str, fields: dict[str, str]) -> None:
    data = {**w.form(f"{base}new/"), **fields, "a-0-type": "add_tags", "a-0-tags": "walked", "save": "1"}
    w.change("create", f"{base}new/", data, target=target, shows=fields["name"])
    rule = model.objects.get(name=fields["name"])
    url = f"{base}{rule.pk}/"
    w.change("edit", url, {**w.form(url), "name": "Renamed", "save": "1"}, target=target, shows="Renamed")
    webhook = {"a-0-type": "webhook", "a-0-url": "https://crm.example/in", "a-0-secret": w.secret("rule-s3cret")}
    if model is not Macro:
        w.change("add a signed webhook", url, {**w.form(url), **webhook, "save": "1"}, target=target, shows="crm")
    w.change("delete", f"{base}{rule.pk}/delete/", {"confirmed": "yes"}, target=target, shows="Renamed", gone=rule)


def walk_triggers(w: Walk) -> None:
    fields = {"name": "Tag new", "event": "ticket_created"}
    _walk_rule(w, base="/settings/triggers/", model=Trigger, target="automation.trigger", fields=fields)


def walk_time_rules(w: Walk) -> None:
    fields = {"name": "Nudge", "since": "created", "hours": "24"}
    _walk_rule(w, base="/settings/time-rules/", model=TimeRule, target="automation.timerule", fields=fields)


def walk_macros(w: Walk) -> None:
    fields = {"name": "Say thanks", "body": "Thanks!"}
    _walk_rule(w, base="/settings/macros/", model=Macro, target="automation.macro", fields=fields)


def walk_webhooks(w: Walk) -> None:
    # Refused before any connection (loopback is not a webhook's host): the attempt is what counts.
    data = {**w.form("/settings/webhooks/", action="/settings/webhooks/test/"), "url": "http://127.0.0.1:9/h?k=1"}
    data["secret"] = w.secret("test-call-s3cret")
    w.change("test call", "/settings/webhooks/test/", data, target="automation.webhook", shows="webhook.test_call")


def walk_mailboxes(w: Walk, *, group: Group) -> None:
    data = {**w.form("/settings/mailboxes/new/"), "address": "help@example.com", "name": "Help"}
    data.update(imap_host="imap.example.com", imap_username="help", password=w.secret("imap-pa55word"))
    data["group"] = str(group.pk)
    w.change("create", "/settings/mailboxes/new/", data, target="mail.mailbox", shows="help@example.com")
    mailbox = Mailbox.objects.get(address="help@example.com")
    url = f"/settings/mailboxes/{mailbox.pk}/"
    w.change("edit", url, {**w.form(url), "name": "Helpdesk"}, target="mail.mailbox", shows="Helpdesk")
    w.change("new password", url, {**w.form(url), "password": w.secret("other-pa55word")}, target="mail.mailbox")
    w.change("rotate its token", f"/mail/mailboxes/{mailbox.pk}/token", target="mail.mailbox")


def walk_email_templates(w: Walk) -> None:
    url = "/settings/email-templates/acknowledgement/en/"
    data = {**w.form(url), "subject": "We got it: {{ ticket.subject }}"}
    w.change("edit", url, data, target="mail.emailtemplate", shows="We got it")
    w.change("reset", f"{url}reset", {"confirmed": "yes"}, target="mail.emailtemplate", shows="We got it")


def walk_channels(w: Walk) -> None:
    data = {**w.form("/settings/channels/widgets/new/"), "name": "Site chat", "key": "site"}
    w.change("add a widget", "/settings/channels/widgets/new/", data, target="chat.chatchannel", shows="Site chat")
    widget = ChatChannel.objects.get(key="site")
    url = f"/settings/channels/widgets/{widget.pk}/"
    w.change("edit a widget", url, {**w.form(url), "greeting": "Ciao!"}, target="chat.chatchannel", shows="Ciao!")
    new = "/settings/channels/accounts/new/telegram/"
    data = {**w.form(new), "name": "Bot", "bot_token": w.secret("123456:bot-t0ken-value")}
    data["secret_token"] = w.secret("tg-secret-t0ken")
    w.change("add an account", new, data, target="social.channelaccount", shows="Bot")
    account = ChannelAccount.objects.get(name="Bot")
    url = f"/settings/channels/accounts/{account.pk}/"
    w.change("edit an account", url, {**w.form(url), "name": "Our bot"}, target="social.channelaccount")
    active = f"/settings/channels/accounts/{account.pk}/active"
    w.change("switch it off", active, {"active": "0"}, target="social.channelaccount")


def walk_phone(w: Walk) -> None:
    new = "/settings/phone/new/generic/"
    data = {**w.form(new), "name": "PBX", "region": "DE"}
    w.change("add a PBX", new, data, target="phone.ctiaccount", shows="PBX")
    account = CtiAccount.objects.get(name="PBX")
    url = f"/settings/phone/{account.pk}/"
    w.change("edit a PBX", url, {**w.form(url), "name": "Office PBX"}, target="phone.ctiaccount", shows="Office PBX")
    w.change("rotate the token", f"/phone/accounts/{account.pk}/token", target="phone.ctiaccount")
    assert "Office PBX" in w.client.get("/phone/accounts/").content.decode()
    w.change("switch it off", f"/settings/phone/{account.pk}/active", {"active": "0"}, target="phone.ctiaccount")
    delete = f"/settings/phone/{account.pk}/delete"
    w.change("delete", delete, w.form(delete), target="phone.ctiaccount", shows="Office PBX", gone=account)
    new = "/settings/phone/new/twilio/"
    data = {**w.form(new), "name": "Twilio", "forward_to": "+493055571600"}
    data["account_sid"] = w.secret("AC" + "5eca1ed" * 4 + "0123")
    data["auth_token"] = w.secret("0123456789abcdef0123456789abcdef")
    w.change("add a Twilio account", new, data, target="phone.ctiaccount", shows="+493055571600")
    twilio = CtiAccount.objects.get(name="Twilio")
    url = f"/settings/phone/{twilio.pk}/"
    token = w.secret("fedcba9876543210fedcba9876543210")
    w.change("new auth token", url, {**w.form(url), "auth_token": token}, target="phone.ctiaccount")


def walk_kb_categories(w: Walk) -> None:
    data = {**w.form("/settings/help-centre/categories/"), "name": "Billing", "slug": "billing"}
    w.change("create", "/settings/help-centre/categories/", data, target="kb.category", shows="billing")
    category = KbCategory.objects.get(slug="billing")
    url = f"/settings/help-centre/categories/{category.pk}/"
    w.change("edit", url, {**w.form(url), "name": "Invoices"}, target="kb.category", shows="Invoices")
    w.change("move", f"{url}move", {"direction": "up"}, target="kb.category")
    w.change("delete", f"{url}delete", {"confirmed": "yes"}, target="kb.category", shows="Invoices", gone=category)


def walk_sign_in(w: Walk, *, group: Group) -> None:
    oidc = {"name": "Staff login", "provider_id": "staff-idp", "server_url": "https://login.example.com/realms/staff"}
    oidc |= {"client_id": "sportello", "secret": w.secret("oidc-client-s3cret")}
    w.change("add OIDC", "/settings/sign-in/oidc/new", oidc, target="socialaccount.socialapp", shows="Staff login")
    app = SocialApp.objects.get(provider_id="staff-idp")
    url = f"/settings/sign-in/oidc/{app.pk}/"
    w.change("edit OIDC", url, {**w.form(url), "name": "Staff SSO"}, target="socialaccount.socialapp")
    policy = {**w.form("/settings/sign-in/", action="/settings/sign-in/policy"), "require_two_factor": "on"}
    w.change("policy", "/settings/sign-in/policy", policy, target="sso.signinpolicy", shows="require_two_factor")
    rule = {**w.form("/settings/sign-in/", action="/settings/sign-in/rules/new")}
    rule |= {"claim": "groups", "value": "support", "role": Role.AGENT.value, "group": str(group.pk)}
    w.change("add a rule", "/settings/sign-in/rules/new", rule, target="sso.claimrule", shows="support")
    claim = ClaimRule.objects.get(value="support")
    w.change("delete a rule", f"/settings/sign-in/rules/{claim.pk}/delete", target="sso.claimrule", gone=claim)
    delete = f"/settings/sign-in/providers/{app.pk}/delete"
    w.change("delete a provider", delete, target="socialaccount.socialapp", shows="Staff SSO", gone=app)


def walk_privacy(w: Walk) -> None:
    data = {**w.form("/settings/privacy/"), "delete_closed_months": "36"}
    w.change("retention", "/settings/privacy/", data, target="privacy.retentionpolicy", shows="36")


def walk_branding(w: Walk) -> None:
    data = {**w.form("/settings/branding/"), "product_name": "Acme Help", "primary_color": "#224488"}
    data.pop("logo", None)
    w.change("edit", "/settings/branding/", data, target="core.branding", shows="Acme Help")


def walk_forum(w: Walk) -> None:
    data = {**w.form("/settings/forum/"), "unanswered_after_hours": "36"}
    w.change("forum", "/settings/forum/", data, target="forum.forumsettings", shows="36")


def walk_assist(w: Walk) -> None:
    data = {**w.form("/settings/assistance/"), "enabled": "on", "base_url": "https://models.example.com"}
    data.update(model="llama3.1:8b", api_key=w.secret("sk-assist-5ecret"))
    w.change("server", "/settings/assistance/", data, target="assist.assistsettings", shows="llama3.1:8b")
    data = {**w.form("/settings/assistance/"), "enabled": "", "api_key": "", "clear_api_key": "on"}
    w.change("turn off, forget the key", "/settings/assistance/", data, target="assist.assistsettings")


def walk_triage(w: Walk) -> None:
    data = {**w.form("/settings/triage/"), "group_mode": "suggest", "group_threshold": "85"}
    w.change("suggest groups", "/settings/triage/", data, target="triage.triagesettings")
    data = {**w.form("/settings/triage/"), "retrain_days": "14"}
    w.change("retrain fortnightly", "/settings/triage/", data, target="triage.triagesettings", shows="14")


WALKS: dict[str, Callable[..., None]] = {
    "settings-users": walk_users,
    "settings-groups": walk_groups,
    "settings-skills": walk_skills,
    "settings-tokens": walk_tokens,
    "settings-statuses": walk_statuses,
    "settings-categories": walk_ticket_types,
    "fields:settings": walk_custom_fields,
    "settings-sla": walk_sla,
    "settings-calendars": walk_calendars,
    "settings-triggers": walk_triggers,
    "settings-time-rules": walk_time_rules,
    "settings-macros": walk_macros,
    "settings-webhooks": walk_webhooks,
    "mail_mailboxes": walk_mailboxes,
    "settings-email-templates": walk_email_templates,
    "settings-channels": walk_channels,
    "phone:accounts": walk_phone,
    "settings-kb-categories": walk_kb_categories,
    "settings-sso": walk_sign_in,
    "settings-privacy": walk_privacy,
    "settings-forum": walk_forum,
    "settings-assist": walk_assist,
    "settings-triage": walk_triage,
    "settings-branding": walk_branding,
}


def test_every_page_of_the_registry_is_walked():
    pages = {page.url_name for section in SECTIONS for page in section.pages}
    missing = pages - set(WALKS) - set(READ_ONLY)
    assert not missing, f"settings pages with no audit walk in {__name__}: {sorted(missing)}"
    assert not set(WALKS) - pages, "walks of pages the registry no longer lists"


@pytest.mark.parametrize("url_name", sorted(WALKS))
def test_each_change_on_the_page_is_in_the_audit_trail(
    url_name, admin, first_level, django_capture_on_commit_callbacks
):
    walk = Walk(client_for(admin), admin, django_capture_on_commit_callbacks)
    function = WALKS[url_name]
    extra = {"group": first_level} if "group" in inspect.signature(function).parameters else {}
    function(walk, **extra)
    assert walk.steps, "a walk changes something"
    trail = json.dumps(
        list(AuditEvent.objects.values("before", "after", "target_label", "actor_label")), ensure_ascii=False
    )
    for secret in walk.secrets:
        assert secret not in trail, f"the secret {secret!r} reached the audit trail"
