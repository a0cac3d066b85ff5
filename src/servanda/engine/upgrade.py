"""Moving a contract onto newer versions: what survives, what changed (pure, no I/O).

An upgrade (or a derived copy) re-pins a contract to the current published
versions. ``carry_over`` decides which answers and slot choices survive: an
answer when its question key and type are unchanged and the value is still
valid, a slot choice when the new structure accepts it. ``clause_changes``
lists added, removed and updated clauses, each update with a word-level
``word_diff``; ``new_violations`` names the violations the move introduces.
Law-firm templates use ``carry_over`` with the same questions on both sides
to check pre-filled answers.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from servanda.engine import assembly, interview
from servanda.engine.rules import Validation
from servanda.engine.shapes import Question, Structure


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """A word-level diff of two clause texts: runs of equal, deleted and inserted words."""
    a, b = old.split(), new.split()
    ops: list[dict[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append({"op": "equal", "text": " ".join(a[i1:i2])})
        if tag in ("delete", "replace"):
            ops.append({"op": "delete", "text": " ".join(a[i1:i2])})
        if tag in ("insert", "replace"):
            ops.append({"op": "insert", "text": " ".join(b[j1:j2])})
    return ops


@dataclass(frozen=True)
class CarryOver:
    """The answers and slot choices that survive a move, and what was dropped."""

    answers: dict[str, Any]
    selected_slots: dict[str, Any]
    dropped_answers: list[str]
    reset_slots: list[str]

    def report_json(self) -> dict[str, list[str]]:
        """The migration report's answer and slot members (sorted keys)."""
        return {
            "migratedAnswers": sorted(self.answers),
            "droppedAnswers": sorted(self.dropped_answers),
            "resetSlots": sorted(self.reset_slots),
        }


def carry_over(
    old_questions: Sequence[Question],
    new_questions: Sequence[Question],
    new_structure: Structure,
    answers: Mapping[str, Any],
    selected_slots: Mapping[str, Any],
) -> CarryOver:
    """Answers survive when the question key and type are unchanged and the value is still valid;
    slot choices when the new structure accepts them (each choice judged on its own)."""
    old_types = {q.key: q.type for q in old_questions}
    new_by_key = {q.key: q for q in new_questions}
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in answers.items():
        question = new_by_key.get(key)
        if question is None or question.type != old_types.get(key):
            dropped.append(key)
            continue
        try:
            kept[key] = interview.validate_answer(question, value)
        except interview.AnswerError:
            dropped.append(key)
    slots_kept: dict[str, Any] = {}
    slots_reset: list[str] = []
    for slot_id, choice in selected_slots.items():
        try:
            assembly.validate_slot_choices(new_structure, {slot_id: choice})
            slots_kept[slot_id] = choice
        except assembly.SlotErrors:
            slots_reset.append(slot_id)
    return CarryOver(kept, slots_kept, dropped, slots_reset)


@dataclass(frozen=True)
class ClauseText:
    """A pinned clause version as the migration report sees it."""

    title: str
    version_id: uuid.UUID
    version_number: int
    content: str


def clause_changes(
    old: Mapping[uuid.UUID, ClauseText], new: Mapping[uuid.UUID, ClauseText]
) -> dict[str, list[dict[str, Any]]]:
    """Clauses (by clause id, in slot order) added, removed, and moved to another version (with a diff)."""
    return {
        "addedClauses": [{"clauseId": str(c), "title": t.title} for c, t in new.items() if c not in old],
        "removedClauses": [{"clauseId": str(c), "title": t.title} for c, t in old.items() if c not in new],
        "updatedClauses": [
            {
                "clauseId": str(c),
                "title": t.title,
                "fromVersion": old[c].version_number,
                "toVersion": t.version_number,
                "diff": word_diff(old[c].content, t.content),
            }
            for c, t in new.items()
            if c in old and old[c].version_id != t.version_id
        ],
    }


def new_violations(before: Validation, after: Validation) -> list[dict[str, Any]]:
    """Violations after the move whose fingerprint was not there before."""
    known = {v.fingerprint for v in before.violations}
    return [v.as_json() for v in after.violations if v.fingerprint not in known]
