"""Community forum pages at scale on PostgreSQL, timed over HTTP against `sportello serve`.

    uv run python bench/forum.py [--topics 20000] [--replies 500] [--requests 200]

1. A fresh database `sportello_bench_forum_<pid>_<random>` (dropped at the end unless --keep) is
   migrated and loaded through the ORM's bulk inserts: a category per language, `--topics` topics
   spread over them (opening posts rendered and sanitized once, as the app stores them), one topic
   with `--replies` replies and 50 topics with 20 replies each, by 200 portal customers; then
   ANALYZE (without fresh statistics PostgreSQL joins every topic to the posts' state index: the
   category page took 650 ms of database time at 5,000 topics, 5 ms after).
2. The production server starts (uvicorn, 2 workers); requests are anonymous, as readers' are.
3. Sequential GETs, p50 and p95, also as multiples of the floor (GET /healthz, one SELECT 1): the
   topic with `--replies` replies, topics with 20 replies, a category's first page, the forum's
   home, and the sitemap (all public topics on one page). Aims: a 20-reply topic p95 ≤ 30 ms.

Nothing is cached: every request reads the database, as in production.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import env_for, floor_samples, latency_line, load_report, reusable_database, server, sportello, timed

LOAD = """
import django, random
django.setup()
from django.utils import timezone
from datetime import timedelta
from sportello.accounts.models import Role, User
from sportello.forum.models import ForumCategory, Post, Topic
from sportello.kb.render import render_body
from sportello.forum.services import LINK_REL

rng = random.Random(7)
TOPICS, REPLIES = {topics}, {replies}
now = timezone.now()
users = User.objects.bulk_create(
    [User(username=f"member-{{i}}", first_name=f"Member{{i}}", last_name="Bench", role=Role.CUSTOMER)
     for i in range(200)]
)
categories = [ForumCategory.objects.create(language=lang, slug="printers", name="Printers")
              for lang in ("en", "it", "de", "bg")]
words = "printer toner paper jam error tray driver network scan colour page blank update wifi cable".split()
body = "It shows **error 42** when I print. " + " ".join(rng.choice(words) for _ in range(60))
html = render_body(body, link_rel=LINK_REL)
topics = Topic.objects.bulk_create(
    [Topic(category=categories[i % 4], title=f"Printer {{rng.choice(words)}} {{i}}", slug=f"printer-{{i}}",
           author=users[i % 200], kind="question", created_at=now - timedelta(minutes=i),
           last_activity_at=now - timedelta(minutes=i), public=True) for i in range(TOPICS)],
    batch_size=2000,
)
Post.objects.bulk_create(
    [Post(topic=t, author=t.author, opening=True, body=body, body_html=html, created_at=t.created_at) for t in topics],
    batch_size=2000,
)
reply = "Try this: open the tray, pull the paper, then *restart* the printer. [Guide](https://example.com/guide)"
reply_html = render_body(reply, link_rel=LINK_REL)
def replies_to(topic, n):
    Post.objects.bulk_create(
        [Post(topic=topic, author=users[(k * 7) % 200], body=reply, body_html=reply_html, votes=k % 5,
              created_at=topic.created_at + timedelta(seconds=k + 1)) for k in range(n)],
        batch_size=2000,
    )
    Topic.objects.filter(pk=topic.pk).update(reply_count=n)
replies_to(topics[0], REPLIES)
for topic in topics[1:51]:
    replies_to(topic, 20)
from django.db import connection
with connection.cursor() as cursor:  # fresh statistics, as autovacuum would gather: the plans depend on them
    cursor.execute("ANALYZE")
print(topics[0].pk, ",".join(str(t.pk) for t in topics[1:51]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8774)
    parser.add_argument("--reuse", metavar="DATABASE", help="the topics loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep this run's database for a later --reuse")
    args = parser.parse_args()
    with reusable_database("sportello_bench_forum", args.reuse, args.keep) as (url, reused):
        env = env_for(url, Path(tempfile.mkdtemp(prefix="sportello-bench-")))
        print(f"Sportello forum benchmark: {args.topics:,} topics, one with {args.replies} replies, on PostgreSQL")
        sportello(env, "migrate", "-v0")
        if not reused:
            sportello(env, code=LOAD.format(topics=args.topics, replies=args.replies))
        big, small = topic_paths(url, args.replies)
        measure(env, args, big, small)


def topic_paths(url: str, replies: int) -> tuple[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT t.id, t.slug, c.language, t.reply_count FROM forum_topic t "
            "JOIN forum_forumcategory c ON c.id = t.category_id WHERE t.reply_count > 0 ORDER BY t.id"
        ).fetchall()
    paths = {pk: f"/help/forum/{lang}/t/{pk}/{slug}" for pk, slug, lang, _count in rows}
    big = next(paths[pk] for pk, _slug, _lang, count in rows if count == replies)
    return big, [paths[pk] for pk, _slug, _lang, count in rows if count == 20]


def measure(env: dict[str, str], args: argparse.Namespace, big: str, small: list[str]) -> None:
    rng = random.Random(6)
    with server(env, args.port, workers=2) as base:
        client = httpx.Client(base_url=base, timeout=60)
        for path in [big, *small[:10], "/help/forum/en/printers/", "/help/forum/en/"]:  # warm up both workers
            client.get(path)
        with load_report():
            print("\nrequest                                   latency")
            floor = floor_samples(client, args.requests)
            print(
                latency_line(
                    f"topic with {args.replies} replies", timed(client, big, max(20, args.requests // 5)), floor
                )
            )
            samples: list[float] = []
            for _ in range(args.requests):
                samples += timed(client, rng.choice(small), 1)
            print(latency_line("topic with 20 replies (random)", samples, floor))
            print(latency_line("category, first page", timed(client, "/help/forum/en/printers/", args.requests), floor))
            print(latency_line("forum home", timed(client, "/help/forum/en/", args.requests), floor))
            print(latency_line("sitemap (every public topic)", timed(client, "/help/forum/sitemap.xml", 10), floor))


if __name__ == "__main__":
    main()
