"""Answers as German users type them: amounts "4.500,00" and dates "01.04.2027" are normalised."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.test_contracts import K, create, world  # noqa: F401  (fixture)


def test_autosave_normalises_german_amounts_and_dates(api: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    contract = create(api, world)
    saved = api.patch(
        f"{K}/{contract['id']}",
        json={"answers": {"gehalt": "4.500,00", "beginn": "01.04.2027"}},
        headers=world["lawyer"],
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["answers"]["gehalt"] == "4500.00"
    assert saved.json()["answers"]["beginn"] == "2027-04-01"
    plain = api.patch(
        f"{K}/{contract['id']}", json={"answers": {"gehalt": "4500.50"}}, headers=world["lawyer"]
    )
    assert plain.json()["answers"]["gehalt"] == "4500.50"


def test_an_ambiguous_amount_is_refused_with_the_field(api: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    contract = create(api, world)
    refused = api.patch(
        f"{K}/{contract['id']}", json={"answers": {"gehalt": "4,500.00"}}, headers=world["lawyer"]
    )
    assert refused.status_code == 422
    assert any(e["field"].endswith("gehalt") for e in refused.json()["errors"])
