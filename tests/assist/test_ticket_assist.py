"""The assistant on the ticket page, against a local OpenAI-compatible server (openai_server.py):
what is sent for each action, who is refused, and what an agent reads when the server fails."""

from __future__ import annotations

import json

import pytest

from sportello.assist.models import AssistSettings, AssistUse, Outcome
from sportello.kb.models import Visibility
from sportello.kb.services import ArticleText, create_article, create_category
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note
from tests.assist.openai_server import ModelServer
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def run(user, ticket: Ticket, action: str, **data: str):  # type: ignore[no-untyped-def]
    return client_for(user).post(f"/assist/tickets/{ticket.number}/run", {"action": action, **data})


def sent_text(server: ModelServer) -> str:
    """Everything the last chat completion carried, system prompt included."""
    return "\n".join(m["content"] for m in server.chats[-1])


@pytest.fixture
def articles(admin):  # type: ignore[no-untyped-def]
    category = create_category(name="Hardware", slug="hardware")
    public = create_article(
        admin,
        category=category,
        text=ArticleText("en", "Printer fire safety", "Unplug the printer and use a CO2 extinguisher."),
        publish=True,
    )
    internal = create_article(
        admin,
        category=category,
        text=ArticleText("en", "Printer fire escalation", "Call facilities on extension 4242."),
        visibility=Visibility.INTERNAL,
        publish=True,
    )
    return public, internal


# --- Off, and refused --------------------------------------------------------------------------------


def test_off_by_default_shows_no_panel_and_sends_nothing(agent, ticket, model_server):
    assert not AssistSettings.objects.exists()
    panel = client_for(agent).get(f"/assist/tickets/{ticket.number}/")
    assert panel.status_code == 200 and panel.content == b""
    response = run(agent, ticket, "summarise")
    assert response.status_code == 409
    assert "Reply assistance is off" in response.content.decode()
    assert model_server.requests == [] and not AssistUse.objects.exists()


def test_turned_off_again_sends_nothing(agent, ticket, assist_on, model_server):
    AssistSettings.objects.filter(pk=1).update(enabled=False)
    assert run(agent, ticket, "draft").status_code == 409
    assert model_server.requests == []


def test_the_panel_offers_the_actions_when_on(agent, ticket, assist_on):
    page = client_for(agent).get(f"/assist/tickets/{ticket.number}/").content.decode()
    assert 'id="assist-panel"' in page
    for label in ("Draft a reply", "Summarise", "Improve my text", "Translate the customer"):
        assert label in page


