"""Property-based tests: incompatible_with symmetry, order independence, missing answers."""

from __future__ import annotations

import random
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from servanda.engine.assembly import assemble
from servanda.engine.interview import condition_holds, evaluate
from servanda.engine.rules import PinnedClause, Validation, validate
from servanda.engine.shapes import Condition, Rule, Structure

from .helpers import cid, question, rule, slot, structure

SEVERITIES = st.sampled_from(["hard", "soft"])
JURISDICTIONS = ["DE", "AT", "CH"]
QUESTIONS = [question("mitarbeiter", "number")]


def run(
    struct: Structure,
    pins: dict[uuid.UUID, PinnedClause],
    selected_slots: dict[str, Any],
    answers: dict[str, Any],
    jurisdiction: str,
) -> Validation:
    state = evaluate(QUESTIONS, answers)
    assembly = assemble(struct, selected_slots, state)
    return validate(
        pinned=pins, structure=struct, selected=assembly.clause_ids, state=state, jurisdiction=jurisdiction
    )


# --- incompatible_with symmetry --------------------------------------------------------------------


@given(
    severity_a=SEVERITIES,
    severity_b=SEVERITIES,
    a_first=st.booleans(),
    slot_types=st.tuples(
        st.sampled_from(["optional", "required"]), st.sampled_from(["optional", "required"])
    ),
)
def test_incompatible_with_is_symmetric(
    severity_a: str, severity_b: str, a_first: bool, slot_types: tuple[str, str]
) -> None:
    slots = [
        slot("a", slot_types[0], selected=True),
        slot("b", slot_types[1], selected=True),
    ]
    struct = structure(("s", slots if a_first else slots[::-1]))
    rule_a = rule("incompatible_with", "b", severity=severity_a, message="Regel von A")
    rule_b = rule("incompatible_with", "a", severity=severity_b, message="Regel von B")

    def single(rules_a: list[Rule], rules_b: list[Rule]) -> Any:
        pins = {
            cid("a"): PinnedClause(cid("a"), "A", tuple(rules_a)),
            cid("b"): PinnedClause(cid("b"), "B", tuple(rules_b)),
        }
        violations = run(struct, pins, {}, {}, "DE").violations
        assert len(violations) == 1
        return violations[0]

    only_a, only_b, both = single([rule_a], []), single([], [rule_b]), single([rule_a], [rule_b])
    for v in (only_a, only_b, both):
        assert v.fingerprint == only_a.fingerprint
        assert v.source_clause_id == (cid("a") if a_first else cid("b"))
        assert v.resolution_options == only_a.resolution_options
    assert only_a.severity == severity_a and only_b.severity == severity_b
    assert both.severity == ("hard" if "hard" in (severity_a, severity_b) else "soft")


# --- order independence ----------------------------------------------------------------------------

KEYS = ["k1", "k2", "k3", "k4", "k5"]


@st.composite
def rule_specs(draw: st.DrawFn) -> Rule:
    kind = draw(st.sampled_from(["requires", "forbids", "incompatible_with", "scoped_to", "requires_answer"]))
    severity = draw(SEVERITIES)
    message = draw(st.sampled_from(["Meldung eins", "Meldung zwei"]))
    if kind == "scoped_to":
        jurisdictions = draw(st.lists(st.sampled_from(JURISDICTIONS), min_size=1, max_size=3, unique=True))
        return rule(kind, severity=severity, message=message, jurisdictions=jurisdictions)
    if kind == "requires_answer":
        condition = {"question": "mitarbeiter", "operator": "greater_than", "value": draw(st.integers(0, 20))}
        return rule(kind, severity=severity, message=message, condition=condition)
    targets = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3))
    return rule(kind, *targets, severity=severity, message=message)


@st.composite
def contracts(draw: st.DrawFn) -> dict[str, Any]:
    slot_types = {k: draw(st.sampled_from(["required", "optional", "optional"])) for k in KEYS[:3]}
    slots = [slot(k, t, selected=draw(st.booleans())) for k, t in slot_types.items()]
    slots.append(slot("alt", "alternative", "k4", "k5"))
    selected_slots: dict[str, Any] = {
        k: draw(st.sampled_from([None, str(cid(k))]))
        for k, t in slot_types.items()
        if t == "optional" and draw(st.booleans())
    }
    selected_slots["alt"] = str(cid(draw(st.sampled_from(["k4", "k5"]))))
    rules = {k: draw(st.lists(rule_specs(), max_size=4)) for k in KEYS}
    return {
        "structure": structure(("s", slots)),
        "rules": rules,
        "selected_slots": selected_slots,
        "answers": draw(st.sampled_from([{}, {"mitarbeiter": 5}, {"mitarbeiter": 15}])),
        "jurisdiction": draw(st.sampled_from(JURISDICTIONS)),
        "seed": draw(st.integers(0, 2**32)),
    }


@settings(max_examples=200)
@given(contract=contracts())
def test_shuffling_clauses_and_rules_does_not_change_the_result(contract: dict[str, Any]) -> None:
    def pins(order: list[str], shuffle: random.Random | None) -> dict[uuid.UUID, PinnedClause]:
        result = {}
        for key in order:
            rules = list(contract["rules"][key])
            if shuffle:
                shuffle.shuffle(rules)
            result[cid(key)] = PinnedClause(cid(key), key, tuple(rules))
        return result

    shuffle = random.Random(contract["seed"])
    shuffled_keys = KEYS[:]
    shuffle.shuffle(shuffled_keys)
    args = (contract["selected_slots"], contract["answers"], contract["jurisdiction"])
    original = run(contract["structure"], pins(KEYS, None), *args)
    shuffled = run(contract["structure"], pins(shuffled_keys, shuffle), *args)
    assert {v.fingerprint for v in original.violations} == {v.fingerprint for v in shuffled.violations}
    assert original == shuffled  # the same violations, wording, options and order
    assert len({v.fingerprint for v in original.violations}) == len(original.violations)


# --- conditions on missing answers ------------------------------------------------------------------

OPERANDS = st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none(), st.just("2026-04-01"))
TYPES = st.sampled_from(["text", "number", "currency", "date", "yes_no", "single_choice", "multiple_choice"])


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    operator = draw(st.sampled_from(["equals", "not_equals", "greater_than", "less_than", "contains", "in"]))
    value = draw(st.lists(OPERANDS, max_size=3)) if operator == "in" else draw(OPERANDS)
    return Condition(question="frage", operator=operator, value=value)


@given(
    condition=conditions(), question_type=TYPES, others=st.dictionaries(st.sampled_from(["a", "b"]), OPERANDS)
)
def test_condition_on_missing_answer_is_always_false(
    condition: Condition, question_type: str, others: dict[str, Any]
) -> None:
    assert condition_holds(condition, others, {"frage": question_type}) is False


@given(condition=conditions(), stored=OPERANDS)
def test_condition_on_hidden_question_is_always_false(condition: Condition, stored: Any) -> None:
    flow = [
        question("schalter", "yes_no"),
        question("frage", conditions=[{"question": "schalter", "operator": "equals", "value": True}]),
    ]
    state = evaluate(flow, {"schalter": False, "frage": stored})
    assert state.holds(condition) is False
