"""API fuzzing of the OpenAPI document with schemathesis: no 5xx and no schema violations.

Every operation is exercised with generated (mostly invalid) input as an admin
of a seeded tenant. Problem responses (401/403/404/409/422) are the expected
answer to most of it; what must never happen is a server error or a
documented response that contradicts its schema. (The operations are driven
one by one with hypothesis here: schemathesis' lazy pytest loader does not
work with the pytest version in use.)

Generated input rarely reaches a success answer of a route that needs real
objects, so ``test_success_answers_match_their_schemas`` walks every contract,
law-firm template, content and catalog operation with real objects and checks
each success answer against its schema too. Both runs check strictly: an answer
may not carry members its schema does not name (the web client is generated
from the document, so an undocumented member is one the client cannot see).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import psycopg
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest
from tests.content_helpers import Publisher
from tests.test_contracts import PACK, answer_everything, publish_pack

EXAMPLES_PER_OPERATION = 6
# No 5xx, answers as their schema says, and no status code the operation does not document.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# The operations whose success answers the walk below must all have checked.
WALKED = ("/api/v1/contracts", "/api/v1/lawfirm-templates", "/api/v1/content", "/api/v1/catalog")


def strict_schema(api: TestClient) -> OpenApiSchema:
    """The API's document with ``additionalProperties: false`` on every schema that names its members."""
    document = copy.deepcopy(api.app.openapi())  # type: ignore[attr-defined]
    for component in document["components"]["schemas"].values():
        if "properties" in component:
            component.setdefault("additionalProperties", False)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = api.app
    return schema


