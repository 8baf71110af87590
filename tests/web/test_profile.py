"""The agent's profile: the language of every agent page and the time zone of every date on them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import translation

from sportello.accounts.models import ApiToken, User
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

CREATED = dt.datetime(2026, 12, 2, 3, 17, tzinfo=dt.UTC)


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def token_created_at_3_17_utc(user: User) -> None:
    token, _key = ApiToken.issue(user, "reporting script")
    ApiToken.objects.filter(pk=token.pk).update(created_at=CREATED)


def test_strangers_are_refused(customer_user):
    anonymous = Client().get("/accounts/profile/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client_for(customer_user).get("/accounts/profile/").status_code == 403
    refused = client_for(customer_user).post("/accounts/profile/", {"language": "de", "time_zone": "UTC"})
    assert refused.status_code == 403
    assert User.objects.get(pk=customer_user.pk).language == ""


def test_the_chosen_language_applies_to_the_next_page(agent):
    alice = client_for(agent)
    alice.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"
    assert 'lang="it"' in page_text(alice.get("/"))  # unset: the browser decides

    saved = alice.post("/accounts/profile/", {"language": "de", "time_zone": "Europe/Berlin"})
    assert saved.status_code == 302 and saved["Location"] == "/accounts/profile/"
    profile = page_text(alice.get(saved["Location"]))
    assert in_language("de", "Your profile was saved.") in profile

    inbox = page_text(alice.get("/"))
    assert 'lang="de"' in inbox
    assert f">{in_language('de', 'Inbox')}</a>" in inbox and in_language("de", "Inbox") != "Inbox"
    agent.refresh_from_db()
    assert (agent.language, agent.time_zone) == ("de", "Europe/Berlin")


def test_going_back_to_the_browser_language(agent):
    agent.language = "bg"
    agent.save()
    alice = client_for(agent)
    alice.defaults["HTTP_ACCEPT_LANGUAGE"] = "it"
    assert 'lang="bg"' in page_text(alice.get("/"))
    alice.post("/accounts/profile/", {"language": "", "time_zone": "UTC"})
    assert 'lang="it"' in page_text(alice.get("/"))


def test_the_time_zone_changes_the_time_shown(agent):
    token_created_at_3_17_utc(agent)
    alice = client_for(agent)
    assert "2 Dec 2026, 03:17" in page_text(alice.get("/accounts/tokens/"))

    alice.post("/accounts/profile/", {"language": "en", "time_zone": "America/New_York"})
    page = page_text(alice.get("/accounts/tokens/"))
    assert "1 Dec 2026, 22:17" in page and "03:17" not in page

    alice.post("/accounts/profile/", {"language": "bg", "time_zone": "Europe/Sofia"})
    page = page_text(alice.get("/accounts/tokens/"))
    month = in_language("bg", "dec").title()  # the abbreviated month, in Bulgarian: Дек
    assert f"2 {month} 2026, 05:17" in page
    assert "12/02/2026" not in page and "a.m." not in page


def test_one_format_for_short_and_long_dates(agent, settings):
    """Templates ask for DATETIME_FORMAT or SHORT_DATETIME_FORMAT: both read the same in every language."""
    from django.utils import formats

    for language in ("en", "it", "de", "bg"):
        with translation.override(language):
            assert formats.date_format(CREATED, "DATETIME_FORMAT") == formats.date_format(
                CREATED, "SHORT_DATETIME_FORMAT"
            ), language
            assert formats.date_format(CREATED, "DATETIME_FORMAT").endswith("03:17"), language


@pytest.mark.parametrize(
    ("field", "value"), [("language", "fr"), ("time_zone", "Mars/Olympus_Mons"), ("time_zone", "")]
)
def test_unknown_choices_are_refused_with_the_form(agent, field, value):
    data = {"language": "it", "time_zone": "Europe/Rome", field: value}
    response = client_for(agent).post("/accounts/profile/", data)
    assert response.status_code == 422
    assert 'class="errorlist' in page_text(response)
    agent.refresh_from_db()
    assert (agent.language, agent.time_zone) == ("", "UTC")


def test_the_profile_page_labels_its_fields(agent):
    page = page_text(client_for(agent).get("/accounts/profile/"))
    assert '<label for="id_language">' in page and '<label for="id_time_zone">' in page
    assert 'aria-describedby="id_language_helptext"' in page
    assert '<option value="Europe/Sofia">' in page


def test_the_help_centre_keeps_the_language_of_its_address_for_an_agent(agent):
    """The profile's language is for the agent pages; /help/de/ stays German for everyone."""
    agent.language = "it"
    agent.save()
    page = page_text(client_for(agent).get("/help/de/"))
    assert in_language("de", "How can we help?") in page
