"""Full-text search behind one interface, with two backends chosen by the database in use.

- PostgreSQL: a `tsvector` column on `search_ticketdocument` with a GIN index.
- SQLite: an FTS5 virtual table `search_fts` whose rowid is the ticket id.

Each ticket has one document: its number, subject, customer name and addresses, and the text of
its thread entries (capped). `index_ticket` rebuilds it inside the writer's transaction, so search
is never behind the database.

Bulk writers (the demo loader, imports) wrap their writes in `deferred()`: each ticket is then
indexed once, whole, when the block ends, instead of on every write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from sportello.core import prefetch
from sportello.core.rows import bound_cursor
from sportello.fields.services import search_text
from sportello.search.models import TicketDocument
from sportello.tickets.held import hold_lookups
from sportello.tickets.models import Ticket
from sportello.tickets.queries import TABLE_FIELDS
from sportello.tickets.queries import _hold_clocks as hold_clocks

DOCUMENT_CAP = 200_000  # characters of thread text indexed per ticket
_WORD = re.compile(r"[\w@.+\-]+", re.UNICODE)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def build_document(ticket_id: int, *, ticket: Ticket | None = None, bodies: list[str] | None = None) -> str:
    """The searchable text of a ticket. Intake passes the new ticket (its customer holding its
    identities, see customers.services.find_or_create_customer) and its one body, saving the
    queries that would read them back."""
    if ticket is None:
        ticket = Ticket.objects.select_related("customer").get(pk=ticket_id)
    parts = [f"#{ticket.number}", str(ticket.number), ticket.subject, ticket.customer.name]
    # Custom-field values, the ticket's and its customer's ("ORD-1042" finds the ticket).
    parts += [search_text(ticket.custom_fields), search_text(ticket.customer.custom_fields)]
    identities = prefetch.held(ticket.customer, "identities")  # intake's: no QuerySet built for them
    if identities is None:
        identities = list(ticket.customer.identities.all())
    for value in [identity.value for identity in identities]:
        # The address whole, and its pieces, so "example.com" and "alice" both find it.
        parts += [value, re.sub(r"[@.+]", " ", value)]
    size = sum(len(p) for p in parts)
    if bodies is None:
        bodies = list(ticket.entries.order_by("created_at", "id").values_list("body_text", flat=True))
    for body in bodies:
        if size >= DOCUMENT_CAP:
            break
        parts.append(body[: DOCUMENT_CAP - size])
        size += len(parts[-1])
    return "\n".join(p for p in parts if p)


# Inside `deferred()`: ticket id -> whether the ticket was new (had no document) when first written.
_pending: ContextVar[dict[int, bool] | None] = ContextVar("search_pending", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Index the tickets written inside the block once each, when it ends, instead of on every
    write: a ticket given five entries is built once, not five times.

    The documents are written on exit in the caller's transaction if one is open (so they commit
    or roll back with the rows). Nested blocks join the outermost one. If the block raises, nothing
    is indexed: the writer's transaction is rolled back and there is nothing to index.
    """
    if _pending.get() is not None:
        yield
        return
    pending: dict[int, bool] = {}
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    existing = set(Ticket.objects.filter(pk__in=list(pending)).values_list("pk", flat=True))
    for ticket_id, new in pending.items():
        if ticket_id in existing:  # a ticket deleted later in the block has nothing to index
            index_ticket(ticket_id, new=new)


# Inside `together()`: new tickets' documents, built, not written yet (ticket id -> text).
_held: ContextVar[dict[int, str] | None] = ContextVar("search_held", default=None)


@contextmanager
def together() -> Iterator[None]:
    """Write the documents of the new tickets indexed inside the block (`index_ticket(…,
    new=True)`, built from what the writer holds) in one statement when the block ends: a mail
    batch's ~90 new tickets, one INSERT instead of one each. A held document written again in
    the block (a reply to a ticket opened earlier in it) changes in memory; a search in the
    block writes the held ones first.

    For a block inside a transaction that is rolled back whole on any error (a mail batch's, see
    mail/services.py `_file_together`): an error in the block writes nothing. Nested blocks
    write with the outermost.
    """
    if _held.get() is not None:
        yield
        return
    held: dict[int, str] = {}
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    write_documents(held, new=True)


def _write_held() -> None:
    """Write the documents `together()` holds now: a write that may touch one of them follows."""
    held = _held.get()
    if held:
        write_documents(dict(held), new=True)
        held.clear()


