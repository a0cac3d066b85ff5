"""Interview: answer validation, conditions, visibility and progress (engine.md "Interview").

Pure functions over a template version's questions and an answer snapshot.

Normalised answer values (what ``validate_answer`` returns and what a snapshot stores):

- ``text``: the trimmed string;
- ``number``: the JSON number as given (``int`` or ``float``); with ``validation.integer`` an ``int``;
- ``currency``: a canonical decimal *string* with exactly two decimals (``"10000.00"``).
  A string keeps the amount exact in the JSON snapshot (no binary floats) and is what
  ``Decimal(value)`` reads back; ``1e3`` notation, signs and thousands separators are rejected;
- ``date``: the ISO string ``YYYY-MM-DD``;
- ``yes_no``: ``bool``;
- ``single_choice``: the option value;
- ``multiple_choice``: a list of distinct option values in the *options'* order, so equal
  selections have equal snapshots. An empty list is an answer (unless ``minItems`` forbids it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from servanda.engine.formatting import (
    format_date,
    format_number,
    parse_amount_input,
    parse_date,
    parse_date_input,
    to_amount,
)
from servanda.engine.shapes import Condition, Option, Question

TEXT_MAX = 2000
_CENTS = Decimal("0.01")
_AMOUNT_LIMIT = Decimal(10) ** 15  # far beyond any contract amount


class AnswerError(Exception):
    """One invalid answer; ``message`` is German and meant for the user."""

    def __init__(self, question_key: str, message: str) -> None:
        super().__init__(f"{question_key}: {message}")
        self.question_key = question_key
        self.message = message

    def as_json(self) -> dict[str, str]:
        return {"question": self.question_key, "message": self.message}


class AnswersError(Exception):
    """Every invalid answer of one request (all-or-nothing: nothing is saved)."""

    def __init__(self, errors: list[AnswerError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors

    def as_json(self) -> list[dict[str, str]]:
        return [e.as_json() for e in self.errors]


# --- answer validation -------------------------------------------------------------------


def validate_answer(question: Question, value: Any) -> Any:
    """The normalised value of an answer to ``question``, or ``AnswerError``. ``None`` clears."""
    if value is None:
        return None
    validator = _VALIDATORS[question.type]
    return validator(question, value)


def validate_answers(questions: Sequence[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise every answer or raise ``AnswersError`` naming each invalid one.

    Unknown question keys are errors too. Cleared answers come back as ``None`` so a caller
    can tell "clear" from "not mentioned"; ``apply_answers`` merges into a snapshot.
    """
    by_key = {q.key: q for q in questions}
    normalised: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for key, value in answers.items():
        question = by_key.get(key)
        if question is None:
            errors.append(AnswerError(key, "Diese Frage gibt es in der Vorlage nicht."))
            continue
        try:
            normalised[key] = validate_answer(question, value)
        except AnswerError as error:
            errors.append(error)
    if errors:
        raise AnswersError(errors)
    return normalised


