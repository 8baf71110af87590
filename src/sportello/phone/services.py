"""The phone's use cases: receive a call event, keep the call log, turn calls into ticket entries,
dial out.

One call, three events (newCall, answer, hangup), in any order and any number of times:

1. Each event is stored once (`CallEvent`, unique per account and `kind:call id:event`); a repeat
   changes nothing and is answered as the first one was.
2. The call row (`Call`, unique per account and call id) only moves forward: ringing → answered
   → ended, or ringing → missed. An event arriving late (a newCall after the answer) fills in
   what is missing and no more.
3. An incoming call rings on the screens of the agents the PBX names (`user`), or of every agent
   online; the pop-up is pushed after commit (live.py), and taken down when the call is answered
   elsewhere or ends.
4. When an answered call ends, intake records a call entry (channel phone, kind call) in the
   caller's words on their open ticket, or a new ticket; an unknown number becomes a new customer
   with that phone identity. The agent who took it is `recorded_by`.
5. An incoming call that ends unanswered is a missed call: the same entry, marked missed, on the
   caller's open ticket or a new one, and the ticket is tagged `callback` so it shows in the
   shared "Callbacks" view (tag callback, still open). A later answered call with the caller that
   lands on that ticket takes the tag off: the callback is done.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from sportello.accounts.models import Availability, Role, User
from sportello.core import events
from sportello.core.errors import Forbidden, InvalidInput, ServiceError
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.customers.services import Sender
from sportello.phone import crypto, numbers
from sportello.phone.models import Call, CallDirection, CallEvent, CallState, CtiAccount, CtiKind, EventState
from sportello.phone.parse import ANSWER, HANGUP, NOT_TAKEN, CallEventIn, Fields, Unreadable
from sportello.tickets.models import ACTIVE_CATEGORIES, Channel, EntryKind, Ticket

log = logging.getLogger("sportello.phone")

CALLBACK_TAG = "callback"
CALLBACKS_VIEW = "Callbacks"
STAFF_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)
DIAL_TIMEOUT = 5  # seconds the PBX has to accept a dial-out request


class DialFailed(ServiceError):
    status = 502


# --- Accounts ------------------------------------------------------------------------------------------


def rotate_token(account: CtiAccount) -> str:
    """A new secret for the generic webhook; the old one stops working. Shown once."""
    key = CtiAccount.new_token()
    account.token_hash, account.token_hint = CtiAccount.hash_token(key), key[:8]
    # A save of these fields only, not an update: the audit trail sees the change (never the token).
    account.save(update_fields=["token_hash", "token_hint"])
    return key


def set_secret(account: CtiAccount, secret: str) -> None:
    """Keep the Twilio auth token (encrypted); only its last characters stay readable."""
    secret = secret.strip()
    account.secret_sealed, account.secret_hint = crypto.seal(secret), f"…{secret[-4:]}" if secret else ""
    account.save(update_fields=["secret_sealed", "secret_hint"])  # a save: the audit trail sees it


def save_account(account: CtiAccount, *, auth_token: str = "", account_sid: str = "") -> CtiAccount:
    """Save an account as the settings page changed it, in one save (one record in the audit
    trail): a Twilio auth token or Account SID given is sealed, an empty one keeps the stored one.
    Agents then see the dial and pop-up flags afresh, and the shared Callbacks view exists."""
    auth_token, account_sid = auth_token.strip(), account_sid.strip()
    if auth_token:
        account.secret_sealed, account.secret_hint = crypto.seal(auth_token), f"…{auth_token[-4:]}"
    if account_sid:
        account.account_sid_sealed, account.account_sid_hint = crypto.seal(account_sid), f"…{account_sid[-4:]}"
    account.save()
    ensure_callbacks_view()
    return account


def set_active(account: CtiAccount, active: bool) -> None:
    """Switched off, its webhook refuses events (401) and it no longer dials out."""
    account.active = active
    account.save(update_fields=["active"])  # a save: the audit trail sees it


def delete_account(account: CtiAccount) -> None:
    """The account goes with its call log and events; the call entries on tickets stay."""
    account.delete()


def account_for_token(key: str) -> CtiAccount | None:
    key = (key or "").strip()
    if not key.startswith(CtiAccount.TOKEN_PREFIX) or len(key) > 200:
        return None
    return CtiAccount.objects.filter(active=True, kind=CtiKind.GENERIC, token_hash=CtiAccount.hash_token(key)).first()


def twilio_account(account_id: int) -> CtiAccount | None:
    return CtiAccount.objects.filter(pk=account_id, active=True, kind=CtiKind.TWILIO).first()


def record_error(account: CtiAccount, message: str) -> None:
    """Shown with the account's health in the admin; logged too."""
    log.warning("phone account %s: %s", account.name, message)
    CtiAccount.objects.filter(pk=account.pk).update(last_error=message[:2000], last_error_at=timezone.now())


