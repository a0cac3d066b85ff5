"""Content packs without a database: the JSON Schema, the shipped packs, the reference matrix.

The consistency checks are the pack-level publishing gates of domain.md ("Content"),
written as small helpers that return German problem descriptions (empty list = fine),
so they can later move into the import service.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "src" / "servanda" / "content" / "pack_schema.json"
PACKS_DIR = ROOT / "content-packs"
SHIPPED = ("arbeitsvertrag.json", "dienstleistungsvertrag.json", "nda.json")
REFERENCE = "reference/arbeitsvertrag-matrix.json"  # the conflict matrix, for the engine's acceptance tests

Pack = dict[str, Any]

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
PARAMETER_KEY = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMAL = re.compile(r"^\d+(\.\d{1,2})?$")
CHOICE_TYPES = ("single_choice", "multiple_choice")
# engine.md: greater_than/less_than on numbers, currency, dates; contains on text and multiple_choice.
OPERATORS_BY_TYPE = {
    "text": {"equals", "not_equals", "contains", "in"},
    "number": {"equals", "not_equals", "greater_than", "less_than", "in"},
    "currency": {"equals", "not_equals", "greater_than", "less_than", "in"},
    "date": {"equals", "not_equals", "greater_than", "less_than", "in"},
    "yes_no": {"equals", "not_equals"},
    "single_choice": {"equals", "not_equals", "in"},
    "multiple_choice": {"contains"},
}


# --------------------------------------------------------------------------- loading


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    duplicated = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
    if duplicated:
        raise ValueError(f"doppelte JSON-Schlüssel: {duplicated}")
    return dict(pairs)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_reject_duplicate_keys)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_json(SCHEMA_PATH)


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


@pytest.fixture(scope="module", params=(*SHIPPED, REFERENCE))
def pack(request: pytest.FixtureRequest) -> Pack:
    return load_json(PACKS_DIR / request.param)


@pytest.fixture(scope="module")
def reference() -> Pack:
    return load_json(PACKS_DIR / REFERENCE)


@pytest.fixture(scope="module")
def arbeitsvertrag() -> Pack:
    return load_json(PACKS_DIR / "arbeitsvertrag.json")


def schema_errors(validator: Draft202012Validator, pack: Pack) -> list[tuple[str, str]]:
    """(JSON path, message) of every schema violation, e.g. ("clauses/2/rules/0/type", "...")."""
    return sorted(("/".join(str(p) for p in e.absolute_path), e.message) for e in validator.iter_errors(pack))


# --------------------------------------------------------------------------- gate helpers


def duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def slots_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [slot for section in template["structure"] for slot in section["slots"]]


def slot_clauses(slot: dict[str, Any]) -> list[Any]:
    return [slot["clause"], *slot.get("alternatives", [])]


def key_problems(pack: Pack) -> list[str]:
    return [f"Klauselschlüssel {k} ist doppelt." for k in duplicates(c["key"] for c in pack["clauses"])] + [
        f"Vorlagenschlüssel {k} ist doppelt." for k in duplicates(t["key"] for t in pack["templates"])
    ]


def reference_problems(pack: Pack) -> list[str]:
    """Rule targets and slot clauses must name a clause of the pack (or be a {clauseId} reference)."""
    keys = {c["key"] for c in pack["clauses"]}
    problems = []
    for clause in pack["clauses"]:
        for rule in clause.get("rules", []):
            for target in rule.get("targets", []):
                if target == clause["key"]:
                    problems.append(f"{clause['key']}: Regel {rule['type']} verweist auf die Klausel selbst.")
                elif isinstance(target, str) and target not in keys:
                    problems.append(
                        f"{clause['key']}: Regel {rule['type']} verweist auf unbekannte Klausel {target}."
                    )
    for template in pack["templates"]:
        for slot in slots_of(template):
            for ref in slot_clauses(slot):
                if isinstance(ref, str) and ref not in keys:
                    problems.append(f"{template['key']}: Slot {slot['id']} nennt unbekannte Klausel {ref}.")
            for entry in slot.get("selectWhen", []):
                if entry["clause"] not in slot_clauses(slot):
                    problems.append(
                        f"{template['key']}: selectWhen in Slot {slot['id']} nennt {entry['clause']}, "
                        "keine seiner Klauseln."
                    )
    return problems


def placeholder_problems(clause: dict[str, Any]) -> list[str]:
    """Every {{param}} in the content is declared in the clause's parameters, and vice versa."""
    content = clause["content"]
    used = PLACEHOLDER.findall(content)
    declared = set(clause.get("parameters", {}))
    problems = [
        f"{clause['key']}: ungültiger Platzhalter {{{{{u}}}}}." for u in used if not PARAMETER_KEY.match(u)
    ]
    if "{" in PLACEHOLDER.sub("", content) or "}" in PLACEHOLDER.sub("", content):
        problems.append(f"{clause['key']}: unvollständige geschweifte Klammern im Text.")
    problems += [
        f"{clause['key']}: Platzhalter {other} in falscher Schreibweise; gültig ist {{{{schluessel}}}}."
        for other in re.findall(r"\[\[[^\]]*\]\]|<<[^>]*>>|\$\{[^}]*\}", content)
    ]
    valid = {u for u in used if PARAMETER_KEY.match(u)}
    problems += [
        f"{clause['key']}: Platzhalter {{{{{p}}}}} ist nicht deklariert." for p in sorted(valid - declared)
    ]
    problems += [
        f"{clause['key']}: Parameter {p} wird im Text nicht verwendet." for p in sorted(declared - valid)
    ]
    return problems


