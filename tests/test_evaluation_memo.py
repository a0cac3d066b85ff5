"""Evaluations are memoised under their complete input: the same state is evaluated once, any
changed input (answers, a pinned clause's title, a draft pin) is evaluated afresh."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from servanda.content.published import ClauseVersionPin, TemplateRef, TemplateVersionPin
from servanda.contracts.evaluation import evaluate
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import PinnedClause, Pins
from servanda.engine import html


def _pins(status: str = "published", title: str = "Vertraulichkeit") -> Pins:
    clause_id, template_id = uuid.UUID(int=1), uuid.UUID(int=2)
    version = ClauseVersionPin(
        uuid.UUID(int=3), clause_id, 1, status, "Die Frist beträgt {{frist}} Monate.", {}, [], None
    )
    structure = {
        "sections": [
            {
                "id": "s1",
                "title": "Teil",
                "slots": [{"id": "a", "type": "required", "clauseId": str(clause_id)}],
            }
        ]
    }
    interview = [{"key": "frist", "text": "Frist?", "type": "number", "parameterKeys": ["frist"]}]
    return Pins(
        TemplateRef(template_id, "NDA", "DE", uuid.UUID(int=4)),
        TemplateVersionPin(uuid.UUID(int=4), template_id, 1, "published", structure, interview),
        {clause_id: PinnedClause(clause_id, title, version)},
    )


def _contract(answers: dict[str, object]) -> ContractInstance:
    return ContractInstance(
        title="Vertrag",
        client_reference=None,
        jurisdiction="DE",
        answers=answers,
        selected_slots={},
        dismissed_warnings=[],
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_the_same_state_is_evaluated_once() -> None:
    pins = _pins()
    first = evaluate(_contract({"frist": 3}), pins)
    assert evaluate(_contract({"frist": 3}), pins) is first


def test_a_changed_answer_is_evaluated_afresh() -> None:
    pins = _pins()
    three = evaluate(_contract({"frist": 3}), pins)
    four = evaluate(_contract({"frist": 4}), pins)
    assert four is not three
    assert "4 Monate" in html.render(four.document)


def test_a_changed_clause_title_is_evaluated_afresh() -> None:
    before = evaluate(_contract({"frist": 5}), _pins(title="Vertraulichkeit"))
    after = evaluate(_contract({"frist": 5}), _pins(title="Geheimhaltung"))
    assert after is not before


def test_draft_pins_are_not_memoised() -> None:
    pins = _pins(status="draft")
    draft = replace(pins, template_version=replace(pins.template_version, status="draft"))
    first = evaluate(_contract({"frist": 6}), draft)
    assert evaluate(_contract({"frist": 6}), draft) is not first
