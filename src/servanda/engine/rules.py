"""Rule validation (engine.md "Rules"): violations, resolution options, validation state.

Phases: scope (``scoped_to``), ``requires_answer``, ``requires``, ``forbids``/``incompatible_with``.
Findings with the same fingerprint are merged (keeping the stricter severity), then sorted
hard before soft, then by the source clause's position in the document; remaining ties by
phase, target positions and fingerprint, so the result does not depend on the order in
which clauses or rules were given.

Fingerprint = sha256 (hex) of the UTF-8 string ``type|source|targets|condition`` where
``source`` is the source clause id (lower-case hyphenated UUID), ``targets`` the target ids
sorted and joined by ``,`` (empty for ``scoped_to``/``requires_answer``), and ``condition``:

- ``requires_answer``: the condition as compact JSON with sorted keys
  (``{"operator":"greater_than","question":"mitarbeiterzahl","value":10}``);
- ``scoped_to``: the rule's jurisdictions, sorted and joined by ``,`` (``AT,DE``);
- ``answer_override``: ``{"answer":…,"question":…,"slot":…}`` as compact JSON with sorted keys;
- otherwise empty.

``answer_override`` is not an authored rule: it is the soft warning when a lawyer chose
another alternative than the one the answers call for (``selectWhen``). Source = the chosen
clause, target = the answers' clause; its one option puts the answers' clause back
(``replace_clause``, auto-applicable). A changed answer gives a new fingerprint, so a
dismissal covers exactly the disagreement the lawyer accepted.

For ``incompatible_with`` the pair is canonical: the source is the clause that comes first
in the document (ties: the smaller id), the target the other one — so "A declares",
"B declares" and "both declare" give the same single violation and fingerprint. A rule
naming several targets yields one ``incompatible_with`` violation per pair; ``forbids`` and
``requires`` yield one violation per rule (``forbids`` lists the offending targets).

Resolution options are what a PATCH of ``selected_slots`` can do: ``add_clause`` /
``replace_clause`` set ``selected_slots[slotId] = clauseId``, ``remove_clause`` sets it to
``null``. Removing a clause of an alternative slot means choosing another alternative, so it
is offered as ``replace_clause`` per other alternative (not auto-applicable). When nothing
can be offered, a German sentence explaining why is appended to the message.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from servanda.engine.assembly import SlotChoice, document_positions, ordered_slots
from servanda.engine.formatting import format_value, option_label
from servanda.engine.interview import InterviewState
from servanda.engine.shapes import (
    ForbidsRule,
    IncompatibleRule,
    RequiresAnswerRule,
    RequiresRule,
    Rule,
    ScopedToRule,
    Severity,
    Slot,
    Structure,
)

# Ranked: has_conflicts > incomplete > has_warnings > valid. The rules alone give
# valid/has_warnings/has_conflicts; ``incomplete`` comes from the interview and the document
# (``contract_state``).
ValidationState = Literal["valid", "has_warnings", "incomplete", "has_conflicts"]
Action = Literal["add_clause", "remove_clause", "replace_clause"]
PHASES = ("scoped_to", "requires_answer", "requires", "forbids", "incompatible_with", "answer_override")
_PHASE = {
    "scoped_to": 0,
    "requires_answer": 1,
    "requires": 2,
    "forbids": 3,
    "incompatible_with": 3,
    "answer_override": 4,
}
_SEVERITY_RANK = {"hard": 0, "soft": 1}
_UNPLACED = 1 << 30  # position of a clause no slot offers: after everything else


@dataclass(frozen=True)
class PinnedClause:
    """What the rule engine needs of a pinned clause version."""

    clause_id: uuid.UUID
    title: str
    rules: Sequence[Rule] = ()
    slot_id: str | None = None  # informational; resolution uses the structure
    slot_type: str | None = None


@dataclass(frozen=True)
class ResolutionOption:
    action: Action
    clause_id: uuid.UUID
    slot_id: str
    label: str
    auto_applicable: bool

    @property
    def option_id(self) -> str:
        """Stable within its violation (the same option gets the same id on every evaluation)."""
        return f"{self.action}:{self.slot_id}:{self.clause_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "optionId": self.option_id,
            "action": self.action,
            "clauseId": str(self.clause_id),
            "slotId": self.slot_id,
            "label": self.label,
            "autoApplicable": self.auto_applicable,
        }


@dataclass(frozen=True)
class Violation:
    fingerprint: str
    rule_type: str
    severity: Severity
    source_clause_id: uuid.UUID
    target_clause_ids: tuple[uuid.UUID, ...]
    message: str
    suggestion: str | None
    dismissed: bool
    resolution_options: tuple[ResolutionOption, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "ruleType": self.rule_type,
            "severity": self.severity,
            "sourceClauseId": str(self.source_clause_id),
            "targetClauseIds": [str(t) for t in self.target_clause_ids],
            "message": self.message,
            "suggestion": self.suggestion,
            "dismissed": self.dismissed,
            "resolutionOptions": [o.as_json() for o in self.resolution_options],
        }


@dataclass(frozen=True)
class Validation:
    violations: list[Violation]
    state: ValidationState

    @classmethod
    def of(cls, violations: list[Violation]) -> Validation:
        return cls(violations, validation_state(violations))

    @property
    def hard(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "hard"]

    def find(self, fingerprint: str) -> Violation | None:
        return next((v for v in self.violations if v.fingerprint == fingerprint), None)

    def messages_json(self) -> list[dict[str, Any]]:
        """The contract's ``validation_messages``."""
        return [v.as_json() for v in self.violations]

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "violations": self.messages_json()}


