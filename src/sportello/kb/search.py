"""Knowledge-base search behind the project's search interface, with the two backends of
`sportello.search.backend`:

- PostgreSQL: `kb_articledocument.vector`, built with the translation's own text-search
  configuration (italian, german, english; `simple` for Bulgarian, which PostgreSQL does not stem),
  title weighted above body, GIN index; ranked with `ts_rank`, snippets from `ts_headline`.
- SQLite: the FTS5 table `kb_fts` (rowid = translation id), ranked with `bm25` (title weighted 10 to 1),
  snippets from `snippet()`.

Both engines mark the matched words with two private-use characters; the snippet is escaped
first and only then are those characters turned into `<mark>` tags, so an article's text can
never inject markup through a snippet. Visibility and publication are checked in the same SQL
as the match, so a ranking cut-off can never let an internal article through.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from django.db import connection
from django.utils.safestring import SafeString, mark_safe

from sportello.kb.models import Article, ArticleDocument, ArticleTranslation, PublishState, Visibility
from sportello.kb.render import plain_text
from sportello.search.backend import is_postgres, terms

PG_CONFIG = {"it": "italian", "en": "english", "de": "german", "bg": "simple"}
START, STOP = "\ue000", "\ue001"
BODY_CAP = 100_000
MAX_WORDS = 12


@dataclass(frozen=True)
class ArticleHit:
    translation: ArticleTranslation
    snippet: SafeString


def pg_config(language: str) -> str:
    return PG_CONFIG.get(language, "simple")


def _strip_marks(text: str) -> str:
    return text.replace(START, "").replace(STOP, "")


def index_translation(translation: ArticleTranslation) -> None:
    """(Re)build the search document of one translation, inside the caller's transaction."""
    tags = " ".join(translation.article.tags.values_list("name", flat=True))
    title = _strip_marks(translation.title)
    text = plain_text(translation.body_html)
    # A summary made from the body's start would only repeat it in every snippet.
    summary = "" if " ".join(text.split()).startswith(translation.summary.rstrip("…")) else translation.summary
    body = _strip_marks(f"{summary}\n{text}\n{tags}".strip())[:BODY_CAP]
    if is_postgres():
        config = pg_config(translation.language)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO kb_articledocument (translation_id, config, title, body, vector)
                VALUES (%s, %s, %s, %s,
                        setweight(to_tsvector(%s::regconfig, %s), 'A')
                        || setweight(to_tsvector(%s::regconfig, %s), 'B'))
                ON CONFLICT (translation_id) DO UPDATE
                SET config = EXCLUDED.config, title = EXCLUDED.title, body = EXCLUDED.body, vector = EXCLUDED.vector
                """,
                [translation.pk, config, title, body, config, title, config, body],
            )
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM kb_fts WHERE rowid = %s", [translation.pk])
            cursor.execute("INSERT INTO kb_fts (rowid, title, body) VALUES (%s, %s, %s)", [translation.pk, title, body])


def remove_translation(translation_id: int) -> None:
    if is_postgres():
        ArticleDocument.objects.filter(translation_id=translation_id).delete()
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM kb_fts WHERE rowid = %s", [translation_id])


def search_articles(
    query: str, language: str, *, internal: bool = False, match_any: bool = False, limit: int = 10
) -> list[ArticleHit]:
    """Published articles in `language` matching `query`, best first, with a highlighted snippet.

    `internal` (agents only) also finds internal articles; the public never does. `match_any`
    finds articles with any of the words (suggestions from a ticket's text or a subject being
    typed); otherwise every word must match. The last word always matches as a prefix.
    """
    words = terms(query)[:MAX_WORDS]
    if not words:
        return []
    visibilities: list[str] = [Visibility.PUBLIC, Visibility.INTERNAL] if internal else [Visibility.PUBLIC]
    rows = (_pg_match if is_postgres() else _sqlite_match)(words, language, visibilities, match_any, limit)
    found = ArticleTranslation.objects.select_related("article__category").in_bulk([row[0] for row in rows])
    return [ArticleHit(found[pk], _highlight(snippet)) for pk, snippet in rows if pk in found]


def _highlight(raw: str) -> SafeString:
    escaped = html.escape(raw or "")
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))


def _sqlite_match(
    words: list[str], language: str, visibilities: list[str], match_any: bool, limit: int
) -> list[tuple[int, str]]:
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    match = (" OR " if match_any else " AND ").join(quoted)
    marks = ", ".join(["%s"] * len(visibilities))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT kb_fts.rowid, snippet(kb_fts, 1, %s, %s, '…', 24)
            FROM kb_fts
            JOIN kb_articletranslation t ON t.id = kb_fts.rowid
            JOIN kb_article a ON a.id = t.article_id
            WHERE kb_fts MATCH %s AND t.language = %s AND t.state = %s AND a.visibility IN ({marks})
            ORDER BY bm25(kb_fts, 10.0, 1.0), kb_fts.rowid DESC
            LIMIT %s
            """,
            [START, STOP, match, language, PublishState.PUBLISHED, *visibilities, limit],
        )
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def _pg_match(
    words: list[str], language: str, visibilities: list[str], match_any: bool, limit: int
) -> list[tuple[int, str]]:
    lexemes = ["'" + w.lower().replace("'", "''").replace("\\", "") + "'" for w in words]
    lexemes[-1] += ":*"
    tsquery = (" | " if match_any else " & ").join(lexemes)
    options = f'StartSel="{START}", StopSel="{STOP}", MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.translation_id, ts_headline(d.config::regconfig, d.body, q, %s)
            FROM kb_articledocument d
            JOIN kb_articletranslation t ON t.id = d.translation_id
            JOIN kb_article a ON a.id = t.article_id,
            to_tsquery(%s::regconfig, %s) q
            WHERE d.vector @@ q AND t.language = %s AND t.state = %s AND a.visibility = ANY(%s)
            ORDER BY ts_rank(d.vector, q) DESC, d.translation_id DESC
            LIMIT %s
            """,
            [options, pg_config(language), tsquery, language, PublishState.PUBLISHED, visibilities, limit],
        )
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def reindex_article(article: Article) -> None:
    for translation in article.translations.select_related("article"):
        index_translation(translation)