def test_the_ticket_page_loads_the_panel_for_agents_who_reply(agent, light_agent, ticket):
    assert f"/assist/tickets/{ticket.number}/" in client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    light = client_for(light_agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert "/assist/tickets/" not in light


@pytest.mark.parametrize("who", ["anonymous", "stranger", "customer", "light_agent"])
def test_strangers_customers_and_light_agents_are_refused(request, who, ticket, assist_on, model_server):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    if who == "customer":
        user = user.user
    client = client_for(user)
    panel = client.get(f"/assist/tickets/{ticket.number}/")
    answer = client.post(f"/assist/tickets/{ticket.number}/run", {"action": "draft"})
    if user is None:
        assert panel.status_code == 302 and "/accounts/login/" in panel["Location"]
        assert answer.status_code == 302
    else:
        assert panel.status_code == 403 and answer.status_code == 403
    assert model_server.requests == [] and not AssistUse.objects.exists()


def test_an_agent_restricted_to_other_groups_does_not_find_the_ticket(
    restricted_agent, ticket, assist_on, model_server
):
    assert run(restricted_agent, ticket, "summarise").status_code == 404
    assert model_server.requests == []


def test_an_unknown_action_is_refused_with_a_sentence(agent, ticket, assist_on, model_server):
    response = run(agent, ticket, "write_a_poem")
    assert response.status_code == 422 and "Unknown assistance action" in response.content.decode()
    assert model_server.requests == []


@pytest.mark.parametrize("action", ["tone", "translate_out"])
def test_actions_on_the_agents_text_need_some_text(agent, ticket, assist_on, model_server, action):
    response = run(agent, ticket, action, body="   ")
    assert response.status_code == 422 and "Type something in the reply first" in response.content.decode()
    assert model_server.requests == []


# --- What is sent ------------------------------------------------------------------------------------


def test_a_draft_is_grounded_in_the_public_articles_and_the_thread(agent, ticket, assist_on, model_server, articles):
    public, _internal = articles
    model_server.reply = lambda messages: "Please unplug it. Printer fire safety: http://x/help/en/hardware/..."
    response = run(agent, ticket, "draft")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please unplug it." in page and 'id="assist-text"' in page
    assert "Printer fire safety" in page  # the article cited, with its link, under the answer

    sent = sent_text(model_server)
    assert "The printer in room 4 is on fire." in sent  # the customer's message
    assert "Printer on fire" in sent  # the subject
    assert "Printer fire safety" in sent and "CO2 extinguisher" in sent
    assert f"/help/en/hardware/{public.slug}" in sent  # its public link, to cite
    assert "extension 4242" not in sent and "Printer fire escalation" not in sent  # internal: never
    assert "carla@example.com" not in sent  # no addresses
    assert "cite it" in model_server.chats[-1][0]["content"]

    use = AssistUse.objects.get()
    assert (use.user, use.ticket, use.action, use.model, use.outcome) == (
        agent,
        ticket,
        "draft",
        "llama3.1:8b",
        Outcome.ANSWERED,
    )
    assert use.messages == model_server.chats[-1]
    assert use.prompt_chars == sum(len(m["content"]) for m in use.messages)
    assert [a["title"] for a in use.articles] == ["Printer fire safety"]
    assert use.prompt_tokens is not None and use.accepted is None and not use.with_notes


def test_a_draft_finds_its_article_by_meaning_and_cites_it(agent, admin, assist_on, model_server):
    """Drafts take their articles where the web form, the portal and the chat take theirs
    (kb.search.suggest_articles): a question in other words than the article's finds it."""
    from sportello.kb.models import ArticleTranslation
    from sportello.kb.search import search_articles
    from sportello.semantic import services as semantic
    from tests.web.conftest import new_ticket

    category = create_category(name="Account", slug="account")
    twofactor = create_article(
        admin,
        category=category,
        text=ArticleText(
            "en",
            "Lost access to your two-factor authentication device",
            "If the device with your authenticator app is lost, sign in with one of the recovery keys you saved.",
        ),
        publish=True,
    )
    semantic.embed_translations(list(ArticleTranslation.objects.values_list("pk", flat=True)))
    question = "Somebody stole my mobile; now login wants a six-digit code I cannot receive"
    ticket = new_ticket("Stolen mobile", question)
    Ticket.objects.filter(pk=ticket.pk).update(language="en")
    terms = f"Stolen mobile {question}"
    assert search_articles(terms, "en", match_any=True) == []  # not one word in common: full text finds nothing

    model_server.reply = lambda messages: "Sign in with a recovery key: see the article."
    page = run(agent, ticket, "draft").content.decode()

    assert "Lost access to your two-factor authentication device" in sent_text(model_server)
    assert f"/help/en/account/{twofactor.slug}" in sent_text(model_server)
    use = AssistUse.objects.get()
    assert [a["title"] for a in use.articles] == ["Lost access to your two-factor authentication device"]
    assert f"/help/en/account/{twofactor.slug}" in page  # cited under the answer, with its link


def test_internal_notes_go_only_when_the_agent_asks(agent, ticket, assist_on, model_server):
    add_note(ticket, agent, body_text="The customer owes us 300 EUR.")
    run(agent, ticket, "summarise")
    assert "300 EUR" not in sent_text(model_server)
    run(agent, ticket, "summarise", with_notes="on")
    assert "300 EUR" in sent_text(model_server)
    assert "never quote it to the customer" in sent_text(model_server)
    assert [u.with_notes for u in AssistUse.objects.order_by("id")] == [False, True]


def test_a_summary_carries_the_thread_in_the_agents_language(agent, ticket, assist_on, model_server):
    agent.language = "it"
    agent.save()
    model_server.reply = lambda messages: "- La stampante è in fiamme."
    response = run(agent, ticket, "summarise")
    assert "La stampante" in response.content.decode()
    assert "Italian" in model_server.chats[-1][0]["content"]
    assert "The printer in room 4 is on fire." in sent_text(model_server)


def test_tone_sends_only_what_the_agent_typed(agent, ticket, assist_on, model_server):
    model_server.reply = lambda messages: "Thank you for your patience: we are on it."
    response = run(agent, ticket, "tone", body="we r on it, chill")
    assert "Thank you for your patience" in response.content.decode()
    assert model_server.chats[-1][1]["content"] == "we r on it, chill"
    assert "room 4" not in sent_text(model_server)


def test_translation_to_and_from_the_customers_language(agent, ticket, assist_on, model_server):
    Ticket.objects.filter(pk=ticket.pk).update(language="de")
    run(agent, ticket, "translate_out", body="We will send a technician.")
    assert "German" in model_server.chats[-1][0]["content"]
    assert model_server.chats[-1][1]["content"] == "We will send a technician."
    run(agent, ticket, "translate_in")
    assert model_server.chats[-1][1]["content"] == "The printer in room 4 is on fire."
    assert "English" in model_server.chats[-1][0]["content"]


def test_a_long_thread_keeps_its_first_and_latest_messages(agent, ticket, assist_on, model_server):
    for n in range(40):
        add_note(ticket, agent, body_text=f"Note {n}: " + "word " * 200)
    run(agent, ticket, "summarise", with_notes="on")
    sent = sent_text(model_server)
    assert "room 4 is on fire" in sent and "Note 39:" in sent and "Note 0:" not in sent
    assert "earlier messages left out" in sent
    assert len(sent) < 30_000


# --- The agent's answer: used or discarded ------------------------------------------------------------


def test_the_agent_says_whether_the_answer_was_used(agent, agent2, ticket, assist_on):
    run(agent, ticket, "draft")
    use = AssistUse.objects.get()
    assert client_for(agent2).post(f"/assist/uses/{use.pk}/accepted", {"accepted": "yes"}).status_code == 403
    assert client_for(agent).post(f"/assist/uses/{use.pk}/accepted", {"accepted": "yes"}).status_code == 204
    use.refresh_from_db()
    assert use.accepted is True
    client_for(agent).post(f"/assist/uses/{use.pk}/accepted", {"accepted": "no"})
    use.refresh_from_db()
    assert use.accepted is False


# --- When the server fails ------------------------------------------------------------------------


def error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "sentence"),
    [
        (
            401,
            error_body("Incorrect API key provided.", "invalid_api_key"),
            "refused the API key (401): Incorrect API key",
        ),
        (429, error_body("Rate limit reached.", "rate_limit_exceeded"), "busy or over its quota (429): Rate limit"),
        (500, error_body("The server had an error.", "server_error"), "answered 500: The server had an error."),
        (503, b"<html>Bad gateway</html>", "The model server answered 503"),
        (200, b"<html>Welcome to nginx</html>", "not with JSON"),
        (200, b'{"choices": []}', "not with a chat completion"),
        (200, b'{"choices": [{"message": {"content": "  "}}]}', "answered with no text"),
        (302, b"", "redirected the request"),
    ],
)
def test_a_bad_answer_is_one_sentence_not_a_crash(agent, ticket, assist_on, model_server, status, body, sentence):
    model_server.fail_next = [(status, body)]
    response = run(agent, ticket, "summarise")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert sentence in response.content.decode()
    assert "&lt;html" not in response.content.decode()  # a proxy's page is not shown
    use = AssistUse.objects.get()
    assert use.outcome == Outcome.FAILED and sentence in use.error and use.answer == ""