def jurisdiction_problems(clause: dict[str, Any]) -> list[str]:
    """The covered jurisdictions include the primary one and every scoped_to jurisdiction."""
    covered = set(clause.get("jurisdictions", [clause.get("jurisdiction")]))
    problems = []
    if clause.get("jurisdiction") not in covered:
        problems.append(f"{clause['key']}: primäre Rechtsordnung fehlt in jurisdictions.")
    for rule in clause.get("rules", []):
        if rule["type"] == "scoped_to" and not set(rule["jurisdictions"]) <= covered:
            problems.append(f"{clause['key']}: scoped_to nennt Rechtsordnungen, für die der Text nicht gilt.")
    return problems


def requires_cycles(clauses: list[dict[str, Any]]) -> list[list[str]]:
    """Depth-first search over `requires` edges; every cycle as a path of clause titles."""
    edges = {
        c["key"]: [
            t
            for r in c.get("rules", [])
            if r["type"] == "requires"
            for t in r["targets"]
            if isinstance(t, str)
        ]
        for c in clauses
    }
    titles = {c["key"]: c["title"] for c in clauses}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(key: str, path: list[str]) -> None:
        state[key] = "active"
        for target in edges.get(key, []):
            if state.get(target) == "active":
                cycles.append([titles.get(k, k) for k in [*path[path.index(target) :], target]])
            elif target not in state:
                visit(target, [*path, target])
        state[key] = "done"

    for key in edges:
        if key not in state:
            visit(key, [key])
    return cycles


def value_fits(question: dict[str, Any], value: Any) -> bool:
    qtype = question["type"]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if qtype == "text":
        return isinstance(value, str) and bool(value.strip())
    if qtype == "number":
        return is_number
    if qtype == "currency":
        return (is_number and value >= 0) or (isinstance(value, str) and bool(DECIMAL.match(value)))
    if qtype == "date":
        return isinstance(value, str) and bool(DATE.match(value))
    if qtype == "yes_no":
        return isinstance(value, bool)
    return value in {option["value"] for option in question.get("options") or []}


def condition_problem(condition: dict[str, Any], question: dict[str, Any] | None) -> str | None:
    """None if the condition's operator and value suit the referenced question."""
    if question is None:
        return f"verweist auf keine frühere Frage ({condition['question']})"
    operator, value = condition["operator"], condition["value"]
    if operator not in OPERATORS_BY_TYPE[question["type"]]:
        return f"Operator {operator} passt nicht zum Fragetyp {question['type']}"
    if operator == "in" and not isinstance(value, list):
        return "Operator in braucht eine Liste"
    unfit = [v for v in (value if operator == "in" else [value]) if not value_fits(question, v)]
    if unfit:
        return f"Wert {unfit} passt nicht zur Frage {question['key']}"
    return None


def template_problems(template: dict[str, Any], clauses: list[dict[str, Any]]) -> list[str]:
    """Template gates of domain.md, with clause references resolved by pack key."""
    by_key = {c["key"]: c for c in clauses}
    slots = slots_of(template)
    questions = template["interview"]
    problems = [f"Abschnitts-ID {d} ist doppelt." for d in duplicates(s["id"] for s in template["structure"])]
    problems += [f"Slot-ID {d} ist doppelt." for d in duplicates(s["id"] for s in slots)]
    problems += [f"Fragenschlüssel {d} ist doppelt." for d in duplicates(q["key"] for q in questions)]
    for slot in slots:
        if slot["type"] == "alternative" and len(set(map(str, slot_clauses(slot)))) < 2:
            problems.append(f"Alternativ-Slot {slot['id']} hat weniger als zwei Optionen.")

    earlier: dict[str, dict[str, Any]] = {}
    for question in questions:
        for condition in question.get("conditions", []):
            problem = condition_problem(condition, earlier.get(condition["question"]))
            if problem:
                problems.append(f"Frage {question['key']}: Bedingung {problem}.")
        skipped = any(c["logic"] == "skip" for c in question.get("conditions", []))
        if skipped and question.get("defaultValue") is None:
            problems.append(f"Frage {question['key']}: skip-Bedingung ohne defaultValue.")
        earlier[question["key"]] = question
    flow = earlier

    for slot in slots:
        if "includeWhen" in slot:
            problem = condition_problem(slot["includeWhen"], flow.get(slot["includeWhen"]["question"]))
            if problem:
                problems.append(f"Slot {slot['id']}: includeWhen {problem}.")
        for entry in slot.get("selectWhen", []):
            problem = condition_problem(entry["condition"], flow.get(entry["condition"]["question"]))
            if problem:
                problems.append(f"Slot {slot['id']}: selectWhen {problem}.")
    document = template.get("document", {})
    named = [
        (p["role"], p.get(k))
        for p in document.get("parties", [])
        for k in ("nameQuestion", "addressQuestion", "representativeQuestion")
    ]
    named += [
        ("Unterschrift", document.get("signature", {}).get(k)) for k in ("placeQuestion", "dateQuestion")
    ]
    for role, key in named:
        if key is not None and key not in flow:
            problems.append(f"Dokument ({role}): Frage {key} gibt es nicht.")

    used = [by_key[k] for k in dict.fromkeys(k for s in slots for k in slot_clauses(s)) if k in by_key]
    for clause in used:
        for rule in clause.get("rules", []):
            if rule["type"] == "requires_answer":
                problem = condition_problem(rule["condition"], flow.get(rule["condition"]["question"]))
                if problem:
                    problems.append(f"Klausel {clause['key']}: requires_answer {problem}.")

    feeders: dict[str, list[dict[str, Any]]] = {}
    for question in questions:
        for key in question.get("parameterKeys", []):
            feeders.setdefault(key, []).append(question)
    declared: set[str] = set()
    for clause in used:
        for key, parameter in clause.get("parameters", {}).items():
            declared.add(key)
            fed_by = feeders.get(key, [])
            if not fed_by and parameter.get("default") is None:
                problems.append(
                    f"Parameter {key} ({clause['key']}) wird von keiner Frage befüllt und hat keinen default."
                )
            if len(fed_by) > 1:
                problems.append(f"Parameter {key} wird von mehreren Fragen befüllt.")
            for question in fed_by:
                if question["type"] != parameter["type"]:
                    problems.append(
                        f"Parameter {key} ({parameter['type']}) ≠ Frage {question['key']} ({question['type']})."
                    )
                elif parameter["type"] in CHOICE_TYPES and parameter.get("options") != question.get(
                    "options"
                ):
                    problems.append(f"Parameter {key}: Optionen weichen von Frage {question['key']} ab.")
    problems += [
        f"parameterKeys nennt unbekannten Parameter {key}." for key in sorted(set(feeders) - declared)
    ]
    return problems


