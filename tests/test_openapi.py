"""The OpenAPI document describes every answer: the web client is generated from it (issue 9).

Every 2xx response of every operation names its schema (a ``$ref`` to a component, or a list
of one); the named schemas say what their members hold instead of "any object"; every
``$ref`` resolves. What the answers actually contain is checked against these schemas by the
fuzz run (tests/test_api_fuzz.py) and by ``test_answers_match_their_schemas`` below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI

from servanda.identity.principal import Permission
from tests.test_rbac_matrix import api_routes, declared

# Answers without a JSON body: 204s, and the files listed here with the media types they declare.
FILE_RESPONSES = {
    ("GET", "/api/v1/branding/logo"): {"image/png", "image/svg+xml"},
    ("GET", "/api/v1/tenant/branding/logo"): {"image/png", "image/svg+xml"},
    ("GET", "/api/v1/identity/audit-logs/export"): {"text/csv", "application/x-ndjson"},
    ("GET", "/api/v1/export-jobs/{job_id}/download"): {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/pdf",
    },
    ("GET", "/api/v1/export-jobs/batch/{batch_id}/download"): {"application/zip"},
}

# Members whose value is any JSON by design: authored values whose type the question or parameter
# type decides, and audit details (each action records its own).
ANY_JSON = {
    "AuditEventOut.details",
    "Condition.value",
    "Parameter.default",
    "Parameter.options",
    *(
        f"{question}.{member}"
        for question in ("Question", "InterviewQuestion")
        for member in ("defaultValue", "options", "validation")
    ),
    "QuestionCondition.value",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    from servanda.app import create_app
    from servanda.platform.config import load_settings

    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    return create_app(load_settings(servanda_env="test", servanda_data_dir=data_dir), "postgresql://-")


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                yield method.upper(), path, operation


def named(schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return set(schema) == {"$ref"}
    return schema.get("type") == "array" and named(schema.get("items", {}))


def test_every_success_answer_names_its_schema(document: dict[str, Any]) -> None:
    untyped = []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content", {})
            where = f"{method} {path} {status} ({operation['operationId']})"
            if status == "204":
                if content:
                    untyped.append(f"{where}: a 204 with a body")
                continue
            if (method, path) in FILE_RESPONSES:
                if set(content) != FILE_RESPONSES[method, path]:
                    untyped.append(f"{where}: {sorted(content)}, not {sorted(FILE_RESPONSES[method, path])}")
                continue
            schema = content.get("application/json", {}).get("schema")
            if schema is None or not named(schema):
                untyped.append(f"{where}: {json.dumps(schema)[:200]}")
    assert untyped == []


def _any_json(schema: dict[str, Any]) -> bool:
    """Any JSON value, or an object with members nobody named."""
    if not schema or set(schema) <= {"title", "description", "default"}:
        return True
    if schema.get("type") == "object" and "properties" not in schema:
        extra = schema.get("additionalProperties", True)
        return extra is True or (isinstance(extra, dict) and _any_json(extra))
    if schema.get("type") == "array":
        return _any_json(schema.get("items", {}))
    return any(_any_json(s) for s in schema.get("anyOf", []) if s.get("type") != "null")


def _reachable(document: dict[str, Any]) -> set[str]:
    """The component schemas the success answers use, directly or through other components."""
    components = document["components"]["schemas"]
    todo = [
        response["content"]["application/json"]["schema"]
        for _, _, operation in operations(document)
        for status, response in operation["responses"].items()
        if status.startswith("2") and "application/json" in response.get("content", {})
    ]
    seen: set[str] = set()
    while todo:
        for ref in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(todo.pop())):
            if ref not in seen:
                seen.add(ref)
                todo.append(components[ref])
    return seen


def test_answer_schemas_say_what_their_members_hold(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    vague = []
    for name in sorted(_reachable(document)):
        for member, schema in components[name].get("properties", {}).items():
            where = f"{name.removesuffix('-Output')}.{member}"
            if _any_json(schema) and where not in ANY_JSON:
                vague.append(f"{where}: {json.dumps(schema)[:200]}")
    assert vague == []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs - set(document["components"]["schemas"]) == set()


def test_the_check_sees_an_untyped_answer(tmp_path: Path) -> None:
    """The walk above would notice a route that answers ``dict[str, Any]``."""
    app = FastAPI()

    @app.get("/loose", operation_id="loose")
    async def loose() -> dict[str, Any]:
        return {}

    document = app.openapi()
    schema = document["paths"]["/loose"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert not named(schema)
    assert _any_json(schema)


# -- the document is the contract (issue 10, point 3) -------------------------------------------

ERROR_STATUSES = {"400", "401", "403", "404", "409", "412", "413", "415", "422", "429", "503"}


def test_every_operation_has_a_summary_and_a_description(app: FastAPI) -> None:
    """Given by the route itself (``summary=``, docstring or ``description=``), not made up by FastAPI."""
    missing = [
        f"{sorted(route.methods)} {route.path}: summary={route.summary!r} description={route.description!r}"
        for route in api_routes(app)
        if route.include_in_schema and not (route.summary and route.description.strip())
    ]
    assert missing == []


def test_bearer_security_on_every_signed_in_operation(app: FastAPI, document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    wrong = []
    for route in api_routes(app):
        public = declared(route) is Permission.PUBLIC
        for method in route.methods:
            security = document["paths"][route.path_format][method.lower()].get("security")
            if security != (None if public else [{"bearer": []}]):
                wrong.append(f"{method} {route.path}: {security}")
    assert wrong == []
    assert any(declared(r) is Permission.PUBLIC for r in api_routes(app))  # the rule saw public routes


def expected_errors(route: Any, operation: dict[str, Any]) -> set[str]:
    """The error statuses an operation must document, by rule."""
    permission = declared(route)
    expected = set()
    if permission is not Permission.PUBLIC:
        expected |= {"401", "429"}
    if permission not in (Permission.PUBLIC, Permission.AUTHENTICATED):
        expected.add("403")
    if "{" in route.path_format:
        expected.add("404")
    if operation.get("parameters") or "requestBody" in operation:
        expected.add("422")
    expected.add("503")  # every route runs SQL: the principal lookup, or a public route's own session
    return expected


def test_every_operation_documents_its_errors_as_problems(app: FastAPI, document: dict[str, Any]) -> None:
    missing, untyped = [], []
    for route in api_routes(app):
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            where = f"{method} {route.path}"
            documented = set(operation["responses"])
            if lacking := expected_errors(route, operation) - documented:
                missing.append(f"{where}: {sorted(lacking)}")
            for status in documented & ERROR_STATUSES:
                response = operation["responses"][status]
                content = response.get("content", {})
                schema = content.get("application/problem+json", {}).get("schema")
                if set(content) != {"application/problem+json"} or schema != {
                    "$ref": "#/components/schemas/Problem"
                }:
                    untyped.append(f"{where} {status}: {sorted(content)}")
                if "`" not in response["description"]:  # the possible codes are named
                    untyped.append(f"{where} {status}: no codes in {response['description']!r}")
    assert missing == []
    assert untyped == []
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "code", "instance", "errors"}
    field_error = document["components"]["schemas"]["ProblemFieldError"]
    assert set(field_error["properties"]) == {"field", "message"}
    # FastAPI's own validation-error shape is gone: a 422 is a problem document like every error.
    assert "HTTPValidationError" not in document["components"]["schemas"]


# The 503s of a fault (issue 15, point 5): the database away or its pool exhausted on every route,
# the identity provider unreachable (OIDC) where a bearer token is checked, and the object storage
# unreadable or read-only where a request reads or writes it.
DATABASE_CODES = {"service.database_unavailable", "service.database_busy"}
STORAGE_ROUTES = {
    ("PUT", "/api/v1/tenant/branding/logo"),
    ("GET", "/api/v1/tenant/branding/logo"),
    ("GET", "/api/v1/branding/logo"),
    ("PUT", "/api/v1/export/style-templates/{style_template_id}/base-docx"),
    ("PUT", "/api/v1/export/style-templates/{style_template_id}/logo"),
    ("GET", "/api/v1/export-jobs/{job_id}/download"),
    ("GET", "/api/v1/export-jobs/batch/{batch_id}/download"),
}


def _depends_on(dependant: Any, call: Any) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def reads_or_writes_storage(route: Any, method: str, operation: dict[str, Any]) -> bool:
    """A route with the storage dependency that answers a stored file or takes an upload.

    Removing a stored file happens after the commit, best effort (``platform.db.after_commit``),
    so a delete never answers 503 for the storage.
    """
    from servanda.platform.http import AppStorage

    storage = get_args(AppStorage)[1].dependency
    transfers = (method, route.path_format) in FILE_RESPONSES or any(
        media.startswith("multipart/") for media in operation.get("requestBody", {}).get("content", {})
    )
    return transfers and _depends_on(route.dependant, storage)


def test_every_operation_names_its_503_codes(app: FastAPI, document: dict[str, Any]) -> None:
    wrong, storage_routes = [], set()
    for route in api_routes(app):
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            response = operation["responses"].get("503")
            if response is None:
                wrong.append(f"{method} {route.path}: no 503")
                continue
            codes = set(response["content"]["application/problem+json"].get("examples", {}))
            expected = set(DATABASE_CODES)
            if declared(route) is not Permission.PUBLIC:
                expected.add("auth.idp_unavailable")
            if reads_or_writes_storage(route, method, operation):
                expected.add("storage.unavailable")
                storage_routes.add((method, route.path_format))
            if codes != expected:
                wrong.append(f"{method} {route.path}: {sorted(codes)}, not {sorted(expected)}")
            if "Retry-After" not in response.get("headers", {}):
                wrong.append(f"{method} {route.path}: 503 without Retry-After")
    assert wrong == []
    assert storage_routes == STORAGE_ROUTES  # the rule sees every upload and stored-file download


def test_routes_name_the_codes_they_can_give(document: dict[str, Any]) -> None:
    """Spot checks of codes declared on the routes (merged with the general ones)."""

    def codes(method: str, path: str, status: str) -> set[str]:
        media = document["paths"][path][method]["responses"][status]["content"]["application/problem+json"]
        return set(media["examples"])

    assert {"contract.has_conflicts", "contract.incomplete"} <= codes(
        "post", "/api/v1/contracts/{contract_id}/complete", "409"
    )
    assert {"auth.forbidden", "tenant.suspended"} <= codes("get", "/api/v1/contracts", "403")
    assert "auth.invalid_credentials" in codes("post", "/api/v1/auth/login", "401")
    assert codes("post", "/api/v1/content/clauses/{entity_id}/versions/{version_id}/approve", "403") >= {
        "content.not_reviewer",
        "content.four_eyes",
    }
    assert "template.version_not_found" in codes(
        "get", "/api/v1/content/templates/{entity_id}/versions/{version_id}", "404"
    )
    assert {"415", "413"} <= set(document["paths"]["/api/v1/tenant/branding/logo"]["put"]["responses"])
    # optimistic concurrency: every call that changes a contract may answer 412 (If-Match)
    contract = "/api/v1/contracts/{contract_id}"
    for method, path in [
        ("patch", contract),
        ("delete", contract),
        ("post", f"{contract}/resolutions"),
        ("post", f"{contract}/complete"),
        ("post", f"{contract}/archive"),
        ("post", f"{contract}/upgrade"),
    ]:
        assert codes(method, path, "412") == {"contract.modified_elsewhere"}, (method, path)
        assert "If-Match" in {p["name"] for p in document["paths"][path][method]["parameters"]}
    assert "ETag" in document["paths"][contract]["get"]["responses"]["200"]["headers"]


def test_main_request_bodies_have_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in (
        "LoginRequest",
        "ContractCreate",
        "ContractPatch",
        "ClauseCreate",
        "SubmitRequest",
        "InviteRequest",
    ):
        examples = schemas[name].get("examples")
        assert examples, name
        for example in examples:  # in the wire format: members the schema names
            assert set(example) <= set(schemas[name]["properties"]), name


EXTERNAL_URL = re.compile(r"""(?:https?:)?//(?!testserver[/:"'])[a-z0-9.-]+""", re.IGNORECASE)


def test_docs_page_is_served_from_the_package(app: FastAPI) -> None:
    """Swagger UI works on an air-gapped install: the page, its scripts and styles come from us."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert EXTERNAL_URL.findall(html) == [], "the docs page names another server"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    expected_types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    assert {Path(a).suffix for a in assets} == set(expected_types)
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert expected_types[Path(asset).suffix] in answer.headers["content-type"], asset
        assert len(answer.content) > 100, asset
    assert 'data-openapi-url="/api/v1/openapi.json"' in html
    # No inline script: the CSP allows scripts from this server only, and no other origin at all.
    assert "<script>" not in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "http" not in csp and "unsafe-eval" not in csp
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_check_sees_an_external_url() -> None:
    assert EXTERNAL_URL.findall('<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/x.js">')
    assert EXTERNAL_URL.findall('<link href="//fonts.example.org/x.css">')
    assert not EXTERNAL_URL.findall('<script src="/api/docs/assets/swagger-ui-bundle.js">')
    assert not EXTERNAL_URL.findall('<a href="http://testserver/api/docs">')
