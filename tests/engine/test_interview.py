"""Interview: answer types, conditions, visibility, progress (engine.md "Interview")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from servanda.engine.interview import (
    AnswerError,
    AnswersError,
    apply_answers,
    condition_holds,
    evaluate,
    validate_answer,
    validate_answers,
)
from servanda.engine.shapes import Condition, QuestionCondition

from .helpers import options, question

TEXT = question("t", "text")
NUMBER = question("n", "number", validation={"min": 0, "max": 100})
INTEGER = question("i", "number", validation={"integer": True})
CURRENCY = question("c", "currency")
DATE = question("d", "date", validation={"min": "2026-01-01", "max": "2026-12-31"})
YES_NO = question("y", "yes_no")
SINGLE = question("s", "single_choice", options=options("a", "b", "c"))
MULTI = question(
    "m", "multiple_choice", options=options("a", "b", "c"), validation={"minItems": 1, "maxItems": 2}
)
ALL = [TEXT, NUMBER, INTEGER, CURRENCY, DATE, YES_NO, SINGLE, MULTI]


def rejected(q: Any, value: Any) -> str:
    with pytest.raises(AnswerError) as caught:
        validate_answer(q, value)
    assert caught.value.question_key == q.key
    return caught.value.message


# --- each type: accept and reject ---------------------------------------------------------------


@pytest.mark.parametrize("q", ALL, ids=lambda q: q.type)
def test_none_clears_every_type(q: Any) -> None:
    assert validate_answer(q, None) is None


def test_text_is_trimmed_and_bounded() -> None:
    assert validate_answer(TEXT, "  Muster GmbH \n") == "Muster GmbH"
    assert validate_answer(TEXT, "x" * 2000) == "x" * 2000
    assert "leer" in rejected(TEXT, "   ")
    assert "2000" in rejected(TEXT, "x" * 2001)
    rejected(TEXT, 42)
    rejected(TEXT, ["a"])


def test_number_accepts_json_numbers_within_bounds() -> None:
    assert validate_answer(NUMBER, 0) == 0
    assert validate_answer(NUMBER, 99.5) == 99.5
    assert validate_answer(NUMBER, 100) == 100
    assert "mindestens 0" in rejected(NUMBER, -1)
    assert "höchstens 100" in rejected(NUMBER, 100.01)
    for bad in ("abc", "1e3", True, float("nan"), float("inf"), object()):
        rejected(NUMBER, bad)


def test_number_accepts_typed_text_german_and_plain() -> None:
    assert validate_answer(NUMBER, "5") == 5
    assert validate_answer(NUMBER, "12,5") == 12.5
    assert validate_answer(NUMBER, "12.5") == 12.5
    assert "höchstens 100" in rejected(NUMBER, "1.000")  # German grouping: one thousand


def test_number_integer_validation() -> None:
    assert validate_answer(INTEGER, 5) == 5
    assert validate_answer(INTEGER, 5.0) == 5
    assert isinstance(validate_answer(INTEGER, 5.0), int)
    assert "ganze Zahl" in rejected(INTEGER, 5.5)


def test_number_bound_is_formatted_in_german() -> None:
    big = question("b", "number", validation={"max": 1000000})
    assert "höchstens 1.000.000" in rejected(big, 2000000)


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("10000", "10000.00"),
        ("10000.5", "10000.50"),
        ("10000.55", "10000.55"),
        (" 7.10 ", "7.10"),
        (10.5, "10.50"),
        (3, "3.00"),
        (0, "0.00"),
        (-0.0, "0.00"),
        (Decimal("12.3"), "12.30"),
    ],
)
def test_currency_normalises_to_two_decimal_string(value: Any, normalised: str) -> None:
    assert validate_answer(CURRENCY, value) == normalised


@pytest.mark.parametrize(
    "value", [10.123, "1e3", "1,234.56", "1.2.3,4,5", "abc", "", "EUR", True, [], {"amount": 1}]
)
def test_currency_rejects_non_amounts(value: Any) -> None:
    rejected(CURRENCY, value)


def test_currency_rejects_negative_and_too_many_decimals() -> None:
    assert "negativ" in rejected(CURRENCY, -1)
    assert "negativ" in rejected(CURRENCY, "-1.00")
    assert "zwei Nachkommastellen" in rejected(CURRENCY, "1,234")
    assert "zwei Nachkommastellen" in rejected(CURRENCY, "1.5001")
    assert "zu groß" in rejected(CURRENCY, "1000000000000000")


def test_date_iso_with_bounds() -> None:
    assert validate_answer(DATE, "2026-04-01") == "2026-04-01"
    assert "01.01.2026" in rejected(DATE, "2025-12-31")
    assert "31.12.2026" in rejected(DATE, "2027-01-01")
    for bad in (
        "2026-02-30",
        "30.02.2026",
        "20260401",
        "2026-4-1",
        20260401,
        "2026-04-01T00:00:00",
        "1.4.26",
    ):
        rejected(DATE, bad)


@pytest.mark.parametrize("typed", ["01.04.2026", "1.4.2026", " 2026-04-01 "])
def test_date_accepts_german_and_iso_input(typed: str) -> None:
    assert validate_answer(DATE, typed) == "2026-04-01"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("4.500,00", "4500.00"),
        ("4500,00", "4500.00"),
        ("4500.00", "4500.00"),
        ("4.500", "4500.00"),
        ("1.234.567,8", "1234567.80"),
        ("0,5", "0.50"),
        (4500, "4500.00"),
        ("4 500,00", "4500.00"),
    ],
)
def test_currency_accepts_amounts_as_german_users_type_them(typed: Any, stored: str) -> None:
    assert validate_answer(CURRENCY, typed) == stored


def test_yes_no_only_booleans() -> None:
    assert validate_answer(YES_NO, True) is True
    assert validate_answer(YES_NO, False) is False
    for bad in ("ja", 1, 0, "true"):
        rejected(YES_NO, bad)


def test_single_choice_one_of_the_options() -> None:
    assert validate_answer(SINGLE, "b") == "b"
    for bad in ("x", ["a"], 1, "A"):
        rejected(SINGLE, bad)


def test_multiple_choice_distinct_options_in_option_order() -> None:
    assert validate_answer(MULTI, ["c", "a"]) == ["a", "c"]
    assert "einmal" in rejected(MULTI, ["a", "a"])
    assert "mindestens 1" in rejected(MULTI, [])
    assert "höchstens 2" in rejected(MULTI, ["a", "b", "c"])
    for bad in (["x"], "a", [1], object()):
        rejected(MULTI, bad)
    unbounded = question("u", "multiple_choice", options=options("a"))
    assert validate_answer(unbounded, []) == []


# --- many answers at once ------------------------------------------------------------------------


def test_validate_answers_names_every_invalid_answer_and_unknown_keys() -> None:
    with pytest.raises(AnswersError) as caught:
        validate_answers(ALL, {"t": "ok", "n": 500, "s": "zz", "unbekannt": 1})
    assert {e.question_key for e in caught.value.errors} == {"n", "s", "unbekannt"}
    assert {
        "question": "unbekannt",
        "message": "Diese Frage gibt es in der Vorlage nicht.",
    } in caught.value.as_json()


def test_validate_answers_normalises_all_and_keeps_clears() -> None:
    assert validate_answers(ALL, {"t": " a ", "c": 5, "m": None}) == {"t": "a", "c": "5.00", "m": None}


def test_apply_answers_merges_and_none_removes() -> None:
    snapshot = {"t": "alt", "n": 3}
    assert apply_answers(ALL, snapshot, {"t": "neu", "n": None}) == {"t": "neu"}
    with pytest.raises(AnswersError):
        apply_answers(ALL, snapshot, {"n": -5})
    assert snapshot == {"t": "alt", "n": 3}


# --- operators -----------------------------------------------------------------------------------

TYPES = {
    "t": "text",
    "n": "number",
    "c": "currency",
    "d": "date",
    "y": "yes_no",
    "s": "single_choice",
    "m": "multiple_choice",
}


def holds(key: str, operator: str, value: Any, answer: Any) -> bool:
    return condition_holds(Condition(question=key, operator=operator, value=value), {key: answer}, TYPES)


@pytest.mark.parametrize(
    ("key", "operator", "value", "answer", "expected"),
    [
        ("s", "equals", "a", "a", True),
        ("s", "equals", "a", "b", False),
        ("s", "not_equals", "a", "b", True),
        ("s", "not_equals", "a", "a", False),
        ("y", "equals", True, True, True),
        ("y", "equals", True, False, False),
        ("n", "equals", 10, 10.0, True),
        ("n", "greater_than", 10, 11, True),
        ("n", "greater_than", 10, 10, False),
        ("n", "less_than", 10, 9.5, True),
        ("n", "less_than", 10, 10, False),
        ("c", "greater_than", 1000, "1000.01", True),
        ("c", "equals", "1000", "1000.00", True),
        ("c", "less_than", "999.99", "1000.00", False),
        ("d", "greater_than", "2026-04-01", "2026-04-02", True),
        ("d", "less_than", "2026-04-01", "2026-03-31", True),
        ("d", "equals", "2026-04-01", "2026-04-01", True),
        ("t", "contains", "gmbh", "Muster GmbH", True),
        ("t", "contains", "AG", "Muster GmbH", False),
        ("m", "contains", "b", ["a", "b"], True),
        ("m", "contains", "c", ["a", "b"], False),
        ("s", "in", ["a", "b"], "b", True),
        ("s", "in", ["a", "b"], "c", False),
        ("n", "in", [1, 2], 2, True),
        ("t", "greater_than", "a", "b", False),
        ("n", "greater_than", "viel", 5, False),
    ],
)
def test_operators(key: str, operator: str, value: Any, answer: Any, expected: bool) -> None:
    assert holds(key, operator, value, answer) is expected


@pytest.mark.parametrize("operator", ["equals", "not_equals", "greater_than", "less_than", "contains", "in"])
def test_condition_on_missing_answer_is_false_for_every_operator(operator: str) -> None:
    value = ["a"] if operator == "in" else "a"
    assert condition_holds(Condition(question="s", operator=operator, value=value), {}, TYPES) is False


# --- visibility ------------------------------------------------------------------------------------


def cond(question_key: str, operator: str, value: Any, logic: str) -> dict[str, Any]:
    return QuestionCondition(question=question_key, operator=operator, value=value, logic=logic).model_dump(
        by_alias=True
    )


TYP = question("typ", "single_choice", required=True, options=options("gmbh", "ag"))


def test_show_needs_all_conditions_true() -> None:
    flow = [
        TYP,
        question("n", "number", required=True),
        question(
            "x",
            required=True,
            conditions=[cond("typ", "equals", "gmbh", "show"), cond("n", "greater_than", 5, "show")],
        ),
    ]
    assert not evaluate(flow, {"typ": "gmbh", "n": 1}).question("x").visible  # type: ignore[union-attr]
    assert evaluate(flow, {"typ": "gmbh", "n": 6}).question("x").visible  # type: ignore[union-attr]


def test_hide_when_any_condition_true_and_answer_kept_but_not_effective() -> None:
    flow = [
        TYP,
        question(
            "x",
            required=True,
            conditions=[cond("typ", "equals", "ag", "hide"), cond("typ", "equals", "zz", "hide")],
        ),
        question("y", conditions=[cond("x", "equals", "wert", "show")]),
    ]
    state = evaluate(flow, {"typ": "ag", "x": "wert"})
    x = state.question("x")
    assert x is not None and x.hidden and not x.visible and not x.required
    assert x.answer == "wert" and x.effective is None
    assert "x" not in state.effective_answers
    # A hidden answer is not seen by conditions either.
    assert not state.question("y").visible  # type: ignore[union-attr]


def test_skip_uses_default_value_and_is_not_required() -> None:
    flow = [
        TYP,
        question(
            "probe", "number", required=True, defaultValue=6, conditions=[cond("typ", "equals", "ag", "skip")]
        ),
        question("folge", conditions=[cond("probe", "equals", 6, "show")]),
    ]
    state = evaluate(flow, {"typ": "ag"})
    probe = state.question("probe")
    assert probe is not None and probe.skipped and not probe.visible and not probe.required
    assert probe.effective == 6
    assert state.question("folge").visible  # type: ignore[union-attr]


def test_skip_normalises_the_default() -> None:
    flow = [
        TYP,
        question("betrag", "currency", defaultValue=100, conditions=[cond("typ", "equals", "ag", "skip")]),
    ]
    assert evaluate(flow, {"typ": "ag"}).effective("betrag") == "100.00"


def test_conditions_only_see_earlier_questions() -> None:
    flow = [question("x", conditions=[cond("later", "equals", "a", "show")]), question("later")]
    assert not evaluate(flow, {"later": "a"}).question("x").visible  # type: ignore[union-attr]


def test_not_equals_on_unanswered_question_hides() -> None:
    flow = [TYP, question("x", conditions=[cond("typ", "not_equals", "gmbh", "show")])]
    assert not evaluate(flow, {}).question("x").visible  # type: ignore[union-attr]
    assert evaluate(flow, {"typ": "ag"}).question("x").visible  # type: ignore[union-attr]


def test_chained_visibility_feeds_later_questions() -> None:
    flow = [
        TYP,
        question("a", "yes_no", conditions=[cond("typ", "equals", "gmbh", "show")]),
        question("b", conditions=[cond("a", "equals", True, "show")]),
    ]
    # "a" is answered but hidden (typ = ag), so "b" sees no answer.
    assert not evaluate(flow, {"typ": "ag", "a": True}).question("b").visible  # type: ignore[union-attr]
    assert evaluate(flow, {"typ": "gmbh", "a": True}).question("b").visible  # type: ignore[union-attr]


# --- progress ------------------------------------------------------------------------------------


def test_progress_counts_visible_required_only() -> None:
    flow = [
        TYP,
        question("pflicht", required=True),
        question("optional"),
        question("versteckt", required=True, conditions=[cond("typ", "equals", "ag", "show")]),
    ]
    assert evaluate(flow, {}).progress == 0.0
    assert evaluate(flow, {"typ": "gmbh"}).progress == 0.5
    assert evaluate(flow, {"typ": "gmbh", "pflicht": "x", "optional": "y"}).progress == 1.0
    assert evaluate(flow, {"typ": "ag", "pflicht": "x"}).progress == pytest.approx(2 / 3)
    assert [q.key for q in evaluate(flow, {"typ": "ag"}).unanswered_required()] == ["pflicht", "versteckt"]


def test_progress_is_one_without_required_questions() -> None:
    assert evaluate([], {}).progress == 1.0
    assert evaluate([question("a")], {}).progress == 1.0
