"""Images and attachments of articles: uploaded in the editor, kept in storage, served safely."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sportello.kb.models import ArticleFile
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def upload(client: Client, article_id: int, name: str, content: bytes, content_type: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/help/agent/{article_id}/files",
        {"file": SimpleUploadedFile(name, content, content_type=content_type), "lang": "en"},
    )


def test_an_image_is_uploaded_and_shown_inline(invoice_article, agent):
    response = upload(client_for(agent), invoice_article.article_id, "screen shot.png", PNG, "image/png")
    assert response.status_code == 302 and response["Location"].endswith(
        f"/help/agent/{invoice_article.article_id}/en/#files"
    )
    item = ArticleFile.objects.get()
    assert item.is_image and item.content_type == "image/png" and item.size == len(PNG)
    assert item.file.name.startswith(f"kb/{invoice_article.article_id}/")
    editor = client_for(agent).get(f"/help/agent/{invoice_article.article_id}/en/").content.decode()
    assert f"![screen shot.png]({item.url()})" in editor
    served = Client().get(item.url())
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert not served["Content-Disposition"].startswith("attachment")
    assert b"".join(served.streaming_content) == PNG


def test_other_files_are_downloads_never_rendered(invoice_article, agent):
    upload(client_for(agent), invoice_article.article_id, "logo.svg", SVG, "image/svg+xml")
    upload(client_for(agent), invoice_article.article_id, "fake.png", b"<html><script>x</script>", "image/png")
    upload(client_for(agent), invoice_article.article_id, "guide.pdf", b"%PDF-1.4 guide", "application/pdf")
    for item in ArticleFile.objects.all():
        assert not item.is_image
        served = Client().get(item.url())
        assert served.status_code == 200
        assert served["Content-Disposition"].startswith("attachment")
        assert served["Content-Type"] == "application/octet-stream"
        assert served["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served["Content-Security-Policy"]


def test_an_oversized_upload_is_refused_with_a_clear_error(invoice_article, agent, settings):
    settings.KB_MAX_FILE_BYTES = 1024
    response = upload(client_for(agent), invoice_article.article_id, "huge.png", PNG + b"\x00" * 2048, "image/png")
    assert response.status_code == 413
    assert "“huge.png” is too large (2.1\xa0KB); the limit is 1.0\xa0KB per file." in response.content.decode()
    assert not ArticleFile.objects.exists()


def test_files_of_internal_or_draft_articles_are_for_agents_only(internal_article, draft_article, agent):
    for article in (internal_article, draft_article):
        upload(client_for(agent), article.article_id, "a.png", PNG, "image/png")
    for item in ArticleFile.objects.all():
        assert Client().get(item.url()).status_code == 404
        assert client_for(agent).get(item.url()).status_code == 200
    assert Client().get("/help/files/999999/x.png").status_code == 404


def test_only_authors_upload_and_remove(invoice_article, agent, light_agent, customer_user):
    for user in (light_agent, customer_user):
        assert upload(client_for(user), invoice_article.article_id, "a.png", PNG, "image/png").status_code == 403
    assert Client().post(f"/help/agent/{invoice_article.article_id}/files").status_code == 302  # to sign in
    assert not ArticleFile.objects.exists()
    upload(client_for(agent), invoice_article.article_id, "a.png", PNG, "image/png")
    item = ArticleFile.objects.get()
    assert client_for(light_agent).post(f"/help/agent/files/{item.pk}/remove").status_code == 403
    response = client_for(agent).post(f"/help/agent/files/{item.pk}/remove", {"lang": "xx"})
    assert response.status_code == 302 and response["Location"].endswith("/en/#files")
    assert not ArticleFile.objects.exists()


def test_an_uploaded_image_shows_in_the_published_article(invoice_article, agent):
    from sportello.kb.services import ArticleText, save_translation

    upload(client_for(agent), invoice_article.article_id, "steps.png", PNG, "image/png")
    item = ArticleFile.objects.get()
    save_translation(
        agent, invoice_article.article, ArticleText("en", invoice_article.title, f"![steps]({item.url()})")
    )
    page = Client().get(invoice_article.public_path()).content.decode()
    assert f'<img alt="steps" src="{item.url()}"' in page or f'src="{item.url()}"' in page
