"""The one intake path: every channel turns what arrives into an `Inbound` and calls `ingest`.

Intake finds or creates the customer by identity, threads onto the ticket the channel chose (or
opens a new one), appends the thread entry, indexes it for search, and publishes the domain
events. Channel adapters decide *which* ticket (mail threading, chat session); intake decides
nothing about channels. A message on a ticket that is open goes through the ticket service
`add_inbound_entry` (every further line of a chat, every mail reply), which adds the entry's text
to the search document instead of reading the whole thread back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sportello.accounts.models import Group, User
from sportello.core import events, lookups, prefetch, rows
from sportello.core.errors import InvalidInput
from sportello.core.html import html_to_text, sanitize_html
from sportello.core.made import made
from sportello.core.models import Counter
from sportello.core.numbers import next_number, next_number_and_stamp, sequence_name
from sportello.core.text import clean, clean_json
from sportello.customers.identity import owners_of, owners_query
from sportello.customers.models import Customer, Identity
from sportello.customers.services import (
    NO_ADDRESS,
    NewCustomerRows,
    Sender,
    customer_without_statement,
    find_or_create_customer,
    new_customer_selected,
)
from sportello.fields import services as custom_fields
from sportello.tickets import statuses
from sportello.tickets.attachments import AttachmentIn, check_sizes, store_attachments
from sportello.tickets.models import (
    Channel,
    Direction,
    Entry,
    EntryKind,
    Priority,
    StatusCategory,
    Tag,
    Ticket,
)

MAX_SUBJECT = 255
_CHANNELS = frozenset(Channel.values)  # `Channel.values` builds its list on every use (~30 µs)
MAX_BODY = 2_000_000  # characters; longer bodies are cut and the full text kept as an attachment


@dataclass
class Inbound:
    channel: str
    sender: Sender
    subject: str = ""
    body_text: str = ""
    body_html: str = ""  # as received; intake sanitizes it
    attachments: list[AttachmentIn] = field(default_factory=list)
    # The ticket the channel threaded this onto (intake reads it afresh under a lock: its id is what
    # counts); None opens a new ticket.
    ticket: Ticket | None = None
    kind: str = EntryKind.MESSAGE
    metadata: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None
    language: str = "en"
    # For messages taken down on a customer's behalf (API, phone log, walk-in): the agent who
    # recorded them. The words stay the customer's: the entry's author is the customer, and the
    # agent is named in its metadata (`recorded_by`), so the portal shows them under her name.
    recorded_by: User | None = None
    # Fields a new ticket starts with (API, demo loader); ignored when threading onto a ticket.
    priority: int = Priority.NORMAL
    group: Group | None = None
    tags: list[str] = field(default_factory=list)
    # Send the acknowledgement with the reference number (web form, first mail).
    acknowledge: bool = True
    # A machine's message about the ticket (a bounce): agents see it, the customer never does,
    # and it does not reopen the ticket.
    internal: bool = False
    # What the channel read already in this transaction, with a statement of its own (mail's
    # look-up): the version of the cached lookups (core/lookups.py), and the sender's (kind,
    # value) pairs with every identity of their customers (customers.identity.owners_query).
    # Intake then reads neither; None: intake reads them itself.
    stamp: int | None = None
    owners: tuple[list[tuple[str, str]], list[Identity]] | None = None
    # An agent's new ticket (API) that names no custom field: refused when a ticket field is
    # required, checked against the definitions of the version read here (no statement of its own).
    required_fields: bool = False
    # The channel writes the search documents and events' rows of its messages together at the
    # end of a batch (mail's `receive_batch`): a new ticket then takes no keys ahead for them.
    batched: bool = False


@dataclass(frozen=True)
class IntakeResult:
    ticket: Ticket
    entry: Entry
    created: bool


def ingest(inbound: Inbound, *, savepoint: bool = True) -> IntakeResult:
    """Store one inbound message as a thread entry; open a ticket when none was chosen.

    Inside a caller's transaction the message's writes go in a savepoint, so a caller that catches
    a refusal and goes on (the API's batch create) keeps the messages before it. `savepoint=False`
    is for a caller that gives each message a transaction (or savepoint) of its own and rolls it
    back whole on any error (the mail pipeline): two statements fewer per message.
    """
    if inbound.channel not in _CHANNELS:
        raise InvalidInput(f"Unknown channel {inbound.channel!r}", field="channel")
    check_sizes(inbound.attachments)
    body_html = sanitize_html(clean(inbound.body_html))
    body_text = clean(inbound.body_text) or html_to_text(body_html)
    inbound.subject = clean(inbound.subject)
    inbound.metadata = clean_json(inbound.metadata)
    if inbound.recorded_by is not None:
        agent = inbound.recorded_by
        inbound.metadata = {**inbound.metadata, "recorded_by": {"id": agent.pk, "name": agent.display_name}}
    inbound.sender = Sender(
        *(clean(v) for v in (inbound.sender.name, inbound.sender.email, inbound.sender.phone, inbound.sender.social))
    )
    if not body_text.strip() and not inbound.attachments:
        raise InvalidInput("The message is empty", field="body")
    subject = " ".join((inbound.subject or "").split())[:MAX_SUBJECT] or _subject_from(body_text)
    now = inbound.received_at or timezone.now()

    pairs = inbound.sender.identities()
    if not pairs:  # refused before a reference number is taken
        raise InvalidInput(NO_ADDRESS, field="sender")

    head = None
    if (
        inbound.ticket is None
        and connection.vendor == "postgresql"
        and inbound.stamp is None
        and inbound.owners is None
        and not inbound.attachments
        and not connection.in_atomic_block
        and connection.get_autocommit()
    ):
        # Nobody's transaction is open: a new sender's ticket is one statement (`_open_new_sender`),
        # a known sender's with nothing to add to her file two, and no transaction (`_open_alone`).
        try:
            tried = _open_new_sender(inbound, pairs, subject, now, body_text, body_html) if _mostly_new() else None
            if isinstance(tried, IntakeResult):
                _senders.append(True)
                return tried
            head = tried or _new_ticket_head(pairs)
            _senders.append(not head.owners)
            opened = _open_alone(inbound, head, subject, now, body_text, body_html)
        except IntegrityError:  # another new sender's ticket took one of the addresses meanwhile
            head = None  # read again: her file is this sender's now
        else:
            if opened is not None:
                return opened

    with transaction.atomic(savepoint=savepoint):
        # A new ticket takes its number first: the same statement reads the version of the cached
        # lookups (status, organization domains, tags) that the rest of the transaction uses.
        # When the channel read that version already, PostgreSQL's ticket takes its number from
        # the sequence in its own INSERT (`_open_with_entry`), and nothing is read here, unless
        # the search document and the events' row are written now: the keys read ahead put them
        # in the ticket's statement (`_open_at_once`), two statements instead of three.
        number, stamp, owners = None, inbound.stamp, inbound.owners
        if inbound.ticket is None:
            if head is None and connection.vendor == "postgresql" and (stamp is None or not inbound.batched):
                # The sender's customers (unless the channel read them), and the new rows' keys,
                # in that statement too.
                head = _new_ticket_head(pairs if owners is None else [])
            if head is not None:
                number, stamp = head.number, head.stamp
                owners = (pairs, head.owners) if owners is None else owners
            elif stamp is None:
                number, stamp = next_number_and_stamp("ticket")
            elif connection.vendor != "postgresql":
                number = next_number("ticket")
            if inbound.required_fields:
                custom_fields.clean_values("ticket", {}, creating=True, stamp=stamp)
        since = timezone.now()
        customer = find_or_create_customer(inbound.sender, language=inbound.language, stamp=stamp, known=owners)
        # The common case in one statement: lock the chosen ticket, bump its version and read it
        # back. A closed or merged ticket (or a vanished one) takes the longer way below.
        ticket = _bump_open_thread(inbound.ticket, now)
        bumped = ticket is not None
        if ticket is None:
            ticket = _locked_thread(inbound.ticket)  # a merged ticket's target: its document is rebuilt
        if ticket is not None and ticket.state == StatusCategory.CLOSED:
            # A closed ticket stays closed; the message opens a follow-up that points back to it.
            inbound.metadata = {**inbound.metadata, "follow_up_of": ticket.number}
            ticket = None
        if ticket is not None:
            from sportello.tickets.services import add_inbound_entry

            reindex = not bumped or _search_head_may_change(inbound, customer, ticket, inbound.ticket, since)
            entry = add_inbound_entry(
                ticket,
                customer,
                channel=inbound.channel,
                kind=inbound.kind,
                body_text=body_text[:MAX_BODY],
                body_html=body_html[:MAX_BODY],
                metadata=inbound.metadata,
                attachments=inbound.attachments,
                internal=inbound.internal,
                now=now,
                reindex=reindex,
                bumped=bumped,
            )
            return IntakeResult(ticket=ticket, entry=entry, created=False)
        if head is not None:
            return _open_at_once(inbound, customer, subject, now, head, body_text, body_html)
        if number is None and connection.vendor == "postgresql" and not inbound.tags:
            ticket, entry = _open_with_entry(inbound, customer, subject, now, stamp, body_text, body_html)
        else:
            ticket = _open_ticket(inbound, customer, subject, now, number=number, stamp=stamp)
            entry = _first_entry(inbound, ticket, customer, body_text, body_html, now)
            rows.insert(entry)
        store_attachments(entry, inbound.attachments)
        from sportello.search import backend as search  # the search app indexes every write

        # The whole thread is this one entry, and the customer holds its identities: the document
        # is built from what is in hand, and a new ticket has none to replace.
        search.index_ticket(ticket.pk, ticket=ticket, bodies=[entry.body_text], new=True)
        # The acknowledgement is a listener's work (mail/acknowledgements.py): its outbox row is
        # written once per ticket when the event is delivered, not in this transaction.
        events.publish(
            events.Event(events.ENTRY_ADDED, ticket.pk, entry.pk, data={"direction": "inbound"}),
            events.Event(
                events.TICKET_CREATED, ticket.pk, entry.pk, data={"acknowledge": True} if inbound.acknowledge else {}
            ),
        )
    return IntakeResult(ticket=ticket, entry=entry, created=True)


@dataclass(frozen=True)
class _Head:
    """What a new ticket's first statement reads on PostgreSQL (`_new_ticket_head`)."""

    number: int  # the reference number
    stamp: int  # the version of the cached lookups
    ticket_id: int  # the keys of the new ticket and of its first entry, taken from their sequences
    entry_id: int
    customer_id: int  # a new customer's key (`_open_alone`), taken too: unused when she is known
    owners: list[Identity]  # every identity of the customers owning one of the sender's addresses


def _new_ticket_head(pairs: list[tuple[str, str]]) -> _Head:
    """The reference number, the lookups' version, the keys of the ticket and entry to come and
    the sender's customers with their identities (`customers.identity.owners_query`; no `pairs`:
    none), in ONE statement (a UNION ALL): with them in hand the new ticket's rows go in one more
    (`_open_at_once`), and a known customer's ticket is two statements in all."""
    with rows.bound_cursor() as cursor:  # prepared: its text is one per number of addresses
        cursor.execute(_head_sql(len(pairs)), [lookups.STAMP, *(part for pair in pairs for part in pair)])
        found = cursor.fetchall()
    return _head_from(found)


def _head_from(found: list[tuple[Any, ...]]) -> _Head:
    """The `_Head` of `_head_sql`'s rows (the head's row marked 0, the owners' 1)."""
    head = next(row for row in found if row[0] == 0)
    stamp = lookups.ensure_stamp() if head[2] is None else int(head[2])
    owners = owners_of([row[6:] for row in found if row[0] == 1])
    return _Head(int(head[1]), stamp, int(head[3]), int(head[4]), int(head[5]), owners)


@cache
def _head_sql(count: int) -> str:
    """`_new_ticket_head`'s statement for `count` addresses (its text built once per process)."""
    head, owners = _head_parts(count)
    return f"{head} UNION ALL {owners}" if owners else head


@cache
def _head_parts(count: int) -> tuple[str, str]:
    """`_head_sql`'s head row (typed: the first part of its UNION) and the owners' part (none
    without addresses)."""
    quote = connection.ops.quote_name
    counters = quote(Counter._meta.db_table)
    key = "nextval(pg_get_serial_sequence('{}', 'id'))"
    head = (
        f"SELECT 0, nextval('{sequence_name('ticket')}'), (SELECT value FROM {counters} WHERE name = %s), "
        f"{key.format(Ticket._meta.db_table)}, {key.format(Entry._meta.db_table)}, "
        f"{key.format(Customer._meta.db_table)}"
    )
    if not count:
        return head, ""
    columns, nulls, clause, _params = owners_query([("", "")] * count)
    return f"{head}, {', '.join(nulls)}", f"SELECT 1, NULL, NULL, NULL, NULL, NULL, {', '.join(columns)} {clause}"


def _open_alone(
    inbound: Inbound, head: _Head, subject: str, now: datetime, body_text: str, body_html: str
) -> IntakeResult | None:
    """A new ticket on PostgreSQL with no transaction open: after `head` (reads and sequence
    values: nothing to roll back), every row — a new sender's customer and addresses too — in ONE
    statement, which PostgreSQL commits by itself (no BEGIN and COMMIT: a known sender's create
    is two round trips; a new sender's is one, `_open_new_sender`, unless it could not be taken
    and this writes after its answer). None, having written nothing, when more has to be written (a known customer's
    file gains a name or an address) or the document or events' row waits for a block's end: the
    caller goes on in a transaction with `head`. IntegrityError: an address was taken meanwhile
    (nothing written; read again)."""
    from sportello.search import backend as search

    if not search.writes_at_once() or events.holding():
        return None
    stamp = head.stamp
    if inbound.required_fields:
        custom_fields.clean_values("ticket", {}, creating=True, stamp=stamp)
    settled = customer_without_statement(
        inbound.sender, language=inbound.language, stamp=stamp, owners=head.owners, key=head.customer_id
    )
    if settled is None:
        return None
    customer, new_customer = settled
    return _open_at_once(inbound, customer, subject, now, head, body_text, body_html, new_customer)


def _open_new_sender(
    inbound: Inbound, pairs: list[tuple[str, str]], subject: str, now: datetime, body_text: str, body_html: str
) -> IntakeResult | _Head | None:
    """A new sender's ticket on PostgreSQL with no transaction open, in ONE statement: what
    `_new_ticket_head` and `_open_alone` do in two, the lookups' version this process read last
    assumed. Its first part takes the number and the keys from their sequences only when that
    version is the database's and none of the sender's addresses is known; every INSERT selects
    its keys from that part, so otherwise nothing is written and the statement answers
    `_new_ticket_head`'s rows instead (the `_Head` returned: `_open_alone` goes on with it, two
    statements as before). None, having read and written nothing, when this process holds no
    version yet or the rows are not all written at once (a block holding the search documents or
    the events, a document near its cap). IntegrityError: an address was taken meanwhile."""
    from sportello.search import backend as search

    stamp = lookups.known_stamp()
    if stamp is None or not search.writes_at_once() or events.holding():
        return None
    if inbound.required_fields:
        try:
            custom_fields.clean_values("ticket", {}, creating=True, stamp=stamp)
        except InvalidInput:  # perhaps by definitions changed since: `_open_alone` reads them again
            return None
    tags = _tags(inbound.tags, stamp) if inbound.tags else []
    new_customer = new_customer_selected(inbound.sender, pairs, language=inbound.language, stamp=stamp, source=_KEYS)
    customer = new_customer.customer
    ticket = _new_ticket(inbound, customer, subject, now, None, stamp, write=False)
    entry = _first_entry(inbound, ticket, customer, body_text, body_html, now)
    document = search.new_document_selected(ticket=ticket, bodies=[entry.body_text], source=_KEYS)
    published = (
        events.Event(events.ENTRY_ADDED, 0, 0, data={"direction": "inbound"}),
        events.Event(events.TICKET_CREATED, 0, 0, data={"acknowledge": True} if inbound.acknowledge else {}),
    )
    keys = {"ticket_id": f"{_KEYS}.t", "entry_id": f"{_KEYS}.e"}
    outbox = events.outbox_row_selected(*published, keys=keys, source=_KEYS)
    if document is None or outbox is None:
        return None
    guard, guarded = _new_sender_keys_sql(len(pairs)), [lookups.STAMP, stamp, *(p for pair in pairs for p in pair)]
    parts = [
        (guard, guarded),
        new_customer.customer_row,
        rows.selected_insert(ticket, _TICKET_KEYS, _KEYS),
        rows.selected_insert(entry, _ENTRY_KEYS, _KEYS),
        document,
        (outbox.sql, outbox.params),
        new_customer.identities,
    ]
    if tags:
        parts.insert(4, (_selected_tag_links_sql(len(tags)), [tag.pk for tag in tags]))
    names = [_KEYS] + [f"w{n}" for n in range(1, len(parts))]
    head, owners = _head_parts(len(pairs))
    sql = (
        "WITH "
        + ", ".join(f"{name} AS ({part})" for name, (part, _params) in zip(names, parts, strict=True))
        + f" {head} WHERE NOT EXISTS (SELECT FROM {_KEYS}) UNION ALL "
        + _new_sender_answer_sql(f"w{len(parts) - 2}", f"w{len(parts) - 1}")
        + f" UNION ALL {owners}"
    )
    with rows.bound_cursor() as cursor:
        cursor.execute(sql, [v for _part, params in parts for v in params] + [lookups.STAMP, *guarded[2:]])
        found = cursor.fetchall()
    written = [row for row in found if row[0] == 2]
    if not written:
        return _head_from(found)
    number, outbox_id, ticket_id, entry_id, customer_id = (int(written[0][n]) for n in range(1, 6))
    new_customer.written([(row[6], row[8], row[9]) for row in written], key=customer_id)
    ticket.pk, ticket.number, ticket.customer = ticket_id, number, customer  # (the objects: their keys and them)
    entry.pk, entry.ticket, entry.author_customer = entry_id, ticket, customer
    for instance in (ticket, entry):
        instance._state.adding, instance._state.db = False, connection.alias
    prefetch.hold(ticket, "tags", tags)
    Ticket.sla.related.set_cached_value(ticket, None)  # type: ignore[attr-defined]
    outbox.written(outbox_id, ticket_id=ticket_id, entry_id=entry_id)  # last, as in `_open_at_once`
    return IntakeResult(ticket=ticket, entry=entry, created=True)


# Whether the senders of this process's last creates without a transaction were new (True) or
# known. `_open_new_sender` builds every row before it knows: for a known sender that build is
# thrown away (~1.5 M instructions, a third of a create), where the look-up's way builds once.
# So it is tried only while at most a quarter of those senders were known: a stream of new
# senders (a web form's visitors, an import through the API) saves a round trip each, a desk
# whose customers write again loses nothing. Both ways tell whether the sender was known.
_senders: deque[bool] = deque(maxlen=32)


def _mostly_new() -> bool:
    return _senders.count(False) * 4 <= len(_senders)


_KEYS = "k"  # `_open_new_sender`'s first part: the new rows' number and keys, or no row
_TICKET_KEYS = {"id": f"{_KEYS}.t", "number": f"{_KEYS}.n", "customer_id": f"{_KEYS}.c"}
_ENTRY_KEYS = {"id": f"{_KEYS}.e", "ticket_id": f"{_KEYS}.t", "author_customer_id": f"{_KEYS}.c"}


@cache
def _new_sender_keys_sql(count: int) -> str:
    """`_open_new_sender`'s first part for `count` addresses: the number and the keys (n, t, e,
    c), taken only when the lookups' version is the given one and no address is known."""
    quote = connection.ops.quote_name
    key = "nextval(pg_get_serial_sequence('{}', 'id'))"
    wanted = " OR ".join(["(kind = %s AND value = %s)"] * count)
    return (
        f"SELECT nextval('{sequence_name('ticket')}') AS n, {key.format(Ticket._meta.db_table)} AS t, "
        f"{key.format(Entry._meta.db_table)} AS e, {key.format(Customer._meta.db_table)} AS c "
        f"WHERE (SELECT value FROM {quote(Counter._meta.db_table)} WHERE name = %s) = %s "
        f"AND NOT EXISTS (SELECT FROM {quote(Identity._meta.db_table)} WHERE {wanted})"
    )


@cache
def _new_sender_answer_sql(outbox: str, identities: str) -> str:
    """`_open_new_sender`'s rows when it wrote (marked 2, in `_head_sql`'s columns): the number,
    the events' row, the keys, and each address's key, kind and value."""
    columns = len(Identity._meta.concrete_fields) + len(Customer._meta.concrete_fields)  # `owners_query`'s
    padding = ", NULL" * (columns - 4)
    return (
        f"SELECT 2, {_KEYS}.n, (SELECT id FROM {outbox}), {_KEYS}.t, {_KEYS}.e, {_KEYS}.c, "
        f"i.id, NULL, i.kind, i.value{padding} FROM {_KEYS}, {identities} AS i"
    )


@cache
def _selected_tag_links_sql(count: int) -> str:
    """The new ticket's links to `count` tags, its key from `_open_new_sender`'s first part."""
    return (
        f"{_tag_links_insert()} "
        f"SELECT {_KEYS}.t, v.tag FROM {_KEYS}, (VALUES {', '.join(['(CAST(%s AS bigint))'] * count)}) AS v (tag)"
    )


def _open_at_once(
    inbound: Inbound,
    customer: Customer,
    subject: str,
    now: datetime,
    head: _Head,
    body_text: str,
    body_html: str,
    new_customer: NewCustomerRows | None = None,
) -> IntakeResult:
    """A new ticket on PostgreSQL: its row, its tags, its first entry, its search document and its
    events' outbox row in ONE statement (a data-modifying WITH), their keys taken beforehand
    (`_new_ticket_head`); `new_customer`: her rows too, first. What each part writes is what
    `_open_ticket`, `rows.insert`, `search.index_ticket` and `events.publish` write one statement
    each (the other way below)."""
    from sportello.search import backend as search

    ticket = _new_ticket(inbound, customer, subject, now, head.number, head.stamp, pk=head.ticket_id)
    tags = _tags(inbound.tags, head.stamp) if inbound.tags else []
    entry = _first_entry(inbound, ticket, customer, body_text, body_html, now, pk=head.entry_id)
    parts = [rows.keyed_insert(ticket), rows.keyed_insert(entry)]
    if new_customer is not None:
        parts.insert(0, new_customer.customer_row)
    if tags:
        parts.append((_tag_links_sql(len(tags)), [v for tag in tags for v in (ticket.pk, tag.pk)]))
    document = search.new_document_row(ticket.pk, ticket=ticket, bodies=[entry.body_text])
    if document is not None:
        parts.append(document)
    published = (
        events.Event(events.ENTRY_ADDED, ticket.pk, entry.pk, data={"direction": "inbound"}),
        events.Event(
            events.TICKET_CREATED, ticket.pk, entry.pk, data={"acknowledge": True} if inbound.acknowledge else {}
        ),
    )
    outbox = events.outbox_row(*published)
    if outbox is not None:
        parts.append((outbox.sql, outbox.params))  # the statement returns its row's id
    if new_customer is not None:  # her addresses last: their keys come back, a row each
        outbox_id = f"(SELECT id FROM w{len(parts) - 1})" if outbox is not None else "NULL"
        parts.append(new_customer.identities)
        parts.append((f"SELECT {outbox_id}, i.* FROM w{len(parts) - 1} i", []))
    with rows.bound_cursor() as cursor:
        cursor.execute(
            "WITH " * (len(parts) > 1)
            + ", ".join(f"w{n} AS ({sql})" for n, (sql, _params) in enumerate(parts[:-1]))
            + " "
            + parts[-1][0],
            [value for _sql, params in parts for value in params],
        )
        found = cursor.fetchall() if outbox is not None or new_customer is not None else []
    if new_customer is not None:
        new_customer.written([row[1:] for row in found])
    for instance in (ticket, entry):
        instance._state.adding, instance._state.db = False, connection.alias
    prefetch.hold(ticket, "tags", tags)
    Ticket.sla.related.set_cached_value(ticket, None)  # type: ignore[attr-defined]
    store_attachments(entry, inbound.attachments)
    if document is None:
        search.index_ticket(ticket.pk, ticket=ticket, bodies=[entry.body_text], new=True)
    if outbox is None:
        events.publish(*published)
    else:  # last: outside a transaction its screens are pushed at once
        outbox.written(int(found[0][0]))
    return IntakeResult(ticket=ticket, entry=entry, created=True)


def _open_with_entry(
    inbound: Inbound, customer: Customer, subject: str, now: datetime, stamp: int | None, body_text: str, body_html: str
) -> tuple[Ticket, Entry]:
    """A new ticket without tags and its first entry on PostgreSQL when the lookups' version was
    in hand (mail's look-up read it): both rows in ONE statement (a data-modifying WITH), the
    ticket's number and key from their sequences and the entry's ticket from the ticket's INSERT;
    what `_open_ticket` and `rows.insert` write in two. The caller indexes and publishes."""
    ticket = _new_ticket(inbound, customer, subject, now, None, stamp, write=False)
    entry = _first_entry(inbound, ticket, customer, body_text, body_html, now)
    sql, ticket_columns, entry_columns = _open_with_entry_sql()
    with rows.bound_cursor() as cursor:
        cursor.execute(
            sql,
            rows.parameters(ticket, ticket_columns, connection) + rows.parameters(entry, entry_columns, connection),
        )
        ticket.pk, ticket.number, entry.pk = cursor.fetchone()
    entry.ticket_id = ticket.pk
    for instance in (ticket, entry):
        instance._state.adding, instance._state.db = False, connection.alias
    prefetch.hold(ticket, "tags", [])
    Ticket.sla.related.set_cached_value(ticket, None)  # type: ignore[attr-defined]
    return ticket, entry


@cache
def _open_with_entry_sql() -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """`_open_with_entry`'s statement (its text built once per process) and the columns whose
    values the ticket's and the entry's parameters are, in order."""
    number = (("number", f"nextval('{sequence_name('ticket')}')"),)
    ticket_sql, ticket_columns, _returned = rows._statement(Ticket, connection.vendor, number)
    its_ticket = (("ticket_id", "(SELECT id FROM t)"),)
    entry_sql, entry_columns, _returned = rows._statement(Entry, connection.vendor, its_ticket)
    sql = f"WITH t AS ({ticket_sql}), e AS ({entry_sql}) SELECT t.id, t.number, e.id FROM t, e"
    return sql, ticket_columns, entry_columns


def _subject_from(body: str) -> str:
    first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first_line[:80] or "(no subject)"


def _locked_thread(ticket: Ticket | None) -> Ticket | None:
    """The ticket the channel chose, read fresh under its row lock; a merged ticket's message
    belongs to the ticket it was merged into (locked instead)."""
    if ticket is None:
        return None
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    seen = set()
    while locked.merged_into_id and locked.pk not in seen:
        seen.add(locked.pk)
        locked = Ticket.objects.select_for_update().get(pk=locked.merged_into_id)
    return locked


def _bump_open_thread(ticket: Ticket | None, now: datetime) -> Ticket | None:
    """The ticket the channel chose, locked, with its version bumped and `updated_at` set to
    `now`, as one `UPDATE … RETURNING` (what `_locked_thread` and add_inbound_entry's bump would
    do in two statements); None when there is none or it is closed or merged (nothing written)."""
    if ticket is None:
        return None
    updated_at = Ticket._meta.get_field("updated_at").get_db_prep_save(now, connection)
    with rows.bound_cursor() as cursor:
        cursor.execute(_bump_sql(), [updated_at, ticket.pk, StatusCategory.CLOSED])
        found = cursor.fetchone()
    return None if found is None else rows.from_row(Ticket, found)


@cache
def _bump_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in Ticket._meta.concrete_fields)
    return (
        f"UPDATE {quote(Ticket._meta.db_table)} SET {quote('version')} = {quote('version')} + 1, "
        f"{quote('updated_at')} = %s WHERE {quote('id')} = %s AND {quote('merged_into_id')} IS NULL "
        f"AND {quote('state')} <> %s RETURNING {columns}"
    )


