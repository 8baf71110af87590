"""Vectors of tickets and knowledge-base translations, built in the background, and the nearest ones.

1. What is embedded: a ticket's subject and its first public message (what the ticket is about;
   later replies would pull it towards the conversation), a translation's title, summary and text;
   both capped at BODY_CHARS. A digest of that text is stored with the vector, so a rebuild skips
   what did not change.
2. When: the events of a new ticket, a changed subject or a first message (apps.py) enqueue one
   task per delivered batch (tasks.py); translations, which publish no events, are swept every
   five minutes; `sportello semantic build` does existing data.
3. Lookups go over copies of the vectors each process keeps (`_TicketMatrix`, `_VectorCopy` for
   the translations), refreshed from the table by `updated_at` before each lookup and first read
   by the thread that loads the encoder, so no request waits for it. Ticket lookups are brute
   force with numpy up to settings.SEMANTIC_ANN_THRESHOLD vectors, exact and cheap; past it an
   approximate index (usearch, built in the background, kept up to date by the same refresh)
   gives candidates that the exact int8 cosine re-ranks (bench/semantic.py has the figures).
   PostgreSQL's pgvector is not used: Debian's PostgreSQL here does not ship it.

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
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
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


def _index_class() -> Any:
    """usearch's Index, or None where the package is missing (lookups stay brute force)."""
    try:
        from usearch.index import Index
    except ImportError:
        return None
    return Index


