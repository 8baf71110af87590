"""The "Chat and messaging" settings page: widgets with their snippet, accounts added, changed,
tested against the local platform server, and switched off; strangers refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.chat.models import ChatChannel
from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.services import create_account
from tests.conftest import client_for
from tests.servers import free_port
from tests.social.conftest import TELEGRAM_SECRET, payload, post
from tests.social.more_platforms import IG_ID, PAGE_ID, PAGE_TOKEN, TWILIO_SID, TWILIO_TOKEN
from tests.social.platform_server import TELEGRAM_TOKEN
from tests.social.settings.identity_routes import serve

pytestmark = pytest.mark.django_db

LIST = "/settings/channels/"


@pytest.fixture
def server(platform_server):  # type: ignore[no-untyped-def]
    return serve(platform_server)


def run_test(client, account: ChannelAccount, url: str = "") -> str:  # type: ignore[no-untyped-def]
    response = client.post(url or f"/settings/channels/accounts/{account.pk}/test", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


# --- The list ----------------------------------------------------------------------------------------


def test_the_page_lists_widgets_with_their_snippet_and_accounts_with_their_health(admin, platform, telegram,
                                                                                  whatsapp, settings):  # fmt: skip
    ChatChannel.objects.create(name="Website", key="website")
    post(platform, telegram, payload("telegram_edited.json"))  # a payload we do not take: quarantined
    client = client_for(admin)
    client.get(LIST)  # warm the session
    with CaptureQueriesContext(connection) as one:
        html = client.get(LIST).content.decode()
    snippet = (
        f"&lt;script src=&quot;{settings.SITE_URL}/chat/widget.js&quot; "
        "data-channel=&quot;website&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in html
    row = next(part for part in html.split("<tr") if f'data-account="{telegram.pk}"' in part)
    assert f"{settings.SITE_URL}/social/hooks/{telegram.key}/" in row
    assert 'class="quarantined">1<' in row and "Quarantined a payload" in row
    assert TELEGRAM_TOKEN not in html and TELEGRAM_SECRET not in html
    for n in range(3):
        create_account(AccountKind.GENERIC, f"Shop {n}", credentials={"secret": "x" * 20})
        ChatChannel.objects.create(name=f"Site {n}", key=f"site-{n}")
    with CaptureQueriesContext(connection) as more:
        client.get(LIST)
    assert len(more.captured_queries) == len(one.captured_queries)  # no query per row


def test_a_reply_the_platform_has_not_taken_yet_shows_as_waiting(
    admin, agent, platform, telegram, platform_server, django_capture_on_commit_callbacks
):
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import reply_to_ticket

    number = post(platform, telegram, payload("telegram_text.json")).json()["results"][0]["ticket"]
    platform_server.fail_next = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(Ticket.objects.get(number=number), agent, body_text="On its way")
    row = next(
        part
        for part in client_for(admin).get(LIST).content.decode().split("<tr")
        if f'data-account="{telegram.pk}"' in part
    )
    assert '<td class="waiting">1</td>' in row  # retrying with backoff


def test_the_settings_menu_links_the_page(admin):
    html = client_for(admin).get("/settings/").content.decode()
    assert f'href="{LIST}"' in html


# --- Adding and changing accounts ---------------------------------------------------------------------


def test_an_admin_adds_a_telegram_bot_and_its_secret_token_is_made_for_them(admin, server):
    client = client_for(admin)
    assert client.get("/settings/channels/accounts/new/telegram/").status_code == 200
    response = client.post("/settings/channels/accounts/new/telegram/", {
        "name": "Shop bot", "active": "on", "bot_token": TELEGRAM_TOKEN, "secret_token": "", "api_base": server.url,
    })  # fmt: skip
    account = ChannelAccount.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settings/channels/accounts/{account.pk}/"
    assert account.kind == "telegram" and account.settings == {"api_base": server.url}
    assert account.credentials["bot_token"] == TELEGRAM_TOKEN and len(account.credentials["secret_token"]) >= 32
    assert TELEGRAM_TOKEN not in account.credentials_sealed
    page = client.get(response["Location"]).content.decode()
    assert TELEGRAM_TOKEN not in page and account.credentials["secret_token"] not in page
    assert f"/social/hooks/{account.key}/" in page and "Point the bot here" in page


META = {"page_access_token": "t", "app_secret": "s", "page_id": "1"}
TWILIO = {"account_sid": "AC1", "auth_token": "t"}
REQUIRED = "This field is required."


@pytest.mark.parametrize(
    ("kind", "values", "field", "message"),
    [
        ("whatsapp", {"access_token": "t", "app_secret": "s", "verify_token": "v"}, "phone_number_id", REQUIRED),
        ("telegram", {"bot_token": "1:x", "secret_token": "has spaces!"}, "secret_token", "Use 1 to 256 of the"),
        ("sms", TWILIO, "from_number", "Give a sending number or a messaging service SID."),
        ("sms", {**TWILIO, "from_number": "0791234567"}, "from_number", "with its country code"),
        ("messenger", META, "verify_token", REQUIRED),
        ("generic", {"secret": "s", "delivery_url": "not a url"}, "delivery_url", "Enter a valid URL."),
    ],
)
def test_each_kind_refuses_what_it_cannot_work_with(admin, kind, values, field, message):
    response = client_for(admin).post(f"/settings/channels/accounts/new/{kind}/", {"name": "X", **values})
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html and f'id="id_{field}"' in html and 'aria-invalid="true"' in html
    assert not ChannelAccount.objects.exists()


def test_an_unknown_kind_is_not_found(admin):
    assert client_for(admin).get("/settings/channels/accounts/new/fax/").status_code == 404


def test_an_empty_credential_keeps_the_stored_one_and_a_new_one_replaces_it(admin, whatsapp):
    client = client_for(admin)
    url = f"/settings/channels/accounts/{whatsapp.pk}/"
    page = client.get(url).content.decode()
    assert "EAAJB-test-access-token" not in page and "••••9e8f" in page
    response = client.post(url, {
        "name": "WhatsApp sales", "active": "on", "phone_number_id": "999", "template_name": "followup",
        "access_token": "", "app_secret": "a-new-app-secret-value", "verify_token": "",
    })  # fmt: skip
    assert response.status_code == 302
    account = ChannelAccount.objects.get(pk=whatsapp.pk)
    assert account.name == "WhatsApp sales"
    assert account.settings == {"phone_number_id": "999", "template_name": "followup"}  # api_base emptied
    assert account.credentials == {"access_token": "EAAJB-test-access-token", "app_secret": "a-new-app-secret-value",
                                   "verify_token": "verify-me-please"}  # fmt: skip


def test_switching_an_account_off_closes_its_webhook_and_on_opens_it(admin, platform, telegram):
    client = client_for(admin)
    client.post(f"/settings/channels/accounts/{telegram.pk}/active", {"active": "0"})
    assert post(platform, telegram, payload("telegram_text.json")).status_code == 404
    assert "off" in client.get(LIST).content.decode()
    client.post(f"/settings/channels/accounts/{telegram.pk}/active", {"active": "1"})
    assert post(platform, telegram, payload("telegram_text.json")).status_code == 200


# --- Test, against the local platform server -------------------------------------------------------------


def test_telegram_test_says_who_the_bot_is_and_points_its_webhook_here(admin, server, telegram, settings):
    client = client_for(admin)
    html = run_test(client, telegram)
    assert "Connected: the bot @sportello_bot." in html and "Its webhook is not set" in html
    html = run_test(client, telegram, f"/settings/channels/accounts/{telegram.pk}/webhook")
    hook = f"{settings.SITE_URL}/social/hooks/{telegram.key}/"
    assert f"Telegram now sends the bot&#x27;s messages to {hook}." in html
    assert server.telegram_webhook == {"url": hook, "secret_token": TELEGRAM_SECRET, "allowed_updates": ["message"]}
    assert "Its updates come here." in run_test(client, telegram)


def test_a_wrong_bot_token_is_said_in_words(admin, server, telegram):
    telegram.set_credentials({"bot_token": "999:wrong", "secret_token": TELEGRAM_SECRET})
    telegram.save()
    html = run_test(client_for(admin), telegram)
    assert "The platform refused the credentials: Unauthorized" in html and 'data-ok="false"' in html


def test_whatsapp_test_names_the_phone_number(admin, server, whatsapp):
    assert "Connected: +1 631-555-1181 (Sportello Support)." in run_test(client_for(admin), whatsapp)
    whatsapp.set_credentials({**whatsapp.credentials, "access_token": "expired"})
    whatsapp.save()
    assert "refused the credentials: Invalid OAuth access token. (code 190)" in run_test(client_for(admin), whatsapp)


def test_twilio_test_fetches_the_account(admin, server):
    sms = create_account(AccountKind.SMS, "SMS", credentials={"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN},
                         settings={"from_number": "+15005550006", "api_base": server.url})  # fmt: skip
    assert "Connected: the Twilio account Sportello SMS." in run_test(client_for(admin), sms)
    sms.set_credentials({"account_sid": TWILIO_SID, "auth_token": "wrong"})
    sms.save()
    assert "refused the credentials: Authenticate (code 20003)" in run_test(client_for(admin), sms)


def test_messenger_and_instagram_tests_name_the_page_and_the_account(admin, server):
    credentials = {"page_access_token": PAGE_TOKEN, "app_secret": "s", "verify_token": "v"}
    page = create_account(AccountKind.MESSENGER, "Page", credentials=credentials,
                          settings={"page_id": PAGE_ID, "api_base": server.url})  # fmt: skip
    insta = create_account(AccountKind.INSTAGRAM, "Insta", credentials=credentials,
                           settings={"page_id": IG_ID, "api_base": server.url})  # fmt: skip
    client = client_for(admin)
    assert "Connected: the Page Sportello Shop." in run_test(client, page)
    assert "Connected: the Instagram account @sportello.shop." in run_test(client, insta)


def test_the_signed_webhook_has_nothing_to_ask_but_checks_its_delivery_url(admin, generic, server):
    assert f"Ready: a signed webhook has no platform to ask; replies go to {server.url}/deliver." in run_test(
        client_for(admin), generic
    )


def test_a_platform_that_cannot_be_reached_is_said_in_words(admin, telegram):
    client = client_for(admin)
    telegram.settings = {"api_base": "https://api.example.invalid"}
    telegram.save()
    html = run_test(client, telegram)
    assert "The server name api.example.invalid could not be found." in html and "gaierror" not in html
    telegram.settings = {"api_base": f"http://127.0.0.1:{free_port()}"}
    telegram.save()
    assert "127.0.0.1 refused the connection." in run_test(client, telegram)


def test_without_javascript_the_result_comes_back_as_a_message(admin, server, telegram):
    client = client_for(admin)
    response = client.post(f"/settings/channels/accounts/{telegram.pk}/test", {"back": "edit"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/settings/channels/accounts/{telegram.pk}/"
    assert "Telegram bot: Connected: the bot @sportello_bot." in response.content.decode()


# --- Chat widgets ------------------------------------------------------------------------------------


def test_an_admin_adds_and_changes_a_chat_widget(admin, first_level, settings):
    client = client_for(admin)
    response = client.post("/settings/channels/widgets/new/", {
        "name": "Shop", "key": "shop", "enabled": "on", "ask_identity": "required", "group": first_level.pk,
        "greeting": "Ciao!", "max_chats_per_agent": "2", "hours": "",
    })  # fmt: skip
    assert response.status_code == 302
    widget = ChatChannel.objects.get(key="shop")
    assert (widget.ask_identity, widget.group, widget.max_chats_per_agent) == ("required", first_level, 2)
    page = client.get(f"/settings/channels/widgets/{widget.pk}/").content.decode()
    assert "data-channel=&quot;shop&quot;" in page and f"{settings.SITE_URL}/chat/widget.js" in page
    response = client.post(f"/settings/channels/widgets/{widget.pk}/", {
        "name": "Shop", "key": "shop", "ask_identity": "nothing", "greeting": "", "max_chats_per_agent": "3",
    })  # fmt: skip
    widget.refresh_from_db()
    assert response.status_code == 302 and not widget.enabled and widget.ask_identity == "nothing"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"key": "has spaces"}, "Enter a valid “slug”"),
        ({"key": "taken"}, "Chat channel with this Key already exists."),
        ({"max_chats_per_agent": "0"}, "At least one chat per agent."),
    ],
)
def test_bad_widget_values_are_refused_with_a_clear_message(admin, values, message):
    ChatChannel.objects.create(name="Taken", key="taken")
    data = {"name": "Shop", "key": "shop", "ask_identity": "optional", "max_chats_per_agent": "3", **values}
    response = client_for(admin).post("/settings/channels/widgets/new/", data)
    assert response.status_code == 422 and message in response.content.decode()
    assert ChatChannel.objects.count() == 1


# --- Who may ------------------------------------------------------------------------------------------


def test_strangers_go_to_sign_in_and_customers_and_agents_are_refused(client, agent, customer_user, telegram):
    widget = ChatChannel.objects.create(name="Website", key="website")
    urls = [
        ("get", LIST),
        ("get", "/settings/channels/widgets/new/"),
        ("post", "/settings/channels/widgets/new/"),
        ("get", f"/settings/channels/widgets/{widget.pk}/"),
        ("post", f"/settings/channels/widgets/{widget.pk}/"),
        ("get", "/settings/channels/accounts/new/telegram/"),
        ("post", "/settings/channels/accounts/new/telegram/"),
        ("get", f"/settings/channels/accounts/{telegram.pk}/"),
        ("post", f"/settings/channels/accounts/{telegram.pk}/"),
        ("post", f"/settings/channels/accounts/{telegram.pk}/test"),
        ("post", f"/settings/channels/accounts/{telegram.pk}/webhook"),
        ("post", f"/settings/channels/accounts/{telegram.pk}/active"),
    ]
    data = {"name": "Changed", "key": "changed", "active": "0"}
    for method, url in urls:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        for user in (customer_user, agent):
            assert getattr(client_for(user), method)(url, data).status_code == 403, (url, user)
    telegram.refresh_from_db()
    widget.refresh_from_db()
    assert telegram.active and telegram.name == "Telegram bot" and widget.name == "Website"
    assert ChannelAccount.objects.count() == 1 and ChatChannel.objects.count() == 1
