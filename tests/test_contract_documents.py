"""The shipped Arbeitsvertrag through the API (issue 11): an empty contract is incomplete, the
answers choose clauses, an override is a warning, hidden answers are listed as inactive and
the preview reads as a contract."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.content.packs import shipped_packs
from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest
from tests.test_contracts import K, publish_pack

PACK = json.loads(
    next(p for p in shipped_packs() if p.name == "arbeitsvertrag.json").read_text(encoding="utf-8")
)
ANSWERS: dict[str, Any] = {
    "arbeitgeber_name": "Muster GmbH",
    "arbeitgeber_anschrift": "Hauptstraße 1, 80331 München",
    "arbeitnehmer_name": "Erika Mustermann",
    "arbeitnehmer_anschrift": "Nebenweg 2, 80333 München",
    "beginn": "2026-04-01",
    "vertragstyp": "unbefristet",
    "probezeit": "6",
    "taetigkeit": "Sachbearbeiterin Finanzbuchhaltung",
    "aufgaben": "Kreditorenbuchhaltung",
    "arbeitsort_art": "fest",
    "arbeitsort": "München",
    "wochenstunden": 40,
    "verguetungsmodell": "monatsgehalt",
    "gehalt": "4200.00",
    "sonderzahlung": False,
    "bav": False,
    "urlaubstage": 30,
    "wettbewerbsverbot": "keines",
    "kuendigungsfrist": "gesetzlich",
    "tarifbindung": "keine",
}


@pytest.fixture
def lawyer(
    api: TestClient, su: psycopg.Connection, make_tenant: Any, clean_db: DbUnderTest
) -> dict[str, Any]:
    vendor = make_tenant("verlag-demo", type="vendor")
    ensure_user(su, vendor, "admin", "admin@verlag-demo.de")
    publish_pack(clean_db.app, "verlag-demo", PACK)
    template_id = su.execute("SELECT id FROM templates WHERE external_key = 'arbeitsvertrag'").fetchone()[0]  # type: ignore[index]
    clauses = dict(su.execute("SELECT external_key, id::text FROM clauses").fetchall())
    headers = login_as(api, su, make_tenant("kanzlei-demo"), "user", "anwalt@kanzlei-demo.de")
    return {"template_id": str(template_id), "headers": headers, "clause": clauses}


def create(api: TestClient, lawyer: dict[str, Any]) -> dict[str, Any]:
    body = {"templateId": lawyer["template_id"], "title": "AV Mustermann", "clientReference": "AZ 17/26"}
    response = api.post(K, json=body, headers=lawyer["headers"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def patch(
    api: TestClient, lawyer: dict[str, Any], contract: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    response = api.patch(f"{K}/{contract['id']}", json=body, headers=lawyer["headers"])
    assert response.status_code == 200, response.text
    return dict(response.json())


def slot(contract: dict[str, Any], slot_id: str) -> dict[str, Any]:
    return next(s for s in contract["slots"] if s["slotId"] == slot_id)


def test_a_new_contract_is_incomplete_until_everything_is_answered(
    api: TestClient, lawyer: dict[str, Any], su: psycopg.Connection
) -> None:
    contract = create(api, lawyer)
    assert contract["validation"] == {"validationState": "incomplete", "messages": []}
    stored = su.execute("SELECT validation_state FROM contracts WHERE id = %s", (contract["id"],)).fetchone()
    assert stored == ("incomplete",)
    refused = api.post(f"{K}/{contract['id']}/complete", headers=lawyer["headers"])
    assert (refused.status_code, refused.json()["code"]) == (409, "contract.incomplete")
    contract = patch(api, lawyer, contract, {"answers": ANSWERS})
    assert contract["validation"]["validationState"] == "valid", contract["completionProblems"]
    done = api.post(f"{K}/{contract['id']}/complete", headers=lawyer["headers"])
    assert done.status_code == 200, done.text


def test_answers_choose_clauses_and_an_override_is_a_warning(api: TestClient, lawyer: dict[str, Any]) -> None:
    ids = lawyer["clause"]
    contract = patch(
        api,
        lawyer,
        create(api, lawyer),
        {
            "answers": {
                **ANSWERS,
                "vertragstyp": "befristet_mit_sachgrund",
                "befristung_bis": "2027-03-31",
                "sachgrund": "Vertretung während der Elternzeit",
            }
        },
    )
    laufzeit = slot(contract, "laufzeit")
    assert (laufzeit["clauseId"], laufzeit["source"]) == (ids["av-beginn-befristet-mit-sachgrund"], "answers")
    assert slot(contract, "probezeit")["clauseId"] == ids["av-probezeit"]
    no_probation = patch(api, lawyer, contract, {"answers": {"probezeit": "keine"}})
    assert slot(no_probation, "probezeit")["clauseId"] is None

    overridden = patch(api, lawyer, contract, {"selectedSlots": {"laufzeit": ids["av-beginn-unbefristet"]}})
    [warning] = overridden["validation"]["messages"]
    assert (warning["ruleType"], warning["severity"]) == ("answer_override", "soft")
    assert "Befristet mit Sachgrund" in warning["message"] and "Beginn (unbefristet)" in warning["message"]
    assert overridden["validation"]["validationState"] == "has_warnings"
    [option] = warning["resolutionOptions"]
    back = patch(
        api, lawyer, overridden, {"selectedSlots": {option["slotId"]: None}}
    )  # null: follow the answers
    assert back["validation"]["messages"] == []
    assert slot(back, "laufzeit")["clauseId"] == ids["av-beginn-befristet-mit-sachgrund"]


def test_hidden_answers_are_listed_as_inactive_and_stay_out_of_the_document(
    api: TestClient, lawyer: dict[str, Any]
) -> None:
    contract = patch(
        api,
        lawyer,
        create(api, lawyer),
        {"answers": {**ANSWERS, "verguetungsmodell": "stundenlohn", "stundenlohn": "19.50"}},
    )
    contract = patch(api, lawyer, contract, {"answers": {"verguetungsmodell": "monatsgehalt"}})
    assert contract["answers"]["stundenlohn"] == "19.50"  # kept: it comes back with its question
    assert contract["inactiveAnswers"] == [
        {"question": "stundenlohn", "text": "Wie hoch ist der Bruttostundenlohn?", "answer": "19.50"}
    ]
    assert next(q for q in contract["interview"] if q["key"] == "stundenlohn")["inactive"] is True
    html = api.get(f"{K}/{contract['id']}/preview", headers=lawyer["headers"]).json()["html"]
    assert "19,50" not in html and "4.200,00 EUR" in html


def test_preview_reads_as_a_contract(api: TestClient, lawyer: dict[str, Any]) -> None:
    contract = patch(api, lawyer, create(api, lawyer), {"answers": ANSWERS})
    preview = api.get(f"{K}/{contract['id']}/preview", headers=lawyer["headers"]).json()
    html = preview["html"]
    assert (
        "<h1>Arbeitsvertrag</h1>" in html and "AV Mustermann" not in html
    )  # template title, not working title
    assert "Unser Zeichen: AZ 17/26" in html and "ENTWURF" in html
    assert "– nachfolgend „Arbeitgeber“ –" in html
    assert "<h3>§ 1 Beginn des Arbeitsverhältnisses</h3>" in html
    assert '<span class="paragraph-number">(1)</span>' in html
    assert "(Standard)" not in html and "Vorlage:" not in html
    assert "Schriftform (§ 623 BGB)" in html
    assert '<div class="signatures">' in html
    headings = [h for entry in preview["outline"] for h in entry["headings"]]
    assert headings[:3] == ["§ 1 Beginn des Arbeitsverhältnisses", "§ 2 Probezeit", "§ 3 Tätigkeit"]


def test_a_clause_version_carries_its_display_heading_and_the_syntax_gate_refuses_brackets(pub: Any) -> None:
    from tests.content_helpers import codes, path

    v1 = pub.clause(
        title="Vergütung (Pauschal)",
        heading="Vergütung",
        content="Gehalt [[gehalt]].",
        parameters={"gehalt": {"type": "currency", "label": "Gehalt"}},
    )
    assert (v1["heading"], v1["content"]) == ("Vergütung", "Gehalt [[gehalt]].")
    gates = {g["gate"]: g for g in pub.call("GET", f"{path(v1)}/publishing-gates").json()["gates"]}
    assert not gates["placeholder_syntax"]["passed"]
    assert "gültig ist {{gehalt}}" in gates["placeholder_syntax"]["messages"][0]
    refused = pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
    assert codes(refused) == (422, "content.gates_failed")
    fixed = pub.call(
        "PATCH", path(v1), json={"content": "Gehalt {{gehalt}}.", "heading": "Vergütung und Zahlung"}
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["heading"] == "Vergütung und Zahlung"
    assert (
        pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)}).status_code == 200
    )


def test_the_override_warning_is_resolved_by_one_call(api: TestClient, lawyer: dict[str, Any]) -> None:
    """Issue 10, point 5: applying the answer_override option drops the override (null), as documented."""
    ids = lawyer["clause"]
    answers = {**ANSWERS, "vertragstyp": "befristet_mit_sachgrund", "befristung_bis": "2027-03-31"}
    contract = patch(api, lawyer, create(api, lawyer), {"answers": {**answers, "sachgrund": "Vertretung"}})
    overridden = patch(api, lawyer, contract, {"selectedSlots": {"laufzeit": ids["av-beginn-unbefristet"]}})
    [warning] = overridden["validation"]["messages"]
    [option] = warning["resolutionOptions"]
    assert option["optionId"] == f"replace_clause:laufzeit:{ids['av-beginn-befristet-mit-sachgrund']}"
    response = api.post(
        f"{K}/{contract['id']}/resolutions",
        json={"fingerprint": warning["fingerprint"], "optionId": option["optionId"]},
        headers=lawyer["headers"],
    )
    assert response.status_code == 200, response.text
    back = response.json()
    assert back["validation"]["messages"] == []
    assert back["selectedSlots"]["laufzeit"] is None  # follows the answers again, not a fixed choice
    assert (slot(back, "laufzeit")["clauseId"], slot(back, "laufzeit")["source"]) == (
        ids["av-beginn-befristet-mit-sachgrund"],
        "answers",
    )


def test_a_lawyer_reads_each_candidate_clause_before_choosing(
    api: TestClient, lawyer: dict[str, Any]
) -> None:
    """Issue 10, point 5: slot options carry the display heading and the text with the current answers."""
    ids = lawyer["clause"]
    contract = create(api, lawyer)
    laufzeit = slot(contract, "laufzeit")
    options = {o["clauseId"]: o for o in laufzeit["options"]}
    befristet = options[ids["av-beginn-befristet-mit-sachgrund"]]
    assert befristet["heading"].strip() and befristet["title"].strip()
    assert "[[beginn]]" in befristet["text"]  # not answered yet: a visible placeholder, as in the preview
    contract = patch(api, lawyer, contract, {"answers": {**ANSWERS, "befristung_bis": "2027-03-31"}})
    options = {o["clauseId"]: o for o in slot(contract, "laufzeit")["options"]}
    befristet = options[ids["av-beginn-befristet-mit-sachgrund"]]
    # a candidate that is not chosen reads with the current answers, German formatting included
    assert slot(contract, "laufzeit")["clauseId"] == ids["av-beginn-unbefristet"]
    assert "01.04.2026" in befristet["text"]
    # the end date's question is hidden while the contract is unbefristet: its stored answer is inactive
    assert "[[befristung_bis]]" in befristet["text"]
    assert "[[beginn]]" not in befristet["text"] and "**" not in befristet["text"]
    assert "01.04.2026" in options[ids["av-beginn-unbefristet"]]["text"]
    # the chosen clause reads exactly as in the preview
    preview = api.get(f"{K}/{contract['id']}/preview", headers=lawyer["headers"]).json()["html"]
    chosen = options[ids["av-beginn-unbefristet"]]
    assert chosen["heading"] in preview
    # role user: the clause library itself stays closed
    assert (
        api.get(f"/api/v1/content/clauses/{chosen['clauseId']}", headers=lawyer["headers"]).status_code == 403
    )