class _VectorCopy:
    """This process's copy of a table of vectors: ids, an int8 matrix grown by doubling, and the
    newest `updated_at` read. A refresh reads the rows changed since then, minus OVERLAP: a row
    committed late with an earlier `updated_at` (its transaction started first) is still read, and
    reading a row twice only writes the same values again."""

    # The embedding task takes `updated_at` just before its one INSERT of at most BUILD_BATCH rows,
    # in autocommit: two seconds cover the commit's delay. Every row in the window is read again at
    # each lookup, so a wider one costs: two minutes made each lookup after a bulk build read back
    # every row built since (1.5 s added at 10k tickets).
    OVERLAP = timedelta(seconds=2)

    def __init__(self, model: type[TicketVector] | type[ArticleVector], key: str) -> None:
        self.model, self.key = model, key
        self.lock = threading.Lock()
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.data = np.zeros((0, encoder.DIM), dtype=np.int8)
        self.size = 0
        self.position: dict[int, int] = {}
        self.seen: datetime | None = None
        self.generation += 1  # a build started before this does not install its index

    def refresh(self) -> np.ndarray:
        """Read the rows changed since the last refresh; return the positions whose vector is new
        or different (a row read again in the overlap is not)."""
        rows = self.model.objects.filter(model=encoder.MODEL)
        if self.seen is not None:
            rows = rows.filter(updated_at__gte=self.seen - self.OVERLAP)
        fresh = list(rows.values_list(self.key, "vector", "updated_at"))
        if not fresh:
            return np.zeros(0, dtype=np.int64)
        # One buffer for all the rows, not an array per row: 100k rows in one numpy call.
        block = np.frombuffer(b"".join(bytes(data) for _pk, data, _at in fresh), dtype=np.int8)
        block = block.reshape(len(fresh), encoder.DIM)
        self._grow(self.size + len(fresh))
        before = self.size
        at = np.empty(len(fresh), dtype=np.int64)
        for n, (pk, _data, _updated) in enumerate(fresh):
            where = self.position.get(pk)
            if where is None:
                where = self.position[pk] = self.size
                self.ids[where] = pk
                self.size += 1
            at[n] = where
        changed = at[(at >= before) | (self.data[at] != block).any(axis=1)] if before else at
        self.data[at] = block
        newest = max(updated for _pk, _data, updated in fresh)
        if self.seen is None or newest > self.seen:
            self.seen = newest
        return changed

    def _grow(self, need: int) -> None:
        if need <= len(self.ids):
            return
        capacity = max(need, 2 * len(self.ids), 1024)
        ids = np.zeros(capacity, dtype=np.int64)
        data = np.zeros((capacity, encoder.DIM), dtype=np.int8)
        ids[: self.size], data[: self.size] = self.ids[: self.size], self.data[: self.size]
        self.ids, self.data = ids, data

    def vector_of(self, pk: int) -> np.ndarray | None:
        at = self.position.get(pk)
        return None if at is None else self.data[at].astype(np.float32) / encoder.SCALE

    CHUNK = 16_384  # rows turned into float32 at a time: 32 MB, not the whole matrix

    def scores(self, vector: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """The cosine of `vector` with every row (or the rows at `positions`)."""
        if positions is not None:
            return (self.data[positions].astype(np.float32) @ vector) / encoder.SCALE
        out = np.empty(self.size, dtype=np.float32)
        for start in range(0, self.size, self.CHUNK):
            block = self.data[start : min(start + self.CHUNK, self.size)].astype(np.float32)
            out[start : start + len(block)] = block @ vector
        return out / encoder.SCALE


def _best(positions: np.ndarray, scores: np.ndarray, ids: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (id, score), by score and then by id, so that the approximate path and
    brute force order ties alike."""
    if limit < 1:
        return []
    if len(positions) > limit:
        keep = np.argpartition(-scores, limit - 1)[:limit]
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((ids[positions], -scores))
    return [(int(ids[positions[i]]), float(scores[i])) for i in order]


def _put(index: Any, keys: np.ndarray, data: np.ndarray) -> None:
    """Put the rows of `data` at positions `keys` into `index`, replacing what it had for them."""
    index.remove(keys)
    index.add(keys, data[keys.astype(np.int64)], threads=1)


class _TicketMatrix(_VectorCopy):
    """The ticket vectors, and above `settings.SEMANTIC_ANN_THRESHOLD` of them an approximate
    nearest-neighbour index (usearch's HNSW graph over the same int8 rows) that answers lookups.

    1. Below the threshold a lookup is brute force: exact, and cheap (bench/semantic.py).
    2. Past it, the first refresh starts building the index in a thread of its own (a minute or
       more at 100k on a busy machine; usearch lets go of the GIL while it works); lookups stay
       brute force until it is there.
    3. The index's keys are positions in the matrix. Every refresh re-adds the positions it wrote
       (a new ticket, a changed vector), so the index follows the same "rows changed since" read
       as the copy; the positions written while the index was being built are added when it is,
       and more than INLINE at once are added by a thread, brute force meanwhile.
    4. A lookup asks the index for at least CANDIDATES positions and re-ranks them by the exact
       int8 cosine of the copy: where the true nearest are among the candidates (recall@10 1.000
       at 100k in the bench; 0.91 at 1M near copies, where 40 are too few), the answer is brute
       force's, scores included.
    5. Where usearch is missing or fails, the index is dropped and lookups are brute force for the
       rest of the process's life (logged once).
    """

    CANDIDATES = 40  # recall@10 0.997 on 100k perturbed real vectors, against 0.84 with 10

    def clear(self) -> None:
        super().clear()
        self.index: Any = None
        self.building = False
        self.failed = False
        self.pending: set[int] = set()  # positions written since the index last saw them

    def refresh(self) -> np.ndarray:
        changed = super().refresh()
        if self.index is not None or self.building:
            self.pending.update(changed.tolist())
        self._follow()
        return changed

    # Changed rows put into the index within the lookup that read them (the embedding task writes
    # 64 at a time: 89 ms at 100k on the busy machine); more, as after a `semantic build`, are put
    # in by a thread while lookups are brute force, so that no request waits minutes for them.
    INLINE = 256

    def _follow(self) -> None:
        """With the lock held: bring the index up to date, or start building it (or catching it up)
        in the background."""
        if self.building or self.failed:
            return  # the rows read meanwhile wait in `pending`
        if self.index is not None and len(self.pending) <= self.INLINE:
            if self.pending:
                keys = np.fromiter(sorted(self.pending), dtype=np.uint64, count=len(self.pending))
                self.pending.clear()
                try:
                    _put(self.index, keys, self.data)
                except Exception:
                    self._fail("update")
            return
        if self.index is None and self.size < settings.SEMANTIC_ANN_THRESHOLD:
            return
        index_class = _index_class()
        if index_class is None:
            log.info("semantic: usearch is not installed; ticket lookups stay brute force")
            self.failed = True
            return
        index, self.index = self.index, None  # brute force until the thread is done
        behind = None if index is None else np.fromiter(sorted(self.pending), dtype=np.uint64, count=len(self.pending))
        self.pending.clear()
        self.building = True
        # The matrix as it is now: a later _grow makes a new one and leaves this one be; a row
        # written in place meanwhile is in `pending` and put in again once the thread is done.
        threading.Thread(
            target=self._build,
            args=(index_class, index, behind, self.data, self.size, self.generation),
            name="sportello-vector-index",
            daemon=True,
        ).start()

    def _build(
        self, index_class: Any, index: Any, keys: np.ndarray | None, data: np.ndarray, size: int, generation: int
    ) -> None:
        """Build an index of data[:size] (`index` None), or put the rows at `keys` into `index`."""
        try:
            if index is None:
                index = index_class(ndim=encoder.DIM, metric="cos", dtype="i8", connectivity=16, expansion_add=128)
                index.add(np.arange(size, dtype=np.uint64), data[:size], threads=1)
            elif keys is not None:
                _put(index, keys, data)
        except Exception:
            with self.lock:
                if generation == self.generation:
                    self._fail("build")
            return
        with self.lock:
            if generation != self.generation:  # cleared meanwhile
                return
            self.index, self.building = index, False
            self._follow()
        log.info("semantic: approximate index of %d ticket vectors ready", len(index))

    def _fail(self, what: str) -> None:
        log.exception("semantic: the approximate index failed (%s); ticket lookups stay brute force", what)
        self.index, self.building, self.failed = None, False, True

    def nearest(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """The `limit` nearest (ticket id, cosine), best first: through the index where there is one."""
        ids = self.ids[: self.size]
        if self.index is not None:
            try:
                found = self.index.search(
                    np.frombuffer(encoder.pack(vector), dtype=np.int8), max(limit, self.CANDIDATES)
                )
                positions = np.asarray(found.keys, dtype=np.int64)
            except Exception:
                self._fail("search")
            else:
                return _best(positions, self.scores(vector, positions), ids, limit)
        return _best(np.arange(self.size), self.scores(vector), ids, limit)


_tickets = _TicketMatrix(TicketVector, "ticket_id")
_translations = _VectorCopy(ArticleVector, "translation_id")


def forget_cached_vectors() -> None:
    """Drop this process's copies (tests whose database was rolled back under them)."""
    for copy in (_tickets, _translations):
        with copy.lock:
            copy.clear()


def _read_vectors() -> None:
    """Run by the thread that loads the encoder, before lookups start: read this process's copies,
    so that no request waits for the first read (3.8 s at 100k tickets); past the threshold, the
    refresh starts building the index too. A failure here leaves the copies to the first lookup."""
    try:
        for copy in (_tickets, _translations):
            with copy.lock:
                copy.refresh()
    except Exception:
        log.exception("semantic: reading the vectors in the background failed; the first lookup reads them")
    finally:
        connection.close()  # this thread's own connection


def _ready() -> bool:
    return encoder.ready(then=_read_vectors)


def ticket_vector(ticket: Ticket, text: str | None = None) -> np.ndarray | None:
    """The ticket's vector: the stored one, else made now from its text (`text` when the caller
    has it; not stored: a page view writes nothing, the task stores it). None without the encoder,
    or while this process is still loading it and reading the vectors (encoder.ready).
    Refreshes this process's copy of the vectors for the lookups that follow."""
    if not _ready():
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
        if not _tickets.size or limit < 1:
            return []
        found = _tickets.nearest(vector, limit)
    return [(pk, score) for pk, score in found if score >= minimum]


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
    The caller checks visibility; empty without the encoder (or while it loads).

    The vectors come from this process's copy, refreshed like the tickets'; which translations are
    published in `language` is asked each time (a few hundred ids through an index), since
    publishing does not touch a vector's row."""
    if not query.strip() or not _ready():
        return []
    published = list(
        ArticleTranslation.objects.filter(language=language, state=PublishState.PUBLISHED).values_list("pk", flat=True)
    )
    vector = encoder.embed([query])[0]
    with _translations.lock:
        _translations.refresh()
        positions = np.fromiter(
            (at for at in map(_translations.position.get, published) if at is not None), dtype=np.int64
        )
        if not len(positions):
            return []
        scores = _translations.scores(vector, positions)
        ids = _translations.ids[: _translations.size]
    return _best(positions, scores, ids, limit)
