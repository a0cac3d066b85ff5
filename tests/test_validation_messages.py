"""Request validation answers in German (English with ``Accept-Language: en``), by pydantic error type."""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections.abc import Callable
from enum import Enum
from typing import Any, Literal

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator
from pydantic_core.core_schema import ErrorType

from servanda.platform.api_models import ApiInput
from servanda.platform.validation_messages import (
    FALLBACK,
    MESSAGES,
    NOT_FROM_REQUESTS,
    InputError,
    language,
    message,
)
from tests.auth_helpers import login_as

# What pydantic writes on its own ("Field required", "Input should be ...", "Value error, ...",
# "String should have at least ..."): none of it may reach a user.
ENGLISH_DEFAULTS = (
    "Field required",
    "Input should",
    "Value error",
    "String should",
    "List should",
    "should be",
)


def test_every_error_type_a_request_can_cause_has_both_messages() -> None:
    known = set(typing.get_args(ErrorType))
    assert known >= NOT_FROM_REQUESTS
    assert set(MESSAGES) == known - NOT_FROM_REQUESTS, "a pydantic error type without a German message"
    for kind, (de, en) in MESSAGES.items():
        assert de and en and de != en, kind


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "de"),
        ("", "de"),
        ("en", "en"),
        ("EN", "en"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "en"),
        ("en;q=0.5, de;q=0.8", "de"),
        ("de;q=0.5, en", "en"),
        ("en;q=0", "de"),
        ("en;q=0.0, *;q=0.1", "de"),
        ("*", "de"),
        ("en;q=abc", "de"),
        ("en ; q = 0.7", "en"),
        ("de, en", "de"),
        ("en, de", "en"),
        ("garbage;;;,,", "de"),
    ],
)
def test_the_language_follows_accept_language_quality_values(header: str | None, expected: str) -> None:
    assert language(header) == expected


class Role(Enum):
    ADMIN = "admin"
    EDITOR = "editor"


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="x", min_length=1, max_length=5)
    code: str = Field(default="123456", pattern=r"^[0-9]{6}$")
    role: Literal["admin", "editor", "user"] = "user"
    kind: Role = Role.ADMIN
    id: uuid.UUID = uuid.UUID(int=0)
    page: int = Field(default=1, ge=1, le=100)
    amount: float = 0.0
    flag: bool = False
    day: dt.date = dt.date(2027, 1, 1)
    at: dt.datetime = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    tags: list[str] = Field(default=[], max_length=2)
    email: EmailStr = "a@example.de"
    nested: dict[str, int] = {}
    required: str = "x"

    @model_validator(mode="after")
    def _own_rule(self) -> Sample:
        if self.name == "boom":
            raise InputError("Genau eines von a und b ist anzugeben.", "exactly one of a and b")
        return self


class Needs(BaseModel):
    required: str


CASES: list[tuple[str, Callable[[], Any], str, str]] = [
    ("missing", lambda: Needs.model_validate({}), "Pflichtfeld fehlt.", "Field required."),
    (
        "extra_forbidden",
        lambda: Sample.model_validate({"unknown": 1}),
        "Dieses Feld ist nicht vorgesehen.",
        "This field is not allowed.",
    ),
    ("string_too_short", lambda: Sample(name=""), "Darf nicht leer sein.", "Must not be empty."),
    (
        "string_too_long",
        lambda: Sample(name="abcdefgh"),
        "Darf höchstens 5 Zeichen lang sein.",
        "Must be at most 5 characters long.",
    ),
    (
        "string_pattern_mismatch",
        lambda: Sample(code="12"),
        "Hat nicht das erwartete Format.",
        "Does not have the expected format.",
    ),
    (
        "literal_error",
        lambda: Sample.model_validate({"role": "boss"}),
        "Erlaubte Werte: 'admin', 'editor' oder 'user'.",
        "Allowed values: 'admin', 'editor' or 'user'.",
    ),
    (
        "enum",
        lambda: Sample.model_validate({"kind": "boss"}),
        "Erlaubte Werte: 'admin' oder 'editor'.",
        "Allowed values: 'admin' or 'editor'.",
    ),
    (
        "uuid_parsing",
        lambda: Sample.model_validate({"id": "not-a-uuid"}),
        "Muss eine gültige UUID sein.",
        "Must be a valid UUID.",
    ),
    (
        "int_parsing",
        lambda: Sample.model_validate({"page": "drei"}),
        "Muss eine ganze Zahl sein.",
        "Must be an integer.",
    ),
    (
        "greater_than_equal",
        lambda: Sample.model_validate({"page": 0}),
        "Muss mindestens 1 sein.",
        "Must be at least 1.",
    ),
    (
        "less_than_equal",
        lambda: Sample.model_validate({"page": 101}),
        "Darf höchstens 100 sein.",
        "Must be at most 100.",
    ),
    (
        "float_parsing",
        lambda: Sample.model_validate({"amount": "viel"}),
        "Muss eine Zahl sein.",
        "Must be a number.",
    ),
    (
        "bool_parsing",
        lambda: Sample.model_validate({"flag": "vielleicht"}),
        "Muss true oder false sein.",
        "Must be true or false.",
    ),
    (
        "date_from_datetime_parsing",
        lambda: Sample.model_validate({"day": "morgen"}),
        "Muss ein gültiges Datum sein.",
        "Must be a valid date.",
    ),
    (
        "datetime_from_date_parsing",
        lambda: Sample.model_validate({"at": "morgen"}),
        "Muss ein gültiger Zeitpunkt sein.",
        "Must be a valid date and time.",
    ),
    (
        "too_long",
        lambda: Sample.model_validate({"tags": ["a", "b", "c"]}),
        "Darf höchstens 2 Einträge haben.",
        "Must have at most 2 items.",
    ),
    ("list_type", lambda: Sample.model_validate({"tags": "a"}), "Muss eine Liste sein.", "Must be a list."),
    (
        "dict_type",
        lambda: Sample.model_validate({"nested": []}),
        "Muss ein Objekt sein.",
        "Must be an object.",
    ),
    ("string_type", lambda: Sample.model_validate({"name": 5}), "Muss ein Text sein.", "Must be a string."),
    (
        "value_error",
        lambda: Sample.model_validate({"email": "kein-at"}),
        "Muss eine gültige E-Mail-Adresse sein.",
        "Must be a valid e-mail address.",
    ),
    (
        "value_error",
        lambda: Sample(name="boom"),
        "Genau eines von a und b ist anzugeben.",
        "exactly one of a and b",
    ),
    (
        "json_invalid",
        lambda: Sample.model_validate_json("{nope"),
        "Der Anfragetext ist kein gültiges JSON.",
        "The request body is not valid JSON.",
    ),
]


