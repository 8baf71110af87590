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


_DAEMONS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|mdaemon)@?", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|failure notice|delivery failure|"
    r"mail delivery failed|delivery has failed|could not be delivered|non remis|unzustellbar|"
    r"non recapitabile|mancato recapito|недоставен|delayed mail|delivery delayed",
    re.IGNORECASE,
)
_STATUS_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_ORIGINAL_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)


def bounce_of(parsed: ParsedMail) -> Bounce | None:
    """A bounce (DSN or legacy) with the failed recipient, its status and the bounced Message-ID."""
    report = bool(parsed.delivery_status) or (
        parsed.content_type == "multipart/report" and "delivery-status" in parsed.header("content-type").lower()
    )
    sender = parsed.from_.address if parsed.from_ else ""
    from_daemon = bool(_DAEMONS.match(sender)) or parsed.header("return-path").strip() in ("<>", "")
    legacy = "x-failed-recipients" in parsed.headers or (from_daemon and _BOUNCE_SUBJECT.search(parsed.subject))
    if not (report or legacy):
        return None
    bounce = Bounce()
    for block in parsed.delivery_status:
        recipient = block.get("final-recipient") or block.get("original-recipient")
        if recipient:
            bounce.recipient = _address_in(recipient)
            status = _STATUS_CODE.search(block.get("status", ""))
            bounce.status = status.group(1) if status else block.get("status", "").strip()
            bounce.action = block.get("action", "").strip().lower()
            bounce.diagnostic = block.get("diagnostic-code", "")
            if bounce.action == "failed":
                break
    if not bounce.recipient:
        failed = parsed.header("x-failed-recipients")
        bounce.recipient = _address_in(failed) if failed else _recipient_in_text(parsed)
    if not bounce.status:
        code = _STATUS_CODE.search(parsed.text)
        bounce.status = code.group(1) if code else ""
    if not bounce.action:
        delayed = re.search(r"delay|still being retried|will (?:be )?retr", parsed.subject + "\n" + parsed.text, re.I)
        bounce.action = "delayed" if delayed else "failed"
    bounce.original_message_id = _original_message_id(parsed)
    return bounce


def _address_in(value: str) -> str:
    match = _ADDRESS.search(value or "")
    return match.group(0).lower() if match else ""


def _recipient_in_text(parsed: ParsedMail) -> str:
    """The first address in the report's own text that is not one of the envelope parties."""
    known = {a.address.lower() for a in [parsed.from_, *parsed.to] if a}
    text = re.split(r"^-+ ?(?:original message|Original message follows)", parsed.text, flags=re.I | re.M)[0]
    for match in _ADDRESS.finditer(text):
        if match.group(0).lower() not in known:
            return match.group(0).lower()
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
