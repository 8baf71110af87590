"""Who sent a message is the address in angle brackets, never a display name, a comment or a group.

Addresses are parsed by RFC 5322's structure first; RFC 2047 encoded words only ever decode to
display-name text, so no encoded `@`, `<` or `,` can make or split an address.
"""

from __future__ import annotations

import pytest

from sportello.customers.models import Identity
from sportello.mail.models import RawState
from sportello.mail.parse import Address, parse_addresses, parse_message
from sportello.mail.services import receive_raw


def _from(value: str, to: str = "support@sportello.localhost", **headers: str) -> bytes:
    extra = "".join(f"{name.replace('_', '-')}: {v}\r\n" for name, v in headers.items())
    return (
        f"From: {value}\r\nTo: {to}\r\nSubject: hello\r\n"
        f"Message-ID: <{abs(hash((value, extra)))}@example.org>\r\n{extra}\r\nThe printer is on fire.\r\n"
    ).encode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("header", "address", "name"),
    [
        # An encoded word is display-name text, whatever it holds.
        ("=?utf-8?q?victim@x?= <attacker@evil.test>", "attacker@evil.test", ""),
        ("=?utf-8?q?victim=40example.com?= <attacker@evil.test>", "attacker@evil.test", ""),
        ("=?utf-8?b?dmljdGltQGV4YW1wbGUuY29t?= <attacker@evil.test>", "attacker@evil.test", ""),
        ("=?utf-8?q?=3Cvictim@example.com=3E?= <attacker@evil.test>", "attacker@evil.test", ""),
        ("=?utf-8?q?victim@example.com=2C?= <attacker@evil.test>", "attacker@evil.test", ""),
        ("=?utf-8?q?Rossi=2C_Carla_=3Cboss=3E?= <carla@example.com>", "carla@example.com", "Rossi, Carla <boss>"),
        ("=?utf-8?q?a=2C_b@c?= <attacker@evil.test>", "attacker@evil.test", ""),
        # Quoted names and bare names holding another address.
        ('"victim@example.com" <attacker@evil.test>', "attacker@evil.test", ""),
        ('"Victim <victim@example.com>" <attacker@evil.test>', "attacker@evil.test", ""),
        ("victim@example.com <attacker@evil.test>", "attacker@evil.test", ""),
        ('"Rossi, Carla" <carla@example.com>', "carla@example.com", "Rossi, Carla"),
        ('"Carla \\"CR\\" Rossi" <carla@example.com>', "carla@example.com", 'Carla "CR" Rossi'),
        ("carla@example.com <carla@example.com>", "carla@example.com", "carla@example.com"),
        # Comments are not names of another sender, nor addresses.
        ("attacker@evil.test (victim@example.com)", "attacker@evil.test", ""),
        ("carla@example.com (Carla Rossi)", "carla@example.com", "Carla Rossi"),
        ("Carla (the boss <boss@example.com>) <carla@example.com>", "carla@example.com", "Carla"),
        ("Carla <carla@example.com> (victim@example.com)", "carla@example.com", "Carla"),
        # Groups, routes, folding and broken syntax.
        ("Friends: carla@example.com, marco@example.com;", "carla@example.com", ""),
        ("Carla <@relay.example.net,@mx.example.net:carla@example.com>", "carla@example.com", "Carla"),
        ("Carla\r\n <carla@example.com>", "carla@example.com", "Carla"),
        ('"Carla Rossi <carla@example.com>', "carla@example.com", "Carla Rossi"),
        ("Carla <carla@example.com", "carla@example.com", "Carla"),
        ("mailto:carla@example.com", "carla@example.com", ""),
        # Encoded names still decode, in a quoted string too (mailers do that).
        ("=?utf-8?b?SsO2cmc=?= <jorg@example.de>", "jorg@example.de", "Jörg"),
        ('"=?iso-8859-1?q?J=F6rg?=" <jorg@example.de>', "jorg@example.de", "Jörg"),
        # International domains: one identity in either form, no lookalike letters.
        ("Jörg <jörg@bücher.de>", "jörg@xn--bcher-kva.de", "Jörg"),
        ("<jo@xn--bcher-kva.de>", "jo@xn--bcher-kva.de", ""),
        ("Apple <support@xn--80ak6aa92e.com>", "support@xn--80ak6aa92e.com", "Apple"),
        ("Apple <support@аррӏе.com>", "support@xn--80ak6aa92e.com", "Apple"),  # noqa: RUF001
    ],
)
def test_the_sender_is_the_real_mailbox(header, address, name):
    parsed = parse_message(_from(header))
    assert parsed.from_ == Address(address=address, name=name)