def test_no_server_errors_and_documented_shapes(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    headers = login_as(api, su, make_tenant("verlag-fuzz", type="vendor"), "admin", "admin@fuzz.de")
    schema = strict_schema(api)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50
    failures: list[str] = []
    for operation in operations:
        if operation.path.endswith("/logout"):
            continue  # ending the session would turn every later case into a 401

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        # Collect all, so one run shows every broken operation (schemathesis raises its failures
        # as a BaseExceptionGroup).
        except (Exception, BaseExceptionGroup) as error:
            found = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
            reasons = " | ".join(" ".join(str(e).split())[:300] for e in found)
            failures.append(f"{operation.method.upper()} {operation.path}: {reasons}")
    assert failures == [], "\n".join(failures)


class Walk:
    """Calls operations through schemathesis with real input; every answer must be a documented success."""

    def __init__(self, api: TestClient) -> None:
        self.schema = strict_schema(api)
        self.client = api
        self.checked: set[tuple[str, str]] = set()

    def __call__(
        self,
        method: str,
        path: str,
        who: dict[str, str],
        body: Any = NOT_SET,
        query: dict[str, Any] | None = None,
        **path_parameters: Any,
    ) -> Any:
        operation = self.schema[path][method]
        case = operation.Case(path_parameters=path_parameters or None, query=query, body=body)
        response = case.call_and_validate(headers=who, checks=CHECKS)
        assert 200 <= response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        if response.status_code == 201:  # names the created resource, which the caller can read
            location = response.headers.get("location")  # schemathesis: lower-case names, lists of values
            location = location[0] if isinstance(location, list) else location
            assert location, f"{method} {path}: 201 without Location"
            assert self.client.get(location, headers=who).status_code == 200, f"{method} {path}: {location}"
        self.checked.add((method, path))
        return response.json() if response.content else None


def test_success_answers_match_their_schemas(
    api: TestClient, su: psycopg.Connection, make_tenant: Any, clean_db: DbUnderTest
) -> None:
    walk = Walk(api)
    pub = Publisher(api, su, make_tenant("verlag-x", type="vendor"))
    author, reviewer = pub.author, pub.reviewer
    C = "/api/v1/content"
    V = "/versions/{version_id}"

    # content: a clause through the whole workflow, then a template with it
    clause = walk("POST", f"{C}/clauses", author, {"title": "Vertraulichkeit", "content": "Still."})
    ids = {"entity_id": clause["id"], "version_id": clause["version"]["id"]}
    walk("GET", f"{C}/clauses", author, query={"q": "vertraul"})
    walk("GET", f"{C}/clauses/{{entity_id}}", author, entity_id=clause["id"])
    walk("PATCH", f"{C}/clauses/{{entity_id}}{V}", author, {"content": "Die Parteien schweigen."}, **ids)
    submit = {"reviewerId": str(pub.reviewer_id)}
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/submit", author, submit, **ids)
    walk("GET", f"{C}/review-queue", reviewer)
    walk("GET", f"{C}/reviewers", author, query={"versionId": ids["version_id"]})
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/request-changes", reviewer, {"comment": "Kürzer."}, **ids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/submit", author, submit, **ids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/reject", reviewer, {"comment": "Nein."}, **ids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/submit", author, submit, **ids)
    walk("GET", f"{C}/clauses/{{entity_id}}{V}/publishing-gates", author, **ids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/approve", reviewer, **ids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/publish", author, **ids)
    walk("GET", f"{C}/clauses/{{entity_id}}{V}", author, **ids)
    walk("GET", f"{C}/clauses/{{entity_id}}{V}/reviews", author, **ids)
    walk("GET", f"{C}/clauses/{{entity_id}}/changelog", author, entity_id=clause["id"])
    walk("POST", f"{C}/clauses/{{entity_id}}/versions", author, {"changeNote": "v2"}, entity_id=clause["id"])
    walk("GET", f"{C}/clauses/{{entity_id}}/versions", author, entity_id=clause["id"])

    structure = {
        "sections": [
            {
                "id": "teil-1",
                "title": "Allgemeines",
                "slots": [{"id": "s1", "clauseId": clause["id"], "type": "required"}],
            }
        ]
    }
    interview = [{"key": "name", "text": "Name?", "type": "text", "required": True}]
    template = walk("POST", f"{C}/templates", author, {"title": "NDA", "structure": structure})
    tids = {"entity_id": template["id"], "version_id": template["version"]["id"]}
    walk("PATCH", f"{C}/templates/{{entity_id}}{V}", author, {"interview": interview}, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/submit", author, submit, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/request-changes", reviewer, {"comment": "?"}, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/submit", author, submit, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/reject", reviewer, {"comment": "!"}, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/submit", author, submit, **tids)
    walk("GET", f"{C}/templates/{{entity_id}}{V}/publishing-gates", author, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/approve", reviewer, **tids)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/publish", author, **tids)
    walk("GET", f"{C}/templates", author)
    walk("GET", f"{C}/templates/{{entity_id}}", author, entity_id=template["id"])
    walk("GET", f"{C}/templates/{{entity_id}}{V}", author, **tids)
    walk("GET", f"{C}/templates/{{entity_id}}{V}/reviews", author, **tids)
    walk("GET", f"{C}/templates/{{entity_id}}/changelog", author, entity_id=template["id"])
    walk("POST", f"{C}/templates/{{entity_id}}/versions", author, {}, entity_id=template["id"])
    walk("GET", f"{C}/templates/{{entity_id}}/versions", author, entity_id=template["id"])
    walk("GET", f"{C}/rule-graph", author, query={"templateId": template["id"]})
    walk("GET", f"{C}/changelog", author)
    pack = {
        "format": "servanda-content-pack/1",
        "name": "Klein",
        "templates": [],
        "clauses": [{"key": "a", "title": "A", "content": "Text."}],
    }
    walk("POST", f"{C}/import", author, pack)

    # the catalog and contracts of a law firm, on the reference pack of a publisher
    vendor = make_tenant("verlag-demo", type="vendor")
    ensure_user(su, vendor, "admin", "admin@verlag-demo.de")
    publish_pack(clean_db.app, "verlag-demo", PACK)
    matrix = str(
        su.execute("SELECT id FROM templates WHERE external_key = 'arbeitsvertrag-matrix'").fetchone()[0]
    )  # type: ignore[index]
    lawyer = login_as(api, su, make_tenant("kanzlei-fuzz"), "admin", "admin@kanzlei-fuzz.de")
    walk("GET", "/api/v1/catalog/templates", lawyer, query={"q": "Arbeitsvertrag"})
    walk("GET", "/api/v1/catalog/templates/{template_id}", lawyer, template_id=matrix)
    walk("POST", f"{C}/templates/{{entity_id}}{V}/deprecate", author, **tids)
    walk("POST", f"{C}/clauses/{{entity_id}}{V}/deprecate", author, **ids)

    K = "/api/v1/contracts"
    contract = walk("POST", K, lawyer, {"templateId": matrix, "title": "Arbeitsvertrag Müller"})
    cid = contract["id"]
    walk("GET", K, lawyer, query={"q": "müller"})
    walk("GET", f"{K}/{{contract_id}}", lawyer, contract_id=cid)
    answers = {"answers": {"mitarbeiterzahl": 5, "branche": "IT"}}
    walk("PATCH", f"{K}/{{contract_id}}", lawyer, answers, contract_id=cid)
    walk("POST", f"{K}/{{contract_id}}/validate", lawyer, contract_id=cid)
    c04 = str(
        su.execute(
            "SELECT id FROM clauses WHERE external_key = 'c04' AND tenant_id = %s", (vendor,)
        ).fetchone()[0]  # type: ignore[index]
    )
    slot = next(s["slotId"] for s in contract["slots"] if any(o["clauseId"] == c04 for o in s["options"]))
    conflict = api.patch(f"{K}/{cid}", json={"selectedSlots": {slot: c04}}, headers=lawyer).json()
    violation = conflict["validation"]["messages"][0]
    option = next(o for o in violation["resolutionOptions"] if o["clauseId"] == c04)  # back to defaults
    fix = {"fingerprint": violation["fingerprint"], "optionId": option["optionId"]}
    walk("POST", f"{K}/{{contract_id}}/resolutions", lawyer, fix, contract_id=cid)
    walk("GET", f"{K}/{{contract_id}}/preview", lawyer, contract_id=cid)
    changed = json.loads(json.dumps(PACK))
    c10 = next(c for c in changed["clauses"] if c["key"] == "c10")
    c10["content"] = c10["content"].replace("Der Arbeitnehmer", "Die beschäftigte Person", 1)
    publish_pack(clean_db.app, "verlag-demo", changed)
    walk("GET", f"{K}/{{contract_id}}/version-info", lawyer, contract_id=cid)
    walk("GET", f"{K}/{{contract_id}}/upgrade-preview", lawyer, contract_id=cid)
    derived = walk("POST", f"{K}/{{contract_id}}/derive", lawyer, contract_id=cid)
    walk("POST", f"{K}/{{contract_id}}/upgrade", lawyer, {}, contract_id=cid)
    walk("DELETE", f"{K}/{{contract_id}}", lawyer, contract_id=derived["contract"]["id"])
    complete = answer_everything(api, {"lawyer": lawyer}, api.get(f"{K}/{cid}", headers=lawyer).json())
    walk("POST", f"{K}/{{contract_id}}/complete", lawyer, contract_id=complete["id"])
    walk("POST", f"{K}/{{contract_id}}/save-as-template", lawyer, {"title": "Muster"}, contract_id=cid)
    walk("POST", f"{K}/{{contract_id}}/archive", lawyer, contract_id=cid)

    L = "/api/v1/lawfirm-templates"
    own = walk(
        "POST",
        L,
        lawyer,
        {"templateId": matrix, "title": "Kanzleimuster", "customAnswers": {"branche": "IT"}},
    )
    walk("GET", L, lawyer)
    walk("GET", f"{L}/{{template_id}}", lawyer, template_id=own["id"])
    walk("PATCH", f"{L}/{{template_id}}", lawyer, {"title": "Kanzleimuster 2"}, template_id=own["id"])
    walk("DELETE", f"{L}/{{template_id}}", lawyer, template_id=own["id"])

    walkable = {
        (operation.method.upper(), operation.path)
        for operation in (result.ok() for result in walk.schema.get_all_operations())
        if operation.path.startswith(WALKED)
    }
    assert walkable - walk.checked == set()
