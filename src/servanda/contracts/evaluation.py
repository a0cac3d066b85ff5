"""Contract evaluation: the engine's inputs from a contract's pins, the evaluation, its stored result.

Every read and write evaluates the contract with the pure engine
(``engine.evaluate.evaluate_contract``) from its pins and its snapshot, so the
API, the live preview and the export all see the same document. The services
(``service``, ``lifecycle``, ``lawfirm_templates``) share these functions; none
inherits from another.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content import published
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import Pins
from servanda.engine.document import DocumentMeta, Pin
from servanda.engine.evaluate import ClauseVersion, ContractEvaluation, candidate_texts, evaluate_contract
from servanda.engine.shapes import Parameter, Question, Rule, Structure
from servanda.platform.memo import Memo

RULES = TypeAdapter(list[Rule])
PARAMETERS = TypeAdapter(dict[str, Parameter])
QUESTIONS = TypeAdapter(list[Question])


@dataclass(frozen=True)
class EngineInputs:
    """The parsed template version and pinned clauses, as the engine takes them."""

    structure: Structure
    questions: list[Question]
    clauses: dict[uuid.UUID, ClauseVersion]
    # each question as the contract view shows it (camelCase JSON), dumped once with the parse
    question_json: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Evaluated:
    """A contract with its pins and evaluation: what every contract answer is built from."""

    contract: ContractInstance
    pins: Pins
    questions: list[Question]
    structure: Structure
    evaluation: ContractEvaluation
    latest_template_version: tuple[uuid.UUID, int] | None  # current published version of the template
    question_json: tuple[dict[str, Any], ...]  # ``questions`` as JSON (EngineInputs.question_json)


# Pinned (published or deprecated) versions never change, so their parsed form is
# cached per process, keyed by the exact version ids (a bounded, insertion-ordered cache).
_PARSED: Memo[tuple[uuid.UUID, tuple[uuid.UUID, ...]], EngineInputs] = Memo(512)


def engine_inputs(pins: Pins) -> EngineInputs:
    """The engine's inputs of ``pins`` (cached unless the template version is a draft)."""
    key = (pins.template_version.id, tuple(p.version.id for p in pins.clauses.values()))
    cached = _PARSED.get(key)
    if cached is None or pins.template_version.status == "draft":
        cached = _parse(pins)
        if pins.template_version.status != "draft":
            _PARSED.put(key, cached)
    return cached


def _parse(pins: Pins) -> EngineInputs:
    structure = Structure.model_validate(pins.template_version.structure or {})
    questions = QUESTIONS.validate_python(pins.template_version.interview or [])
    clauses = {
        cid: ClauseVersion(
            cid,
            p.title,
            p.version.content or "",
            PARAMETERS.validate_python(p.version.parameters or {}),
            RULES.validate_python(p.version.rules or []),
            p.version.heading,
        )
        for cid, p in pins.clauses.items()
    }
    question_json = tuple(q.model_dump(mode="json", by_alias=True, exclude_none=True) for q in questions)
    return EngineInputs(structure, questions, clauses, question_json)


def evaluate(
    contract: ContractInstance,
    pins: Pins,
    *,
    answers: dict[str, Any] | None = None,
    selected_slots: dict[str, Any] | None = None,
    dismissed: list[str] | None = None,
) -> ContractEvaluation:
    """Evaluate ``contract`` on ``pins``; ``answers``, ``selected_slots``, ``dismissed`` replace its own."""
    inputs = engine_inputs(pins)
    meta = DocumentMeta(
        title=contract.title,
        client_reference=contract.client_reference,
        date=(contract.completed_at or contract.created_at or datetime.now(UTC)).date(),
        template_title=pins.template.title,
        template_version=pins.template_version.version_number,
        draft=contract.completed_at is None,
        template_version_id=pins.template_version.id,
        pins=tuple(
            Pin(cid, p.title, p.version.version_number, p.version.id) for cid, p in pins.clauses.items()
        ),
    )
    answers = contract.answers if answers is None else answers
    selected_slots = contract.selected_slots if selected_slots is None else selected_slots
    dismissed = contract.dismissed_warnings if dismissed is None else dismissed
    key = _evaluation_key(pins, meta, answers, selected_slots, contract.jurisdiction, dismissed)
    found = _EVALUATIONS.get(key) if key is not None else None
    if found is not None:
        return found
    evaluation = evaluate_contract(
        inputs.structure,
        inputs.questions,
        inputs.clauses,
        answers,
        selected_slots,
        contract.jurisdiction,
        dismissed,
        meta=meta,
    )
    if key is not None:
        _EVALUATIONS.put(key, evaluation)
    return evaluation


