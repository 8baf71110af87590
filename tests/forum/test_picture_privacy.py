"""A post's picture keeps no metadata (a phone's GPS position above all), its author replaces or
removes it when editing (the edit form and PATCH /forum/posts/{id}), and a post that fails to
save leaves no file behind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from sportello.forum import services
from sportello.forum.models import Post, PostImage, PostRevision, Topic
from tests.api.conftest import API, api_as
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db

GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def photo(kind: str = "JPEG", size: tuple[int, int] = (40, 20), orientation: int = 1, colour: str = "red") -> bytes:
    """A picture as a phone writes it: EXIF with the camera's maker, an orientation and the GPS
    position where it was taken (Piazza del Duomo, Milan), and for a JPEG a comment."""
    exif = Image.Exif()
    exif[MAKE] = "SpyPhone Inc"
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (45.0, 27.0, 50.0), 3: "E", 4: (9.0, 11.0, 25.0)}
    out = io.BytesIO()
    extra = {"comment": b"taken at home"} if kind == "JPEG" else {}
    Image.new("RGB", size, colour).save(out, kind, exif=exif, **extra)
    return out.getvalue()


def stored_bytes(item: PostImage) -> bytes:
    with item.file.open("rb") as opened:
        return opened.read()


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("kind", "name", "content_type"), [
    ("JPEG", "holiday.jpg", "image/jpeg"), ("PNG", "screen.png", "image/png"), ("WEBP", "shot.webp", "image/webp"),
])  # fmt: skip
def test_a_picture_is_stored_without_its_gps_position_or_other_metadata(question, dora, kind, name, content_type):
    trust(dora)
    upload = photo(kind)
    with Image.open(io.BytesIO(upload)) as original:
        assert original.getexif().get_ifd(GPS_IFD)  # the fixture does carry a position
    response = client_for(dora).post(
        f"/help/forum/topics/{question.pk}/reply",
        {"body": "Look.", "lang": "en", "image": SimpleUploadedFile(name, upload, content_type=content_type)},
    )
    assert response.status_code == 302
    item = PostImage.objects.get()
    kept = stored_bytes(item)
    with Image.open(io.BytesIO(kept)) as stored:
        assert stored.format == kind and stored.size == (40, 20)
        assert dict(stored.getexif()) == {} and not stored.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "xmp", "comment"} & set(stored.info)
        assert stored.convert("RGB").getpixel((20, 10))[0] > 200  # still the red picture
    assert b"SpyPhone" not in kept and b"taken at home" not in kept
    assert item.size == len(kept)
    served = Client().get(item.url())
    assert b"".join(served.streaming_content) == kept  # what readers download is the clean copy


def test_a_turned_phone_photo_stays_upright_without_its_orientation_tag(question, dora):
    trust(dora)
    upload = SimpleUploadedFile("portrait.jpg", photo(orientation=6), content_type="image/jpeg")
    services.reply_to_topic(dora, question, "Portrait", image=upload)
    item = PostImage.objects.get()
    with Image.open(io.BytesIO(stored_bytes(item))) as stored:
        assert stored.size == (20, 40) and (item.width, item.height) == (20, 40)
        assert ORIENTATION not in stored.getexif()


# --- Replacing and removing a picture when editing ---------------------------------------------------------


def edit_url(post: Post) -> str:
    return f"/help/forum/posts/{post.pk}/edit"


@pytest.fixture
def pictured(question, carla, media) -> Post:  # type: ignore[no-untyped-def]
    """Carla's opening post with a picture under its text."""
    opening = question.posts.get()
    services.edit_post(carla, opening, opening.body, image=SimpleUploadedFile("led.png", photo("PNG")))
    opening.refresh_from_db()
    PostRevision.objects.all().delete()
    return opening


def test_the_edit_form_shows_the_text_and_the_picture_apart(pictured, carla):
    page = client_for(carla).get(edit_url(pictured)).text
    item = PostImage.objects.get()
    assert 'enctype="multipart/form-data"' in page and 'name="remove_image"' in page and 'name="image"' in page
    assert f'src="{item.url()}"' in page
    textarea = page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert "It blinks **red**." in textarea and "/help/forum/images/" not in textarea


