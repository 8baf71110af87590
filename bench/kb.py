"""Knowledge base at scale: 10,000 articles in 4 languages on PostgreSQL, timed over HTTP against `sportello serve`.

    uv run python bench/kb.py [--articles 10000] [--requests 200]

1. A fresh database `sportello_bench_kb_<pid>_<random>` (dropped at the end unless --keep)
   is migrated and bulk-loaded with set-based SQL
   (generate_series): 40 categories (nested one level), the articles, one published translation
   per language each (it, en, de, bg) with a body of a few hundred words, and the search document
   of every translation built with its language's text-search configuration, as the app builds it.
2. The production server starts (uvicorn, 2 workers); requests are anonymous, as readers' are.
3. Public article pages (random articles and languages) and KB searches (one and two words, each
   language) are requested sequentially; p50 and p95 latency are printed, also as multiples of the
   floor (GET /healthz, one SELECT 1), with the load average before and after.
   Aims: article page p95 ≤ 30 ms, search p95 ≤ 80 ms.
4. The sitemap: the index, and one language's sitemap built (first request) and then from the cache.

Neither the article page nor the search is cached: every request reads the database, as in
production. The article body is HTML rendered and sanitized when it is saved, as the app stores it.
Only the sitemap is cached, as in production, under the public stamp that publishing changes.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import env_for, floor_samples, latency_line, load_report, reusable_database, server, sportello, timed

# Twenty words per language; titles and bodies are drawn from them, searches too.
WORDS = {
    "en": "invoice printer password account refund delivery battery warranty network email export "
    "payment screen update order shipping login backup report contract",
    "it": "fattura stampante password account rimborso consegna batteria garanzia rete email esportazione "
    "pagamento schermo aggiornamento ordine spedizione accesso backup rapporto contratto",
    "de": "rechnung drucker passwort konto erstattung lieferung akku garantie netzwerk email export "
    "zahlung bildschirm aktualisierung bestellung versand anmeldung sicherung bericht vertrag",
    "bg": "фактура принтер парола акаунт възстановяване доставка батерия гаранция мрежа имейл износ "
    "плащане екран обновяване поръчка пратка вход архив отчет договор",
}
CONFIG = {"en": "english", "it": "italian", "de": "german", "bg": "simple"}
CATEGORIES = 40


def _words(language: str) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in WORDS[language].split()) + "]"


def bulk_load(url: str, articles: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        steps = [
            (
                "categories",
                f"""
                INSERT INTO kb_category (id, parent_id, slug, name, names, position)
                SELECT i, CASE WHEN i > 10 THEN 1 + (i % 10) END, 'category-' || i, 'Category ' || i,
                       jsonb_build_object('it', 'Categoria ' || i, 'de', 'Kategorie ' || i, 'bg', 'Категория ' || i),
                       i
                FROM generate_series(1, {CATEGORIES}) i""",
            ),
            (
                "articles",
                f"""
                INSERT INTO kb_article (id, category_id, visibility, position, created_at, updated_at)
                SELECT i, 1 + (i % {CATEGORIES}), CASE WHEN i % 10 = 0 THEN 'internal' ELSE 'public' END, 100,
                       now(), now()
                FROM generate_series(1, {articles}) i""",
            ),
        ]
        for n, language in enumerate(WORDS):
            words = _words(language)
            steps.append(
                (
                    f"translations ({language})",
                    f"""
                    INSERT INTO kb_articletranslation (article_id, language, title, slug, summary, body, body_html,
                        state, published_at, updated_at)
                    SELECT i, '{language}', t.title, 'article-' || i, left(t.body, 160), t.body,
                           '<p>' || t.body || '</p>', CASE WHEN i % 17 = 0 THEN 'draft' ELSE 'published' END,
                           now(), now()
                    FROM generate_series(1, {articles}) i,
                    LATERAL (SELECT {words} AS w) words,
                    LATERAL (SELECT
                        initcap(w[1 + (i % 20)]) || ' ' || w[1 + ((i * 7) % 20)] || ' ' || i AS title,
                        (SELECT string_agg(w[1 + ((i * 31 + k * 13 + {n}) % 20)], ' ')
                         FROM generate_series(1, 250) k) || '.' AS body) t""",
                )
            )
        steps += [
            (
                "search documents",
                """
                INSERT INTO kb_articledocument (translation_id, config, language, visibility, published, title,
                    body, vector)
                SELECT t.id, c.config, t.language, a.visibility, t.state = 'published', t.title, t.body,
                       setweight(to_tsvector(c.config::regconfig, t.title), 'A')
                       || setweight(to_tsvector(c.config::regconfig, t.body), 'B')
                FROM kb_articletranslation t
                JOIN kb_article a ON a.id = t.article_id
                JOIN (VALUES ('en', 'english'), ('it', 'italian'), ('de', 'german'), ('bg', 'simple'))
                     AS c(language, config) ON c.language = t.language""",
            ),
            (
                "sequences",
                """
                SELECT setval(pg_get_serial_sequence('kb_article', 'id'), (SELECT max(id) FROM kb_article));
                SELECT setval(pg_get_serial_sequence('kb_category', 'id'), (SELECT max(id) FROM kb_category))""",
            ),
            ("analyze", "ANALYZE"),
        ]
        for name, sql in steps:
            start = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                conn.execute(statement)
            print(f"  loaded {name:<22} {time.perf_counter() - start:6.1f} s", flush=True)


def loaded_translations(url: str) -> int:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM kb_articletranslation").fetchone()[0]  # type: ignore[index]
    except psycopg.Error:
        return 0


def article_paths(url: str, n: int) -> list[str]:
    """Public, published translations in every language, chosen at random."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT t.language, c.slug, t.slug FROM kb_articletranslation t
            JOIN kb_article a ON a.id = t.article_id JOIN kb_category c ON c.id = a.category_id
            WHERE t.state = 'published' AND a.visibility = 'public'
            ORDER BY random() LIMIT %s""",
            [n],
        ).fetchall()
    return [f"/help/{language}/{category}/{slug}" for language, category, slug in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8772)
    parser.add_argument("--reuse", metavar="DATABASE", help="the articles loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep this run's database for a later --reuse")
    args = parser.parse_args()

    with reusable_database("sportello_bench_kb", args.reuse, args.keep) as (url, reused):
        data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-"))
        env = env_for(url, data_dir)
        print(f"Sportello knowledge-base benchmark: {args.articles:,} articles in {len(WORDS)} languages on PostgreSQL")
        if reused:
            if loaded_translations(url) < args.articles * len(WORDS):
                raise SystemExit(f"--reuse {args.reuse}: fewer articles than asked")
            print("  reusing the loaded database")
            sportello(env, "migrate", "-v0")
        else:
            sportello(env, "migrate", "-v0")
            start = time.perf_counter()
            bulk_load(url, args.articles)
            print(f"  bulk load total             {time.perf_counter() - start:6.1f} s")
        measure(url, env, args)


def measure(url: str, env: dict[str, str], args: argparse.Namespace) -> None:
    rng = random.Random(6)
    paths = article_paths(url, args.requests)
    with server(env, args.port, workers=2) as base:
        client = httpx.Client(base_url=base, timeout=30)
        for path in paths[:20]:  # warm up both workers and their connections
            client.get(path)
            client.get(f"/help/en/search?q={WORDS['en'].split()[0]}")
        with load_report():
            print("\nrequest                                   latency")
            floor = floor_samples(client, args.requests)
            pages: list[float] = []
            for path in paths:
                pages += timed(client, path, 1)
            print(latency_line("article page (random, 4 languages)", pages, floor))
            for label, size in (("search: one word", 1), ("search: two words", 2)):
                samples: list[float] = []
                for i in range(args.requests):
                    language = list(WORDS)[i % len(WORDS)]
                    query = " ".join(rng.sample(WORDS[language].split(), size))
                    samples += timed(client, f"/help/{language}/search?q={quote(query)}", 1)
                print(latency_line(label, samples, floor))
            start = time.perf_counter()
            timed(client, "/help/sitemap.xml", 1)
            timed(client, "/help/sitemap-en.xml", 1)
            print(f"{'sitemap index + English sitemap, built':<40} {(time.perf_counter() - start) * 1000:7.1f} ms")
            cached = timed(client, "/help/sitemap-en.xml", 20)
            print(latency_line("English sitemap, cached", cached, floor))
        print("\nNot cached: article pages and searches read the database at every request (the body is")
        print("HTML rendered when saved). Cached: the sitemap, under the stamp that publishing changes.")


if __name__ == "__main__":
    main()