def validation_state(violations: Iterable[Violation], incomplete: bool = False) -> ValidationState:
    """has_conflicts (any hard) > incomplete > has_warnings (an undismissed soft) > valid."""
    violations = list(violations)
    if any(v.severity == "hard" for v in violations):
        return "has_conflicts"
    if incomplete:
        return "incomplete"
    if any(v.severity == "soft" and not v.dismissed for v in violations):
        return "has_warnings"
    return "valid"


def fingerprint(rule_type: str, source: uuid.UUID, targets: Iterable[uuid.UUID], condition: str = "") -> str:
    payload = f"{rule_type}|{source}|{','.join(sorted(str(t) for t in targets))}|{condition}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- context: where clauses sit in the template ---------------------------------------------


@dataclass(frozen=True)
class _Context:
    pinned: Mapping[uuid.UUID, PinnedClause]
    slots: tuple[Slot, ...]  # document order
    positions: Mapping[uuid.UUID, int]
    selected: frozenset[uuid.UUID]
    supplied_by: Mapping[uuid.UUID, tuple[Slot, ...]]  # clause id -> the slots naming it, in order

    def title(self, clause_id: uuid.UUID) -> str:
        clause = self.pinned.get(clause_id)
        return clause.title if clause else f"Klausel {clause_id}"

    def quoted(self, clause_id: uuid.UUID) -> str:
        return f"„{self.title(clause_id)}“"

    def position(self, clause_id: uuid.UUID) -> int:
        return self.positions.get(clause_id, _UNPLACED)

    def order_key(self, clause_id: uuid.UUID) -> tuple[int, str]:
        return self.position(clause_id), str(clause_id)

    def supplying(self, clause_id: uuid.UUID) -> list[Slot]:
        return list(self.supplied_by.get(clause_id, ()))

    def current(self, slot: Slot) -> uuid.UUID | None:
        return next((c for c in slot.clause_ids() if c in self.selected), None)


# --- findings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    rule_type: str
    severity: Severity
    source: uuid.UUID
    targets: tuple[uuid.UUID, ...]
    condition: str
    message: str
    suggestion: str | None
    declarer: uuid.UUID  # the clause whose rule produced it (differs from source for a mirrored pair)

    @functools.cached_property
    def fingerprint(self) -> str:  # asked for several times per finding (merge, result, dismissals)
        return fingerprint(self.rule_type, self.source, self.targets, self.condition)

    def preference(self) -> tuple[int, bool, str, str]:
        """Lower wins when findings merge: stricter, then the source's own wording, then text."""
        return (
            _SEVERITY_RANK[self.severity],
            self.declarer != self.source,
            self.message,
            self.suggestion or "",
        )


def _finding(
    rule: Rule, source: uuid.UUID, targets: Iterable[uuid.UUID], ctx: _Context, condition: str = ""
) -> _Finding:
    return _Finding(
        rule.type,
        rule.severity,
        source,
        tuple(sorted(set(targets), key=ctx.order_key)),
        condition,
        rule.message,
        rule.suggestion,
        source,
    )


