"""The forum and privacy: erasing a customer leaves no text of theirs in the forum but keeps the
threads and counts; their export archive holds their posts; moderators' and admins' forum changes
are in the audit trail."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from sportello.audit.models import AuditEvent
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.forum import services
from sportello.forum.models import Follow, ForumCategory, Member, Post, Topic, Vote
from sportello.privacy.erasure import erase_customer
from sportello.privacy.exporting import write_archive
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


def _thread(carla, dora, question: Topic) -> tuple[Post, Post]:
    trust(dora)
    dora_reply = services.reply_to_topic(dora, question, "Try the zanzibar reset, Dora here")
    carla_reply = services.reply_to_topic(carla, question, "Thanks, my serial is QX-4711")
    services.vote_for_post(carla, dora_reply)
    services.vote_for_post(dora, carla_reply)
    return dora_reply, carla_reply


def test_erasing_a_customer_empties_her_posts_and_keeps_the_thread(
    carla, dora, question, admin, django_capture_on_commit_callbacks
):
    dora_reply, carla_reply = _thread(carla, dora, question)
    Member.objects.filter(user=carla).update(ban_reason="Carla Rossi spammed")
    assert OutboxMessage.objects.filter(kind=services.REPLY_MAIL, payload__user=carla.pk).exists()
    replies_before = Topic.objects.get(pk=question.pk).reply_count
    customer = Customer.objects.get(user=carla)

    with django_capture_on_commit_callbacks(execute=True):
        erased = erase_customer(admin, customer, confirmation="carla@example.com")

    assert erased.counts["forum_posts"] == 2 and erased.counts["forum_topics"] == 1
    topic = Topic.objects.get(pk=question.pk)
    assert topic.title == "[erased]" and topic.reply_count == replies_before == 2
    assert set(Post.objects.filter(author=carla).values_list("body", flat=True)) == {"[erased]"}
    assert Post.objects.get(pk=dora_reply.pk).body == "Try the zanzibar reset, Dora here"  # others' posts stay
    assert Post.objects.get(pk=carla_reply.pk).votes == 1  # the figure stays, the link to her goes
    assert not Vote.objects.filter(user=carla).exists() and not Follow.objects.filter(user=carla).exists()
    assert Member.objects.get(user=carla).ban_reason == ""
    assert not OutboxMessage.objects.filter(kind=services.REPLY_MAIL, payload__user=carla.pk).exists()

    page = client_for(dora).get(topic.public_path(), follow=True).content.decode()
    assert "QX-4711" not in page and "Printer shows error 42" not in page and "Carla" not in page
    assert "zanzibar reset" in page


def test_the_export_archive_holds_her_forum_posts(carla, dora, question):
    _thread(carla, dora, question)
    buffer = io.BytesIO()
    counts = write_archive(Customer.objects.get(user=carla), buffer)
    archive = zipfile.ZipFile(buffer)
    forum = json.loads(archive.read("forum.json"))
    assert counts["forum_posts"] == 2
    assert [p["body"] for p in forum["posts"]] == ["It blinks **red**.", "Thanks, my serial is QX-4711"]
    assert forum["posts"][0]["topic"] == "Printer shows error 42" and forum["posts"][0]["opening"] is True
    assert "Try the zanzibar reset" not in archive.read("forum.json").decode()  # Dora's words are hers
    assert [f["topic"] for f in forum["follows"]] == ["Printer shows error 42"]
    assert len(forum["votes"]) == 1
    assert "forum.json" in archive.read("README.txt").decode()


def test_banning_and_unbanning_are_in_the_audit_trail(dora, agent):
    services.ban_member(agent, dora, "spam links")
    services.unban_member(agent, dora)
    events = list(AuditEvent.objects.filter(action="settings.changed", target_type="forum.member").order_by("id"))
    assert events[0].after.get("ban_reason") == "spam links"
    assert events[-1].before.get("ban_reason") == "spam links" and events[-1].after.get("ban_reason") == ""


def test_an_admin_changing_a_category_is_in_the_audit_trail(admin, printers):
    client = client_for(admin)
    url = f"/admin/forum/forumcategory/{printers.pk}/change/"
    response = client.post(
        url, {"language": "en", "slug": "printers", "name": "Printers and scanners", "description": "", "position": 5}
    )
    assert response.status_code == 302, response.content[:800]
    assert ForumCategory.objects.get(pk=printers.pk).name == "Printers and scanners"
    event = AuditEvent.objects.filter(action="settings.changed", target_type="forum.forumcategory").latest("id")
    assert event.before["name"] == "Printers" and event.after["name"] == "Printers and scanners"
    assert event.actor == admin
