"""The learning part on its own: the labelled evaluation set against the majority class, the
refusals, and measuring on the most recent tickets (no database)."""

from __future__ import annotations

import pytest

from sportello.triage import learning
from sportello.triage.learning import Example, TooLittleHistory
from tests.triage.conftest import rows


def examples_of(target: str) -> list[Example]:
    ordered = sorted(rows(), key=lambda row: str(row["created_at"]))
    return [
        Example(
            learning.text_of(str(row["subject"]), str(row["body"])),
            tuple(row["tags"]) if target == "tags" else str(row[target]),  # type: ignore[arg-type]
        )
        for row in ordered
    ]


def test_the_evaluation_set_is_four_languages_with_true_labels() -> None:
    found = rows()
    assert len(found) == 400
    assert {row["language"] for row in found} == {"en", "it", "de", "bg"}
    assert all(row["group"] and row["category"] and row["priority"] in (1, 2, 3, 4) for row in found)


@pytest.mark.parametrize(
    ("target", "floor"), [("group", 0.9), ("category", 0.85), ("priority", 0.55), ("language", 0.95)]
)
def test_each_target_beats_the_majority_class_on_recent_tickets(target: str, floor: float) -> None:
    result = learning.evaluate(examples_of(target), target)

    assert (result.trained_on, result.evaluated_on) == (320, 80)
    assert result.accuracy >= floor
    assert result.accuracy > result.baseline + 0.1
    assert result.macro_f1 > result.baseline_macro_f1


def test_tags_beat_the_commonest_tag_set() -> None:
    result = learning.evaluate(examples_of("tags"), "tags")

    assert result.macro_f1 > 0.8 > result.baseline_macro_f1
    assert "mobile-app" in result.classes


def test_too_few_tickets_are_refused_with_the_count() -> None:
    with pytest.raises(TooLittleHistory, match="Only 30 tickets have a group; at least 50"):
        learning.evaluate(examples_of("group")[:30], "group")


def test_one_value_only_is_refused() -> None:
    same = [Example(example.text, "Billing") for example in examples_of("group")]
    with pytest.raises(TooLittleHistory, match="1 group value"):
        learning.evaluate(same, "group")


def test_tags_nobody_uses_are_refused() -> None:
    untagged = [Example(example.text, ()) for example in examples_of("tags")]
    with pytest.raises(TooLittleHistory, match="No tag"):
        learning.evaluate(untagged, "tags")


def test_the_held_back_tickets_are_the_most_recent() -> None:
    """Billing's tickets went to a new team lately: the older tickets teach "Billing", the recent
    ones (the last 20%) say "Finance", which the model never saw, so every one counts wrong."""
    older = [Example(f"invoice number {n} is wrong", "Billing") for n in range(40)]
    older += [Example(f"parcel {n} did not arrive", "Shipping") for n in range(40)]
    recent = [Example(f"invoice number {n} is wrong", "Finance") for n in range(20)]

    result = learning.evaluate(older + recent, "group")

    assert (result.trained_on, result.evaluated_on) == (80, 20)
    assert result.accuracy == 0.0


def test_a_stored_model_predicts_after_loading() -> None:
    fitted = learning.fit(examples_of("group"))
    loaded = learning.load(learning.dump(fitted))

    guess = learning.predict(loaded, "Rechnung fehlt\nIch habe keine Rechnung für meine Bestellung bekommen.")

    assert guess is not None and guess.value == "Billing" and 0.5 < guess.confidence <= 1