def pack_problems(pack: Pack) -> list[str]:
    """All pack-level gates at once."""
    problems = key_problems(pack) + reference_problems(pack)
    for clause in pack["clauses"]:
        problems += placeholder_problems(clause) + jurisdiction_problems(clause)
    problems += [f"requires-Zyklus: {' → '.join(cycle)}" for cycle in requires_cycles(pack["clauses"])]
    for template in pack["templates"]:
        problems += [f"{template['key']}: {p}" for p in template_problems(template, pack["clauses"])]
    used = {k for t in pack["templates"] for s in slots_of(t) for k in slot_clauses(s)}
    problems += [
        f"Klausel {c['key']} wird von keiner Vorlage verwendet."
        for c in pack["clauses"]
        if c["key"] not in used
    ]
    return problems


# --------------------------------------------------------------------------- schema


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format"] == {"const": "servanda-content-pack/1"}
    assert schema["additionalProperties"] is False


def test_shipped_packs_are_present() -> None:
    assert set(SHIPPED) <= {p.name for p in PACKS_DIR.glob("*.json")}


def test_shipped_pack_validates_against_the_schema(validator: Draft202012Validator, pack: Pack) -> None:
    assert schema_errors(validator, pack) == []


def _index(pack: Pack, key: str) -> int:
    return [c["key"] for c in pack["clauses"]].index(key)


def _unknown_property(p: Pack) -> str:
    p["clauses"][0]["titel"] = "Präambel"
    return "clauses/0"


def _bad_rule_type(p: Pack) -> str:
    i = _index(p, "c03")
    p["clauses"][i]["rules"][0]["type"] = "conflicts_with"
    return f"clauses/{i}/rules/0/type"


def _missing_message(p: Pack) -> str:
    i = _index(p, "c03")
    del p["clauses"][i]["rules"][0]["message"]
    return f"clauses/{i}/rules/0"


def _blank_message(p: Pack) -> str:
    i = _index(p, "c03")
    p["clauses"][i]["rules"][0]["message"] = "   "
    return f"clauses/{i}/rules/0/message"


def _in_without_list(p: Pack) -> str:
    i = _index(p, "c10")
    p["clauses"][i]["rules"][0]["condition"]["value"] = "IT"
    return f"clauses/{i}/rules/0/condition/value"


def _alternative_without_alternatives(p: Pack) -> str:
    p["templates"][0]["structure"][1]["slots"][0]["type"] = "alternative"
    return "templates/0/structure/1/slots/0"


def _unknown_question_type(p: Pack) -> str:
    p["templates"][0]["interview"][0]["type"] = "string"
    return "templates/0/interview/0/type"


def _bad_clause_key(p: Pack) -> str:
    p["clauses"][0]["key"] = "C 01"
    return "clauses/0/key"


def _include_when_on_required_slot(p: Pack) -> str:
    p["templates"][0]["structure"][0]["slots"][0]["includeWhen"] = {
        "question": "branche",
        "operator": "equals",
        "value": "IT",
    }
    return "templates/0/structure/0/slots/0/includeWhen"


def _condition_without_logic(p: Pack) -> str:
    p["templates"][0]["interview"][1]["conditions"] = [
        {"question": "arbeitgeber_name", "operator": "contains", "value": "GmbH"}
    ]
    return "templates/0/interview/1/conditions/0"


def _wrong_default_type(p: Pack) -> str:
    i = _index(p, "c16")
    p["clauses"][i]["parameters"]["probezeit_monate"]["default"] = "sechs"
    return f"clauses/{i}/parameters/probezeit_monate/default"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (_unknown_property, "'titel' was unexpected"),
        (_bad_rule_type, "is not one of"),
        (_missing_message, "'message' is a required property"),
        (_blank_message, "does not match"),
        (_in_without_list, "is not of type 'array'"),
        (_alternative_without_alternatives, "'alternatives' is a required property"),
        (_unknown_question_type, "is not one of"),
        (_bad_clause_key, "does not match"),
        (_include_when_on_required_slot, "should not be valid"),
        (_condition_without_logic, "'logic' is a required property"),
        (_wrong_default_type, "is not valid under any of the given schemas"),
    ],
)
def test_broken_pack_fails_with_a_useful_path(
    validator: Draft202012Validator, reference: Pack, mutate: Callable[[Pack], str], fragment: str
) -> None:
    broken = copy.deepcopy(reference)
    path = mutate(broken)
    errors = schema_errors(validator, broken)
    assert any(p == path and fragment in message for p, message in errors), errors


