"""Every real-world message in tests/fixtures/mail: ingested or quarantined with a reason."""

from __future__ import annotations

import json

import pytest

from sportello.mail.bounces import bounce_of
from sportello.mail.models import RawState
from sportello.mail.parse import parse_message
from sportello.mail.services import receive_raw
from tests.mail.fixtures import TESTDATA, all_messages, ids

MESSAGES = all_messages()


@pytest.mark.django_db
@pytest.mark.parametrize("path", MESSAGES, ids=ids(MESSAGES))
def test_every_message_becomes_an_entry_or_a_quarantine_record(path):
    row = receive_raw(path.read_bytes())
    assert row.file.name and row.sha256
    if row.state == RawState.PROCESSED:
        assert row.entry is not None and row.entry.author_customer.primary_email
        assert row.entry.body_text.strip() or row.entry.attachments.exists()
        assert row.entry.metadata["threaded_by"] == "new"
    else:
        assert row.state == RawState.QUARANTINED and row.reason


# --- stalwart's truth files --------------------------------------------------------------------------

STALWART = sorted(
    p for p in (TESTDATA / "stalwart-mail-parser" / "resources" / "eml").glob("*/*.json")
    if not p.name.endswith(".crlf.json")
)
# Known differences, with reasons:
STALWART_KNOWN = {
    "legacy/049.eml text": "a uuencoded file inside the text becomes an attachment; stalwart keeps it as text",
    "malformed/001.eml text": "a body of only '--a': stalwart drops it as a stray boundary",
    "malformed/005.eml text": "broken boundaries; Python's parser finds no text part",
    "malformed/008.eml text": "missing end boundary: Python takes the next part's text too",
    "malformed/009.eml text": "nested boundaries that repeat the outer one",
    "malformed/011.eml text": "nested boundaries that repeat the outer one",
    "malformed/016.eml text": "an over-long boundary line",
    "malformed/019.eml subject": "garbled header names",
    "malformed/019.eml text": "garbled header names end the headers early",
    "malformed/020.eml text": "a part header inside a part: stalwart keeps it as text",
    "malformed/021.eml text": "a part header inside a part: stalwart keeps it as text",
    "thirdparty/002.eml text": "binary junk after the text decodes differently",
    "thirdparty/005.eml text": "an unterminated boundary left in the text",
    "thirdparty/007.eml from": "From without an address ('moderator')",
}


def _header(part, name):
    return next((h["value"] for h in part["headers"] if h["name"] == name), None)


def _same(expected: str, got: str) -> bool:
    """Equal modulo whitespace; stalwart's U+FFFD (undecodable) matches whatever we decoded."""
    expected, got = " ".join(expected.split()), " ".join(got.split())
    if "\ufffd" not in expected:
        return expected == got
    pattern = ".".join(map(__import__("re").escape, expected.split("\ufffd")))
    return __import__("re").fullmatch(pattern, got) is not None


def _checks(path):
    truth = json.loads(path.read_text())
    top = truth["parts"][0]
    parsed = parse_message(path.with_suffix(".eml").read_bytes())
    subject = _header(top, "subject")
    if subject and "Text" in subject:
        yield "subject", subject["Text"], parsed.subject
    sender = _header(top, "from")
    addresses = (sender or {}).get("Address", {}).get("List") or []
    if addresses and addresses[0].get("address"):
        yield "from", addresses[0]["address"], parsed.from_.address if parsed.from_ else ""
    bodies = [truth["parts"][i]["body"] for i in truth.get("text_body") or []]
    if bodies and all(isinstance(b, dict) and "Text" in b for b in bodies):
        yield "text", "\n".join(b["Text"] for b in bodies), parsed.text


@pytest.mark.parametrize("path", STALWART, ids=[str(p.relative_to(p.parents[1])) for p in STALWART])
def test_stalwart_truth(path):
    name = str(path.with_suffix(".eml").relative_to(path.parents[1]))
    for what, expected, got in _checks(path):
        if f"{name} {what}" in STALWART_KNOWN:
            continue
        assert _same(expected, got), f"{what}: expected {expected[:200]!r}, got {got[:200]!r}"


def test_stalwart_known_differences_are_still_different():
    """A fixed difference must leave the list above, so the list stays honest."""
    for key in STALWART_KNOWN:
        name, what = key.split(" ")
        path = TESTDATA / "stalwart-mail-parser" / "resources" / "eml" / name.replace(".eml", ".json")
        results = {w: _same(e, g) for w, e, g in _checks(path)}
        assert results.get(what) is False, key


# --- flanker's bounces ------------------------------------------------------------------------------

BOUNCES = sorted((TESTDATA / "flanker" / "tests" / "fixtures" / "messages" / "bounce").glob("*.eml"))


@pytest.mark.parametrize("path", BOUNCES, ids=ids(BOUNCES))
def test_flanker_bounces_are_detected(path):
    bounce = bounce_of(parse_message(path.read_bytes()))
    assert bounce is not None
    assert "@" in bounce.recipient


def test_a_dsn_gives_recipient_status_and_the_bounced_message_id():
    path = TESTDATA / "flanker" / "tests" / "fixtures" / "messages" / "bounce" / "zed.eml"
    bounce = bounce_of(parse_message(path.read_bytes()))
    assert bounce is not None
    assert bounce.recipient == "asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com"
    assert (bounce.status, bounce.action, bounce.permanent) == ("5.1.1", "failed", True)
    assert bounce.original_message_id.startswith("<")


def test_a_delay_is_a_bounce_but_not_permanent():
    path = TESTDATA / "flanker" / "tests" / "fixtures" / "messages" / "bounce" / "no-mx.eml"
    bounce = bounce_of(parse_message(path.read_bytes()))
    assert bounce is not None and bounce.action == "delayed" and not bounce.permanent


def test_ordinary_mail_is_not_a_bounce():
    path = TESTDATA / "flanker" / "tests" / "fixtures" / "messages" / "multipart.eml"
    assert bounce_of(parse_message(path.read_bytes())) is None


def test_stalwart_field_accuracy():
    """The figure for the notes (`pytest -s`): subject, sender and text equal to stalwart's parse."""
    right: dict[str, int] = {}
    total: dict[str, int] = {}
    for path in STALWART:
        for what, expected, got in _checks(path):
            total[what] = total.get(what, 0) + 1
            right[what] = right.get(what, 0) + _same(expected, got)
    print("\nstalwart field accuracy: " + ", ".join(f"{w} {right[w]}/{total[w]}" for w in sorted(total)))
    assert sum(total.values()) - sum(right.values()) == len(STALWART_KNOWN)
