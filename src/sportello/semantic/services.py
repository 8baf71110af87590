"""Vectors of tickets and knowledge-base translations, built in the background, and the nearest ones.

1. What is embedded: a ticket's subject and its first public message (what the ticket is about;
   later replies would pull it towards the conversation), a translation's title, summary and text;
   both capped at BODY_CHARS. A digest of that text is stored with the vector, so a rebuild skips
   what did not change.
2. When: the events of a new ticket, a changed subject or a first message (apps.py) enqueue one
   task per delivered batch (tasks.py); translations, which publish no events, are swept every
   five minutes; `sportello semantic build` does existing data.
3. Lookups are brute force with numpy over a copy of the ticket vectors each process keeps
   (`_TicketMatrix`), refreshed from the table by `updated_at` before each lookup: 100k tickets
   are 51 MB of int8 and one lookup multiplies them in chunks (bench/semantic.py has the figures).
   PostgreSQL's pgvector is not used: Debian's PostgreSQL here does not ship it, and brute force
   stays within the panel's budget at 100k tickets.

Without the encoder (encoder.available() false) nothing is enqueued or built and every lookup
answers nothing, so the callers show full-text results only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from sportello.core import events
from sportello.kb.models import ArticleTranslation, PublishState
from sportello.kb.render import plain_text
from sportello.semantic import encoder
from sportello.semantic.models import ArticleVector, TicketVector
from sportello.tickets.models import Entry, Ticket

log = logging.getLogger("sportello.semantic")

BODY_CHARS = 2000
BUILD_BATCH = 64  # texts embedded and written at once by the task and the command


def digest(text: str) -> str:
    return hashlib.blake2b(f"{encoder.MODEL}\n{text}".encode(), digest_size=16).hexdigest()


# --- What is embedded ---------------------------------------------------------------------------------


def ticket_texts(ticket_ids: list[int]) -> dict[int, str]:
    """Each ticket's subject and first public message (one query)."""
    first = Entry.objects.filter(ticket=OuterRef("pk"), internal=False).order_by("created_at", "id")
    rows = (
        Ticket.objects.filter(pk__in=ticket_ids)
        .annotate(first_body=Subquery(first.values("body_text")[:1]))
        .values_list("pk", "subject", "first_body")
    )
    return {pk: compose(subject, body or "") for pk, subject, body in rows}


def compose(subject: str, first_message: str) -> str:
    return f"{subject}\n{first_message[:BODY_CHARS]}".strip()


def ticket_text(ticket: Ticket) -> str:
    return ticket_texts([ticket.pk]).get(ticket.pk, ticket.subject)


def article_text(translation: ArticleTranslation) -> str:
    body = plain_text(translation.body_html)[:BODY_CHARS]
    summary = "" if body.startswith(translation.summary.rstrip("…")) else translation.summary
    return "\n".join(part for part in (translation.title, summary, body) if part)


# --- Building ---------------------------------------------------------------------------------------


def embed_tickets(ticket_ids: list[int]) -> int:
    """(Re)build the vectors of these tickets whose text changed; return how many were built."""
    if not ticket_ids or not encoder.available():
        return 0
    built = 0
    for start in range(0, len(ticket_ids), BUILD_BATCH):
        chunk = ticket_ids[start : start + BUILD_BATCH]
        texts = ticket_texts(chunk)
        current = dict(
            TicketVector.objects.filter(ticket_id__in=chunk, model=encoder.MODEL).values_list("ticket_id", "digest")
        )
        todo = {pk: text for pk, text in texts.items() if current.get(pk) != digest(text)}
        if not todo:
            continue
        vectors = encoder.embed(list(todo.values()))
        now = timezone.now()
        rows = [
            TicketVector(ticket_id=pk, model=encoder.MODEL, digest=digest(text), vector=encoder.pack(v), updated_at=now)
            for (pk, text), v in zip(todo.items(), vectors, strict=True)
        ]
        TicketVector.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["ticket"],
            update_fields=["model", "digest", "vector", "updated_at"],
        )
        built += len(rows)
    return built


