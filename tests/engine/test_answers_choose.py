"""Answers choose clauses (issue 11): selectWhen on alternative slots, the override warning,
and the honest validation state ``incomplete``."""

from __future__ import annotations

from typing import Any

import pytest

from servanda.engine.assembly import SlotErrors, assemble, validate_slot_choices
from servanda.engine.evaluate import ClauseVersion, ContractEvaluation, evaluate_contract
from servanda.engine.interview import evaluate
from servanda.engine.rules import Violation, validation_state
from servanda.engine.shapes import Parameter, Structure

from .helpers import cid, options, question, slot, structure


def when(value: str) -> dict[str, Any]:
    return {"question": "modell", "operator": "equals", "value": value}


QUESTIONS = [
    question("modell", "single_choice", options=options("pauschal", "stunde"), required=True),
    question("monate", "number"),
    question("betrag", "currency", required=True, parameterKeys=["betrag"]),
]
STRUCT: Structure = structure(
    (
        "verguetung",
        [
            slot(
                "verguetung",
                "alternative",
                "pauschal",
                "stunde",
                selectWhen=[
                    {"clauseId": str(cid("pauschal")), "condition": when("pauschal")},
                    {"clauseId": str(cid("stunde")), "condition": when("stunde")},
                ],
            ),
            slot("probezeit", includeWhen={"question": "monate", "operator": "greater_than", "value": 0}),
        ],
    )
)
CLAUSES = {
    cid("pauschal"): ClauseVersion(
        cid("pauschal"),
        "Vergütung (Pauschal)",
        "Monatlich {{betrag}}.",
        {"betrag": Parameter(type="currency", label="B", required=True)},
        heading="Vergütung",
    ),
    cid("stunde"): ClauseVersion(cid("stunde"), "Vergütung (Stunde)", "Je Stunde.", heading="Vergütung"),
    cid("probezeit"): ClauseVersion(cid("probezeit"), "Probezeit", "Sechs Monate."),
}


def run(
    answers: dict[str, Any], selected: dict[str, Any] | None = None, dismissed: tuple[str, ...] = ()
) -> ContractEvaluation:
    return evaluate_contract(STRUCT, QUESTIONS, CLAUSES, answers, selected or {}, "DE", dismissed)


def chosen(evaluation: ContractEvaluation) -> list[str]:
    names = {v: k for k, v in ((k, cid(k)) for k in ("pauschal", "stunde", "probezeit"))}
    return [names[c] for c in evaluation.assembly.clause_ids]


def test_the_answers_choose_the_alternative_and_include_when_adds_a_clause() -> None:
    assert chosen(run({})) == ["pauschal"]  # unanswered: the slot's default
    assert chosen(run({"modell": "stunde"})) == ["stunde"]
    assert chosen(run({"modell": "pauschal", "monate": 6})) == ["pauschal", "probezeit"]
    assert chosen(run({"modell": "stunde", "monate": 0})) == ["stunde"]
    slot_choice = run({"modell": "stunde"}).assembly.slot("verguetung")
    assert slot_choice is not None
    assert (slot_choice.source, slot_choice.answer_clause_id, slot_choice.overridden) == (
        "answers",
        cid("stunde"),
        False,
    )
    assert slot_choice.as_json()["answersClauseId"] == str(cid("stunde"))


def test_an_override_against_the_answers_is_a_soft_warning_naming_answer_and_clauses() -> None:
    evaluation = run({"modell": "stunde", "betrag": "10.00"}, {"verguetung": str(cid("pauschal"))})
    assert chosen(evaluation) == ["pauschal"]  # the lawyer's choice stands
    [warning] = evaluation.validation.violations
    assert (warning.rule_type, warning.severity) == ("answer_override", "soft")
    assert (warning.source_clause_id, warning.target_clause_ids) == (cid("pauschal"), (cid("stunde"),))
    assert "„Label stunde“" in warning.message and "„Frage modell?“" in warning.message
    assert (
        "„Vergütung (Stunde)“" in warning.message and "gewählt ist „Vergütung (Pauschal)“" in warning.message
    )
    [option] = warning.resolution_options
    assert (option.action, option.clause_id, option.slot_id, option.auto_applicable) == (
        "replace_clause",
        cid("stunde"),
        "verguetung",
        True,
    )
    assert evaluation.validation_state == "has_warnings"
    # dismissing accepts exactly this disagreement; a changed answer is a new one
    dismissed = run(
        {"modell": "stunde", "betrag": "10.00"}, {"verguetung": str(cid("pauschal"))}, (warning.fingerprint,)
    )
    assert dismissed.validation_state == "valid"