# The evaluation is a pure function of its inputs, so an evaluation is memoised per process under
# the complete input: the document meta (which names the template version and every pinned clause
# version with its title, so the published content the engine reads), answers, slot choices,
# jurisdiction and dismissals. No entry ever goes stale (other inputs are another key), so it
# needs no invalidation across processes; nothing mutable is cached. It saves the engine's work
# when the same state is evaluated again: the live preview right after an autosave, a reload, the
# validate call. The engine's results are treated as read-only by every caller. Few entries on
# purpose: every kept evaluation is thousands of objects the garbage collector walks, and with 128
# entries that walk cost autosave (a new state every time) 18 % more CPU than no memo at all.
_EVALUATIONS: Memo[bytes, ContractEvaluation] = Memo(32)


def _evaluation_key(
    pins: Pins,
    meta: DocumentMeta,
    answers: Any,
    selected_slots: Any,
    jurisdiction: str | None,
    dismissed: Any,
) -> bytes | None:
    """The memo key of an evaluation; None (not memoised) for drafts, whose content can change."""
    if pins.template_version.status == "draft" or any(
        p.version.status == "draft" for p in pins.clauses.values()
    ):
        return None
    try:
        return orjson.dumps(
            [meta, answers, selected_slots, jurisdiction, list(dismissed)], option=orjson.OPT_SORT_KEYS
        )
    except TypeError:  # a value orjson cannot write: evaluate without the memo
        return None


def store_validation(contract: ContractInstance, evaluation: ContractEvaluation) -> None:
    """Keep the evaluation's state and messages on the row (list filters and exports read them)."""
    contract.validation_state = evaluation.validation_state
    contract.validation_messages = evaluation.validation.messages_json()


async def evaluated(
    session: AsyncSession,
    contract: ContractInstance,
    pins: Pins,
    evaluation: ContractEvaluation | None = None,
) -> Evaluated:
    """The contract's answer: ``evaluation`` (evaluated here when not given) and the latest template version."""
    inputs = engine_inputs(pins)
    if evaluation is None:
        evaluation = evaluate(contract, pins)
    latest = None
    current = pins.template.current_published_version_id  # the template row loaded with the pins
    if current == pins.template_version.id:
        latest = (current, pins.template_version.version_number)  # pinned to the latest: no query
    elif current is not None:
        number = await published.version_number(session, current)
        latest = (current, number) if number is not None else None
    return Evaluated(
        contract, pins, inputs.questions, inputs.structure, evaluation, latest, inputs.question_json
    )


def candidates(e: Evaluated) -> dict[uuid.UUID, tuple[str, tuple[str, ...]]]:
    """Display heading and paragraphs of every pinned clause with the contract's current answers,
    from the pins already loaded (no query): the text a lawyer reads before choosing a clause."""
    clauses = engine_inputs(e.pins).clauses
    kept = _CANDIDATES.get(id(e.evaluation))
    if kept is not None and kept[0] is e.evaluation and kept[1] is clauses:
        return kept[2]
    texts = candidate_texts(clauses, e.evaluation)
    if e.pins.template_version.status == "draft":
        return texts  # neither inputs nor evaluation are memoised: an entry could never hit again
    # The evaluation and the parsed clauses are kept with the texts, so the id cannot be reused
    # while the entry lives; a memoised evaluation (and cached inputs) hit, anything else misses.
    _CANDIDATES.put(id(e.evaluation), (e.evaluation, clauses, texts))
    return texts


# As many as evaluations are memoised: a kept evaluation's texts are the ones asked for again.
_CANDIDATES: Memo[int, tuple[ContractEvaluation, Any, dict[uuid.UUID, tuple[str, tuple[str, ...]]]]] = Memo(
    _EVALUATIONS.size
)
