"""Customer-facing pages speak the customer's language (SPEC section 9).

- The help centre: the language of the address (/help/<lang>/…), whatever the browser asks for.
- The web form and the portal's sign-in: the browser's Accept-Language (or the switcher's cookie).
- The portal, signed in: the switcher's choice, else the customer file's language, else the browser.
- The survey page: the customer's language, as the survey mail.

Each check compares with the catalog's own translation (so rewording a translation does not break
it) and with one hard-coded word, so an empty catalog cannot pass. Tests send no Accept-Language
unless they say so, and the suite runs in English (LANGUAGE_CODE "en").
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from sportello.kb.models import Category
from sportello.kb.services import ArticleText, create_article, create_category, publish_translation, save_translation
from sportello.webform.forms import new_stamp
from tests.conftest import client_for
from tests.csat.conftest import solve, survey_links
from tests.portal.conftest import link_from_outbox

pytestmark = pytest.mark.django_db

# One phrase per language, typed here rather than read from the catalog.
HELPFUL = {
    "it": "Questo articolo le è stato utile?",
    "de": "War dieser Artikel hilfreich?",
    "bg": "Полезна ли ви беше тази статия?",
}


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


def page(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_suite_runs_in_english(client):
    assert settings.LANGUAGE_CODE == "en"
    html = page(client.get("/support/new"))
    assert '<html lang="en">' in html and "Your name" in html


@pytest.mark.parametrize("language", ["it", "de", "bg"])
def test_every_language_has_its_own_words(language):
    translated = in_language(language, "Was this helpful?")
    assert translated == HELPFUL[language] != "Was this helpful?"


# --- The help centre: the address decides -----------------------------------------------------------------


@pytest.fixture
def articles(agent) -> dict[str, str]:
    """A public article in English, Italian, German and Bulgarian: the address of each."""
    category: Category = create_category(name="Printers", slug="printers")
    english = create_article(
        agent, category=category, text=ArticleText("en", "Paper jams", "Open the tray."), publish=True
    )
    paths = {"en": english.public_path()}
    for language, title in (("it", "Carta inceppata"), ("de", "Papierstau"), ("bg", "Заседнала хартия")):
        item = save_translation(agent, english.article, ArticleText(language, title, "…"))
        publish_translation(agent, item)
        paths[language] = item.public_path()
    return paths


def test_a_german_address_shows_german_chrome_to_an_italian_browser(articles):
    html = page(Client(headers={"accept-language": "it"}).get(articles["de"]))
    assert '<html lang="de">' in html
    for phrase in ("Was this helpful?", "Help centre", "Contact support", "My requests", "Other languages"):
        assert in_language("de", phrase) in html, phrase
    assert HELPFUL["de"] in html and "Was this helpful?" not in html


@pytest.mark.parametrize("language", ["it", "de", "bg"])
def test_help_centre_pages_speak_the_language_of_their_address(articles, language):
    home = page(Client().get(f"/help/{language}/"))
    assert in_language(language, "How can we help?") in home and "How can we help?" not in home
    search = page(Client().get(f"/help/{language}/search", {"q": "zzzzzz"}))
    assert in_language(language, "Nothing found. Try other words, or contact us.") in search
    category = page(Client().get(f"/help/{language}/printers/"))
    assert in_language(language, "Search the help centre…") in category
    assert HELPFUL[language] in page(Client().get(articles[language]))


def test_the_thanks_for_a_vote_speak_the_articles_language_to_a_browser_in_another(articles):
    from sportello.kb.models import Feedback

    client = Client(headers={"accept-language": "it"})
    html = page(client.get(articles["de"]))
    article_id = int(html.split("/help/articles/")[1].split("/feedback")[0])
    thanks = page(client.post(f"/help/articles/{article_id}/feedback", {"helpful": "yes", "lang": "de"}))
    assert in_language("de", "Thank you for your feedback.") in thanks and HELPFUL["de"] in thanks
    assert Feedback.objects.get().language == "de"
    # The form it sends back votes in German again, whatever the browser says.
    again = page(client.post(f"/help/articles/{article_id}/feedback", {"helpful": "no", "lang": "de"}))
    assert 'name="lang" value="de"' in again


# --- The web form: the browser decides ---------------------------------------------------------------------


def test_an_italian_browser_gets_the_italian_web_form(client):
    html = page(client.get("/support/new", headers={"accept-language": "it-IT,it;q=0.9,en;q=0.5"}))
    assert '<html lang="it">' in html
    for phrase in ("Your name", "Email address", "Subject", "Message", "How can we help?", "Send"):
        assert in_language("it", phrase) in html, phrase
    assert "Il suo nome" in html and "Your name" not in html


def test_the_web_form_errors_speak_the_browsers_language(client):
    data = {"name": "", "email": "x", "started": new_stamp()}
    response = client.post("/support/new", data, headers={"accept-language": "de"})
    html = response.content.decode()
    assert response.status_code == 400 and "Dieses Feld ist zwingend erforderlich." in html  # Django's own German


def test_the_language_switcher_sets_the_language_and_goes_back(client):
    html = page(client.get("/support/new"))
    assert 'action="/i18n/setlang/"' in html and 'name="language" value="bg"' in html
    response = client.post("/i18n/setlang/", {"language": "bg", "next": "/support/new"})
    assert response.status_code == 302 and response["Location"] == "/support/new"
    html = page(client.get("/support/new", headers={"accept-language": "de"}))  # the choice beats the browser
    assert in_language("bg", "Your name") in html and "Вашето име" in html


def test_the_switcher_does_not_send_people_to_other_sites(client):
    response = client.post("/i18n/setlang/", {"language": "it", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_the_embedded_form_has_no_switcher(client):
    # In another site's iframe the CSRF cookie is withheld, so a switcher there could not work.
    html = page(client.get("/support/embed", headers={"accept-language": "it"}))
    assert "setlang" not in html and in_language("it", "Your name") in html


# --- The portal ------------------------------------------------------------------------------------------


def test_an_italian_browser_gets_the_italian_portal_sign_in(client):
    html = page(client.get("/portal/sign-in", headers={"accept-language": "it"}))
    for phrase in ("Sign in to your requests", "Get a sign-in link by email", "Send me a link", "Password"):
        assert in_language("it", phrase) in html, phrase
    assert "Accedi" in html and "Sign in to your requests" not in html


def test_a_signed_in_customer_reads_the_portal_in_their_files_language(customer, customer_user, ticket):
    customer.language = "de"
    customer.save(update_fields=["language"])
    client = client_for(customer_user)
    html = page(client.get("/portal/", headers={"accept-language": "it"}))
    assert '<html lang="de">' in html and in_language("de", "My requests") in html and "Meine Anfragen" in html
    assert 'action="/help/de/search"' in html  # the help-centre search box searches German articles
    assert in_language("de", "New") in html  # the built-in status name, translated
    html = page(client.get(f"/portal/tickets/{ticket.number}/", headers={"accept-language": "it"}))
    assert in_language("de", "Send reply") in html
    # The switcher's choice comes first.
    client.post("/i18n/setlang/", {"language": "bg", "next": "/portal/"})
    assert in_language("bg", "My requests") in page(client.get("/portal/"))


def test_a_customer_file_in_a_language_the_site_lacks_falls_back_to_the_browser(customer, customer_user):
    customer.language = "fr"
    customer.save(update_fields=["language"])
    html = page(client_for(customer_user).get("/portal/", headers={"accept-language": "it"}))
    assert '<html lang="it">' in html and in_language("it", "My requests") in html


def test_the_sign_in_mail_speaks_the_customers_language(client, customer, django_capture_on_commit_callbacks):
    customer.language = "it"
    customer.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"})
    message = mail.outbox[-1]
    assert message.subject == in_language("it", "Your sign-in link") == "Il suo link di accesso"
    assert "Buongiorno Carla Rossi," in message.body
    link = page(client.get(urlparse(link_from_outbox()).path, headers={"accept-language": "it"}))
    assert in_language("it", "Continue to my requests") in link


# --- The survey page: the customer's language ---------------------------------------------------------------


def test_a_bulgarian_customer_gets_a_bulgarian_survey_page(ticket, agent, django_capture_on_commit_callbacks):
    ticket.customer.language = "bg"
    ticket.customer.save(update_fields=["language"])
    solve(ticket, agent, django_capture_on_commit_callbacks)
    html = page(Client(headers={"accept-language": "de"}).get(survey_links()["good"]))
    assert '<html lang="bg">' in html
    for phrase in ("How did we do?", "Good, I'm satisfied", "Comment (optional)", "Send my answer"):
        assert in_language("bg", phrase) in html, phrase
    assert "Как се справихме?" in html and "How did we do?" not in html


def test_a_survey_page_for_a_language_the_site_lacks_uses_the_browsers(
    ticket, agent, django_capture_on_commit_callbacks
):
    ticket.customer.language = "fr"
    ticket.customer.save(update_fields=["language"])
    ticket.language = "fr"
    ticket.save(update_fields=["language"])
    solve(ticket, agent, django_capture_on_commit_callbacks)
    html = page(Client(headers={"accept-language": "it"}).get(survey_links()["bad"]))
    assert '<html lang="it">' in html and in_language("it", "How did we do?") in html
