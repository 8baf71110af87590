"""One person, one customer file: addresses written in different forms find the same identity."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from sportello.customers.identity import normalize
from sportello.customers.models import IdentityKind
from sportello.customers.services import Sender, find_or_create_customer
from sportello.mail.parse import parse_message

pytestmark = pytest.mark.django_db


def test_an_international_domain_is_kept_in_its_ascii_form():
    assert normalize(IdentityKind.EMAIL, " Anna@Bücher.Example ") == "anna@xn--bcher-kva.example"
    assert normalize(IdentityKind.EMAIL, "anna@xn--bcher-kva.example") == "anna@xn--bcher-kva.example"
    with pytest.raises(ValidationError):
        normalize(IdentityKind.EMAIL, "anna@")


def test_the_web_form_and_a_mail_from_an_international_domain_reach_one_customer():
    typed = find_or_create_customer(Sender(name="Anna", email="anna@bücher.example"))
    raw = "From: Anna <anna@bücher.example>\r\nTo: support@sportello.localhost\r\nSubject: Hi\r\n\r\nHello\r\n"
    parsed = parse_message(raw.encode("utf-8"))
    assert parsed.from_ is not None
    mailed = find_or_create_customer(Sender(name="Anna", email=parsed.from_.address))
    assert mailed.pk == typed.pk
