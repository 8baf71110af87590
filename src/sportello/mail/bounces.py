"""Bounces: delivery status notifications (RFC 3464) and the legacy reports of older MTAs.

`bounce_of` is one step of the inbound pipeline (see `pipeline.conclude`): it says whether a
message reports a failed (or delayed) delivery, for which address, with which status, and which
of our messages bounced, so threading can put it on that ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sportello.mail.parse import ParsedMail


@dataclass
class Bounce:
    """What a delivery status notification (RFC 3464) or a legacy bounce says."""

    recipient: str = ""
    status: str = ""
    action: str = ""
    original_message_id: str = ""
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        """A permanent failure: the address should get no more mail (delays are not)."""
        if self.action and self.action != "failed":
            return False
        return not self.status.startswith("4")

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "status": self.status,
            "action": self.action,
            "original_message_id": self.original_message_id,
            "diagnostic": self.diagnostic[:300],
            "permanent": self.permanent,
        }


# --- What makes a message a bounce -----------------------------------------------------------------

# The local parts mail systems send reports from ("post_master" is Verizon's).
_DAEMONS = re.compile(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|post[-_]?master|mdaemon|mail\.delivery\.system)(?:@|$)", re.IGNORECASE
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|returned mail|failure notice|delivery failure|"
    r"mail delivery fail|delivery has failed|could not be delivered|delivery notification|mail system error|"
    r"delivery status|message delivery has failed|mail failure|message you sent blocked|"
    r"non remis|unzustellbar|non recapitabile|mancato recapito|no se pudo entregar|onbestelbaar|"
    r"недоставлен|не доставлено|недоставен|メールエラー|配信エラー|delayed mail|delivery delayed|"
    r"could not send message|delivery problem|warning: message .* delayed",
    re.IGNORECASE,
)
# What a report says in its own text (checked only in mail from a daemon or with a null sender).
_BOUNCE_TEXT = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|did not reach the following|"
    r"delivery to the following recipient|unable to deliver|undeliverable|permanent (?:fatal )?error|"
    r"delivery (?:has )?failed|failed permanently|following address(?:es)?(?:\(es\))? (?:had|failed)|"
    r"could not deliver|not able to be delivered|error: invalid user address|delivery problems|"
    r"the following recipients? (?:was|were|could)|message delivery has failed|"
    r"user unknown|unknown user|no such user|mail ?(?:box|folder) (?:is )?full|"
    r"送信できませんでした|配信できませんでした|配信できません",
    re.IGNORECASE,
)
# Phrases only delivery software writes: enough with the returned message attached, whoever sent it.
_MACHINE_TEXT = re.compile(
    r"could not be delivered to:\s*<|did not reach the following recipient|delivery to the following recipients? "
    r"failed|the following addresses had (?:permanent fatal errors|delivery problems)|"
    r"this is an automatically generated delivery status notification",
    re.IGNORECASE,
)
_COMPLAINT_SUBJECT = re.compile(r"^\s*complaint about message from", re.IGNORECASE)

# --- Fields -------------------------------------------------------------------------------------------

_STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_SMTP_CODE = re.compile(r"(?<!\d)([45])\d\d(?:[ -]|$)")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_ORIGINAL_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
# Where a report's own text ends and the copy of the returned message begins.
_RETURNED_COPY = re.compile(
    r"^[ \t]*(?:-+ ?(?:original message|original message follows|below this line is a copy of the message|"
    r"this is a copy of the message|the header of the original message|unsent message follows|"
    r"returned message|original message as follows)|-+\s*original message|--- ?below this line|"
    r"original message follows|original mail as follows|-------original message|"
    r"your message reads \(in part\)|the text you sent follows)",
    re.IGNORECASE | re.MULTILINE,
)
# Where a report names the address that failed, most telling first.
_RECIPIENT_PATTERNS = [
    re.compile(r"^[ \t]*<([^<>\s]+@[^<>\s]+)>:?[ \t]*(?:$|\.\.\.|\(|host |\S+:)", re.MULTILINE),
    re.compile(r"RCPT TO:?[ \t]*<?([^<>\s]+@[^<>\s]+?)>?(?=[\s>:]|$)", re.IGNORECASE),
    re.compile(
        r"(?:recipient address|could not be delivered to|unable to deliver message to|delivered to|"
        r"delivery failed \d+ attempts|final delivery userid|was addressed to|failed permanently)\s*:?\s*<?"
        r"([^<>\s()]+@[^<>\s()]+?)>?(?=[\s>):,]|$)",
        re.IGNORECASE,
    ),
    re.compile(
        r"^[ \t]*(?:\*[ \t]*|>>>[ \t]*)?<?([^<>\s:]+@[^<>\s:]+?)>?(?:[ \t]*$|[ \t]*[:\[(]|[ \t]+on |[ \t]+invalid |"
        r"[ \t]+<)",
        re.MULTILINE | re.IGNORECASE,
    ),
]
# Lines whose addresses are never the failed recipient.
_NOT_RECIPIENT_LINE = re.compile(
    r"^\s*(?:from|sender|reply-to|return-path|mail from|original sender|envelope-from|x-postfix-sender)\s*:",
    re.IGNORECASE,
)
# What a report without an enhanced status code says, as the code RFC 3463 has for it.
_REASONS = [
    (
        "5.1.2",
        r"host unknown|unknown host|domain (?:name )?not found|domain does not exist|no such domain|"
        r"unrouteable|name lookup failed|host not found",
    ),
    (
        "5.1.1",
        r"user unknown|unknown user|no such user|user not found|recipient not found|unknown recipient|"
        r"recipient name is not recognized|invalid recipient|recipient address rejected|address rejected|"
        r"doesn't have an? [\w.-]+ account|"
        r"invalid (?:final delivery )?user ?id|invalid user|no mailbox|mailbox unavailable|not our customer|"
        r"account (?:is )?disabled|does not exist|address not found|not listed in|unknown address",
    ),
    (
        "5.2.2",
        r"mailbox (?:is )?full|mail ?folder is full|over ?quota|quota exceeded|"
        r"exceeded (?:the )?(?:local )?(?:storage )?limit|insufficient (?:disk )?space|not enough disk space|"
        r"mailbox has exceeded",
    ),
    ("5.3.4", r"(?:message|mail) size (?:limit )?exceeded|message (?:is )?too (?:large|big)|size limit"),
    ("5.4.6", r"too many hops|mail loop|routing loop"),
    (
        "5.7.1",
        r"\bspam\b|blocked|\bUBE\b|content rejected|blacklist|blocklist|denied|not authorized|not allowed|policy",
    ),
    ("5.4.7", r"timed? ?out|retry timeout|expired|too long in queue|could not send message for past"),
]
_REASON_RE = [(code, re.compile(pattern, re.IGNORECASE)) for code, pattern in _REASONS]
_DELAYED = re.compile(
    r"\bdelay|still being retried|will (?:be )?retr|will continue trying|could not send message for past|"
    r"warning: message|not yet been delivered",
    re.IGNORECASE,
)


def bounce_of(parsed: ParsedMail) -> Bounce | None:
    """A bounce (DSN, legacy report or ARF complaint) with the failed recipient, its status and the
    bounced Message-ID; None for any other mail.

    1. Decide: a delivery-status report, an X-Failed-Recipients header, a feedback (ARF) report,
       or mail from a mail system (daemon address or null sender) whose subject or own text is a
       report's. A person's mail never qualifies, whatever it says.
    2. The recipient: the DSN's Final-Recipient, the complaint's reported address, X-Failed-Recipients,
       else the address the report's own text names as failed (not the copy of the message).
    3. The status: the DSN's, made specific from its diagnostic when it is only X.0.0; else the
       first enhanced code in the report, else one inferred from its wording (RFC 3463).
    """
    kind = _kind(parsed)
    if not kind:
        return None
    report = _report_text(parsed)
    bounce = Bounce()
    if kind == "complaint":
        bounce.action = "complained"
        bounce.recipient = _complained_address(parsed)
        bounce.original_message_id = _original_message_id(parsed)
        return bounce
    block = _failed_block(parsed.delivery_status)
    if block:
        bounce.recipient = _address_in(block.get("final-recipient") or block.get("original-recipient") or "")
        bounce.action = block.get("action", "").strip().lower()
        bounce.diagnostic = block.get("diagnostic-code", "")
        bounce.status = _status(block.get("status", ""), bounce.diagnostic, report)
    if not bounce.recipient:
        failed = parsed.header("x-failed-recipients")
        bounce.recipient = _address_in(failed) if failed else _recipient_in_text(parsed, report)
    if not bounce.recipient and parsed.forwarded:
        # A gateway that wraps the report it got (Trend Micro's, X5): the inner report says it.
        inner = bounce_of(parsed.forwarded[0])
        if inner is not None and inner.recipient:
            inner.original_message_id = inner.original_message_id or _original_message_id(parsed)
            return inner
    if not bounce.action or bounce.action not in ("failed", "delayed", "expired", "relayed", "delivered"):
        bounce.action = "delayed" if _DELAYED.search(parsed.subject + "\n" + report) else "failed"
    if not bounce.status or bounce.status.endswith(".0.0"):
        # The wording about this recipient first; a report often states the reason above the address.
        near = _status("", "", _near(report, bounce.recipient))
        bounce.status = near if near and not near.endswith(".0.0") else _status("", "", report) or near
    if not bounce.status:
        bounce.status = "4.0.0" if bounce.action == "delayed" else "5.0.0"
    if not bounce.diagnostic:
        bounce.diagnostic = _near(report, bounce.recipient)[:300].strip()
    bounce.original_message_id = _original_message_id(parsed)
    return bounce


_DSN_REPORT = re.compile(r"multipart/report\b.*\breport-type\s*=\s*\"?delivery-status", re.IGNORECASE | re.DOTALL)


def _kind(parsed: ParsedMail) -> str:
    """'report', 'legacy', 'complaint' or '' for a message that is no bounce."""
    if any(_is_feedback(part.content_type) for part in parsed.attachments):
        return "complaint"
    if parsed.delivery_status and _failed_block(parsed.delivery_status) is not None:
        return "report"
    if not parsed.delivery_status and _DSN_REPORT.search(parsed.header("content-type")):
        return "report"  # a delivery report cut short before its status part (RFC 3462): a bounce all the same
    if "x-failed-recipients" in parsed.headers:
        return "legacy"
    if _COMPLAINT_SUBJECT.search(parsed.subject) and "x-hmxmroriginalrecipient" in parsed.returned_headers:
        return "complaint"  # Outlook.com's junk-mail reporting program (JMRP), not ARF
    if (parsed.forwarded or parsed.returned_headers) and _MACHINE_TEXT.search(_report_text(parsed)[:5000]):
        return "legacy"  # a report's wording that no person writes, with the returned message attached
    if not _from_mail_system(parsed):
        return ""
    if _BOUNCE_SUBJECT.search(parsed.subject) or _BOUNCE_TEXT.search(_report_text(parsed)[:5000]):
        return "legacy"
    return ""


def _is_feedback(content_type: str) -> bool:
    return content_type.lower().startswith("message/feedback-report")


def _from_mail_system(parsed: ParsedMail) -> bool:
    """Sent by a mail system: a daemon's address, no sender address at all ("MAILER-DAEMON <>"),
    or the null reverse path (RFC 5321 4.5.5)."""
    address = parsed.from_.address if parsed.from_ else ""
    if _DAEMONS.match(address) or (parsed.sender and _DAEMONS.match(parsed.sender.address)):
        return True
    if parsed.from_ is None and parsed.sender is None:
        return True
    return "return-path" in parsed.headers and parsed.header("return-path").strip() in ("<>", "")


def _failed_block(blocks: list[dict[str, str]]) -> dict[str, str] | None:
    """The per-recipient DSN block to report: the first failed one, else the first with a recipient."""
    recipients = [b for b in blocks if b.get("final-recipient") or b.get("original-recipient")]
    for block in recipients:
        if block.get("action", "").strip().lower() == "failed":
            return block
    return recipients[0] if recipients else None


def _report_text(parsed: ParsedMail) -> str:
    """The report's own words: its text parts (and text-like parts a broken MIME structure left as
    attachments), cut before the copy of the returned message."""
    chunks = [parsed.text]
    for part in parsed.attachments:
        ctype = part.content_type.lower()
        if ctype.startswith(("text/plain", "multipart/")) and part.size < 200_000:
            chunks.append(part.content.decode("utf-8", "replace"))
    text = "\n".join(chunk for chunk in chunks if chunk)
    cut = _RETURNED_COPY.search(text)
    return text[: cut.start()] if cut else text


def _status(field: str, diagnostic: str, text: str) -> str:
    """An RFC 3463 code: the DSN's when specific, else one from the diagnostic or the text."""
    code = _STATUS_CODE.search(field or "")
    status = ".".join(code.groups()) if code else ""
    if status and not status.endswith(".0.0"):
        return status
    klass = status[:1]
    for source in (diagnostic, text):
        for match in _STATUS_CODE.finditer(source or ""):
            found = ".".join(match.groups())
            if not found.endswith(".0.0") and (not klass or found[0] == klass):
                return found
    for source in (diagnostic, text):
        for code_for, reason in _REASON_RE:
            if source and reason.search(source):
                if klass == "4" or (not klass and code_for == "5.4.7" and _DELAYED.search(source)):
                    return "4" + code_for[1:]
                return code_for
    if status:
        return status
    smtp = _SMTP_CODE.search(diagnostic or "") or _SMTP_CODE.search(text or "")
    return f"{smtp.group(1)}.0.0" if smtp else ""


