"""The messages sent to the model for each action, built only from what the agent may see.

What goes out, per action (docs/assist.md repeats it for admins):
- summarise: the thread (subject, each message's author role, first name and text);
- draft: the thread, and up to three published *public* knowledge-base articles matching it
  (title, public link, text), which the model is told to cite by link;
- tone: only the text the agent typed;
- translate_in: only the customer's latest message; translate_out: only the text the agent typed.
Internal notes join the thread only when the agent ticks "Include internal notes"; they are
marked as such, and the model is told never to quote them to the customer. Attachments, e-mail
addresses, phone numbers and custom fields are never sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from sportello.core.html import html_to_text
from sportello.tickets.models import Direction, Entry, Ticket

ENTRY_CHARS = 4_000  # one message, cut at this length
THREAD_CHARS = 24_000  # the whole thread: the first message and the latest that fit
ARTICLE_CHARS = 3_000
TEXT_CHARS = 8_000  # what the agent typed


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    url: str
    text: str


def language_name(code: str) -> str:
    names = {"en": "English", "it": "Italian", "de": "German", "bg": "Bulgarian", "fr": "French", "es": "Spanish"}
    base = (code or settings.LANGUAGE_CODE).split("-")[0].lower()
    return names.get(base, base)


def entry_text(entry: Entry) -> str:
    text = (entry.body_text or "").strip() or html_to_text(entry.body_html or "").strip()
    return text[:ENTRY_CHARS] + (" […]" if len(text) > ENTRY_CHARS else "")


def _author(entry: Entry) -> str:
    if entry.internal:
        who = entry.author_user.first_name if entry.author_user else "an agent"
        return f"Internal note by {who} (agents only: never quote it to the customer)"
    if entry.direction == Direction.INBOUND:
        name = entry.author_customer.name if entry.author_customer else ""
        return f"Customer{f' ({name})' if name else ''}"
    if entry.author_user:
        return f"Agent ({entry.author_user.first_name or 'support'})"
    return "Support (automatic)"


def thread_text(ticket: Ticket, entries: list[Entry]) -> str:
    """The ticket as plain text: its subject, then each message, oldest first.

    Too long a thread keeps its first message (the problem) and the latest ones (where it stands),
    with a line saying how many were left out between them.
    """
    blocks = [f"[{e.created_at:%Y-%m-%d %H:%M}] {_author(e)}:\n{entry_text(e)}" for e in entries if entry_text(e)]
    head = f"Ticket #{ticket.number}: {ticket.subject}\nCustomer's language: {language_name(ticket.language)}\n"
    if not blocks:
        return head
    kept = [blocks[-1]]
    size = len(head) + len(blocks[0]) + len(blocks[-1])
    for block in reversed(blocks[1:-1]):
        if size + len(block) > THREAD_CHARS:
            break
        kept.insert(0, block)
        size += len(block)
    left_out = len(blocks) - 1 - len(kept)
    first = [blocks[0]] if len(blocks) > 1 else []
    gap = [f"[… {left_out} earlier messages left out …]"] if left_out > 0 else []
    return "\n\n".join([head, *first, *gap, *kept])


def summarise(ticket: Ticket, entries: list[Entry], agent_language: str) -> list[dict[str, str]]:
    system = (
        "You help a customer-support agent. Summarise the support ticket below for a colleague who "
        "has not read it: the customer's problem, what has been tried or promised, and what is still "
        f"open, in at most six short bullet points. Write in {language_name(agent_language)}. "
        "Use only facts from the ticket."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": thread_text(ticket, entries)}]


def draft(ticket: Ticket, entries: list[Entry], articles: list[Article], agent_name: str) -> list[dict[str, str]]:
    language = language_name(ticket.language)
    system = (
        "You help a customer-support agent write a reply to the customer's latest message. "
        f"Write the reply in {language}, friendly and brief, ready for the agent to edit and send. "
        "Use facts from the ticket and from the knowledge-base articles below only; do not invent "
        "policies, prices or dates. When an article helps, cite it in the text as its title followed "
        "by its link, exactly as given. When nothing answers the question, ask the customer for what "
        "is missing. Never reveal internal notes. Write only the reply's text, with no subject line, "
        f"signed by {agent_name or 'the agent'}."
    )
    if articles:
        listed = "\n\n".join(f"Article: {a.title}\nLink: {a.url}\n{a.text}" for a in articles)
    else:
        listed = "(no matching article)"
    user = f"{thread_text(ticket, entries)}\n\n=== Knowledge-base articles ===\n{listed}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def tone(text: str) -> list[dict[str, str]]:
    system = (
        "You help a customer-support agent. Rewrite the agent's draft below so that it reads clear, "
        "polite and warm, without changing its facts, links, numbers or language, and without adding "
        "promises. Answer with the rewritten text only."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": text[:TEXT_CHARS]}]


def translate(text: str, target_language: str) -> list[dict[str, str]]:
    system = (
        f"Translate the text below into {language_name(target_language)}. Keep its meaning, tone, "
        "links and line breaks. Answer with the translation only."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": text[:TEXT_CHARS]}]


def article_terms(ticket: Ticket, entries: list[Entry]) -> str:
    """What the knowledge base is searched with: the subject and the customer's latest message."""
    latest = next((e for e in reversed(entries) if e.direction == Direction.INBOUND and not e.internal), None)
    return f"{ticket.subject} {entry_text(latest)[:300] if latest else ''}"