def _search_head_may_change(
    inbound: Inbound, customer: Customer, ticket: Ticket, chosen: Ticket | None, since: datetime
) -> bool:
    """Whether this message may have changed the head of the ticket's search document (the
    customer's name and addresses) or lands before its last entry: then the document is rebuilt
    whole; otherwise the entry's text is only added to its end.

    `ticket`: the row as locked and bumped; `chosen`: the channel's read of it before (mail
    threading reads the row; a chat passes only its id); `since`: the time just before
    find_or_create_customer, which names a nameless customer (its `updated_at` moves) and gives
    them the sender's addresses nobody has (new identities, created after `since`).
    """
    # A stated time (a mail's Date) may be older than the thread's last entry: every entry moves
    # the ticket's `updated_at` to its own time, so an older one lands before some entry.
    if inbound.received_at is not None and (
        chosen is None or chosen._state.adding or inbound.received_at < chosen.updated_at
    ):
        return True
    if customer.pk != ticket.customer_id:
        return False
    return _not_before(customer.updated_at, since) or any(
        _not_before(identity.created_at, since) for identity in customer.identities.all()
    )


def _not_before(value: datetime | str, since: datetime) -> bool:
    """`value` >= `since`; the customer and its identities come from raw SQL, so on SQLite their
    times are naive UTC (or text), as stored."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value >= since


def _open_ticket(
    inbound: Inbound, customer: Customer, subject: str, now: datetime, *, number: int | None, stamp: int | None
) -> Ticket:
    """A new ticket as the answer shows it: its status, customer and tags in hand, no SLA clocks
    yet (they are set after commit), so rendering it reads nothing back."""
    ticket = _new_ticket(inbound, customer, subject, now, number, stamp)
    tags = _tags(inbound.tags, stamp) if inbound.tags else []
    if tags:
        # A new ticket has no tags yet: insert the links without reading them first (one
        # statement, its text kept per number of tags; bulk_create compiled it every time).
        with rows.bound_cursor() as cursor:
            cursor.execute(_tag_links_sql(len(tags)), [v for tag in tags for v in (ticket.pk, tag.pk)])
    prefetch.hold(ticket, "tags", tags)
    Ticket.sla.related.set_cached_value(ticket, None)  # type: ignore[attr-defined]
    return ticket


@cache
def _tag_links_sql(count: int) -> str:
    return f"{_tag_links_insert()} VALUES {', '.join(['(%s, %s)'] * count)}"


@cache
def _tag_links_insert() -> str:
    """INSERT INTO the tag links' table (ticket, tag)."""
    through = Ticket.tags.through._meta
    quote = connection.ops.quote_name
    columns = (through.get_field("ticket").column, through.get_field("tag").column)
    return f"INSERT INTO {quote(through.db_table)} ({', '.join(quote(c) for c in columns)})"