def apply_answers(
    questions: Sequence[Question], snapshot: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The new full snapshot after validating ``changes`` (``None`` removes an answer)."""
    result = dict(snapshot)
    for key, value in validate_answers(questions, changes).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _validate_text(question: Question, value: Any) -> str:
    if not isinstance(value, str):
        raise AnswerError(question.key, "Bitte geben Sie einen Text ein.")
    text = value.strip()
    if not text:
        raise AnswerError(question.key, "Die Antwort darf nicht leer sein.")
    if len(text) > TEXT_MAX:
        raise AnswerError(question.key, "Die Antwort darf höchstens 2000 Zeichen lang sein.")
    return text


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python, but true/false is not a JSON number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(validation: Mapping[str, Any] | None, name: str) -> float | int | None:
    bound = (validation or {}).get(name)
    return bound if _is_number(bound) else None


def _validate_number(question: Question, value: Any) -> int | float:
    if isinstance(value, str):  # typed text: "1.234,5" or "1234.5"
        parsed = parse_amount_input(value)
        if parsed is None:
            raise AnswerError(question.key, "Bitte geben Sie eine Zahl ein, z. B. 1.234,5.")
        value = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise AnswerError(question.key, "Bitte geben Sie eine Zahl ein.")
    number: int | float = value
    validation = question.validation or {}
    if validation.get("integer") is True:
        if isinstance(number, float) and not number.is_integer():
            raise AnswerError(question.key, "Bitte geben Sie eine ganze Zahl ein.")
        number = int(number)
    _check_range(question, number, _bound(validation, "min"), _bound(validation, "max"))
    return number


def _check_range(question: Question, value: Any, low: Any, high: Any) -> None:
    if low is not None and value < low:
        raise AnswerError(question.key, f"Der Wert muss mindestens {format_number(low)} betragen.")
    if high is not None and value > high:
        raise AnswerError(question.key, f"Der Wert darf höchstens {format_number(high)} betragen.")


def _validate_currency(question: Question, value: Any) -> str:
    negative = (_is_number(value) and value < 0) or (isinstance(value, str) and value.strip().startswith("-"))
    if negative:
        raise AnswerError(question.key, "Der Betrag darf nicht negativ sein.")
    amount = parse_amount_input(value)
    if amount is None:
        raise AnswerError(question.key, "Bitte geben Sie einen Betrag ein, z. B. 3.500,00.")
    if amount >= _AMOUNT_LIMIT:
        raise AnswerError(question.key, "Der Betrag ist zu groß.")
    if amount != amount.quantize(_CENTS):
        raise AnswerError(question.key, "Der Betrag darf höchstens zwei Nachkommastellen haben.")
    validation = question.validation or {}
    _check_range(question, amount, to_amount(validation.get("min")), to_amount(validation.get("max")))
    # "+ 0" turns -0.00 into 0.00.
    return str(amount.quantize(_CENTS) + 0)


def _validate_date(question: Question, value: Any) -> str:
    day = parse_date_input(value)
    if day is None:
        raise AnswerError(question.key, "Bitte geben Sie ein gültiges Datum ein, z. B. 01.04.2027.")
    validation = question.validation or {}
    low, high = parse_date(validation.get("min")), parse_date(validation.get("max"))
    if low is not None and day < low:
        raise AnswerError(question.key, f"Das Datum darf nicht vor dem {format_date(low)} liegen.")
    if high is not None and day > high:
        raise AnswerError(question.key, f"Das Datum darf nicht nach dem {format_date(high)} liegen.")
    return day.isoformat()


def _validate_yes_no(question: Question, value: Any) -> bool:
    if not isinstance(value, bool):
        raise AnswerError(question.key, "Bitte antworten Sie mit Ja oder Nein.")
    return value


def option_values(options: Iterable[Option] | Mapping[str, Any] | None) -> list[str]:
    return [o.value for o in options] if isinstance(options, list) else []


def _validate_single_choice(question: Question, value: Any) -> str:
    if not isinstance(value, str) or value not in option_values(question.options):
        raise AnswerError(question.key, "Bitte wählen Sie eine der angebotenen Antworten.")
    return value


def _validate_multiple_choice(question: Question, value: Any) -> list[str]:
    allowed = option_values(question.options)
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        raise AnswerError(question.key, "Bitte wählen Sie nur aus den angebotenen Antworten.")
    if len(set(value)) != len(value):
        raise AnswerError(question.key, "Jede Antwort darf nur einmal gewählt werden.")
    validation = question.validation or {}
    low, high = _bound(validation, "minItems"), _bound(validation, "maxItems")
    if low is not None and len(value) < low:
        raise AnswerError(question.key, f"Bitte wählen Sie mindestens {_answers(low)}.")
    if high is not None and len(value) > high:
        raise AnswerError(question.key, f"Bitte wählen Sie höchstens {_answers(high)}.")
    chosen = set(value)
    return [v for v in allowed if v in chosen]


def _answers(count: float) -> str:
    return f"{count:g} Antwort" if count == 1 else f"{count:g} Antworten"


_VALIDATORS: dict[str, Callable[[Question, Any], Any]] = {
    "text": _validate_text,
    "number": _validate_number,
    "currency": _validate_currency,
    "date": _validate_date,
    "yes_no": _validate_yes_no,
    "single_choice": _validate_single_choice,
    "multiple_choice": _validate_multiple_choice,
}


# --- conditions ---------------------------------------------------------------------------


def _comparable(question_type: str, value: Any) -> Any:
    """A value in the form the operators compare for this question type; ``None`` if impossible.

    Condition operands are authored JSON (``10``, ``"10"``, ``"2026-04-01"``), answers are
    normalised snapshot values; both go through here so ``10 == "10.00"`` for currency.
    """
    if question_type in ("number", "currency"):
        return to_amount(value)
    if question_type == "date":
        return parse_date(value)
    if question_type == "yes_no":
        return value if isinstance(value, bool) else None
    if question_type == "multiple_choice":
        return frozenset(value) if isinstance(value, list) else None
    return value if isinstance(value, str) else None


def _equals(question_type: str, answer: Any, operand: Any) -> bool:
    left, right = _comparable(question_type, answer), _comparable(question_type, operand)
    return left is not None and right is not None and bool(left == right)


def condition_holds(condition: Condition, effective: Mapping[str, Any], types: Mapping[str, str]) -> bool:
    """Whether ``condition`` is true for the effective answers (``types``: question key → type).

    No effective answer (unanswered, hidden, unknown or later question) ⇒ false for every
    operator, ``not_equals`` included: an unanswered question never triggers anything.
    """
    answer = effective.get(condition.question)
    if answer is None:
        return False
    question_type = types.get(condition.question, "text")
    operand = condition.value
    match condition.operator:
        case "equals":
            return _equals(question_type, answer, operand)
        case "not_equals":
            return not _equals(question_type, answer, operand)
        case "greater_than" | "less_than":
            if question_type not in ("number", "currency", "date"):
                return False
            left, right = _comparable(question_type, answer), _comparable(question_type, operand)
            if left is None or right is None:
                return False
            return bool(left > right) if condition.operator == "greater_than" else bool(left < right)
        case "contains":
            if question_type == "multiple_choice":
                return isinstance(answer, list) and operand in answer
            if isinstance(answer, str) and isinstance(operand, str):
                return operand.casefold() in answer.casefold()
            return False
        case "in":
            return isinstance(operand, list) and any(_equals(question_type, answer, v) for v in operand)
    return False


# --- visibility and progress ----------------------------------------------------------------


@dataclass(frozen=True)
class QuestionState:
    key: str
    question: Question
    visible: bool  # asked: neither hidden nor skipped
    hidden: bool
    skipped: bool
    required: bool  # effective: a hidden or skipped question is never required
    answer: Any  # the stored answer (kept even while hidden)
    effective: Any  # what conditions, rules and the document see; None = no effective answer

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def inactive(self) -> bool:
        """A stored answer the contract does not use: its question is hidden or skipped.

        It stays in the snapshot (it comes back when the question does) but never reaches
        conditions, rules or the document.
        """
        return self.answered and not self.visible

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "visible": self.visible,
            "hidden": self.hidden,
            "skipped": self.skipped,
            "required": self.required,
            "answered": self.answered,
            "inactive": self.inactive,
        }


@dataclass(frozen=True)
class InterviewState:
    questions: tuple[QuestionState, ...]
    effective_answers: Mapping[str, Any] = field(default_factory=dict)  # only keys with a value
    types: Mapping[str, str] = field(default_factory=dict)  # question key → type

    def question(self, key: str) -> QuestionState | None:
        return next((q for q in self.questions if q.key == key), None)

    def effective(self, key: str) -> Any:
        return self.effective_answers.get(key)

    def holds(self, condition: Condition) -> bool:
        return condition_holds(condition, self.effective_answers, self.types)

    @property
    def progress(self) -> float:
        """Answered visible required questions / visible required questions (1.0 when none)."""
        required = [q for q in self.questions if q.visible and q.required]
        if not required:
            return 1.0
        return sum(1 for q in required if q.answered) / len(required)

    def unanswered_required(self) -> list[QuestionState]:
        return [q for q in self.questions if q.visible and q.required and not q.answered]

    def inactive_answers(self) -> list[QuestionState]:
        """Questions whose stored answer is kept but not used (hidden or skipped), in order."""
        return [q for q in self.questions if q.inactive]

    def as_json(self) -> dict[str, Any]:
        return {"questions": [q.as_json() for q in self.questions], "progress": self.progress}


def _default_answer(question: Question) -> Any:
    # An authored default that does not pass the question's own validation is ignored rather
    # than leaking an unnormalised value into conditions and the document.
    try:
        return validate_answer(question, question.default_value)
    except AnswerError:
        return None


def _visibility(question: Question, holds: Callable[[Condition], bool]) -> tuple[bool, bool]:
    """(hidden, skipped): ``show`` needs all true, ``hide`` any true, ``skip`` any true."""
    by_logic: dict[str, list[Condition]] = {"show": [], "hide": [], "skip": []}
    for condition in question.conditions:
        by_logic[condition.logic].append(condition)
    hidden = not all(holds(c) for c in by_logic["show"]) or any(holds(c) for c in by_logic["hide"])
    skipped = not hidden and any(holds(c) for c in by_logic["skip"])
    return hidden, skipped


def evaluate(questions: Sequence[Question], answers: Mapping[str, Any]) -> InterviewState:
    """Visibility, effective answers and progress, evaluated in question order.

    Each question's conditions see only the effective answers of the questions before it,
    which is what makes "conditions reference an earlier question" hold by construction.
    """
    types = {q.key: q.type for q in questions}
    effective: dict[str, Any] = {}
    states: list[QuestionState] = []

    def holds(condition: Condition) -> bool:
        return condition_holds(condition, effective, types)

    for question in questions:
        hidden, skipped = _visibility(question, holds)
        stored = answers.get(question.key)
        if hidden:
            value = None
        elif skipped:
            value = _default_answer(question)
        else:
            value = stored
        if value is not None:
            effective[question.key] = value
        states.append(
            QuestionState(
                key=question.key,
                question=question,
                visible=not hidden and not skipped,
                hidden=hidden,
                skipped=skipped,
                required=question.required and not hidden and not skipped,
                answer=stored,
                effective=value,
            )
        )
    return InterviewState(tuple(states), effective, types)
