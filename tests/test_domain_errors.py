"""Domain errors map to problem documents in one place, with the status decided by their class."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from servanda.platform import errors
from servanda.platform.problems import (
    DOMAIN_STATUS,
    Problem,
    install_problem_handlers,
    problem_body,
    problem_of,
)


def all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(all_subclasses(c) for c in found))


def test_every_domain_error_class_has_a_status() -> None:
    # Every class of platform/errors.py is mapped itself; a subclass elsewhere (e.g. the rate
    # limiter's RateLimited) inherits its base's status through the MRO, as problem_of does it.
    assert {c for c in all_subclasses(errors.DomainError) if c.__module__ == errors.__name__} == set(
        DOMAIN_STATUS
    )
    for cls in all_subclasses(errors.DomainError):
        assert any(base in DOMAIN_STATUS for base in cls.__mro__), cls


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("contract.not_found", "Der Vertrag wurde nicht gefunden."), 404),
        (errors.Conflict("contract.not_draft", "Nur Entwürfe können geändert werden."), 409),
        (errors.Forbidden("content.four_eyes", "Vier-Augen-Prinzip."), 403),
        (
            errors.Invalid("request.validation_failed", "Ungültig.", errors=[{"field": "a", "message": "b"}]),
            422,
        ),
        (errors.GateFailed("content.gates_failed", "Gates.", extra={"gates": []}), 422),
        (errors.TooManyRequests("auth.too_many_attempts", "Zu viele Versuche.", retry_after=30), 429),
    ],
)
def test_problem_of(error: errors.DomainError, status: int) -> None:
    problem = problem_of(error)
    assert (problem.status, problem.code, problem.detail) == (status, error.code, error.detail)
    assert problem.errors == error.errors
    assert problem.extra == error.extra
    assert problem.headers == ({"Retry-After": "30"} if status == 429 else {})


def test_a_raised_domain_error_answers_problem_json() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/x")
    async def x() -> None:
        raise errors.TooManyRequests("auth.too_many_attempts", "Zu viele Versuche.", retry_after=7)

    response = TestClient(app).get("/x")
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert body["status"] == 429
    assert body["code"] == "auth.too_many_attempts"
    assert body["detail"] == "Zu viele Versuche."


# Where ``Problem`` (an HTTP answer) may still be built: the HTTP layer only.
SRC = Path(__file__).resolve().parents[1] / "src" / "servanda"
HTTP_LAYER = {
    "platform/http.py",  # middleware: body limits, NUL bytes, the 500 answer
    "platform/problems.py",  # the mapping itself
    "platform/health.py",
    "identity/dependencies.py",  # the 401 with its WWW-Authenticate challenge
}


def _http_layer(relative: str) -> bool:
    return relative in HTTP_LAYER or relative.endswith("endpoints.py") or relative == "app.py"


def problem_uses(root: Path) -> list[str]:
    """``file:line`` of every import or use of ``Problem`` outside the HTTP layer below ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if _http_layer(relative):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            imported = isinstance(node, ast.ImportFrom) and any(a.name == "Problem" for a in node.names)
            named = isinstance(node, ast.Name) and node.id == "Problem"
            attribute = isinstance(node, ast.Attribute) and node.attr == "Problem"
            if imported or named or attribute:
                found.append(f"{relative}:{getattr(node, 'lineno', 0)}")
    return found


def test_services_raise_domain_errors_not_problems() -> None:
    """Services, repositories, gates, packs, the CLI and platform adapters raise ``platform.errors``;
    only the HTTP layer builds ``Problem`` documents (``problem_of`` maps the rest in one place)."""
    assert problem_uses(SRC) == []


def test_the_problem_walk_finds_a_use(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "service.py").write_text(
        "from servanda.platform.problems import Problem\n\ndef f():\n    raise Problem(404, 'x')\n"
    )
    (tmp_path / "content" / "endpoints.py").write_text("from servanda.platform.problems import Problem\n")
    assert problem_uses(tmp_path) == ["content/service.py:1", "content/service.py:4"]


# RFC 9457: ``extra`` members never replace a standard member (``status`` is always the HTTP code).
def problem_extras(root: Path) -> tuple[list[str], list[str]]:
    """Every ``extra=`` member name written below ``root`` (``file:line:key``), and the ``file:line`` of
    each ``extra=`` whose names cannot be read from the source (not a dict literal with string keys)."""
    keys, unreadable = [], []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg != "extra" or isinstance(keyword.value, ast.Constant):
                    continue  # pydantic's ``extra="forbid"`` is a model setting, not a member
                where = f"{relative}:{keyword.value.lineno}"
                value = keyword.value
                if isinstance(value, ast.Dict) and all(
                    isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys
                ):
                    keys.extend(f"{where}:{k.value}" for k in value.keys if isinstance(k, ast.Constant))
                else:
                    unreadable.append(where)
    return keys, unreadable


# The one place that passes extras on without naming them: a domain error's, checked when it was raised.
PASSES_EXTRA_ON = {"platform/problems.py"}


def test_no_problem_the_code_raises_overwrites_a_standard_member() -> None:
    keys, unreadable = problem_extras(SRC)
    assert keys, "the walk found no extra members at all"
    clashes = [k for k in keys if k.rsplit(":", 1)[1] in errors.RESERVED_MEMBERS]
    assert clashes == []
    assert [u for u in unreadable if u.rsplit(":", 1)[0] not in PASSES_EXTRA_ON] == []


def test_the_extra_walk_finds_a_clash(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text(
        "def f(c, e):\n"
        "    raise Conflict('x.y', 'z', extra={'status': c.status})\n"
        "    raise Conflict('x.y', 'z', extra=e)\n"
        "M = ConfigDict(extra='forbid')\n"
    )
    assert problem_extras(tmp_path) == (["service.py:2:status"], ["service.py:3"])


@pytest.mark.parametrize("member", sorted(errors.RESERVED_MEMBERS))
def test_an_extra_naming_a_standard_member_is_refused(member: str) -> None:
    with pytest.raises(ValueError, match="standard problem members"):
        errors.Conflict("contract.not_draft", "Nur Entwürfe.", extra={member: "completed"})
    with pytest.raises(ValueError, match="standard problem members"):
        Problem(409, "contract.not_draft", extra={member: "completed"})


def test_the_standard_members_win_even_over_a_smuggled_extra() -> None:
    problem = problem_of(errors.Conflict("contract.not_draft", "Nur Entwürfe.", extra={"currentStatus": "x"}))
    problem.extra["status"] = "completed"  # bypassing the constructor's check
    body = problem_body(problem, "/api/v1/contracts/1")
    assert (body["status"], body["currentStatus"], body["code"]) == (409, "x", "contract.not_draft")
