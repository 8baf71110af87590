"""Mutated real messages: nothing escapes parse_message or receive_raw as an exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.mail.models import RawState
from sportello.mail.parse import ParseError, parse_message
from sportello.mail.services import receive_raw
from tests.mail.fixtures import TESTDATA

SEEDS = [
    (TESTDATA / p).read_bytes()
    for p in (
        "flanker/tests/fixtures/messages/bounce/zed.eml",
        "stalwart-mail-parser/resources/eml/thirdparty/017.eml",
        "django-helpdesk/tests/test_files/forwarded-message.eml",
        "talon/tests/fixtures/standard_replies/outlook.eml",
    )
]
TOKENS = [
    b"\r\n", b"\n\n", b"--", b"=?utf-8?B?", b"?=", b"boundary=", b"Content-Type: multipart/mixed",
    b"charset=x-unknown", b"\xff\xfe", b"begin 644 x\n", b"=\n", b"<", b">", b"\x00",
    b"Content-Transfer-Encoding: base64",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position : position + draw(st.integers(1, 200))]
        elif action == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS))
        else:
            del data[position:]
    return bytes(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated())
def test_parse_never_raises_anything_but_parse_error(raw):
    with contextlib.suppress(ParseError):
        parse_message(raw)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(raw=mutated())
def test_receive_raw_never_raises(raw):
    if not raw.strip():
        return
    row = receive_raw(raw)
    assert row.state in (RawState.PROCESSED, RawState.QUARANTINED, RawState.DUPLICATE)
    assert row.state != RawState.QUARANTINED or row.reason
