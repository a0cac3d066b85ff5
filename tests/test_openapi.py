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
from typing import Any

import pytest
from fastapi import FastAPI

# Answers without a JSON body: 204s, and the files listed here with the media types they declare.
FILE_RESPONSES = {
    ("GET", "/api/v1/branding/logo"): {"image/png", "image/svg+xml"},
    ("GET", "/api/v1/tenant/branding/logo"): {"image/png", "image/svg+xml"},
    ("GET", "/api/v1/identity/audit-logs/export"): {"text/csv", "application/x-ndjson"},
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
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from servanda.app import create_app
    from servanda.platform.config import load_settings

    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    app: FastAPI = create_app(
        load_settings(servanda_env="test", servanda_data_dir=data_dir), "postgresql://-"
    )
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