def embed_translations(translation_ids: list[int]) -> int:
    """(Re)build the vectors of these knowledge-base translations whose text changed."""
    if not translation_ids or not encoder.available():
        return 0
    built = 0
    for start in range(0, len(translation_ids), BUILD_BATCH):
        chunk = list(ArticleTranslation.objects.filter(pk__in=translation_ids[start : start + BUILD_BATCH]))
        current = dict(
            ArticleVector.objects.filter(translation__in=chunk, model=encoder.MODEL).values_list(
                "translation_id", "digest"
            )
        )
        todo = [(t, article_text(t)) for t in chunk]
        todo = [(t, text) for t, text in todo if current.get(t.pk) != digest(text)]
        now = timezone.now()
        if todo:
            vectors = encoder.embed([text for _t, text in todo])
            rows = [
                ArticleVector(
                    translation_id=t.pk, language=t.language, model=encoder.MODEL, digest=digest(text),
                    vector=encoder.pack(v), updated_at=now,
                )
                for (t, text), v in zip(todo, vectors, strict=True)
            ]  # fmt: skip
            ArticleVector.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["translation"],
                update_fields=["language", "model", "digest", "vector", "updated_at"],
            )
            built += len(rows)
        # Unchanged text, newer row (a republished translation): mark it seen, or the sweep retries it.
        unchanged = [t.pk for t in chunk if t.pk in current and all(t.pk != done.pk for done, _ in todo)]
        ArticleVector.objects.filter(translation_id__in=unchanged).update(updated_at=now)
    return built


def stale_translations() -> list[int]:
    """Translations without a vector of this model, or changed since theirs was built."""
    built = dict(ArticleVector.objects.filter(model=encoder.MODEL).values_list("translation_id", "updated_at"))
    return [
        pk
        for pk, changed in ArticleTranslation.objects.values_list("pk", "updated_at")
        if pk not in built or built[pk] < changed
    ]


def sweep_articles() -> int:
    """The scheduler's job: enqueue the build of the translations changed since their vector."""
    if not encoder.installed():
        return 0
    from sportello.semantic.tasks import embed_translations_task

    stale = stale_translations()
    for start in range(0, len(stale), BUILD_BATCH):
        embed_translations_task.enqueue(stale[start : start + BUILD_BATCH])
    return len(stale)


@dataclass(frozen=True)
class Progress:
    done: int
    built: int
    last: int