def test_schema_accepts_external_clause_ids_and_every_rule_type(
    validator: Draft202012Validator, reference: Pack
) -> None:
    pack = copy.deepcopy(reference)
    rules = pack["clauses"][_index(pack, "c03")]["rules"]
    external = {"clauseId": "3f1c2a4e-8b7d-4c6a-9e2f-1a2b3c4d5e6f"}
    rules.append(
        {"type": "forbids", "targets": [external], "severity": "soft", "message": "Nicht zusammen verwenden."}
    )
    rules.append(
        {"type": "requires", "targets": ["c15", external], "severity": "hard", "message": "Bitte ergänzen."}
    )
    pack["templates"][0]["structure"][1]["slots"][0]["clause"] = external
    assert schema_errors(validator, pack) == []
    rules[-1]["targets"] = [{"clauseId": "keine-uuid"}]
    assert [p for p, _ in schema_errors(validator, pack)] == [
        f"clauses/{_index(pack, 'c03')}/rules/3/targets/0/clauseId"
    ]


# --------------------------------------------------------------------------- gates on every shipped pack


def test_keys_are_unique_and_references_resolve(pack: Pack) -> None:
    assert key_problems(pack) == []
    assert reference_problems(pack) == []
    # the shipped packs are self-contained: no {"clauseId": ...} references
    refs = [t for c in pack["clauses"] for r in c["rules"] for t in r.get("targets", [])]
    refs += [k for t in pack["templates"] for s in slots_of(t) for k in slot_clauses(s)]
    assert all(isinstance(ref, str) for ref in refs)


def test_placeholders_match_declared_parameters(pack: Pack) -> None:
    assert [p for c in pack["clauses"] for p in placeholder_problems(c)] == []


def test_jurisdictions_are_consistent(pack: Pack) -> None:
    assert [p for c in pack["clauses"] for p in jurisdiction_problems(c)] == []


def test_requires_rules_have_no_cycle(pack: Pack) -> None:
    assert requires_cycles(pack["clauses"]) == []


def test_templates_pass_the_publishing_gates(pack: Pack) -> None:
    assert [p for t in pack["templates"] for p in template_problems(t, pack["clauses"])] == []


def test_all_gates_pass_and_every_clause_is_offered(pack: Pack) -> None:
    assert pack_problems(pack) == []


@pytest.mark.parametrize("name", [*SHIPPED, REFERENCE])
def test_pack_text_is_german_utf8_and_finished(name: str) -> None:
    raw = (PACKS_DIR / name).read_text(encoding="utf-8")
    assert "\\u00" not in raw, "Umlaute als UTF-8 schreiben, nicht als \\u-Escape"
    assert re.search("[äöüÄÖÜß]", raw)
    assert not re.search(r"lorem|ipsum|todo|tbd|xxx", raw, re.IGNORECASE)
    pack = json.loads(raw)
    for clause in pack["clauses"]:
        assert clause["content"].strip() == clause["content"] and "\n\n\n" not in clause["content"]
        for rule in clause["rules"]:
            assert len(rule["message"]) >= 40 and rule["message"].endswith("."), rule["message"]
            assert rule.get("suggestion", "").endswith("."), f"{clause['key']}: Lösungsvorschlag fehlt"
    for template in pack["templates"]:
        assert all(q["text"].endswith("?") for q in template["interview"])


# --------------------------------------------------------------------------- the helpers catch problems


def _mini_pack(clauses: list[dict[str, Any]], interview: list[dict[str, Any]]) -> Pack:
    slots = [{"id": f"s{i}", "type": "optional", "clause": c["key"]} for i, c in enumerate(clauses)]
    template = {
        "key": "t",
        "title": "T",
        "structure": [{"id": "a", "title": "A", "slots": slots}],
        "interview": interview,
    }
    return {"format": "servanda-content-pack/1", "name": "Test", "clauses": clauses, "templates": [template]}


def _clause(
    key: str, content: str = "Text.", parameters: dict[str, Any] | None = None, rules: list[Any] | None = None
):
    return {
        "key": key,
        "title": key.upper(),
        "content": content,
        "parameters": parameters or {},
        "rules": rules or [],
    }


def _requires(target: str) -> dict[str, Any]:
    return {"type": "requires", "targets": [target], "severity": "hard", "message": "m"}


def test_helpers_report_cycles_as_title_paths() -> None:
    clauses = [
        _clause("a", rules=[_requires("b")]),
        _clause("b", rules=[_requires("c")]),
        _clause("c", rules=[_requires("a")]),
    ]
    assert requires_cycles(clauses) == [["A", "B", "C", "A"]]
    assert requires_cycles([_clause("a", rules=[_requires("b")]), _clause("b")]) == []


def test_helpers_report_placeholder_and_parameter_mismatch() -> None:
    clause = _clause(
        "a", "Frist {{frist}} und {{ Gehalt }}, Rest }}", {"betrag": {"type": "currency", "label": "B"}}
    )
    problems = placeholder_problems(clause)
    assert any("ungültiger Platzhalter" in p for p in problems)
    assert any("unvollständige" in p for p in problems)
    assert any("{{frist}} ist nicht deklariert" in p for p in problems)
    assert any("betrag wird im Text nicht verwendet" in p for p in problems)


