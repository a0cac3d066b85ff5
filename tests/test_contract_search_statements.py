"""The contract search (`q`) reads its page and its total in one statement (a window count).

A substring match has no index to stop early on: it filters every contract of the firm. Sent
as a count plus a page (the other lists' shape) it filtered them twice and PostgreSQL planned
both statements anew on every execution (their generic plans never win against the custom
ones, pg_prepared_statements showed 0 generic / all custom plans), which made the search the
slowest contract list at scale (docs/operations.md, "Contract search"). Past the last page no
row carries the count, so that page alone counts separately.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.test_contracts import K, create
from tests.test_contracts import world as world  # fixture, re-exported so pytest finds it here
from tests.test_scale_plans import statements as statements  # the driver-level capture, as above


def _search(
    api: TestClient, world: dict[str, Any], statements: list[tuple[str, Any]], **params: Any
) -> tuple[dict[str, Any], list[str]]:
    """The list's answer and the SELECTs it sent to the contracts table."""
    statements.clear()
    response = api.get(K, params=params, headers=world["lawyer"])
    assert response.status_code == 200, response.text
    return dict(response.json()), [sql for sql, _ in statements if "FROM contracts" in sql]


def test_contract_search_is_one_statement_with_its_total(
    api: TestClient, world: dict[str, Any], statements: list[tuple[str, Any]]
) -> None:
    titles = ["Arbeitsvertrag Müller A", "Arbeitsvertrag Müller B", "Arbeitsvertrag Müller C"]
    for title in titles:
        create(api, world, title=title)
    create(api, world, title="Aufhebungsvertrag Schmidt")

    first, sent = _search(api, world, statements, q="müller", pageSize=2)
    assert (first["total"], [i["title"] for i in first["items"]]) == (3, titles[:0:-1])  # newest first
    assert len(sent) == 1 and "count(*) OVER ()" in sent[0] and "LIMIT" in sent[0], sent

    last, sent = _search(api, world, statements, q="müller", pageSize=2, page=2)
    assert (last["total"], [i["title"] for i in last["items"]]) == (3, titles[:1])
    assert len(sent) == 1, sent

    # the client reference is searched in the same statement
    create(api, world, title="Dienstvertrag", clientReference="AZ Müller/7")
    body, sent = _search(api, world, statements, q="müller", pageSize=2)
    assert body["total"] == 4 and len(sent) == 1, sent

    nothing, sent = _search(api, world, statements, q="weber")
    assert (nothing["total"], nothing["items"], len(sent)) == (0, [], 1), sent

    # beyond the last page no row carries the count: that page alone counts on its own
    beyond, sent = _search(api, world, statements, q="müller", pageSize=2, page=5)
    assert (beyond["total"], beyond["items"], len(sent)) == (4, [], 2), sent

    # the unfiltered list keeps count + page (a deep page is read from the list's other end)
    body, sent = _search(api, world, statements)
    assert body["total"] == 5 and len(sent) == 2 and not any("OVER ()" in sql for sql in sent), sent
