"""Upgrade helpers: word diff, answer and slot carry-over, clause changes, new violations (pure)."""

from __future__ import annotations

import uuid

from servanda.engine.rules import Validation, Violation
from servanda.engine.upgrade import (
    CarryOver,
    ClauseText,
    carry_over,
    clause_changes,
    new_violations,
    word_diff,
)

from .helpers import cid, options, question, slot, structure


def test_word_diff_runs_of_equal_deleted_and_inserted_words() -> None:
    assert word_diff("Die Frist beträgt zwei Wochen.", "Die Frist beträgt vier Wochen zum Monatsende.") == [
        {"op": "equal", "text": "Die Frist beträgt"},
        {"op": "delete", "text": "zwei Wochen."},
        {"op": "insert", "text": "vier Wochen zum Monatsende."},
    ]


def test_word_diff_ignores_whitespace_and_handles_empty_texts() -> None:
    assert word_diff("a  b\nc", "a b c") == [{"op": "equal", "text": "a b c"}]
    assert word_diff("", "neu hier") == [{"op": "insert", "text": "neu hier"}]
    assert word_diff("weg damit", "") == [{"op": "delete", "text": "weg damit"}]
    assert word_diff("", "") == []


OLD_QUESTIONS = [
    question("name", "text"),
    question("anzahl", "number"),
    question("art", "single_choice", options=options("a", "b")),
    question("entfaellt", "text"),
    question("dauer", "number"),
    question("kennung", "single_choice", options=options("a", "b")),
]
NEW_QUESTIONS = [
    question("name", "text"),
    question("anzahl", "text"),  # type changed: the answer cannot survive
    question("art", "single_choice", options=options("a", "c")),  # "b" is no longer an option
    question("dauer", "number", validation={"max": 12}),
    question("neu", "text"),
    question("kennung", "text"),  # "a" would be a valid text, but the type changed
]
NEW_STRUCTURE = structure(("s", [slot("opt"), slot("alt", "alternative", "alt1", "alt2")]))


def test_carry_over_keeps_answers_whose_key_type_and_value_still_fit() -> None:
    answers = {
        "name": "  Muster GmbH ",
        "anzahl": 3,
        "art": "b",
        "entfaellt": "x",
        "dauer": 24,
        "kennung": "a",
    }
    carried = carry_over(OLD_QUESTIONS, NEW_QUESTIONS, NEW_STRUCTURE, answers, {})
    assert carried.answers == {"name": "Muster GmbH"}  # normalised by the new question
    assert carried.dropped_answers == ["anzahl", "art", "entfaellt", "dauer", "kennung"]
    assert carried.report_json() == {
        "migratedAnswers": ["name"],
        "droppedAnswers": ["anzahl", "art", "dauer", "entfaellt", "kennung"],
        "resetSlots": [],
    }


def test_carry_over_judges_each_slot_choice_against_the_new_structure() -> None:
    selected = {
        "opt": str(cid("opt")),  # still valid
        "alt": str(cid("alt3")),  # no longer an alternative of the slot
        "weg": str(cid("weg")),  # the slot is gone
        "alt_none": None,
    }
    carried = carry_over([], [], NEW_STRUCTURE, {}, selected)
    assert carried.selected_slots == {"opt": str(cid("opt"))}
    assert carried.reset_slots == ["alt", "weg", "alt_none"]
    assert carried.report_json()["resetSlots"] == ["alt", "alt_none", "weg"]


def test_carry_over_with_the_same_questions_checks_prefilled_answers() -> None:
    carried = carry_over(NEW_QUESTIONS, NEW_QUESTIONS, NEW_STRUCTURE, {"dauer": 6, "unbekannt": 1}, {})
    assert carried == CarryOver({"dauer": 6}, {}, ["unbekannt"], [])


def _text(title: str, version: int, content: str) -> ClauseText:
    return ClauseText(title, uuid.uuid5(cid(title), str(version)), version, content)


def test_clause_changes_lists_added_removed_and_updated_clauses_in_slot_order() -> None:
    old = {
        cid("a"): _text("A", 1, "eins zwei"),
        cid("b"): _text("B", 1, "bleibt"),
        cid("c"): _text("C alt", 2, "weg"),
    }
    new = {cid("d"): _text("D", 1, "neu"), cid("a"): _text("A neu", 2, "eins drei"), cid("b"): old[cid("b")]}
    assert clause_changes(old, new) == {
        "addedClauses": [{"clauseId": str(cid("d")), "title": "D"}],
        "removedClauses": [{"clauseId": str(cid("c")), "title": "C alt"}],
        "updatedClauses": [
            {
                "clauseId": str(cid("a")),
                "title": "A neu",
                "fromVersion": 1,
                "toVersion": 2,
                "diff": [
                    {"op": "equal", "text": "eins"},
                    {"op": "delete", "text": "zwei"},
                    {"op": "insert", "text": "drei"},
                ],
            }
        ],
    }
    assert clause_changes(old, old) == {"addedClauses": [], "removedClauses": [], "updatedClauses": []}


def _violation(fingerprint: str) -> Violation:
    return Violation(fingerprint, "requires", "hard", cid("a"), (cid("b"),), "fehlt", None, False, ())


def test_new_violations_are_those_whose_fingerprint_was_not_there_before() -> None:
    before = Validation.of([_violation("f1"), _violation("f2")])
    after = Validation.of([_violation("f2"), _violation("f3")])
    assert [v["fingerprint"] for v in new_violations(before, after)] == ["f3"]
    assert new_violations(after, after) == []
