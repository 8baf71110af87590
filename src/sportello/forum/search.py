"""Forum search: topics and their answers, behind the same search interface as the knowledge
base's (kb/search.py: the words of `search.backend.terms`, PostgreSQL's text search with the
language's configuration or SQLite's FTS5, matched words marked with private-use characters and
only turned into `<mark>` after escaping, so a post can never inject markup through a snippet).

A topic's document is its title (weighted above the rest) and the text of its question and its
published replies; `index_topic` rebuilds it whenever the services change what the public reads
(a post published, hidden or erased, a topic moved or merged). Only public topics are found: the
flag is checked on the document and again on the topic itself, in the same SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.safestring import SafeString

from sportello.forum.models import Post, PostState, Topic, TopicDocument
from sportello.kb.render import plain_text
from sportello.kb.search import MAX_WORDS, START, STOP, _highlight, _strip_marks, pg_config
from sportello.search.backend import is_postgres, terms

BODY_CAP = 100_000  # characters of a topic's posts in its document
RANK_WINDOW = 2000  # on PostgreSQL, the newest matching topics ranked (see _pg_match)


@dataclass(frozen=True)
class TopicHit:
    topic: Topic
    snippet: SafeString


def index_topic(topic_id: int) -> None:
    """(Re)build one topic's search document, inside the caller's transaction."""
    index_topics([topic_id])


def index_topics(topic_ids: list[int]) -> None:
    """(Re)build these topics' search documents, inside the caller's transaction: three reads and
    one write for the lot (a merged or deleted topic's document is removed)."""
    topics = {t.pk: t for t in Topic.objects.select_related("category").filter(pk__in=topic_ids)}
    kept = [pk for pk in topic_ids if pk in topics and not topics[pk].merged_into_id]
    remove_topics([pk for pk in topic_ids if pk not in kept])
    if not kept:
        return
    bodies: dict[int, list[str]] = {pk: [] for pk in kept}
    sizes = dict.fromkeys(kept, 0)
    posts = Post.objects.filter(topic__in=kept, state=PostState.PUBLISHED).order_by(
        "topic", "-opening", "created_at", "id"
    )
    for topic_id, html in posts.values_list("topic_id", "body_html").iterator(chunk_size=2000):
        if sizes[topic_id] > BODY_CAP:
            continue
        text = plain_text(html)
        bodies[topic_id].append(text)
        sizes[topic_id] += len(text)
    rows: list[dict[str, Any]] = [
        {
            "id": pk,
            "language": topics[pk].category.language,
            "public": topics[pk].public,
            "config": pg_config(topics[pk].category.language),
            "title": _strip_marks(topics[pk].title),
            "body": _strip_marks("\n".join(bodies[pk]))[:BODY_CAP],
        }
        for pk in kept
    ]
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.executemany(
                """
                INSERT INTO forum_topicdocument (topic_id, language, public, vector)
                VALUES (%(id)s, %(language)s, %(public)s,
                        setweight(to_tsvector(%(config)s::regconfig, %(title)s), 'A')
                        || setweight(to_tsvector(%(config)s::regconfig, %(body)s), 'B'))
                ON CONFLICT (topic_id) DO UPDATE
                SET language = EXCLUDED.language, public = EXCLUDED.public, vector = EXCLUDED.vector
                """,
                rows,
            )
        return
    TopicDocument.objects.bulk_create(
        [TopicDocument(topic_id=row["id"], language=row["language"], public=row["public"]) for row in rows],
        update_conflicts=True,
        unique_fields=["topic"],
        update_fields=["language", "public"],
    )
    with connection.cursor() as cursor:
        cursor.executemany("DELETE FROM forum_fts WHERE rowid = %s", [[row["id"]] for row in rows])
        cursor.executemany(
            "INSERT INTO forum_fts (rowid, title, body) VALUES (%s, %s, %s)",
            [[row["id"], row["title"], row["body"]] for row in rows],
        )


def remove_topic(topic_id: int) -> None:
    remove_topics([topic_id])


def remove_topics(topic_ids: list[int]) -> None:
    if not topic_ids:
        return
    TopicDocument.objects.filter(topic_id__in=topic_ids).delete()
    if not is_postgres():
        with connection.cursor() as cursor:
            cursor.executemany("DELETE FROM forum_fts WHERE rowid = %s", [[pk] for pk in topic_ids])


def search_topics(query: str, language: str, *, match_any: bool = False, limit: int = 20) -> list[TopicHit]:
    """Public topics in `language` whose title, question or answers match `query`, best first, each
    with a highlighted snippet. `match_any` (suggestions while a customer types) finds topics with
    any of the words; otherwise every word must match. The last word matches as a prefix."""
    words = terms(query)[:MAX_WORDS]
    if not words:
        return []
    rows = (_pg_match if is_postgres() else _sqlite_match)(words, language, match_any, limit)
    found = Topic.objects.select_related("category").in_bulk([row[0] for row in rows])
    return [TopicHit(found[pk], _highlight(snippet)) for pk, snippet in rows if pk in found]


def _sqlite_match(words: list[str], language: str, match_any: bool, limit: int) -> list[tuple[int, str]]:
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    match = (" OR " if match_any else " AND ").join(quoted)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT forum_fts.rowid, snippet(forum_fts, 1, %s, %s, '…', 24)
            FROM forum_fts
            JOIN forum_topicdocument d ON d.topic_id = forum_fts.rowid
            JOIN forum_topic t ON t.id = forum_fts.rowid
            WHERE forum_fts MATCH %s AND d.language = %s AND d.public AND t.public
            ORDER BY bm25(forum_fts, 10.0, 1.0), forum_fts.rowid DESC
            LIMIT %s
            """,
            [START, STOP, match, language, limit],
        )
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def _pg_match(words: list[str], language: str, match_any: bool, limit: int) -> list[tuple[int, str]]:
    """Ranked on the documents alone, cut to `limit`, then joined to the topics; each hit's snippet
    is drawn from its first published post that matches (the question, else the earliest answer),
    for that page of hits only.

    Only the newest RANK_WINDOW matching topics are ranked. Ranking reads every matching vector,
    so for a word most topics hold ("printer" on a printer forum) the ranking statement took
    250 ms at 100k topics; within the window, 37 ms (bench/forum_search.py). PostgreSQL takes the newest matches by
    walking the primary key backwards when the words are common, and through the GIN index of
    public documents when they are rare (then every match is ranked, as before)."""
    lexemes = ["'" + w.lower().replace("'", "''").replace("\\", "") + "'" for w in words]
    lexemes[-1] += ":*"
    match = (" | " if match_any else " & ").join(lexemes)
    rank = " | ".join(lexemes)
    config = pg_config(language)
    options = f'StartSel="{START}", StopSel="{STOP}", MaxWords=35, MinWords=12, MaxFragments=1'
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH recent AS (
                SELECT d.topic_id, d.vector
                FROM forum_topicdocument d
                WHERE d.vector @@ to_tsquery(%(config)s::regconfig, %(match)s)
                  AND d.public AND d.language = %(language)s
                ORDER BY d.topic_id DESC
                LIMIT %(window)s
            ), top AS (
                SELECT recent.topic_id, ts_rank(recent.vector, to_tsquery(%(config)s::regconfig, %(rank)s)) AS rank
                FROM recent
                ORDER BY rank DESC, recent.topic_id DESC
                LIMIT %(limit)s
            )
            SELECT top.topic_id,
                   ts_headline(%(config)s::regconfig, left(coalesce(m.body, q.body), 5000),
                               to_tsquery(%(config)s::regconfig, %(match)s), %(options)s)
            FROM top
            JOIN forum_topic t ON t.id = top.topic_id AND t.public
            JOIN forum_post q ON q.topic_id = top.topic_id AND q.opening
            LEFT JOIN LATERAL (
                SELECT p.body FROM forum_post p
                WHERE p.topic_id = top.topic_id AND p.state = 'published'
                  AND to_tsvector(%(config)s::regconfig, left(p.body, 5000))
                      @@ to_tsquery(%(config)s::regconfig, %(match)s)
                ORDER BY p.opening DESC, p.created_at, p.id
                LIMIT 1
            ) m ON true
            ORDER BY top.rank DESC, top.topic_id DESC
            """,
            {
                "config": config,
                "rank": rank,
                "match": match,
                "language": language,
                "window": max(RANK_WINDOW, limit),
                "limit": limit,
                "options": options,
            },
        )
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


REINDEX_BATCH = 500


@dataclass(frozen=True)
class ReindexProgress:
    topics: int  # documents built so far in this run
    last: int  # the last topic id done: resume after it


def reindex(*, after: int = 0, batch: int = REINDEX_BATCH) -> Iterator[ReindexProgress]:
    """Build the documents of every topic with an id above `after` (topics written before search
    existed, or after a restore), `batch` topics per transaction in id order, yielding after each
    batch; an interrupted run resumes with `after` = the last progress' `last`."""
    done, last = 0, after
    while True:
        ids = list(Topic.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return
        with transaction.atomic():
            index_topics(ids)
        done, last = done + len(ids), ids[-1]
        yield ReindexProgress(done, last)


def reindex_all() -> int:
    """Build every topic's document (topics written before search existed); returns how many."""
    found = 0
    for progress in reindex():
        found = progress.topics
    return found
