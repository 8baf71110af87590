"""Semantic search: the encoder's load time and throughput, and what the similar-tickets panel's
lookup adds at 10k and 100k tickets, each against a floor measured in the same run.

    bash scripts/uv.sh run python bench/semantic.py [--sizes 10000,100000] [--lookups 40]

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
   hybrid panel (semantic/similar.similar_for_agent), which adds the nearest vectors; and the
   first lookup of a process, which reads every vector into its copy.
4. The web form's suggestions (`GET /help/suggest`, kb.search.suggest_articles) over the
   evaluation set's 48 translations (en/it/de/bg, real vectors) for its 48 questions, through
   Django's test client in this process: the floor is the same endpoint with the encoder not
   loaded (full text only, as before the vectors); timed alternately, so both see the same load.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

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
    from sportello.accounts.models import Role, User
    from sportello.semantic import services
    from sportello.semantic.similar import similar_for_agent
    from sportello.tickets.models import Ticket
    from sportello.tickets.similar import similar_tickets

    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_user(
        "bench-admin", "a@example.org", "x", role=Role.ADMIN
    )
    services.forget_cached_vectors()
    ticket = Ticket.objects.select_related("customer").get(pk=total)
    started = time.perf_counter()
    similar_for_agent(admin, ticket)
    first = time.perf_counter() - started
    chosen = [Ticket.objects.select_related("customer").get(pk=random.randint(1, total)) for _ in range(n)]
    floor, hybrid = [], []
    for t in chosen:
        started = time.perf_counter()
        similar_tickets(admin, t)
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        similar_for_agent(admin, t)
        hybrid.append(time.perf_counter() - started)
    (f50, f95), (h50, h95) = p50_p95(floor), p50_p95(hybrid)
    print(f"{total:>7,} tickets   floor (full-text panel)   {percentiles(floor)}")
    ratio = f"{h50 / f50:4.1f}x / {h95 / f95:4.1f}x the floor"
    print(f"{total:>7,} tickets   hybrid panel              {percentiles(hybrid)}   {ratio}")
    added = f"p50 {(h50 - f50) * 1000:7.1f} ms   p95 {(h95 - f95) * 1000:7.1f} ms"
    print(f"{total:>7,} tickets   added by the vectors      {added}")
    print(f"{total:>7,} tickets   first lookup of a process (reads every vector): {first * 1000:.0f} ms")


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
        encoder.ready = lambda: False  # type: ignore[assignment]  # the floor: full text only
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="ticket counts, ascending")
    parser.add_argument("--lookups", type=int, default=40, help="timed lookups at each size")
    parser.add_argument("--suggestions", type=int, default=96, help="timed web form suggestions")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with django_bench("sportello_bench_semantic", "semantic", args.timeout):
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
