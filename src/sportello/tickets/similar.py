"""Similar tickets by text: the ticket page's lazily loaded panel (GET /tickets/<number>/similar).

1. The ticket's significant words: those of its subject, then its first message's, the most
   frequent first (and the first said among as frequent ones), lowercased; short words, numbers,
   common words of the four UI languages and the customer's own name and address pieces (in every
   ticket of theirs) are left out; at most MAX_WORDS.
2. A ticket is a candidate when its search document (search/backend.py: PostgreSQL full text or
   SQLite FTS5, the same documents the search page reads) holds at least two of those words (one
   when the ticket has a single significant word): the query ORs every pair of them. Candidates
   are ranked by the engine (ts_rank over any of the words; FTS5's bm25), newest first on ties;
   on PostgreSQL among the newest documents first, as the search page does (cost bounded).
3. Only tickets the agent may see (tickets/access.py) are kept, without the ticket itself, merged
   tickets and spam; the best MAX_SHOWN are shown.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations

from django.db import connection, transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sportello.accounts.models import User
from sportello.search.backend import _pg_lexeme, is_postgres, pg_ranked_ids
from sportello.tickets.access import ticket_for_agent, tickets_visible_to
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.views import AgentRequest, agent_view

MAX_SHOWN = 5
MAX_WORDS = 8  # 28 pairs: a query both engines answer from their indexes in milliseconds
MIN_LENGTH = 4
BODY_CHARS = 4000  # of the first message: its opening says what the ticket is about

_WORD = re.compile(rf"[^\W\d_]{{{MIN_LENGTH},}}", re.UNICODE)

# Words too common in support mail to tell one ticket from another (en, it, de, bg), four letters
# and longer; greetings, thanks and the words of a signature are here too.
_STOP_TEXT = """
    about above after again also always because been before being below between both cannot could
    dear does doing down during each even ever every from further have having hello here hers herself
    himself into itself just kind know like make many more most much must myself need never only other
    ours ourselves please regards same should since some still such than thank thanks that their
    theirs them themselves then there these they this those through today under until very want what
    when where which while will with would your yours yourself yourselves best sent reply message
    ticket help hope greetings anyone something someone
    anche ancora avere buon buona buongiorno buonasera cara caro cordiali come così dalla dalle degli
    della delle dello dopo essere fare grazie hanno loro molto nella nelle nello ogni perché però poi
    prego prima quale quando quella quelle quello questa queste questo saluti sono sempre senza siamo
    solo stato sulla sulle tutti tutto vorrei
    aber alle allem allen aller alles also auch bitte dann danke dass dein deine diese dieser dieses
    doch eine einem einen einer eines euch grüße habe haben hallo hier ihre ihrem ihren immer jetzt
    kann keine mein meine meinem meinen mich mit nach nicht noch oder schon sehr seit sich sind und
    viele vielen wenn werden wieder wird wurde zum zur freundlichen
    беше бъде вече всички всичко въпрос година добър добре днес докато един една едно защото здравейте
    като които който което когато мога може много моля нещо него неща някой нямам поздрави сега също
    тази така там тези този трябва тук това имам иска искам благодаря
"""  # noqa: RUF001  (Bulgarian words are in Cyrillic)
STOP_WORDS = frozenset(_STOP_TEXT.split())


def significant_words(ticket: Ticket, first_message: str) -> list[str]:
    """The words of step 1, the subject's first."""
    customer = ticket.customer
    own = {w.lower() for w in _WORD.findall(customer.name or "")}
    for identity in customer.identities.all():
        own.update(w.lower() for w in _WORD.findall(identity.value))

    def keep(word: str) -> bool:
        return word not in STOP_WORDS and word not in own

    words = [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(ticket.subject)) if keep(w)]
    # The most frequent first; among as frequent ones, the first said (Counter keeps that order).
    counts = Counter(w.lower() for w in _WORD.findall(first_message[:BODY_CHARS]))
    for word, _count in sorted(counts.items(), key=lambda item: -item[1]):
        if len(words) >= MAX_WORDS:
            break
        if word not in words and keep(word):
            words.append(word)
    return words[:MAX_WORDS]


def matching_ids(words: list[str], limit: int) -> list[int]:
    """Ids of the tickets whose document holds two of `words` (step 2), best first."""
    if not words:
        return []
    groups = list(combinations(words, 2)) if len(words) > 1 else [(words[0],)]
    if is_postgres():
        both = " | ".join("(" + " & ".join(_pg_lexeme(w) for w in group) + ")" for group in groups)
        anyone = " | ".join(_pg_lexeme(w) for w in words)
        with transaction.atomic(), connection.cursor() as cursor:
            # As the search page does: the newest candidates first, ranked by any of the words.
            return pg_ranked_ids(cursor, both, anyone, limit)
    match = " OR ".join("(" + " AND ".join('"' + w.replace('"', '""') + '"' for w in group) + ")" for group in groups)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM search_fts WHERE search_fts MATCH %s ORDER BY rank, rowid DESC LIMIT %s",
            [match, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def similar_tickets(user: User, ticket: Ticket, limit: int = MAX_SHOWN) -> list[Ticket]:
    """Up to `limit` other tickets `user` may see whose text resembles `ticket`'s, best first."""
    first = (
        ticket.entries.filter(internal=False).order_by("created_at", "id").values_list("body_text", flat=True).first()
    )
    words = significant_words(ticket, first or "")
    # A restricted agent sees some of the candidates only: ask for more than are shown.
    ids = matching_ids(words, limit * 4 + 1)
    found = {
        t.pk: t
        for t in tickets_visible_to(user)
        .filter(pk__in=ids, merged_into__isnull=True)
        .exclude(pk=ticket.pk)
        .exclude(state=StatusCategory.SPAM)
        .select_related("status")
    }
    return [found[pk] for pk in ids if pk in found][:limit]


@require_GET
@agent_view
def similar_panel(request: AgentRequest, number: int) -> HttpResponse:
    from sportello.semantic.similar import similar_for_agent  # hybrid: these words and the meaning

    ticket = ticket_for_agent(request.user, number)
    context = {
        "ticket": ticket,
        "similar": similar_for_agent(request.user, ticket),
        "can_merge": request.user.can_reply,
    }
    return render(request, "tickets/_similar.html", context)
