"""Hostile and broken bytes: the parser never raises on them, and no message is quarantined because
of a bug of ours. Run on PostgreSQL too (it refuses NUL in text, which SQLite stores)."""

from __future__ import annotations

import pytest

from sportello.mail import parse
from sportello.mail.models import RawState
from sportello.mail.parse import MAX_REFERENCES, ParseError, parse_message
from sportello.mail.services import receive_raw
from tests.mail.fixtures import all_messages, ids

HEAD = b"From: Carla <carla@example.com>\r\nTo: support@sportello.localhost\r\nSubject: help\r\n"


def _multipart(*parts: bytes, head: bytes = HEAD) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts)
    return head + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def _file(disposition_name: bytes, content: bytes = b"file content") -> bytes:
    return (
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="
        + disposition_name
        + b"\r\n\r\n"
        + content
    )


TEXT = b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe printer is on fire."

HOSTILE = {
    # uuencoded-looking block with a non-ASCII character: it stays text.
    "uuencode with non-ASCII": HEAD
    + "Content-Type: text/plain; charset=utf-8\r\n\r\nbegin 644 cv.txt\r\nM5&AE(')R:6YT97(é\r\n`\r\nend\r\n".encode(),
    "charset with NUL": HEAD + b'Content-Type: text/plain; charset="utf\x00-8"\r\n\r\nCiao \xc3\xa8 rotto\r\n',
    "encoded word charset with NUL": b"From: =?utf\x00-8?q?Carla?= <carla@example.com>\r\n"
    b"Subject: =?ut\x00f-8?b?w6g=?=\r\n\r\nhi\r\n",
    "UTF-7 lone surrogate in the body": HEAD + b"Content-Type: text/plain; charset=utf-7\r\n\r\nhello +2AA- there\r\n",
    "UTF-7 lone surrogate in a parameter": _multipart(
        TEXT, b'Content-Type: application/octet-stream; name="=?utf-7?q?+2AA-.bin?="\r\n\r\nxx'
    ),
    "UTF-7 lone surrogate in returned headers": _multipart(
        TEXT, b"Content-Type: text/rfc822-headers; charset=utf-7\r\n\r\nSubject: +2AA- \xe9\r\nFrom: a@b.test\r\n"
    ),
    "NUL in From, Message-ID and References": b"From: Carla\x00 <carla@exa\x00mple.com>\r\n"
    b"Message-ID: <a\x00b@example.com>\r\nReferences: <r\x00@example.com>\r\nSubject: a\x00b\r\n\r\nhi\x00there\r\n",
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bytes_parse_into_storable_text(raw):
    parsed = parse_message(raw)
    assert parsed.from_ is not None and parsed.from_.address == "carla@example.com"
    # Bodies keep what they hold (intake cleans them); what reaches a query or a file name is clean.
    for text in [parsed.subject, parsed.message_id, *parsed.references, parsed.from_.name]:
        assert "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def test_nul_is_stripped_from_addresses_and_message_ids():
    parsed = parse_message(HOSTILE["NUL in From, Message-ID and References"])
    assert (parsed.from_.address, parsed.from_.name) == ("carla@example.com", "Carla")
    assert parsed.message_id == "<ab@example.com>"
    assert parsed.references == ["<r@example.com>"]


def test_a_charset_label_with_nul_still_decodes_the_body():
    assert parse_message(HOSTILE["charset with NUL"]).text == "Ciao è rotto"


@pytest.mark.django_db
@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bytes_become_an_entry_not_a_quarantine_record(raw):
    row = receive_raw(raw)
    assert row.state == RawState.PROCESSED, row.reason
    assert row.entry.author_customer.primary_email == "carla@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (b'"="', "="),
        ('"★★"'.encode(), "★★"),
        ('"★.pdf"'.encode(), "★.pdf"),
        (b'"=?utf-7?q?+2AA-report.pdf?="', "report.pdf"),
        ('"{}"'.format("報告書" * 80 + ".xlsx").encode(), "報告書" * 65 + ".xlsx"),
        (b'"..\\\\..\\\\etc\\\\passwd"', "passwd"),
    ],
)
def test_attachments_with_names_storage_refuses_are_stored(name, shown):
    row = receive_raw(_multipart(TEXT, _file(name)))
    assert row.state == RawState.PROCESSED, row.reason
    stored = row.entry.attachments.get()
    assert stored.filename == shown
    assert stored.file.read() == b"file content"


