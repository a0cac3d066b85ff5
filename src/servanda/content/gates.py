"""Publishing gates (domain.md): pure checks over a candidate version and the content it refers to.

Each gate yields a result with its stable name, whether it passed, and German
messages naming what is wrong. They run at submit and again at publish, and
``GET .../publishing-gates`` shows them to the editor.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from servanda.engine.shapes import OPERATORS_BY_TYPE, TARGETED_RULES, Parameter, Question, Rule, Structure

PLACEHOLDER = re.compile(r"{{\s*([a-zA-Z0-9_]+)\s*}}")


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClauseInfo:
    """What a gate needs to know of a referenced clause."""

    id: uuid.UUID
    title: str
    published_parameters: dict[str, Parameter] | None  # None: no published version
    published_rules: list[Rule]


def _gate(name: str, messages: list[str]) -> GateResult:
    return GateResult(name, not messages, messages)


def placeholders(content: str) -> set[str]:
    return set(PLACEHOLDER.findall(content))


def clause_gates(
    *,
    clause_id: uuid.UUID,
    title: str,
    content: str,
    parameters: Mapping[str, Parameter],
    rules: list[Rule],
    known: Mapping[uuid.UUID, str],
    published_requires: Mapping[uuid.UUID, set[uuid.UUID]],
) -> list[GateResult]:
    """``known``: clause id → title of every clause the tenant can see; ``published_requires``:
    requires edges of all published clause versions (the candidate's clause excluded)."""
    rule_messages = [
        f"Regel {i + 1}: Meldung fehlt." for i, rule in enumerate(rules) if not rule.message.strip()
    ]
    target_messages: list[str] = []
    for i, rule in enumerate(rules):
        for target in getattr(rule, "target_clause_ids", []) if rule.type in TARGETED_RULES else []:
            if target == clause_id:
                target_messages.append(f"Regel {i + 1} ({rule.type}) verweist auf die Klausel selbst.")
            elif target not in known:
                target_messages.append(
                    f"Regel {i + 1} ({rule.type}) verweist auf eine unbekannte Klausel ({target})."
                )
    used, declared = placeholders(content), set(parameters)
    parameter_messages = [
        f"Platzhalter {{{{{p}}}}} ist nicht als Parameter deklariert." for p in sorted(used - declared)
    ]
    parameter_messages += [f"Parameter '{p}' wird im Text nicht verwendet." for p in sorted(declared - used)]
    edges = {k: set(v) for k, v in published_requires.items()}
    # (a self-reference is reported by rule_targets, not again as a cycle)
    edges[clause_id] = {
        t for r in rules if r.type == "requires" for t in r.target_clause_ids if t != clause_id
    }
    names = {**known, clause_id: title}
    cycle_messages = [
        "Zyklische Abhängigkeit: " + " → ".join(names.get(c, str(c)) for c in cycle)
        for cycle in requires_cycles(edges, start=clause_id)
    ]
    return [
        _gate("rules_complete", rule_messages),
        _gate("rule_targets", target_messages),
        _gate("no_requires_cycle", cycle_messages),
        _gate("parameters_declared", parameter_messages),
    ]


def requires_cycles(edges: Mapping[uuid.UUID, set[uuid.UUID]], start: uuid.UUID) -> list[list[uuid.UUID]]:
    """Every cycle through ``start`` along requires edges, as a closed path (depth-first search)."""
    cycles: list[list[uuid.UUID]] = []

    def visit(node: uuid.UUID, path: list[uuid.UUID]) -> None:
        for target in sorted(edges.get(node, ()), key=str):
            if target == start:
                cycles.append([*path, start])
            elif target not in path:
                visit(target, [*path, target])

    visit(start, [start])
    return cycles


def template_gates(
    *, structure: Structure, interview: list[Question], clauses: Mapping[uuid.UUID, ClauseInfo]
) -> list[GateResult]:
    """``clauses``: every clause a slot names, with its published version (if any)."""
    slots = structure.slots()
    slot_messages: list[str] = []
    for slot in slots:
        for clause_id in slot.clause_ids():
            info = clauses.get(clause_id)
            if info is None:
                slot_messages.append(f"Slot '{slot.id}': Klausel {clause_id} existiert nicht.")
            elif info.published_parameters is None:
                slot_messages.append(
                    f"Slot '{slot.id}': Klausel '{info.title}' hat keine veröffentlichte Fassung."
                )
    alternative_messages = [
        f"Alternativ-Slot '{s.id}' braucht mindestens zwei Klauseln."
        for s in slots
        if s.type == "alternative" and len(set(s.clause_ids())) < 2
    ]
    id_messages = _duplicates("Abschnitts-ID", [s.id for s in structure.sections])
    id_messages += _duplicates("Slot-ID", [s.id for s in slots])
    question_messages = _duplicates("Fragenschlüssel", [q.key for q in interview])

    condition_messages: list[str] = []
    seen: dict[str, Question] = {}
    for question in interview:
        for condition in question.conditions:
            earlier = seen.get(condition.question)
            if earlier is None:
                condition_messages.append(
                    f"Frage '{question.key}': Bedingung auf '{condition.question}', die keine frühere Frage ist."
                )
            elif condition.operator not in OPERATORS_BY_TYPE[earlier.type]:
                condition_messages.append(
                    f"Frage '{question.key}': Operator '{condition.operator}' passt nicht zum Typ "
                    f"'{earlier.type}' der Frage '{earlier.key}'."
                )
        seen.setdefault(question.key, question)
    for slot in slots:
        if slot.include_when is not None:
            target = seen.get(slot.include_when.question)
            if target is None:
                condition_messages.append(f"Slot '{slot.id}': includeWhen verweist auf unbekannte Frage.")
            elif slot.include_when.operator not in OPERATORS_BY_TYPE[target.type]:
                condition_messages.append(
                    f"Slot '{slot.id}': Operator passt nicht zum Fragetyp '{target.type}'."
                )

    fed = {key for q in interview for key in q.parameter_keys}
    parameter_messages: list[str] = []
    answer_messages: list[str] = []
    for clause_id in dict.fromkeys(c for s in slots for c in s.clause_ids()):
        info = clauses.get(clause_id)
        if info is None or info.published_parameters is None:
            continue
        for key, parameter in info.published_parameters.items():
            if key not in fed and parameter.default is None:
                parameter_messages.append(
                    f"Parameter '{key}' der Klausel '{info.title}' wird von keiner Frage befüllt und hat keinen Standardwert."
                )
        for rule in info.published_rules:
            if rule.type == "requires_answer" and rule.condition.question not in seen:
                answer_messages.append(
                    f"Regel der Klausel '{info.title}' fragt nach '{rule.condition.question}', "
                    "das dieser Fragebogen nicht enthält."
                )
    return [
        _gate("slot_clauses_published", slot_messages),
        _gate("alternatives_have_options", alternative_messages),
        _gate("unique_ids", id_messages),
        _gate("unique_question_keys", question_messages),
        _gate("conditions_valid", condition_messages),
        _gate("parameters_fed", parameter_messages),
        _gate("answer_rules_match_interview", answer_messages),
    ]


def _duplicates(label: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    return [f"{label} '{v}' ist doppelt vergeben." for v in dict.fromkeys(duplicates)]


def failed(results: list[GateResult]) -> list[dict[str, Any]]:
    return [{"gate": r.gate, "messages": r.messages} for r in results if not r.passed]
