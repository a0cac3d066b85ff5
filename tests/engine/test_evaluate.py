"""evaluate_contract: one call bundling interview, assembly, validation and document."""

from __future__ import annotations

import datetime

from servanda.engine.document import DocumentMeta
from servanda.engine.evaluate import ClauseVersion, evaluate_contract
from servanda.engine.shapes import Parameter

from .helpers import cid, question, rule, slot, structure

STRUCT = structure(("s", [slot("a", "required"), slot("alt", "alternative", "b", "c")]))
QUESTIONS = [question("name", required=True, parameterKeys=["name"]), question("frei")]
CLAUSES = {
    cid("a"): ClauseVersion(
        cid("a"),
        "Parteien",
        "Zwischen {{name}}.",
        {"name": Parameter(type="text", label="N", required=True)},
        (rule("requires", "c", severity="soft"),),
    ),
    cid("b"): ClauseVersion(cid("b"), "Variante B", "B."),
}


def test_bundles_everything() -> None:
    evaluation = evaluate_contract(
        STRUCT,
        QUESTIONS,
        CLAUSES,
        {"name": "A GmbH"},
        {},
        "DE",
        meta=DocumentMeta(date=datetime.date(2026, 4, 1)),
    )
    assert evaluation.progress == 1.0
    assert evaluation.assembly.clause_ids == (cid("a"), cid("b"))
    assert evaluation.validation_state == "has_warnings"
    assert [c.heading for c in evaluation.document.clauses()] == ["§ 1 Parteien", "§ 2 Variante B"]
    assert evaluation.can_complete  # soft warnings do not block completion
    data = evaluation.as_json()
    assert set(data) == {"interview", "assembly", "validation", "progress", "completionProblems"}
    assert data["validation"]["state"] == "has_warnings"


def test_completion_problems() -> None:
    evaluation = evaluate_contract(
        STRUCT, QUESTIONS, {cid("a"): CLAUSES[cid("a")]}, {}, {"alt": str(cid("c"))}, "DE"
    )
    codes = [(p.code, p.ref) for p in evaluation.completion_problems()]
    assert codes == [
        ("unanswered_question", "name"),
        ("unfilled_slot", "alt"),  # the chosen alternative has no pinned version
        ("missing_parameter", f"{cid('a')}:name"),
    ]
    assert not evaluation.can_complete


def test_dismissed_soft_warning_makes_the_contract_valid() -> None:
    first = evaluate_contract(STRUCT, QUESTIONS, CLAUSES, {"name": "A"}, {}, "DE")
    [warning] = first.validation.violations
    again = evaluate_contract(STRUCT, QUESTIONS, CLAUSES, {"name": "A"}, {}, "DE", [warning.fingerprint])
    assert again.validation_state == "valid"
