"""Mailboxes added, changed and tested from the settings area, against a real Dovecot."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from sportello.mail import imap
from sportello.mail.models import Mailbox
from tests.conftest import client_for
from tests.servers import free_port

pytestmark = pytest.mark.django_db

ADD = "/settings/mailboxes/new/"
TEST = "/settings/mailboxes/test"


def form(**values: object) -> dict[str, object]:
    data: dict[str, object] = {
        "address": "help@example.test",
        "name": "Help desk",
        "group": "",
        "active": "on",
        "imap_host": "",
        "imap_port": "993",
        "imap_ssl": "on",
        "imap_username": "",
        "password": "",
        "imap_password_env": "",
        "imap_folder": "INBOX",
        "imap_after_fetch": "seen",
    }
    data.update(values)
    return {key: value for key, value in data.items() if value is not None}


def dovecot_form(dovecot, **values: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "address": dovecot.username,
        "imap_host": dovecot.host,
        "imap_port": str(dovecot.port),
        "imap_ssl": None,  # the test Dovecot speaks plain IMAP on loopback
        "imap_username": dovecot.username,
        "password": dovecot.password,
    }
    return form(**{**fields, **values})


def check(client: Client, data: dict[str, object], url: str = TEST) -> str:
    """The sentence the Test connection button shows (the htmx answer: only the result)."""
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<form" not in html
    return html


# --- Adding and changing ---------------------------------------------------------------------------


def test_an_admin_adds_a_mailbox_and_its_password_is_kept_encrypted(admin, first_level):
    client = client_for(admin)
    page = client.get(ADD)
    assert page.status_code == 200 and "Test connection" in page.content.decode()
    data = form(imap_host="imap.example.test", imap_username="help", password="pa55-word!", group=str(first_level.pk))
    response = client.post(ADD, data)
    assert response.status_code == 302 and response["Location"] == "/mail/mailboxes/"
    box = Mailbox.objects.get(address="help@example.test")
    assert (box.name, box.group, box.imap_host) == ("Help desk", first_level, "imap.example.test")
    assert box.imap_username == "help"
    assert "pa55-word!" not in box.imap_password_sealed and imap.password_for(box) == "pa55-word!"
    listing = client.get("/mail/mailboxes/").content.decode()
    assert "help@example.test" in listing and f'href="/settings/mailboxes/{box.pk}/"' in listing


def test_an_empty_password_keeps_the_stored_one_and_the_page_never_shows_it(admin):
    client = client_for(admin)
    client.post(ADD, form(imap_host="imap.example.test", password="first-secret-1234"))
    box = Mailbox.objects.get()
    page = client.get(f"/settings/mailboxes/{box.pk}/").content.decode()
    assert "first-secret-1234" not in page and "A password is stored" in page
    response = client.post(f"/settings/mailboxes/{box.pk}/", form(imap_host="imap.example.test", name="Support"))
    assert response.status_code == 302
    box.refresh_from_db()
    assert box.name == "Support" and imap.password_for(box) == "first-secret-1234"
    client.post(f"/settings/mailboxes/{box.pk}/", form(imap_host="imap.example.test", password="second-secret"))
    box.refresh_from_db()
    assert imap.password_for(box) == "second-secret"


def test_moving_the_mailbox_to_another_folder_starts_fetching_it_from_the_beginning(admin):
    box = Mailbox.objects.create(
        address="help@example.test", imap_host="imap.example.test", imap_password_env="X",
        imap_uidvalidity=7, imap_last_uid=120, last_error="old trouble",
    )  # fmt: skip
    client = client_for(admin)
    client.post(f"/settings/mailboxes/{box.pk}/", form(imap_host="imap.example.test", imap_password_env="X"))
    box.refresh_from_db()
    assert (box.imap_uidvalidity, box.imap_last_uid, box.last_error) == (7, 120, "old trouble")  # nothing moved
    client.post(f"/settings/mailboxes/{box.pk}/", form(imap_host="imap.example.test", imap_password_env="X",
                                                      imap_folder="Support"))  # fmt: skip
    box.refresh_from_db()
    assert (box.imap_folder, box.imap_uidvalidity, box.imap_last_uid, box.last_error) == ("Support", None, 0, "")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"address": "not an address"}, "Enter a valid email address."),
        ({"imap_host": "imap.example.test"}, "Enter the IMAP password"),
        ({"imap_host": "imap.example.test", "password": "x", "imap_port": "70000"}, "less than or equal to 65535"),
        ({"imap_host": "imap.example.test", "password": "x", "imap_port": "0"}, "greater than or equal to 1"),
        ({"imap_host": "imap.example.test", "password": "x", "imap_folder": ""}, "This field is required."),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(admin, values, message):
    response = client_for(admin).post(ADD, form(**values))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Mailbox.objects.exists()


def test_an_address_taken_by_another_mailbox_is_refused(admin):
    Mailbox.objects.create(address="help@example.test")
    response = client_for(admin).post(ADD, form())
    assert response.status_code == 422 and "Mailbox with this Address already exists." in response.content.decode()


# --- Test connection, against the test Dovecot --------------------------------------------------------


def test_test_connection_signs_in_and_counts_the_messages_of_unsaved_values(admin, dovecot, mail):
    for n in range(2):
        dovecot.append(mail(subject=f"Waiting {n}"))
    html = check(client_for(admin), dovecot_form(dovecot))
    assert "Connected: 2 messages in INBOX." in html and 'data-ok="true"' in html
    assert not Mailbox.objects.exists()  # testing saves nothing


def test_a_wrong_password_is_said_in_words(admin, dovecot):
    html = check(client_for(admin), dovecot_form(dovecot, password="not-the-password"))
    assert "Wrong user name or password" in html and 'data-ok="false"' in html


def test_an_unknown_server_name_is_said_in_words_not_as_gaierror(admin):
    html = check(client_for(admin), form(imap_host="mail.example.invalid", password="x"))
    assert "The server name mail.example.invalid could not be found." in html
    assert "gaierror" not in html and "Errno" not in html


def test_a_refused_port_is_said_in_words(admin):
    port = free_port()  # nothing listens there
    html = check(client_for(admin), form(imap_host="127.0.0.1", imap_port=str(port), imap_ssl=None, password="x"))
    assert f"Connection refused on port {port}" in html


def test_tls_against_a_plain_imap_port_says_tls_failed(admin, dovecot):
    html = check(client_for(admin), dovecot_form(dovecot, imap_ssl="on"))
    assert "The secure (TLS) connection failed" in html


def test_a_missing_folder_is_said_after_signing_in(admin, dovecot):
    html = check(client_for(admin), dovecot_form(dovecot, imap_folder="Archive/2019"))
    assert "Signed in, but the folder Archive/2019 could not be opened" in html


def test_a_saved_mailbox_is_tested_with_its_stored_password_when_the_field_is_empty(admin, dovecot, mail):
    client = client_for(admin)
    client.post(ADD, dovecot_form(dovecot))
    box = Mailbox.objects.get()
    dovecot.append(mail())
    html = check(client, dovecot_form(dovecot, password=""), f"/settings/mailboxes/{box.pk}/test")
    assert "Connected: 1 message in INBOX." in html


def test_without_javascript_the_result_shows_in_the_whole_form(admin, dovecot):
    response = client_for(admin).post(TEST, dovecot_form(dovecot))
    html = response.content.decode()
    assert response.status_code == 200 and "<form" in html and "Connected: 0 messages in INBOX." in html
    assert dovecot.password not in html  # the typed password is not sent back
    assert f'value="{dovecot.host}"' in html


def test_bad_form_values_are_reported_instead_of_connecting(admin):
    html = check(client_for(admin), form(imap_host="imap.example.test", password="x", imap_port="nope"))
    assert "Port: Enter a whole number." in html


def test_a_server_that_never_answers_times_out_in_words(admin, monkeypatch):
    monkeypatch.setattr(imap, "CHECK_TIMEOUT", 0.5)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        html = check(client_for(admin), form(imap_host="127.0.0.1", imap_port=str(port), imap_ssl=None, password="x"))
    assert "127.0.0.1 did not answer in time." in html


@pytest.fixture
def self_signed_imaps(tmp_path: Path) -> Iterator[int]:
    """A TLS server on loopback with a self-signed certificate: the client must refuse it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"* OK ready\r\n")
            except (ssl.SSLError, OSError):
                pass  # the client refuses the certificate: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(timeout=30)