def new_ticket(
    *,
    subject: str,
    customer: Customer,
    channel: str,
    priority: int,
    group: Group | None,
    language: str,
    now: datetime,
    number: int | None = None,
    stamp: int | None = None,
    pk: int | None = None,
    write: bool = True,
) -> Ticket:
    """A ticket row with the next reference number (or `number`, taken already), in status New
    (intake and split use it); `stamp`: the version of the cached lookups (core/lookups.py).
    On PostgreSQL the next number is taken by the INSERT itself (the sequence, as `next_number`
    takes it): one statement. With `pk` (a key taken from the table's sequence) and `number` the
    ticket is only made, not written: the caller inserts it (`_open_at_once`); so with
    `write=False` (`_open_with_entry`: the number and key are the INSERT's)."""
    status = statuses.builtin(StatusCategory.NEW, stamp)
    ticket = made(
        Ticket,
        pk=pk,
        number=0 if number is None else number,
        subject=subject,
        customer=customer,
        channel=channel,
        status=status,
        state=status.category,
        priority=priority,
        group=group,
        language=language,
        created_at=now,
        updated_at=now,
    )
    if (pk is not None and number is not None) or not write:
        return ticket
    if number is None and connection.vendor == "postgresql":
        rows.insert(ticket, computed={"number": f"nextval('{sequence_name('ticket')}')"})
    else:
        if number is None:
            ticket.number = next_number("ticket")
        rows.insert(ticket)
    return ticket


