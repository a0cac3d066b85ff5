"""Four-eyes across co-authors: nobody who changed a version's content reviews, approves or publishes it.

Regression tests for the bypass of issue 8 (defect 1): editor E2 writes a clause,
editor E1 rewrites E2's draft (the author stays E2) and names themselves reviewer.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import psycopg
from sqlalchemy import create_engine

from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest, repo_root
from tests.content_helpers import Publisher, codes, path

MIGRATION = repo_root() / "src/servanda/migrations/versions/0008_version_contributors.py"


def ids(pub: Publisher, su: psycopg.Connection) -> tuple[str, str, str, str]:
    """E2 (the author), E1 (the reviewer login), the third editor and the admin."""
    users = ("redakteur@verlag.de", "pruefer@verlag.de", "dritter@verlag.de", "admin@verlag.de")
    roles = ("editor", "editor", "editor", "admin")
    e2, e1, other, admin = (str(ensure_user(su, pub.tenant, r, u)) for r, u in zip(roles, users, strict=True))
    return e2, e1, other, admin


def submit(
    pub: Publisher, version: dict[str, Any], reviewer: str, who: Any = None, kind: str = "clauses"
) -> Any:
    return pub.call("POST", f"{path(version, kind)}/submit", who, json={"reviewerId": reviewer})


def test_co_author_cannot_review_the_draft_they_edited(pub: Publisher, su: psycopg.Connection) -> None:
    e2, e1, other, _admin = ids(pub, su)
    v1 = pub.clause(content="Text von E2.")  # E2 writes
    edited = pub.call("PATCH", path(v1), pub.reviewer, json={"content": "Text von E1."})  # E1 rewrites it
    assert edited.status_code == 200, edited.text
    assert (edited.json()["authorId"], edited.json()["contributorIds"]) == (e2, [e2, e1])
    # the attack: E1 submits E2's draft naming E1 as reviewer
    refused = submit(pub, v1, e1, pub.reviewer)
    assert codes(refused) == (403, "content.four_eyes")
    assert "mitbearbeitet" in refused.json()["detail"]
    assert codes(submit(pub, v1, e1)) == (403, "content.four_eyes")  # nor may the author name E1
    assert pub.call("GET", path(v1)).json()["status"] == "draft"
    # a third editor reviews; E1 has no say (neither named nor admin) and E2 none as author
    assert submit(pub, v1, other).json()["status"] == "review"
    assert codes(pub.call("POST", f"{path(v1)}/approve", pub.reviewer)) == (403, "content.four_eyes")
    assert pub.call("POST", f"{path(v1)}/approve", pub.other).json()["status"] == "approved"
    assert pub.call("POST", f"{path(v1)}/publish", pub.reviewer).json()["status"] == "published"
    # the review history shows E1's edit, the changelog every contributor with their name
    history = pub.call("GET", f"{path(v1)}/reviews").json()["items"]
    assert [(h["action"], h["actorId"]) for h in history] == [
        ("create", e2),
        ("edit", e1),
        ("submit", e2),
        ("approve", other),
        ("publish", e1),
    ]
    changelog = pub.call("GET", f"/clauses/{v1['entityId']}/changelog").json()["items"]
    assert changelog[0]["contributors"] == [
        {"id": e2, "displayName": "redakteur"},
        {"id": e1, "displayName": "pruefer"},
    ]
    assert [h["action"] for h in pub.call("GET", "/changelog").json()["items"]].count("edit") == 1


def test_reviewer_who_edits_after_being_named_cannot_approve(pub: Publisher, su: psycopg.Connection) -> None:
    _e2, e1, other, _admin = ids(pub, su)
    v1 = pub.clause()
    assert submit(pub, v1, e1).json()["status"] == "review"  # E1 named before editing
    back = pub.call(
        "POST", f"{path(v1)}/request-changes", pub.reviewer, json={"comment": "Ich formuliere um."}
    )
    assert back.json()["status"] == "draft"
    assert pub.call("PATCH", path(v1), pub.reviewer, json={"content": "Neu von E1."}).status_code == 200
    assert pub.call("GET", path(v1)).json()["reviewerId"] == e1  # still the named reviewer
    assert codes(submit(pub, v1, e1)) == (403, "content.four_eyes")
    # an admin who co-authored may not approve either (admins may approve any version otherwise)
    pub.call("PATCH", path(v1), pub.admin, json={"changeNote": "Admin ergänzt."})
    assert submit(pub, v1, other).json()["status"] == "review"
    assert codes(pub.call("POST", f"{path(v1)}/approve", pub.admin)) == (403, "content.four_eyes")
    assert codes(pub.call("POST", f"{path(v1)}/reject", pub.admin, json={"comment": "x"})) == (
        403,
        "content.four_eyes",
    )
    assert codes(pub.call("POST", f"{path(v1)}/approve", pub.reviewer)) == (403, "content.four_eyes")
    assert pub.call("POST", f"{path(v1)}/approve", pub.other).json()["status"] == "approved"


def test_a_copy_of_unreviewed_text_keeps_its_writers(pub: Publisher, su: psycopg.Connection) -> None:
    e2, e1, _other, _admin = ids(pub, su)
    v1 = pub.clause()
    pub.publish("clauses", v1)  # written by E2, reviewed by E1
    entity = v1["entityId"]
    v2 = pub.call(
        "POST", f"/clauses/{entity}/versions", pub.reviewer, json={"content": "E1 schreibt."}
    ).json()
    assert v2["contributorIds"] == [e1]  # reviewed content: its writers are no co-authors of the copy
    v3 = pub.call("POST", f"/clauses/{entity}/versions", json={"basedOnVersionId": v2["id"]}).json()
    assert v3["contributorIds"] == [e2, e1]  # E1's unreviewed text lives on in v3
    assert codes(submit(pub, v3, e1)) == (403, "content.four_eyes")


def test_templates_follow_the_same_rule(pub: Publisher, su: psycopg.Connection) -> None:
    e2, e1, other, _admin = ids(pub, su)
    created = pub.call("POST", "/templates", json={"title": "Arbeitsvertrag"})
    assert created.status_code == 201, created.text
    t1 = created.json()["version"]
    interview = [{"key": "branche", "text": "Branche?", "type": "text"}]
    edited = pub.call("PATCH", path(t1, "templates"), pub.reviewer, json={"interview": interview})
    assert edited.json()["contributorIds"] == [e2, e1]
    assert codes(submit(pub, t1, e1, pub.reviewer, "templates")) == (403, "content.four_eyes")
    assert codes(submit(pub, t1, e1, kind="templates")) == (403, "content.four_eyes")
    assert submit(pub, t1, other, kind="templates").json()["status"] == "review"
    assert pub.call("POST", f"{path(t1, 'templates')}/approve", pub.other).json()["status"] == "approved"
    changelog = pub.call("GET", f"/templates/{t1['entityId']}/changelog").json()["items"]
    assert [c["id"] for c in changelog[0]["contributors"]] == [e2, e1]
    history = pub.call("GET", f"{path(t1, 'templates')}/reviews").json()["items"]
    assert ("edit", e1) in [(h["action"], h["actorId"]) for h in history]


def test_drafts_edited_before_the_upgrade_are_checked_at_approve_and_publish(
    pub: Publisher, su: psycopg.Connection, clean_db: DbUnderTest
) -> None:
    """0008 backfills contributors from the audit log; the check at the act then catches old bypasses."""
    e2, e1, _other, _admin = ids(pub, su)
    in_review, approved = pub.clause(title="A"), pub.clause(title="B")
    for v in (in_review, approved):
        assert pub.call("PATCH", path(v), pub.reviewer, json={"content": "E1 schreibt."}).status_code == 200
    # the state the old code left: no contributors recorded, E1 named and (for B) already approved
    su.execute("UPDATE clause_versions SET contributor_ids = '{}'")
    assert submit(pub, in_review, e1).status_code == 200
    assert submit(pub, approved, e1).status_code == 200
    assert pub.call("POST", f"{path(approved)}/approve", pub.reviewer).json()["status"] == "approved"

    spec = importlib.util.spec_from_file_location("migration_0008", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    engine = create_engine(clean_db.owner)  # the migration role: subject to FORCEd RLS
    try:
        with engine.begin() as conn:
            migration.backfill_contributors(conn)
    finally:
        engine.dispose()
    stored = su.execute("SELECT DISTINCT contributor_ids::text[] FROM clause_versions").fetchall()
    assert stored == [([e2, e1],)]

    assert codes(pub.call("POST", f"{path(in_review)}/approve", pub.reviewer)) == (403, "content.four_eyes")
    refused = pub.call("POST", f"{path(approved)}/publish")
    assert codes(refused) == (403, "content.four_eyes")
    assert pub.call("GET", path(approved)).json()["status"] == "approved"
    assert su.execute("SELECT count(*) FROM clause_versions WHERE status = 'published'").fetchone() == (0,)


def test_reviewers_lists_the_colleagues_an_editor_may_name(
    pub: Publisher, su: psycopg.Connection, make_tenant: Any
) -> None:
    """Issue 10, point 5: GET /content/reviewers, so editors need no access to the user list."""
    e2, e1, other, admin = ids(pub, su)
    ensure_user(su, pub.tenant, "editor", "ausgeschieden@verlag.de", status="disabled")
    ensure_user(su, pub.tenant, "editor", "eingeladen@verlag.de", status="invited")
    ensure_user(su, pub.tenant, "user", "anwalt@verlag.de")
    elsewhere = make_tenant("verlag-y", type="vendor")
    ensure_user(su, elsewhere, "editor", "fremd@verlag-y.de")

    def reviewers(who: Any, **params: Any) -> Any:
        return pub.call("GET", "/reviewers", who, params=params)

    listed = reviewers(pub.author)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [
            {"id": admin, "displayName": "admin", "email": "admin@verlag.de", "role": "admin"},
            {"id": other, "displayName": "dritter", "email": "dritter@verlag.de", "role": "editor"},
            {"id": e1, "displayName": "pruefer", "email": "pruefer@verlag.de", "role": "editor"},
        ],
        "total": 3,
        "page": 1,
        "pageSize": 25,
    }
    # the caller is never listed
    assert [i["id"] for i in reviewers(pub.admin).json()["items"]] == [other, e1, e2]
    second = reviewers(pub.author, page=2, pageSize=1).json()
    assert (second["total"], [i["id"] for i in second["items"]]) == (3, [other])

    # with a version: its contributors are left out, as submit would refuse them
    v1 = pub.clause(content="Text von E2.")
    assert pub.call("PATCH", path(v1), pub.reviewer, json={"content": "Text von E1."}).status_code == 200
    offered = [i["id"] for i in reviewers(pub.other, versionId=v1["id"]).json()["items"]]
    assert offered == [admin]
    assert [i["id"] for i in reviewers(pub.author, versionId=v1["id"]).json()["items"]] == [admin, other]
    assert submit(pub, v1, other).json()["status"] == "review"  # an offered colleague is accepted
    unknown = reviewers(pub.author, versionId="00000000-0000-4000-8000-000000000000")
    assert codes(unknown) == (404, "content.version_not_found")
    foreign = Publisher(pub.api, su, elsewhere).clause()
    assert codes(reviewers(pub.author, versionId=foreign["id"])) == (404, "content.version_not_found")
    assert reviewers(pub.author, versionId="kein-uuid").status_code == 422
    lawyer = login_as(pub.api, su, pub.tenant, "user", "anwalt@verlag.de")
    assert codes(reviewers(lawyer)) == (403, "auth.forbidden")
