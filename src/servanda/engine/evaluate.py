"""One call for the API, the live preview and the export worker: the whole contract evaluation.

interview state → assembly → rule validation → document, all from the pins and the snapshot.
The stored snapshot is trusted to have passed ``interview.validate_answers`` and
``assembly.validate_slot_choices`` on write; evaluation itself is lenient so an old or
upgraded contract still renders.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from servanda.engine import document as doc
from servanda.engine import interview, rules
from servanda.engine.assembly import Assembly, assemble
from servanda.engine.shapes import Parameter, Question, Rule, Structure

ProblemCode = Literal["hard_violation", "unanswered_question", "missing_parameter", "unfilled_slot"]


@dataclass(frozen=True)
class ClauseVersion:
    """A pinned clause version as the engine needs it."""

    clause_id: uuid.UUID
    title: str
    content: str = ""
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    rules: Sequence[Rule] = ()
    heading: str | None = None  # display heading; None: the title


@dataclass(frozen=True)
class CompletionProblem:
    code: ProblemCode
    ref: str  # fingerprint, question key, "clauseId:key" or slot id
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "ref": self.ref, "message": self.message}


@dataclass(frozen=True)
class ContractEvaluation:
    interview: interview.InterviewState
    assembly: Assembly
    validation: rules.Validation
    document: doc.Document
    unfilled_slots: tuple[str, ...] = ()  # slots whose clause has no pinned version

    @property
    def progress(self) -> float:
        return self.interview.progress

    @property
    def incomplete(self) -> bool:
        """A required visible question unanswered, a required parameter without a value, or a
        required slot without a pinned clause."""
        return bool(
            self.interview.unanswered_required() or self.document.missing_required or self.unfilled_slots
        )

    @property
    def validation_state(self) -> rules.ValidationState:
        """has_conflicts > incomplete > has_warnings > valid (engine.md)."""
        return rules.validation_state(self.validation.violations, self.incomplete)

    def completion_problems(self) -> list[CompletionProblem]:
        """Why the contract cannot be completed yet (domain.md "complete"; engine.md placeholders)."""
        problems = [
            CompletionProblem("hard_violation", v.fingerprint, v.message) for v in self.validation.hard
        ]
        problems += [
            CompletionProblem(
                "unanswered_question", q.key, f"Die Frage „{q.question.text}“ ist noch nicht beantwortet."
            )
            for q in self.interview.unanswered_required()
        ]
        problems += [
            CompletionProblem("unfilled_slot", slot_id, "Für diesen Baustein ist keine Klausel verfügbar.")
            for slot_id in self.unfilled_slots
        ]
        problems += [
            CompletionProblem(
                "missing_parameter",
                f"{m.clause_id or 'document'}:{m.key}",
                f"Der Platzhalter [[{m.key}]] hat noch keinen Wert.",
            )
            for m in self.document.missing_required
        ]
        return problems

    @property
    def can_complete(self) -> bool:
        return not self.completion_problems()

    def as_json(self) -> dict[str, Any]:
        return {
            "interview": self.interview.as_json(),
            "assembly": self.assembly.as_json(),
            "validation": {**self.validation.as_json(), "state": self.validation_state},
            "progress": self.progress,
            "completionProblems": [p.as_json() for p in self.completion_problems()],
        }


def candidate_texts(
    clauses: Mapping[uuid.UUID, ClauseVersion], evaluation: ContractEvaluation
) -> dict[uuid.UUID, tuple[str, tuple[str, ...]]]:
    """Display heading and paragraphs of each clause with the evaluation's answers (see
    ``document.candidate_texts``): what a lawyer reads before choosing a slot's clause. The
    selected clauses come from the evaluation's document; only the others are rendered."""
    texts = {
        cid: doc.ClauseText(cid, c.title, c.content, c.parameters, c.heading) for cid, c in clauses.items()
    }
    return doc.candidate_texts(texts, evaluation.interview, evaluation.document)


def evaluate_contract(
    structure: Structure,
    questions: Sequence[Question],
    clauses: Mapping[uuid.UUID, ClauseVersion],
    answers: Mapping[str, Any],
    selected_slots: Mapping[str, Any],
    jurisdiction: str | None,
    dismissed: Collection[str] = (),
    *,
    meta: doc.DocumentMeta | None = None,
) -> ContractEvaluation:
    """Evaluate a contract from its pins (``structure``, ``questions``, ``clauses`` by clause id)
    and its snapshot (``answers``, ``selected_slots``, ``jurisdiction``, ``dismissed``)."""
    state = interview.evaluate(questions, answers)
    assembly = assemble(structure, selected_slots, state)
    index = rules.slot_index(structure)
    pinned = {cid: rules.pin(structure, cid, c.title, c.rules, index) for cid, c in clauses.items()}
    validation = rules.validate(
        pinned=pinned,
        structure=structure,
        selected=assembly.clause_ids,
        state=state,
        jurisdiction=jurisdiction,
        dismissed=dismissed,
        overrides=[s for s in assembly.slots if s.overridden],
    )
    texts = {
        cid: doc.ClauseText(cid, c.title, c.content, c.parameters, c.heading) for cid, c in clauses.items()
    }
    document = doc.build(
        structure=structure, assembly=assembly, clauses=texts, state=state, meta=meta or doc.DocumentMeta()
    )
    unfilled = tuple(
        s.slot_id
        for s in assembly.slots
        if s.type != "optional" and (s.clause_id is None or s.clause_id not in clauses)
    )
    return ContractEvaluation(state, assembly, validation, document, unfilled)
