"""Acceptance: every row of the reference Arbeitsvertrag matrix (content-packs.md), through the API.

Each row arranges — on the shipped pack, only via ``POST``/``PATCH /api/v1/contracts`` — the
selection and answers that trigger exactly that rule, checks the single violation it yields
(type, severity, source, targets, the pack's German message, the resolution options the
engine spec promises), applies the preferred option by PATCH and checks the violation is gone.

Defaults selected by the template: c01, c02 (required), c03, c07, c08, c10, c14, c15, c17.

Every contract starts from a complete set of answers (``COMPLETE``) and each row adds the
answers its own selection needs (an hourly rate when c04 stays in, …), so that the
validation state shows the rule and not an unanswered question: since issue 11 a contract
with a required question or parameter open is ``incomplete``, which outranks warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_contracts import PACK, K, create, slot_of
from tests.test_contracts import world as world  # fixture, re-exported so pytest finds it here

ADD, REMOVE = "add_clause", "remove_clause"


@dataclass(frozen=True)
class Row:
    id: str
    rule_type: str
    severity: str
    source: str  # clause key of the matrix source (declares the rule in the pack)
    targets: tuple[str, ...]
    options: frozenset[tuple[str, str]]  # (action, clause key) the engine must offer
    select: tuple[str, ...] = ()
    deselect: tuple[str, ...] = ()
    answers: dict[str, Any] = field(default_factory=dict)
    jurisdiction: str = "DE"


def _incompatible(id: str, a: str, b: str, **setup: Any) -> Row:
    return Row(id, "incompatible_with", "hard", a, (b,), frozenset({(REMOVE, a), (REMOVE, b)}), **setup)


def _requires(id: str, source: str, target: str, severity: str, **setup: Any) -> Row:
    return Row(id, "requires", severity, source, (target,), frozenset({(ADD, target)}), **setup)


def _scoped(id: str, source: str, **setup: Any) -> Row:
    return Row(id, "scoped_to", "hard", source, (), frozenset({(REMOVE, source)}), jurisdiction="AT", **setup)


def _answer(id: str, source: str, severity: str, **setup: Any) -> Row:
    return Row(id, "requires_answer", severity, source, (), frozenset({(ADD, source)}), **setup)


# Complete for the defaults (Pauschalvergütung, unbefristet); triggers none of RA01-RA03.
COMPLETE: dict[str, Any] = {
    "arbeitgeber_name": "Muster GmbH",
    "arbeitgeber_anschrift": "Hauptstraße 1, 80331 München",
    "mitarbeiterzahl": 8,
    "branche": "Handel",
    "arbeitnehmer_name": "Erika Mustermann",
    "arbeitnehmer_anschrift": "Nebenweg 2, 80333 München",
    "taetigkeit": "Kauffrau im Einzelhandel",
    "verguetungsmodell": "pauschal",
    "gehalt": "3500.00",
    "wochenstunden": 40,
    "vertragstyp": "unbefristet",
    "beginn": "2026-04-01",
    "kuendigungsfrist_wochen": 4,
    "gerichtsstand": "München",
}
HOURLY = {"verguetungsmodell": "stunde", "stundenlohn": "25.00"}
COMMISSION = {"verguetungsmodell": "erfolg", "fixum": "2000.00", "provision_prozent": 5}
NON_COMPETE = {"wettbewerbsverbot_monate": 12, "wettbewerbsverbot_gebiet": "Bayern"}
FIXED_TERM = {"vertragstyp": "befristet", "befristung_bis": "2027-03-31", "probezeit_monate": 6}


MATRIX: list[Row] = [
    # the fix removes the source (c03, c04), so the remaining clause's answers are given
    _incompatible("R01", "c03", "c04", select=("c04",), answers=HOURLY),
    _incompatible("R02", "c03", "c05", select=("c05",), answers=COMMISSION),
    _incompatible("R03", "c04", "c05", select=("c04", "c05"), deselect=("c03",), answers=COMMISSION),
    # c06/c07 are incompatible (R05) and c07 is a default, so c07 goes too
    _requires("R04", "c06", "c08", "soft", select=("c06",), deselect=("c07", "c08")),
    _incompatible("R05", "c06", "c07", select=("c06",)),
    # c09 requires c11 (R07): select c11 so that only R06 fires
    _incompatible("R06", "c08", "c09", select=("c09", "c11")),
    _requires("R07", "c09", "c11", "soft", select=("c09",), deselect=("c08",)),
    # without c15 the default c14 would also fire R11
    _requires("R08", "c12", "c15", "hard", select=("c12",), deselect=("c14", "c15"), answers=NON_COMPETE),
    _incompatible("R09", "c13", "c14", select=("c13",)),
    # a fixed term needs its end date; with c16 selected, RA02 (Probezeit) stays quiet
    _requires(
        "R10", "c13", "c15", "soft", select=("c13", "c16"), deselect=("c14", "c15"), answers=FIXED_TERM
    ),
    _requires("R11", "c14", "c15", "hard", deselect=("c15",)),
    # in AT the default c17 (R15) would fire as well
    _scoped("R12", "c05", select=("c05",), deselect=("c03", "c17")),
    _scoped("R13", "c09", select=("c09", "c11"), deselect=("c08", "c17")),
    _scoped("R14", "c12", select=("c12",), deselect=("c17",)),
    _scoped("R15", "c17"),
    _answer("RA01", "c11", "hard", answers={"mitarbeiterzahl": 25}),
    _answer("RA02", "c16", "soft", answers=FIXED_TERM),
    _answer("RA03", "c10", "soft", answers={"branche": "IT"}, deselect=("c10",)),
]

EXPECTED_STATE = {"hard": "has_conflicts", "soft": "has_warnings"}


def pack_rule(source: str, rule_type: str, targets: tuple[str, ...]) -> dict[str, Any]:
    clause = next(c for c in PACK["clauses"] if c["key"] == source)
    (rule,) = [
        r for r in clause["rules"] if r["type"] == rule_type and tuple(r.get("targets", ())) == targets
    ]
    return dict(rule)


def patch(api: TestClient, world: dict[str, Any], contract_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(f"{K}/{contract_id}", json=body, headers=world["lawyer"])
    assert response.status_code == 200, response.text
    return dict(response.json())


def arrange(api: TestClient, world: dict[str, Any], row: Row) -> dict[str, Any]:
    contract = create(api, world, jurisdiction=row.jurisdiction)
    assert contract["jurisdiction"] == row.jurisdiction
    ids = world["clause"]
    selection: dict[str, str | None] = {slot_of(contract, ids[k]): ids[k] for k in row.select}
    selection |= {slot_of(contract, ids[k]): None for k in row.deselect}
    body: dict[str, Any] = {"answers": {**COMPLETE, **row.answers}}
    if selection:
        body["selectedSlots"] = selection
    return patch(api, world, contract["id"], body)


def test_defaults_are_valid(api: TestClient, world: dict[str, Any]) -> None:
    """The baseline every row starts from: no violation until the row arranges one."""
    for jurisdiction in ("DE", "AT"):
        contract = create(api, world, jurisdiction=jurisdiction)
        assert (
            contract["validation"]["validationState"] == "has_conflicts"
            if jurisdiction == "AT"
            else "incomplete"
        )
        contract = patch(api, world, contract["id"], {"answers": COMPLETE})
        messages = contract["validation"]["messages"]
        if jurisdiction == "DE":
            assert messages == []
            assert contract["validation"]["validationState"] == "valid"
        else:  # c17 (Gerichtsstand DE) is a default: R15 is the only finding in AT
            assert [(m["ruleType"], m["sourceClauseId"]) for m in messages] == [
                ("scoped_to", world["clause"]["c17"])
            ]


@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_matrix_row(api: TestClient, world: dict[str, Any], row: Row) -> None:
    ids = world["clause"]
    key_of = {v: k for k, v in ids.items()}
    contract = arrange(api, world, row)

    messages = contract["validation"]["messages"]
    summary = [(m["ruleType"], key_of.get(m["sourceClauseId"]), m["targetClauseIds"]) for m in messages]
    assert len(messages) == 1, f"{row.id} should trigger exactly one violation, got {summary}"
    (violation,) = messages
    assert violation["ruleType"] == row.rule_type
    assert violation["severity"] == row.severity
    if row.rule_type == "incompatible_with":  # one violation per pair, source = first in the document
        assert len(violation["targetClauseIds"]) == 1
        pair = {violation["sourceClauseId"], *violation["targetClauseIds"]}
        assert pair == {ids[row.source], *(ids[t] for t in row.targets)}
    else:
        assert violation["sourceClauseId"] == ids[row.source]
        assert violation["targetClauseIds"] == [ids[t] for t in row.targets]
    rule = pack_rule(row.source, row.rule_type, row.targets)
    assert violation["message"].strip()
    assert violation["message"] == rule["message"]  # the pack's German wording, unaltered
    assert violation["suggestion"] == rule.get("suggestion")
    assert violation["dismissed"] is False
    assert contract["validation"]["validationState"] == EXPECTED_STATE[row.severity]

    options = violation["resolutionOptions"]
    offered = {(o["action"], key_of.get(o["clauseId"])) for o in options}
    assert offered == row.options
    for option in options:
        assert option["slotId"] == slot_of(contract, option["clauseId"])
        assert option["autoApplicable"] is True  # every slot of this template is a plain optional one
        assert option["label"].strip()

    option = next(o for o in options if o["autoApplicable"])
    value = option["clauseId"] if option["action"] == ADD else None
    fixed = patch(api, world, contract["id"], {"selectedSlots": {option["slotId"]: value}})

    slot = next(s for s in fixed["slots"] if s["slotId"] == option["slotId"])
    assert slot["clauseId"] == value
    assert violation["fingerprint"] not in {m["fingerprint"] for m in fixed["validation"]["messages"]}
    assert fixed["validation"]["messages"] == []  # the fix introduced nothing new
    assert fixed["validation"]["validationState"] == "valid"


SCOPED_DE_ONLY = ("c05", "c09", "c12", "c17")


@pytest.mark.parametrize("jurisdiction", ["AT", "DE"])
def test_scoped_to_rows_together(api: TestClient, world: dict[str, Any], jurisdiction: str) -> None:
    """c05, c09, c12 and c17 in one contract: four scope violations in AT, none in DE."""
    ids = world["clause"]
    contract = create(api, world, jurisdiction=jurisdiction)
    contract = patch(api, world, contract["id"], {"answers": {**COMPLETE, **COMMISSION, **NON_COMPETE}})
    # c11 keeps R07 quiet, and without c03/c08 R02/R06 stay quiet: only the scope rules remain
    selection: dict[str, str | None] = {slot_of(contract, ids[k]): ids[k] for k in (*SCOPED_DE_ONLY, "c11")}
    selection |= {slot_of(contract, ids[k]): None for k in ("c03", "c08")}
    contract = patch(api, world, contract["id"], {"selectedSlots": selection})
    selected = {s["clauseId"] for s in contract["slots"]}
    assert {ids[k] for k in SCOPED_DE_ONLY} <= selected

    messages = contract["validation"]["messages"]
    scoped = [m for m in messages if m["ruleType"] == "scoped_to"]
    if jurisdiction == "DE":
        assert scoped == []
        assert messages == []
        assert contract["validation"]["validationState"] == "valid"
        return
    assert sorted(m["sourceClauseId"] for m in scoped) == sorted(ids[k] for k in SCOPED_DE_ONLY)
    assert len(messages) == len(scoped) == 4
    for m in scoped:
        assert m["severity"] == "hard"
        assert m["targetClauseIds"] == []
        assert [(o["action"], o["clauseId"]) for o in m["resolutionOptions"]] == [
            (REMOVE, m["sourceClauseId"])
        ]
    assert contract["validation"]["validationState"] == "has_conflicts"


def resolve(
    api: TestClient, world: dict[str, Any], contract_id: str, fingerprint: str, option_id: str
) -> Any:
    return api.post(
        f"{K}/{contract_id}/resolutions",
        json={"fingerprint": fingerprint, "optionId": option_id},
        headers=world["lawyer"],
    )


@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_matrix_row_resolved_by_one_call(api: TestClient, world: dict[str, Any], row: Row) -> None:
    """Issue 10, point 5: POST /resolutions applies each offered option server-side, like the PATCH."""
    contract = arrange(api, world, row)
    (violation,) = contract["validation"]["messages"]
    for option in violation["resolutionOptions"]:  # ids are stable and tell what they do
        assert option["optionId"] == f"{option['action']}:{option['slotId']}:{option['clauseId']}"
    option = next(o for o in violation["resolutionOptions"] if o["autoApplicable"])
    response = resolve(api, world, contract["id"], violation["fingerprint"], option["optionId"])
    assert response.status_code == 200, response.text
    fixed = response.json()
    assert set(fixed) == set(contract)  # the same shape as GET/PATCH
    slot = next(s for s in fixed["slots"] if s["slotId"] == option["slotId"])
    assert slot["clauseId"] == (option["clauseId"] if option["action"] == ADD else None)
    assert fixed["selectedSlots"][option["slotId"]] == slot["clauseId"]
    assert fixed["validation"]["messages"] == []
    assert fixed["validation"]["validationState"] == "valid"
    assert api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json() == fixed  # saved
    # applied once, the violation is gone: a second call names it unknown and changes nothing
    again = resolve(api, world, contract["id"], violation["fingerprint"], option["optionId"])
    assert (again.status_code, again.json()["code"]) == (422, "contract.unknown_resolution")