def _near(text: str, recipient: str) -> str:
    """The part of a report about one recipient (where a report lists several)."""
    if not recipient:
        return text
    index = text.lower().find(recipient.lower())
    if index < 0:
        return text
    return text[index : index + 600]


def _address_in(value: str) -> str:
    match = _ADDRESS.search(value or "")
    return match.group(0).lower().rstrip(".") if match else ""


def _recipient_in_text(parsed: ParsedMail, report: str) -> str:
    """The address the report's own text names as failed; never one of the envelope parties."""
    known = {a.address.lower() for a in [parsed.from_, parsed.sender, *parsed.to, *parsed.reply_to] if a}
    known |= {a.lower() for a in _ADDRESS.findall(parsed.header("from"))}
    lines = [line for line in report.splitlines() if not _NOT_RECIPIENT_LINE.match(line)]
    text = "\n".join(lines)
    for pattern in _RECIPIENT_PATTERNS:
        for match in pattern.finditer(text):
            address = _address_in(match.group(1))
            if address and address not in known:
                return address
    for match in _ADDRESS.finditer(text):
        address = match.group(0).lower()
        if address not in known and not address.startswith(("support@", "abuse@", "help@", "noreply@")):
            return address
    return ""


def _complained_address(parsed: ParsedMail) -> str:
    """The address a feedback report (ARF, RFC 5965) or a Hotmail complaint is about."""
    for part in parsed.attachments:
        if _is_feedback(part.content_type):
            fields: dict[str, str] = {}
            for key, value in re.findall(r"^([\w-]+):[ \t]*(.*)$", part.content.decode("utf-8", "replace"), re.M):
                fields.setdefault(key.lower(), value.strip())  # the first of repeated fields
            for name in ("original-rcpt-to", "removal-recipient"):
                if _address_in(fields.get(name, "")):
                    return _address_in(fields[name])
    for name in ("x-hmxmroriginalrecipient", "x-original-to", "to"):
        values = parsed.returned_headers.get(name) or []
        if values and _address_in(values[0]):
            return _address_in(values[0])
    if parsed.forwarded and parsed.forwarded[0].to:
        return parsed.forwarded[0].to[0].address.lower()
    return ""


def _original_message_id(parsed: ParsedMail) -> str:
    ids = parsed.returned_headers.get("message-id") or []
    if ids:
        match = re.search(r"<[^>\s]+>", ids[0])
        if match:
            return match.group(0)
    if parsed.forwarded and parsed.forwarded[0].message_id:
        return parsed.forwarded[0].message_id
    own = [m for m in _ORIGINAL_ID.findall(parsed.text) if m != parsed.message_id]
    if own:
        return own[0]
    return parsed.in_reply_to[0] if parsed.in_reply_to else ""