# --- Receiving events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    call: Call | None = None
    duplicate: bool = False
    quarantined: str = ""


def receive(account: CtiAccount, payload: Any, parser: Callable[[Fields], CallEventIn]) -> Outcome:
    """Store one event from `account` and apply it to its call (see the module's steps)."""
    from sportello.phone.parse import fields_of

    kept = _keepable(payload)
    try:
        event = parser(fields_of(payload))
    except Unreadable as err:
        CallEvent.objects.create(account=account, payload=kept, state=EventState.QUARANTINED, reason=err.reason)
        record_error(account, f"quarantined an event: {err.reason}")
        return Outcome(quarantined=err.reason)
    return _store(account, event, kept)


def _store(account: CtiAccount, event: CallEventIn, kept: dict[str, Any]) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = CallEvent.objects.create(account=account, key=event.key[:400], payload=kept, received_at=now)
        except IntegrityError:
            return Outcome(duplicate=True)
        call = _apply(account, event, now)
        if call is not None:
            CallEvent.objects.filter(pk=row.pk).update(call=call)
        CtiAccount.objects.filter(pk=account.pk).update(last_event_at=now)
    return Outcome(call=call)


def answer_twilio(account: CtiAccount, payload: Any, callback_url: str) -> str:
    """The TwiML for a Twilio request already received (twiml.py says what each does): an
    incoming call is put through to the account's `forward_to`, or, with none, told no one can
    answer and recorded as missed; a `<Dial>` that ended unanswered tells the caller so; anything
    else (status callbacks) gets empty TwiML. `callback_url` is this webhook's address as Twilio
    signed it: where the dialled leg's progress and the `<Dial>`'s end are reported."""
    from sportello.phone import twiml
    from sportello.phone.parse import DIAL_ENDED, INCOMING, TWILIO_DIAL_STATUS, fields_of, twilio_request

    fields = fields_of(payload)
    step = twilio_request(fields)
    if step == INCOMING and account.forward_to:
        return twiml.forward(account.forward_to, callback_url)
    if step == INCOMING:
        call_sid = fields["CallSid"][-1].strip()
        unanswered = CallEventIn(
            event=HANGUP, call_id=call_sid, direction="in", cause="noAnswer", key=f"twilio:{call_sid}:no-forward"
        )
        _store(account, unanswered, {"CallSid": call_sid, "note": "no forwarding target: told no one can answer"})
        return twiml.no_one_answers()
    if step == DIAL_ENDED and TWILIO_DIAL_STATUS[fields["DialCallStatus"][-1].strip()] != "normalClearing":
        return twiml.no_one_answers()
    if step == DIAL_ENDED:
        return twiml.hang_up()
    return twiml.EMPTY


def _keepable(payload: Any) -> dict[str, Any]:
    if hasattr(payload, "lists"):
        return {name: values if len(values) != 1 else values[0] for name, values in payload.lists()}
    return payload if isinstance(payload, dict) else {"body": str(payload)[:10_000]}


def _apply(account: CtiAccount, event: CallEventIn, now: datetime) -> Call | None:
    if event.event == "recording":
        call = Call.objects.select_for_update().filter(account=account, call_id=event.call_id).first()
        if call is not None:
            _set_recording(call, event.recording_url)
        return call
    region = account.region
    from_number = numbers.to_e164(event.from_raw, region) or _raw_number(event.from_raw)
    to_number = numbers.to_e164(event.to_raw, region) or _raw_number(event.to_raw)
    call, created = Call.objects.select_for_update().get_or_create(
        account=account,
        call_id=event.call_id,
        defaults={
            "direction": event.direction,
            "from_number": from_number,
            "to_number": to_number,
            "queue": event.queue,
            "started_at": now,
        },
    )
    before = call.state
    if created or not call.rung:
        _first_sight(call, event)
    if event.event == ANSWER:
        _answer(call, event, now)
    elif event.event == HANGUP:
        _hang_up(call, event, now)
    if event.recording_url and not call.recording_url:
        call.recording_url = event.recording_url
    call.save()
    if created or call.state != before:
        from sportello.phone.live import CALL_CHANGED

        events.publish(events.Event(CALL_CHANGED, 0, data={"call": call.pk}))
    return call


