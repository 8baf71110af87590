"""The condition and action builder: form fields → stored structure → the same form again, and the
validators' messages next to the row they are about."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from sportello.automation.models import Macro, TimeRule, Trigger
from sportello.automation.settings_forms import Builder
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

CONDITIONS = [
    {"field": "status", "op": "in", "value": ["pending", "on_hold"]},
    {"field": "priority", "op": "gte", "value": 3},
    {"field": "subject", "op": "contains", "value": "printer"},
    {"field": "tags", "op": "in", "value": ["vip", "gold"]},
    {"field": "assignee", "op": "is", "value": None},
    {"field": "tier", "op": "lte", "value": 2},
    {"field": "business_hours", "op": "is", "value": False},
    {"field": "customer_email", "op": "not_set"},
]


def actions_for(group_id: int, agent_id: int) -> list[dict]:
    return [
        {"type": "set_status", "status": "pending"},
        {"type": "set_priority", "priority": 4},
        {"type": "set_group", "group": group_id},
        {"type": "set_assignee", "assignee": agent_id},
        {"type": "add_tags", "tags": ["refund", "billing"]},
        {"type": "add_note", "body": "Look at {{ ticket.number }}\nsoon"},
        {"type": "send_email", "to": "address", "address": "boss@example.com", "subject": "Hi", "body": "Body"},
        {"type": "send_email", "to": "customer", "template": "ticket_received"},
        {"type": "webhook", "url": "https://hooks.example.com/in", "secret": "s3cret"},
    ]


def trigger_fields(**extra: object) -> dict:
    base = {"name": "Urgent refunds", "event": "ticket_created", "match": "all", "position": "10", "active": "on"}
    return base | extra


def test_a_rule_round_trips_from_form_fields_to_storage_and_back(admin, first_level, agent):
    actions = actions_for(first_level.pk, agent.pk)
    builder = Builder.from_stored(CONDITIONS, actions)
    posted = QueryDict(mutable=True)
    for row in builder.condition_rows:
        posted.update({f"c-{row.index}-field": row.field, f"c-{row.index}-op": row.op})
        posted.setlist(f"c-{row.index}-value", row.values)
    for arow in builder.action_rows:
        posted[f"a-{arow.index}-type"] = arow.type
        for name, value in arow.params.items():
            posted[f"a-{arow.index}-{name}"] = value
        if arow.secret_from is not None:  # the webhook's secret stays on the server
            posted[f"a-{arow.index}-secret_from"] = str(arow.secret_from)
    assert "s3cret" not in str(builder.action_rows)
    again = Builder.from_post(posted, stored=actions)
    assert again.valid, [r.error for r in again.condition_rows + again.action_rows]  # type: ignore[operator]
    assert again.conditions == CONDITIONS
    assert again.actions == actions


def test_the_page_saves_what_it_shows_and_shows_what_it_saved(admin, first_level, agent, read_form):
    """Stored → the edit page's fields → posted unchanged → the same structure."""
    actions = actions_for(first_level.pk, agent.pk)
    trigger = Trigger.objects.create(name="Everything", event="ticket_created", conditions=CONDITIONS, actions=actions)
    client = client_for(admin)
    fields = read_form(client.get(f"/settings/triggers/{trigger.pk}/").content.decode())
    assert fields["c-0-value"] == ["pending", "on_hold"]  # a multiple choice, as chosen
    assert fields["c-3-value"] == ["vip, gold"]  # tags as typed, with commas
    assert fields["a-5-body"] == ["Look at {{ ticket.number }}\nsoon"]
    fields["name"] = ["Everything again"]
    response = client.post(f"/settings/triggers/{trigger.pk}/", {**fields, "save": "1"})
    assert response.status_code == 302
    trigger.refresh_from_db()
    assert trigger.name == "Everything again"
    assert trigger.conditions == CONDITIONS
    assert trigger.actions == actions


