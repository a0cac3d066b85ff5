"""Substring searches (`q`) take %, _ and \\ literally: they are LIKE wildcards only to the database."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import login_as
from tests.content_helpers import Publisher
from tests.test_contracts import K, create
from tests.test_contracts import world as world  # fixture, re-exported so pytest finds it here

# each character matches only itself: a title containing it, never every title
WILDCARDS = [
    ("%", ["Rabatt 50% Vertrag"]),
    ("_", ["Konto a_b"]),
    ("\\", ["Pfad c\\d"]),
    ("50%", ["Rabatt 50% Vertrag"]),
    ("a_b", ["Konto a_b"]),
    ("c\\d", ["Pfad c\\d"]),
    ("müller", ["Arbeitsvertrag Müller"]),
    ("%vertrag", []),
]


def test_contract_search_q_is_literal(api: TestClient, world: dict[str, Any]) -> None:
    create(api, world)  # "Arbeitsvertrag Müller"
    for title in ("Rabatt 50% Vertrag", "Konto a_b", "Pfad c\\d", "Kontoaxb"):
        body = {"templateId": world["template_id"], "title": title}
        assert api.post(K, json=body, headers=world["lawyer"]).status_code == 201
    for q, found in WILDCARDS:
        listed = api.get(K, params={"q": q}, headers=world["lawyer"]).json()
        assert sorted(i["title"] for i in listed["items"]) == found, q
        assert listed["total"] == len(found), q


def test_client_reference_search_is_literal_too(api: TestClient, world: dict[str, Any]) -> None:
    create(api, world, clientReference="AZ 12/2026")
    create(api, world, clientReference="AZ_99")
    assert api.get(K, params={"q": "az_"}, headers=world["lawyer"]).json()["total"] == 1
    assert api.get(K, params={"q": "%"}, headers=world["lawyer"]).json()["total"] == 0


def test_user_search_q_is_literal(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> None:
    tenant = make_tenant("kanzlei-suche")
    admin = login_as(api, su, tenant, "admin", "admin@kanzlei-suche.de")
    login_as(api, su, tenant, "user", "max_muster@kanzlei-suche.de")
    login_as(api, su, tenant, "user", "maxamuster@kanzlei-suche.de")

    def emails(q: str) -> list[str]:
        users = api.get("/api/v1/identity/users", params={"q": q}, headers=admin).json()["items"]
        return sorted(u["email"] for u in users)

    assert emails("%") == []
    assert emails("_") == ["max_muster@kanzlei-suche.de"]
    assert emails("max_") == ["max_muster@kanzlei-suche.de"]
    assert len(emails("max")) == 2


def test_content_list_q_is_literal(pub: Publisher) -> None:
    pub.clause(title="Vertraulichkeit")
    pub.clause(title="Skonto 2% bei Zahlung")
    titles = lambda q: [i["title"] for i in pub.call("GET", "/clauses", params={"q": q}).json()["items"]]  # noqa: E731
    assert titles("%") == ["Skonto 2% bei Zahlung"]
    assert titles("_") == []
    assert titles("vertraulich") == ["Vertraulichkeit"]