def _rules(ctx: _Context, clause_ids: Iterable[uuid.UUID]) -> Iterator[tuple[uuid.UUID, Rule]]:
    for clause_id in clause_ids:
        clause = ctx.pinned.get(clause_id)
        for rule in clause.rules if clause else ():
            yield clause_id, rule


def _scope(ctx: _Context, jurisdiction: str | None) -> Iterator[_Finding]:
    if jurisdiction is None:  # no contract jurisdiction: nothing to check a scope against
        return
    for source, rule in _rules(ctx, ctx.selected):
        if isinstance(rule, ScopedToRule) and jurisdiction not in rule.jurisdictions:
            yield _finding(rule, source, (), ctx, ",".join(sorted(set(rule.jurisdictions))))


def _condition_key(rule: RequiresAnswerRule) -> str:
    condition = rule.condition.model_dump(mode="json", by_alias=True)
    return json.dumps(condition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _requires_answer(ctx: _Context, state: InterviewState) -> Iterator[_Finding]:
    for source, rule in _rules(ctx, ctx.pinned):
        if (
            isinstance(rule, RequiresAnswerRule)
            and source not in ctx.selected
            and state.holds(rule.condition)
        ):
            yield _finding(rule, source, (), ctx, _condition_key(rule))


def _requires(ctx: _Context) -> Iterator[_Finding]:
    for source, rule in _rules(ctx, ctx.selected):
        if isinstance(rule, RequiresRule) and not ctx.selected.intersection(rule.target_clause_ids):
            yield _finding(rule, source, rule.target_clause_ids, ctx)


def _exclusions(ctx: _Context) -> Iterator[_Finding]:
    for source, rule in _rules(ctx, ctx.selected):
        if isinstance(rule, ForbidsRule):
            present = [t for t in rule.target_clause_ids if t in ctx.selected and t != source]
            if present:
                yield _finding(rule, source, present, ctx)
        elif isinstance(rule, IncompatibleRule):
            for target in rule.target_clause_ids:
                if target in ctx.selected and target != source:
                    first, second = sorted((source, target), key=ctx.order_key)
                    yield replace(_finding(rule, first, (second,), ctx), declarer=source)


def _answer_text(state: InterviewState, key: str) -> tuple[str, str]:
    """(question text, the effective answer as the user chose it) for override messages."""
    question = state.question(key)
    answer = state.effective(key)
    if question is None:
        return key, str(answer)
    q = question.question
    if q.type == "single_choice":
        return q.text, option_label(q.options, answer)
    if q.type == "multiple_choice" and isinstance(answer, list):
        return q.text, ", ".join(option_label(q.options, v) for v in answer)
    return q.text, format_value(q.type, answer, q.options)


def _overrides(ctx: _Context, overrides: Iterable[SlotChoice], state: InterviewState) -> Iterator[_Finding]:
    """A manual alternative against the answers' choice: soft, names the answer and both clauses."""
    for choice in overrides:
        if choice.clause_id is None or choice.answer_clause_id is None or choice.answer_condition is None:
            continue
        condition = choice.answer_condition
        question, answer = _answer_text(state, condition.question)
        key = json.dumps(
            {
                "slot": choice.slot_id,
                "question": condition.question,
                "answer": state.effective(condition.question),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        yield _Finding(
            "answer_override",
            "soft",
            choice.clause_id,
            (choice.answer_clause_id,),
            key,
            f"Die Antwort „{answer}“ auf die Frage „{question}“ spricht für die Klausel "
            f"{ctx.quoted(choice.answer_clause_id)}; gewählt ist {ctx.quoted(choice.clause_id)}.",
            f"Übernehmen Sie {ctx.quoted(choice.answer_clause_id)} oder passen Sie die Antwort an; "
            "wenn die Abweichung gewollt ist, blenden Sie diesen Hinweis aus.",
            choice.clause_id,
        )


def _merge(findings: Iterable[_Finding]) -> list[_Finding]:
    best: dict[str, _Finding] = {}
    for finding in findings:
        key = finding.fingerprint
        if key not in best or finding.preference() < best[key].preference():
            best[key] = finding
    return list(best.values())


# --- resolution options -------------------------------------------------------------------


def _add_options(clause_id: uuid.UUID, ctx: _Context) -> list[ResolutionOption]:
    options: list[ResolutionOption] = []
    for slot in ctx.supplying(clause_id):
        if slot.type == "optional" and slot.include_when is None:
            options.append(
                ResolutionOption("add_clause", clause_id, slot.id, f"{ctx.quoted(clause_id)} aufnehmen", True)
            )
        elif slot.type == "alternative":
            current = ctx.current(slot)
            label = f"{ctx.quoted(clause_id)} wählen"
            if current is not None:
                label = f"{ctx.quoted(clause_id)} statt {ctx.quoted(current)} wählen"
            # Not auto-applicable: it displaces the alternative chosen now.
            options.append(ResolutionOption("add_clause", clause_id, slot.id, label, False))
    return options


def _removal_options(clause_id: uuid.UUID, ctx: _Context) -> list[ResolutionOption]:
    slots = ctx.supplying(clause_id)
    if any(slot.type == "required" for slot in slots):
        return []  # a required slot keeps the clause in whatever else is chosen
    options: list[ResolutionOption] = []
    for slot in slots:
        if slot.type == "optional" and slot.include_when is None:
            options.append(
                ResolutionOption(
                    "remove_clause", clause_id, slot.id, f"{ctx.quoted(clause_id)} entfernen", True
                )
            )
        elif slot.type == "alternative" and ctx.current(slot) == clause_id:
            for other in slot.clause_ids():
                if other != clause_id:
                    label = f"{ctx.quoted(clause_id)} durch {ctx.quoted(other)} ersetzen"
                    options.append(ResolutionOption("replace_clause", other, slot.id, label, False))
    return options


def _why_not(clause_id: uuid.UUID, ctx: _Context, adding: bool) -> str:
    slots = ctx.supplying(clause_id)
    name = ctx.quoted(clause_id)
    if not slots:
        return f"{name} wird von keinem Baustein dieser Vorlage angeboten."
    if any(slot.type == "required" for slot in slots) and not adding:
        return f"{name} ist ein Pflichtbaustein dieser Vorlage und kann nicht entfernt werden."
    return f"{name} wird anhand der Interview-Antworten aufgenommen; passen Sie dazu die Antworten an."


def _resolve(finding: _Finding, ctx: _Context) -> tuple[list[ResolutionOption], str]:
    """The options for a finding, and the explanation to append when there are none."""
    adds: list[uuid.UUID]
    removes: list[uuid.UUID]
    if finding.rule_type == "answer_override":
        # Back to the answers' choice: replacing the manual choice is the whole point, so
        # unlike other replacements it is auto-applicable.
        slot_id = next((s.id for s in ctx.supplying(finding.source) if s.type == "alternative"), None)
        if slot_id is None:
            return [], ""
        (target,) = finding.targets
        label = f"{ctx.quoted(finding.source)} durch {ctx.quoted(target)} ersetzen"
        return [ResolutionOption("replace_clause", target, slot_id, label, True)], ""
    if finding.rule_type == "requires_answer":
        adds, removes = [finding.source], []
    elif finding.rule_type == "requires":
        adds, removes = list(finding.targets), []
    elif finding.rule_type == "scoped_to":
        adds, removes = [], [finding.source]
    elif finding.rule_type == "forbids":
        adds, removes = [], list(finding.targets)
    else:  # incompatible_with: either side may go
        adds, removes = [], [finding.source, *finding.targets]
    options = [o for c in adds for o in _add_options(c, ctx)]
    options += [o for c in removes for o in _removal_options(c, ctx)]
    if options:
        return options, ""
    notes = [_why_not(c, ctx, True) for c in adds] + [_why_not(c, ctx, False) for c in removes]
    return [], " ".join(dict.fromkeys(notes))


# --- entry points ---------------------------------------------------------------------------


def validate(
    *,
    pinned: Mapping[uuid.UUID, PinnedClause],
    structure: Structure,
    selected: Sequence[uuid.UUID],
    state: InterviewState,
    jurisdiction: str | None,
    dismissed: Collection[str] = (),
    overrides: Sequence[SlotChoice] = (),
) -> Validation:
    """All violations of the contract's rules, merged, sorted, with resolution options.

    ``pinned``: every pinned clause (selected or not); ``selected``: the assembly's clause
    ids; ``state``: the interview (its effective answers feed ``requires_answer``);
    ``jurisdiction``: the contract's (``None`` skips the scope phase); ``dismissed``: the
    fingerprints the user accepted (only soft violations are marked dismissed);
    ``overrides``: slot choices where the user overrode the answers (``SlotChoice.overridden``),
    each a soft ``answer_override`` warning.
    """
    slots = tuple(slot for _, slot in ordered_slots(structure))
    supplied_by: dict[uuid.UUID, list[Slot]] = {}
    for slot in slots:
        for clause_id in dict.fromkeys(slot.clause_ids()):
            supplied_by.setdefault(clause_id, []).append(slot)
    ctx = _Context(
        pinned=pinned,
        slots=slots,
        positions=document_positions(structure),
        selected=frozenset(selected),
        supplied_by={clause_id: tuple(found) for clause_id, found in supplied_by.items()},
    )
    findings = [
        *_scope(ctx, jurisdiction),
        *_requires_answer(ctx, state),
        *_requires(ctx),
        *_exclusions(ctx),
        *_overrides(ctx, overrides, state),
    ]
    accepted = set(dismissed)
    violations = []
    for finding in _merge(findings):
        options, note = _resolve(finding, ctx)
        violations.append(
            Violation(
                fingerprint=finding.fingerprint,
                rule_type=finding.rule_type,
                severity=finding.severity,
                source_clause_id=finding.source,
                target_clause_ids=finding.targets,
                message=f"{finding.message} {note}" if note else finding.message,
                suggestion=finding.suggestion,
                dismissed=finding.severity == "soft" and finding.fingerprint in accepted,
                resolution_options=tuple(options),
            )
        )
    violations.sort(
        key=lambda v: (
            _SEVERITY_RANK[v.severity],
            ctx.position(v.source_clause_id),
            _PHASE[v.rule_type],
            tuple(ctx.position(t) for t in v.target_clause_ids),
            v.fingerprint,
        )
    )
    return Validation.of(violations)


class DismissalError(Exception):
    def __init__(self, fingerprint: str, message: str) -> None:
        super().__init__(f"{fingerprint}: {message}")
        self.fingerprint = fingerprint
        self.message = message

    def as_json(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, "message": self.message}


class DismissalErrors(Exception):
    """Dismissals that are refused (422 in the API)."""

    def __init__(self, errors: list[DismissalError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors

    def as_json(self) -> list[dict[str, str]]:
        return [e.as_json() for e in self.errors]


def check_dismissals(validation: Validation, fingerprints: Iterable[str]) -> None:
    """Refuse dismissing a hard violation, or a fingerprint with no current violation."""
    errors = []
    for fp in fingerprints:
        violation = validation.find(fp)
        if violation is None:
            errors.append(DismissalError(fp, "Zu diesem Fingerabdruck gibt es keinen aktuellen Hinweis."))
        elif violation.severity == "hard":
            errors.append(
                DismissalError(fp, "Ein harter Konflikt kann nicht ignoriert werden; er muss behoben werden.")
            )
    if errors:
        raise DismissalErrors(errors)


def active_dismissals(validation: Validation, dismissed: Iterable[str]) -> list[str]:
    """The dismissals that still apply: a dismissal lasts while its soft violation exists."""
    soft = {v.fingerprint for v in validation.violations if v.severity == "soft"}
    return [fp for fp in dict.fromkeys(dismissed) if fp in soft]


def slot_of(structure: Structure, clause_id: uuid.UUID) -> tuple[str | None, str | None]:
    """The first slot (document order) offering ``clause_id``: (slot id, slot type)."""
    for _, slot in ordered_slots(structure):
        if clause_id in slot.clause_ids():
            return slot.id, slot.type
    return None, None


def slot_index(structure: Structure) -> dict[uuid.UUID, tuple[str, str]]:
    """Clause id → (slot id, slot type) of the first slot offering it: ``slot_of`` for all clauses at once."""
    index: dict[uuid.UUID, tuple[str, str]] = {}
    for _, slot in ordered_slots(structure):
        for clause_id in slot.clause_ids():
            index.setdefault(clause_id, (slot.id, slot.type))
    return index


def pin(
    structure: Structure,
    clause_id: uuid.UUID,
    title: str,
    rules: Sequence[Rule],
    index: Mapping[uuid.UUID, tuple[str, str]] | None = None,
) -> PinnedClause:
    """``index`` (from ``slot_index``) avoids a scan of the structure per clause."""
    slot_id, slot_type = (
        index.get(clause_id, (None, None)) if index is not None else slot_of(structure, clause_id)
    )
    return PinnedClause(clause_id, title, tuple(rules), slot_id, slot_type)
