"""Folding quoted history and signatures away from the visible part of a reply.

`mail-parser-reply` splits a plain-text body at the quote headers of many mail clients and
languages ("On … wrote:", "Am … schrieb …:", "Il … ha scritto:", Outlook's From/Sent block) and
finds signatures. Around it: HTML bodies lose the containers mail clients put quotes in before
they become text, and quoted lines (">") left at the end are cut. The full text always stays on
the entry; this is only what an agent sees first.
"""

from __future__ import annotations

import logging
import re

from mailparser_reply import EmailReplyParser

from sportello.core.html import html_to_text

log = logging.getLogger("sportello.mail")

# mail-parser-reply has no Bulgarian; the others are the languages our customers write in.
LANGUAGES = ["en", "de", "it", "fr", "es", "nl", "pl", "sv", "da", "cs"]
_parser = EmailReplyParser(languages=LANGUAGES)

# Where mail clients start the quoted message in HTML: the text before the first one is the reply.
_HTML_QUOTE_STARTS = [
    r'<div[^>]+class="?gmail_quote',
    r'<div[^>]+class="?gmail_extra',
    r'<blockquote[^>]+type="?cite',
    r'<div[^>]+id="?divRplyFwdMsg',
    r'<div[^>]+id="?appendonsend',
    r'<div[^>]+class="?yahoo_quoted',
    r'<div[^>]+class="?moz-cite-prefix',
    r'<div[^>]+id="?OLK_SRC_BODY_SECTION',
    r'<span[^>]+id="?OLK_SRC_BODY_SECTION',
    r'<div[^>]+class="?OutlookMessageHeader',
    r'<div[^>]+style="[^"]*border-top:\s*solid\s*#[Bb]5[Cc]4[Dd][Ff]',  # Outlook's "From:" rule
    r'<div[^>]+style="[^"]*border:none;\s*border-top:solid\s*#E1E1E1',
    r"<hr[^>]*id=\"?(?:stopSpelling|replySplit)",
    r'<div[^>]+class="?(?:ms-outlook-mobile-reference-message|zmail_extra|mail-quote)',
    r'<div[^>]+data-marker="__QUOTED_TEXT__',
    r"<blockquote",
]
_HTML_QUOTE = re.compile("|".join(f"(?:{p})" for p in _HTML_QUOTE_STARTS), re.IGNORECASE)
# Quote headers the library does not know: other languages, "date, name <address>:" (Yandex,
# Mail.ru), and Outlook's From/Sent block when HTML made each field a paragraph.
_HEADER_END = re.compile(
    r"(?:(?:wrote|schrieb|scritto|écrit|escribió|schreef|написал|написала|написа|napisał)[^\n]{0,80}:"
    r"|\d[^\n]*<[^<>\s]+@[^<>\s]+>)\s*:?\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*(?:From|Von|Da|De|От|Van|Od|Fra|Från|Kimden):", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*(?:Sent|Date|Gesendet|Datum|Inviato|Data|Envoyé|Enviado|Отправлено|Изпратено|Verzonden|Wysłane|"
    r"Skickat|Sendt|Gönderildi|On Behalf Of):",
    re.IGNORECASE,
)
_QUOTED_LINE = re.compile(r"^\s*>")
# Signatures: the "-- " delimiter (RFC 3676) and the phone clients' one-liners.
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_SENT_FROM = re.compile(
    r"^\s*(?:sent from my|sent from (?:outlook|mail|yahoo)|get outlook for|sent with|sent via|"
    r"von meinem|inviato da|envoyé de mon|enviado desde mi|изпратено от)\b[^,.\n]{0,60}$",
    re.IGNORECASE | re.MULTILINE,
)
# A line that ends the message proper: a rule, or a "-Name" sign-off (the library's own rule).
_SEPARATOR = re.compile(r"^\s*(?:-- ?|[-_=*]{5,}.*|-\s?[A-Z][\w.]*(?: [\w.]+)?)\s*$")


def visible_reply(text: str, html: str = "") -> str:
    """The new part of a reply; the whole text when nothing looks quoted. Never raises."""
    try:
        if not text.strip() and html:
            text = html_to_text(_cut_html_quote(html))
        elif html and _looks_derived(text, html):
            text = html_to_text(_cut_html_quote(html)) or text
        return _visible_text(text)
    except Exception:  # a pathological body must never stop intake
        log.warning("quote folding failed; showing the full text", exc_info=True)
        return text.strip()


def _looks_derived(text: str, html: str) -> bool:
    """True when the text part was made from the HTML part without quote markers (">")."""
    return not any(_QUOTED_LINE.match(line) for line in text.splitlines()) and bool(_HTML_QUOTE.search(html))


def _cut_html_quote(html: str) -> str:
    match = _HTML_QUOTE.search(html)
    if match and html_to_text(html[: match.start()]).strip():
        return html[: match.start()]
    return html


def _visible_text(text: str) -> str:
    """1. The first reply the library finds (its content: a sign-off like "Thanks, Alex" stays).
    2. Quoted lines before it (bottom-posting) and after it go, with a header the library missed.
    3. The signature after "-- " and "Sent from my …" lines go.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    message = _parser.read(text)
    visible = message.replies[0].content if message.replies else text
    header = message.replies[0].headers if message.replies else ""
    if header and visible.startswith(header):
        visible = visible[len(header) :]
    lines = visible.strip().splitlines()
    while lines and (_QUOTED_LINE.match(lines[0]) or not lines[0].strip()):
        lines.pop(0)
    lines = _cut_unknown_header(lines)
    while lines and (_QUOTED_LINE.match(lines[-1]) or not lines[-1].strip()):
        lines.pop()
    visible = "\n".join(lines)
    signature = _SIGNATURE.search(visible)
    if signature and signature.start() > 0:
        visible = visible[: signature.start()]
    visible = _SENT_FROM.sub("", visible).strip()
    return visible or text.strip()


def _cut_unknown_header(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if _OUTLOOK_FROM.match(line):
            following = [other for other in lines[index + 1 : index + 12] if other.strip()][:5]
            if any(_OUTLOOK_SENT.match(other) for other in following):
                return lines[:index]
        if _HEADER_END.search(line):
            start = index
            # A header wrapped over two or three lines: take the lines above that belong to it.
            while start > 0 and index - start < 2 and _header_fragment(lines[start - 1]):
                start -= 1
            if start > 0:
                return lines[:start]
        if _SEPARATOR.match(line):
            return lines[:index]
    return lines


def _header_fragment(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped.endswith((".", "!", "?")):
        return False
    return "@" in stripped or "<" in stripped or bool(re.search(r"\d{1,2}[:.]\d{2}", stripped))
