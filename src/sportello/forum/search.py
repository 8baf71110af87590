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

from dataclasses import dataclass

from django.db import connection
from django.utils.safestring import SafeString

from sportello.forum.models import Post, PostState, Topic, TopicDocument
from sportello.kb.render import plain_text
from sportello.kb.search import MAX_WORDS, START, STOP, _highlight, _strip_marks, pg_config
from sportello.search.backend import is_postgres, terms

BODY_CAP = 100_000  # characters of a topic's posts in its document


@dataclass(frozen=True)
class TopicHit:
    topic: Topic
    snippet: SafeString


def index_topic(topic_id: int) -> None:
    """(Re)build one topic's search document, inside the caller's transaction."""
    topic = Topic.objects.select_related("category").filter(pk=topic_id).first()
    if topic is None or topic.merged_into_id:
        remove_topic(topic_id)
        return
    posts = Post.objects.filter(topic=topic_id, state=PostState.PUBLISHED).order_by("-opening", "created_at", "id")
    body, size = [], 0
    for html in posts.values_list("body_html", flat=True).iterator():
        text = plain_text(html)
        body.append(text)
        size += len(text)
        if size > BODY_CAP:
            break
    title, text = _strip_marks(topic.title), _strip_marks("\n".join(body))[:BODY_CAP]
    language, public = topic.category.language, topic.public
    if is_postgres():
        config = pg_config(language)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO forum_topicdocument (topic_id, language, public, vector)
                VALUES (%(id)s, %(language)s, %(public)s,
                        setweight(to_tsvector(%(config)s::regconfig, %(title)s), 'A')
                        || setweight(to_tsvector(%(config)s::regconfig, %(body)s), 'B'))
                ON CONFLICT (topic_id) DO UPDATE
                SET language = EXCLUDED.language, public = EXCLUDED.public, vector = EXCLUDED.vector
                """,
                {
                    "id": topic_id,
                    "language": language,
                    "public": public,
                    "config": config,
                    "title": title,
                    "body": text,
                },
            )
    else:
        TopicDocument.objects.update_or_create(topic_id=topic_id, defaults={"language": language, "public": public})
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM forum_fts WHERE rowid = %s", [topic_id])
            cursor.execute("INSERT INTO forum_fts (rowid, title, body) VALUES (%s, %s, %s)", [topic_id, title, text])


def remove_topic(topic_id: int) -> None:
    TopicDocument.objects.filter(topic_id=topic_id).delete()
    if not is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM forum_fts WHERE rowid = %s", [topic_id])


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
    """Ranked on the documents alone (the partial GIN index of public ones), cut to `limit`, then
    joined to the topics; each hit's snippet is drawn from its first published post that matches
    (the question, else the earliest answer), for that page of hits only."""
    lexemes = ["'" + w.lower().replace("'", "''").replace("\\", "") + "'" for w in words]
    lexemes[-1] += ":*"
    match = (" | " if match_any else " & ").join(lexemes)
    rank = " | ".join(lexemes)
    config = pg_config(language)
    options = f'StartSel="{START}", StopSel="{STOP}", MaxWords=35, MinWords=12, MaxFragments=1'
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH top AS (
                SELECT d.topic_id, ts_rank(d.vector, to_tsquery(%(config)s::regconfig, %(rank)s)) AS rank
                FROM forum_topicdocument d
                WHERE d.vector @@ to_tsquery(%(config)s::regconfig, %(match)s)
                  AND d.public AND d.language = %(language)s
                ORDER BY rank DESC, d.topic_id DESC
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
            {"config": config, "rank": rank, "match": match, "language": language, "limit": limit, "options": options},
        )
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def reindex_all() -> int:
    """Build every topic's document (topics written before search existed); returns how many."""
    count = 0
    for topic_id in Topic.objects.filter(merged_into__isnull=True).values_list("pk", flat=True).iterator():
        index_topic(topic_id)
        count += 1
    return count