def test_helpers_report_bad_conditions_and_unfed_parameters() -> None:
    interview = [
        {
            "key": "erste",
            "text": "?",
            "type": "text",
            "conditions": [{"question": "zweite", "operator": "equals", "value": "x", "logic": "show"}],
        },
        {
            "key": "zweite",
            "text": "?",
            "type": "yes_no",
            "conditions": [{"question": "erste", "operator": "greater_than", "value": 3, "logic": "hide"}],
        },
        {
            "key": "dritte",
            "text": "?",
            "type": "number",
            "conditions": [{"question": "zweite", "operator": "equals", "value": True, "logic": "skip"}],
        },
        {"key": "erste", "text": "?", "type": "text", "parameterKeys": ["unbekannt"]},
    ]
    rules = [
        {
            "type": "requires_answer",
            "condition": {"question": "fehlt", "operator": "equals", "value": 1},
            "severity": "hard",
            "message": "m",
        }
    ]
    pack = _mini_pack([_clause("a", "{{p}}", {"p": {"type": "text", "label": "P"}}, rules)], interview)
    problems = template_problems(pack["templates"][0], pack["clauses"])
    assert any("Frage erste: Bedingung verweist auf keine frühere Frage (zweite)" in p for p in problems)
    assert any("greater_than passt nicht zum Fragetyp text" in p for p in problems)
    assert any("skip-Bedingung ohne defaultValue" in p for p in problems)
    assert any("Fragenschlüssel erste ist doppelt" in p for p in problems)
    assert any("requires_answer verweist auf keine frühere Frage (fehlt)" in p for p in problems)
    assert any("Parameter p (a) wird von keiner Frage befüllt" in p for p in problems)
    assert any("unbekannten Parameter unbekannt" in p for p in problems)


def test_helpers_report_dangling_references_and_short_alternatives() -> None:
    pack = _mini_pack([_clause("a", rules=[_requires("zz"), _requires("a")])], [])
    pack["templates"][0]["structure"][0]["slots"].append(
        {"id": "alt", "type": "alternative", "clause": "a", "alternatives": ["a"]}
    )
    assert reference_problems(pack) == [
        "a: Regel requires verweist auf unbekannte Klausel zz.",
        "a: Regel requires verweist auf die Klausel selbst.",
    ]
    assert "Alternativ-Slot alt hat weniger als zwei Optionen." in template_problems(
        pack["templates"][0], pack["clauses"]
    )


# --------------------------------------------------------------------------- reference matrix: Arbeitsvertrag

DACH = ("DE", "AT", "CH")
MATRIX_CLAUSES = [
    ("c01", "Präambel (Standard)", DACH),
    ("c02", "Vertragsparteien", DACH),
    ("c03", "Vergütung (Pauschal)", DACH),
    ("c04", "Vergütung (Stunde)", DACH),
    ("c05", "Vergütung (Erfolg)", ("DE",)),
    ("c06", "Haftungsausschluss", ("DE", "AT")),
    ("c07", "Haftungsbegrenzung", DACH),
    ("c08", "Gewährleistung (Standard)", DACH),
    ("c09", "Gewährleistung (Erweitert)", ("DE",)),
    ("c10", "Vertraulichkeit", DACH),
    ("c11", "Datenschutz (DSGVO)", ("DE", "AT")),
    ("c12", "Wettbewerbsverbot", ("DE",)),
    ("c13", "Laufzeit (befristet)", DACH),
    ("c14", "Laufzeit (unbefristet)", DACH),
    ("c15", "Kündigungsklausel", DACH),
    ("c16", "Probezeit", ("DE", "AT")),
    ("c17", "Gerichtsstandsvereinbarung (DE)", ("DE",)),
]
# (id, source, type, target clause / scoped jurisdiction, severity)
MATRIX_RULES = [
    ("R01", "c03", "incompatible_with", "c04", "hard"),
    ("R02", "c03", "incompatible_with", "c05", "hard"),
    ("R03", "c04", "incompatible_with", "c05", "hard"),
    ("R04", "c06", "requires", "c08", "soft"),
    ("R05", "c06", "incompatible_with", "c07", "hard"),
    ("R06", "c08", "incompatible_with", "c09", "hard"),
    ("R07", "c09", "requires", "c11", "soft"),
    ("R08", "c12", "requires", "c15", "hard"),
    ("R09", "c13", "incompatible_with", "c14", "hard"),
    ("R10", "c13", "requires", "c15", "soft"),
    ("R11", "c14", "requires", "c15", "hard"),
    ("R12", "c05", "scoped_to", "DE", "hard"),
    ("R13", "c09", "scoped_to", "DE", "hard"),
    ("R14", "c12", "scoped_to", "DE", "hard"),
    ("R15", "c17", "scoped_to", "DE", "hard"),
]
# (id, source, question, operator, value, severity)
MATRIX_ANSWER_RULES = [
    ("RA01", "c11", "mitarbeiterzahl", "greater_than", 10, "hard"),
    ("RA02", "c16", "vertragstyp", "equals", "befristet", "soft"),
    ("RA03", "c10", "branche", "in", ["IT", "Pharma", "Forschung"], "soft"),
]
MATRIX_DEFAULTS = {"c03", "c07", "c08", "c10", "c14", "c15", "c17"}
MATRIX_SECTIONS = [
    {"c01", "c02"},  # Vertragsparteien und Präambel
    {"c03", "c04", "c05"},  # Vergütung
    {"c13", "c14", "c15", "c16"},  # Laufzeit, Probezeit, Kündigung
    {"c06", "c07", "c08", "c09"},  # Haftung und Gewährleistung
    {"c10", "c11", "c12"},  # Vertraulichkeit, Datenschutz, Wettbewerb
    {"c17"},  # Schlussbestimmungen
]


