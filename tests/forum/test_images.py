"""Pictures in posts: a member attaches one while writing; it shows inline; hostile files are refused
with a clear message; a held or hidden post's picture is served to nobody else; erasure and export
cover them."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from sportello.forum import services
from sportello.forum.models import Post, PostImage, Topic
from sportello.privacy.exporting import write_archive
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path


def png(size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 0).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` by `height` pixels in a few bytes: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def picture(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def reply(user, topic: Topic, content: bytes, name: str = "screen.png", body: str = "See the picture."):  # type: ignore[no-untyped-def]
    return client_for(user).post(
        f"/help/forum/topics/{topic.pk}/reply", {"body": body, "lang": "en", "image": picture(name, content)}
    )


def test_a_member_attaches_a_picture_and_it_shows_inline(question, dora):
    trust(dora)
    content = png()
    response = reply(dora, question, content, name="tray [open].png")
    assert response.status_code == 302
    item = PostImage.objects.get()
    post = Post.objects.get(opening=False)
    assert item.post == post and item.content_type == "image/png" and (item.width, item.height) == (8, 6)
    assert item.file.name.startswith("forum/")
    assert f'<img alt="tray open" src="{item.url()}">' in post.body_html
    page = Client().get(question.public_path()).text
    assert f'src="{item.url()}"' in page
    served = Client().get(item.url())
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff" and "sandbox" in served["Content-Security-Policy"]
    with item.file.open("rb") as stored:
        kept = stored.read()
    assert b"".join(served.streaming_content) == kept  # re-encoded without metadata (test_picture_privacy)
    assert Image.open(io.BytesIO(kept)).tobytes() == Image.open(io.BytesIO(content)).tobytes()  # same pixels


def test_a_new_topic_may_be_a_picture_alone(carla, printers):
    trust(carla)
    response = client_for(carla).post(
        f"/help/forum/en/{printers.slug}/new",
        {"kind": "problem", "title": "This light", "body": "", "image": picture("light.jpg", _jpeg(), "image/jpeg")},
    )
    assert response.status_code == 302
    topic = Topic.objects.get()
    item = PostImage.objects.get()
    assert item.content_type == "image/jpeg" and f'src="{item.url()}"' in topic.posts.get().body_html


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(out, "JPEG")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("logo.svg", SVG, 422, "is not a PNG, JPEG, GIF or WebP picture"),
        ("logo.png", SVG, 422, "is not a PNG, JPEG, GIF or WebP picture"),
        ("cat.png", HTML, 422, "is not a PNG, JPEG, GIF or WebP picture"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 422, "is not a PNG, JPEG, GIF or WebP picture"),
        ("empty.png", b"", 422, "The submitted file is empty"),  # Django's FileField says so
        ("huge.png", png() + b"\x00" * services.MAX_IMAGE_BYTES, 413, "is too large"),
        ("bomb.png", png((6000, 6000), mode="1"), 413, "has too many pixels"),
        ("bigger-bomb.png", png_header_only(100_000, 100_000), 413, "has too many pixels"),
    ],
)
def test_hostile_files_are_refused_with_a_clear_message(question, dora, name, content, status, message):
    trust(dora)
    response = reply(dora, question, content, name=name)
    assert response.status_code == status
    assert message in response.text and (name in response.text or not content)
    assert not PostImage.objects.exists() and not Post.objects.filter(opening=False).exists()


def test_pictures_from_elsewhere_lose_their_address(question, dora):
    trust(dora)
    services.reply_to_topic(dora, question, "![pixel](https://tracker.example/p.gif) <img src=//evil.example/x.png>")
    html = Post.objects.get(opening=False).body_html
    assert "tracker.example" not in html and "evil.example" not in html and "<img" in html


def test_a_held_or_hidden_posts_picture_is_served_to_its_readers_only(question, dora, carla, agent):
    response = reply(dora, question, png())  # dora is new: her reply is held
    assert response.status_code == 302
    item = PostImage.objects.get()
    for stranger in (Client(), client_for(carla)):
        assert stranger.get(item.url()).status_code == 404
    assert client_for(dora).get(item.url()).status_code == 200
    assert client_for(agent).get(item.url()).status_code == 200
    services.approve_post(agent, item.post)
    assert Client().get(item.url()).status_code == 200
    services.hide_post(agent, item.post)
    assert Client().get(item.url()).status_code == 404
    assert client_for(dora).get(item.url()).status_code == 404  # hidden: its author no longer sees it either
    assert client_for(agent).get(item.url()).status_code == 200
    assert Client().get("/help/forum/images/999999/x.png").status_code == 404


def test_erasure_deletes_the_pictures_and_the_export_holds_them(
    question, carla, customer, django_capture_on_commit_callbacks
):
    content = png()
    reply(carla, question, content, name="mine.png")
    item = PostImage.objects.get()
    archive = io.BytesIO()
    write_archive(customer, archive)
    with zipfile.ZipFile(archive) as opened:
        with item.file.open("rb") as stored:
            assert opened.read(f"forum/{item.pk}-mine.png") == stored.read()
        assert '"filename": "mine.png"' in opened.read("forum.json").decode()
    stored = item.file.path
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.forget_members([carla.pk])
    assert counts["forum_images"] == 1 and not PostImage.objects.exists()
    import os

    assert not os.path.exists(stored)
