"""Domain errors map to problem documents in one place, with the status decided by their class."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from servanda.platform import errors
from servanda.platform.problems import DOMAIN_STATUS, install_problem_handlers, problem_of


def all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(all_subclasses(c) for c in found))


def test_every_domain_error_class_has_a_status() -> None:
    assert all_subclasses(errors.DomainError) == set(DOMAIN_STATUS)


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
