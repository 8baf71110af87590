"""Forum search at scale on PostgreSQL: the search page and the request forms' suggestions, over HTTP.

    uv run python bench/forum_search.py [--topics 100000] [--requests 100] [--keep | --reuse DATABASE]

1. A fresh database `sportello_bench_forum_search_<pid>_<random>` (dropped at the end unless --keep)
   is migrated and loaded through the ORM's bulk inserts: `--topics` public questions in one English
   category (the worst case for an English search: every topic is in the language searched), by
   200 portal customers, each with a title and a question of 40-80 words drawn from 40 help-desk
   words (common: "printer" is in most topics) and 3,656 made-up words (Zipf-like: a few frequent,
   most rare), and 0-3 answers each. No search document is written by the load: they are built as
   for topics that predate search, by `sportello forum reindex` (timed), then ANALYZE.
2. The production server starts (uvicorn, 2 workers); requests are anonymous, as readers' are.
3. Sequential GETs, p50 and p95, also as multiples of the floor (GET /healthz, one SELECT 1):
   the search page (/help/forum/en/search, 30 hits, every word must match) for a word in most
   topics, two common words, a rare word, a prefix, and a word no topic has; the suggestions the
   web form fetches while a customer types (/help/suggest, any word matches, 5 articles and 5
   topics) for a typical subject. Aim: p95 well under 200 ms.

Nothing is cached: every request reads the database, as in production.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import env_for, floor_samples, latency_line, load_report, reusable_database, server, sportello, timed

LOAD = """
import django, itertools, random
django.setup()
from datetime import timedelta
from django.utils import timezone
from sportello.accounts.models import Role, User
from sportello.forum.models import ForumCategory, Post, Topic

rng = random.Random(7)
TOPICS = {topics}
now = timezone.now()
users = User.objects.bulk_create(
    [User(username=f"member-{{i}}", first_name=f"Member{{i}}", last_name="Bench", role=Role.CUSTOMER)
     for i in range(200)]
)
category = ForumCategory.objects.create(language="en", slug="printers", name="Printers")
common = ("printer toner paper jam error tray driver network scan colour page blank update wifi cable "
          "laptop screen battery login password account invoice refund order delivery shipping label "
          "install crash slow sync backup restore email calendar contact export import report").split()
syllables = "ka lo mi ne ru ta vo zi pe sa do fu gri bel tor".split()
made_up = sorted({{"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)}})[:5000]
cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(made_up))))

def text(n):
    rare = rng.choices(made_up, cum_weights=cumulative, k=n)
    return " ".join(rng.choice(common) if rng.random() < 0.4 else rare[k] for k in range(n))

def html(body):
    return f"<p>{{body}}</p>"  # plain words: what kb.render makes of them

batch = 5000
for start in range(0, TOPICS, batch):
    rows = []
    for i in range(start, min(start + batch, TOPICS)):
        title = ("Printer " if rng.random() < 0.6 else "") + text(rng.randint(3, 7))
        rows.append(Topic(category=category, title=title[:200], slug=f"topic-{{i}}", author=users[i % 200],
                          kind="question", created_at=now - timedelta(minutes=i),
                          last_activity_at=now - timedelta(minutes=i), public=True))
    topics = Topic.objects.bulk_create(rows, batch_size=batch)
    posts = []
    for t in topics:
        body = text(rng.randint(40, 80))
        posts.append(Post(topic=t, author=t.author, opening=True, body=body, body_html=html(body),
                          created_at=t.created_at))
        answers = rng.randint(0, 3)
        for k in range(answers):
            reply = text(rng.randint(15, 40))
            posts.append(Post(topic=t, author=users[(t.pk * 7 + k) % 200], body=reply, body_html=html(reply),
                              created_at=t.created_at + timedelta(minutes=k + 1)))
        t.reply_count = answers
    Post.objects.bulk_create(posts, batch_size=batch)
    Topic.objects.bulk_update(topics, ["reply_count"], batch_size=batch)
"""

ANALYZE = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:  # fresh statistics, as autovacuum would gather: the plans depend on them
    cursor.execute("ANALYZE")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--port", type=int, default=8776)
    parser.add_argument("--reuse", metavar="DATABASE", help="the topics loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep this run's database for a later --reuse")
    args = parser.parse_args()
    with reusable_database("sportello_bench_forum_search", args.reuse, args.keep) as (url, reused):
        env = env_for(url, Path(tempfile.mkdtemp(prefix="sportello-bench-")))
        print(f"Sportello forum search benchmark: {args.topics:,} topics on PostgreSQL")
        sportello(env, "migrate", "-v0")
        if not reused:
            started = time.monotonic()
            sportello(env, code=LOAD.format(topics=args.topics))
            print(f"  loaded in {time.monotonic() - started:.0f} s")
            started = time.monotonic()
            out = sportello(env, "forum", "reindex", "--batch", "1000")
            print(f"  {out.strip().splitlines()[-1]} (wall {time.monotonic() - started:.0f} s)")
            sportello(env, code=ANALYZE)
        measure(env, args)


SEARCHES = {
    "search: a word in most topics": "printer",
    "search: two common words": "toner jam",
    "search: a rare word": "zizizimi",  # the least frequent made-up word: about 150 topics in 100k
    "search: a prefix (last word)": "netw",
    "search: a word no topic has": "xylophone",
}
SUGGESTION = "Printer shows an error after the driver update"


def measure(env: dict[str, str], args: argparse.Namespace) -> None:
    paths = {label: "/help/forum/en/search?" + urlencode({"q": q}) for label, q in SEARCHES.items()}
    suggest = "/help/suggest?" + urlencode({"subject": SUGGESTION, "lang": "en", "source": "webform"})
    with server(env, args.port, workers=2) as base:
        client = httpx.Client(base_url=base, timeout=60)
        for path in [*paths.values(), suggest] * 2:  # warm up both workers and the database's cache
            client.get(path)
        hits = client.get(paths["search: a word in most topics"]).text.count("<mark>")
        if not hits:
            raise SystemExit("the search found nothing: the documents were not built")
        with load_report():
            print("\nrequest                                   latency")
            floor = floor_samples(client, args.requests)
            for label, path in paths.items():
                print(latency_line(label, timed(client, path, args.requests), floor))
            print(latency_line("suggestions (web form, any word)", timed(client, suggest, args.requests), floor))


if __name__ == "__main__":
    main()