@pytest.mark.parametrize(
    ("kind", "invalid", "de", "en"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_error_type_reads_in_german_or_english(
    kind: str, invalid: Callable[[], Any], de: str, en: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        invalid()
    (error,) = raised.value.errors()
    assert error["type"] == kind
    assert (message(error), message(error, "de"), message(error, "en")) == (de, de, en)


def request_models() -> list[type[BaseModel]]:
    """The body model of every route of the application."""
    from servanda.app import create_app
    from servanda.platform.config import load_settings

    app = create_app(load_settings(servanda_env="test"), "postgresql+psycopg://unused@localhost/unused")
    models: list[type[BaseModel]] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute) and route.body_field is not None:
                annotation = route.body_field.field_info.annotation
                if (
                    isinstance(annotation, type)
                    and issubclass(annotation, BaseModel)
                    and annotation not in models
                ):
                    models.append(annotation)
            elif hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes)
            elif hasattr(route, "routes"):
                walk(route.routes)

    walk(list(app.routes))
    return models


WRONG = {
    "string": 12345,
    "integer": "zwölf",
    "number": "viel",
    "boolean": "vielleicht",
    "array": 7,
    "object": 7,
}


def bad_payloads(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Payloads that break each top-level member of ``model`` in every way its JSON schema allows."""
    schema = model.model_json_schema(by_alias=True)
    payloads: list[dict[str, Any]] = [{}, {"unbekanntesFeld": 1}]
    for name, prop in schema.get("properties", {}).items():
        variants = prop.get("anyOf", [prop])
        for variant in variants:
            kind = variant.get("type")
            if kind in WRONG:
                payloads.append({name: WRONG[kind]})
            if "maxLength" in variant:
                payloads.append({name: "x" * (variant["maxLength"] + 1)})
            if variant.get("minLength"):
                payloads.append({name: ""})
            if "pattern" in variant or variant.get("format") in ("uuid", "email", "date", "date-time"):
                payloads.append({name: "?!"})
            if "enum" in variant or "const" in variant:
                payloads.append({name: "gibt-es-nicht"})
            if "maxItems" in variant:
                payloads.append({name: ["x"] * (variant["maxItems"] + 1)})
            for bound, step in (("minimum", -1), ("maximum", 1)):
                if bound in variant:
                    payloads.append({name: variant[bound] + step})
    return payloads


def test_every_request_model_refuses_in_german_only() -> None:
    """Walks the body model of every route and breaks each member: every error has its own German
    message (not the generic fallback, unless pydantic says no more), and no English text leaks."""
    seen: set[str] = set()
    models = request_models()
    assert len(models) > 15
    for model in models:
        for payload in bad_payloads(model):
            try:
                model.model_validate(payload)
            except ValidationError as error:
                for item in error.errors():
                    seen.add(item["type"])
                    assert item["type"] in MESSAGES, (model.__name__, payload, item)
                    de, en = message(item, "de"), message(item, "en")
                    assert not any(s in de for s in ENGLISH_DEFAULTS), (model.__name__, payload, de)
                    assert de != en, (model.__name__, payload, item)
                    if item["type"] == "value_error":  # our own validators say what is wrong
                        assert de != FALLBACK[0], (model.__name__, payload, item)
    assert {"missing", "extra_forbidden", "string_too_long", "literal_error", "uuid_parsing"} <= seen


def test_our_request_validators_raise_bilingual_errors() -> None:
    """Request models' own rules raise InputError (or the engine's ShapeError): never a bare ValueError,
    whose English text would be all a user sees."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "servanda"
    files = [*src.glob("*/schemas.py"), src / "engine" / "shapes.py", src / "platform" / "api_models.py"]
    bare = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = node.exc.func
                if isinstance(name, ast.Name) and name.id in ("ValueError", "AssertionError", "TypeError"):
                    bare.append(f"{path.relative_to(src)}:{node.lineno}")
    assert bare == []
    assert issubclass(InputError, ValueError) and ApiInput.model_config.get("extra") == "forbid"


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
def callers(api: TestClient, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> dict[str, Any]:
    tenant = make_tenant("kanzlei-sprache")
    return {"admin": login_as(api, su, tenant, "admin"), "editor": login_as(api, su, tenant, "editor")}


def bad_requests(callers: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], set[str]]]:
    """(method, path, request kwargs, expected error fields) across modules."""
    admin, editor = callers["admin"], callers["editor"]
    return [
        ("POST", "/api/v1/auth/login", {"json": {}}, {"tenant", "email", "password"}),
        (
            "POST",
            "/api/v1/identity/users",
            {"json": {"email": "kein-at", "displayName": "", "role": "chef"}, "headers": admin},
            {"email", "displayName", "role"},
        ),
        (
            "POST",
            "/api/v1/identity/teams",
            {"json": {"name": "x" * 201, "extra": 1}, "headers": admin},
            {"name", "extra"},
        ),
        (
            "POST",
            "/api/v1/contracts",
            {
                "json": {
                    "templateId": str(uuid.uuid4()),
                    "lawFirmTemplateId": str(uuid.uuid4()),
                    "title": "T",
                },
                "headers": editor,
            },
            {"body"},
        ),
        (
            "GET",
            "/api/v1/contracts",
            {"params": {"status": "offen", "page": 0, "pageSize": 1000}, "headers": editor},
            {"query.status", "query.page", "query.pageSize"},
        ),
        ("GET", "/api/v1/contracts/kein-uuid", {"headers": editor}, {"path.contract_id"}),
        (
            "PATCH",
            "/api/v1/tenant/settings",
            {"json": {"retentionDays": "viele"}, "headers": admin},
            {"retentionDays"},
        ),
        (
            "POST",
            "/api/v1/content/clauses",
            {"content": b"{kein json", "headers": {**editor, "Content-Type": "application/json"}},
            None,
        ),
    ]


