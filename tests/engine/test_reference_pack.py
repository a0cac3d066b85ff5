"""The reference Arbeitsvertrag (content-packs.md matrix) through the whole engine."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from servanda.engine.document import DocumentMeta
from servanda.engine.evaluate import ContractEvaluation, evaluate_contract
from servanda.engine.html import render

from .helpers import Pack

PACK = Pack("reference/arbeitsvertrag-matrix.json", "arbeitsvertrag-matrix")
COMPLETE_ANSWERS = {
    "arbeitgeber_name": "Muster GmbH",
    "arbeitgeber_anschrift": "Hauptstraße 1, 80331 München",
    "mitarbeiterzahl": 8,
    "branche": "Handel",
    "arbeitnehmer_name": "Erika Mustermann",
    "arbeitnehmer_anschrift": "Nebenweg 2, 80333 München",
    "taetigkeit": "Kauffrau im Einzelhandel",
    "verguetungsmodell": "pauschal",
    "gehalt": "3500.00",
    "wochenstunden": 40,
    "vertragstyp": "unbefristet",
    "beginn": "2026-04-01",
    "kuendigungsfrist_wochen": 4,
    "gerichtsstand": "München",
}


def evaluate(
    answers: dict[str, Any] | None = None,
    choose: dict[str, bool] | None = None,
    jurisdiction: str = "DE",
    dismissed: tuple[str, ...] = (),
) -> ContractEvaluation:
    """``choose``: clause key → selected (True) or left out (False), through its slot."""
    selected_slots = {PACK.slot_of(k): (str(PACK.ids[k]) if on else None) for k, on in (choose or {}).items()}
    return evaluate_contract(
        PACK.structure,
        PACK.questions,
        PACK.clauses,
        answers if answers is not None else COMPLETE_ANSWERS,
        selected_slots,
        jurisdiction,
        dismissed,
        meta=DocumentMeta(
            "Arbeitsvertrag Mustermann", "M-1", datetime.date(2026, 4, 1), PACK.template_title, 1
        ),
    )


def keys(evaluation: ContractEvaluation, attribute: str = "source_clause_id") -> list[tuple[str, str]]:
    names = {v: k for k, v in PACK.ids.items()}
    return [(v.rule_type, names[getattr(v, attribute)]) for v in evaluation.validation.violations]


def test_defaults_with_complete_answers_are_valid_and_completable() -> None:
    evaluation = evaluate()
    assert evaluation.validation.violations == []
    assert evaluation.validation_state == "valid"
    assert evaluation.progress == 1.0
    assert evaluation.can_complete, evaluation.completion_problems()
    names = {v: k for k, v in PACK.ids.items()}
    assert [names[c] for c in evaluation.assembly.clause_ids] == [
        "c02",
        "c01",
        "c03",
        "c14",
        "c15",
        "c07",
        "c08",
        "c10",
        "c17",
    ]
    headings = [c.heading for c in evaluation.document.clauses()]
    # display headings, not the internal titles ("Präambel (Standard)", "Vergütung (Pauschal)")
    assert headings[:3] == ["§ 1 Vertragsparteien", "§ 2 Tätigkeit", "§ 3 Vergütung"]
    assert "3.500,00 EUR" in evaluation.document.plain_text()
    assert "[[" not in evaluation.document.plain_text()


def test_c03_and_c04_give_the_hard_r01_violation_with_removal_options() -> None:
    evaluation = evaluate(choose={"c04": True})
    [violation] = evaluation.validation.violations
    assert violation.rule_type == "incompatible_with" and violation.severity == "hard"
    assert violation.source_clause_id == PACK.ids["c03"]
    assert violation.target_clause_ids == (PACK.ids["c04"],)
    options = [(o.action, o.clause_id, o.slot_id, o.auto_applicable) for o in violation.resolution_options]
    assert ("remove_clause", PACK.ids["c03"], "verguetung_pauschal", True) in options
    assert ("remove_clause", PACK.ids["c04"], "verguetung_stunde", True) in options
    assert evaluation.validation_state == "has_conflicts"
    assert not evaluation.can_complete
    # Applying an option is a PATCH of selected_slots; afterwards the conflict is gone.
    assert evaluate(choose={"c04": True, "c03": False}).validation.violations == []


def test_all_three_remuneration_clauses_give_r01_r02_r03() -> None:
    evaluation = evaluate(choose={"c04": True, "c05": True})
    pairs = [
        (k, *(PACK.key_of(t) for t in v.target_clause_ids))
        for (_, k), v in zip(keys(evaluation), evaluation.validation.violations, strict=True)
    ]
    assert pairs == [("c03", "c04"), ("c03", "c05"), ("c04", "c05")]


@pytest.mark.parametrize("clause", ["c05", "c09", "c12", "c17"])
def test_jurisdiction_at_triggers_scoped_to_when_selected(clause: str) -> None:
    choose = {clause: True, "c17": clause == "c17"}
    scoped = [k for t, k in keys(evaluate(choose=choose, jurisdiction="AT")) if t == "scoped_to"]
    assert scoped == [clause]
    assert [k for t, k in keys(evaluate(choose=choose, jurisdiction="DE")) if t == "scoped_to"] == []


def test_jurisdiction_at_with_all_four_selected() -> None:
    choose = {"c03": False, "c05": True, "c08": False, "c09": True, "c11": True, "c12": True}
    evaluation = evaluate(choose=choose, jurisdiction="AT")
    scoped = [
        (k, v)
        for (t, k), v in zip(keys(evaluation), evaluation.validation.violations, strict=True)
        if t == "scoped_to"
    ]
    assert [k for k, _ in scoped] == ["c05", "c09", "c12", "c17"]  # document order
    assert all(v.severity == "hard" and v.resolution_options[0].action == "remove_clause" for _, v in scoped)


def test_answer_dependent_rules() -> None:
    answers = {
        **COMPLETE_ANSWERS,
        "mitarbeiterzahl": 11,
        "branche": "IT",
        "vertragstyp": "befristet",
        "befristung_bis": "2027-03-31",
    }
    evaluation = evaluate(answers, choose={"c10": False})
    assert keys(evaluation) == [
        ("requires_answer", "c11"),  # RA01 hard
        ("requires_answer", "c16"),  # RA02 soft
        ("requires_answer", "c10"),  # RA03 soft
    ]
    [ra01, ra02, ra03] = evaluation.validation.violations
    assert ra01.severity == "hard" and ra02.severity == ra03.severity == "soft"
    assert ra01.resolution_options[0].action == "add_clause" and ra01.resolution_options[0].auto_applicable
    dismissed = evaluate(
        answers, choose={"c10": False, "c11": True}, dismissed=(ra02.fingerprint, ra03.fingerprint)
    )
    assert dismissed.validation_state == "valid"


def test_requires_rules_of_the_matrix() -> None:
    evaluation = evaluate(choose={"c15": False, "c12": True, "c06": True, "c08": False, "c07": False})
    assert keys(evaluation) == [("requires", "c14"), ("requires", "c12"), ("requires", "c06")]
    assert [v.severity for v in evaluation.validation.violations] == ["hard", "hard", "soft"]


def test_html_preview_of_the_reference_contract() -> None:
    html = render(evaluate({**COMPLETE_ANSWERS, "arbeitgeber_name": "<script>x</script> GmbH"}).document)
    assert "<strong>&lt;script&gt;x&lt;/script&gt; GmbH</strong>" in html
    assert "<script>" not in html
