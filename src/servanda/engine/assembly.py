"""Assembly: which clauses are in the contract (engine.md "Assembly").

``selected_slots`` maps slot id → chosen clause id (string or UUID), or ``None`` for an
optional slot left out; a slot missing from the mapping was never chosen by the user.
``assemble`` is lenient (a stale or invalid choice falls back to the slot's default) so a
stored contract always renders; ``validate_slot_choices`` is the strict check a write runs.

Answers choose clauses in two ways: an optional slot with ``includeWhen`` is in exactly when
its condition holds (no manual choice), and an alternative slot with ``selectWhen`` takes the
first alternative whose condition holds. A lawyer may still choose another alternative there;
that is an *override* (``SlotChoice.overridden``), which the rules report as a soft warning
naming the answer and the clause. ``None`` on such a slot drops the override again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from servanda.engine.interview import InterviewState
from servanda.engine.shapes import Condition, Section, Slot, Structure

ChoiceSource = Literal["required", "user", "default", "answers"]


class SlotError(Exception):
    """One rejected slot choice; ``message`` is German and meant for the user."""

    def __init__(self, slot_id: str, message: str) -> None:
        super().__init__(f"{slot_id}: {message}")
        self.slot_id = slot_id
        self.message = message

    def as_json(self) -> dict[str, str]:
        return {"slot": self.slot_id, "message": self.message}


class SlotErrors(Exception):
    """Every rejected slot choice of one request (all-or-nothing)."""

    def __init__(self, errors: list[SlotError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors

    def as_json(self) -> list[dict[str, str]]:
        return [e.as_json() for e in self.errors]


@dataclass(frozen=True)
class SlotChoice:
    slot_id: str
    section_id: str
    type: str  # required | optional | alternative
    clause_id: uuid.UUID | None  # the clause this slot puts into the contract; None = left out
    options: tuple[uuid.UUID, ...]  # the clauses the slot can hold
    source: ChoiceSource  # what decided the choice
    editable: bool  # whether the user may choose (not required, not includeWhen)
    answer_clause_id: uuid.UUID | None = None  # what the answers choose (selectWhen), if anything
    answer_condition: Condition | None = None  # the condition that chose it

    @property
    def overridden(self) -> bool:
        """The user chose another alternative than the one the answers call for."""
        return self.source == "user" and self.answer_clause_id not in (None, self.clause_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "slotId": self.slot_id,
            "sectionId": self.section_id,
            "type": self.type,
            "clauseId": str(self.clause_id) if self.clause_id else None,
            "options": [str(c) for c in self.options],
            "source": self.source,
            "editable": self.editable,
            "answersClauseId": str(self.answer_clause_id) if self.answer_clause_id else None,
            "overridden": self.overridden,
        }


@dataclass(frozen=True)
class Assembly:
    clause_ids: tuple[uuid.UUID, ...]  # the selected clauses in document order
    slots: tuple[SlotChoice, ...]  # in document order

    def slot(self, slot_id: str) -> SlotChoice | None:
        return next((s for s in self.slots if s.slot_id == slot_id), None)

    def as_json(self) -> dict[str, Any]:
        return {"clauseIds": [str(c) for c in self.clause_ids], "slots": [s.as_json() for s in self.slots]}


def ordered_sections(structure: Structure) -> list[Section]:
    """Sections by ``order``; equal orders keep their authored sequence (sort is stable)."""
    return sorted(structure.sections, key=lambda section: section.order)


def ordered_slots(structure: Structure) -> list[tuple[Section, Slot]]:
    """Every slot with its section, in document order: section order, then slot order."""
    return [
        (section, slot)
        for section in ordered_sections(structure)
        for slot in sorted(section.slots, key=lambda slot: slot.order)
    ]


def document_positions(structure: Structure) -> dict[uuid.UUID, int]:
    """Clause id → index of the first slot (document order) that can hold it.

    A selected clause's position in the document follows from this, and it also places
    clauses that are not selected (a ``requires_answer`` source) where they would appear.
    """
    positions: dict[uuid.UUID, int] = {}
    for index, (_, slot) in enumerate(ordered_slots(structure)):
        for clause_id in slot.clause_ids():
            positions.setdefault(clause_id, index)
    return positions


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def answer_choice(slot: Slot, state: InterviewState) -> tuple[uuid.UUID, Condition] | None:
    """The alternative the answers choose (first ``selectWhen`` entry that holds), if any."""
    for entry in slot.select_when:
        if state.holds(entry.condition):
            return entry.clause_id, entry.condition
    return None


def _choose(
    slot: Slot, selected_slots: Mapping[str, Any], state: InterviewState
) -> tuple[uuid.UUID | None, ChoiceSource]:
    if slot.type == "required":
        return slot.clause_id, "required"
    chosen = slot.id in selected_slots
    value = _as_uuid(selected_slots.get(slot.id))
    if slot.type == "alternative":
        if chosen and value in slot.clause_ids():
            return value, "user"
        by_answers = answer_choice(slot, state)
        if by_answers is not None:
            return by_answers[0], "answers"
        return slot.clause_id, "default"
    if slot.include_when is not None:
        return (slot.clause_id if state.holds(slot.include_when) else None), "answers"
    if chosen and selected_slots.get(slot.id) is None:
        return None, "user"
    if chosen and value == slot.clause_id:
        return slot.clause_id, "user"
    return (slot.clause_id if slot.default_selected else None), "default"


def assemble(structure: Structure, selected_slots: Mapping[str, Any], state: InterviewState) -> Assembly:
    """The selected clauses in document order and, per slot, its current choice and options."""
    choices: list[SlotChoice] = []
    selected: list[uuid.UUID] = []
    for section, slot in ordered_slots(structure):
        clause_id, source = _choose(slot, selected_slots, state)
        editable = slot.type == "alternative" or (slot.type == "optional" and slot.include_when is None)
        by_answers = answer_choice(slot, state) if slot.select_when else None
        choices.append(
            SlotChoice(
                slot.id,
                section.id,
                slot.type,
                clause_id,
                tuple(slot.clause_ids()),
                source,
                editable,
                by_answers[0] if by_answers else None,
                by_answers[1] if by_answers else None,
            )
        )
        # A clause offered by two slots appears once, at its first place.
        if clause_id is not None and clause_id not in selected:
            selected.append(clause_id)
    return Assembly(tuple(selected), tuple(choices))


def _slot_error(slot: Slot, value: Any) -> str | None:
    clause_id = _as_uuid(value)
    if slot.type == "required":
        if clause_id != slot.clause_id:
            return "Dieser Baustein ist Pflicht und kann weder abgewählt noch ersetzt werden."
        return None
    if slot.type == "alternative":
        if value is None and slot.select_when:
            return None  # back to the answers' choice
        if value is None:
            return "Bei diesem Baustein muss eine der Alternativen gewählt sein."
        if clause_id not in slot.clause_ids():
            return "Die gewählte Klausel gehört nicht zu den Alternativen dieses Bausteins."
        return None
    if slot.include_when is not None:
        return "Dieser Baustein wird anhand der Interview-Antworten aufgenommen; eine manuelle Auswahl ist nicht möglich."
    if value is not None and clause_id != slot.clause_id:
        return "Dieser Baustein kann nur seine eigene Klausel aufnehmen oder leer bleiben."
    return None


def validate_slot_choices(
    structure: Structure, selected_slots: Mapping[str, Any], state: InterviewState | None = None
) -> None:
    """Raise ``SlotErrors`` naming every choice that the slot model rejects (422 in the API).

    Unknown slot → error; a manual choice on an ``includeWhen`` slot → error (whatever the
    answers are, so ``state`` is not needed today; it is accepted for callers that pass it);
    an alternative outside its options, or ``None`` for an alternative → error.
    """
    slots = {slot.id: slot for slot in structure.slots()}
    errors: list[SlotError] = []
    for slot_id, value in selected_slots.items():
        slot = slots.get(slot_id)
        message = (
            "Diesen Baustein gibt es in der Vorlage nicht." if slot is None else _slot_error(slot, value)
        )
        if message is not None:
            errors.append(SlotError(slot_id, message))
    if errors:
        raise SlotErrors(errors)
