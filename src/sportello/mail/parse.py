"""Turning raw MIME bytes into one `ParsedMail` value, whatever state the bytes are in.

The standard library's `email` package (policy.default) reads the structure; everything it is
lenient about is made more lenient here, because real mail is broken in every way: charsets that
are wrong or missing, encoded words inside quoted strings or with bad padding, 8-bit headers,
missing boundaries, uuencoded files inside plain text. Content problems never raise; only bytes
with nothing usable in them raise `ParseError`.

Which parts are the body and which are attachments follows the algorithm of RFC 8621 (JMAP)
section 4.1.4, the same one stalwart's parser implements, so our tests can use its truth files.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import email
import html
import logging
import quopri
import re
import types
from dataclasses import dataclass, field
from datetime import datetime
from email import feedparser, policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import parsedate_to_datetime
from typing import Any

from sportello.core.html import html_to_text
from sportello.core.text import clean
from sportello.mail.replies import visible_reply

logger = logging.getLogger(__name__)

MAX_DEPTH = 8  # nested forwards deeper than this are kept as attachments only
MAX_ADDRESS_HEADER = 256 * 1024  # characters of one address header parsed (5,000 and more addresses)
DEFAULT_MAX_ATTACHMENTS = 100  # parts stored per message; settings.MAIL_MAX_ATTACHMENTS


class ParseError(Exception):
    """The bytes hold nothing we can turn into a message."""


@dataclass
class Address:
    address: str
    name: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"address": self.address, "name": self.name}


@dataclass
class Part:
    """An attachment or inline part, decoded."""

    filename: str
    content_type: str
    content: bytes
    inline: bool = False
    content_id: str = ""

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class ParsedMail:
    from_: Address | None = None
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # The message's own body; forwarded messages are in `forwarded` and joined in `full_text`.
    text: str = ""
    html: str = ""  # as received (not sanitized): intake sanitizes it
    visible_text: str = ""
    attachments: list[Part] = field(default_factory=list)
    forwarded: list[ParsedMail] = field(default_factory=list)
    # Lower-case header name -> decoded values, for the filters (auto-reply, lists, bounces).
    headers: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = "text/plain"
    # Structured parts the filters look at: DSN field blocks and the headers of the bounced message.
    delivery_status: list[dict[str, str]] = field(default_factory=list)
    returned_headers: dict[str, list[str]] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)
    # Parts over the limit (MAIL_MAX_ATTACHMENTS): not decoded, kept in the raw message only.
    omitted_attachments: int = 0

    @property
    def omitted_note(self) -> str:
        count = self.omitted_attachments
        if not count:
            return ""
        if count == 1:
            return "[1 more attachment is kept in the original message only]"
        return f"[{count} more attachments are kept in the original message only]"

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def full_text(self) -> str:
        """The body with each forwarded message shown as a block, as an agent should read it."""
        blocks = [self.text.strip()] if self.text.strip() else []
        for inner in self.forwarded:
            lines = ["---------- Forwarded message ----------"]
            if inner.from_:
                lines.append(f"From: {_format_address(inner.from_)}")
            if inner.date:
                lines.append(f"Date: {inner.date:%Y-%m-%d %H:%M %z}")
            if inner.subject:
                lines.append(f"Subject: {inner.subject}")
            if inner.to:
                lines.append("To: " + ", ".join(_format_address(a) for a in inner.to))
            blocks.append("\n".join(lines) + "\n\n" + inner.full_text)
        if self.omitted_note:
            blocks.append(self.omitted_note)
        return "\n\n".join(blocks)


def _format_address(address: Address) -> str:
    return f"{address.name} <{address.address}>" if address.name else address.address


# --- Charsets --------------------------------------------------------------------------------------

_CHARSET_ALIASES = {
    "unknown-8bit": "",
    "x-unknown": "",
    "unknown": "",
    "x-user-defined": "cp1252",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "gb2312": "gb18030",  # a superset: mail labelled gb2312 often holds gbk characters
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
    "latin1": "latin-1",
    "iso-8859-1": "cp1252",  # mail labelled latin-1 is usually Windows' superset of it
    "iso8859-1": "cp1252",
    "shift_jis": "cp932",  # Windows' superset, as every Japanese mailer writes it
    "x-sjis": "cp932",
    "sjis": "cp932",
}
_SINGLE_BYTE_LABELS = {"ascii", "cp1252", "iso8859-1", "iso8859-15"}
# What unlabelled 8-bit mail is written in, in practice: the legacy code pages of the languages
# people write to a help desk in. Detection only chooses among these (charset-normalizer left free
# takes German for Big5 and Russian KOI8-R for Shift-JIS on short texts).
_DETECTABLE = [
    *("cp1252", "cp1250", "cp1251", "koi8_r", "koi8_u", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257"),
    *("iso8859_2", "iso8859_5", "iso8859_7", "iso8859_15", "cp874"),
    *("cp932", "euc_jp", "gb18030", "big5", "cp949"),
]
_LATIN_CODE_PAGES = {"cp1250", "cp1252", "cp1254", "cp1257", "iso8859_2", "iso8859_15"}
_ISO_2022_ESCAPE = re.compile(rb"\x1b(?:\$[@B(]|\([BJI]|\$\)C)")


def _codec(label: str | None) -> str:
    label = (label or "").replace("\x00", "").strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return ""
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return ""


def wire_bytes(text: str) -> bytes:
    """A string the `email` package made from bytes, as those bytes again: it keeps 8-bit bytes
    as surrogate escapes (U+DC80-U+DCFF). Any other lone surrogate (decoders such as UTF-7 make
    them) cannot be encoded and becomes U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udc7f\udd00-\udfff]", "\ufffd", text).encode("utf-8", "surrogateescape")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode text whose label may be wrong or missing.

    1. 7-bit text with ISO-2022 escape sequences is ISO-2022-JP (or -KR), whatever the label.
    2. The declared charset, strictly — except that bytes labelled ASCII or Latin-1 which are
       valid UTF-8 with non-ASCII in them are UTF-8: a wrong label is far likelier than chance.
    3. UTF-8, strictly.
    4. A declared charset that fails on a few bytes only: that charset, the few replaced.
    5. Otherwise (no label, ASCII holding 8-bit bytes, a label that does not fit): the charset
       that charset-normalizer finds among the usual legacy ones, preferring cp1252 when it
       reads as well; cp1252 with replacements when nothing fits.
    """
    declared = _codec(charset)
    if data.isascii():
        if b"\x1b" in data and _ISO_2022_ESCAPE.search(data) and not declared.startswith(("utf", "iso2022")):
            return _iso_2022(data, "iso2022_kr" if b"\x1b$)C" in data else "iso2022_jp")
        if declared.startswith("iso2022"):
            return _iso_2022(data, declared)
        if declared in _SINGLE_BYTE_LABELS or declared in ("", "utf-8"):
            return data.decode("ascii")
    if declared in _SINGLE_BYTE_LABELS or declared == "":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if declared and declared != "ascii":
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
        if declared in _SINGLE_BYTE_LABELS:
            return data.decode(declared, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared and declared != "ascii":
        # Damaged text in its charset (a cut multi-byte character, junk appended) still reads
        # mostly right in it; text in another charset (cp1251 labelled UTF-8) barely reads at all.
        text = data.decode(declared, errors="replace")
        bad = text.count("\ufffd")
        if bad <= 4 * sum(1 for char in text if char > "\x7f" and char != "\ufffd"):
            return text
    return _detect(data)


def _detect(data: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_isolation=_DETECTABLE)
    best = matches.best()
    if best is None or sum(byte > 0x7F for byte in data) < 6:  # too few 8-bit bytes to tell
        return data.decode("cp1252", errors="replace")
    # Between the Latin-script code pages charset-normalizer cannot tell (the few accented
    # letters barely move its scores: Italian came out as cp1250, "®" as Central European "Ž");
    # cp1252 is by far the likeliest of them in mail, and what unlabelled mail was read as before
    # detection. Polish or Czech in cp1250 reads clearly worse in cp1252 (chaos 0.14 and more).
    for match in matches:
        if "cp1252" not in match.could_be_from_charset:
            continue
        if best.encoding in _LATIN_CODE_PAGES and match.chaos <= best.chaos + 0.08:
            return data.decode("cp1252", errors="replace")
        if match.chaos <= best.chaos and match.coherence >= best.coherence:
            return data.decode("cp1252", errors="replace")
    return str(best)


def _iso_2022(data: bytes, codec: str) -> str:
    """ISO-2022-JP as mailers write it: strictly, else with the extensions Windows mailers use
    (NEC and IBM characters, half-width katakana) read through their Shift-JIS form (cp932)."""
    for candidate in dict.fromkeys([codec, "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3"]):
        if candidate.startswith("iso2022_kr") and codec != candidate:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    if codec.startswith("iso2022_kr"):
        return data.decode(codec, errors="replace")
    return _jis_as_cp932(data)


def _jis_as_cp932(data: bytes) -> str:
    out = bytearray()
    mode = "ascii"
    index, length = 0, len(data)
    while index < length:
        byte = data[index]
        if byte == 0x1B:
            sequence = data[index + 1 : index + 3]
            if sequence in (b"$@", b"$B"):
                mode, index = "jis", index + 3
                continue
            if sequence == b"(I":
                mode, index = "kana", index + 3
                continue
            if sequence[:1] == b"(":
                mode, index = "ascii", index + 3
                continue
        if byte == 0x0E or byte == 0x0F:  # shift out / in: half-width katakana (cp50221)
            mode = "kana" if byte == 0x0E else "ascii"
            index += 1
            continue
        if mode == "jis" and 0x21 <= byte <= 0x7E and index + 1 < length:
            first, second = byte, data[index + 1]
            lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
            trail = second + (0x1F + (second >= 0x60) if first % 2 else 0x7E)
            out += bytes((lead, trail))
            index += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        index += 1
    return out.decode("cp932", errors="replace")


# --- Headers ---------------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*?)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")


def _decode_word(charset: str, encoding: str, payload: str) -> bytes | None:
    try:
        if encoding.lower() == "b":
            payload = re.sub(r"[^A-Za-z0-9+/]", "", payload)
            payload += "=" * (-len(payload) % 4)
            return base64.b64decode(payload)
        try:  # 8-bit bytes inside an encoded word reach us as Latin-1 characters
            data = payload.replace("_", " ").encode("latin-1")
        except UnicodeEncodeError:
            data = payload.replace("_", " ").encode("utf-8")
        return quopri.decodestring(data, header=False)
    except (binascii.Error, ValueError):
        return None


# The surrogates the email package keeps undecodable bytes as (surrogateescape); one compiled
# scan, not a Python loop over every character (a 3 MB References header took 0.5 s that way).
_RAW_BYTE = re.compile("[\udc80-\udcff]")


def decode_header_value(value: Any) -> str:
    """Decode RFC 2047 encoded words leniently, anywhere in the value, with charset fallbacks.

    Adjacent encoded words in the same charset are joined before decoding, because multi-byte
    characters are often split across them.
    """
    if value is None:
        return ""
    text = str(value)
    if _RAW_BYTE.search(text):  # raw 8-bit bytes kept by the parser
        text = decode_bytes(wire_bytes(text))
    if "=?" not in text:
        return clean(_unfold(text))
    text = _BETWEEN_WORDS.sub(r"\1\2", text)
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            pieces.append(decode_bytes(b"".join(pending), pending_charset))
        pending, pending_charset = [], ""

    for match in _ENCODED_WORD.finditer(text):
        if match.start() > position:
            flush()
            pieces.append(text[position : match.start()])
        charset, encoding, payload = match.groups()
        decoded = _decode_word(charset, encoding, payload)
        if decoded is None:
            flush()
            pieces.append(match.group(0))
        else:
            if pending and charset.lower() != pending_charset.lower():
                flush()
            pending.append(decoded)
            pending_charset = charset
        position = match.end()
    flush()
    pieces.append(text[position:])
    # NUL and lone surrogates (UTF-7 decodes to them) reach no query and no file name.
    return clean(_unfold("".join(pieces)))


def _unfold(text: str) -> str:
    return re.sub(r"[\r\n]+[ \t]*", " ", text).strip()


def _raw_headers(message: Message, name: str) -> list[str]:
    """Header values as they were on the wire (folded, encoded words intact).

    The headers are gathered by name once per message (kept on it: a parsed message is not
    changed afterwards); a message's dozen look-ups each walked all its headers before."""
    index: dict[str, list[str]] | None = message.__dict__.get("_sportello_headers")
    if index is None:
        index = {}
        for key, value in message.raw_items() if hasattr(message, "raw_items") else message.items():
            index.setdefault(key.lower(), []).append(str(value))
        message.__dict__["_sportello_headers"] = index
    return list(index.get(name, ()))


