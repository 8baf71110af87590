"""/settings/email-templates/: list by mail and language, edit with placeholders, preview, syntax
checks, reset to the built-in wording."""

from __future__ import annotations

import pytest

from sportello.mail.models import EmailTemplate
from sportello.mail.templating import BUILTIN, render_mail
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/email-templates/"


def test_the_list_shows_every_builtin_mail_in_every_language(admin):
    EmailTemplate.objects.create(key="reminder", language="it", subject="Promemoria", body="Ciao")
    html = client_for(admin).get(PAGE).content.decode()
    for key in [*BUILTIN, "reminder"]:
        assert f'<tr data-template="{key}">' in html
    assert f'href="{PAGE}acknowledgement/de/"' in html
    assert "Your wording" in html and "Built in" in html


def test_the_edit_page_starts_from_the_builtin_wording_with_placeholders_and_a_preview(admin):
    html = client_for(admin).get(f"{PAGE}acknowledgement/it/").content.decode()
    assert "Abbiamo ricevuto la sua richiesta" in html
    assert "<code>{{ ticket.number }}</code>" in html and "<code>{{ kb.suggestions }}</code>" in html
    assert "<code>{{ reply.text }}</code>" not in html  # the reply's own placeholder only there
    assert "[#10452] Abbiamo ricevuto la sua richiesta: The printer in room 4 is on fire" in html


def test_save_then_the_real_mail_uses_it_and_reset_brings_back_the_builtin(admin):
    client = client_for(admin)
    data = {
        "subject": "Got it: {{ ticket.subject }}",
        "body": "Hi {{ customer.first_name }}, #{{ ticket.number }}.",
        "active": "on",
    }
    assert client.post(f"{PAGE}acknowledgement/en/", data).status_code == 302
    row = EmailTemplate.objects.get(key="acknowledgement", language="en")
    assert row.subject == "Got it: {{ ticket.subject }}" and row.active
    mail = render_mail(
        "acknowledgement",
        "en",
        {"ticket.subject": lambda: "Fire", "customer.first_name": lambda: "Ann", "ticket.number": lambda: "7"},
    )
    assert mail is not None and mail.subject == "Got it: Fire" and mail.text == "Hi Ann, #7.\n"
    assert client.post(f"{PAGE}acknowledgement/en/reset").status_code == 302
    assert not EmailTemplate.objects.exists()
    mail = render_mail("acknowledgement", "en", {"ticket.subject": lambda: "Fire"})
    assert mail is not None and mail.subject.startswith("[#{{ ticket.number }}] We received your request: Fire")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hello {{ tikcet.number }}", "“{{ tikcet.number }}” is not a placeholder of this mail"),
        ("Hello {{ ticket.number", "“{{” is not a placeholder"),
        ("{% if x %}Hi{% endif %}", "template tags are not supported"),
        ("Hi {{ ticket number }}", "“{{ ticket number }}” is not a placeholder"),
        ("Hi {{ reply.text }}", "“{{ reply.text }}” is not a placeholder of this mail"),
    ],
)
def test_broken_syntax_is_refused_with_a_clear_message_not_a_crash(admin, body, message):
    client = client_for(admin)
    for action in ("save", "preview"):
        response = client.post(
            f"{PAGE}acknowledgement/en/", {"subject": "Hi", "body": body, "active": "on", "action": action}
        )
        assert response.status_code == 422
        assert message in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_empty_subject_and_unknown_language_are_refused(admin):
    client = client_for(admin)
    response = client.post(f"{PAGE}acknowledgement/en/", {"subject": "", "body": "Hi"})
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    assert client.get(f"{PAGE}acknowledgement/xx/").status_code == 404


def test_preview_escapes_hostile_html_as_the_real_mail_does(admin):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"> {{ customer.name }}'
    response = client_for(admin).post(
        f"{PAGE}acknowledgement/en/", {"subject": "<b>Hi</b>", "body": hostile, "action": "preview"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "Carla Rossi" in html
    assert "[#10452] &lt;b&gt;Hi&lt;/b&gt;" in html
    assert not EmailTemplate.objects.exists()  # a preview saves nothing


def test_a_new_mail_for_triggers_by_name(admin):
    client = client_for(admin)
    response = client.post(PAGE, {"key": "reminder", "language": "de"})
    assert response.status_code == 302 and response["Location"] == f"{PAGE}reminder/de/"
    data = {"subject": "Erinnerung", "body": "Hallo {{ customer.name }}", "active": "on"}
    assert client.post(f"{PAGE}reminder/de/", data).status_code == 302
    assert client.post(PAGE, {"key": "not a name", "language": "de"}).status_code == 422
    assert client.post(f"{PAGE}reminder/de/reset").status_code == 302
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", ""), ("get", "reply/en/"), ("post", "reply/en/"), ("post", "reply/en/reset")],
)
def test_strangers_customers_and_agents_are_refused(client, agent, customer_user, method, suffix):
    EmailTemplate.objects.create(key="reply", language="en", subject="S", body="{{ reply.text }}")
    url = PAGE + suffix
    data = {"subject": "X", "body": "Y", "key": "x", "language": "en"}
    response = getattr(client, method)(url, data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert getattr(client_for(customer_user), method)(url, data).status_code in (302, 403)
    assert getattr(client_for(agent), method)(url, data).status_code == 403
    assert list(EmailTemplate.objects.values_list("subject", "body")) == [("S", "{{ reply.text }}")]