def normalized_rules(pack: Pack) -> list[tuple[str, str, Any, str]]:
    """(source, type, detail, severity); detail = targets, jurisdictions or (question, operator, value)."""
    rules = []
    for clause in pack["clauses"]:
        for rule in clause["rules"]:
            if rule["type"] == "scoped_to":
                detail: Any = tuple(rule["jurisdictions"])
            elif rule["type"] == "requires_answer":
                c = rule["condition"]
                detail = (c["question"], c["operator"], json.dumps(c["value"]))
            else:
                detail = tuple(rule["targets"])
            rules.append((clause["key"], rule["type"], detail, rule["severity"]))
    return sorted(rules, key=repr)


def expected_matrix_rules() -> list[tuple[str, str, Any, str]]:
    rules = [(src, typ, (target,), sev) for _, src, typ, target, sev in MATRIX_RULES]
    rules += [
        (src, "requires_answer", (q, op, json.dumps(v)), sev) for _, src, q, op, v, sev in MATRIX_ANSWER_RULES
    ]
    return sorted(rules, key=repr)


def test_reference_has_exactly_the_matrix_clauses(reference: Pack) -> None:
    actual = [(c["key"], c["title"], tuple(c["jurisdictions"])) for c in reference["clauses"]]
    assert actual == MATRIX_CLAUSES
    assert {c["jurisdiction"] for c in reference["clauses"]} == {"DE"}
    assert {c["legalArea"] for c in reference["clauses"]} == {"Arbeitsrecht"}


def test_reference_has_exactly_the_matrix_rules(reference: Pack) -> None:
    assert normalized_rules(reference) == expected_matrix_rules()


def test_reference_answer_rules_fit_their_questions(reference: Pack) -> None:
    questions = {q["key"]: q for q in reference["templates"][0]["interview"]}
    assert questions["mitarbeiterzahl"]["type"] == "number"
    assert questions["mitarbeiterzahl"]["validation"] == {"min": 0, "max": 1000000, "integer": True}
    assert questions["vertragstyp"]["type"] == "single_choice"
    assert {o["value"] for o in questions["vertragstyp"]["options"]} == {"befristet", "unbefristet"}
    assert questions["branche"]["type"] == "single_choice"
    assert {"IT", "Pharma", "Forschung", "Handel", "Handwerk"} <= {
        o["value"] for o in questions["branche"]["options"]
    }


def test_reference_template_offers_every_clause_in_its_own_slot(reference: Pack) -> None:
    (template,) = reference["templates"]
    assert template["key"] == "arbeitsvertrag-matrix"
    slots = slots_of(template)
    assert sorted(s["clause"] for s in slots) == [key for key, _, _ in MATRIX_CLAUSES]
    assert all("alternatives" not in s and "includeWhen" not in s for s in slots)
    assert {s["clause"] for s in slots if s["type"] == "required"} == {"c01", "c02"}
    assert {s["clause"] for s in slots if s["type"] == "optional"} == {k for k, _, _ in MATRIX_CLAUSES} - {
        "c01",
        "c02",
    }
    assert {s["clause"] for s in slots if s.get("defaultSelected")} == MATRIX_DEFAULTS
    assert [{s["clause"] for s in section["slots"]} for section in template["structure"]] == MATRIX_SECTIONS


def test_reference_interview_asks_the_core_questions(reference: Pack) -> None:
    interview = reference["templates"][0]["interview"]
    types = {q["key"]: q["type"] for q in interview}
    assert {
        "arbeitgeber_name": "text",
        "arbeitnehmer_name": "text",
        "mitarbeiterzahl": "number",
        "vertragstyp": "single_choice",
        "branche": "single_choice",
        "gehalt": "currency",
        "stundenlohn": "currency",
        "beginn": "date",
        "befristung_bis": "date",
        "probezeit_monate": "number",
        "kuendigungsfrist_wochen": "number",
        "gerichtsstand": "text",
    }.items() <= types.items()
    questions = {q["key"]: q for q in interview}
    assert questions["befristung_bis"]["conditions"] == [
        {"question": "vertragstyp", "operator": "equals", "value": "befristet", "logic": "show"}
    ]
    assert questions["stundenlohn"]["conditions"], "Stundenlohn nur beim Stundenmodell fragen"


# --------------------------------------------------------------------------- the other two packs


def _pack(name: str) -> Pack:
    return load_json(PACKS_DIR / name)


def test_nda_links_penalty_duties_purpose_and_definition() -> None:
    nda = _pack("nda.json")
    edges = {
        (c["key"], t)
        for c in nda["clauses"]
        for r in c["rules"]
        if r["type"] == "requires"
        for t in r["targets"]
    }
    assert {
        ("nda-vertragsstrafe", "nda-pflichten"),
        ("nda-pflichten", "nda-zweck"),
        ("nda-pflichten", "nda-definition"),
    } <= edges
    (template,) = nda["templates"]
    types = {s["type"] for s in slots_of(template)}
    assert {"required", "optional"} <= types
    questions = {q["key"]: q for q in template["interview"]}
    assert questions["art"]["type"] == "single_choice"
    assert {o["value"] for o in questions["art"]["options"]} == {"gegenseitig", "einseitig"}
    assert questions["laufzeit_jahre"]["type"] == "number"
    assert questions["vertragsstrafe_betrag"]["type"] == "currency"