def test_bad_requests_across_routes_answer_in_german_and_in_english_on_request(
    api: TestClient, callers: dict[str, Any]
) -> None:
    for method, url, kwargs, fields in bad_requests(callers):
        german = api.request(method, url, **kwargs)
        assert german.status_code == 422, (url, german.text)
        body = german.json()
        assert (body["status"], body["code"], body["detail"]) == (
            422,
            "request.validation_failed",
            "Die Eingabe ist ungültig.",
        )
        assert german.headers["content-language"] == "de"
        assert not any(s in german.text for s in ENGLISH_DEFAULTS), (url, german.text)
        if fields is not None:
            assert {e["field"] for e in body["errors"]} >= fields, (url, body["errors"])
        headers = {**kwargs.get("headers", {}), "Accept-Language": "en-GB,en;q=0.9,de;q=0.5"}
        english = api.request(method, url, **{**kwargs, "headers": headers})
        assert english.status_code == 422
        assert english.headers["content-language"] == "en"
        assert english.json()["detail"] == "The input is invalid."
        # the same fields and code, other words
        assert [e["field"] for e in english.json()["errors"]] == [e["field"] for e in body["errors"]]
        assert english.json()["code"] == body["code"]
        assert [e["message"] for e in english.json()["errors"]] != [e["message"] for e in body["errors"]]


def test_the_messages_name_what_is_wrong(api: TestClient, callers: dict[str, Any]) -> None:
    invite = api.post(
        "/api/v1/identity/users",
        json={"email": "kein-at", "displayName": "Eva", "role": "chef"},
        headers=callers["admin"],
    ).json()
    assert {e["field"]: e["message"] for e in invite["errors"]} == {
        "email": "Muss eine gültige E-Mail-Adresse sein.",
        "role": "Erlaubte Werte: 'admin', 'editor' oder 'user'.",
    }
    both = api.post(
        "/api/v1/contracts",
        json={"templateId": str(uuid.uuid4()), "lawFirmTemplateId": str(uuid.uuid4()), "title": "T"},
        headers={**callers["editor"], "Accept-Language": "de-DE"},
    ).json()
    assert both["errors"] == [
        {"field": "body", "message": "Genau eines der Felder templateId und lawFirmTemplateId ist anzugeben."}
    ]
    login = api.post(
        "/api/v1/auth/login", json={"tenant": "kanzlei-sprache"}, headers={"Accept-Language": "en"}
    )
    assert {e["field"]: e["message"] for e in login.json()["errors"]} == {
        "email": "Field required.",
        "password": "Field required.",
    }