def _raw_number(text: str) -> str:
    """A number phonenumbers cannot read, kept as sent (hidden callers: "")."""
    text = (text or "").strip()
    return "" if text.lower() in numbers.HIDDEN else text[:32]


def _first_sight(call: Call, event: CallEventIn) -> None:
    """Who the caller is and whose screens ring; the agent of an outgoing call."""
    call.customer = find_caller(call.caller_number)
    named = agents_named(event.users)
    if call.direction == CallDirection.IN:
        ringing = named or online_agents()
        call.rung = [user.pk for user in ringing]
    elif named:
        call.agent = call.agent or named[0]
        call.rung = [named[0].pk]


def _answer(call: Call, event: CallEventIn, now: datetime) -> None:
    if call.state != CallState.RINGING:
        return
    call.state = CallState.ANSWERED
    call.answered_at = now
    call.agent = answering_agent(event) or call.agent
    if call.agent is not None and call.agent.pk not in call.rung:  # taken over (a transfer): theirs now
        call.rung = [*call.rung, call.agent.pk]
    if call.customer is not None and call.ticket is None:
        call.ticket = open_ticket_of(call.customer)


def _hang_up(call: Call, event: CallEventIn, now: datetime) -> None:
    if call.state in (CallState.ENDED, CallState.MISSED):
        return
    call.ended_at = now
    call.cause = event.cause
    call.agent = call.agent or answering_agent(event)
    # Answered: we saw it, or the PBX says the call was established (normalClearing, a duration).
    taken = call.answered_at is not None or event.cause == "normalClearing" or bool(event.duration)
    if taken:
        if event.duration is not None:
            call.duration = event.duration
            call.answered_at = call.answered_at or now - timedelta(seconds=event.duration)
        else:
            call.duration = max(0, round((now - (call.answered_at or now)).total_seconds()))
        call.state = CallState.ENDED
        if event.recording_url:
            call.recording_url = event.recording_url
        _record_call_entry(call)
    elif call.direction == CallDirection.IN and (event.cause in NOT_TAKEN or not event.cause):
        call.state = CallState.MISSED
        _record_missed_call(call)
    else:  # an outgoing call nobody took, or one forwarded elsewhere: in the call log only
        call.state = CallState.ENDED


# --- People ---------------------------------------------------------------------------------------------


def _staff() -> list[User]:
    return list(User.objects.filter(is_active=True, role__in=STAFF_ROLES).order_by("id"))


def agents_named(names: list[str]) -> list[User]:
    """The agents a PBX names by real name (as Zammad reads `user`), login or email."""
    wanted = {name.strip().lower() for name in names if name.strip()}
    if not wanted:
        return []
    return [
        user for user in _staff() if {user.get_full_name().lower(), user.username.lower(), user.email.lower()} & wanted
    ]


def online_agents() -> list[User]:
    return list(
        User.objects.filter(is_active=True, role__in=STAFF_ROLES, availability=Availability.ONLINE).order_by("id")
    )


def answering_agent(event: CallEventIn) -> User | None:
    """`answeringNumber` read as Zammad does (login, then id; we keep no agent phone numbers,
    so an email address too), else the one agent named in `user`."""
    value = event.answering.strip()
    if value:
        found = (
            User.objects.filter(is_active=True, role__in=STAFF_ROLES)
            .filter(Q(username__iexact=value) | Q(email__iexact=value) | Q(pk=int(value) if value.isdigit() else -1))
            .order_by("id")
            .first()
        )
        if found is not None:
            return found
    named = agents_named(event.users)
    return named[0] if len(named) == 1 else None


