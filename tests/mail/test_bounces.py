"""Bounce detection measured on real reports of many mail systems, and on every other test mail.

bounce_expectations.json beside this file lists every bounce and complaint report in
tests/fixtures/mail (sisimai's samples of 57 MTAs and mail services, flanker's, mail's, the
parsers' own) with the failed address and the RFC 3463 status the report gives, read by hand; an
empty status is one the report states in words we do not map (Japanese, "could not find a
gateway"). Every other message in tests/fixtures/mail is a person's or a list's mail and must not
be taken for a bounce.

`pytest -s tests/mail/test_bounces.py` prints the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sportello.mail.bounces import bounce_of
from sportello.mail.parse import parse_message
from tests.mail.fixtures import TESTDATA, all_messages

EXPECTED: dict[str, dict[str, str]] = json.loads((Path(__file__).parent / "bounce_expectations.json").read_text())
# Reports nothing tells from a person's mail.
KNOWN_MISSES: set[str] = set()


def _bounce(relative: str):
    return bounce_of(parse_message((TESTDATA / relative).read_bytes()))


def test_every_bounce_is_detected_with_its_address_and_status():
    detected, right_address, addresses, right_status, statuses = 0, 0, 0, 0, 0
    wrong = []
    for relative, want in EXPECTED.items():
        bounce = _bounce(relative)
        if bounce is None:
            if relative not in KNOWN_MISSES:
                wrong.append(f"{relative}: not detected")
            continue
        detected += 1
        if want["recipient"]:
            addresses += 1
            right_address += bounce.recipient == want["recipient"]
            if bounce.recipient != want["recipient"]:
                wrong.append(f"{relative}: recipient {bounce.recipient!r}, expected {want['recipient']!r}")
        if want["status"]:
            statuses += 1
            right_status += bounce.status == want["status"]
            if bounce.status != want["status"]:
                wrong.append(f"{relative}: status {bounce.status!r}, expected {want['status']!r}")
    sisimai = [r for r in EXPECTED if r.startswith("sisimai/")]
    print(f"\nbounces detected: {detected}/{len(EXPECTED)} ({len(sisimai)} of them sisimai's MTA samples)")
    print(f"bounced address right: {right_address}/{addresses}")
    print(f"status right: {right_status}/{statuses}")
    assert wrong == []
    assert detected == len(EXPECTED) - len(KNOWN_MISSES)


def test_no_other_test_mail_is_taken_for_a_bounce():
    others = [p for p in all_messages() if str(p.relative_to(TESTDATA)) not in EXPECTED]
    flagged = []
    for path in others:
        bounce = bounce_of(parse_message(path.read_bytes()))
        if bounce is not None:
            flagged.append(f"{path.relative_to(TESTDATA)} -> {bounce.recipient} {bounce.status}")
    print(f"\nfalse positives: {len(flagged)}/{len(others)} other messages")
    assert flagged == []


def test_known_misses_are_still_missed():
    for relative in KNOWN_MISSES:
        assert _bounce(relative) is None, f"{relative} is detected now: remove it from KNOWN_MISSES"


def test_a_report_without_a_dsn_names_the_failed_address_not_a_party():
    """qmail: the address is in the report's text, between the sender's own addresses."""
    bounce = _bounce("sisimai/rb-sisimai/eg/maildir-as-a-sample/new/qmail-02.eml")
    assert bounce is not None
    assert (bounce.recipient, bounce.status, bounce.action, bounce.permanent) == (
        "userunknown@example.jp",
        "5.1.1",
        "failed",
        True,
    )


def test_a_dsn_with_a_vague_status_takes_the_specific_one_from_its_diagnostic():
    """Google's DSN says 5.0.0; its diagnostic says 550 #5.1.0."""
    bounce = _bounce("sisimai/rb-sisimai/set-of-emails/maildir/bsd/email-gsuite-01.eml")
    assert bounce is not None and (bounce.recipient, bounce.status) == ("kijitora@example.de", "5.1.0")
    assert bounce.original_message_id == "<00222222-2222-2222-2222-FF00FFFF0000@example.jp>"


def test_a_status_in_words_becomes_its_code():
    """1&1 says "Mail size limit exceeded" and gives no code."""
    bounce = _bounce("sisimai/rb-sisimai/eg/maildir-as-a-sample/new/de-einsundeins-01.eml")
    assert bounce is not None and (bounce.recipient, bounce.status) == ("general@example.eu", "5.3.4")


def test_verizon_reports_from_an_unusual_address_under_a_reply_subject():
    bounce = _bounce("sisimai/p5-sisimai/eg/maildir-as-a-sample/new/us-verizon-1.eml")
    assert bounce is not None and (bounce.recipient, bounce.status) == ("000000000000@vtext.com", "5.1.1")


def test_a_spam_complaint_is_reported_but_marks_no_address_undeliverable():
    bounce = _bounce("flanker/tests/fixtures/messages/complaints/yahoo.eml")
    assert bounce is not None
    assert (bounce.recipient, bounce.action, bounce.permanent) == ("user@yahoo.com", "complained", False)


@pytest.mark.parametrize(
    "relative",
    [
        "flanker/tests/fixtures/messages/long-links.eml",  # a person writing from postmaster@
        "flanker/tests/fixtures/messages/disposition-notification.eml",  # a read receipt (MDN)
    ],
)
def test_mail_that_looks_like_a_report_but_is_none_is_no_bounce(relative):
    assert _bounce(relative) is None
