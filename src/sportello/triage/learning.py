"""The learning part of auto-triage, with no database: examples in, a fitted model and its
measured quality out. services.py feeds it the installation's tickets; bench/triage.py and the
tests feed it the labelled evaluation set (tests/fixtures/triage/tickets.jsonl).

The model is the usual strong baseline for short support texts: TF-IDF over character n-grams
(within words, so it copes with inflection, typos and four languages at once) and over words
and word pairs, into a logistic regression, which gives calibrated-enough probabilities for a
confidence threshold. Tags are many labels at once: one such classifier per tag.

Quality is measured the honest way for a help desk: train on the older tickets, predict the most
recent ones (which the model never saw), and compare with the majority-class baseline, the
model that always answers the commonest value.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

# scikit-learn (with SciPy and NumPy) is imported where a model is fitted, measured or used, not
# here: every process imports this module at start-up (the triage listener), and the import cost
# 1.3 s of CPU, half of django.setup(), in `mail import`, the worker and the scheduler alike.
if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Too little history to learn from, per target: fewer tickets with a value, fewer values with
# enough tickets each among the older tickets, or too few recent tickets to measure on.
MIN_TICKETS = 50
MIN_PER_CLASS = 5
MIN_CLASSES = 2
MIN_HELD_BACK = 10
# The most recent share of tickets held back to measure on.
HELD_BACK_SHARE = 0.2
# What of a ticket the model reads: its subject and the start of its first message.
MAX_TEXT = 2000


class TooLittleHistory(Exception):
    """Training refused; the message says why, in words an admin can act on."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str | tuple[str, ...]  # one value, or a ticket's tags


@dataclass
class Evaluation:
    """The model's quality on held-back recent tickets, against the majority-class baseline.

    For one-value targets `accuracy` is the share predicted right and `macro_f1` the F1 averaged
    over values (a rare group counts as much as a common one). For tags, both are over tags:
    `accuracy` the share of tickets whose tag set was predicted exactly, `macro_f1` the F1 over
    tags; the baseline is the commonest tag set."""

    trained_on: int
    evaluated_on: int
    accuracy: float
    baseline: float
    macro_f1: float
    baseline_macro_f1: float
    classes: list[str] = field(default_factory=list)


def text_of(subject: str, body: str) -> str:
    return f"{subject}\n{body}"[:MAX_TEXT]


# Words of letters only, and (both vectorizers) only those in two tickets or more: the stored
# vocabulary then holds no order or phone number, and no name or address only one customer wrote.
WORD = r"(?u)\b[^\W\d_]{2,}\b"


def make_pipeline(multi_label: bool = False) -> Pipeline:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, token_pattern=WORD)),
        ]
    )
    classifier: Any = LogisticRegression(C=10.0, max_iter=2000)
    if multi_label:
        classifier = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000))
    return Pipeline([("features", features), ("classifier", classifier)])


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """Older and most recent examples (`examples` are oldest first)."""
    held = max(MIN_HELD_BACK, math.ceil(len(examples) * HELD_BACK_SHARE))
    return list(examples[:-held]), list(examples[-held:])


def _check_single(examples: Sequence[Example], noun: str) -> tuple[list[Example], list[Example], list[str]]:
    if len(examples) < MIN_TICKETS:
        raise TooLittleHistory(
            f"Only {len(examples)} tickets have a {noun}; at least {MIN_TICKETS} are needed to learn from."
        )
    older, recent = split(examples)
    counts = Counter(example.label for example in older)
    learnable = sorted(str(label) for label, count in counts.items() if count >= MIN_PER_CLASS)
    if len(learnable) < MIN_CLASSES:
        raise TooLittleHistory(
            f"Among the older tickets, {len(learnable)} {noun} value(s) have at least {MIN_PER_CLASS} tickets each; "
            f"at least {MIN_CLASSES} are needed."
        )
    return older, recent, learnable


