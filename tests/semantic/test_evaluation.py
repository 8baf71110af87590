"""The evaluation set (src/sportello/semantic/eval/) through the real paths: the figures of
docs/semantic.md. Run with -s to see the table (or `sportello semantic evaluate`)."""

from __future__ import annotations

import pytest

from sportello.semantic.evaluation import evaluate
from sportello.semantic.similar import DUPLICATE

pytestmark = pytest.mark.django_db


def test_semantic_search_beats_full_text_on_the_evaluation_set():
    figures = evaluate()
    print(f"\n{figures.questions} questions, {figures.pairs} ticket pairs\n{figures.table()}")
    assert figures.questions == 48 and figures.pairs == 40
    semantic, text = figures.recall["semantic"], figures.recall["full text"]
    assert semantic["all"] >= 0.9 and semantic["all"] > text["all"] + 0.3
    assert all(semantic[lang] >= 0.75 for lang in ("en", "it", "de", "bg"))
    dup, text_dup = figures.duplicates["semantic"], figures.duplicates["full text"]
    assert dup["precision"] >= 0.9 and dup["f1"] > text_dup["f1"]
    assert figures.duplicates["hybrid panel"]["f1"] >= 0.8
    assert abs(figures.best_threshold - DUPLICATE) <= 0.05  # the threshold in the code is the measured one