def find_caller(number: str) -> Customer | None:
    """The customer whose phone identity is this number, in any form it may be stored in."""
    forms = numbers.lookup_forms(number) if number.startswith("+") else ([number] if number else [])
    if not forms:
        return None
    identity = (
        Identity.objects.filter(kind=IdentityKind.PHONE, value__in=forms, customer__merged_into__isnull=True)
        .select_related("customer")
        .order_by("id")
        .first()
    )
    return identity.customer if identity is not None else None


def open_ticket_of(customer: Customer) -> Ticket | None:
    """The caller's ticket a call belongs on: their most recently active one that is still open."""
    return (
        Ticket.objects.filter(customer=customer, state__in=ACTIVE_CATEGORIES, merged_into__isnull=True)
        .order_by("-updated_at", "-id")
        .first()
    )


# --- Calls into tickets ----------------------------------------------------------------------------------


def _sender(call: Call) -> Sender | None:
    number = call.caller_number
    if call.customer is not None:
        identity = call.customer.identities.filter(kind=IdentityKind.PHONE).order_by("id").first()
        if identity is not None:
            return Sender(name=call.customer.name, phone=identity.value)
    if not number.startswith("+"):
        return None  # a hidden or unreadable number: in the call log only
    return Sender(phone=number)


def _metadata(call: Call) -> dict[str, Any]:
    data: dict[str, Any] = {
        "call_id": call.call_id,
        "call_direction": call.direction,
        "cti": call.account.name,
        "from": call.from_number,
        "to": call.to_number,
    }
    if call.duration is not None:
        data["duration_seconds"] = call.duration
    if call.recording_url:
        data["recording_url"] = call.recording_url
    if call.cause:
        data["cause"] = call.cause
    return data