def one_thread() -> Any:
    """Fit in one thread: the native libraries' thread pools, on a busy two-core server, made
    fitting the evaluation set about 7 times slower (10 s instead of 1.5 s for one target)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    return threadpool_limits(1)


def evaluate(examples: Sequence[Example], noun: str = "value") -> Evaluation:
    with one_thread():
        return _evaluate(examples, noun)


def _evaluate(examples: Sequence[Example], noun: str) -> Evaluation:
    """Train on the older examples, measure on the most recent; TooLittleHistory when too few.

    Values with fewer than MIN_PER_CLASS older tickets are not learnt, but recent tickets that
    have them still count, as errors: the figure is what agents would see."""
    from sklearn.metrics import accuracy_score, f1_score

    if examples and isinstance(examples[0].label, tuple):
        return _evaluate_tags(examples, noun)
    older, recent, learnable = _check_single(examples, noun)
    kept = [example for example in older if example.label in learnable]
    model = make_pipeline().fit([e.text for e in kept], [e.label for e in kept])
    truth = [str(e.label) for e in recent]
    predicted = [str(value) for value in model.predict([e.text for e in recent])]
    majority = Counter(str(e.label) for e in older).most_common(1)[0][0]
    baseline = [majority] * len(recent)
    return Evaluation(
        trained_on=len(kept),
        evaluated_on=len(recent),
        accuracy=float(accuracy_score(truth, predicted)),
        baseline=float(accuracy_score(truth, baseline)),
        macro_f1=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        baseline_macro_f1=float(f1_score(truth, baseline, average="macro", zero_division=0)),
        classes=learnable,
    )


def _learnable_tags(examples: Sequence[Example]) -> list[str]:
    counts = Counter(tag for example in examples for tag in example.label)
    return sorted(tag for tag, count in counts.items() if count >= MIN_PER_CLASS)


def _evaluate_tags(examples: Sequence[Example], noun: str) -> Evaluation:
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    if len(examples) < MIN_TICKETS:
        raise TooLittleHistory(f"Only {len(examples)} tickets to learn {noun} from; at least {MIN_TICKETS} are needed.")
    older, recent = split(examples)
    learnable = _learnable_tags(older)
    if not learnable:
        raise TooLittleHistory(f"No tag is on at least {MIN_PER_CLASS} of the older tickets.")
    binarizer = MultiLabelBinarizer(classes=learnable)
    train_y = binarizer.fit_transform([e.label for e in older])
    # A tag on every older ticket (or none) cannot be told apart; such a model always answers it.
    model = make_pipeline(multi_label=True).fit([e.text for e in older], train_y)
    truth = binarizer.transform([e.label for e in recent])
    predicted = model.predict([e.text for e in recent])
    commonest = Counter(tuple(sorted(set(e.label) & set(learnable))) for e in older).most_common(1)[0][0]
    baseline = binarizer.transform([commonest] * len(recent))
    exact_truth = [tuple(sorted(e.label)) for e in recent]
    exact_predicted = [tuple(sorted(tags)) for tags in binarizer.inverse_transform(predicted)]
    return Evaluation(
        trained_on=len(older),
        evaluated_on=len(recent),
        accuracy=sum(a == b for a, b in zip(exact_truth, exact_predicted, strict=True)) / len(recent),
        baseline=sum(a == tuple(commonest) for a in exact_truth) / len(recent),
        macro_f1=float(f1_score(truth, predicted, average="micro", zero_division=0)),
        baseline_macro_f1=float(f1_score(truth, baseline, average="micro", zero_division=0)),
        classes=learnable,
    )


@dataclass
class Fitted:
    """A model fitted on all the examples, ready to store (`dump`) and to predict."""

    pipeline: Pipeline
    classes: list[str]
    multi_label: bool = False


def fit(examples: Sequence[Example]) -> Fitted:
    """The model for use, on all the examples (the evaluation's model saw only the older ones)."""
    with one_thread():
        return _fit(examples)


def _fit(examples: Sequence[Example]) -> Fitted:
    from sklearn.preprocessing import MultiLabelBinarizer

    if examples and isinstance(examples[0].label, tuple):
        learnable = _learnable_tags(examples)
        binarizer = MultiLabelBinarizer(classes=learnable)
        y = binarizer.fit_transform([e.label for e in examples])
        return Fitted(make_pipeline(multi_label=True).fit([e.text for e in examples], y), learnable, True)
    counts = Counter(str(e.label) for e in examples)
    learnable = sorted(label for label, count in counts.items() if count >= MIN_PER_CLASS)
    kept = [e for e in examples if str(e.label) in learnable]
    pipeline = make_pipeline().fit([e.text for e in kept], [str(e.label) for e in kept])
    return Fitted(pipeline, [str(c) for c in pipeline.classes_])


@dataclass(frozen=True)
class Guess:
    value: str  # one value, or the tags joined by ", "
    confidence: float  # 0..1: the value's probability (for tags: the least sure of them)


def predict(fitted: Fitted, text: str, threshold: float = 0.5) -> Guess | None:
    """The likeliest value and its probability; for tags, those at or above `threshold` (or the
    likeliest one when none is), with the lowest of their probabilities."""
    with one_thread():
        probabilities = fitted.pipeline.predict_proba([text])[0]
    if fitted.multi_label:
        ranked = sorted(zip(fitted.classes, probabilities, strict=True), key=lambda pair: -pair[1])
        if not ranked:
            return None
        chosen = [(tag, p) for tag, p in ranked if p >= threshold] or ranked[:1]
        return Guess(", ".join(sorted(tag for tag, _p in chosen)), float(min(p for _t, p in chosen)))
    best = int(probabilities.argmax())
    return Guess(str(fitted.pipeline.classes_[best]), float(probabilities[best]))


def dump(fitted: Fitted) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(fitted, buffer, compress=3)
    return buffer.getvalue()


def load(blob: bytes) -> Fitted:
    """A stored model. Only the installation's own database holds these bytes (written by
    `dump`), which is what makes unpickling them safe."""
    import joblib

    loaded = joblib.load(io.BytesIO(blob))
    if not isinstance(loaded, Fitted):
        raise TypeError("not a triage model")
    return loaded


LIBRARY_VERSION = f"scikit-learn {version('scikit-learn')}"
