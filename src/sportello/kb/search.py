"""Knowledge-base search behind the project's search interface, with the two backends of
`sportello.search.backend`:

- PostgreSQL: `kb_articledocument.vector`, built with the translation's own text-search
  configuration (italian, german, english; `simple` for Bulgarian, which PostgreSQL does not stem),
  title weighted above body, a GIN index per language over published documents; ranked with
  `ts_rank`, snippets from `ts_headline` for the page of results only.
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
    # How it was found: "text" (full text) or "meaning" (suggest_articles' nearest vectors); the
    # suggestion carries it to the customer's "this solved my problem" (kb.Deflection.method).
    method: str = "text"


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
                INSERT INTO kb_articledocument
                    (translation_id, config, language, visibility, published, title, body, vector)
                VALUES (%(id)s, %(config)s, %(language)s, %(visibility)s, %(published)s, %(title)s, %(body)s,
                        setweight(to_tsvector(%(config)s::regconfig, %(title)s), 'A')
                        || setweight(to_tsvector(%(config)s::regconfig, %(body)s), 'B'))
                ON CONFLICT (translation_id) DO UPDATE
                SET config = EXCLUDED.config, language = EXCLUDED.language, visibility = EXCLUDED.visibility,
                    published = EXCLUDED.published, title = EXCLUDED.title, body = EXCLUDED.body,
                    vector = EXCLUDED.vector
                """,
                {
                    "id": translation.pk, "config": config, "language": translation.language,
                    "visibility": translation.article.visibility, "published": translation.is_published,
                    "title": title, "body": body,
                },
            )  # fmt: skip
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM kb_fts WHERE rowid = %s", [translation.pk])
            cursor.execute("INSERT INTO kb_fts (rowid, title, body) VALUES (%s, %s, %s)", [translation.pk, title, body])


def set_published(translation: ArticleTranslation) -> None:
    """Follow a translation's publication in its search document (PostgreSQL; FTS5 checks it at query time)."""
    if is_postgres():
        ArticleDocument.objects.filter(translation_id=translation.pk).update(published=translation.is_published)


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
    # The hits are listed, never shown whole: their two long texts stay in the database.
    found = (
        ArticleTranslation.objects.select_related("article__category")
        .defer("body", "body_html")
        .in_bulk([row[0] for row in rows])
    )
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
    """Rank, cut, then highlight.

    1. The matches are ranked on the search documents alone, through the GIN index of the
       language's published documents, and cut to `limit`: ranking reads each match's vector, and
       nothing else, whatever the number of matches.
    2. They are ranked by the weighted frequency of each word (the terms joined with OR), as FTS5's
       bm25 does on SQLite; `ts_rank` of the AND query would add word proximity at five times the
       cost, for every match of a common word.
    3. Only the page of results is joined to its translation and article, where publication and
       visibility are checked on the rows themselves, and only those get a `ts_headline` snippet,
       which parses a whole body each time.
    """
    lexemes = ["'" + w.lower().replace("'", "''").replace("\\", "") + "'" for w in words]
    lexemes[-1] += ":*"
    match = (" | " if match_any else " & ").join(lexemes)
    rank = " | ".join(lexemes)
    config = pg_config(language)
    options = f'StartSel="{START}", StopSel="{STOP}", MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'
    # The language and the flag are literals for the planner (psycopg binds on the client), so it
    # picks the partial index `kb_articledocument_vector_<language>`.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH top AS (
                SELECT d.translation_id, ts_rank(d.vector, to_tsquery(%(config)s::regconfig, %(rank)s)) AS rank
                FROM kb_articledocument d
                WHERE d.vector @@ to_tsquery(%(config)s::regconfig, %(match)s)
                  AND d.language = %(language)s AND d.published AND d.visibility = ANY(%(visibilities)s)
                ORDER BY rank DESC, d.translation_id DESC
                LIMIT %(limit)s
            )
            SELECT top.translation_id,
                   ts_headline(d.config::regconfig, d.body, to_tsquery(%(config)s::regconfig, %(match)s), %(options)s)
            FROM top
            JOIN kb_articledocument d ON d.translation_id = top.translation_id
            JOIN kb_articletranslation t ON t.id = top.translation_id
            JOIN kb_article a ON a.id = t.article_id
            WHERE t.language = %(language)s AND t.state = %(published)s AND a.visibility = ANY(%(visibilities)s)
            ORDER BY top.rank DESC, top.translation_id DESC
            """,
            {
                "config": config, "rank": rank, "match": match, "language": language, "limit": limit,
                "visibilities": visibilities, "options": options, "published": PublishState.PUBLISHED,
            },
        )  # fmt: skip
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def reindex_article(article: Article) -> None:
    for translation in article.translations.select_related("article"):
        index_translation(translation)


# The lowest cosine at which an article is suggested by meaning. On the evaluation set
# (semantic/eval/articles.json) words that ask nothing ("hello", "ciao grazie", "asdf qwer")
# reach at most 0.15 with any article, while 45 of the 48 questions reach their article at 0.16
# or more; below it the full-text matches fill the list.
SEMANTIC_MINIMUM = 0.16


def suggest_articles(query: str, language: str, *, internal: bool = False, limit: int = 5) -> list[ArticleHit]:
    """Articles that may answer `query` (a question being typed, a new ticket's text): the one
    place the web form, the portal, the chat widget, the acknowledgement mail and the agents'
    panel on a ticket get their suggestions from.

    1. By meaning (semantic.services): the published translations in `language` nearest to the
       query, at a cosine of at least SEMANTIC_MINIMUM, kept to the visibilities allowed here.
       On the evaluation set this ranking alone finds the right article among three for 0.96 of
       the questions, full text for 0.48 and the two fused for 0.81 (docs/semantic.md).
    2. Then full text (any of the words) fills what is left of `limit`: a translation published
       since the last sweep has no vector yet, and while the encoder is not loaded or not
       installed, full text is all there is.
    """
    from sportello.semantic import services as semantic

    visibilities: list[str] = [Visibility.PUBLIC, Visibility.INTERNAL] if internal else [Visibility.PUBLIC]
    nearest = [
        pk for pk, score in semantic.nearest_translations(query, language, limit=limit * 4) if score >= SEMANTIC_MINIMUM
    ]
    found = (
        ArticleTranslation.objects.select_related("article__category")
        .defer("body", "body_html")
        .filter(state=PublishState.PUBLISHED, language=language, article__visibility__in=visibilities)
        .in_bulk(nearest)
    )
    hits = [ArticleHit(found[pk], _highlight(found[pk].summary), "meaning") for pk in nearest if pk in found][:limit]
    if len(hits) < limit:
        shown = {hit.translation.pk for hit in hits}
        by_text = search_articles(query, language, internal=internal, match_any=True, limit=limit)
        hits += [hit for hit in by_text if hit.translation.pk not in shown][: limit - len(hits)]
    return hits
