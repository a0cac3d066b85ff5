"""Who may manage a team contract (and a team law-firm template): every actor against every action.

The rule (contracts/permissions.py): whoever sees a contract edits its content;
only its creator and the tenant's admins change its visibility or team, archive
or delete it (403 ``contract.not_owner``); callers who cannot see it get 404.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.contracts import permissions
from servanda.identity.principal import Principal
from tests.auth_helpers import login_as
from tests.test_contracts import K, create
from tests.test_contracts import world as world  # fixture, re-exported so pytest finds it here

L = "/api/v1/lawfirm-templates"
SEES = ("creator", "member", "editor_member", "admin")  # outsider: a user of the tenant outside the team
MANAGES = ("creator", "admin")
ACTORS = (*SEES, "outsider")


def team(su: psycopg.Connection, tenant: uuid.UUID, name: str, *emails: str) -> str:
    team_id = su.execute(
        "INSERT INTO teams (tenant_id, name) VALUES (%s, %s) RETURNING id", (tenant, name)
    ).fetchone()[0]  # type: ignore[index]
    for email in emails:
        su.execute(
            "INSERT INTO team_members (tenant_id, team_id, user_id) SELECT tenant_id, %s, id FROM users "
            "WHERE email = %s",
            (team_id, email),
        )
    return str(team_id)


@pytest.fixture
def shared(api: TestClient, world: dict[str, Any], su: psycopg.Connection) -> dict[str, Any]:
    """A team contract of ``lawyer`` (team Arbeitsrecht with a colleague and an editor), a second team
    everyone but the admin belongs to, and one caller per actor."""
    firm = world["firm"]
    callers = {
        "creator": world["lawyer"],
        "member": world["colleague"],
        "editor_member": login_as(api, su, firm, "editor", "redakteur@kanzlei-demo.de"),
        "admin": world["admin"],
        "outsider": login_as(api, su, firm, "user", "fremd@kanzlei-demo.de"),
    }
    members = ("anwalt@kanzlei-demo.de", "kollegin@kanzlei-demo.de", "redakteur@kanzlei-demo.de")
    team_a = team(su, firm, "Arbeitsrecht", *members)
    team_b = team(su, firm, "Mietrecht", *members, "fremd@kanzlei-demo.de")
    contract = create(api, world, visibility="team", teamId=team_a)
    return {"contract": contract, "callers": callers, "team_a": team_a, "team_b": team_b}


def state(su: psycopg.Connection, contract_id: str) -> tuple[Any, ...] | None:
    return su.execute(
        "SELECT visibility, team_id::text, status, title FROM contracts WHERE id = %s", (contract_id,)
    ).fetchone()


def sharing_events(su: psycopg.Connection) -> list[Any]:
    rows = su.execute(
        "SELECT details FROM audit_events WHERE action = 'contract.visibility_change' ORDER BY seq"
    )
    return [r[0] for r in rows.fetchall()]


def act(api: TestClient, action: str, s: dict[str, Any], who: dict[str, str]) -> Any:
    url = f"{K}/{s['contract']['id']}"
    return {
        "visibility": lambda: api.patch(url, json={"visibility": "private"}, headers=who),
        "team": lambda: api.patch(url, json={"teamId": s["team_b"]}, headers=who),
        "delete": lambda: api.delete(url, headers=who),
        "archive": lambda: api.post(f"{url}/archive", headers=who),
        "content": lambda: api.patch(
            url, json={"title": "Neuer Titel", "answers": {"branche": "IT"}}, headers=who
        ),
        # the current visibility and team sent back with a content change: not a sharing change
        "content_with_same_sharing": lambda: api.patch(
            url, json={"title": "Neuer Titel", "visibility": "team", "teamId": s["team_a"]}, headers=who
        ),
    }[action]()


MANAGE_ACTIONS = ("visibility", "team", "delete", "archive")
CONTENT_ACTIONS = ("content", "content_with_same_sharing")


@pytest.mark.parametrize("action", MANAGE_ACTIONS + CONTENT_ACTIONS)
@pytest.mark.parametrize("actor", ACTORS)
def test_every_actor_against_every_action(
    api: TestClient, su: psycopg.Connection, shared: dict[str, Any], actor: str, action: str
) -> None:
    contract_id = shared["contract"]["id"]
    before = state(su, contract_id)
    response = act(api, action, shared, shared["callers"][actor])
    allowed = actor in (MANAGES if action in MANAGE_ACTIONS else SEES)
    if actor not in SEES:
        assert (response.status_code, response.json()["code"]) == (404, "contract.not_found")
    elif not allowed:
        assert (response.status_code, response.json()["code"]) == (403, "contract.not_owner"), response.text
        assert "Erstell" in response.json()["detail"]
    else:
        assert response.status_code in (200, 204), response.text
    after = state(su, contract_id)
    if not allowed:  # refused: nothing changed, nothing audited as a sharing change
        assert after == before
        assert sharing_events(su) == []
        return
    team_a, team_b = shared["team_a"], shared["team_b"]
    expected = {
        "visibility": ("private", None, "draft", "Arbeitsvertrag Müller"),
        "team": ("team", team_b, "draft", "Arbeitsvertrag Müller"),
        "archive": ("team", team_a, "archived", "Arbeitsvertrag Müller"),
        "content": ("team", team_a, "draft", "Neuer Titel"),
        "content_with_same_sharing": ("team", team_a, "draft", "Neuer Titel"),
    }
    if action == "delete":
        assert after is None
    else:
        assert after == expected[action]
    events = sharing_events(su)
    if action == "visibility":
        assert events == [
            {
                "from": {"visibility": "team", "teamId": team_a},
                "to": {"visibility": "private", "teamId": None},
            }
        ]
    elif action == "team":
        assert events == [
            {"from": {"visibility": "team", "teamId": team_a}, "to": {"visibility": "team", "teamId": team_b}}
        ]
    else:
        assert events == []


def test_the_reported_attack_fails(
    api: TestClient, su: psycopg.Connection, shared: dict[str, Any], world: dict[str, Any]
) -> None:
    """Issue 8, defect 2: a team member moved the creator's contract to their own team, made it private
    to themselves and deleted it. Each step is now refused; the creator and the team keep it."""
    contract_id = shared["contract"]["id"]
    mine = team(su, world["firm"], "Nur ich", "kollegin@kanzlei-demo.de")
    member = shared["callers"]["member"]
    for request in ({"teamId": mine}, {"visibility": "private"}, {"visibility": "team", "teamId": mine}):
        refused = api.patch(f"{K}/{contract_id}", json=request, headers=member)
        assert (refused.status_code, refused.json()["code"]) == (403, "contract.not_owner")
    assert api.delete(f"{K}/{contract_id}", headers=member).status_code == 403
    assert state(su, contract_id) == ("team", shared["team_a"], "draft", "Arbeitsvertrag Müller")
    assert api.get(f"{K}/{contract_id}", headers=shared["callers"]["editor_member"]).status_code == 200
    # a refused sharing change saves nothing else of the same request either
    mixed = api.patch(
        f"{K}/{contract_id}", json={"title": "Gekapert", "visibility": "private"}, headers=member
    )
    assert mixed.status_code == 403
    assert state(su, contract_id)[3] == "Arbeitsvertrag Müller"  # type: ignore[index]


def test_moving_to_a_team_needs_the_actor_in_it_not_the_creator(
    api: TestClient, su: psycopg.Connection, shared: dict[str, Any], world: dict[str, Any]
) -> None:
    contract_id = shared["contract"]["id"]
    foreign = team(su, world["firm"], "Ohne Ersteller", "kollegin@kanzlei-demo.de")
    own = api.patch(f"{K}/{contract_id}", json={"teamId": foreign}, headers=shared["callers"]["creator"])
    assert (own.status_code, own.json()["code"]) == (422, "contract.invalid_team")
    assert own.json()["errors"] == [{"field": "teamId", "message": "kein Team, dem Sie angehören"}]
    handed = api.patch(f"{K}/{contract_id}", json={"teamId": foreign}, headers=shared["callers"]["admin"])
    assert handed.status_code == 200, handed.text
    assert handed.json()["teamId"] == foreign
    # the creator keeps their contract in a team they are not in
    assert api.get(f"{K}/{contract_id}", headers=shared["callers"]["creator"]).status_code == 200
    assert api.get(f"{K}/{contract_id}", headers=shared["callers"]["editor_member"]).status_code == 404


# -- law-firm templates: team members edit content, creator and admins delete ------------------------------

LFT_SEES = ("creator", "member", "admin")
LFT_MANAGES = ("creator", "admin")


@pytest.mark.parametrize("action", ["delete", "content"])
@pytest.mark.parametrize("actor", [*LFT_SEES, "outsider"])
def test_lawfirm_template_actor_against_action(
    api: TestClient, su: psycopg.Connection, world: dict[str, Any], actor: str, action: str
) -> None:
    firm = world["firm"]
    emails = {
        "creator": "redakteur@kanzlei-demo.de",
        "member": "redakteurin@kanzlei-demo.de",
        "outsider": "fremd-redakteur@kanzlei-demo.de",
    }
    callers = {k: login_as(api, su, firm, "editor", e) for k, e in emails.items()} | {"admin": world["admin"]}
    team_id = team(su, firm, "Vorlagen", emails["creator"], emails["member"])
    created = api.post(
        L,
        json={
            "templateId": world["template_id"],
            "title": "Kanzleistandard",
            "visibility": "team",
            "teamId": team_id,
        },
        headers=callers["creator"],
    )
    assert created.status_code == 201, created.text
    url = f"{L}/{created.json()['id']}"
    who = callers[actor]
    response = (
        api.delete(url, headers=who)
        if action == "delete"
        else api.patch(url, json={"title": "Neu", "tags": ["it"]}, headers=who)
    )
    allowed = actor in (LFT_MANAGES if action == "delete" else LFT_SEES)
    row = su.execute("SELECT title FROM lawfirm_templates WHERE id = %s", (created.json()["id"],)).fetchone()
    if actor not in LFT_SEES:
        assert (response.status_code, response.json()["code"]) == (404, "lawfirm_template.not_found")
        assert row == ("Kanzleistandard",)
    elif not allowed:
        assert (response.status_code, response.json()["code"]) == (403, "lawfirm_template.not_owner")
        assert row == ("Kanzleistandard",)
    elif action == "delete":
        assert (response.status_code, row) == (204, None)
    else:
        assert (response.status_code, row) == (200, ("Neu",))


# -- the rule itself ---------------------------------------------------------------------------------


def principal(role: str, user_id: uuid.UUID) -> Principal:
    return Principal(
        user_id=user_id,
        tenant_id=uuid.uuid4(),
        tenant_slug="t",
        tenant_type="lawfirm",
        email="x@y.de",
        display_name="x",
        role=role,
        status="active",
        mfa_enabled=False,
        platform_admin=False,
        provider="local",
        session_id=None,
        mfa_setup_required=False,
        request_id=None,
        ip_address=None,
    )


def test_can_manage_and_requested_sharing() -> None:
    owner, other, team_a, team_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert permissions.can_manage(owner, principal("user", owner))
    assert permissions.can_manage(owner, principal("admin", other))
    assert not permissions.can_manage(owner, principal("editor", other))
    assert not permissions.can_manage(None, principal("user", other))  # unknown creator: admins only
    assert permissions.can_manage(None, principal("admin", other))
    current = ("team", team_a)
    assert permissions.requested_sharing(current, {"title": "x"}) == current
    assert permissions.requested_sharing(current, {"team_id": team_b}) == ("team", team_b)
    assert permissions.requested_sharing(current, {"visibility": "private"}) == ("private", None)
    assert permissions.requested_sharing(current, {"visibility": "team", "team_id": team_a}) == current
    assert permissions.requested_sharing(("private", None), {"team_id": team_b}) == ("private", None)