def test_rows_are_read_in_index_order_whatever_gaps_removing_left(admin):
    response = client_for(admin).post(
        "/settings/triggers/new/",
        trigger_fields(
            **{
                "c-7-field": "subject", "c-7-op": "contains", "c-7-value": "second",
                "c-2-field": "channel", "c-2-op": "is", "c-2-value": "email",
                "a-4-type": "add_tags", "a-4-tags": "b",
                "a-1-type": "set_priority", "a-1-priority": "3",
            }
        ),
    )  # fmt: skip
    assert response.status_code == 302
    trigger = Trigger.objects.get(name="Urgent refunds")
    assert [c["field"] for c in trigger.conditions] == ["channel", "subject"]
    assert trigger.actions == [{"type": "set_priority", "priority": 3}, {"type": "add_tags", "tags": ["b"]}]


def test_each_bad_row_gets_its_own_message_next_to_it_and_nothing_is_saved(admin):
    response = client_for(admin).post(
        "/settings/triggers/new/",
        trigger_fields(
            **{
                "c-0-field": "subject", "c-0-op": "contains", "c-0-value": "ok",
                "c-1-field": "shoe_size", "c-1-op": "is", "c-1-value": "42",
                "c-2-field": "tier", "c-2-op": "gte", "c-2-value": "high",
                "a-0-type": "set_status", "a-0-status": "no-such-status",
                "a-1-type": "webhook", "a-1-url": "ftp://example.com/",
            }
        ),
    )  # fmt: skip
    assert response.status_code == 422
    html = response.content.decode()
    assert not Trigger.objects.exists()
    assert "Nothing was saved" in html
    # The message sits in the row's own fieldset, after its inputs, and names the row's place.
    row = html[html.index('id="c-1-field"') : html.index('id="c-2-field"')]
    assert "Condition 2: unknown field &#x27;shoe_size&#x27;" in row
    assert 'id="c-1-error"' in row
    assert "Condition 3: Group&#x27;s tier needs a whole number" in html
    assert "Action 1 (set_status): unknown status" in html
    assert "Action 2 (webhook): an http(s) url is needed" in html
    assert "Condition 1:" not in html  # the good row has none
    # What was typed stays, for the admin to correct.
    assert 'value="ok"' in html and 'value="ftp://example.com/"' in html


def test_a_loop_with_another_trigger_is_refused_with_the_loop_check_message(admin, make_trigger):
    make_trigger(
        "status_changed",
        [{"type": "set_status", "status": "open"}],
        [{"field": "status", "op": "is", "value": "pending"}],
        name="Reopen",
    )
    response = client_for(admin).post(
        "/settings/triggers/new/",
        trigger_fields(
            event="status_changed",
            **{"c-0-field": "status", "c-0-op": "is", "c-0-value": "open"},
            **{"a-0-type": "set_status", "a-0-status": "pending"},
        ),
    )
    assert response.status_code == 422
    assert "would keep changing a ticket back and forth" in response.content.decode()
    assert Trigger.objects.count() == 1


def test_a_trigger_needs_an_action_and_a_unique_name(admin, make_trigger):
    make_trigger("ticket_created", [{"type": "add_tags", "tags": ["x"]}], name="Taken")
    client = client_for(admin)
    response = client.post("/settings/triggers/new/", trigger_fields())
    assert response.status_code == 422
    assert "A trigger needs at least one action" in response.content.decode()
    taken = trigger_fields(name="Taken", **{"a-0-type": "add_tags", "a-0-tags": "x"})
    response = client.post("/settings/triggers/new/", taken)
    assert response.status_code == 422
    assert "already exists" in response.content.decode() or "exists already" in response.content.decode()