def build_tickets(*, after: int = 0, batch: int = 500) -> Iterator[Progress]:
    """Embed every ticket from id `after` on, `batch` at a time (the command; resumable)."""
    done = built = 0
    while True:
        ids = list(Ticket.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return
        built += embed_tickets(ids)
        done += len(ids)
        after = ids[-1]
        yield Progress(done, built, after)


# --- Keeping up through the events ------------------------------------------------------------------


def _ticket_ids_to_embed(batch: list[events.Event]) -> list[int]:
    wanted: set[int] = set()
    first_message: set[int] = set()
    for event in batch:
        subject = event.name == events.TICKET_UPDATED and "subject" in event.data.get("fields", [])
        if event.name == events.TICKET_CREATED or subject:
            wanted.add(event.ticket_id)
        elif event.name == events.ENTRY_ADDED and not event.data.get("internal"):
            first_message.add(event.ticket_id)
    # A reply changes the text only of a ticket that had no public message: one without a vector.
    if first_message - wanted:
        have = set(
            TicketVector.objects.filter(ticket_id__in=first_message - wanted).values_list("ticket_id", flat=True)
        )
        wanted |= first_message - have
    return sorted(wanted)


def on_ticket_events(batch: list[events.Event]) -> None:
    """Enqueue one embedding task for the tickets of a delivered batch whose text may have changed;
    the embedding itself (tens of milliseconds a ticket) stays out of event delivery."""
    if not encoder.installed():
        return
    ids = _ticket_ids_to_embed(batch)
    if ids:
        from sportello.semantic.tasks import embed_tickets_task

        embed_tickets_task.enqueue(ids)


@events.batched(on_ticket_events)
def on_ticket_event(event: events.Event) -> None:
    on_ticket_events([event])


# --- Lookups ----------------------------------------------------------------------------------------


class _TicketMatrix:
    """This process's copy of the ticket vectors: ids, an int8 matrix grown by doubling, and the
    newest `updated_at` read. A refresh reads the rows changed since then, minus OVERLAP: a row
    committed late with an earlier `updated_at` (its transaction started first) is still read, and
    reading a row twice only writes the same values again."""

    # The embedding task takes `updated_at` just before its one INSERT of at most BUILD_BATCH rows,
    # in autocommit: two seconds cover the commit's delay. Every row in the window is read again at
    # each lookup, so a wider one costs: two minutes made each lookup after a bulk build read back
    # every row built since (1.5 s added at 10k tickets).
    OVERLAP = timedelta(seconds=2)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.data = np.zeros((0, encoder.DIM), dtype=np.int8)
        self.size = 0
        self.position: dict[int, int] = {}
        self.seen: datetime | None = None

    def refresh(self) -> None:
        rows = TicketVector.objects.filter(model=encoder.MODEL)
        if self.seen is not None:
            rows = rows.filter(updated_at__gte=self.seen - self.OVERLAP)
        fresh = list(rows.values_list("ticket_id", "vector", "updated_at"))
        if not fresh:
            return
        # One buffer for all the rows, not an array per row: 100k rows in one numpy call.
        block = np.frombuffer(b"".join(bytes(data) for _pk, data, _at in fresh), dtype=np.int8)
        block = block.reshape(len(fresh), encoder.DIM)
        self._grow(self.size + len(fresh))
        at = np.empty(len(fresh), dtype=np.int64)
        for n, (pk, _data, _updated) in enumerate(fresh):
            where = self.position.get(pk)
            if where is None:
                where = self.position[pk] = self.size
                self.ids[where] = pk
                self.size += 1
            at[n] = where
        self.data[at] = block
        newest = max(updated for _pk, _data, updated in fresh)
        if self.seen is None or newest > self.seen:
            self.seen = newest

    def _grow(self, need: int) -> None:
        if need <= len(self.ids):
            return
        capacity = max(need, 2 * len(self.ids), 1024)
        ids = np.zeros(capacity, dtype=np.int64)
        data = np.zeros((capacity, encoder.DIM), dtype=np.int8)
        ids[: self.size], data[: self.size] = self.ids[: self.size], self.data[: self.size]
        self.ids, self.data = ids, data

    def vector_of(self, ticket_id: int) -> np.ndarray | None:
        at = self.position.get(ticket_id)
        return None if at is None else self.data[at].astype(np.float32) / encoder.SCALE

    CHUNK = 16_384  # rows turned into float32 at a time: 32 MB, not the whole matrix

    def scores(self, vector: np.ndarray) -> np.ndarray:
        out = np.empty(self.size, dtype=np.float32)
        for start in range(0, self.size, self.CHUNK):
            block = self.data[start : min(start + self.CHUNK, self.size)].astype(np.float32)
            out[start : start + len(block)] = block @ vector
        return out / encoder.SCALE


_tickets = _TicketMatrix()


def forget_cached_vectors() -> None:
    """Drop this process's copy (tests whose database was rolled back under it)."""
    with _tickets.lock:
        _tickets.clear()


def ticket_vector(ticket: Ticket, text: str | None = None) -> np.ndarray | None:
    """The ticket's vector: the stored one, else made now from its text (`text` when the caller
    has it; not stored: a page view writes nothing, the task stores it). None without the encoder,
    or while this process is still loading it (encoder.ready).
    Refreshes this process's copy of the vectors for the lookups that follow."""
    if not encoder.ready():
        return None
    with _tickets.lock:
        _tickets.refresh()
        vector = _tickets.vector_of(ticket.pk)
    if vector is None:
        vector = encoder.embed([ticket_text(ticket) if text is None else text])[0]
    return vector


def nearest_tickets(
    vector: np.ndarray, *, limit: int, minimum: float = -1.0, refresh: bool = True
) -> list[tuple[int, float]]:
    """The `limit` tickets whose vectors are closest to `vector` (cosine at least `minimum`), best
    first. `refresh`: read the rows changed since the last lookup first (ticket_vector just did)."""
    with _tickets.lock:
        if refresh:
            _tickets.refresh()
        if not _tickets.size:
            return []
        scores = _tickets.scores(vector)
        ids = _tickets.ids[: _tickets.size]
    k = min(limit, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top if scores[i] >= minimum]


def scores_of(vector: np.ndarray, ticket_ids: list[int], *, refresh: bool = True) -> dict[int, float]:
    """The cosine of `vector` with each of these tickets that has a vector."""
    found: dict[int, float] = {}
    with _tickets.lock:
        if refresh:
            _tickets.refresh()
        for pk in ticket_ids:
            other = _tickets.vector_of(pk)
            if other is not None:
                found[pk] = float(other @ vector)
    return found


def nearest_translations(query: str, language: str, *, limit: int = 10) -> list[tuple[int, float]]:
    """Published translations in `language` closest to `query` (translation id, cosine), best first.
    The caller checks visibility; empty without the encoder (or while it loads)."""
    if not query.strip() or not encoder.ready():
        return []
    rows = list(
        ArticleVector.objects.filter(
            language=language, model=encoder.MODEL, translation__state=PublishState.PUBLISHED
        ).values_list("translation_id", "vector")
    )
    if not rows:
        return []
    matrix = np.stack([encoder.unpack(data) for _pk, data in rows])
    scores = matrix @ encoder.embed([query])[0]
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(rows[i][0], float(scores[i])) for i in order]
