"""What the desk answers Twilio Voice: TwiML (https://www.twilio.com/docs/voice/twiml).

Twilio reads the answer to the number's "A call comes in" request, and to a `<Dial>`'s action
request, as instructions for the call; a body that is not TwiML makes the caller hear "an
application error has occurred". Status callbacks' answers are not read: they get empty TwiML.

An incoming call (the account's `forward_to` set) is put through with `<Dial>`
(https://www.twilio.com/docs/voice/twiml/dial) to that number (`<Number>`) or SIP address
(`<Sip>`), ringing `RING_SECONDS`; `answerOnBridge` keeps the caller hearing the ring (and the
call "ringing" in Twilio's status callbacks) until someone picks up. The dialled leg reports
ringing, answered and completed back here (`statusCallback` on the noun), and when the `<Dial>`
ends Twilio asks its `action` (here too) what to do next: hang up after a conversation, or tell
the caller no one could answer. With no forwarding target the caller hears that at once. Either
way an unanswered call is a missed call, and so a callback on the caller's ticket: the help desk
rings back rather than leaving the caller in a queue no agent watches.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import get_language
from django.utils.translation import gettext as _

RING_SECONDS = 25
# What the dialled leg reports back (https://www.twilio.com/docs/voice/twiml/number#attributes-status-callback-event).
LEG_EVENTS = "ringing answered completed"

# The voice reads the words in the desk's language: <Say language> (https://www.twilio.com/docs/voice/twiml/say#language).
VOICE_LANGUAGES = {"en": "en-US", "it": "it-IT", "de": "de-DE", "bg": "bg-BG"}

EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _response(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


def is_sip(target: str) -> bool:
    return target.lower().startswith(("sip:", "sips:"))


def forward(target: str, callback_url: str) -> str:
    """Put the caller through to `target`; the leg's progress and the end of the `<Dial>` are
    reported to `callback_url`."""
    noun = "Sip" if is_sip(target) else "Number"
    callback = f"statusCallback={quoteattr(callback_url)} statusCallbackEvent={quoteattr(LEG_EVENTS)}"
    return _response(
        f'<Dial action={quoteattr(callback_url)} answerOnBridge="true" timeout="{RING_SECONDS}">'
        f"<{noun} {callback}>{escape(target)}</{noun}></Dial>"
    )


def no_one_answers() -> str:
    """A polite word, then hang up: the missed call becomes a callback."""
    words = _("Thank you for calling. No one can take your call right now. We will call you back as soon as we can.")
    language = VOICE_LANGUAGES.get((get_language() or "en").split("-")[0], "en-US")
    return _response(f"<Say language={quoteattr(language)}>{escape(words)}</Say>", "<Hangup/>")


def hang_up() -> str:
    return _response("<Hangup/>")
