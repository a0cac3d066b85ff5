"""Rules: each type, resolution options, phases and order, de-duplication, dismissals, state."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from servanda.engine.assembly import assemble
from servanda.engine.interview import evaluate
from servanda.engine.rules import (
    DismissalErrors,
    PinnedClause,
    Validation,
    Violation,
    active_dismissals,
    check_dismissals,
    fingerprint,
    validate,
    validation_state,
)
from servanda.engine.shapes import Structure

from .helpers import cid, options, pinned, question, rule, slot, structure

QUESTIONS = [
    question("mitarbeiter", "number"),
    question("branche", "single_choice", options=options("IT", "Handel")),
]


def run(
    struct: Structure,
    pins: dict[uuid.UUID, PinnedClause],
    selected_slots: dict[str, Any] | None = None,
    answers: dict[str, Any] | None = None,
    jurisdiction: str | None = "DE",
    dismissed: tuple[str, ...] = (),
) -> Validation:
    state = evaluate(QUESTIONS, answers or {})
    assembly = assemble(struct, selected_slots or {}, state)
    return validate(
        pinned=pins,
        structure=struct,
        selected=assembly.clause_ids,
        state=state,
        jurisdiction=jurisdiction,
        dismissed=dismissed,
    )


def on(key: str) -> dict[str, str]:
    return {key: str(cid(key))}


def options_of(violation: Violation) -> list[tuple[str, uuid.UUID, str, bool]]:
    return [(o.action, o.clause_id, o.slot_id, o.auto_applicable) for o in violation.resolution_options]


# --- scoped_to --------------------------------------------------------------------------------------


def scoped(slot_type: str = "optional") -> tuple[Structure, dict[uuid.UUID, PinnedClause]]:
    struct = structure(("s", [slot("a", slot_type, selected=True)]))
    return struct, pinned(("a", [rule("scoped_to", jurisdictions=["DE", "AT"])]))


def test_scoped_to_inside_jurisdiction_is_fine() -> None:
    struct, pins = scoped()
    assert run(struct, pins, jurisdiction="AT").violations == []


def test_scoped_to_outside_jurisdiction_offers_removal() -> None:
    struct, pins = scoped()
    [violation] = run(struct, pins, jurisdiction="CH").violations
    assert violation.rule_type == "scoped_to" and violation.source_clause_id == cid("a")
    assert violation.target_clause_ids == ()
    assert options_of(violation) == [("remove_clause", cid("a"), "a", True)]


def test_scoped_to_without_jurisdiction_is_not_checked() -> None:
    struct, pins = scoped()
    assert run(struct, pins, jurisdiction=None).violations == []


def test_required_slot_cannot_be_removed_and_the_message_says_so() -> None:
    struct, pins = scoped("required")
    [violation] = run(struct, pins, jurisdiction="CH").violations
    assert violation.resolution_options == ()
    assert violation.message.startswith("scoped_to verletzt")
    assert "Pflichtbaustein" in violation.message


# --- requires_answer ---------------------------------------------------------------------------------

DATENSCHUTZ = pinned(
    (
        "ds",
        [
            rule(
                "requires_answer",
                condition={"question": "mitarbeiter", "operator": "greater_than", "value": 10},
            )
        ],
    )
)
DS_STRUCT = structure(("s", [slot("ds")]))


@pytest.mark.parametrize(
    ("answers", "selected_slots", "expected"),
    [
        ({"mitarbeiter": 11}, {}, 1),
        ({"mitarbeiter": 10}, {}, 0),
        ({}, {}, 0),  # unanswered: the condition is false
        ({"mitarbeiter": 11}, on("ds"), 0),  # source selected
    ],
)
def test_requires_answer(answers: dict[str, Any], selected_slots: dict[str, Any], expected: int) -> None:
    assert len(run(DS_STRUCT, DATENSCHUTZ, selected_slots, answers).violations) == expected


def test_requires_answer_offers_adding_the_source() -> None:
    [violation] = run(DS_STRUCT, DATENSCHUTZ, answers={"mitarbeiter": 50}).violations
    assert options_of(violation) == [("add_clause", cid("ds"), "ds", True)]


def test_requires_answer_source_in_include_when_slot_has_no_option() -> None:
    struct = structure(
        ("s", [slot("ds", includeWhen={"question": "branche", "operator": "equals", "value": "IT"})])
    )
    [violation] = run(struct, DATENSCHUTZ, answers={"mitarbeiter": 50}).violations
    assert violation.resolution_options == ()
    assert "Interview-Antworten" in violation.message


# --- requires ---------------------------------------------------------------------------------------


def test_requires_is_met_by_any_target() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True), slot("b"), slot("c", defaultSelected=True)]))
    pins = pinned(("a", [rule("requires", "b", "c")]))
    assert run(struct, pins).violations == []


def test_requires_offers_each_target_a_slot_can_supply() -> None:
    struct = structure(
        ("s", [slot("a", defaultSelected=True), slot("b"), slot("alt", "alternative", "x", "c")]),
    )
    pins = pinned(("a", [rule("requires", "b", "c", "nirgends")]), ("c", []), ("x", []))
    [violation] = run(struct, pins).violations
    assert set(violation.target_clause_ids) == {cid("b"), cid("c"), cid("nirgends")}
    assert options_of(violation) == [
        ("add_clause", cid("b"), "b", True),
        ("add_clause", cid("c"), "alt", False),  # displaces the chosen alternative
    ]
    assert "„Klausel c“ statt „Klausel x“ wählen" in violation.resolution_options[1].label


def test_requires_target_no_slot_supplies_has_no_option() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True)]))
    [violation] = run(struct, pinned(("a", [rule("requires", "fremd")]))).violations
    assert violation.resolution_options == ()
    assert "von keinem Baustein" in violation.message


def test_requires_is_only_checked_for_selected_sources() -> None:
    struct = structure(("s", [slot("a"), slot("b")]))
    assert run(struct, pinned(("a", [rule("requires", "b")]))).violations == []


# --- forbids ----------------------------------------------------------------------------------------


def test_forbids_offers_removing_the_target() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True), slot("b", defaultSelected=True), slot("c")]))
    [violation] = run(struct, pinned(("a", [rule("forbids", "b", "c")]))).violations
    assert violation.target_clause_ids == (cid("b"),)  # only the offending target
    assert options_of(violation) == [("remove_clause", cid("b"), "b", True)]


def test_forbids_target_in_alternative_slot_offers_other_alternatives() -> None:
    struct = structure(("s", [slot("a", "required"), slot("alt", "alternative", "b", "c", "d")]))
    [violation] = run(struct, pinned(("a", [rule("forbids", "b")]))).violations
    assert options_of(violation) == [
        ("replace_clause", cid("c"), "alt", False),
        ("replace_clause", cid("d"), "alt", False),
    ]


def test_forbids_nothing_when_target_absent() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True), slot("b")]))
    assert run(struct, pinned(("a", [rule("forbids", "b")]))).violations == []


# --- incompatible_with ------------------------------------------------------------------------------

PAIR = structure(("s", [slot("a", defaultSelected=True), slot("b", defaultSelected=True)]))


def test_incompatible_offers_removing_either_side() -> None:
    [violation] = run(PAIR, pinned(("a", [rule("incompatible_with", "b")]))).violations
    assert violation.source_clause_id == cid("a") and violation.target_clause_ids == (cid("b"),)
    assert options_of(violation) == [
        ("remove_clause", cid("a"), "a", True),
        ("remove_clause", cid("b"), "b", True),
    ]


def test_incompatible_declared_by_later_clause_has_earlier_clause_as_source() -> None:
    [violation] = run(PAIR, pinned(("b", [rule("incompatible_with", "a")]))).violations
    assert violation.source_clause_id == cid("a") and violation.target_clause_ids == (cid("b"),)


@pytest.mark.parametrize(
    ("sev_a", "sev_b", "expected"),
    [
        ("hard", "soft", "hard"),
        ("soft", "hard", "hard"),
        ("soft", "soft", "soft"),
        ("hard", "hard", "hard"),
    ],
)
def test_incompatible_declared_by_both_is_one_violation_with_stricter_severity(
    sev_a: str, sev_b: str, expected: str
) -> None:
    pins = pinned(
        ("a", [rule("incompatible_with", "b", severity=sev_a, message="von a")]),
        ("b", [rule("incompatible_with", "a", severity=sev_b, message="von b")]),
    )
    [violation] = run(PAIR, pins).violations
    assert violation.severity == expected
    # The wording comes from the stricter rule; on a tie from the source's own rule.
    assert violation.message == ("von b" if (sev_a, sev_b) == ("soft", "hard") else "von a")


def test_incompatible_with_several_targets_gives_one_violation_per_pair() -> None:
    struct = structure(("s", [slot(k, defaultSelected=True) for k in "abc"]))
    violations = run(struct, pinned(("a", [rule("incompatible_with", "b", "c")]))).violations
    assert [v.target_clause_ids for v in violations] == [(cid("b"),), (cid("c"),)]


def test_incompatible_in_alternative_slot_offers_replacement() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True), slot("alt", "alternative", "b", "c")]))
    [violation] = run(struct, pinned(("a", [rule("incompatible_with", "b")]))).violations
    assert options_of(violation) == [
        ("remove_clause", cid("a"), "a", True),
        ("replace_clause", cid("c"), "alt", False),
    ]


def test_self_references_are_ignored() -> None:
    struct = structure(("s", [slot("a", defaultSelected=True)]))
    pins = pinned(("a", [rule("incompatible_with", "a"), rule("forbids", "a"), rule("requires", "a")]))
    assert run(struct, pins).violations == []


# --- phases, order, fingerprints --------------------------------------------------------------------


def test_hard_before_soft_then_document_position() -> None:
    struct = structure(
        ("eins", [slot("a", defaultSelected=True), slot("b", defaultSelected=True)]),
        ("zwei", [slot("c", defaultSelected=True), slot("d"), slot("ds")]),
    )
    pins = {
        **pinned(
            (
                "c",
                [
                    rule("requires", "d", severity="hard"),
                    rule("scoped_to", jurisdictions=["AT"], severity="soft"),
                ],
            ),
            ("b", [rule("scoped_to", jurisdictions=["AT"], severity="hard")]),
            ("a", [rule("requires", "d", severity="soft")]),
        ),
        **DATENSCHUTZ,
    }
    violations = run(struct, pins, answers={"mitarbeiter": 20}).violations
    summary = [(v.severity, v.rule_type, v.source_clause_id) for v in violations]
    assert summary == [
        ("hard", "scoped_to", cid("b")),
        ("hard", "requires", cid("c")),
        ("hard", "requires_answer", cid("ds")),
        ("soft", "requires", cid("a")),
        ("soft", "scoped_to", cid("c")),
    ]


def test_same_clause_phases_in_order_scope_answer_requires_exclusions() -> None:
    struct = structure(("s", [slot("a", "required"), slot("b", defaultSelected=True), slot("z")]))
    pins = pinned(
        ("a", [rule("forbids", "b"), rule("requires", "z"), rule("scoped_to", jurisdictions=["AT"])]),
    )
    assert [v.rule_type for v in run(struct, pins).violations] == ["scoped_to", "requires", "forbids"]


def test_fingerprint_string() -> None:
    source, b, a = cid("s"), cid("b"), cid("a")
    first, second = sorted([str(a), str(b)])
    expected = hashlib.sha256(f"requires|{source}|{first},{second}|".encode()).hexdigest()
    assert fingerprint("requires", source, [b, a]) == expected


def test_fingerprints_of_each_rule_type() -> None:
    [v] = run(*scoped(), jurisdiction="CH").violations
    assert v.fingerprint == hashlib.sha256(f"scoped_to|{cid('a')}||AT,DE".encode()).hexdigest()
    [v] = run(DS_STRUCT, DATENSCHUTZ, answers={"mitarbeiter": 11}).violations
    condition = '{"operator":"greater_than","question":"mitarbeiter","value":10}'
    assert v.fingerprint == hashlib.sha256(f"requires_answer|{cid('ds')}||{condition}".encode()).hexdigest()


def test_violation_json_shape() -> None:
    [violation] = run(
        PAIR, pinned(("a", [rule("incompatible_with", "b", suggestion="Eine entfernen.")]))
    ).violations
    data = violation.as_json()
    assert list(data) == [
        "fingerprint",
        "ruleType",
        "severity",
        "sourceClauseId",
        "targetClauseIds",
        "message",
        "suggestion",
        "dismissed",
        "resolutionOptions",
    ]
    assert data["suggestion"] == "Eine entfernen."
    assert data["targetClauseIds"] == [str(cid("b"))]
    assert data["resolutionOptions"][0] == {
        "optionId": f"remove_clause:a:{cid('a')}",
        "action": "remove_clause",
        "clauseId": str(cid("a")),
        "slotId": "a",
        "label": "„Klausel a“ entfernen",
        "autoApplicable": True,
    }


# --- dismissals and state ----------------------------------------------------------------------------


def soft_and_hard() -> tuple[Structure, dict[uuid.UUID, PinnedClause]]:
    struct = structure(
        ("s", [slot("a", defaultSelected=True), slot("b"), slot("c"), slot("d", defaultSelected=True)])
    )
    return struct, pinned(("a", [rule("requires", "b", severity="soft")]), ("d", [rule("requires", "c")]))


def test_validation_state() -> None:
    struct, pins = soft_and_hard()
    assert run(struct, pins).state == "has_conflicts"
    assert run(struct, pins, on("c")).state == "has_warnings"
    assert run(struct, pins, {**on("b"), **on("c")}).state == "valid"


def test_dismissed_soft_violation_is_marked_and_state_valid() -> None:
    struct, pins = soft_and_hard()
    soft = run(struct, pins, on("c")).violations[0]
    validation = run(struct, pins, on("c"), dismissed=(soft.fingerprint,))
    assert validation.violations[0].dismissed
    assert validation.state == "valid"


def test_hard_violation_is_never_dismissed() -> None:
    struct, pins = soft_and_hard()
    hard = run(struct, pins).hard[0]
    validation = run(struct, pins, dismissed=(hard.fingerprint,))
    assert not validation.hard[0].dismissed and validation.state == "has_conflicts"


def test_check_dismissals() -> None:
    struct, pins = soft_and_hard()
    validation = run(struct, pins)
    soft = next(v for v in validation.violations if v.severity == "soft")
    check_dismissals(validation, [soft.fingerprint])
    with pytest.raises(DismissalErrors) as caught:
        check_dismissals(validation, [soft.fingerprint, validation.hard[0].fingerprint, "0" * 64])
    assert [e.fingerprint for e in caught.value.errors] == [validation.hard[0].fingerprint, "0" * 64]
    assert "harter Konflikt" in caught.value.errors[0].message


def test_dismissal_lasts_while_the_violation_exists() -> None:
    struct, pins = soft_and_hard()
    soft = run(struct, pins, on("c")).violations[0].fingerprint
    assert active_dismissals(run(struct, pins, on("c")), [soft, "x"]) == [soft]
    assert active_dismissals(run(struct, pins, {**on("b"), **on("c")}), [soft]) == []


def test_validation_state_function() -> None:
    def v(severity: Any, dismissed: bool) -> Violation:
        return Violation("f", "requires", severity, cid("a"), (), "m", None, dismissed, ())

    assert validation_state([]) == "valid"
    assert validation_state([v("soft", True)]) == "valid"
    assert validation_state([v("soft", False)]) == "has_warnings"
    assert validation_state([v("soft", True), v("hard", False)]) == "has_conflicts"


def test_rules_of_unselected_clauses_do_not_apply() -> None:
    struct = structure(("s", [slot("a"), slot("b", defaultSelected=True)]))
    pins: dict[uuid.UUID, PinnedClause] = pinned(
        ("a", [rule("forbids", "b"), rule("incompatible_with", "b"), rule("scoped_to", jurisdictions=["AT"])])
    )
    assert run(struct, pins).violations == []
