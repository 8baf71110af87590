"""A picture in a forum post, in a real browser: a member attaches one to a reply and everybody
sees it inline; an SVG is refused with a message and nothing is posted."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from sportello.forum import services
from sportello.forum.models import Post, PostImage
from tests.browser.test_forum import people, signed_in_page  # noqa: F401  (people is a fixture)
from tests.forum.conftest import trust

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_attaches_a_picture_to_a_reply_and_it_shows_inline(browser, live_server, people, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    asker, helper = people
    trust(asker, helper)
    category = services.create_category(language="en", name="Printers")
    topic = services.start_topic(asker, category, services.TopicText("question", "Which tray?", "Where is it?"))
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(picture, "PNG")

    page = signed_in_page(browser, live_server, helper)
    page.goto(f"{live_server.url}{topic.public_path()}")
    page.get_by_label("Picture").set_input_files(
        files=[{"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": b"<svg onload='alert(1)'></svg>"}]
    )
    page.get_by_role("button", name="Post the reply").click()
    expect(page.get_by_text("“logo.svg” is not a PNG, JPEG, GIF or WebP picture.")).to_be_visible()
    assert not Post.objects.filter(opening=False).exists()

    page.get_by_label("Your reply").fill("This one, under the lid:")
    page.get_by_label("Picture").set_input_files(
        files=[{"name": "tray.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
    )
    page.get_by_role("button", name="Post the reply").click()
    shown = page.locator("ol.thread img[alt='tray']")
    expect(shown).to_be_visible()
    expect(shown).to_have_js_property("naturalWidth", 40)  # the file itself arrived, not a broken icon
    assert PostImage.objects.get().post.body.startswith("This one, under the lid:")

    reader = browser.new_page()  # a visitor who is not signed in sees it too
    reader.goto(f"{live_server.url}{topic.public_path()}")
    expect(reader.locator("ol.thread img[alt='tray']")).to_have_js_property("naturalWidth", 40)
