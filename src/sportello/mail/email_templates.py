"""Admins' email templates: which placeholders each mail offers, checking a wording before it is
saved, saving and resetting it, and a preview rendered as the real mail would be (a sample ticket).

A template is plain text with the placeholders of `automation.placeholders` (`{{ ticket.number }}`):
no Django template syntax, so nothing here can fail at send time but an unknown name, which is
refused on save with the list of names the mail offers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.automation.placeholders import PATTERN, PLACEHOLDERS, render
from sportello.core.errors import InvalidInput
from sportello.core.html import sanitize_html, text_to_html
from sportello.mail.models import EmailTemplate
from sportello.mail.templating import BUILTIN, KB_SUGGESTIONS_HEADING

LANGUAGES = [code for code, _name in settings.LANGUAGES]

# The placeholders a mail offers beyond the ticket's (filled by the code that sends it).
EXTRA_PLACEHOLDERS: dict[str, dict[str, str]] = {
    "acknowledgement": {"kb.suggestions": "help-centre articles that may answer the request (may be empty)"},
    "csat": {"csat.good_url": "the link to rate the answer good", "csat.bad_url": "the link to rate it bad"},
    "reply": {"reply.text": "the agent's reply"},
}

# Anything that looks like template syntax: a placeholder must match PATTERN exactly.
_BRACES = re.compile(r"\{\{.*?\}\}|\{\{|\}\}|\{%.*?%\}|\{%|%\}", re.DOTALL)


def known_keys() -> list[str]:
    """Built-in mails first, then the keys admins made for triggers and time rules."""
    own = EmailTemplate.objects.exclude(key__in=list(BUILTIN)).values_list("key", flat=True).distinct()
    return [*BUILTIN, *sorted(set(own))]


def placeholders_for(key: str) -> dict[str, str]:
    return {**PLACEHOLDERS, **EXTRA_PLACEHOLDERS.get(key, {})}


def check_wording(key: str, text: str) -> list[str]:
    """What is wrong with the placeholders of `text` (empty: nothing), one sentence each."""
    allowed = placeholders_for(key)
    problems: list[str] = []
    for found in _BRACES.finditer(text):
        token = found.group(0)
        placeholder = PATTERN.fullmatch(token)
        if token.startswith("{%") or token.endswith("%}"):
            problem = _("“%(token)s”: template tags are not supported; use placeholders such as {{ ticket.number }}.")
        elif placeholder is None:
            problem = _("“%(token)s” is not a placeholder: write a name from the list between {{ and }}.")
        elif placeholder.group(1) not in allowed:
            problem = _("“%(token)s” is not a placeholder of this mail; use one from the list.")
        else:
            continue
        message = problem % {"token": token[:60]}
        if message not in problems:
            problems.append(message)
    return problems


def template_row(key: str, language: str) -> EmailTemplate | None:
    return EmailTemplate.objects.filter(key=key, language=language).first()


def default_wording(key: str, language: str) -> tuple[str, str]:
    """The built-in (subject, body) of a mail in a language (English when it has none)."""
    wordings = BUILTIN.get(key, {})
    return wordings.get(language) or wordings.get("en") or ("", "")


def save_template(*, key: str, language: str, subject: str, body: str, active: bool) -> EmailTemplate:
    """Create or change the admin's wording of `key` in `language`, refused when its syntax is wrong."""
    if language not in LANGUAGES:
        raise InvalidInput(_("Choose one of the languages."), field="language")
    if not subject.strip():
        raise InvalidInput(_("Write a subject."), field="subject")
    if not body.strip():
        raise InvalidInput(_("Write the text of the mail."), field="body")
    for field, text in (("subject", subject), ("body", body)):
        problems = check_wording(key, text)
        if problems:
            raise InvalidInput(" ".join(problems), field=field)
    with transaction.atomic():
        row, _created = EmailTemplate.objects.update_or_create(
            key=key,
            language=language,
            defaults={
                "subject": " ".join(subject.split())[:255],
                "body": body.replace("\r\n", "\n"),
                "active": active,
                "updated_at": timezone.now(),
            },
        )
    return row


def reset_template(key: str, language: str) -> bool:
    """Forget the admin's wording: the built-in one is used again. False when there was none."""
    deleted, _rows = EmailTemplate.objects.filter(key=key, language=language).delete()
    return bool(deleted)


@dataclass(frozen=True)
class Preview:
    subject: str
    text: str
    html: str


SAMPLE_REPLY = "Thank you for your patience: the technician will come tomorrow at 10."


def _sample_context(key: str, language: str) -> dict[str, Callable[[], str]]:
    site = settings.SITE_URL.rstrip("/")
    values = {
        "customer.name": "Carla Rossi",
        "customer.first_name": "Carla",
        "customer.email": "carla@example.com",
        "ticket.number": "10452",
        "ticket.subject": "The printer in room 4 is on fire",
        "ticket.status": "Open",
        "ticket.priority": "High",
        "ticket.group": "First level",
        "ticket.url": f"{site}/tickets/10452/",
        "agent.name": "Alice Agent",
        "agent.first_name": "Alice",
        "sla.due": "2026-12-04 10:00 UTC",
        "kb.url": f"{site}/help/",
        "site.url": site,
        "kb.suggestions": f"{KB_SUGGESTIONS_HEADING.get(language, KB_SUGGESTIONS_HEADING['en'])}\n"
        f"- Printer safety: {site}/help/\n\n",
        "csat.good_url": f"{site}/csat/sample/good",
        "csat.bad_url": f"{site}/csat/sample/bad",
        "reply.text": SAMPLE_REPLY,
    }
    allowed = placeholders_for(key)
    return {name: _constant(value) for name, value in values.items() if name in allowed}


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def preview(key: str, language: str, subject: str, body: str) -> Preview:
    """The mail as a customer would get it about a sample ticket: the same placeholders, the same
    subject tag and the same HTML part (the text escaped, in paragraphs), sanitized once more."""
    from sportello.mail.outbound import tagged_subject

    context = _sample_context(key, language)
    text = render(body, context).strip() + "\n"
    shown_subject = " ".join(render(subject, context).split())[:255]
    # The reply mail's subject is the ticket's; the others carry the wording's, tagged.
    shown_subject = (
        f"[#10452] {context['ticket.subject']()}" if key == "reply" else tagged_subject(shown_subject, 10452)
    )
    return Preview(subject=shown_subject, text=text, html=sanitize_html(text_to_html(text)))
