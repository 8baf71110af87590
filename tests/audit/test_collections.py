"""Many-to-many settings (an SLA policy's groups, a skill's categories) and an agent's skills are
in the audit trail: one event per object changed and transaction, with before and after."""

from __future__ import annotations

import pytest
from django.db import transaction

from sportello.audit.models import AuditEvent
from sportello.automation.assignment import save_skill, set_agent_profile
from sportello.automation.models import AgentSkill, Skill
from sportello.sla.models import Policy
from sportello.tickets.models import Category, Tag

pytestmark = pytest.mark.django_db


def mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def changes_since(start: int, target_type: str) -> list[tuple[dict, dict]]:
    events = AuditEvent.objects.filter(id__gt=start, target_type=target_type, action="settings.changed")
    return [(e.before, e.after) for e in events.order_by("id")]


def test_setting_a_policys_groups_is_one_event_with_before_and_after(
    first_level, second_level, django_capture_on_commit_callbacks
):
    policy = Policy.objects.create(name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        policy.groups.add(first_level)
    start = mark()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        policy.groups.set([second_level])  # a remove, then an add
        policy.tags.set([Tag.objects.create(name="vip")])
    assert changes_since(start, "sla.policy") == [
        ({"groups": ["First level"], "tags": []}, {"groups": ["Second level"], "tags": ["vip"]})
    ]


def test_each_call_outside_a_transaction_is_its_own_event(
    first_level, second_level, django_capture_on_commit_callbacks
):
    policy = Policy.objects.create(name="VIP")
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        policy.groups.add(first_level)
    with django_capture_on_commit_callbacks(execute=True):
        policy.groups.clear()
    assert changes_since(start, "sla.policy") == [
        ({"groups": []}, {"groups": ["First level"]}),
        ({"groups": ["First level"]}, {"groups": []}),
    ]


def test_a_change_that_nets_out_or_is_rolled_back_records_nothing(first_level, django_capture_on_commit_callbacks):
    policy = Policy.objects.create(name="VIP")
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            policy.groups.add(first_level)
            policy.groups.remove(first_level)
        with pytest.raises(RuntimeError), transaction.atomic():
            policy.groups.add(first_level)
            raise RuntimeError("rolled back")
    assert changes_since(start, "sla.policy") == []


def test_a_skill_changed_from_the_categorys_side_is_recorded_on_the_skill(django_capture_on_commit_callbacks):
    billing, refunds = Skill.objects.create(name="Billing"), Skill.objects.create(name="Refunds")
    category = Category.objects.create(name="Invoices")
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        category.skills.add(billing, refunds)
    with django_capture_on_commit_callbacks(execute=True):
        category.skills.clear()
    events = AuditEvent.objects.filter(id__gt=start, target_type="automation.skill").order_by("id")
    assert [(e.target_label, e.before, e.after) for e in events] == [
        ("Billing", {"categories": []}, {"categories": ["Invoices"]}),
        ("Refunds", {"categories": []}, {"categories": ["Invoices"]}),
        ("Billing", {"categories": ["Invoices"]}, {"categories": []}),
        ("Refunds", {"categories": ["Invoices"]}, {"categories": []}),
    ]


def test_save_skill_records_its_lists_once(django_capture_on_commit_callbacks):
    category = Category.objects.create(name="Invoices")
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        skill = save_skill(Skill(), name="Billing", categories=[category.pk], tags=["refund", "invoice"])
    events = AuditEvent.objects.filter(id__gt=start, target_type="automation.skill").order_by("id")
    assert [(e.before, e.after) for e in events] == [
        ({}, {"name": "Billing"}),  # the row, recorded as it is saved
        ({"categories": [], "tags": []}, {"categories": ["Invoices"], "tags": ["invoice", "refund"]}),
    ]
    assert events[1].target_id == str(skill.pk)


def test_an_agents_skills_are_one_event_whatever_the_rows(agent, admin, django_capture_on_commit_callbacks):
    billing, refunds, german = (Skill.objects.create(name=n) for n in ("Billing", "Refunds", "German"))
    with django_capture_on_commit_callbacks(execute=True):
        set_agent_profile(agent, skills=[(billing, 2), (refunds, None)])
    first = AuditEvent.objects.filter(target_type="accounts.user", after__has_key="skills").get()
    assert (first.target_label, first.before, first.after) == (
        agent.username,
        {"skills": {}},
        {"skills": {"Billing": 2, "Refunds": None}},
    )
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        set_agent_profile(agent, skills=[(billing, 4), (german, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        set_agent_profile(agent, skills=[(billing, 4), (german, 1)])  # no change: no event
    assert changes_since(start, "accounts.user") == [
        ({"skills": {"Billing": 2, "Refunds": None}}, {"skills": {"Billing": 4, "German": 1}})
    ]
    assert set(AgentSkill.objects.filter(agent=agent).values_list("skill__name", "level")) == {
        ("Billing", 4),
        ("German", 1),
    }


@pytest.mark.django_db(transaction=True)
def test_one_agent_skill_saved_on_its_own_is_recorded(agent):
    """Outside any transaction (a shell, a script), the row's own save records at once."""
    skill = Skill.objects.create(name="Billing")
    start = mark()
    row = AgentSkill.objects.create(agent=agent, skill=skill, level=3)
    row.delete()
    assert changes_since(start, "accounts.user") == [
        ({"skills": {}}, {"skills": {"Billing": 3}}),
        ({"skills": {"Billing": 3}}, {"skills": {}}),
    ]


def test_a_collection_under_a_secrets_name_shows_only_that_it_changed(django_capture_on_commit_callbacks):
    """Masked by name, as fields are (hooks.SECRET_MARKERS): a collection of keys never shows them."""
    from sportello.audit import hooks

    policy = Policy.objects.create(name="VIP")
    values = iter([["old-key-1"], ["new-key-2"]])
    start = mark()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        hooks._pending("default").note(Policy, policy.pk, "signing_secrets", lambda pk: next(values))
    [event] = AuditEvent.objects.filter(id__gt=start)
    assert (event.before, event.after) == ({"signing_secrets": "•••"}, {"signing_secrets": "•••"})


def test_no_recorded_collection_is_named_like_a_secret():
    """The collections recorded today hold names, not secrets; a new one named like a secret would
    be masked (above), which is right only if that is what it holds: look at it."""
    from django.apps import apps

    from sportello.audit import hooks

    names = [name for _fk, name, _read in hooks.CHILD_COLLECTIONS.values()]
    for label in hooks.SETTINGS_MODELS:
        try:
            names += [f.name for f in apps.get_model(label)._meta.many_to_many]
        except LookupError:
            continue
    assert names and not [name for name in names if hooks._is_secret(name)]


def test_deleting_a_tag_a_policy_matches_is_recorded_on_the_policy(django_capture_on_commit_callbacks):
    """No m2m_changed when the other side goes: its deletion is watched instead."""
    policy = Policy.objects.create(name="VIP")
    vip, gold = Tag.objects.create(name="vip"), Tag.objects.create(name="gold")
    with django_capture_on_commit_callbacks(execute=True):
        policy.tags.set([vip, gold])
    start = mark()
    with django_capture_on_commit_callbacks(execute=True):
        vip.delete()
    assert changes_since(start, "sla.policy") == [({"tags": ["gold", "vip"]}, {"tags": ["gold"]})]
