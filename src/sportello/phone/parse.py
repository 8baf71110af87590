"""What phone systems send, read into one `CallEventIn`: Zammad's generic CTI format and Twilio
Voice status callbacks. A payload that is neither is refused with a reason (`Unreadable`), which
the caller keeps in quarantine.

Generic CTI (https://docs.zammad.org/en/latest/api/generic-cti/index.html): `event` newCall,
answer or hangup; `from`, `to`, `direction` (in/out), `callId` (at most 250 characters), `user`
(form-encoded as `user[]`, one per agent; a string or a list in JSON), `queue`, `cause` on hangup
(normalClearing, busy, cancel, noAnswer, congestion, notFound, forwarded), `answeringNumber` (the
agent who picked up: phone, login or id). Sportello also reads an optional `recordingUrl`.

Twilio (https://www.twilio.com/docs/usage/webhooks/voice-webhooks): `CallSid`, `CallStatus`
(queued, initiated, ringing, in-progress, completed, busy, no-answer, canceled, failed), `From`,
`To`, `Direction` (inbound, outbound-api, outbound-dial), `CallDuration` and `RecordingUrl` when the
call is over. The number's "A call comes in" request has the same fields (no `CallbackSource`,
CallStatus ringing) and wants TwiML back (twiml.py); so does the action request of the `<Dial>`
that puts the call through, with `DialCallStatus` (completed, answered, busy, no-answer, failed,
canceled), `DialCallDuration` and `DialCallSid` (https://www.twilio.com/docs/voice/twiml/dial).
The dialled leg's own status callbacks carry `ParentCallSid` and Direction outbound-dial: they are
read as events of the caller's call. Requests are signed (https://www.twilio.com/docs/usage/security#validating-requests):
HMAC-SHA1, keyed with the auth token, of the full URL followed by each POST parameter's name and
value sorted by name, base64 in X-Twilio-Signature (core/twilio.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The signature check lives in core/, shared with the SMS channel (social/platforms/twilio_sms.py).
from sportello.core.twilio import twilio_signature as twilio_signature
from sportello.core.twilio import twilio_signature_ok as twilio_signature_ok

NEW_CALL = "newCall"
ANSWER = "answer"
HANGUP = "hangup"
EVENTS = (NEW_CALL, ANSWER, HANGUP)
# Hang-up causes that mean the call was never taken (Zammad counts these as missed).
NOT_TAKEN = {"busy", "cancel", "noAnswer", "congestion", "notFound"}
CAUSES = NOT_TAKEN | {"normalClearing", "forwarded"}

MAX_CALL_ID = 250

TWILIO_STATUS: dict[str, tuple[str, str]] = {
    "queued": (NEW_CALL, ""),
    "initiated": (NEW_CALL, ""),
    "ringing": (NEW_CALL, ""),
    "in-progress": (ANSWER, ""),
    "completed": (HANGUP, "normalClearing"),
    "busy": (HANGUP, "busy"),
    "no-answer": (HANGUP, "noAnswer"),
    "canceled": (HANGUP, "cancel"),
    "failed": (HANGUP, "congestion"),
}


# A <Dial>'s end (DialCallStatus) as a hang-up cause: a conversation, or a call no one took.
TWILIO_DIAL_STATUS: dict[str, str] = {
    "completed": "normalClearing",
    "answered": "normalClearing",
    "busy": "busy",
    "no-answer": "noAnswer",
    "failed": "congestion",
    "canceled": "cancel",
}

# What a Twilio request is: the number's incoming-call request and a <Dial>'s end want TwiML
# that says what the call does next; a status callback's answer is not read.
INCOMING, DIAL_ENDED, STATUS = "incoming", "dial-ended", "status"


class Unreadable(Exception):
    """A payload that is not a call event we know: kept in quarantine with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CallEventIn:
    event: str
    call_id: str
    direction: str  # "in" or "out"
    from_raw: str = ""
    to_raw: str = ""
    users: list[str] = field(default_factory=list)
    answering: str = ""
    cause: str = ""
    queue: str = ""
    duration: int | None = None  # seconds, when the PBX says (Twilio's CallDuration)
    recording_url: str = ""
    key: str = ""  # what makes a repeat of this event recognisable


Fields = Mapping[str, list[str]]


def fields_of(data: Any) -> dict[str, list[str]]:
    """A form (QueryDict: every value a list) or a JSON object as name -> values; `user[]` and
    `user` are one field. Values that are not text are refused."""
    if hasattr(data, "lists"):
        items = list(data.lists())
    elif isinstance(data, dict):
        items = [(k, v if isinstance(v, list) else [v]) for k, v in data.items()]
    else:
        raise Unreadable("The body is neither a form nor a JSON object")
    found: dict[str, list[str]] = {}
    for name, values in items:
        if not isinstance(name, str):
            raise Unreadable("A field name is not text")
        values = [value for value in values if value is not None]  # JSON null: as if absent
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise Unreadable(f"Field {name!r} is not text")
        found.setdefault(name.removesuffix("[]"), []).extend(str(v) for v in values)
    return found


