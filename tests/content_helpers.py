"""Shared helpers for content tests: a publisher tenant with its editors."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import ensure_user, login_as

C = "/api/v1/content"


class Publisher:
    """A vendor tenant with an author, a reviewer, a second editor and an admin."""

    def __init__(self, api: TestClient, su: psycopg.Connection, tenant: uuid.UUID) -> None:
        self.api = api
        self.tenant = tenant
        self.author = login_as(api, su, tenant, "editor", "redakteur@verlag.de")
        self.reviewer_id = ensure_user(su, tenant, "editor", "pruefer@verlag.de")
        self.reviewer = login_as(api, su, tenant, "editor", "pruefer@verlag.de")
        self.other = login_as(api, su, tenant, "editor", "dritter@verlag.de")
        self.admin = login_as(api, su, tenant, "admin", "admin@verlag.de")

    def call(self, method: str, path: str, who: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.api.request(method, f"{C}{path}", headers=who or self.author, **kw)

    def clause(
        self,
        title: str = "Vertraulichkeit",
        content: str = "Die Parteien wahren Stillschweigen.",
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a clause; returns its first version (the answer embeds it in the new clause)."""
        response = self.call("POST", "/clauses", json={"title": title, "content": content, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json()["version"])

    def publish(self, kind: str, version: dict[str, Any]) -> dict[str, Any]:
        base = f"/{kind}/{version['entityId']}/versions/{version['id']}"
        submitted = self.call("POST", f"{base}/submit", json={"reviewerId": str(self.reviewer_id)})
        assert submitted.status_code == 200, submitted.text
        assert self.call("POST", f"{base}/approve", self.reviewer).status_code == 200
        published = self.call("POST", f"{base}/publish")
        assert published.status_code == 200, published.text
        return dict(published.json())


def rule(type: str, target: str, severity: str = "hard", message: str = "m") -> dict[str, Any]:
    """A rule naming one other clause (requires, forbids, incompatible_with)."""
    return {"type": type, "targetClauseIds": [target], "severity": severity, "message": message}


def path(v: dict[str, Any], kind: str = "clauses") -> str:
    return f"/{kind}/{v['entityId']}/versions/{v['id']}"


def codes(response: Any) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")