def test_a_certificate_that_is_not_valid_is_said_in_words(admin, self_signed_imaps):
    data = form(imap_host="127.0.0.1", imap_port=str(self_signed_imaps), imap_ssl="on", password="x")
    html = check(client_for(admin), data)
    assert "TLS certificate not valid: self-signed certificate." in html


# --- The poller and the list say it in words too ---------------------------------------------------------


def test_a_poll_of_an_unknown_server_shows_a_sentence_on_the_mailbox_list(admin, monkeypatch):
    monkeypatch.setenv("SPORTELLO_TEST_IMAP_PASSWORD", "x")
    box = Mailbox.objects.create(
        address="help@example.test", imap_host="mail.example.invalid", imap_password_env="SPORTELLO_TEST_IMAP_PASSWORD"
    )
    result = imap.poll_mailbox(box.pk)
    assert result.error == "The server name mail.example.invalid could not be found. Check the spelling."
    listing = client_for(admin).get("/mail/mailboxes/").content.decode()
    assert "mail.example.invalid could not be found" in listing and "gaierror" not in listing


# --- Who may ------------------------------------------------------------------------------------------


def urls(box: Mailbox) -> list[tuple[str, str]]:
    return [
        ("get", ADD),
        ("post", ADD),
        ("post", TEST),
        ("get", f"/settings/mailboxes/{box.pk}/"),
        ("post", f"/settings/mailboxes/{box.pk}/"),
        ("post", f"/settings/mailboxes/{box.pk}/test"),
    ]


def test_strangers_go_to_sign_in_and_customers_and_agents_are_refused(client, agent, customer_user):
    box = Mailbox.objects.create(address="help@example.test", name="Help")
    for method, url in urls(box):
        response = getattr(client, method)(url, form(name="Changed"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        for user in (customer_user, agent):
            assert getattr(client_for(user), method)(url, form(name="Changed")).status_code == 403, (url, user)
    box.refresh_from_db()
    assert box.name == "Help" and Mailbox.objects.count() == 1
