"""The evaluation behind docs/semantic.md: the labelled sets of eval/ measured through the real
paths, semantic against today's full-text search, in one transaction that is rolled back.

- Deflection: each question of eval/articles.json searches the published articles of its
  language; a hit is the labelled topic's translation among the first three (recall@3). Full text
  is kb.search.search_articles as the web form calls it (any of the words); semantic is
  services.nearest_translations; hybrid fuses the two by reciprocal rank.
- Duplicates: every ticket of eval/duplicates.json is made through intake; a pair is called a
  duplicate by full text when one is in the other's similar-tickets panel by text
  (tickets/similar.py, five shown), by meaning when the cosine of their stored vectors reaches
  similar.DUPLICATE, by the hybrid panel when one is among the other's five marked a likely
  duplicate. The threshold with the best F1 on these pairs is reported too.

`sportello semantic evaluate` prints it; tests/semantic/test_evaluation.py checks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction

from sportello.semantic import encoder, services
from sportello.semantic.similar import DUPLICATE, K

DATA = Path(__file__).parent / "eval"
LANGUAGES = ("en", "it", "de", "bg")


class _RollBack(Exception):
    pass


@dataclass
class Figures:
    recall: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> language -> recall@3
    duplicates: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> precision, recall, f1
    best_threshold: float = 0.0
    pairs: int = 0
    questions: int = 0

    def table(self) -> str:
        lines = ["recall@3       " + "  ".join(f"{lang:>5}" for lang in (*LANGUAGES, "all"))]
        for method, by_language in self.recall.items():
            lines.append(f"{method:<14} " + "  ".join(f"{by_language[k]:5.2f}" for k in (*LANGUAGES, "all")))
        lines.append("duplicates     precision  recall     F1")
        for method, f in self.duplicates.items():
            lines.append(f"{method:<14} {f['precision']:9.2f}  {f['recall']:6.2f}  {f['f1']:5.2f}")
        lines.append(f"best threshold on these pairs: {self.best_threshold:.2f} (similar.DUPLICATE = {DUPLICATE})")
        return "\n".join(lines)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def evaluate() -> Figures:
    """Measure in a transaction rolled back at the end: nothing stays in the database."""
    figures = Figures()
    try:
        with transaction.atomic():
            _measure(figures)
            raise _RollBack
    except _RollBack:
        pass
    services.forget_cached_vectors()  # its rows were rolled back
    return figures


def _prf(predicted: list[bool], truth: list[bool]) -> dict[str, float]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = tp / max(sum(predicted), 1)
    recall = tp / max(sum(truth), 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9)}


def _measure(figures: Figures) -> None:
    from sportello.accounts.models import Role, User
    from sportello.customers.services import Sender
    from sportello.kb import search as kb_search
    from sportello.kb.services import ArticleText, create_article, create_category, save_translation
    from sportello.semantic.similar import similar_for_agent
    from sportello.tickets.intake import Inbound, ingest
    from sportello.tickets.similar import similar_tickets

    author = User.objects.create(username="semantic-evaluation", role=Role.ADMIN)
    # --- Deflection
    data = load("articles.json")
    category = create_category(name="Semantic evaluation", slug="semantic-evaluation")
    topic_of: dict[int, str] = {}
    for topic, translations in data["articles"].items():
        article = None
        for language in LANGUAGES:
            title, body = translations[language]
            text = ArticleText(language=language, title=title, body=body, slug=f"eval-{topic}-{language}")
            if article is None:
                first = create_article(author, category=category, text=text, publish=True)
                article, translation = first.article, first
            else:
                from sportello.kb.services import publish_translation

                translation = publish_translation(author, save_translation(author, article, text))
            topic_of[translation.pk] = topic
    services.embed_translations(list(topic_of))
    hits: dict[str, dict[str, list[bool]]] = {
        m: {lang: [] for lang in LANGUAGES} for m in ("full text", "semantic", "hybrid")
    }
    for language, topic, question in data["questions"]:
        by_text = [
            hit.translation.pk for hit in kb_search.search_articles(question, language, match_any=True, limit=10)
        ]
        by_meaning = [pk for pk, _score in services.nearest_translations(question, language, limit=10)]
        fused: dict[int, float] = {}
        for ranking in (by_text, by_meaning):
            for rank, pk in enumerate(ranking):
                fused[pk] = fused.get(pk, 0.0) + 1.0 / (K + rank + 1)
        hybrid = sorted(fused, key=lambda pk: -fused[pk])
        for method, ranking in (("full text", by_text), ("semantic", by_meaning), ("hybrid", hybrid)):
            hits[method][language].append(topic in [topic_of.get(pk) for pk in ranking[:3]])
    figures.questions = len(data["questions"])
    for method, by_language in hits.items():
        recall = {lang: float(np.mean(found)) for lang, found in by_language.items()}
        recall["all"] = float(np.mean([f for found in by_language.values() for f in found]))
        figures.recall[method] = recall

    # --- Duplicates
    pairs = load("duplicates.json")["pairs"]
    tickets: dict[tuple[str, str], Any] = {}
    for language, _dup, *texts in pairs:
        for subject, body in texts:
            if (subject, body) not in tickets:
                n = len(tickets)
                tickets[(subject, body)] = ingest(
                    Inbound(
                        channel="email", sender=Sender(name=f"Evaluation Customer {n}", email=f"eval{n}@example.org"),
                        subject=subject, body_text=body, acknowledge=False, language=language,
                    )
                ).ticket  # fmt: skip
    services.embed_tickets([t.pk for t in tickets.values()])
    truth, by_text_pred, by_panel, scores = [], [], [], []
    for _language, duplicate, a, b in pairs:
        ta, tb = tickets[tuple(a)], tickets[tuple(b)]
        shown = {t.pk for t in similar_tickets(author, ta)} | {t.pk for t in similar_tickets(author, tb)}
        marked = {s.ticket.pk for s in similar_for_agent(author, ta) if s.duplicate}
        marked |= {s.ticket.pk for s in similar_for_agent(author, tb) if s.duplicate}
        by_panel.append(ta.pk in marked or tb.pk in marked)
        truth.append(bool(duplicate))
        by_text_pred.append(tb.pk in shown or ta.pk in shown)
        va, vb = services.ticket_vector(ta), services.ticket_vector(tb)
        assert va is not None and vb is not None
        scores.append(float(va @ vb))
    figures.pairs = len(pairs)
    figures.duplicates["full text"] = _prf(by_text_pred, truth)
    figures.duplicates["semantic"] = _prf([s >= DUPLICATE for s in scores], truth)
    figures.duplicates["hybrid panel"] = _prf(by_panel, truth)
    best = max(
        (round(float(t), 2) for t in np.arange(0.2, 0.95, 0.01)),
        key=lambda t: (_prf([s >= t for s in scores], truth)["f1"], -t),
    )
    figures.best_threshold = best


def available() -> bool:
    return encoder.available()