def test_an_author_replaces_her_picture_and_the_old_file_goes(
    pictured, carla, media, django_capture_on_commit_callbacks
):
    old = PostImage.objects.get()
    old_path = Path(old.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(carla).post(
            edit_url(pictured),
            {"body": "It blinks **red**, see the new photo.", "lang": "en",
             "image": SimpleUploadedFile("new.jpg", photo(colour="blue"), content_type="image/jpeg")},
        )  # fmt: skip
    assert response.status_code == 302
    new = PostImage.objects.get()
    assert new.pk != old.pk and new.content_type == "image/jpeg" and new.uploaded_by == carla
    pictured.refresh_from_db()
    assert f'src="{new.url()}"' in pictured.body_html and old.url() not in pictured.body
    assert pictured.body.count("/help/forum/images/") == 1
    assert not old_path.exists() and files_in(media) == [Path(new.file.path)]
    assert Client().get(old.url()).status_code == 404
    assert PostRevision.objects.get().body.endswith(f"({old.url()})")  # the earlier text, as it was


def test_an_author_removes_her_picture(pictured, carla, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(carla).post(
            edit_url(pictured), {"body": "It blinks **red**.", "remove_image": "on", "lang": "en"}
        )
    assert response.status_code == 302
    pictured.refresh_from_db()
    assert not PostImage.objects.exists() and files_in(media) == []
    assert "<img" not in pictured.body_html and pictured.body == "It blinks **red**."


def test_an_edit_of_the_text_alone_keeps_the_picture(pictured, carla):
    item = PostImage.objects.get()
    response = client_for(carla).post(edit_url(pictured), {"body": "It blinks **green**.", "lang": "en"})
    assert response.status_code == 302
    pictured.refresh_from_db()
    assert pictured.body == f"It blinks **green**.\n\n![led]({item.url()})"
    assert PostImage.objects.get() == item


def test_removing_the_picture_of_a_post_with_no_text_is_refused(pictured, carla):
    response = client_for(carla).post(edit_url(pictured), {"body": "", "remove_image": "on", "lang": "en"})
    assert response.status_code == 422 and "Write something first." in response.text
    assert PostImage.objects.exists()


def test_others_cannot_replace_a_members_picture(pictured, dora):
    upload = SimpleUploadedFile("mine.png", photo("PNG"), content_type="image/png")
    response = client_for(dora).post(edit_url(pictured), {"body": "x", "image": upload, "lang": "en"})
    assert response.status_code == 403 and PostImage.objects.get().post == pictured


def test_agents_replace_and_remove_a_picture_in_the_api(
    pictured, agent, light_agent, django_capture_on_commit_callbacks
):
    old = PostImage.objects.get()
    api = api_as(agent)
    body = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("fixed.png", photo("PNG"), "image/png")})
    with django_capture_on_commit_callbacks(execute=True):
        replaced = api.client.patch(f"{API}/forum/posts/{pictured.pk}", body, content_type=MULTIPART_CONTENT)
    assert replaced.status_code == 200, replaced.content
    new = PostImage.objects.get()
    assert new.pk != old.pk and f'src="{new.url()}"' in replaced.json()["body_html"]
    assert "It blinks **red**." in replaced.json()["body"] and not Path(old.file.path).exists()
    with Image.open(new.file.path) as stored:
        assert not stored.getexif().get_ifd(GPS_IFD)

    bad = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("x.png", b"<svg onload=alert(1)>", "image/png")})
    refused = api.client.patch(f"{API}/forum/posts/{pictured.pk}", bad, content_type=MULTIPART_CONTENT)
    assert refused.status_code == 422 and "is not a PNG, JPEG, GIF or WebP picture" in refused.text

    with django_capture_on_commit_callbacks(execute=True):
        removed = api.patch(f"/forum/posts/{pictured.pk}", {"remove_image": True})
    assert removed.status_code == 200 and "<img" not in removed.json()["body_html"]
    assert removed.json()["body"] == "It blinks **red**." and not PostImage.objects.exists()
    assert api.patch(f"/forum/posts/{pictured.pk}", {"remove_image": 1}).status_code == 422
    light = api_as(light_agent).client.patch(f"{API}/forum/posts/{pictured.pk}", body, content_type=MULTIPART_CONTENT)
    assert light.status_code == 403


# --- No file outlives a post that failed to save -------------------------------------------------------------


def failing_index(topic_id: int) -> None:
    raise RuntimeError("the search index is down")


def test_a_reply_that_rolls_back_leaves_no_file(question, dora, media, monkeypatch):
    trust(dora)  # published at once, so the topic is re-indexed inside the reply's transaction
    monkeypatch.setattr(services, "index_topic", failing_index)
    upload = SimpleUploadedFile("screen.png", photo("PNG"), content_type="image/png")
    with pytest.raises(RuntimeError):
        services.reply_to_topic(dora, question, "See.", image=upload)
    assert not Post.objects.filter(opening=False).exists() and not PostImage.objects.exists()
    assert files_in(media) == []


def test_a_new_topic_that_rolls_back_leaves_no_file(carla, printers, media, monkeypatch):
    monkeypatch.setattr(services, "index_topic", failing_index)
    upload = SimpleUploadedFile("light.jpg", photo(), content_type="image/jpeg")
    with pytest.raises(RuntimeError):
        services.start_topic(carla, printers, services.TopicText("problem", "Light", ""), image=upload)
    assert not Topic.objects.exists() and files_in(media) == []


def test_a_replacement_that_rolls_back_keeps_the_old_picture_only(pictured, carla, media, monkeypatch):
    old = PostImage.objects.get()
    Post.objects.filter(pk=pictured.pk).update(state="published")
    monkeypatch.setattr(services, "index_topic", failing_index)
    upload = SimpleUploadedFile("new.png", photo("PNG", colour="blue"), content_type="image/png")
    with pytest.raises(RuntimeError):
        services.edit_post(carla, Post.objects.get(pk=pictured.pk), "New text", image=upload)
    assert list(PostImage.objects.all()) == [old] and files_in(media) == [Path(old.file.path)]