@pytest.mark.parametrize("header", ['"carla rossi"@example.com', 'Carla <"carla rossi"@example.com>'])
def test_a_quoted_local_part_keeps_its_spaces(header):
    assert parse_message(_from(header)).from_.address == '"carla rossi"@example.com'


def test_a_huge_recipient_list_is_cut_at_an_address_boundary():
    recipients = ", ".join(f"User {n} <user{n}@example.com>" for n in range(1, 20_001))  # 620 kB
    parsed = parse_message(_from("carla@example.com", to=recipients))
    assert 5_000 < len(parsed.to) < 20_000
    assert parsed.to[-1] == Address(address=f"user{len(parsed.to)}@example.com", name=f"User {len(parsed.to)}")
    assert "AddressHeaderTruncated" in parsed.defects


def test_an_address_only_inside_an_encoded_word_is_used_when_there_is_no_other():
    # Some mailers encode the whole header; it says no more than a plain From would.
    parsed = parse_message(_from("=?utf-8?b?Q2FybGEgPGNhcmxhQGV4YW1wbGUuY29tPg==?="))
    assert parsed.from_ == Address(address="carla@example.com", name="Carla")
    assert "AddressInsideEncodedWord" in parsed.defects


@pytest.mark.parametrize("header", ["", "undisclosed-recipients:;", "garbage", "<>", "=?utf-8?q?nobody?=", "@"])
def test_a_from_without_a_mailbox_gives_no_sender(header):
    assert parse_message(_from(header)).from_ is None


def test_several_authors_take_the_sender_header_and_are_flagged():
    parsed = parse_message(_from("carla@example.com, marco@example.com", Sender="Marco <marco@example.com>"))
    assert parsed.from_ == Address(address="marco@example.com", name="Marco")
    assert "SeveralAuthorsInFrom" in parsed.defects


def test_several_authors_without_sender_take_the_first_and_are_flagged():
    parsed = parse_message(_from("Carla <carla@example.com>, Marco <marco@example.com>"))
    assert parsed.from_ == Address(address="carla@example.com", name="Carla")
    assert "SeveralAuthorsInFrom" in parsed.defects


def test_recipients_follow_the_same_rules():
    parsed = parse_message(
        _from(
            "carla@example.com",
            to='=?utf-8?q?boss@example.com=2C_x?= <support@sportello.localhost>, "Rossi, C" <c@example.com>',
            Cc="Team: =?utf-8?q?a@b?= <marco@example.com>, (nobody) luisa@example.com;, undisclosed:;",
            Reply_To="=?utf-8?q?victim@example.com?= <attacker@evil.test>",
        )
    )
    assert [a.address for a in parsed.to] == ["support@sportello.localhost", "c@example.com"]
    assert [a.name for a in parsed.to] == ["", "Rossi, C"]
    assert [a.address for a in parsed.cc] == ["marco@example.com", "luisa@example.com"]
    assert parsed.reply_to == [Address(address="attacker@evil.test", name="")]


@pytest.mark.django_db
def test_an_encoded_display_name_does_not_land_on_the_victims_file():
    victim = receive_raw(_from("Victim <victim@example.com>"))
    assert victim.state == RawState.PROCESSED

    row = receive_raw(_from("=?utf-8?q?victim@example.com?= <attacker@evil.test>"))

    assert row.state == RawState.PROCESSED
    assert row.sender == "attacker@evil.test"
    assert row.entry.author_customer != victim.entry.author_customer
    assert row.entry.author_customer.primary_email == "attacker@evil.test"
    assert row.entry.author_customer.name != "victim@example.com"
    assert not Identity.objects.filter(value="victim@x").exists()


@pytest.mark.django_db
def test_a_from_with_no_mailbox_is_quarantined_with_a_reason():
    row = receive_raw(_from("undisclosed-recipients:;"))
    assert row.state == RawState.QUARANTINED
    assert "no usable sender address" in row.reason


@pytest.mark.django_db
def test_a_from_with_no_mailbox_falls_back_to_reply_to():
    row = receive_raw(_from("garbage", Reply_To="Carla <carla@example.com>"))
    assert row.state == RawState.PROCESSED
    assert row.entry.author_customer.primary_email == "carla@example.com"


def test_comments_inside_the_angle_brackets_are_no_part_of_the_address():
    """RFC 5322's own example (appendix A.5), kept by mail's test suite."""
    [address] = parse_addresses(["Pete(A wonderful \\) chap) <pete(his account)@silly.test(his host)>"])
    assert address.address == "pete@silly.test" and address.name == "Pete"