def test_a_choice_that_agrees_with_the_answers_or_no_answer_gives_no_warning() -> None:
    assert (
        run(
            {"modell": "pauschal", "betrag": "1.00"}, {"verguetung": str(cid("pauschal"))}
        ).validation.violations
        == []
    )
    unanswered = run({"betrag": "1.00"}, {"verguetung": str(cid("stunde"))})
    assert unanswered.validation.violations == [] and chosen(unanswered) == ["stunde"]


def test_null_on_an_answer_driven_alternative_returns_to_the_answers() -> None:
    validate_slot_choices(STRUCT, {"verguetung": None})
    assert chosen(run({"modell": "stunde"}, {"verguetung": None})) == ["stunde"]
    plain = structure(("s", [slot("alt", "alternative", "a", "b")]))
    with pytest.raises(SlotErrors):
        validate_slot_choices(plain, {"alt": None})


def test_select_when_belongs_to_alternatives_and_names_their_clauses() -> None:
    with pytest.raises(ValueError, match="selectWhen belongs to alternative slots"):
        structure(("s", [slot("o", selectWhen=[{"clauseId": str(cid("o")), "condition": when("x")}])]))
    with pytest.raises(ValueError, match="not one of the slot's alternatives"):
        structure(
            (
                "s",
                [
                    slot(
                        "alt",
                        "alternative",
                        "a",
                        "b",
                        selectWhen=[{"clauseId": str(cid("z")), "condition": when("x")}],
                    )
                ],
            )
        )


def test_assembly_reports_the_answers_choice_even_while_overridden() -> None:
    assembly = assemble(
        STRUCT, {"verguetung": str(cid("pauschal"))}, evaluate(QUESTIONS, {"modell": "stunde"})
    )
    choice = assembly.slot("verguetung")
    assert choice is not None and choice.overridden and choice.as_json()["overridden"] is True


# --- incomplete ------------------------------------------------------------------------------------


def test_a_new_empty_contract_is_incomplete_not_valid() -> None:
    evaluation = run({})
    assert evaluation.validation.violations == []
    assert evaluation.validation_state == "incomplete"
    assert evaluation.as_json()["validation"]["state"] == "incomplete"


def test_a_required_parameter_without_value_makes_it_incomplete() -> None:
    questions = [question("modell", "single_choice", options=options("pauschal", "stunde"), required=True)]
    evaluation = evaluate_contract(STRUCT, questions, CLAUSES, {"modell": "pauschal"}, {}, "DE")
    assert evaluation.interview.unanswered_required() == []
    assert [m.key for m in evaluation.document.missing_required] == ["betrag"]
    assert evaluation.validation_state == "incomplete"
    assert run({"modell": "pauschal", "betrag": "3500.00"}).validation_state == "valid"


def test_conflicts_outrank_incomplete_which_outranks_warnings() -> None:
    def v(severity: Any) -> Violation:
        return Violation("f", "requires", severity, cid("a"), (), "m", None, False, ())

    assert validation_state([v("hard")], incomplete=True) == "has_conflicts"
    assert validation_state([v("soft")], incomplete=True) == "incomplete"
    assert validation_state([v("soft")], incomplete=False) == "has_warnings"
    assert validation_state([], incomplete=True) == "incomplete"
    # an override warning on an incomplete contract: still incomplete
    assert run({"modell": "stunde"}, {"verguetung": str(cid("pauschal"))}).validation_state == "incomplete"
