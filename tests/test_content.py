"""Content authoring and the four-eyes publishing workflow through the API."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import login_as
from tests.content_helpers import Publisher, codes, path, rule


def test_creating_answers_with_the_entity_and_its_first_version(pub: Publisher) -> None:
    for kind in ("clauses", "templates"):
        response = pub.call("POST", f"/{kind}", json={"title": "Vertraulichkeit", "tags": ["NDA"]})
        assert response.status_code == 201, response.text
        created = response.json()
        assert (created["title"], created["tags"], created["currentPublishedVersionId"]) == (
            "Vertraulichkeit",
            ["NDA"],
            None,
        )
        version = created["version"]
        assert (version["entityId"], version["versionNumber"], version["status"]) == (
            created["id"],
            1,
            "draft",
        )
        assert created["latestVersion"] == {"id": version["id"], "versionNumber": 1, "status": "draft"}
        assert pub.call("GET", f"/{kind}/{created['id']}").json()["latestVersion"]["id"] == version["id"]


def test_full_workflow_and_its_refusals(pub: Publisher, su: psycopg.Connection) -> None:
    v1 = pub.clause(
        content="Vergütung: {{gehalt}}.", parameters={"gehalt": {"type": "currency", "label": "Gehalt"}}
    )
    assert (v1["status"], v1["versionNumber"]) == ("draft", 1)
    assert (
        pub.call("PATCH", path(v1), json={"changeNote": "Erstfassung"}).json()["changeNote"] == "Erstfassung"
    )
    # four-eyes: the author cannot be the reviewer, nor approve
    author_id = v1["authorId"]
    assert codes(pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": author_id})) == (
        403,
        "content.four_eyes",
    )
    assert codes(pub.call("POST", f"{path(v1)}/approve")) == (409, "content.invalid_transition")
    assert (
        pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)}).json()["status"]
        == "review"
    )
    in_review = pub.call("PATCH", path(v1), json={"content": "x"})
    assert codes(in_review) == (409, "content.version_not_draft")
    # RFC 9457: ``status`` is the HTTP code; the version's state has its own member
    assert (in_review.json()["status"], in_review.json()["currentStatus"]) == (409, "review")
    assert (
        in_review.json()["detail"]
        == "Nur Entwürfe können bearbeitet werden (Status der Fassung: „In Prüfung“)."
    )
    assert codes(pub.call("POST", f"{path(v1)}/approve")) == (403, "content.own_version")
    assert codes(pub.call("POST", f"{path(v1)}/approve", pub.other)) == (403, "content.not_reviewer")
    not_approved = pub.call("POST", f"{path(v1)}/publish")
    assert codes(not_approved) == (409, "content.invalid_transition")
    assert (not_approved.json()["status"], not_approved.json()["currentStatus"]) == (409, "review")
    # the workflow names statuses and steps as the UI does, not by their keys
    assert not_approved.json()["detail"] == (
        "„Veröffentlichen“ ist im Status „In Prüfung“ nicht möglich (erwartet: „Freigegeben“)."
    )
    assert pub.call("POST", f"{path(v1)}/approve", pub.reviewer).json()["status"] == "approved"
    published = pub.call("POST", f"{path(v1)}/publish").json()
    assert published["status"] == "published"
    assert published["publishedAt"]
    entity = pub.call("GET", f"/clauses/{v1['entityId']}").json()
    assert entity["currentPublishedVersionId"] == v1["id"]
    # a new version copies the latest and replaces the published one on publish
    v2 = pub.call("POST", f"/clauses/{v1['entityId']}/versions", json={"changeNote": "Fassung 2"}).json()
    assert (v2["versionNumber"], v2["content"], v2["status"]) == (2, "Vergütung: {{gehalt}}.", "draft")
    versions = pub.call("GET", f"/clauses/{v1['entityId']}/versions?pageSize=1&page=2").json()
    assert (versions["total"], versions["page"], versions["pageSize"]) == (2, 2, 1)
    assert [v["id"] for v in versions["items"]] == [v2["id"]]
    pub.publish("clauses", v2)
    assert pub.call("GET", path(v1)).json()["status"] == "deprecated"
    assert pub.call("GET", f"/clauses/{v1['entityId']}").json()["currentPublishedVersionId"] == v2["id"]
    assert codes(pub.call("PATCH", path(v2), json={"content": "x"})) == (409, "content.version_not_draft")
    # deprecating the current version takes the clause out of circulation
    assert pub.call("POST", f"{path(v2)}/deprecate").json()["status"] == "deprecated"
    assert pub.call("GET", f"/clauses/{v1['entityId']}").json()["currentPublishedVersionId"] is None
    assert codes(pub.call("POST", f"{path(v2)}/deprecate")) == (409, "content.invalid_transition")
    actions = [
        r[0] for r in su.execute("SELECT action FROM audit_events WHERE action LIKE 'clause.%' ORDER BY seq")
    ]
    assert actions == [
        "clause.create",
        "clause.update",
        "clause.submit",
        "clause.approve",
        "clause.publish",
        "clause.version_create",
        "clause.submit",
        "clause.approve",
        "clause.deprecate",
        "clause.publish",
        "clause.deprecate",
    ]


def test_reject_and_request_changes_need_a_comment(pub: Publisher) -> None:
    v1 = pub.clause()
    pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
    for action in ("reject", "request-changes"):
        assert codes(pub.call("POST", f"{path(v1)}/{action}", pub.reviewer, json={"comment": "  "})) == (
            422,
            "content.comment_required",
        )
    back = pub.call(
        "POST", f"{path(v1)}/request-changes", pub.reviewer, json={"comment": "Bitte § 622 BGB zitieren."}
    )
    assert back.json()["status"] == "draft"
    pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
    assert (
        pub.call("POST", f"{path(v1)}/reject", pub.admin, json={"comment": "Unklar."}).json()["status"]
        == "draft"
    )
    history = pub.call("GET", f"{path(v1)}/reviews").json()["items"]
    assert [(h["action"], h["comment"]) for h in history] == [
        ("create", None),
        ("submit", None),
        ("request_changes", "Bitte § 622 BGB zitieren."),
        ("submit", None),
        ("reject", "Unklar."),
    ]
    changelog = pub.call("GET", f"/clauses/{v1['entityId']}/changelog").json()["items"]
    assert changelog[0]["versionNumber"] == 1
    assert len(changelog[0]["history"]) == 5
    assert pub.call("GET", "/changelog").json()["total"] == 5


def test_review_queue_shows_what_awaits_me(pub: Publisher) -> None:
    v1 = pub.clause(title="Haftung")
    pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
    queue = pub.call("GET", "/review-queue", pub.reviewer).json()
    assert (queue["total"], queue["page"], queue["pageSize"]) == (1, 1, 25)
    assert [(i["kind"], i["title"], i["versionId"]) for i in queue["items"]] == [
        ("clause", "Haftung", v1["id"])
    ]
    assert pub.call("GET", "/review-queue?page=2", pub.reviewer).json()["items"] == []
    assert pub.call("GET", "/review-queue", pub.other).json()["items"] == []


def test_concurrent_transitions_cannot_both_succeed(pub: Publisher) -> None:
    v1 = pub.clause()
    pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda who: pub.call("POST", f"{path(v1)}/approve", who).status_code,
                [pub.reviewer, pub.admin],
            )
        )
    assert sorted(results) == [200, 409]


def test_invalid_shapes_are_422_with_the_field_path(pub: Publisher) -> None:
    response = pub.call(
        "POST",
        "/clauses",
        json={
            "title": "X",
            "rules": [
                {"type": "requires", "targetClauseIds": [], "severity": "hard", "message": "m"},
                {"type": "teleport", "severity": "hard", "message": "m"},
            ],
        },
    )
    assert codes(response) == (422, "request.validation_failed")
    fields = {e["field"] for e in response.json()["errors"]}
    assert "rules.0.requires.targetClauseIds" in fields
    assert any(f.startswith("rules.1") for f in fields)
    bad_param = pub.call(
        "POST", "/clauses", json={"title": "X", "parameters": {"Gehalt!": {"type": "text", "label": "x"}}}
    )
    assert bad_param.status_code == 422


class TestGates:
    def test_clause_gates_report_parameters_targets_and_self(self, pub: Publisher) -> None:
        v1 = pub.clause(
            content="Gehalt {{gehalt}}", parameters={"bonus": {"type": "currency", "label": "Bonus"}}
        )
        entity = v1["entityId"]
        pub.call(
            "PATCH",
            path(v1),
            json={
                "rules": [
                    rule("requires", entity, "hard", "selbst"),
                    rule("forbids", str(uuid.uuid4()), "soft", "fremd"),
                ]
            },
        )
        report = pub.call("GET", f"{path(v1)}/publishing-gates").json()
        assert report["passed"] is False
        gates = {g["gate"]: g for g in report["gates"]}
        assert not gates["parameters_declared"]["passed"]
        assert (
            "Platzhalter {{gehalt}} ist nicht als Parameter deklariert."
            in gates["parameters_declared"]["messages"]
        )
        assert "Parameter 'bonus' wird im Text nicht verwendet." in gates["parameters_declared"]["messages"]
        assert any("selbst" in m for m in gates["rule_targets"]["messages"])
        assert any("unbekannte Klausel" in m for m in gates["rule_targets"]["messages"])
        refused = pub.call("POST", f"{path(v1)}/submit", json={"reviewerId": str(pub.reviewer_id)})
        assert codes(refused) == (422, "content.gates_failed")
        assert {g["gate"] for g in refused.json()["gates"]} == {"parameters_declared", "rule_targets"}
        assert pub.call("GET", path(v1)).json()["status"] == "draft"

    def test_requires_cycle_is_reported_as_a_path_of_titles(self, pub: Publisher) -> None:
        a = pub.clause(title="Wettbewerbsverbot")
        b = pub.clause(title="Kündigung")
        pub.call("PATCH", path(a), json={"rules": [rule("requires", b["entityId"], "hard", "braucht B")]})
        pub.publish("clauses", a)
        pub.call("PATCH", path(b), json={"rules": [rule("requires", a["entityId"], "hard", "braucht A")]})
        gate = next(
            g
            for g in pub.call("GET", f"{path(b)}/publishing-gates").json()["gates"]
            if g["gate"] == "no_requires_cycle"
        )
        assert gate["messages"] == ["Zyklische Abhängigkeit: Kündigung → Wettbewerbsverbot → Kündigung"]

    def test_template_gates(self, pub: Publisher) -> None:
        published = pub.clause(
            title="Vergütung",
            content="{{gehalt}} und {{waehrung}}",
            parameters={
                "gehalt": {"type": "currency", "label": "Gehalt"},
                "waehrung": {"type": "text", "label": "Währung", "default": "EUR"},
            },
            rules=[
                {
                    "type": "requires_answer",
                    "condition": {"question": "mitarbeiterzahl", "operator": "greater_than", "value": 10},
                    "severity": "hard",
                    "message": "m",
                }
            ],
        )
        pub.publish("clauses", published)
        draft = pub.clause(title="Entwurf")
        structure = {
            "sections": [
                {
                    "id": "a",
                    "title": "A",
                    "slots": [
                        {"id": "s1", "clauseId": published["entityId"], "type": "required"},
                        {
                            "id": "s1",
                            "clauseId": draft["entityId"],
                            "type": "alternative",
                            "alternativeClauseIds": [],
                        },
                    ],
                }
            ]
        }
        interview = [
            {
                "key": "branche",
                "text": "Branche?",
                "type": "single_choice",
                "options": [{"value": "IT", "label": "IT"}],
                "conditions": [{"question": "spaeter", "operator": "equals", "value": 1}],
            },
            {
                "key": "spaeter",
                "text": "?",
                "type": "yes_no",
                "conditions": [{"question": "branche", "operator": "greater_than", "value": 3}],
            },
        ]
        response = pub.call(
            "POST",
            "/templates",
            json={"title": "Arbeitsvertrag", "structure": structure, "interview": interview},
        )
        assert response.status_code == 201, response.text
        version = response.json()["version"]
        gates = {
            g["gate"]: g
            for g in pub.call("GET", path(version, "templates") + "/publishing-gates").json()["gates"]
        }
        failing = {name for name, g in gates.items() if not g["passed"]}
        assert failing == {
            "slot_clauses_published",
            "alternatives_have_options",
            "unique_ids",
            "conditions_valid",
            "parameters_fed",
            "answer_rules_match_interview",
        }
        assert any("Entwurf" in m for m in gates["slot_clauses_published"]["messages"])
        assert gates["parameters_fed"]["messages"] == [
            "Parameter 'gehalt' der Klausel 'Vergütung' wird von keiner Frage befüllt und hat keinen Standardwert."
        ]


class TestAcrossTenants:
    def test_law_firm_reads_published_vendor_content_but_cannot_write_it(
        self, pub: Publisher, api: TestClient, su: psycopg.Connection, make_tenant: Any
    ) -> None:
        published = pub.clause(title="Veröffentlicht")
        pub.publish("clauses", published)
        draft = pub.clause(title="Geheimer Entwurf")
        firm = login_as(api, su, make_tenant("kanzlei-a"), "editor")
        assert pub.call("GET", f"/clauses/{published['entityId']}", firm).status_code == 200
        assert pub.call("GET", path(published), firm).json()["status"] == "published"
        assert codes(pub.call("GET", f"/clauses/{draft['entityId']}", firm)) == (404, "clause.not_found")
        assert codes(pub.call("PATCH", path(published), firm, json={"content": "x"})) == (
            404,
            "clause.version_not_found",
        )
        assert codes(pub.call("POST", f"/clauses/{published['entityId']}/versions", firm, json={})) == (
            404,
            "clause.not_found",
        )
        assert codes(pub.call("POST", f"{path(published)}/deprecate", firm)) == (
            404,
            "clause.not_found",
        )
        assert pub.call("GET", "/clauses", firm).json()["total"] == 0  # authoring lists show own content only

    def test_users_cannot_author(self, pub: Publisher, api: TestClient, su: psycopg.Connection) -> None:
        user = login_as(api, su, pub.tenant, "user")
        assert codes(pub.call("POST", "/clauses", user, json={"title": "x"})) == (403, "auth.forbidden")


def test_rule_graph_for_the_editor(pub: Publisher) -> None:
    a = pub.clause(title="Pauschalvergütung")
    b = pub.clause(title="Stundenvergütung")
    c = pub.clause(
        title="Wettbewerbsverbot",
        rules=[{"type": "scoped_to", "jurisdictions": ["DE"], "severity": "hard", "message": "nur DE"}],
    )
    pub.call(
        "PATCH",
        path(a),
        json={
            "rules": [
                rule("incompatible_with", b["entityId"], "hard", "entweder"),
                rule("requires", c["entityId"], "soft", "braucht"),
            ]
        },
    )
    structure = {
        "sections": [
            {
                "id": "v",
                "title": "Vergütung",
                "slots": [
                    {"id": "pauschal", "clauseId": a["entityId"], "type": "optional"},
                    {"id": "stunde", "clauseId": b["entityId"], "type": "optional"},
                ],
            }
        ]
    }
    t = pub.call("POST", "/templates", json={"title": "Dienstvertrag", "structure": structure}).json()
    graph = pub.call("GET", "/rule-graph", params={"templateId": t["id"]}).json()
    assert {n["title"]: n["slotId"] for n in graph["nodes"]} == {
        "Pauschalvergütung": "pauschal",
        "Stundenvergütung": "stunde",
    }
    assert sorted((e["type"], e["severity"], e["targetInTemplate"]) for e in graph["edges"]) == [
        ("incompatible_with", "hard", True),
        ("requires", "soft", False),
    ]
    assert codes(pub.call("GET", "/rule-graph", params={"templateId": str(uuid.uuid4())})) == (
        404,
        "template.not_found",
    )
