"""The catalog: published templates of the tenant and of publishers, German full-text search."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import login_as
from tests.content_helpers import Publisher, path


def template(
    pub: Publisher, title: str, description: str = "", publish: bool = True, **meta: Any
) -> dict[str, Any]:
    clause = pub.clause(title=f"Klausel {title}")
    pub.publish("clauses", clause)
    structure = {
        "sections": [
            {
                "id": "teil-1",
                "title": "Allgemeines",
                "slots": [{"id": "s1", "clauseId": clause["entityId"], "type": "required"}],
            }
        ]
    }
    interview = [
        {"key": "name", "text": "Name?", "type": "text"},
        {"key": "ort", "text": "Ort?", "type": "text"},
    ]
    created = pub.call(
        "POST",
        "/templates",
        json={
            "title": title,
            "description": description,
            "structure": structure,
            "interview": interview,
            **meta,
        },
    )
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    if publish:
        pub.publish("templates", version)
    return dict(version)


def test_catalog_search_filters_and_visibility(
    pub: Publisher, api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    arbeit = template(
        pub,
        "Arbeitsvertrag",
        "Unbefristeter Arbeitsvertrag mit Probezeit",
        category="Arbeitsvertrag",
        legalArea="Arbeitsrecht",
        tags=["arbeitsrecht", "angestellte"],
    )
    template(
        pub,
        "Geheimhaltungsvereinbarung",
        "Schutz vertraulicher Informationen",
        category="NDA",
        legalArea="Gesellschaftsrecht",
        jurisdiction="AT",
    )
    template(pub, "Mietvertrag Entwurf", "noch nicht veröffentlicht", publish=False, category="Mietvertrag")
    firm = make_tenant("kanzlei-a")
    lawyer = login_as(api, su, firm, "user")

    def search(**params: Any) -> dict[str, Any]:
        response = api.get("/api/v1/catalog/templates", params=params, headers=lawyer)
        assert response.status_code == 200, response.text
        return dict(response.json())

    everything = search()
    assert [i["title"] for i in everything["items"]] == ["Arbeitsvertrag", "Geheimhaltungsvereinbarung"]
    assert everything["items"][0]["publisherName"] == "Verlag X"
    assert everything["items"][0]["own"] is False
    # German stemming: plural and inflected forms find the template
    assert [i["title"] for i in search(q="Arbeitsverträge")["items"]] == ["Arbeitsvertrag"]
    assert [i["title"] for i in search(q="vertraulichen")["items"]] == ["Geheimhaltungsvereinbarung"]
    assert [i["title"] for i in search(q="Angestellte")["items"]] == ["Arbeitsvertrag"]  # tags are searched
    assert search(q="Mietvertrag")["total"] == 0  # drafts never appear
    assert [i["title"] for i in search(category="NDA")["items"]] == ["Geheimhaltungsvereinbarung"]
    assert [i["title"] for i in search(jurisdiction="AT")["items"]] == ["Geheimhaltungsvereinbarung"]
    assert search(legalArea="Arbeitsrecht")["total"] == 1
    page = search(pageSize=1, page=2)
    assert (page["total"], len(page["items"])) == (2, 1)
    beyond = search(pageSize=1, page=5)  # no row to read the window count from: counted apart
    assert (beyond["total"], beyond["items"]) == (2, [])
    assert search(category="NDA", pageSize=1, page=3)["total"] == 1

    detail = api.get(f"/api/v1/catalog/templates/{arbeit['entityId']}", headers=lawyer).json()
    assert detail["questionCount"] == 2
    assert detail["sections"][0]["slots"][0]["clauses"][0]["title"] == "Klausel Arbeitsvertrag"
    assert detail["currentVersion"]["versionNumber"] == 1
    # deprecating the only published version takes it out of the catalog
    pub.call("POST", f"{path(arbeit, 'templates')}/deprecate")
    assert [i["title"] for i in search()["items"]] == ["Geheimhaltungsvereinbarung"]
    assert api.get(f"/api/v1/catalog/templates/{arbeit['entityId']}", headers=lawyer).status_code == 404


def test_law_firm_content_stays_in_its_own_catalog(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    firm_a = Publisher(api, su, make_tenant("kanzlei-a"))
    template(firm_a, "Kanzlei-Mustervertrag")
    other = login_as(api, su, make_tenant("kanzlei-b"), "user")
    own = api.get("/api/v1/catalog/templates", headers=login_as(api, su, firm_a.tenant, "user")).json()
    assert [(i["title"], i["own"]) for i in own["items"]] == [("Kanzlei-Mustervertrag", True)]
    assert api.get("/api/v1/catalog/templates", headers=other).json()["total"] == 0


def test_catalog_search_matches_word_prefixes(
    pub: Publisher, api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    """Issue 10, point 6: "Arbeit" finds "Arbeitsvertrag"; odd characters never break the search."""
    template(pub, "Arbeitsvertrag", "Unbefristeter Vertrag mit Probezeit", tags=["angestellte"])
    template(pub, "Geheimhaltungsvereinbarung", "Schutz vertraulicher Informationen")
    lawyer = login_as(api, su, make_tenant("kanzlei-a"), "user")

    def titles(q: str) -> list[str]:
        response = api.get("/api/v1/catalog/templates", params={"q": q}, headers=lawyer)
        assert response.status_code == 200, (q, response.text)
        return [i["title"] for i in response.json()["items"]]

    assert titles("Arbeit") == ["Arbeitsvertrag"]
    assert titles("arbeitsv") == ["Arbeitsvertrag"]
    assert titles("Geheim") == ["Geheimhaltungsvereinbarung"]
    assert titles("Arbeit Probe") == ["Arbeitsvertrag"]  # every word, as a prefix
    assert titles("Arbeit Geheim") == []
    assert titles("Arbeitsverträge") == ["Arbeitsvertrag"]  # stemming still works
    assert titles("Arbeitsvertrag OR Geheimhaltung") == ["Arbeitsvertrag", "Geheimhaltungsvereinbarung"]
    assert titles("Vertr -Geheimhaltungsvereinbarung") == ["Arbeitsvertrag"]  # negation kept
    assert titles("Xyzzyquux") == []
    assert titles("der die das") == []  # only stop words
    for odd in [
        "&",
        "|",
        "!",
        ":*",
        "*",
        "()",
        "'",
        "Arbeit:*",
        "Arbeit & | ! ( ) ' :*",
        "'Arbeit'",
        "\\",
        "²½٣",
        "a:b:c",
        "!!Arbeit",
        "(Arbeit",
        "Arbeit)",
        '"Arbeit',
        "-",
        "--Arbeit",
        "or OR",
    ]:
        assert isinstance(titles(odd), list)
    assert titles("Arbeit&Probe") == ["Arbeitsvertrag"]
    assert titles("(Arbeit)") == ["Arbeitsvertrag"]


def test_catalog_detail_names_the_changelog_of_released_versions(
    pub: Publisher, api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    """The detail view's changelog (issue 13): released versions newest first with their notes, no drafts."""
    first = template(pub, "Arbeitsvertrag", "Unbefristet", changeNote="Erste Fassung")
    entity = first["entityId"]
    second = pub.call("POST", f"/templates/{entity}/versions", json={"changeNote": "Probezeit neu gefasst"})
    assert second.status_code == 201, second.text
    pub.publish("templates", second.json())
    draft = pub.call("POST", f"/templates/{entity}/versions", json={"changeNote": "noch im Entwurf"})
    assert draft.status_code == 201, draft.text
    lawyer = login_as(api, su, make_tenant("kanzlei-a"), "user")

    detail = api.get(f"/api/v1/catalog/templates/{entity}", headers=lawyer).json()

    assert detail["currentVersion"]["versionNumber"] == 2
    assert [(c["versionNumber"], c["changeNote"]) for c in detail["changelog"]] == [
        (2, "Probezeit neu gefasst"),
        (1, "Erste Fassung"),
    ]
    assert all(c["publishedAt"] for c in detail["changelog"])
