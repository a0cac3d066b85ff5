"""Contracts through the API on the shipped Arbeitsvertrag pack: pinning, autosave, rules, completion."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.content.packs import import_pack
from servanda.content.service import ContentService
from servanda.identity.service import acting_user
from servanda.platform.db import Database
from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest

K = "/api/v1/contracts"
# The reference matrix (content-packs.md): the rule tests need its clauses c01-c17.
REFERENCE_PACK = (
    Path(__file__).resolve().parents[1] / "content-packs" / "reference" / "arbeitsvertrag-matrix.json"
)
PACK = json.loads(REFERENCE_PACK.read_text(encoding="utf-8"))


def publish_pack(url: str, tenant_slug: str, pack: dict[str, Any]) -> None:
    async def run() -> None:
        db = Database(url, pool_size=1)
        try:
            async with db.session(None) as session:
                principal = await acting_user(session, tenant_slug)
                await import_pack(ContentService(session), principal, pack, publish=True)
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.fixture
def world(api: TestClient, su: psycopg.Connection, make_tenant: Any, clean_db: DbUnderTest) -> dict[str, Any]:
    vendor = make_tenant("verlag-demo", type="vendor")
    ensure_user(su, vendor, "admin", "admin@verlag-demo.de")
    publish_pack(clean_db.app, "verlag-demo", PACK)
    template_id = su.execute(
        "SELECT id FROM templates WHERE external_key = 'arbeitsvertrag-matrix'"
    ).fetchone()[0]  # type: ignore[index]
    clause_ids = dict(su.execute("SELECT external_key, id FROM clauses").fetchall())
    firm = make_tenant("kanzlei-demo")
    return {
        "template_id": str(template_id),
        "clause": {k: str(v) for k, v in clause_ids.items()},
        "firm": firm,
        "lawyer": login_as(api, su, firm, "user", "anwalt@kanzlei-demo.de"),
        "colleague": login_as(api, su, firm, "user", "kollegin@kanzlei-demo.de"),
        "admin": login_as(api, su, firm, "admin", "admin@kanzlei-demo.de"),
    }


def create(api: TestClient, world: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = api.post(
        K,
        json={"templateId": world["template_id"], "title": "Arbeitsvertrag Müller", **extra},
        headers=world["lawyer"],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def slot_of(contract: dict[str, Any], clause_id: str) -> str:
    return next(
        s["slotId"] for s in contract["slots"] if any(o["clauseId"] == clause_id for o in s["options"])
    )


SAMPLE = {"text": "Muster GmbH", "number": 12, "currency": "4500.00", "date": "2027-01-01", "yes_no": True}


def sample(question: dict[str, Any]) -> Any:
    if question["type"] in ("single_choice", "multiple_choice"):
        first = question["options"][0]["value"]
        return first if question["type"] == "single_choice" else [first]
    value = SAMPLE[question["type"]]
    low = (question.get("validation") or {}).get("min")
    return max(value, low) if question["type"] == "number" and low is not None else value


def answer_everything(api: TestClient, world: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    for _ in range(5):  # conditional questions may appear after answers
        missing = {
            q["key"]: sample(q)
            for q in contract["interview"]
            if q["visible"] and q["required"] and q["answer"] is None
        }
        if not missing:
            return contract
        response = api.patch(f"{K}/{contract['id']}", json={"answers": missing}, headers=world["lawyer"])
        assert response.status_code == 200, response.text
        contract = response.json()
    raise AssertionError("interview did not settle")


def test_create_pins_every_clause_and_shows_the_interview(api: TestClient, world: dict[str, Any]) -> None:
    contract = create(api, world)
    assert contract["status"] == "draft"
    assert len(contract["versionInfo"]["clauseVersionIds"]) == 17
    assert contract["versionInfo"]["newerVersionAvailable"] is False
    assert contract["jurisdiction"] == "DE"
    keys = [q["key"] for q in contract["interview"]]
    assert {"mitarbeiterzahl", "vertragstyp", "branche"} <= set(keys)
    assert 0 <= contract["progress"] < 1
    assert len(contract["slots"]) == 17


def test_autosave_is_all_or_nothing(api: TestClient, world: dict[str, Any]) -> None:
    contract = create(api, world)
    bad = api.patch(
        f"{K}/{contract['id']}",
        json={"answers": {"mitarbeiterzahl": "viele", "branche": "IT", "gibt_es_nicht": 1}},
        headers=world["lawyer"],
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "contract.invalid_input"
    assert {e["field"] for e in bad.json()["errors"]} == {"answers.mitarbeiterzahl", "answers.gibt_es_nicht"}
    assert api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json()["answers"] == {}
    ok = api.patch(
        f"{K}/{contract['id']}",
        json={"answers": {"mitarbeiterzahl": 25, "branche": "IT"}},
        headers=world["lawyer"],
    )
    assert ok.json()["answers"] == {"mitarbeiterzahl": 25, "branche": "IT"}
    cleared = api.patch(f"{K}/{contract['id']}", json={"answers": {"branche": None}}, headers=world["lawyer"])
    assert cleared.json()["answers"] == {"mitarbeiterzahl": 25}


def test_r01_appears_offers_a_fix_and_goes_away(api: TestClient, world: dict[str, Any]) -> None:
    c03, c04 = world["clause"]["c03"], world["clause"]["c04"]
    contract = create(api, world)
    contract = api.patch(
        f"{K}/{contract['id']}",
        json={"selectedSlots": {slot_of(contract, c04): c04}},
        headers=world["lawyer"],
    ).json()
    r01 = [
        m
        for m in contract["validation"]["messages"]
        if m["ruleType"] == "incompatible_with" and {m["sourceClauseId"], *m["targetClauseIds"]} == {c03, c04}
    ]
    assert len(r01) == 1
    assert r01[0]["severity"] == "hard"
    assert contract["validation"]["validationState"] == "has_conflicts"
    option = next(
        o for o in r01[0]["resolutionOptions"] if o["action"] == "remove_clause" and o["autoApplicable"]
    )
    fixed = api.patch(
        f"{K}/{contract['id']}", json={"selectedSlots": {option["slotId"]: None}}, headers=world["lawyer"]
    ).json()
    assert not [m for m in fixed["validation"]["messages"] if m["fingerprint"] == r01[0]["fingerprint"]]


def test_complete_needs_answers_and_no_conflicts_then_freezes(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    contract = create(api, world)
    incomplete = api.post(f"{K}/{contract['id']}/complete", headers=world["lawyer"])
    assert (incomplete.status_code, incomplete.json()["code"]) == (409, "contract.incomplete")
    assert any(r["code"] == "unanswered_question" for r in incomplete.json()["reasons"])
    contract = answer_everything(api, world, contract)
    hard = [m for m in contract["validation"]["messages"] if m["severity"] == "hard"]
    for violation in hard:  # resolve by the first auto-applicable option
        option = next(o for o in violation["resolutionOptions"] if o["autoApplicable"])
        contract = api.patch(
            f"{K}/{contract['id']}",
            json={
                "selectedSlots": {
                    option["slotId"]: option["clauseId"] if option["action"] == "add_clause" else None
                }
            },
            headers=world["lawyer"],
        ).json()
    for warning in [m for m in contract["validation"]["messages"] if m["severity"] == "soft"]:
        contract = api.patch(
            f"{K}/{contract['id']}",
            json={"dismissedWarnings": [*contract["dismissedWarnings"], warning["fingerprint"]]},
            headers=world["lawyer"],
        ).json()
    done = api.post(f"{K}/{contract['id']}/complete", headers=world["lawyer"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    again = api.patch(
        f"{K}/{contract['id']}", json={"answers": {"mitarbeiterzahl": 3}}, headers=world["lawyer"]
    )
    assert (again.status_code, again.json()["code"]) == (409, "contract.not_draft")
    # RFC 9457: ``status`` is the HTTP code; the contract's state has its own member
    assert (again.json()["status"], again.json()["currentStatus"]) == (409, "completed")
    assert api.delete(f"{K}/{contract['id']}", headers=world["lawyer"]).status_code == 409
    actions = [
        r[0]
        for r in su.execute("SELECT action FROM audit_events WHERE object_type = 'contract' ORDER BY seq")
    ]
    assert actions[0] == "contract.create"
    assert actions[-1] == "contract.complete"


def test_dismissing_a_hard_violation_is_refused(api: TestClient, world: dict[str, Any]) -> None:
    c04 = world["clause"]["c04"]
    contract = create(api, world)
    contract = api.patch(
        f"{K}/{contract['id']}",
        json={"selectedSlots": {slot_of(contract, c04): c04}},
        headers=world["lawyer"],
    ).json()
    hard = next(m for m in contract["validation"]["messages"] if m["severity"] == "hard")
    refused = api.patch(
        f"{K}/{contract['id']}", json={"dismissedWarnings": [hard["fingerprint"]]}, headers=world["lawyer"]
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "contract.cannot_dismiss")


def test_preview_escapes_answers(api: TestClient, world: dict[str, Any]) -> None:
    contract = create(api, world)
    text_question = next(q for q in contract["interview"] if q["type"] == "text")
    api.patch(
        f"{K}/{contract['id']}",
        json={"answers": {text_question["key"]: "<script>alert(1)</script>"}},
        headers=world["lawyer"],
    )
    preview = api.get(f"{K}/{contract['id']}/preview", headers=world["lawyer"]).json()
    assert "<script>" not in preview["html"]
    assert preview["outline"]
    assert "§ 1" in preview["outline"][0]["headings"][0]


def test_private_contracts_stay_private(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    contract = create(api, world)
    assert api.get(f"{K}/{contract['id']}", headers=world["colleague"]).status_code == 404
    assert api.get(f"{K}/{contract['id']}", headers=world["admin"]).status_code == 200
    assert api.get(K, headers=world["colleague"]).json()["total"] == 0
    team = su.execute(
        "INSERT INTO teams (tenant_id, name) VALUES (%s, 'Arbeitsrecht') RETURNING id", (world["firm"],)
    ).fetchone()[0]  # type: ignore[index]
    for email in ("anwalt@kanzlei-demo.de", "kollegin@kanzlei-demo.de"):
        su.execute(
            "INSERT INTO team_members (tenant_id, team_id, user_id) SELECT tenant_id, %s, id FROM users "
            "WHERE email = %s",
            (team, email),
        )
    shared = create(api, world, visibility="team", teamId=str(team))
    assert api.get(f"{K}/{shared['id']}", headers=world["colleague"]).status_code == 200
    other = login_as(api, su, world["firm"], "user", "fremd@kanzlei-demo.de")
    assert api.get(f"{K}/{shared['id']}", headers=other).status_code == 404


def test_a_deprecated_template_cannot_start_a_contract(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    su.execute("UPDATE template_versions SET status = 'deprecated'")
    su.execute("UPDATE templates SET current_published_version_id = NULL")
    response = api.post(K, json={"templateId": world["template_id"], "title": "X"}, headers=world["lawyer"])
    assert (response.status_code, response.json()["code"]) == (409, "contract.template_not_published")
    assert (
        api.post(K, json={"templateId": str(uuid.uuid4()), "title": "X"}, headers=world["lawyer"]).status_code
        == 404
    )


def test_upgrade_preview_upgrade_and_derive(
    api: TestClient, world: dict[str, Any], clean_db: DbUnderTest, su: psycopg.Connection
) -> None:
    contract = create(api, world)
    contract = api.patch(
        f"{K}/{contract['id']}",
        json={"answers": {"mitarbeiterzahl": 5, "branche": "IT"}},
        headers=world["lawyer"],
    ).json()
    assert contract["versionInfo"]["newerVersionAvailable"] is False
    changed = json.loads(json.dumps(PACK))
    c10 = next(c for c in changed["clauses"] if c["key"] == "c10")
    c10["content"] = c10["content"].replace("Der Arbeitnehmer", "Die beschäftigte Person", 1)
    interview = changed["templates"][0]["interview"]
    branche = next(q for q in interview if q["key"] == "branche")
    branche["key"] = "wirtschaftszweig"  # the old answer cannot migrate
    for clause in changed["clauses"]:
        for rule in clause.get("rules", []):
            if rule.get("condition", {}).get("question") == "branche":
                rule["condition"]["question"] = "wirtschaftszweig"
    publish_pack(clean_db.app, "verlag-demo", changed)

    info = api.get(f"{K}/{contract['id']}/version-info", headers=world["lawyer"]).json()
    assert info["newerVersionAvailable"] is True
    preview = api.get(f"{K}/{contract['id']}/upgrade-preview", headers=world["lawyer"]).json()
    assert preview["toTemplateVersion"] == preview["fromTemplateVersion"] + 1
    updated = {u["clauseId"]: u for u in preview["updatedClauses"]}
    assert world["clause"]["c10"] in updated
    diff = updated[world["clause"]["c10"]]["diff"]
    assert {"op": "insert", "text": "Die beschäftigte Person"} in diff
    assert preview["droppedAnswers"] == ["branche"]
    assert "mitarbeiterzahl" in preview["migratedAnswers"]
    assert api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json()["answers"] == {
        "mitarbeiterzahl": 5,
        "branche": "IT",
    }

    upgraded = api.post(f"{K}/{contract['id']}/upgrade", json={}, headers=world["lawyer"])
    assert upgraded.status_code == 200, upgraded.text
    body = upgraded.json()
    assert body["contract"]["answers"] == {"mitarbeiterzahl": 5}
    assert body["contract"]["versionInfo"]["newerVersionAvailable"] is False
    assert body["migrationReport"]["droppedAnswers"] == ["branche"]
    assert su.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'contract.version_upgrade'"
    ).fetchone() == (1,)

    derived = api.post(f"{K}/{contract['id']}/derive", headers=world["lawyer"])
    assert derived.status_code == 201, derived.text
    draft = derived.json()["contract"]  # the same shape as upgrade: {contract, migrationReport}
    assert draft["id"] != contract["id"]
    assert draft["answers"] == {"mitarbeiterzahl": 5}
    assert draft["status"] == "draft"
    assert "droppedAnswers" in derived.json()["migrationReport"]
    assert derived.headers["Location"] == f"{K}/{draft['id']}"
    assert api.get(derived.headers["Location"], headers=world["lawyer"]).json() == draft


def test_law_firm_templates_prefill_contracts_and_respect_the_plan(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    editor = login_as(api, su, world["firm"], "editor", "redakteur@kanzlei-demo.de")
    c04 = world["clause"]["c04"]
    base = create(api, world)
    created = api.post(
        "/api/v1/lawfirm-templates",
        json={
            "templateId": world["template_id"],
            "title": "Arbeitsvertrag IT (Kanzleistandard)",
            "customAnswers": {"branche": "IT", "mitarbeiterzahl": 40},
            "customSlotSelections": {slot_of(base, c04): c04},
        },
        headers=editor,
    )
    assert created.status_code == 201, created.text
    lft = created.json()
    bad = api.post(
        "/api/v1/lawfirm-templates",
        json={
            "templateId": world["template_id"],
            "title": "X",
            "customAnswers": {"mitarbeiterzahl": "viele"},
        },
        headers=editor,
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "lawfirm_template.invalid_prefill")
    assert (
        api.get("/api/v1/lawfirm-templates", headers=world["lawyer"]).status_code == 403
    )  # users start, editors manage
    contract = api.post(
        K, json={"lawFirmTemplateId": lft["id"], "title": "Vertrag Schmidt"}, headers=editor
    ).json()
    assert contract["answers"] == {"branche": "IT", "mitarbeiterzahl": 40}
    assert contract["selectedSlots"] == {slot_of(base, c04): c04}
    assert contract["versionInfo"]["templateVersionId"] == lft["sourceTemplateVersionId"]
    saved = api.post(f"{K}/{contract['id']}/save-as-template", json={"title": "Aus Vertrag"}, headers=editor)
    assert saved.status_code == 201, saved.text
    assert saved.json()["sourceContractId"] == contract["id"]
    for n in range(3):  # starter plan: 5 law-firm templates at most
        assert (
            api.post(
                "/api/v1/lawfirm-templates",
                json={"templateId": world["template_id"], "title": f"V{n}"},
                headers=editor,
            ).status_code
            == 201
        )
    over = api.post(
        "/api/v1/lawfirm-templates",
        json={"templateId": world["template_id"], "title": "Zu viel"},
        headers=editor,
    )
    assert (over.status_code, over.json()["code"]) == (409, "lawfirm_template.plan_limit")
    assert api.delete(f"/api/v1/lawfirm-templates/{lft['id']}", headers=editor).status_code == 204
    actions = {
        r[0] for r in su.execute("SELECT action FROM audit_events WHERE object_type = 'lawfirm_template'")
    }
    assert actions == {"lawfirm_template.create", "lawfirm_template.delete"}


def test_a_draft_with_deprecated_pins_is_warned(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    contract = create(api, world)
    assert contract["versionInfo"]["warning"] is None
    su.execute(
        "UPDATE clause_versions SET status = 'deprecated' WHERE clause_id = %s", (world["clause"]["c10"],)
    )
    info = api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json()["versionInfo"]
    assert len(info["deprecatedPins"]) == 1
    assert "zurückgezogene Fassungen" in info["warning"]
    new = api.post(K, json={"templateId": world["template_id"], "title": "Neu"}, headers=world["lawyer"])
    assert (new.status_code, new.json()["code"]) == (409, "contract.clause_not_published")


def test_archive_hides_and_locks_a_contract(api: TestClient, world: dict[str, Any]) -> None:
    contract = create(api, world)
    validated = api.post(f"{K}/{contract['id']}/validate", headers=world["lawyer"]).json()
    assert validated["validationState"] == "incomplete"  # nothing answered yet
    archived = api.post(f"{K}/{contract['id']}/archive", headers=world["lawyer"])
    assert archived.json()["status"] == "archived"
    assert api.get(K, headers=world["lawyer"]).json()["total"] == 0
    assert api.get(K, params={"status": "archived"}, headers=world["lawyer"]).json()["total"] == 1
    locked = api.patch(f"{K}/{contract['id']}", json={"title": "Neu"}, headers=world["lawyer"])
    assert (locked.status_code, locked.json()["code"]) == (409, "contract.not_draft")
    assert (locked.json()["status"], locked.json()["currentStatus"]) == (409, "archived")
    assert (
        locked.json()["detail"]
        == "Nur Entwürfe können bearbeitet werden (Status des Vertrags: „Archiviert“)."
    )
    again = api.post(f"{K}/{contract['id']}/archive", headers=world["lawyer"])
    assert (again.status_code, again.json()["code"]) == (409, "contract.already_archived")


def test_team_visibility_needs_membership(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    team = su.execute(
        "INSERT INTO teams (tenant_id, name) VALUES (%s, 'Ohne mich') RETURNING id", (world["firm"],)
    ).fetchone()[0]  # type: ignore[index]
    response = api.post(
        K,
        json={"templateId": world["template_id"], "title": "X", "visibility": "team", "teamId": str(team)},
        headers=world["lawyer"],
    )
    assert (response.status_code, response.json()["code"]) == (422, "contract.invalid_team")
    missing = api.post(
        K,
        json={"templateId": world["template_id"], "title": "X", "visibility": "team"},
        headers=world["lawyer"],
    )
    assert missing.status_code == 422


def test_resolutions_apply_one_offered_option(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    """Issue 10, point 5: POST /contracts/{id}/resolutions; refusals name the cause and save nothing."""
    c03, c04 = world["clause"]["c03"], world["clause"]["c04"]
    contract = create(api, world)
    contract = api.patch(
        f"{K}/{contract['id']}",
        json={"selectedSlots": {slot_of(contract, c04): c04}},
        headers=world["lawyer"],
    ).json()
    (r01,) = [m for m in contract["validation"]["messages"] if m["ruleType"] == "incompatible_with"]
    assert r01["severity"] == "hard"
    # both sides may go: c03 or c04 is removed
    remove_c04 = f"remove_clause:{slot_of(contract, c04)}:{c04}"
    assert {o["optionId"] for o in r01["resolutionOptions"]} == {
        f"remove_clause:{slot_of(contract, c03)}:{c03}",
        remove_c04,
    }

    def resolve(
        fingerprint: str, option_id: str, contract_id: str = contract["id"], who: str = "lawyer"
    ) -> Any:
        return api.post(
            f"{K}/{contract_id}/resolutions",
            json={"fingerprint": fingerprint, "optionId": option_id},
            headers=world[who],
        )

    def refused(response: Any) -> tuple[int, str, list[str]]:
        body = response.json()
        return response.status_code, body["code"], [e["field"] for e in body.get("errors", [])]

    stored = api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json()
    assert refused(resolve("0" * 64, remove_c04)) == (422, "contract.unknown_resolution", ["fingerprint"])
    assert refused(resolve(r01["fingerprint"], "remove_clause:nirgends:x")) == (
        422,
        "contract.unknown_resolution",
        ["optionId"],
    )
    # an option of another violation is not an option of this one
    add_c11 = f"add_clause:{slot_of(contract, world['clause']['c11'])}:{world['clause']['c11']}"
    assert refused(resolve(r01["fingerprint"], add_c11))[:2] == (422, "contract.unknown_resolution")
    missing = api.post(
        f"{K}/{contract['id']}/resolutions", json={"fingerprint": "x"}, headers=world["lawyer"]
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "request.validation_failed")
    unknown = resolve(r01["fingerprint"], remove_c04, contract_id=str(uuid.uuid4()))
    assert refused(unknown)[:2] == (404, "contract.not_found")
    assert refused(resolve(r01["fingerprint"], remove_c04, who="colleague"))[:2] == (
        404,
        "contract.not_found",
    )
    assert api.get(f"{K}/{contract['id']}", headers=world["lawyer"]).json() == stored  # nothing saved

    fixed = resolve(r01["fingerprint"], remove_c04)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["selectedSlots"][slot_of(contract, c04)] is None
    assert r01["fingerprint"] not in {m["fingerprint"] for m in fixed.json()["validation"]["messages"]}
    assert fixed.json()["validation"]["validationState"] != "has_conflicts"
    event = su.execute(
        "SELECT details FROM audit_events WHERE action = 'contract.resolve' AND object_id = %s",
        (contract["id"],),
    ).fetchone()
    assert event is not None
    assert event[0]["fingerprint"] == r01["fingerprint"] and event[0]["optionId"] == remove_c04
    assert event[0]["selectedSlots"] == {slot_of(contract, c04): None}

    # only drafts change
    su.execute("UPDATE contracts SET status = 'archived' WHERE id = %s", (contract["id"],))
    assert refused(resolve(r01["fingerprint"], remove_c04))[:2] == (409, "contract.not_draft")


def test_the_list_filters_by_the_day_of_the_last_change(
    api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    """updatedFrom/updatedTo (issue 13, the contracts list's date filter): inclusive days in German time."""
    old = create(api, world, title="Alt")
    late = create(api, world, title="Spät am Abend")
    new = create(api, world, title="Neu")
    su.execute("UPDATE contracts SET updated_at = '2026-03-01 10:00+00' WHERE id = %s", (old["id"],))
    # 23:30 UTC on 14 March is already 15 March in Germany (CET, UTC+1)
    su.execute("UPDATE contracts SET updated_at = '2026-03-14 23:30+00' WHERE id = %s", (late["id"],))
    su.execute("UPDATE contracts SET updated_at = '2026-04-02 08:00+00' WHERE id = %s", (new["id"],))

    def titles(**params: str) -> list[str]:
        response = api.get(K, params=params, headers=world["lawyer"])
        assert response.status_code == 200, response.text
        return [c["title"] for c in response.json()["items"]]

    assert titles(updatedFrom="2026-03-15") == ["Neu", "Spät am Abend"]
    assert titles(updatedTo="2026-03-14") == ["Alt"]
    assert titles(updatedFrom="2026-03-01", updatedTo="2026-03-15") == ["Spät am Abend", "Alt"]
    assert titles(updatedFrom="2026-04-02", updatedTo="2026-04-02") == ["Neu"]
    bad = api.get(K, params={"updatedFrom": "15.03.2026"}, headers=world["lawyer"])
    assert (bad.status_code, bad.json()["code"]) == (422, "request.validation_failed")
    assert bad.json()["errors"][0]["field"] == "query.updatedFrom"


# -- optimistic concurrency: ETag and If-Match (issue 13, two tabs) ----------------------------------


def test_etag_changes_with_every_write_and_if_match_guards_each_change(
    api: TestClient, world: dict[str, Any]
) -> None:
    lawyer = world["lawyer"]
    created = api.post(K, json={"templateId": world["template_id"], "title": "Tab A"}, headers=lawyer)
    first = created.headers["etag"]
    url = f"{K}/{created.json()['id']}"
    got = api.get(url, headers=lawyer)
    assert got.headers["etag"] == first and first.startswith('"') and first.endswith('"')  # strong tag

    # tab A saves with the tag it read: accepted, and the answer names the new version
    saved = api.patch(url, json={"answers": {"branche": "IT"}}, headers={**lawyer, "If-Match": first})
    assert saved.status_code == 200, saved.text
    second = saved.headers["etag"]
    assert second != first
    assert api.get(url, headers=lawyer).headers["etag"] == second

    # tab B still holds the first tag: 412 with the stable code, German detail, nothing stored
    stale = api.patch(url, json={"answers": {"branche": "Handel"}}, headers={**lawyer, "If-Match": first})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    body = stale.json()
    assert (body["status"], body["code"]) == (412, "contract.modified_elsewhere")
    assert "an anderer Stelle geändert" in body["detail"]
    after = api.get(url, headers=lawyer)
    assert after.json()["answers"] == {"branche": "IT"}
    assert after.headers["etag"] == second

    # a list naming the current tag matches; weak tags and garbage never do; "*" and no header always
    assert (
        api.patch(url, json={"title": "A"}, headers={**lawyer, "If-Match": f'"v0", {second}'}).status_code
        == 200
    )
    current = api.get(url, headers=lawyer).headers["etag"]
    for refused in (f"W/{current}", current.strip('"'), '"x"', '""'):
        response = api.patch(url, json={"title": "B"}, headers={**lawyer, "If-Match": refused})
        assert response.status_code == 412, refused
    assert api.get(url, headers=lawyer).json()["title"] == "A"
    assert api.patch(url, json={"title": "C"}, headers={**lawyer, "If-Match": "*"}).status_code == 200
    assert api.patch(url, json={"title": "D"}, headers=lawyer).status_code == 200  # API clients as before


def test_if_match_on_resolutions_complete_archive_upgrade_and_delete(
    api: TestClient, world: dict[str, Any]
) -> None:
    lawyer = world["lawyer"]
    c04 = world["clause"]["c04"]
    contract = create(api, world)
    url = f"{K}/{contract['id']}"
    old = api.get(url, headers=lawyer).headers["etag"]
    patched = api.patch(url, json={"selectedSlots": {slot_of(contract, c04): c04}}, headers=lawyer)
    (r01,) = [m for m in patched.json()["validation"]["messages"] if m["ruleType"] == "incompatible_with"]
    option = r01["resolutionOptions"][0]["optionId"]
    fix = {"fingerprint": r01["fingerprint"], "optionId": option}

    stale = {**lawyer, "If-Match": old}
    assert api.post(f"{url}/resolutions", json=fix, headers=stale).status_code == 412
    assert api.post(f"{url}/complete", headers=stale).status_code == 412
    assert api.post(f"{url}/upgrade", json={}, headers=stale).status_code == 412
    assert api.post(f"{url}/archive", headers=stale).status_code == 412
    assert api.delete(url, headers=stale).status_code == 412
    unchanged = api.get(url, headers=lawyer)
    assert unchanged.json()["selectedSlots"] == patched.json()["selectedSlots"]
    assert unchanged.json()["status"] == "draft"
    assert unchanged.headers["etag"] == patched.headers["etag"]

    resolved = api.post(
        f"{url}/resolutions", json=fix, headers={**lawyer, "If-Match": patched.headers["etag"]}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.headers["etag"] not in (old, patched.headers["etag"])
    upgraded = api.post(f"{url}/upgrade", json={}, headers={**lawyer, "If-Match": resolved.headers["etag"]})
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.headers["etag"] == api.get(url, headers=lawyer).headers["etag"]
    current = api.get(url, headers=lawyer).headers["etag"]
    # the precondition holds, so completion gets as far as its own rules (this draft is not ready)
    refused = api.post(f"{url}/complete", headers={**lawyer, "If-Match": current})
    assert refused.status_code == 409, refused.text
    archived = api.post(f"{url}/archive", headers={**lawyer, "If-Match": current})
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"
    assert archived.headers["etag"] != current


def test_if_match_is_checked_atomically_with_the_write(api: TestClient, world: dict[str, Any]) -> None:
    """Parallel saves naming the same version: exactly one wins, every other one is 412 (row lock)."""
    lawyer = world["lawyer"]
    contract = create(api, world)
    url = f"{K}/{contract['id']}"
    tag = api.get(url, headers=lawyer).headers["etag"]

    def save(i: int) -> int:
        headers = {**lawyer, "If-Match": tag}
        return api.patch(url, json={"title": f"Tab {i}"}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(save, range(6)))
    assert statuses == [200, 412, 412, 412, 412, 412]
    assert api.get(url, headers=lawyer).json()["title"].startswith("Tab ")