def test_dienstleistungsvertrag_uses_alternatives_conditions_and_answer_rules() -> None:
    dl = _pack("dienstleistungsvertrag.json")
    (template,) = dl["templates"]
    slots = {s["id"]: s for s in slots_of(template)}
    for slot_id in ("honorar", "laufzeit", "haftung"):
        assert slots[slot_id]["type"] == "alternative" and len(slots[slot_id]["alternatives"]) >= 2
    titles = {c["key"]: c["title"] for c in dl["clauses"]}
    assert [titles[k] for k in slot_clauses(slots["honorar"])] == [
        "Vergütung (Pauschalhonorar)",
        "Vergütung (Stundenhonorar)",
        "Vergütung (erfolgsabhängig)",
    ]
    assert any(s["type"] == "optional" and "includeWhen" in s for s in slots.values())
    answer_rules = {
        (c["key"], r["condition"]["question"])
        for c in dl["clauses"]
        for r in c["rules"]
        if r["type"] == "requires_answer"
    }
    # a legally meaningful recommendation the answers cannot decide alone: a status check for solo freelancers
    assert ("dl-status", "solo_selbstaendig") in answer_rules
    # the answers choose each alternative and add the data processing clause
    for slot_id, question in (
        ("honorar", "honorarmodell"),
        ("laufzeit", "laufzeitmodell"),
        ("haftung", "haftungsmodell"),
    ):
        driven = slots[slot_id]["selectWhen"]
        assert {w["condition"]["question"] for w in driven} == {question}
        assert {w["clause"] for w in driven} == set(slot_clauses(slots[slot_id]))
    assert slots["auftragsverarbeitung"]["includeWhen"]["question"] == "personenbezogene_daten"
    logics = {c["logic"] for q in template["interview"] for c in q["conditions"]}
    assert logics == {"show", "hide", "skip"}
    skipped = [q for q in template["interview"] if any(c["logic"] == "skip" for c in q["conditions"])]
    assert skipped and all(q.get("defaultValue") is not None for q in skipped)


# --------------------------------------------------------------------------- the shipped Arbeitsvertrag (issue 11)


def _pack_clause(pack: Pack, key: str) -> dict[str, Any]:
    return next(c for c in pack["clauses"] if c["key"] == key)


def test_arbeitsvertrag_covers_section_2_nachwg(arbeitsvertrag: Pack) -> None:
    """§ 2 Abs. 1 Satz 2 NachwG, point by point, in the clauses a contract can select."""
    text = "\n".join(c["content"] for c in arbeitsvertrag["clauses"])
    headings = {c.get("heading") for c in arbeitsvertrag["clauses"]}
    (template,) = arbeitsvertrag["templates"]
    document = template["document"]
    assert [p["role"] for p in document["parties"]] == ["Arbeitgeber", "Arbeitnehmer"]  # Nr. 1
    assert all(p["addressQuestion"] for p in document["parties"])
    assert {
        "Beginn des Arbeitsverhältnisses",  # Nr. 2
        "Beginn und Befristung des Arbeitsverhältnisses",  # Nr. 3
        "Arbeitsort",  # Nr. 4
        "Tätigkeit",  # Nr. 5
        "Probezeit",  # Nr. 6
        "Vergütung",  # Nr. 7
        "Arbeitszeit",  # Nr. 8, 10
        "Urlaub",  # Nr. 11
        "Betriebliche Altersversorgung",  # Nr. 13
        "Beendigung und Kündigung",  # Nr. 14
        "Tarifverträge und Betriebsvereinbarungen",  # Nr. 15
        "Verschwiegenheit",
        "Datenschutz",
        "Nebentätigkeit",
        "Ausschlussfristen",
        "Schlussbestimmungen",
    } <= headings
    for needle in (
        "Fortbildung",
        "Ruhepausen",
        "Ruhezeit",
        "Überstunden",
        "fällig",
        "bargeldlos",
        "Zuschläge",
        "wechselnden Einsatzorten",
    ):
        assert needle in text, needle


def test_arbeitsvertrag_has_no_warranty_or_liability_clauses_of_a_service_contract(
    arbeitsvertrag: Pack,
) -> None:
    titles = " ".join(c["title"] + " " + c.get("heading", "") for c in arbeitsvertrag["clauses"])
    assert "Gewährleistung" not in titles and "Haftung" not in titles


def test_arbeitsvertrag_termination_and_exclusion_clauses_say_what_the_law_requires(
    arbeitsvertrag: Pack,
) -> None:
    for key in ("av-kuendigung-gesetzlich", "av-kuendigung-verlaengert"):
        content = _pack_clause(arbeitsvertrag, key)["content"]
        assert "Schriftform (§ 623 BGB)" in content  # NachwG Nr. 14: written form
        assert "§ 4 KSchG" in content and "drei Wochen" in content  # and the time limit for the action
    exclusion = _pack_clause(arbeitsvertrag, "av-ausschlussfristen")["content"]
    assert "gesetzlichen Mindestlohn" in exclusion  # § 3 MiLoG
    assert "vorsätzlicher oder grob fahrlässiger" in exclusion  # § 309 Nr. 7 BGB
    assert "Textform" in exclusion and "drei Monaten" in exclusion