def test_an_operator_the_field_does_not_offer_and_an_empty_list_are_explained(admin):
    response = client_for(admin).post(
        "/settings/triggers/new/",
        trigger_fields(
            **{
                "c-0-field": "status", "c-0-op": "gte", "c-0-value": "open",
                "c-1-field": "group", "c-1-op": "in",
                "a-0-type": "add_tags", "a-0-tags": "x",
            }
        ),
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    assert "Condition 1: Status cannot be compared with “is at least”" in html
    assert "Condition 2: choose at least one value" in html


def test_a_time_rule_is_written_in_the_builder(admin):
    response = client_for(admin).post(
        "/settings/time-rules/new/",
        {
            "name": "Nudge pending", "since": "status_changed", "hours": "72", "position": "5", "active": "on",
            "c-0-field": "state", "c-0-op": "is", "c-0-value": "pending",
            "a-0-type": "send_email", "a-0-to": "customer", "a-0-subject": "Still there?", "a-0-body": "Tell us.",
        },
    )  # fmt: skip
    assert response.status_code == 302
    rule = TimeRule.objects.get()
    assert rule.hours == 72
    assert rule.conditions == [{"field": "state", "op": "is", "value": "pending"}]
    assert rule.actions == [{"type": "send_email", "to": "customer", "subject": "Still there?", "body": "Tell us."}]


def test_a_time_rule_needs_a_positive_number_of_hours(admin):
    response = client_for(admin).post(
        "/settings/time-rules/new/",
        {"name": "Never", "since": "created", "hours": "0", "position": "5", "a-0-type": "add_tags", "a-0-tags": "x"},
    )
    assert response.status_code == 422
    assert "At least one hour." in response.content.decode()


def test_a_shared_macro_takes_field_changes_only(admin, agent):
    client = client_for(admin)
    response = client.post(
        "/settings/macros/new/",
        {"name": "Close politely", "body": "Thanks {{ customer.first_name }}", "active": "on",
         "a-0-type": "set_status", "a-0-status": "solved", "a-1-type": "webhook", "a-1-url": "https://x.example/"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Action 2: unknown type &#x27;webhook&#x27;" in response.content.decode()
    response = client.post(
        "/settings/macros/new/",
        {"name": "Close politely", "body": "Thanks", "active": "on", "a-0-type": "set_status", "a-0-status": "solved"},
    )
    assert response.status_code == 302
    macro = Macro.objects.get()
    assert macro.owner is None and macro.actions == [{"type": "set_status", "status": "solved"}]
    personal = Macro.objects.create(name="Mine", owner=agent)
    assert client.get(f"/settings/macros/{personal.pk}/").status_code == 404  # the agent's own to edit
    assert "Mine" not in client.get("/settings/macros/").content.decode()


def test_the_lists_show_order_event_and_runs(admin, make_trigger, write_in):
    make_trigger("ticket_created", [{"type": "add_tags", "tags": ["new"]}], name="Tag new ones", position=3)
    write_in()
    write_in("Second")
    html = client_for(admin).get("/settings/triggers/").content.decode()
    row = html[html.index("Tag new ones") :]
    assert "Ticket created" in row
    assert "<td>2</td>" in row[:600]  # fired on both tickets


def test_deleting_a_trigger_asks_first(admin, make_trigger, write_in):
    trigger = make_trigger("ticket_created", [{"type": "add_tags", "tags": ["new"]}], name="Gone soon")
    write_in()
    client = client_for(admin)
    url = f"/settings/triggers/{trigger.pk}/delete/"
    # The edit page links to the question; it has no button that deletes at once.
    edit = client.get(f"/settings/triggers/{trigger.pk}/").content.decode()
    assert f'href="{url}"' in edit and f'action="{url}"' not in edit
    question = client.get(url).content.decode()
    assert "Delete Gone soon" in question and "This trigger has acted on 1 ticket." in question
    assert 'name="confirmed" value="yes"' in question and "Deleting cannot be undone." in question
    # A POST without the confirmation (an older page's form, a script) only asks again.
    response = client.post(url)
    assert response.status_code == 200 and "Deleting cannot be undone." in response.content.decode()
    assert Trigger.objects.filter(pk=trigger.pk).exists()
    response = client.post(url, {"confirmed": "yes"}, follow=True)
    assert response.redirect_chain == [("/settings/triggers/", 302)]
    assert "Trigger “Gone soon” deleted." in response.content.decode()
    assert not Trigger.objects.exists()


def test_deleting_a_time_rule_and_a_macro_asks_first(admin):
    from sportello.automation.models import Macro, TimeRule

    rule = TimeRule.objects.create(name="Nudge", hours=4, actions=[{"type": "add_tags", "tags": ["late"]}])
    macro = Macro.objects.create(name="Thanks", body="Thank you!", usage_count=7)
    client = client_for(admin)
    for url, words, back, message in [
        (f"/settings/time-rules/{rule.pk}/delete/", "This time rule has acted on 0 tickets.", "/settings/time-rules/",
         "Time rule “Nudge” deleted."),
        (f"/settings/macros/{macro.pk}/delete/", "Agents have used this macro 7 times.", "/settings/macros/",
         "Macro “Thanks” deleted."),
    ]:  # fmt: skip
        assert words in client.get(url).content.decode()
        assert client.post(url, {"confirmed": "no"}).status_code == 200
        response = client.post(url, {"confirmed": "yes"}, follow=True)
        assert response.redirect_chain == [(back, 302)] and message in response.content.decode()
    assert not TimeRule.objects.exists() and not Macro.objects.exists()


def test_a_personal_macro_is_not_deleted_from_the_settings(admin, agent):
    from sportello.automation.models import Macro

    mine = Macro.objects.create(name="Alice's", owner=agent)
    client = client_for(admin)
    assert client.get(f"/settings/macros/{mine.pk}/delete/").status_code == 404
    assert client.post(f"/settings/macros/{mine.pk}/delete/", {"confirmed": "yes"}).status_code == 404
    assert Macro.objects.filter(pk=mine.pk).exists()


# --- A webhook's signing secret ---------------------------------------------------------------------


def _webhook_trigger(secret: str = "whsec-1234567890-c0ffee") -> Trigger:
    return Trigger.objects.create(
        name="Tell the CRM",
        event="ticket_created",
        actions=[
            {"type": "add_tags", "tags": ["crm"]},
            {"type": "webhook", "url": "https://crm.example.com/hook", "secret": secret},
        ],
    )


def test_the_saved_secret_is_never_in_the_page_only_its_last_characters(admin):
    trigger = _webhook_trigger()
    client = client_for(admin)
    html = client.get(f"/settings/triggers/{trigger.pk}/").content.decode()
    assert "whsec-1234567890-c0ffee" not in html and "1234567890" not in html
    assert "Saved secret ••••ffee: leave empty to keep it, or type a new one to replace it." in html
    assert 'name="a-1-secret" id="a-1-secret" value=""' in html
    # Nor after a failed save or a dry run, which show the page again.
    fields = {**trigger_fields(name="Tell the CRM"), "a-1-type": "webhook", "a-1-url": "https://crm.example.com/hook",
              "a-1-secret_from": "1", "a-0-type": "set_status", "a-0-status": "no-such"}  # fmt: skip
    for extra in ({"save": "1"}, {"dry_run": "1", "dry_run_ticket": "1"}):
        response = client.post(f"/settings/triggers/{trigger.pk}/", {**fields, **extra})
        assert response.status_code == 422
        page = response.content.decode()
        assert "whsec-1234567890-c0ffee" not in page and "Saved secret ••••ffee" in page


def test_a_short_secret_is_shown_as_dots_only(admin):
    trigger = _webhook_trigger("abc12345")
    html = client_for(admin).get(f"/settings/triggers/{trigger.pk}/").content.decode()
    assert "Saved secret ••••:" in html and "2345" not in html


def test_left_empty_the_secret_is_kept_typed_it_is_replaced_ticked_it_is_removed(admin, read_form):
    trigger = _webhook_trigger()
    client = client_for(admin)
    url = f"/settings/triggers/{trigger.pk}/"

    def save(**changes: str) -> None:
        fields = read_form(client.get(url).content.decode())
        response = client.post(url, {**fields, **changes, "save": "1"})
        assert response.status_code == 302, response.content.decode()[:2000]
        trigger.refresh_from_db()

    save(name="Tell the CRM now")  # the secret field as the page gives it: empty
    assert trigger.actions[1]["secret"] == "whsec-1234567890-c0ffee"
    save(**{"a-1-url": "https://crm.example.com/v2"})  # another URL, the same secret
    assert trigger.actions[1] == {"type": "webhook", "url": "https://crm.example.com/v2",
                                  "secret": "whsec-1234567890-c0ffee"}  # fmt: skip
    save(**{"a-1-secret": "  brand-new-secret-9876 "})
    assert trigger.actions[1]["secret"] == "brand-new-secret-9876"
    assert "brand-new-secret-9876" not in client.get(url).content.decode()
    save(**{"a-1-secret_clear": "yes"})
    assert "secret" not in trigger.actions[1]
    html = client.get(url).content.decode()
    assert "Saved secret" not in html and 'name="a-1-secret_clear"' not in html


def test_a_typed_secret_is_not_shown_back_when_the_save_fails(admin):
    trigger = _webhook_trigger()
    fields = {**trigger_fields(name="Tell the CRM"), "a-1-type": "webhook", "a-1-url": "https://crm.example.com/hook",
              "a-1-secret_from": "1", "a-1-secret": "typed-but-refused-42",
              "a-0-type": "set_status", "a-0-status": "no-such"}  # fmt: skip
    response = client_for(admin).post(f"/settings/triggers/{trigger.pk}/", {**fields, "save": "1"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "typed-but-refused-42" not in html
    assert "The new secret you typed is not shown back: type it again." in html
    trigger.refresh_from_db()
    assert trigger.actions[1]["secret"] == "whsec-1234567890-c0ffee"


def test_a_secret_is_only_taken_from_a_webhook_of_the_same_rule(admin):
    """A row pointing at another action, or at nothing, keeps no secret: none leaks across rows."""
    trigger = _webhook_trigger()
    new = {**trigger_fields(name="Copycat"), "a-0-type": "webhook", "a-0-url": "https://evil.example.com/",
           "a-0-secret_from": "1", "save": "1"}  # fmt: skip
    assert client_for(admin).post("/settings/triggers/new/", new).status_code == 302
    assert Trigger.objects.get(name="Copycat").actions == [{"type": "webhook", "url": "https://evil.example.com/"}]
    edit = {**trigger_fields(name="Tell the CRM"), "a-0-type": "webhook", "a-0-url": "https://crm.example.com/",
            "a-0-secret_from": "0", "a-1-type": "add_tags", "a-1-tags": "x", "save": "1"}  # fmt: skip
    assert client_for(admin).post(f"/settings/triggers/{trigger.pk}/", edit).status_code == 302
    trigger.refresh_from_db()
    assert trigger.actions[0] == {"type": "webhook", "url": "https://crm.example.com/"}  # action 0 was add_tags


def test_a_time_rules_webhook_secret_is_masked_too(admin):
    rule = TimeRule.objects.create(
        name="Late",
        hours=2,
        actions=[{"type": "webhook", "url": "https://a.example.com/", "secret": "tr-secret-abcdef"}],
    )
    html = client_for(admin).get(f"/settings/time-rules/{rule.pk}/").content.decode()
    assert "tr-secret-abcdef" not in html and "Saved secret ••••cdef" in html


def test_the_audit_trail_does_not_show_the_secret_either(admin, read_form):
    from sportello.audit.models import AuditEvent

    trigger = _webhook_trigger()
    client = client_for(admin)
    url = f"/settings/triggers/{trigger.pk}/"
    fields = read_form(client.get(url).content.decode())
    assert client.post(url, {**fields, "a-1-secret": "second-secret-5678", "save": "1"}).status_code == 302
    events = AuditEvent.objects.filter(target_type="automation.trigger")
    assert events.count() == 2  # created, then the secret changed: recorded, without it
    stored = repr(list(events.values_list("before", "after")))
    assert "whsec-1234567890-c0ffee" not in stored and "second-secret-5678" not in stored
    html = client.get("/settings/audit/").content.decode()
    assert "Tell the CRM" in html
    assert "whsec-1234567890-c0ffee" not in html and "second-secret-5678" not in html