def test_an_unknown_model_is_named(agent, ticket, assist_on, model_server):
    AssistSettings.objects.filter(pk=1).update(model="gpt-7")
    response = run(agent, ticket, "summarise")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert "no such model or address (404): The model `gpt-7` does not exist" in response.content.decode()


def test_a_slow_server_times_out_with_a_sentence(agent, ticket, assist_on, model_server):
    AssistSettings.objects.filter(pk=1).update(timeout_seconds=1)
    model_server.delay_next = 1
    response = run(agent, ticket, "summarise")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert "did not answer within 1 seconds" in response.content.decode()
    assert AssistUse.objects.get().outcome == Outcome.FAILED


def test_nothing_listening_is_one_sentence(agent, ticket, assist_on):
    from tests.servers import free_port

    AssistSettings.objects.filter(pk=1).update(base_url=f"http://127.0.0.1:{free_port()}")
    response = run(agent, ticket, "summarise")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert "Connection refused on port" in response.content.decode()


def test_loopback_is_refused_unless_the_admin_allowed_it(agent, ticket, assist_on, model_server):
    AssistSettings.objects.filter(pk=1).update(allow_local=False)
    response = run(agent, ticket, "summarise")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert "on this machine or a private network" in response.content.decode()
    assert model_server.requests == []