def test_a_bug_of_ours_keeps_the_message(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(parse, "_structure", broken)
    parsed = parse_message(HEAD + b"Message-ID: <x@example.com>\r\n\r\nThe printer is on fire.\r\n")
    assert parsed.from_ is not None and parsed.from_.address == "carla@example.com"
    assert (parsed.subject, parsed.message_id) == ("help", "<x@example.com>")
    assert "The printer is on fire." in parsed.text
    assert "ParserError: RuntimeError" in parsed.defects


MESSAGES = all_messages()


@pytest.mark.parametrize("path", MESSAGES, ids=ids(MESSAGES))
def test_every_corpus_message_parses(path):
    try:
        parsed = parse_message(path.read_bytes())
    except ParseError:
        return  # bytes with nothing in them: a clear reason, quarantined
    assert not any(d.startswith("ParserError") for d in parsed.defects)


# --- Messages of many parts ----------------------------------------------------------------------------


def _many_parts(count: int, *, html: bool = False) -> bytes:
    body = (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>See the photos.</p>"
        if html
        else b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee the photos."
    )
    files = [
        b"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="photo-%d.jpg"\r\n\r\n/9j/4AAQ' % number
        for number in range(1, count + 1)
    ]
    return _multipart(body, *files, head=HEAD + b"Message-ID: <many-%d@example.com>\r\n" % count)


def test_a_message_of_500_parts_keeps_the_first_100_and_says_so():
    parsed = parse_message(_many_parts(500))
    assert [a.filename for a in parsed.attachments] == [f"photo-{n}.jpg" for n in range(1, 101)]
    assert parsed.omitted_attachments == 400
    assert parsed.full_text == "See the photos.\n\n[400 more attachments are kept in the original message only]"
    assert parsed.defects[0] == "AttachmentsOverLimit"


def test_parts_over_the_limit_are_not_even_decoded(monkeypatch):
    # What bounds the time a message of 20,000 parts takes: the work per part past the limit is
    # none, whatever the count (no wall clock asserted here, the count of decoded parts instead).
    decoded = []
    real = parse._payload_bytes
    monkeypatch.setattr(parse, "_payload_bytes", lambda part: decoded.append(part) or real(part))
    parse_message(_many_parts(2_000), max_attachments=10)
    assert len(decoded) <= 12


def test_thousands_of_inline_text_parts_are_capped_too():
    texts = [b"Content-Type: text/plain\r\n\r\nline %d" % n for n in range(1, 1_001)]
    parsed = parse_message(_multipart(*texts), max_attachments=50)
    assert parsed.text.splitlines()[-1] == "line 50"
    assert parsed.omitted_attachments == 950


@pytest.mark.django_db
@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_the_entry_stores_the_capped_files_and_says_the_rest_is_in_the_original(settings, html):
    settings.MAIL_MAX_ATTACHMENTS = 5
    row = receive_raw(_many_parts(12, html=html))
    assert row.state == RawState.PROCESSED
    assert row.entry.attachments.count() == 5
    note = "7 more attachments are kept in the original message only"
    assert note in (row.entry.body_html if html else row.entry.body_text)
    assert row.file.read().count(b"filename=") == 12  # the original keeps all of them


def test_a_huge_references_header_keeps_the_root_and_the_newest_ids():
    ids = [f"<ref{i}.thread@example.com>" for i in range(100_000)]
    raw = (
        "From: carla@example.com\r\nTo: support@sportello.localhost\r\nSubject: Re: hi\r\n"
        f"Message-ID: <m1@example.com>\r\nReferences: {' '.join(ids)}\r\n\r\nHello\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert parsed.references[0] == ids[0] and parsed.references[-1] == ids[-1]
    assert parsed.references[1:] == ids[-(MAX_REFERENCES - 1) :]
    short = parse_message(raw.replace(" ".join(ids).encode(), " ".join(ids[:5]).encode()))
    assert short.references == ids[:5]
