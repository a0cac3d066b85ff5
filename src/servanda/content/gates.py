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

# The one valid placeholder syntax: {{key}} (spaces inside the braces allowed), key as a
# parameter key. Anything that looks like a placeholder in another syntax is refused by the
# placeholder_syntax gate, which says which syntax is valid.
PLACEHOLDER = re.compile(r"{{\s*([a-z][a-z0-9_]{0,99})\s*}}")
VALID_SYNTAX = "{{schluessel}}"
_SUSPECT = re.compile(
    r"\[\[[^\[\]\n]{0,100}\]\]"  # [[key]] (how the preview marks a missing value)
    r"|\$\{[^{}\n]{0,100}\}"  # ${key}
    r"|<<[^<>\n]{0,100}>>"  # <<key>>
    r"|\{\{[^{}\n]{0,100}\}\}"  # {{Key}}, {{mein-key}}, {{ }} (the valid ones are removed first)
    r"|\{[^{}\n]{0,100}\}"  # {key}
    r"|\{\{|\}\}|[{}]"  # a brace left over
)


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


def _key_in(token: str) -> str:
    """The parameter key a wrongly written placeholder most likely means: "[[Gehalt]]" → "gehalt"."""
    inner = re.sub(r"^[\[{<$]+|[\]}>]+$", "", token).strip()
    return re.sub(r"[^a-z0-9_]+", "_", inner.lower()).strip("_")


def invalid_placeholders(content: str) -> list[str]:
    """Every token in ``content`` that looks like a placeholder but is not ``{{key}}``."""
    return [m.group(0) for m in _SUSPECT.finditer(PLACEHOLDER.sub("", content))]


def placeholder_syntax_messages(content: str, parameters: Mapping[str, Parameter]) -> list[str]:
    messages = []
    for token in dict.fromkeys(invalid_placeholders(content)):
        key = _key_in(token)
        if re.fullmatch(r"[a-z][a-z0-9_]{0,99}", key):
            hint = f"gültig ist {{{{{key}}}}}" + (f" (Parameter '{key}')" if key in parameters else "")
        else:
            hint = f"gültig ist nur {VALID_SYNTAX}"
        messages.append(
            f"Platzhalter „{token}“ hat eine ungültige Schreibweise; {hint}: doppelte geschweifte Klammern, "
            "der Schlüssel aus Kleinbuchstaben, Ziffern und Unterstrich."
        )
    return messages


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
    misspelt = {_key_in(token): token for token in invalid_placeholders(content)}
    parameter_messages += [
        f"Parameter '{p}' wird im Text nicht verwendet"
        + (f" (im Text steht „{misspelt[p]}“; gültig ist {{{{{p}}}}})." if p in misspelt else ".")
        for p in sorted(declared - used)
    ]
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
        _gate("placeholder_syntax", placeholder_syntax_messages(content, parameters)),
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
        answer_conditions = [("includeWhen", slot.include_when)] if slot.include_when is not None else []
        answer_conditions += [(f"selectWhen {i + 1}", w.condition) for i, w in enumerate(slot.select_when)]
        for name, slot_condition in answer_conditions:
            target = seen.get(slot_condition.question)
            if target is None:
                condition_messages.append(f"Slot '{slot.id}': {name} verweist auf unbekannte Frage.")
            elif slot_condition.operator not in OPERATORS_BY_TYPE[target.type]:
                condition_messages.append(
                    f"Slot '{slot.id}': Operator passt nicht zum Fragetyp '{target.type}'."
                )
    document_messages = _document_messages(structure, seen)

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
        _gate("document_settings", document_messages),
    ]


# Which question types can feed which part of the parties and signature blocks.
_DOCUMENT_QUESTION_TYPES = {
    "nameQuestion": ("text",),
    "addressQuestion": ("text",),
    "representativeQuestion": ("text",),
    "placeQuestion": ("text", "single_choice"),
    "dateQuestion": ("date",),
}


def _document_messages(structure: Structure, questions: Mapping[str, Question]) -> list[str]:
    """The parties and signature blocks name questions of the flow, of a fitting type."""
    if structure.document is None:
        return []
    messages = []
    for path, key in structure.document.question_keys():
        question = questions.get(key)
        allowed = _DOCUMENT_QUESTION_TYPES[path.rsplit(".", 1)[-1]]
        if question is None:
            messages.append(f"Dokument '{path}': Frage '{key}' gibt es im Fragebogen nicht.")
        elif question.type not in allowed:
            messages.append(
                f"Dokument '{path}': Frage '{key}' hat den Typ '{question.type}', erwartet: {', '.join(allowed)}."
            )
    return messages


def _duplicates(label: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    return [f"{label} '{v}' ist doppelt vergeben." for v in dict.fromkeys(duplicates)]


def failed(results: list[GateResult]) -> list[dict[str, Any]]:
    return [{"gate": r.gate, "messages": r.messages} for r in results if not r.passed]
