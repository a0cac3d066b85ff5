"""Assembly: slot types, defaults, includeWhen, order, and slot-choice validation."""

from __future__ import annotations

from typing import Any

import pytest

from servanda.engine.assembly import SlotErrors, assemble, validate_slot_choices
from servanda.engine.interview import evaluate
from servanda.engine.shapes import Structure

from .helpers import cid, question, slot, structure

QUESTIONS = [question("mitarbeiter", "number")]
INCLUDE = {"question": "mitarbeiter", "operator": "greater_than", "value": 10}


def template() -> Structure:
    return structure(
        ("a", [slot("pflicht", "required"), slot("opt_an", defaultSelected=True), slot("opt_aus")]),
        ("b", [slot("alt", "alternative", "alt1", "alt2", "alt3"), slot("auto", includeWhen=INCLUDE)]),
    )


def selected(selected_slots: dict[str, Any], answers: dict[str, Any] | None = None) -> list[str]:
    assembly = assemble(template(), selected_slots, evaluate(QUESTIONS, answers or {}))
    names = {cid(n): n for n in ("pflicht", "opt_an", "opt_aus", "alt1", "alt2", "alt3", "auto")}
    return [names[c] for c in assembly.clause_ids]


def test_defaults() -> None:
    assert selected({}) == ["pflicht", "opt_an", "alt1"]


def test_optional_choice_overrides_default() -> None:
    assert selected({"opt_an": None, "opt_aus": str(cid("opt_aus"))}) == ["pflicht", "opt_aus", "alt1"]


def test_alternative_choice() -> None:
    assert selected({"alt": str(cid("alt3"))}) == ["pflicht", "opt_an", "alt3"]


def test_include_when_follows_answers_and_ignores_manual_choice() -> None:
    assert "auto" not in selected({}, {"mitarbeiter": 5})
    assert "auto" in selected({}, {"mitarbeiter": 11})
    assert "auto" not in selected({"auto": str(cid("auto"))}, {})
    assert "auto" in selected({"auto": None}, {"mitarbeiter": 11})


def test_assemble_is_lenient_with_stale_choices() -> None:
    assert selected({"alt": "kein-uuid", "opt_an": str(cid("fremd"))}) == ["pflicht", "opt_an", "alt1"]


def test_order_is_section_order_then_slot_order() -> None:
    shuffled = Structure.model_validate(
        {
            "sections": [
                {
                    "id": "zwei",
                    "title": "Zwei",
                    "order": 2,
                    "slots": [slot("d", "required", order=1), slot("c", "required", order=0)],
                },
                {
                    "id": "eins",
                    "title": "Eins",
                    "order": 1,
                    "slots": [slot("b", "required", order=5), slot("a", "required", order=3)],
                },
            ]
        }
    )
    assembly = assemble(shuffled, {}, evaluate([], {}))
    assert assembly.clause_ids == tuple(cid(n) for n in "abcd")
    assert [s.slot_id for s in assembly.slots] == ["a", "b", "c", "d"]


def test_slot_choices_report_current_choice_options_and_source() -> None:
    assembly = assemble(
        template(), {"opt_aus": str(cid("opt_aus"))}, evaluate(QUESTIONS, {"mitarbeiter": 20})
    )
    by_id = {s.slot_id: s for s in assembly.slots}
    assert by_id["pflicht"].source == "required" and not by_id["pflicht"].editable
    assert by_id["opt_an"].source == "default" and by_id["opt_an"].clause_id == cid("opt_an")
    assert by_id["opt_aus"].source == "user"
    assert by_id["alt"].options == (cid("alt1"), cid("alt2"), cid("alt3"))
    assert by_id["auto"].source == "answers" and not by_id["auto"].editable
    assert assembly.as_json()["slots"][0]["clauseId"] == str(cid("pflicht"))


def test_clause_in_two_slots_appears_once() -> None:
    twice = structure(("a", [slot("x", "required", "k"), slot("y", "required", "k")]))
    assert assemble(twice, {}, evaluate([], {})).clause_ids == (cid("k"),)


# --- validation of choices ---------------------------------------------------------------------------


def errors(selected_slots: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SlotErrors) as caught:
        validate_slot_choices(template(), selected_slots, evaluate(QUESTIONS, {}))
    return {e.slot_id: e.message for e in caught.value.errors}


def test_valid_choices_pass() -> None:
    validate_slot_choices(
        template(),
        {
            "pflicht": str(cid("pflicht")),
            "opt_an": None,
            "opt_aus": str(cid("opt_aus")),
            "alt": str(cid("alt2")),
        },
    )


def test_every_invalid_choice_is_named() -> None:
    found = errors(
        {
            "gibtsnicht": None,
            "auto": str(cid("auto")),
            "alt": str(cid("opt_an")),
            "opt_aus": str(cid("alt1")),
            "pflicht": None,
        }
    )
    assert set(found) == {"gibtsnicht", "auto", "alt", "opt_aus", "pflicht"}
    assert "gibt es in der Vorlage nicht" in found["gibtsnicht"]
    assert "Interview-Antworten" in found["auto"]
    assert "Alternativen" in found["alt"]


def test_manual_null_on_include_when_slot_is_rejected() -> None:
    assert set(errors({"auto": None})) == {"auto"}


def test_alternative_cannot_be_emptied_or_garbage() -> None:
    assert "muss eine der Alternativen" in errors({"alt": None})["alt"]
    assert set(errors({"alt": "kein-uuid"})) == {"alt"}