# --- Addresses -------------------------------------------------------------------------------------
#
# An address header is parsed by its structure (RFC 5322 section 3.4) before anything is decoded:
# encoded words (RFC 2047) may only stand for text in a display name, so one that holds `@`, `<`
# or `,` is a single opaque token here and can never become an address or split the list. The
# address is what stands in angle brackets; a display name, a comment or a group name never is.

_ADDRESS_TOKENS = re.compile(
    r"""(?P<word>=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)
      | (?P<quoted>"(?:[^"\\]|\\.)*(?:"|\Z))
      | (?P<angle><[^<>]*(?:>|\Z))
      | (?P<special>[,;:()])
      | (?P<space>\s+)
      | (?P<atom>(?:[^\s"<>,;:()=]|=(?!\?))+)
      | (?P<junk>.)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass
class _Token:
    kind: str  # word (encoded), quoted, angle, special, space, atom, junk, comment
    text: str


def _address_tokens(value: str) -> list[_Token]:
    """The header split into tokens; comments (nested, with escapes) become one token each."""
    tokens: list[_Token] = []
    position, length = 0, len(value)
    while position < length:
        if value[position] == "(":
            depth, end = 0, position
            while end < length:
                char = value[end]
                if char == "\\":
                    end += 1
                elif char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            tokens.append(_Token("comment", value[position + 1 : end]))
            position = end + 1
            continue
        match = _ADDRESS_TOKENS.match(value, position)
        assert match is not None and match.lastgroup is not None  # `junk` matches any character
        tokens.append(_Token(match.lastgroup, match.group(0)))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:])


def _phrase(tokens: list[_Token]) -> str:
    """The display name the tokens spell, encoded words decoded."""
    text = "".join(
        " " if t.kind == "space" else _unquote(t.text) if t.kind == "quoted" else t.text
        for t in tokens
        if t.kind != "comment"
    )
    return decode_header_value(text).strip()


def _domain(domain: str) -> str:
    """International domains in their ASCII (A-label) form: one identity whichever form a mailer
    wrote, and no lookalike letters from another script in the address that decides who wrote."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _mailbox(spec: str) -> str:
    """`local@domain` from an addr-spec (or an obsolete route `@a,@b:local@domain`); "" when it is none."""
    spec = spec.rpartition(":")[2] if spec.startswith("@") else spec
    if '"' not in spec:  # a quoted local part keeps its spaces
        spec = re.sub(r"\s+", "", spec)
    spec = spec.strip()
    local, at, domain = spec.rpartition("@")
    domain = domain.strip(".")
    if not at or not local or not domain or "@" in domain or "<" in spec or ">" in spec:
        return ""
    return f"{local}@{_domain(domain)}"


def _element_address(tokens: list[_Token], defects: list[str]) -> Address | None:
    """One element of an address list: `name <addr>`, `addr (comment)` or a bare `addr`."""
    angles = [i for i, t in enumerate(tokens) if t.kind == "angle"]
    if angles:
        first = angles[0]
        if len(angles) > 1:
            defects.append("SeveralAngleAddressesInOneMailbox")
        # Comments may stand inside the brackets too (RFC 5322 4.4, obsolete): `<pete(his account)@silly.test>`.
        spec = "".join(t.text for t in _address_tokens(tokens[first].text.strip("<>")) if t.kind != "comment")
        address = _mailbox(spec)
        if not address:
            return None
        return Address(address=address, name=_phrase(tokens[:first]))
    if any(t.kind == "word" for t in tokens):
        return None  # an address may not be encoded: this one is only a name, or junk
    # A quoted local part keeps its spaces: they are held apart while the words are split.
    text = "".join(
        " " if t.kind == "space" else t.text.replace(" ", "\ue000") if t.kind == "quoted" else t.text
        for t in tokens
        if t.kind != "comment"
    )
    text = re.sub(r"\s*([@.])\s*", r"\1", text.strip())  # obsolete folding around @ and dots
    words = [w.replace("\ue000", " ") for w in text.split() if "@" in w]
    if len(words) > 1:
        defects.append("SeveralAddressesInOneMailbox")
    address = _mailbox(words[0]) if words else ""
    if not address:
        return None
    comments = [t.text for t in tokens if t.kind == "comment" and t.text.strip()]
    return Address(address=address, name=decode_header_value(comments[0]) if comments else "")


def _address_list(value: str, defects: list[str]) -> list[Address]:
    tokens = _address_tokens(value)
    found: list[Address] = []
    element: list[_Token] = []

    def close() -> None:
        if any(t.kind not in ("space", "comment") for t in element):
            address = _element_address(element, defects)
            if address is not None:
                found.append(address)
        element.clear()

    for token in tokens:
        if token.kind == "special" and token.text in ",;":
            close()
        elif (
            token.kind == "special"
            and token.text == ":"
            and not any(t.kind == "angle" or (t.kind == "atom" and "@" in t.text) for t in element)
        ):
            element.clear()  # `group name:` starts a group; its name is not an address
        else:
            element.append(token)
    close()
    return found


def parse_addresses(values: list[str], defects: list[str] | None = None) -> list[Address]:
    """The mailboxes in address header values (From, To, Cc, Reply-To, Sender); never raises.

    1. The raw value is split into tokens by RFC 5322's grammar, encoded words kept whole.
    2. Each element of the list gives its angle address, else its bare addr-spec; groups are
       opened, group names, display names and comments never give an address.
    3. Only when that finds no mailbox at all is the value parsed again, without its quotes (one
       left open swallows the rest), then decoded (some mailers encode the whole header), and the
       message marked with a defect.
    Addresses lose NUL and lone surrogates, which no database stores; names are decoded leniently.
    """
    defects = defects if defects is not None else []
    found: list[Address] = []
    for raw in values:
        raw = str(raw)
        if len(raw) > MAX_ADDRESS_HEADER:  # thousands of recipients; the rest is not worth the time
            raw = raw[: raw.rfind(",", 0, MAX_ADDRESS_HEADER) + 1 or MAX_ADDRESS_HEADER]
            defects.append("AddressHeaderTruncated")
        raw = _unfold(raw)
        if _RAW_BYTE.search(raw):  # raw 8-bit bytes kept by the parser
            raw = decode_bytes(wire_bytes(raw))
        raw = clean(raw)
        addresses = _address_list(raw, defects)
        if not addresses and '"' in raw:  # an unterminated quote swallowed the address
            addresses = _address_list(raw.replace('"', " "), defects)
            if addresses:
                defects.append("UnbalancedQuoteInAddress")
        if not addresses and "=?" in raw:
            addresses = _address_list(decode_header_value(raw), defects)
            if addresses:
                defects.append("AddressInsideEncodedWord")
        found.extend(addresses)
    addresses = [Address(address=clean(a.address), name=clean(a.name).strip().strip("\"'")) for a in found]
    for address in addresses:
        shown = {m.lower() for m in _ADDRESS_IN_NAME.findall(address.name)}
        if shown - {address.address.lower()}:
            # "victim@example.com <attacker@evil.test>": the name would pass for another sender.
            address.name = ""
            defects.append("DisplayNameHoldsAnotherAddress")
    return addresses


_ADDRESS_IN_NAME = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+")


_MSG_ID = re.compile(r"<([^<>\s]+)>")


def parse_message_ids(value: str) -> list[str]:
    """Message-IDs in a References or In-Reply-To value, with their brackets, in order."""
    value = clean(value or "")
    ids = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not ids and value and "@" in value:
        ids = [f"<{token.strip('<>')}>" for token in value.split() if "@" in token]
    return ids


# References kept of a message: the thread's root and the newest ones, which threading reads
# (mail/pipeline.py); a client that never trims sends thousands, a hostile one megabytes.
MAX_REFERENCES = 100
_REFERENCES_TAIL = 64 * 1024
_WHITESPACE = re.compile(r"\s")


def _references(raw: str) -> list[str]:
    """The References ids of a raw header value: all of a normal one; the first and the newest
    MAX_REFERENCES - 1 of a huge one, read from its two ends only, so its size costs nothing."""
    if len(raw) <= _REFERENCES_TAIL:
        ids = parse_message_ids(decode_header_value(raw))
        return ids if len(ids) <= MAX_REFERENCES else ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    root = parse_message_ids(decode_header_value(raw[:2048]))[:1]
    tail = raw[-_REFERENCES_TAIL:]
    cut = _WHITESPACE.search(tail)  # start after a separator, so that no id is read cut in half
    newest = parse_message_ids(decode_header_value(tail[cut.end() :] if cut else ""))
    return root + [i for i in newest[-(MAX_REFERENCES - 1) :] if i not in root]


def parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


# --- Bodies ---------------------------------------------------------------------------------------

_INLINE_MEDIA = ("image/", "audio/", "video/")
_HTML_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", re.IGNORECASE)


def _content_type(part: Message) -> str:
    """The part's content type, lower-case; worked out once per part (kept on it)."""
    known: str | None = part.__dict__.get("_sportello_type")
    if known is None:
        try:
            known = part.get_content_type().lower()
        except Exception:
            known = "application/octet-stream"
        part.__dict__["_sportello_type"] = known
    return known


def _payload(part: Message) -> Any:
    """The payload as the parser stored it: a list of parts, or the body as a string."""
    try:
        return part.get_payload()
    except Exception:  # it decodes 8-bit bodies by their label, and a label with NUL raises
        return getattr(part, "_payload", "")


# Every byte that is not of base64's alphabet, padding included: deleted before decoding
# (`bytes.translate`: 0.15 ms for a 100 kB attachment, against 0.63 ms with a regular expression).
_NOT_BASE64 = bytes(b for b in range(256) if not (chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/")))


def _payload_bytes(part: Message) -> bytes:
    raw = _payload(part)
    if isinstance(raw, str):
        # Decode the common encodings ourselves: the library gives up on a label with stray
        # whitespace or on base64 with bad padding, returning the encoded text.
        encoding = " ".join(_raw_headers(part, "content-transfer-encoding")).strip().lower()
        data = wire_bytes(raw)
        if encoding == "quoted-printable":
            return quopri.decodestring(data)
        if encoding == "base64":
            cleaned = data.translate(None, _NOT_BASE64)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
            try:
                return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
            except (binascii.Error, ValueError):
                pass
    try:
        payload = part.get_payload(decode=True)  # handles base64, quoted-printable and x-uuencode
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    if isinstance(raw, str):
        return wire_bytes(raw)
    return b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _part_text(part: Message) -> str:
    data = _payload_bytes(part)
    charset = _charset(part)
    if charset is None and _content_type(part) == "text/html":
        meta = _HTML_META_CHARSET.search(data[:4096])
        charset = meta.group(1).decode("ascii", "replace") if meta else None
    return decode_bytes(data, charset).replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        try:
            param = part.get_param("name", header="content-type")
        except Exception:
            param = None
        name = email.utils.collapse_rfc2231_value(param) if isinstance(param, tuple) else param
    return decode_header_value(name) if name else ""


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _content_id(part: Message) -> str:
    values = _raw_headers(part, "content-id")
    return values[0].strip().strip("<>").strip() if values else ""


def _is_multipart(part: Message) -> bool:
    return part.is_multipart() and _content_type(part).startswith("multipart/")


def _subparts(part: Message) -> list[Message]:
    payload = _payload(part)
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _structure(
    parts: list[Message],
    multipart_type: str,
    in_alternative: bool,
    html_body: list[Message] | None,
    text_body: list[Message] | None,
    attachments: list[Message],
    depth: int = 0,
    budget: list[int] | None = None,
) -> None:
    """RFC 8621 section 4.1.4: sort the leaves into text body, HTML body and attachments.

    `budget` ([leaves left to look at, leaves skipped], shared by the whole tree) bounds the work:
    reading a part's headers costs about a millisecond, and a message may have 20,000 parts.
    Leaves past it are only counted; they are past the limit of parts kept anyway.
    """
    budget = budget if budget is not None else [10 * DEFAULT_MAX_ATTACHMENTS, 0]
    text_length = len(text_body) if text_body is not None else -1
    html_length = len(html_body) if html_body is not None else -1
    for index, part in enumerate(parts):
        if budget[0] <= 0:
            budget[1] += 1
            continue
        if depth > 50:
            attachments.append(part)
            continue
        ctype = _content_type(part)
        if _is_multipart(part):
            sub_type = ctype.split("/", 1)[1]
            # The callee may stop filling a list for its own subtree only (RFC 8621 passes by value).
            _structure(
                _subparts(part),
                sub_type,
                in_alternative or sub_type == "alternative",
                html_body,
                text_body,
                attachments,
                depth + 1,
                budget,
            )
            continue
        budget[0] -= 1
        media = ctype.startswith(_INLINE_MEDIA)
        inline = (
            _disposition(part) != "attachment"
            and (ctype in ("text/plain", "text/html") or media)
            and (index == 0 or (multipart_type != "related" and (media or not _filename(part))))
        )
        if not inline:
            attachments.append(part)
            continue
        if multipart_type == "alternative":
            if ctype == "text/plain" and text_body is not None:
                text_body.append(part)
            elif ctype == "text/html" and html_body is not None:
                html_body.append(part)
            else:
                attachments.append(part)
            continue
        if in_alternative:
            if ctype == "text/plain":
                html_body = None
            if ctype == "text/html":
                text_body = None
        if text_body is not None:
            text_body.append(part)
        if html_body is not None:
            html_body.append(part)
        if (text_body is None or html_body is None) and media:
            attachments.append(part)
    if multipart_type == "alternative" and text_body is not None and html_body is not None:
        if text_length == len(text_body) and html_length != len(html_body):
            text_body.extend(html_body[html_length:])
        if html_length == len(html_body) and text_length != len(text_body):
            html_body.extend(text_body[text_length:])


_UUENCODED = re.compile(r"^begin [0-7]{3,4} ([^\n]+)\n(.*?)^end$", re.MULTILINE | re.DOTALL)


def _uudecode(block: str) -> bytes | None:
    """The bytes of a uuencoded block; None when it is not one (then it stays text)."""
    if not block.isascii():  # uuencoding is ASCII: this is text that looks like it
        return None
    out = bytearray()
    for line in block.splitlines():
        if not line or line in ("`", " "):
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            try:  # some encoders write lines that are too long or short by a few characters
                length = ((ord(line[0]) - 32) & 63) * 4 // 3
                out += binascii.a2b_uu(line[: length + 1 + (-length % 4)])
            except (binascii.Error, IndexError):
                return None
    return bytes(out)


def _split_uuencoded(text: str) -> tuple[str, list[Part]]:
    """Files uuencoded inside a plain-text body (old clients do this) become attachments."""
    parts: list[Part] = []

    def replace(match: re.Match[str]) -> str:
        data = _uudecode(match.group(2))
        if data is None:
            return match.group(0)
        name = match.group(1).strip()
        parts.append(Part(filename=name, content_type=_guess_type(name), content=data))
        return f"[attachment: {name}]\n"

    return _UUENCODED.sub(replace, text), parts


def _guess_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _text_of(part: Message) -> str:
    ctype = _content_type(part)
    if ctype == "text/html":
        return html_to_text(_part_text(part))
    if ctype.startswith("text/"):
        return _part_text(part)
    return ""


def _html_of(part: Message) -> str:
    ctype = _content_type(part)
    if ctype == "text/html":
        return _part_text(part)
    if ctype.startswith("text/"):
        return "<pre>" + html.escape(_part_text(part)) + "</pre>"
    if ctype.startswith("image/"):
        cid = _content_id(part)
        if cid:
            return f'<img src="cid:{html.escape(cid)}" alt="{html.escape(_filename(part))}">'
    return ""


def _join_html(chunks: list[str]) -> str:
    chunks = [c for c in chunks if c.strip()]
    if len(chunks) <= 1:
        return chunks[0] if chunks else ""
    return "\n".join(f"<div>{c}</div>" for c in chunks)


# --- The message ------------------------------------------------------------------------------------

_FILTER_HEADERS = {
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "x-precedence",
    "list-id",
    "list-unsubscribe",
    "list-post",
    "mailing-list",
    "x-mailing-list",
    "x-loop",
    "return-path",
    "x-failed-recipients",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-autogenerated",
    "x-mail-autoreply",
    "x-autoreply-from",
    "feedback-id",
    "x-mailer",
    "sender",
    "list-help",
    "list-archive",
    "from",
    "content-type",
}


_REMEMBERED = ("content-type", "content-disposition", "content-transfer-encoding")


class _Headers(HeaderRegistry):
    """policy.default's header factory, made to bear real mail.

    1. It parses a header again on every read, and both the `email` package and we read
       Content-Type a dozen times per part: on a message of thousands of parts that was most of
       the time. These three are remembered (short ones, a bounded number); a parsed header is
       immutable.
    2. It raises on some broken values (an encoded word in UTF-7 decodes to a lone surrogate it
       cannot encode), and then the whole message could not be read: such a value is parsed
       again with its encoded words decoded our way, else as plain ASCII, else empty.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, str], Any] = {}

    def __call__(self, name: str, value: str) -> Any:
        remember = len(value) <= 1000 and name.lower() in _REMEMBERED
        header = self._parsed.get((name, value)) if remember else None
        if header is None:
            header = self._parse(name, value)
            if remember:
                if len(self._parsed) > 20_000:
                    self._parsed.clear()
                self._parsed[(name, value)] = header
        return header

    def _parse(self, name: str, value: str) -> Any:
        for attempt in (value, decode_header_value(value), wire_bytes(value).decode("ascii", "replace"), ""):
            try:
                return super().__call__(name, attempt)
            except Exception:
                continue
        raise AssertionError("an empty header always parses")


# The MIME headers every part has, in their common simple forms (`type/subtype; name=value; …`
# with plain ASCII tokens or quoted strings), are rendered as the header registry renders them
# (parameters quoted, `; ` between them) without its parse of RFC 2045's whole grammar: that parse
# cost more than the rest of our work on a message (a quarter of a millisecond a mail). The
# `email` package and we read these three only as strings (get_content_type, get_param,
# get_filename, get_payload(decode=True)), so the string is all that must be the same; any
# other form still goes through the registry (`_Headers`).
_LINE_BREAK = re.compile(r"\n|\r\n?")
# Token characters, less those RFC 2231 gives a meaning in parameters (`*`, `'`, `%`).
_TOKEN = r"[!#$&+.0-9A-Z^_`a-z{|}~-]+"
_PARAMETER = re.compile(rf"""[ \t]*({_TOKEN})=(?:({_TOKEN})|"([ !#-\[\]-~]+)")""")
_PARAMETERS = re.compile(rf"""(?:;{_PARAMETER.pattern})+""")
_SIMPLE_HEAD = {
    "content-type": re.compile(rf"{_TOKEN}/{_TOKEN}"),
    "content-disposition": re.compile(_TOKEN),
    "content-transfer-encoding": re.compile(_TOKEN),
}


def _rendered(name: str, value: str) -> str | None:
    """`value` as the header registry's header would read (str), when it is in a simple form;
    None for any other form."""
    head = _SIMPLE_HEAD[name].match(value)
    if head is None:
        return None
    rest = value[head.end() :]
    if not rest:
        return value
    if name == "content-transfer-encoding" or "=?" in rest:  # encoded words: the registry decodes them
        return None
    if _PARAMETERS.fullmatch(rest) is None:
        return None
    parameters = [f'{key}="{token or quoted}"' for key, token, quoted in _PARAMETER.findall(rest)]
    return f"{value[: head.end()]}; " + "; ".join(parameters)


class _Policy(EmailPolicy):
    """policy.default with `_Headers`, and the MIME headers of `_SIMPLE_HEAD` in their common
    forms read without the registry (see `_rendered`)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_rendered", {})

    def header_fetch_parse(self, name: str, value: str) -> Any:
        lower = name.lower()
        if lower in _SIMPLE_HEAD and not hasattr(value, "name"):
            value = _LINE_BREAK.sub("", value)
            known: dict[tuple[str, str], str | None] = self._rendered  # type: ignore[attr-defined]
            rendered = known.get((lower, value), "") if len(value) <= 1000 else None
            if rendered == "":
                rendered = _rendered(lower, value)
                if len(known) > 20_000:
                    known.clear()
                known[(lower, value)] = rendered
            if rendered is not None:
                return rendered
        return super().header_fetch_parse(name, value)


_POLICY = _Policy(header_factory=_Headers())


# The standard library's parser compiles a regular expression for every multipart's boundary
# (`--boundary`, then `--` or not, blanks and a line end): a boundary is unique to its message,
# so each one missed `re`'s cache and cost ~0.1 ms, more than the rest of the part's parsing.
# Its `_parsegen` runs here with a `re` whose `compile` gives, for exactly that expression, a
# matcher that compares the boundary as a string and matches the fixed rest with one expression
# compiled once. `match` starts where the boundary ends, so `end` and `linesep` (all the parser
# reads of a match) come out as the whole expression gives them; any other expression, or that
# one changed by another Python, is compiled as before.
_BOUNDARY_OPEN = "(?P<sep>"
_BOUNDARY_REST = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_AFTER_BOUNDARY = re.compile(_BOUNDARY_REST[1:])
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class _Boundary:
    __slots__ = ("separator",)

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> re.Match[str] | None:
        if line.startswith(self.separator):
            return _AFTER_BOUNDARY.match(line, len(self.separator))
        return None


class _BoundaryRe:
    """`re` as email.feedparser sees it, but for its boundary expressions (see above)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:
        if (
            flags == 0
            and isinstance(pattern, str)
            and pattern.startswith(_BOUNDARY_OPEN)
            and pattern.endswith(_BOUNDARY_REST)
        ):
            escaped = pattern[len(_BOUNDARY_OPEN) : -len(_BOUNDARY_REST)]
            separator = _ESCAPED.sub(r"\1", escaped)
            if re.escape(separator) == escaped:  # exactly what re.escape made of a separator
                return _Boundary(separator)
        return re.compile(pattern, flags)


_PARSEGEN: types.FunctionType = feedparser.FeedParser._parsegen  # type: ignore[attr-defined]


class _FeedParser(feedparser.FeedParser):  # type: ignore[type-arg]
    _parsegen = types.FunctionType(
        _PARSEGEN.__code__,
        {**vars(feedparser), "re": _BoundaryRe()},
        "_parsegen",
        _PARSEGEN.__defaults__,
        _PARSEGEN.__closure__,
    )


def _message_from_bytes(raw: bytes) -> EmailMessage:
    """As email.message_from_bytes(raw, policy=_POLICY) (BytesParser, then Parser.parse's
    feeding in pieces of 8,192 characters), with `_FeedParser`."""
    text = raw.decode("ascii", errors="surrogateescape")
    parser = _FeedParser(policy=_POLICY)
    for start in range(0, len(text), 8192):
        parser.feed(text[start : start + 8192])
    message = parser.close()
    assert isinstance(message, EmailMessage)
    return message


def parse_message(raw: bytes, *, depth: int = 0, max_attachments: int | None = None) -> ParsedMail:
    """Parse one message. Content problems are recorded as defects, never raised.

    `max_attachments` (default: settings.MAIL_MAX_ATTACHMENTS) bounds the parts decoded and kept.
    """
    if not raw or not raw.strip():
        raise ParseError("The message is empty")
    raw = raw.lstrip(b"\r\n\t ")
    if raw.startswith(b"From ") and b"\n" in raw:  # an mbox "From " line before the headers
        raw = raw.split(b"\n", 1)[1]
    try:
        message = _message_from_bytes(raw)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise ParseError(f"The message cannot be read: {exc}") from exc
    if not message.keys() and not _payload_bytes(message).strip():
        raise ParseError("The message has neither headers nor a body")
    try:
        parsed = _parse(message, depth, max_attachments)
    except Exception as exc:
        # A bug of ours must not cost the customer her message: keep what the headers and the
        # undecoded body say, and leave the traceback in the log for us.
        logger.exception("Parsing a message failed; keeping its headers and raw body")
        parsed = _parse_plainly(message, raw, exc)
    if parsed.from_ is None:
        # A junk line among the headers ends them for the parser; drop such lines and try again.
        repaired = _repair_headers(raw)
        if repaired != raw:
            try:
                again = _parse(_message_from_bytes(repaired), depth, max_attachments)
            except Exception:
                again = None
            if again is not None and again.from_ is not None:
                again.defects.append("InvalidHeaderLineDropped")
                return again
    return parsed


def _parse_plainly(message: Message, raw: bytes, exc: Exception) -> ParsedMail:
    parsed = ParsedMail(defects=[f"ParserError: {type(exc).__name__}"])
    with contextlib.suppress(Exception):
        parsed.from_ = next(iter(parse_addresses(_raw_headers(message, "from"))), None)
        parsed.reply_to = parse_addresses(_raw_headers(message, "reply-to"))
        parsed.subject = decode_header_value(next(iter(_raw_headers(message, "subject")), ""))
        ids = parse_message_ids(next(iter(_raw_headers(message, "message-id")), ""))
        parsed.message_id = ids[0] if ids else ""
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    parsed.text = decode_bytes(body[1] if len(body) > 1 else b"").replace("\r\n", "\n")
    parsed.visible_text = parsed.text
    return parsed


_HEADER_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|[ \t])")


def _repair_headers(raw: bytes) -> bytes:
    match = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[: match.start()], raw[match.start() :]) if match else (raw, b"")
    lines = head.splitlines(keepends=True)
    kept = [line for line in lines if _HEADER_LINE.match(line)]
    return b"".join(kept) + rest if len(kept) != len(lines) else raw


def _parse(message: Message, depth: int, max_attachments: int | None = None) -> ParsedMail:
    parsed = ParsedMail()
    defects: list[str] = []
    authors = parse_addresses(_raw_headers(message, "from"), defects)
    parsed.sender = next(iter(parse_addresses(_raw_headers(message, "sender"), defects)), None)
    parsed.from_ = _author(authors, parsed.sender, defects)
    parsed.to = parse_addresses(_raw_headers(message, "to"), defects)
    parsed.cc = parse_addresses(_raw_headers(message, "cc"), defects)
    parsed.reply_to = parse_addresses(_raw_headers(message, "reply-to"), defects)
    # Ours first: the entry keeps only the first few.
    parsed.defects = list(dict.fromkeys(defects)) + [type(d).__name__ for d in getattr(message, "defects", [])][:20]
    parsed.subject = decode_header_value(next(iter(_raw_headers(message, "subject")), ""))
    parsed.date = parse_date(_unfold(next(iter(_raw_headers(message, "date")), "")))
    # Encoded words have no place in these headers, but Python itself writes long ones that way.
    ids = parse_message_ids(decode_header_value(next(iter(_raw_headers(message, "message-id")), "")))
    parsed.message_id = ids[0] if ids else ""
    parsed.in_reply_to = parse_message_ids(decode_header_value(" ".join(_raw_headers(message, "in-reply-to"))))
    parsed.references = _references(" ".join(_raw_headers(message, "references")))
    parsed.content_type = _content_type(message)
    for key in {k.lower() for k in message} & _FILTER_HEADERS:
        parsed.headers[key] = [decode_header_value(v) for v in _raw_headers(message, key)]

    limit = max_attachments if max_attachments is not None else _max_attachments()
    attachments: list[Message] = []
    text_parts: list[Message] = []
    html_parts: list[Message] = []
    budget = [3 * limit + 10, 0]
    if _is_multipart(message):
        sub_type = parsed.content_type.split("/", 1)[1]
        _structure(_subparts(message), sub_type, sub_type == "alternative", html_parts, text_parts, attachments, 0,
                   budget)  # fmt: skip
    else:
        _structure([message], "mixed", False, html_parts, text_parts, attachments, 0, budget)

    # Past the limit, parts are neither decoded nor stored: the raw message (kept anyway) holds
    # them, and the entry says how many. A message of 20,000 parts costs what one of 100 does.
    body_parts = {id(p) for p in text_parts + html_parts}  # in multipart/mixed a part is in both
    text_parts, html_parts = text_parts[:limit], html_parts[:limit]
    omitted = len(body_parts - {id(p) for p in text_parts + html_parts}) + budget[1]
    texts = [_text_of(p) for p in text_parts]
    parsed.text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
    has_html = any(_content_type(p) == "text/html" for p in html_parts)
    parsed.html = _join_html([_html_of(p) for p in html_parts]) if has_html else ""
    parsed.text, uuencoded = _split_uuencoded(parsed.text)
    parsed.attachments.extend(uuencoded)

    inline_images = {id(p) for p in text_parts + html_parts if _content_type(p).startswith(_INLINE_MEDIA)}
    # An inline image of multipart/mixed is in both body lists: one file.
    files = {id(p): p for p in [p for p in text_parts + html_parts if id(p) in inline_images] + attachments}
    for part in files.values():
        if len(parsed.attachments) >= limit:
            omitted += 1
            continue
        _add_attachment(parsed, part, inline=id(part) in inline_images, depth=depth)
    if len(parsed.attachments) > limit:  # uuencoded files in the text come on top
        omitted += len(parsed.attachments) - limit
        del parsed.attachments[limit:]
    if omitted and depth == 0:  # a forwarded message's parts are all in its own .eml file
        parsed.omitted_attachments = omitted
        parsed.defects.insert(0, "AttachmentsOverLimit")
        if parsed.html:
            parsed.html += f"\n<p>{html.escape(parsed.omitted_note)}</p>"
    for item in parsed.attachments:  # a part the HTML shows in place (cid:) is inline, wherever it sits
        if item.content_id and f"cid:{item.content_id}".lower() in parsed.html.lower():
            item.inline = True
    parsed.visible_text = visible_reply(parsed.text, parsed.html)
    return parsed


def _author(authors: list[Address], sender: Address | None, defects: list[str]) -> Address | None:
    """Who wrote: the one From address; with several (RFC 5322 then requires Sender), the Sender
    when there is one, else the first."""
    if len(authors) > 1:
        defects.append("SeveralAuthorsInFrom")
        if sender is not None:
            return sender
    return authors[0] if authors else None


def _max_attachments() -> int:
    try:
        from django.conf import settings

        return int(settings.MAIL_MAX_ATTACHMENTS)
    except Exception:  # settings not configured (the parser used on its own)
        return DEFAULT_MAX_ATTACHMENTS


def _add_attachment(parsed: ParsedMail, part: Message, *, inline: bool, depth: int) -> None:
    ctype = _content_type(part)
    name = _filename(part)
    cid = _content_id(part)
    if ctype == "message/delivery-status" or ctype == "message/global-delivery-status":
        parsed.delivery_status.extend(_status_blocks(part))
    if ctype in ("message/rfc822", "message/global"):
        inner_bytes = _message_bytes(part)
        inner = _inner_message(part)
        if inner is not None and not parsed.returned_headers:
            parsed.returned_headers = _header_map(inner)
        if inner is not None and depth < MAX_DEPTH:
            try:
                forwarded = _parse(inner, depth + 1)
                parsed.forwarded.append(forwarded)
                name = name or (forwarded.subject or "message")[:100] + ".eml"
            except Exception as exc:  # a broken enclosure must not lose the enclosing message
                parsed.defects.append(f"forwarded message: {type(exc).__name__}")
        parsed.attachments.append(Part(name or "message.eml", "message/rfc822", inner_bytes, False, cid))
        return
    if ctype in ("text/rfc822-headers", "text/rfc822-header") and not parsed.returned_headers:
        inner_text = _part_text(part)
        with contextlib.suppress(Exception):
            parsed.returned_headers = _header_map(email.message_from_string(inner_text, policy=policy.default))
    data = _payload_bytes(part)
    if not data and isinstance(_payload(part), list):  # message/delivery-status: blocks of fields
        data = b"\n".join(
            wire_bytes("".join(f"{k}: {v}\n" for k, v in _safe_items(block))) for block in _subparts(part)
        )
    if not name:
        extension = {"text/plain": ".txt", "text/html": ".html", "message/delivery-status": ".txt"}.get(ctype, "")
        name = f"part{len(parsed.attachments) + 1}{extension or _extension(ctype)}"
    parsed.attachments.append(Part(name, ctype, data, inline, cid))


def _extension(ctype: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(ctype) or ".bin"


def _inner_message(part: Message) -> Message | None:
    payload = _payload(part)
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str) and payload.strip():
        try:
            return _message_from_bytes(_payload_bytes(part))
        except Exception:
            return None
    return None


def _message_bytes(part: Message) -> bytes:
    inner = _inner_message(part)
    if inner is None:
        return _payload_bytes(part)
    for attempt in (lambda: inner.as_bytes(policy=policy.compat32), lambda: inner.as_bytes()):
        try:
            return attempt()
        except Exception:
            continue
    try:
        return wire_bytes(inner.as_string(policy=policy.compat32))
    except Exception:
        return b""


def _header_map(message: Message) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key in {k.lower() for k in message}:
        result[key] = [decode_header_value(v) for v in _raw_headers(message, key)]
    return result


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part (RFC 3464), keys lower-cased."""
    blocks: list[dict[str, str]] = []
    payload = _payload(part)
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): _unfold(str(v)) for k, v in _safe_items(block)})
    else:
        text = _part_text(part)
        for chunk in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([\w-]+):[ \t]*(.*)$", chunk, re.MULTILINE))
            if fields:
                blocks.append({k.lower(): v.strip() for k, v in fields.items()})
    return blocks


def _safe_items(message: Message) -> list[tuple[str, str]]:
    items = message.raw_items() if hasattr(message, "raw_items") else message.items()
    return [(k, str(v)) for k, v in items]