def _one(fields: Fields, name: str) -> str:
    values = fields.get(name) or [""]
    return values[-1].strip()


def _http_url(value: str) -> str:
    return value if value.startswith(("https://", "http://")) and len(value) <= 1000 else ""


def parse_generic(fields: Fields) -> CallEventIn:
    event = _one(fields, "event")
    if event not in EVENTS:
        raise Unreadable(f"Unknown event {event!r}: expected newCall, answer or hangup")
    call_id = _one(fields, "callId")
    if not call_id:
        raise Unreadable("callId is missing")
    if len(call_id) > MAX_CALL_ID:
        raise Unreadable(f"callId is longer than {MAX_CALL_ID} characters")
    direction = _one(fields, "direction")
    if direction not in ("in", "out"):
        raise Unreadable(f"Unknown direction {direction!r}: expected in or out")
    cause = _one(fields, "cause")
    if event == HANGUP and cause and cause not in CAUSES:
        cause = cause[:30]  # an unknown cause is kept as said; only the known ones mean "missed"
    users = [name.strip() for name in fields.get("user", []) if name.strip()]
    return CallEventIn(
        event=event,
        call_id=call_id,
        direction=direction,
        from_raw=_one(fields, "from"),
        to_raw=_one(fields, "to"),
        users=users[:50],
        answering=_one(fields, "answeringNumber")[:254],
        cause=cause,
        queue=_one(fields, "queue")[:100],
        recording_url=_http_url(_one(fields, "recordingUrl")),
        key=f"generic:{call_id}:{event}",
    )


def twilio_request(fields: Fields) -> str:
    """INCOMING (a call comes in), DIAL_ENDED (the <Dial> putting it through is over) or STATUS."""
    if _one(fields, "DialCallStatus"):
        return DIAL_ENDED
    if (
        not _one(fields, "CallbackSource")
        and not _one(fields, "ParentCallSid")
        and _one(fields, "Direction") == "inbound"
        and _one(fields, "CallStatus") in ("ringing", "queued")
    ):
        return INCOMING
    return STATUS


def parse_twilio(fields: Fields) -> CallEventIn:
    call_sid = _one(fields, "CallSid")
    if not call_sid or len(call_sid) > MAX_CALL_ID:
        raise Unreadable("CallSid is missing")
    dial_status = _one(fields, "DialCallStatus")
    if dial_status:
        return _twilio_dial_ended(fields, call_sid, dial_status)
    parent = _one(fields, "ParentCallSid")
    if parent and _one(fields, "Direction") == "outbound-dial" and len(parent) <= MAX_CALL_ID:
        # The leg our <Dial> put the caller through on: its progress is the caller's call's.
        key_prefix, call_id, direction = f"twilio:{parent}:leg:{call_sid}", parent, "in"
    else:
        key_prefix, call_id = f"twilio:{call_sid}", call_sid
        direction = "in" if _one(fields, "Direction") in ("", "inbound") else "out"
    status = _one(fields, "CallStatus")
    recording = _http_url(_one(fields, "RecordingUrl"))
    if not status and recording:  # a recording status callback: the recording of a call we know
        return CallEventIn(
            event="recording",
            call_id=call_sid,
            direction="in",
            recording_url=recording,
            key=f"twilio:{call_sid}:recording:{_one(fields, 'RecordingSid')}",
        )
    if status not in TWILIO_STATUS:
        raise Unreadable(f"Unknown CallStatus {status!r}")
    event, cause = TWILIO_STATUS[status]
    duration_text = _one(fields, "CallDuration")
    duration = int(duration_text) if duration_text.isdigit() else None
    return CallEventIn(
        event=event,
        call_id=call_id,
        direction=direction,
        from_raw=_one(fields, "From"),
        to_raw=_one(fields, "To"),
        cause=cause,
        duration=duration,
        recording_url=recording,
        key=f"{key_prefix}:{status}",
    )


def _twilio_dial_ended(fields: Fields, call_sid: str, dial_status: str) -> CallEventIn:
    if dial_status not in TWILIO_DIAL_STATUS:
        raise Unreadable(f"Unknown DialCallStatus {dial_status!r}")
    duration_text = _one(fields, "DialCallDuration")
    return CallEventIn(
        event=HANGUP,
        call_id=call_sid,
        direction="in" if _one(fields, "Direction") in ("", "inbound") else "out",
        from_raw=_one(fields, "From"),
        to_raw=_one(fields, "To"),
        cause=TWILIO_DIAL_STATUS[dial_status],
        duration=int(duration_text) if duration_text.isdigit() else None,
        recording_url=_http_url(_one(fields, "RecordingUrl")),
        key=f"twilio:{call_sid}:dial:{dial_status}",
    )