def _duration_text(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _record_call_entry(call: Call) -> None:
    sender = _sender(call)
    if sender is None:
        return
    shown = numbers.shown(call.caller_number)
    if call.direction == CallDirection.IN:
        body = _("Phone call from %(number)s, %(duration)s.")
    else:
        body = _("Phone call to %(number)s, %(duration)s.")
    body = body % {"number": shown, "duration": _duration_text(call.duration or 0)}
    if call.agent is not None:
        body += " " + _("Answered by %(name)s.") % {"name": call.agent.display_name}
    body_html = format_html("<p>{}</p>", body)
    if call.recording_url:
        body += "\n" + _("Recording: %(url)s") % {"url": call.recording_url}
        body_html += format_html('<p><a href="{}">{}</a></p>', call.recording_url, _("Recording of the call"))
    ticket = call.ticket or (open_ticket_of(call.customer) if call.customer else None)
    entry = _ingest(
        call, sender, body, ticket, subject=_("Phone call from %(number)s") % {"number": shown}, body_html=body_html
    )
    if CALLBACK_TAG in {tag.name for tag in entry.ticket.tags.all()}:
        _set_callback(entry.ticket, False)


def _record_missed_call(call: Call) -> None:
    sender = _sender(call)
    if sender is None:
        return
    shown = numbers.shown(call.caller_number)
    body = _("Missed call from %(number)s: call back.") % {"number": shown}
    ticket = open_ticket_of(call.customer) if call.customer else None
    entry = _ingest(
        call,
        sender,
        body,
        ticket,
        subject=_("Missed call from %(number)s") % {"number": shown},
        missed=True,
    )
    if ticket is not None:
        _set_callback(entry.ticket, True)
    ensure_callbacks_view()


def _ingest(
    call: Call,
    sender: Sender,
    body: str,
    ticket: Ticket | None,
    *,
    subject: str,
    missed: bool = False,
    body_html: str = "",
) -> Any:
    from sportello.tickets.intake import Inbound, ingest

    metadata = _metadata(call)
    if missed:
        metadata.update(missed=True, callback="pending")
    result = ingest(
        Inbound(
            channel=Channel.PHONE,
            sender=sender,
            subject=subject,
            body_text=body,
            body_html=body_html,
            ticket=ticket,
            kind=EntryKind.CALL,
            metadata=metadata,
            recorded_by=call.agent,
            tags=[CALLBACK_TAG] if missed else [],
            acknowledge=False,
        )
    )
    call.ticket = result.ticket
    call.entry = result.entry
    call.customer = result.ticket.customer
    return result.entry


def _set_callback(ticket: Ticket, wanted: bool) -> None:
    """Tag the ticket for a callback, or take the tag off (the history names Automation)."""
    from sportello.automation.actions import system_user
    from sportello.tickets.services import TicketChanges, update_ticket

    names = list(ticket.tags.values_list("name", flat=True))
    if (CALLBACK_TAG in names) == wanted:
        return
    tags = [*names, CALLBACK_TAG] if wanted else [name for name in names if name != CALLBACK_TAG]
    update_ticket(ticket, system_user(), TicketChanges(tags=tags))


def _set_recording(call: Call, url: str) -> None:
    """A recording that arrives after the call (Twilio's recording callback): on the call, and in
    the metadata of its entry (the entry's text stays as written)."""
    from sportello.tickets.models import Entry

    call.recording_url = url
    call.save(update_fields=["recording_url"])
    if call.entry_id:
        entry = Entry.objects.filter(pk=call.entry_id).first()
        if entry is not None and not entry.metadata.get("recording_url"):
            Entry.objects.filter(pk=entry.pk).update(metadata={**entry.metadata, "recording_url": url})


def ensure_callbacks_view() -> None:
    """The shared "Callbacks" view (open tickets tagged callback: the inbox's "All open" with the
    tag), made once through the inbox's own service, owned by the first admin; every agent sees it
    beside their own views, with its count."""
    from sportello.inbox.models import SavedView, Sharing
    from sportello.inbox.services import save_view
    from sportello.tickets.queries import TicketFilter

    if SavedView.objects.filter(name=CALLBACKS_VIEW, sharing=Sharing.EVERYONE).exists():
        return
    owner = User.objects.filter(is_active=True).filter(Q(role=Role.ADMIN) | Q(is_superuser=True)).order_by("id").first()
    if owner is None or not owner.is_admin or not owner.is_staff_member:
        return
    save_view(
        owner,
        name=CALLBACKS_VIEW,
        flt=TicketFilter(view="open", tag=[CALLBACK_TAG]),
        params=urllib.parse.urlencode({"view": "open", "tag": CALLBACK_TAG}),
        sharing=Sharing.EVERYONE,
    )


# --- The call log and dialling out --------------------------------------------------------------------


def recent_calls(agent: User, *, state: str = "", limit: int = 50) -> list[Call]:
    if not agent.is_authenticated or not agent.is_staff_member:
        raise Forbidden("Agents only")
    if state and state not in CallState.values:
        raise InvalidInput(f"Unknown state {state!r}", field="state")
    calls = Call.objects.select_related("account", "agent", "customer", "ticket")
    if state:
        calls = calls.filter(state=state)
    return list(calls.order_by("-started_at", "-id")[: max(1, min(limit, 200))])


def dialer() -> CtiAccount | None:
    """The account agents dial out through: the first active one with an outbound URL."""
    return CtiAccount.objects.filter(active=True).exclude(outbound_url="").order_by("id").first()


@dataclass(frozen=True)
class Dialled:
    number: str
    account: str


def dial_out(agent: User, number: str) -> Dialled:
    """Ask the PBX to call `number` for `agent`: a form POST to the account's outbound URL with
    `number` (E.164), `user` (the agent's name), `username` and `email`. The PBX rings the
    agent's phone and then the customer; its call events come back as for any call."""
    if not agent.is_authenticated or not agent.can_reply:
        raise Forbidden("Agents only")
    account = dialer()
    if account is None:
        raise InvalidInput("No phone system dials out; use the tel: link", field="number")
    e164 = numbers.to_e164(number, account.region)
    if not e164:
        raise InvalidInput(f"Not a phone number: {number[:40]!r}", field="number")
    body = urllib.parse.urlencode(
        {"number": e164, "user": agent.display_name, "username": agent.username, "email": agent.email}
    ).encode()
    request = urllib.request.Request(
        account.outbound_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Sportello"},
    )
    try:
        with urllib.request.urlopen(request, timeout=DIAL_TIMEOUT) as response:
            response.read(1024)
    except urllib.error.HTTPError as err:
        record_error(account, f"dial-out answered {err.code}")
        raise DialFailed(f"The phone system refused the call ({err.code})") from err
    except (urllib.error.URLError, OSError) as err:
        record_error(account, f"dial-out failed: {err}")
        raise DialFailed("The phone system could not be reached") from err
    return Dialled(number=e164, account=account.name)