def _tags(names: list[str], stamp: int | None = None) -> list[Tag]:
    """The tags of these names, made when missing. With `stamp`, each name is read once per
    process and version of the cached lookups (making a tag bumps the version)."""
    cleaned = sorted({name.strip().lower()[:50] for name in names if name and name.strip()})
    known: dict[str, Tag] = lookups.cached("tags", stamp, dict)  # filled name by name as they are asked for
    missing = [name for name in cleaned if name not in known]
    if missing:
        known.update((tag.name, tag) for tag in Tag.objects.filter(name__in=missing))
        for name in missing:
            if name not in known:  # a new tag: its save bumps the version, so `known` is dropped
                known[name], _ = Tag.objects.get_or_create(name=name)
    return [known[name] for name in cleaned]


def _first_entry(
    inbound: Inbound,
    ticket: Ticket,
    customer: Customer,
    body_text: str,
    body_html: str,
    now: datetime,
    pk: int | None = None,
) -> Entry:
    """The new ticket's first entry, the message itself (`pk`: a key taken ahead, or None)."""
    return made(
        Entry,
        pk=pk,
        ticket=ticket,
        kind=inbound.kind,
        channel=inbound.channel,
        direction=Direction.INBOUND,
        internal=inbound.internal,
        author_customer=customer,
        body_text=body_text[:MAX_BODY],
        body_html=body_html[:MAX_BODY],
        metadata=inbound.metadata,
        ticket_version=ticket.version,
        created_at=now,
    )


def _new_ticket(
    inbound: Inbound,
    customer: Customer,
    subject: str,
    now: datetime,
    number: int | None,
    stamp: int | None,
    pk: int | None = None,
    *,
    write: bool = True,
) -> Ticket:
    """The new ticket `inbound` opens (`pk`: a key taken ahead, or None), as every way of opening makes it."""
    return new_ticket(
        subject=subject,
        customer=customer,
        channel=inbound.channel,
        priority=inbound.priority,
        group=inbound.group,
        language=inbound.language,
        now=now,
        number=number,
        stamp=stamp,
        pk=pk,
        write=write,
    )