def index_ticket(
    ticket_id: int, *, ticket: Ticket | None = None, bodies: list[str] | None = None, new: bool = False
) -> None:
    """(Re)write a ticket's document; `new`: the ticket was made in this transaction, so it has
    none yet to replace (SQLite's FTS table then takes one INSERT, not a DELETE and an INSERT)."""
    pending = _pending.get()
    if pending is not None:
        pending.setdefault(ticket_id, new)
        return
    document = build_document(ticket_id, ticket=ticket, bodies=bodies)
    held = _held.get()
    if held is not None and (new or ticket_id in held):
        held[ticket_id] = document
        return
    if is_postgres():
        with bound_cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO search_ticketdocument (ticket_id, body, vector)
                VALUES (%s, %s, to_tsvector('simple', %s))
                ON CONFLICT (ticket_id) DO UPDATE SET body = EXCLUDED.body, vector = EXCLUDED.vector
                """,
                [ticket_id, document, document],
            )
    else:
        with connection.cursor() as cursor:
            if not new:
                cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [ticket_id])
            cursor.execute("INSERT INTO search_fts (rowid, body) VALUES (%s, %s)", [ticket_id, document])


def writes_at_once() -> bool:
    """Whether a new ticket's document is written with its rows (`new_document_row`): PostgreSQL,
    outside `deferred()` and `together()`."""
    return is_postgres() and _pending.get() is None and _held.get() is None


def new_document_row(ticket_id: int, *, ticket: Ticket, bodies: list[str]) -> tuple[str, list[Any]] | None:
    """PostgreSQL: the INSERT of a new ticket's document (built as `index_ticket(…, new=True)`
    builds it) and its parameters, for a writer that sends it within a statement of its own
    (intake: a new ticket's rows in one INSERT). None where `index_ticket` would not write it at
    once (inside `deferred()` or `together()`, or on SQLite): the writer calls `index_ticket`."""
    if not writes_at_once():
        return None
    document = build_document(ticket_id, ticket=ticket, bodies=bodies)
    sql = "INSERT INTO search_ticketdocument (ticket_id, body, vector) VALUES (%s, %s, to_tsvector('simple', %s))"
    return sql, [ticket_id, document, document]


def new_document_selected(*, ticket: Ticket, bodies: list[str], source: str) -> tuple[str, list[Any]] | None:
    """`new_document_row` for a statement that takes the new ticket's key and number from
    `source` (a one-row relation of the statement: columns `t` and `n`) and writes nothing when
    that holds no row (intake's one statement for a new sender): the document's text after the
    number is a parameter, the number is joined to it in SQL. None, as `new_document_row` gives,
    and also when the document comes near DOCUMENT_CAP (where the cut depends on the number's
    length): the writer takes the way where the number is known first."""
    if not writes_at_once():
        return None
    number = ticket.number
    ticket.number = _WIDEST_NUMBER  # the cut below is then never nearer than the real number's
    try:
        document = build_document(0, ticket=ticket, bodies=bodies)
    finally:
        ticket.number = number
    if len(document) >= DOCUMENT_CAP:
        return None
    after_number = document.split("\n", 2)[2]
    return _SELECTED_DOCUMENT_SQL.format(source=source), [after_number]


_WIDEST_NUMBER = 2**63 - 1  # a reference number is a bigint
_SELECTED_DOCUMENT_SQL = (
    "INSERT INTO search_ticketdocument (ticket_id, body, vector) SELECT d.t, d.body, to_tsvector('simple', d.body) "
    "FROM (SELECT {source}.t, '#' || {source}.n || chr(10) || {source}.n || chr(10) || %s AS body FROM {source}) AS d"
)


def write_documents(documents: dict[int, str], *, new: bool = False) -> None:
    """Write many tickets' documents (built by `build_document`) in one statement: bulk writers
    (imports) index a batch of tickets at once. `new`: none of them has a document yet."""
    if not documents:
        return
    with bound_cursor() as cursor:  # the texts travel apart from the statement, prepared once
        if is_postgres():
            cursor.execute(
                """
                INSERT INTO search_ticketdocument (ticket_id, body, vector)
                SELECT d.ticket_id, d.body, to_tsvector('simple', d.body)
                FROM unnest(%s::bigint[], %s::text[]) AS d(ticket_id, body)
                ON CONFLICT (ticket_id) DO UPDATE SET body = EXCLUDED.body, vector = EXCLUDED.vector
                """,
                [list(documents), list(documents.values())],
            )
            return
        if not new:
            cursor.executemany("DELETE FROM search_fts WHERE rowid = %s", [[i] for i in documents])
        cursor.executemany("INSERT INTO search_fts (rowid, body) VALUES (%s, %s)", list(documents.items()))


def append_to_ticket(ticket_id: int, body: str) -> None:
    """Add the newest entry's text to a ticket's document without reading the thread back: the
    document `index_ticket` would build, as long as the entry is the ticket's last (in created
    order) and its head (number, subject, customer) has not changed; intake checks both. A
    document near DOCUMENT_CAP, or none at all, is rebuilt whole instead."""
    if not body:
        return  # build_document leaves empty texts out
    pending = _pending.get()
    if pending is not None:
        pending.setdefault(ticket_id, False)
        return
    held = _held.get()
    if held is not None and ticket_id in held:  # a ticket opened earlier in the block
        if len(held[ticket_id]) + len(body) <= DOCUMENT_CAP:
            held[ticket_id] += "\n" + body
        else:
            index_ticket(ticket_id)
        return
    with bound_cursor() as cursor:
        if is_postgres():
            # Both expressions read the old body, so the vector is the new body's.
            cursor.execute(
                """
                UPDATE search_ticketdocument
                SET body = body || %s, vector = to_tsvector('simple', body || %s)
                WHERE ticket_id = %s AND length(body) + %s <= %s
                """,
                ["\n" + body, "\n" + body, ticket_id, len(body), DOCUMENT_CAP],
            )
        else:
            cursor.execute(
                "UPDATE search_fts SET body = body || %s WHERE rowid = %s AND length(body) + %s <= %s",
                ["\n" + body, ticket_id, len(body), DOCUMENT_CAP],
            )
        appended = cursor.rowcount == 1
    if not appended:
        index_ticket(ticket_id)


def remove_ticket(ticket_id: int) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.pop(ticket_id, None)
    if held := _held.get():
        held.pop(ticket_id, None)
    if is_postgres():
        TicketDocument.objects.filter(ticket_id=ticket_id).delete()
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [ticket_id])


def terms(query: str) -> list[str]:
    """The words of a user's query; punctuation and operators of either engine are dropped."""
    return [w.strip(".-+") for w in _WORD.findall(query or "") if w.strip(".-+")][:20]


# What a result row shows, read with the ticket: its customer and assignee. Without the lookups'
# version the status, group and SLA clocks are joined too; with it (`stamp`) the status and group
# come from this process's copy (tickets/held.py) and the clocks from one query by ticket id, as the
# inbox's: on PostgreSQL each table joined to the 1M-row tickets makes planning dearer (five joins:
# 2.4-5.9 ms of planning; two: 0.2 ms). Either way no row costs a query of its own.
ROW_RELATIONS = ("customer", "assignee")
JOINED_RELATIONS = (*ROW_RELATIONS, "status", "group", "sla")


def search_tickets(
    query: str, tickets: QuerySet[Ticket], limit: int = 50, *, stamp: int | None = None, table: bool = False
) -> list[Ticket]:
    """Tickets among `tickets` (already narrowed by the access gate) matching every word, best first.

    A query that is a reference number (`#10452` or `10452`) finds that ticket first. `stamp`: the
    lookups' version the page read (core/lookups.py); `table=True` reads only the columns a ticket
    table shows (tickets/queries.py TABLE_FIELDS).
    """
    words = terms(query)
    if not words:
        return []
    rows = tickets.select_related(*(ROW_RELATIONS if stamp is not None else JOINED_RELATIONS))
    if table:
        rows = rows.only(*TABLE_FIELDS)
    ids = _match_ids(words, limit * 4 if tickets.query.where else limit)
    found = {t.pk: t for t in rows.filter(pk__in=ids)}
    ranked = [found[i] for i in ids if i in found][:limit]
    number = query.strip().lstrip("#")
    if number.isascii() and number.isdigit():  # "²".isdigit() is true, int("²") fails
        exact = rows.filter(number=int(number)).first()
        if exact:
            ranked = [exact, *[t for t in ranked if t.pk != exact.pk]][:limit]
    if stamp is not None:
        hold_lookups(ranked, stamp)
        hold_clocks(ranked, table)
    return ranked


# Relevance is ranked among the newest matches only: ranking every match of a common word means
# reading 50,000 documents (140 ms at 1M tickets); the newest 500 are found by walking the primary
# key backwards and ranked in a few milliseconds. Agents look for recent tickets first anyway.
RANK_WINDOW = 500
# That walk is only cheap when matches are dense among recent tickets. A word that is rare there
# (or only in old tickets) made PostgreSQL walk and filter most of the table: 290 ms at 1M tickets,
# 150-340 ms at 200k. So the walk is bounded to the newest RECENT_IDS documents; when that finds
# fewer matches than asked for, the matches are taken from the GIN index first (a fenced subquery
# the planner cannot turn back into the walk) and the newest of them ranked.
RECENT_IDS = 10_000


def _match_ids(words: list[str], limit: int) -> list[int]:
    """Ticket ids whose document holds every word, the last one as a prefix (search as you type).

    Only the last word is a prefix: a prefix ANDed with common words makes PostgreSQL's GIN index
    build partial-match bitmaps that must be rechecked row by row (200 ms at 1M tickets).
    """
    _write_held()  # a search inside a mail batch finds the tickets it opened
    if is_postgres():
        with transaction.atomic(), connection.cursor() as cursor:
            tsquery = _pg_tsquery(cursor, words)
            if not tsquery:
                return []
            return pg_ranked_ids(cursor, tsquery, tsquery, limit)
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    match = " AND ".join([*quoted[:-1], quoted[-1] + "*"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM search_fts WHERE search_fts MATCH %s ORDER BY rank, rowid DESC LIMIT %s",
            [match, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _pg_tsquery(cursor: Any, words: list[str]) -> str:
    """The query's words as a PostgreSQL tsquery, the last one a prefix.

    A whole address ("nadia@firma.bg") that PostgreSQL's parser reads as one token is matched as
    that token, which the document holds: its pieces ("nadia", "firma", "bg") are in it too, but
    the domain's are in nearly every document, and "bg:*" as a prefix made the GIN index build a
    bitmap of a million rows (160-270 ms at 1M tickets). Other words with punctuation (host names,
    partial addresses) are matched by their pieces: the parser would otherwise read "firma.bg" as
    one host token, and the document holds the pieces of every address.
    """
    whole: set[str] = set()
    addresses = [w.lower() for w in words if "@" in w]
    if addresses:
        cursor.execute(
            "SELECT w FROM unnest(%s::text[]) w WHERE tsvector_to_array(to_tsvector('simple', w)) = ARRAY[w]",
            [addresses],
        )
        whole = {row[0] for row in cursor.fetchall()}
    lexemes: list[str] = []
    for n, word in enumerate(words):
        last = n == len(words) - 1
        pieces = [word.lower()] if word.lower() in whole else [p for p in re.split(r"[@.+\-]+", word) if p]
        lexemes += [_pg_lexeme(p) for p in pieces[:-1]]
        lexemes += [_pg_lexeme(p) + (":*" if last else "") for p in pieces[-1:]]
    return " & ".join(lexemes)


# The newest matches among the newest RECENT_IDS documents: a backward walk of the primary key that
# stops after RANK_WINDOW matches. The walk is fenced (its own LIMIT) so the planner cannot trade
# it for the GIN index, whose bitmap for two common words (one a prefix) holds hundreds of
# thousands of rows.
_PG_RECENT = """
    SELECT ticket_id FROM (
        SELECT ticket_id, vector FROM (
            SELECT ticket_id, vector FROM search_ticketdocument ORDER BY ticket_id DESC LIMIT %s
        ) newest
        WHERE vector @@ to_tsquery('simple', %s)
        ORDER BY ticket_id DESC LIMIT %s
    ) recent
    ORDER BY ts_rank(vector, to_tsquery('simple', %s)) DESC, ticket_id DESC
    LIMIT %s
"""
# Every match from the GIN index (OFFSET 0 keeps the subquery apart), then the newest of them.
_PG_ALL = """
    SELECT ticket_id FROM (
        SELECT ticket_id, vector FROM (
            SELECT ticket_id, vector FROM search_ticketdocument
            WHERE vector @@ to_tsquery('simple', %s)
            OFFSET 0
        ) matches
        ORDER BY ticket_id DESC LIMIT %s
    ) recent
    ORDER BY ts_rank(vector, to_tsquery('simple', %s)) DESC, ticket_id DESC
    LIMIT %s
"""


def pg_ranked_ids(cursor: Any, match: str, rank: str, limit: int) -> list[int]:
    """Ids of the documents matching the tsquery `match`, ranked by the tsquery `rank`: the newest
    matches among the newest RECENT_IDS documents, else the newest RANK_WINDOW of every match.
    Inside the caller's transaction (the SET LOCAL)."""
    # A bigger work_mem keeps the index bitmaps exact instead of lossy (36 ms instead of 200).
    cursor.execute("SET LOCAL work_mem = '64MB'")
    cursor.execute(_PG_RECENT, [RECENT_IDS, match, RANK_WINDOW, rank, limit])
    ids = [row[0] for row in cursor.fetchall()]
    if len(ids) < limit:
        cursor.execute(_PG_ALL, [match, RANK_WINDOW, rank, limit])
        ids = [row[0] for row in cursor.fetchall()]
    return ids


def _pg_lexeme(word: str) -> str:
    # Quote the lexeme so characters like @ . - are taken literally by to_tsquery.
    return "'" + word.lower().replace("'", "''").replace("\\", "") + "'"
