"""The wording of automatic mails: an admin's `EmailTemplate` for the customer's language, else
the built-in wording of that language, else English.

Texts use the placeholders of `automation.placeholders` (`{{ customer.first_name }}`,
`{{ ticket.number }}` …), never Django template syntax, so an admin's template cannot reach
anything but those values. The HTML part is the text, escaped, in paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sportello.core.html import text_to_html
from sportello.mail.models import EmailTemplate

BUILTIN: dict[str, dict[str, tuple[str, str]]] = {
    "acknowledgement": {
        "en": (
            "[#{{ ticket.number }}] We received your request: {{ ticket.subject }}",
            "Hello {{ customer.name }},\n\nwe have received your request and opened ticket #{{ ticket.number }} "
            "for it. Please keep this number in the subject when you write to us about it.\n\n"
            "Subject: {{ ticket.subject }}\n\n{{ kb.suggestions }}Your support team",
        ),
        "it": (
            "[#{{ ticket.number }}] Abbiamo ricevuto la sua richiesta: {{ ticket.subject }}",
            "Buongiorno {{ customer.name }},\n\nabbiamo ricevuto la sua richiesta e aperto il ticket "
            "#{{ ticket.number }}. La preghiamo di mantenere questo numero nell'oggetto quando ci scrive.\n\n"
            "Oggetto: {{ ticket.subject }}\n\n{{ kb.suggestions }}Il suo team di assistenza",
        ),
        "de": (
            "[#{{ ticket.number }}] Wir haben Ihre Anfrage erhalten: {{ ticket.subject }}",
            "Hallo {{ customer.name }},\n\nwir haben Ihre Anfrage erhalten und das Ticket #{{ ticket.number }} "
            "dafür angelegt. Bitte lassen Sie diese Nummer im Betreff, wenn Sie uns dazu schreiben.\n\n"
            "Betreff: {{ ticket.subject }}\n\n{{ kb.suggestions }}Ihr Support-Team",
        ),
        "bg": (
            "[#{{ ticket.number }}] Получихме вашето запитване: {{ ticket.subject }}",
            "Здравейте, {{ customer.name }},\n\nполучихме вашето запитване и отворихме билет #{{ ticket.number }}. "
            "Моля, запазете този номер в темата, когато ни пишете по въпроса.\n\n"
            "Тема: {{ ticket.subject }}\n\n{{ kb.suggestions }}Вашият екип за поддръжка",
        ),
    },
    "csat": {
        "en": (
            "[#{{ ticket.number }}] How did we do? {{ ticket.subject }}",
            "Hello {{ customer.name }},\n\nyour request #{{ ticket.number }} ({{ ticket.subject }}) has been solved. "
            "How did we do? One click is enough:\n\n"
            "Good, I'm satisfied: {{ csat.good_url }}\n\nBad, I'm not satisfied: {{ csat.bad_url }}\n\n"
            "You can add a comment on the page that opens.\n\nYour support team",
        ),
        "it": (
            "[#{{ ticket.number }}] Com'è andata? {{ ticket.subject }}",
            "Buongiorno {{ customer.name }},\n\nla sua richiesta #{{ ticket.number }} ({{ ticket.subject }}) è stata "
            "risolta. Com'è andata? Basta un clic:\n\n"
            "Bene, sono soddisfatto: {{ csat.good_url }}\n\nMale, non sono soddisfatto: {{ csat.bad_url }}\n\n"
            "Nella pagina che si apre può aggiungere un commento.\n\nIl suo team di assistenza",
        ),
        "de": (
            "[#{{ ticket.number }}] Wie war unser Service? {{ ticket.subject }}",
            "Hallo {{ customer.name }},\n\nIhre Anfrage #{{ ticket.number }} ({{ ticket.subject }}) wurde gelöst. "
            "Wie zufrieden sind Sie? Ein Klick genügt:\n\n"
            "Gut, ich bin zufrieden: {{ csat.good_url }}\n\nSchlecht, ich bin nicht zufrieden: {{ csat.bad_url }}\n\n"
            "Auf der folgenden Seite können Sie einen Kommentar hinzufügen.\n\nIhr Support-Team",
        ),
        "bg": (
            "[#{{ ticket.number }}] Как се справихме? {{ ticket.subject }}",
            "Здравейте, {{ customer.name }},\n\nвашето запитване #{{ ticket.number }} ({{ ticket.subject }}) е решено. "
            "Как се справихме? Достатъчно е едно щракване:\n\n"
            "Добре, доволен съм: {{ csat.good_url }}\n\nЗле, не съм доволен: {{ csat.bad_url }}\n\n"
            "На страницата, която ще се отвори, можете да добавите коментар.\n\nВашият екип за поддръжка",
        ),
    },
    "reply": {
        language: ("[#{{ ticket.number }}] {{ ticket.subject }}", "{{ reply.text }}\n\n--\n{{ agent.name }}\n" + label)
        for language, label in (
            ("en", "Ticket #{{ ticket.number }}"),
            ("it", "Ticket #{{ ticket.number }}"),
            ("de", "Ticket #{{ ticket.number }}"),
            ("bg", "Билет #{{ ticket.number }}"),
        )
    },
}


# The line above the knowledge-base articles that `{{ kb.suggestions }}` lists in the acknowledgement
# (the caller fills the placeholder, heading and links, or leaves it empty when nothing matches).
KB_SUGGESTIONS_HEADING = {
    "en": "These articles from our help centre may already answer your question:",
    "it": "Questi articoli del nostro centro assistenza potrebbero già rispondere alla sua domanda:",
    "de": "Diese Artikel aus unserem Hilfe-Center beantworten Ihre Frage vielleicht schon:",
    "bg": "Тези статии от помощния ни център може вече да отговарят на въпроса ви:",
}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def wording(key: str, language: str) -> tuple[str, str] | None:
    """(subject, body) for `key` in `language`: the admin's, else built-in, else English; None if none."""
    base = (language or "en").split("-")[0].lower()
    for lang in dict.fromkeys((base, "en")):
        row = EmailTemplate.objects.filter(key=key, language=lang, active=True).first()
        if row is not None:
            return row.subject, row.body
        if lang in BUILTIN.get(key, {}):
            return BUILTIN[key][lang]
    return None


def render_mail(key: str, language: str, context: dict[str, Callable[[], str]]) -> RenderedMail | None:
    from sportello.automation.placeholders import render

    found = wording(key, language)
    if found is None:
        return None
    subject, body = found
    subject = " ".join(render(subject, context).split())[:255]
    text = render(body, context).strip() + "\n"
    return RenderedMail(subject=subject, text=text, html=text_to_html(text))