def test_arbeitsvertrag_answers_choose_the_clauses(arbeitsvertrag: Pack) -> None:
    (template,) = arbeitsvertrag["templates"]
    slots = {s["id"]: s for s in slots_of(template)}
    driven = {
        slot_id: {w["condition"]["question"] for w in slot["selectWhen"]}
        for slot_id, slot in slots.items()
        if slot["type"] == "alternative"
    }
    assert driven == {
        "laufzeit": {"vertragstyp"},
        "arbeitsort": {"arbeitsort_art"},
        "verguetung": {"verguetungsmodell"},
        "kuendigung": {"kuendigungsfrist"},
        "kollektivrecht": {"tarifbindung"},
    }
    assert slots["probezeit"]["includeWhen"] == {
        "question": "probezeit",
        "operator": "not_equals",
        "value": "keine",
    }
    assert slots["wettbewerbsverbot"]["includeWhen"]["question"] == "wettbewerbsverbot"
    closing = [s for s in template["structure"] if s.get("placement") == "closing"]
    assert [s["slots"][0]["clause"] for s in closing] == ["av-ausfertigung"]


def test_every_clause_of_a_shipped_pack_has_a_display_heading() -> None:
    for name in SHIPPED:
        pack = load_json(PACKS_DIR / name)
        unplaced = {
            s["clause"]
            for t in pack["templates"]
            for section in t["structure"]
            if section.get("placement") in ("closing",)
            for s in section["slots"]
        }
        missing = [c["key"] for c in pack["clauses"] if "heading" not in c and c["key"] not in unplaced]
        assert missing == [], name
        assert all(t.get("document", {}).get("parties") for t in pack["templates"]), name


def test_choice_options_carry_the_words_the_sentence_needs(arbeitsvertrag: Pack) -> None:
    gebiet = _pack_clause(arbeitsvertrag, "av-wettbewerbsverbot")["parameters"]["wettbewerbsverbot_gebiet"][
        "options"
    ]
    de = next(o for o in gebiet if o["value"] == "de")
    assert (de["label"], de["insertText"]) == ("Bundesrepublik Deutschland", "der Bundesrepublik Deutschland")
    assert (
        "im Gebiet {{wettbewerbsverbot_gebiet}}"
        in _pack_clause(arbeitsvertrag, "av-wettbewerbsverbot")["content"]
    )


# --------------------------------------------------------------------------- the publishing gates (content/gates.py)


def test_gate_refuses_a_placeholder_in_another_syntax_and_names_the_valid_one() -> None:
    import uuid

    from servanda.content.gates import clause_gates
    from servanda.engine.shapes import Parameter

    def run(content: str) -> dict[str, list[str]]:
        results = clause_gates(
            clause_id=uuid.uuid4(),
            title="T",
            content=content,
            parameters={"gehalt": Parameter(type="currency", label="Gehalt")},
            rules=[],
            known={},
            published_requires={},
        )
        return {r.gate: r.messages for r in results if not r.passed}

    assert run("Gehalt {{gehalt}} und {{ gehalt }}.") == {}
    failed = run("Gehalt [[gehalt]].")
    assert set(failed) == {"placeholder_syntax", "parameters_declared"}
    [syntax] = failed["placeholder_syntax"]
    assert "„[[gehalt]]“" in syntax and "gültig ist {{gehalt}}" in syntax
    assert failed["parameters_declared"] == [
        "Parameter 'gehalt' wird im Text nicht verwendet (im Text steht „[[gehalt]]“; gültig ist {{gehalt}})."
    ]
    for wrong in ("{gehalt}", "${gehalt}", "<<gehalt>>", "{{Gehalt}}", "{{ge-halt}}", "Rest }}"):
        assert "placeholder_syntax" in run(f"Gehalt {{{{gehalt}}}} {wrong}."), wrong


def test_template_gates_check_select_when_and_the_document_settings() -> None:
    import uuid

    from servanda.content.gates import ClauseInfo, template_gates
    from servanda.engine.shapes import Question, Structure

    a, b = uuid.uuid4(), uuid.uuid4()
    structure = Structure.model_validate(
        {
            "sections": [
                {
                    "id": "s",
                    "title": "S",
                    "slots": [
                        {
                            "id": "alt",
                            "type": "alternative",
                            "clauseId": str(a),
                            "alternativeClauseIds": [str(b)],
                            "selectWhen": [
                                {
                                    "clauseId": str(b),
                                    "condition": {"question": "fehlt", "operator": "equals", "value": "x"},
                                }
                            ],
                        }
                    ],
                }
            ],
            "document": {
                "parties": [{"role": "A", "nameQuestion": "name", "addressQuestion": "unbekannt"}],
                "signature": {"dateQuestion": "name"},
            },
        }
    )
    questions = [Question(key="name", text="Name?", type="text")]
    clauses = {c: ClauseInfo(c, "K", {}, []) for c in (a, b)}
    failed = {
        r.gate: r.messages
        for r in template_gates(structure=structure, interview=questions, clauses=clauses)
        if not r.passed
    }
    assert failed["conditions_valid"] == ["Slot 'alt': selectWhen 1 verweist auf unbekannte Frage."]
    assert failed["document_settings"] == [
        "Dokument 'parties.0.addressQuestion': Frage 'unbekannt' gibt es im Fragebogen nicht.",
        "Dokument 'signature.dateQuestion': Frage 'name' hat den Typ 'text', erwartet: date.",
    ]
