"""Identity and access through the API: built-in login, sessions, invites, MFA, users, teams, settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pyotp
import pytest
from fastapi.testclient import TestClient

from servanda.identity import passwords
from tests.auth_helpers import ensure_user, login_as

PASSWORD = "servanda-demo"


@pytest.fixture
def firm(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> uuid.UUID:
    tenant = make_tenant("kanzlei-demo")
    su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status, password_hash) "
        "VALUES (%s, 'admin@kanzlei-demo.de', 'Anna Admin', 'admin', 'active', %s)",
        (tenant, passwords.hash_password(PASSWORD)),
    )
    return tenant


def login(api: TestClient, email: str = "admin@kanzlei-demo.de", password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return api.post(
        "/api/v1/auth/login", json={"tenant": "kanzlei-demo", "email": email, "password": password, **extra}
    )


def auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['accessToken']}"}


def actions(su: psycopg.Connection) -> list[str]:
    return [r[0] for r in su.execute("SELECT action FROM audit_events ORDER BY seq").fetchall()]


class TestLogin:
    def test_login_me_and_audit(self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection) -> None:
        response = login(api, email="ADMIN@kanzlei-demo.de")
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["tokenType"] == "bearer"
        assert tokens["expiresIn"] == 900
        me = api.get("/api/v1/identity/me", headers=auth(tokens)).json()
        assert me["tenantSlug"] == "kanzlei-demo"
        assert me["tenantId"] == str(firm)
        assert me["role"] == "admin"
        assert me["tenantType"] == "lawfirm"
        assert actions(su) == ["user.login"]
        assert su.execute("SELECT last_login_at IS NOT NULL FROM users").fetchone() == (True,)

    def test_wrong_password_is_audited_and_backs_off_after_five(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        # Changed on purpose (issue 8, defect 4): no 423 auth.account_locked any more; this
        # source waits (429) for this account, other sources do not (tests/test_login_security.py).
        for _ in range(5):
            failed = login(api, password="falsch-falsch-falsch")
            assert failed.status_code == 401
            assert failed.json()["code"] == "auth.invalid_credentials"
        delayed = login(api)
        assert delayed.status_code == 429
        assert delayed.json()["code"] == "auth.rate_limited"
        assert int(delayed.headers["Retry-After"]) > 0
        assert actions(su) == ["user.login_failed"] * 5
        details = su.execute("SELECT details FROM audit_events ORDER BY seq LIMIT 1").fetchone()
        assert details == ({"email": "admin@kanzlei-demo.de", "reason": "auth.wrong_password"},)

    def test_unknown_tenant_and_unknown_user_look_the_same(self, api: TestClient, firm: uuid.UUID) -> None:
        unknown_tenant = api.post(
            "/api/v1/auth/login", json={"tenant": "gibt-es-nicht", "email": "a@b.de", "password": PASSWORD}
        )
        unknown_user = login(api, email="niemand@kanzlei-demo.de")
        assert unknown_tenant.status_code == unknown_user.status_code == 401
        assert unknown_tenant.json()["detail"] == unknown_user.json()["detail"]

    def test_throttle_answers_429_per_address(self, api: TestClient, firm: uuid.UUID) -> None:
        api.app.state.local_auth.throttle.max_failures = 3  # type: ignore[attr-defined]
        for _ in range(3):
            assert login(api, email="niemand@kanzlei-demo.de").status_code == 401
        throttled = login(api)
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "auth.rate_limited"
        assert "Retry-After" in throttled.headers

    def test_suspended_tenant_gets_403(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        tokens = login(api).json()
        su.execute("UPDATE tenants SET status = 'suspended'")
        assert api.get("/api/v1/identity/me", headers=auth(tokens)).json()["code"] == "tenant.suspended"
        # Changed on purpose (issue 8, defect 4): the login itself answers like a wrong password.
        refused = login(api)
        assert (refused.status_code, refused.json()["code"]) == (401, "auth.invalid_credentials")

    def test_disabled_user_token_is_refused(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        tokens = login(api).json()
        su.execute("UPDATE users SET status = 'disabled'")
        response = api.get("/api/v1/identity/me", headers=auth(tokens))
        assert (response.status_code, response.json()["code"]) == (401, "auth.user_disabled")


class TestSessions:
    def test_refresh_rotates_and_reuse_ends_the_session(self, api: TestClient, firm: uuid.UUID) -> None:
        first = login(api).json()
        second = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert second.status_code == 200
        rotated = second.json()
        assert rotated["refreshToken"] != first["refreshToken"]
        assert api.get("/api/v1/identity/me", headers=auth(rotated)).status_code == 200
        reuse = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
        assert (reuse.status_code, reuse.json()["code"]) == (401, "auth.invalid_refresh_token")
        # the stolen-token alarm ended the whole session: the newer tokens are dead too
        assert api.get("/api/v1/identity/me", headers=auth(rotated)).json()["code"] == "auth.session_revoked"
        assert (
            api.post("/api/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]}).status_code
            == 401
        )

    def test_logout_ends_access_and_refresh(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        tokens = login(api).json()
        assert api.post("/api/v1/auth/logout", headers=auth(tokens)).status_code == 204
        assert api.get("/api/v1/identity/me", headers=auth(tokens)).status_code == 401
        assert (
            api.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]}).status_code == 401
        )
        assert actions(su) == ["user.login", "user.logout"]

    def test_refresh_tokens_are_stored_hashed(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        tokens = login(api).json()
        stored = [r[0] for r in su.execute("SELECT token_hash FROM refresh_tokens").fetchall()]
        assert tokens["refreshToken"] not in stored
        assert len(stored) == 1
        assert len(stored[0]) == 64

    def test_a_tampered_refresh_token_tenant_finds_nothing(
        self, api: TestClient, firm: uuid.UUID, make_tenant: Callable[..., uuid.UUID]
    ) -> None:
        other = make_tenant("kanzlei-andere")
        token = login(api).json()["refreshToken"]
        prefix, _, secret = token.split(".")
        forged = f"{prefix}.{other}.{secret}"
        assert api.post("/api/v1/auth/refresh", json={"refreshToken": forged}).status_code == 401


class TestInvites:
    def test_invite_accept_and_login(self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection) -> None:
        admin = auth(login(api).json())
        invited = api.post(
            "/api/v1/identity/users",
            json={"email": "neu@kanzlei-demo.de", "displayName": "Neue Anwältin", "role": "user"},
            headers=admin,
        )
        assert invited.status_code == 201, invited.text
        body = invited.json()
        assert body["user"]["status"] == "invited"
        token = body["inviteToken"]
        # absolute, under PUBLIC_BASE_URL (the embedded default), so an e-mail can carry it
        assert body["inviteLink"] == f"http://127.0.0.1:3000/einladung?token={token}"
        assert invited.headers["Location"] == f"/api/v1/identity/users/{body['user']['id']}"
        assert api.get(invited.headers["Location"], headers=admin).json() == body["user"]
        weak = api.post(
            "/api/v1/auth/accept-invite", json={"token": token, "password": "kurz", "displayName": "N"}
        )
        assert weak.json()["code"] == "user.password_policy"
        accepted = api.post(
            "/api/v1/auth/accept-invite",
            json={"token": token, "password": "ein-langes-passwort", "displayName": "Nora Neu"},
        )
        assert accepted.status_code == 200, accepted.text
        assert (
            api.get("/api/v1/identity/me", headers=auth(accepted.json())).json()["displayName"] == "Nora Neu"
        )
        again = api.post(
            "/api/v1/auth/accept-invite",
            json={"token": token, "password": "ein-langes-passwort", "displayName": "X"},
        )
        assert again.json()["code"] == "auth.invalid_invite"
        assert login(api, email="neu@kanzlei-demo.de", password="ein-langes-passwort").status_code == 200
        assert "user.invite" in actions(su)
        assert "user.activate" in actions(su)

    def test_duplicate_invite_is_409(self, api: TestClient, firm: uuid.UUID) -> None:
        admin = auth(login(api).json())
        response = api.post(
            "/api/v1/identity/users",
            json={"email": "Admin@Kanzlei-Demo.de", "displayName": "X", "role": "user"},
            headers=admin,
        )
        assert (response.status_code, response.json()["code"]) == (409, "user.email_taken")


class TestMfa:
    def test_totp_enrolment_and_login(self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection) -> None:
        headers = auth(login(api).json())
        setup = api.post("/api/v1/auth/mfa/setup", headers=headers).json()
        assert setup["otpauthUri"].startswith("otpauth://totp/")
        stored = su.execute("SELECT mfa_secret FROM users").fetchone()
        assert stored is not None
        assert setup["secret"] not in stored[0]  # encrypted at rest
        totp = pyotp.TOTP(setup["secret"])
        wrong = api.post(
            "/api/v1/auth/mfa/enable",
            json={"code": "000000" if totp.now() != "000000" else "111111"},
            headers=headers,
        )
        assert wrong.status_code == 422
        assert (
            api.post("/api/v1/auth/mfa/enable", json={"code": totp.now()}, headers=headers).status_code == 204
        )
        assert login(api).json()["code"] == "auth.mfa_required"
        assert (
            login(api, totp="123456" if totp.now() != "123456" else "654321").json()["code"]
            == "auth.invalid_totp"
        )
        assert login(api, totp=totp.now()).status_code == 200

    def test_tenant_can_require_mfa(self, api: TestClient, firm: uuid.UUID) -> None:
        headers = auth(login(api).json())
        patched = api.patch(
            "/api/v1/tenant/settings", json={"featureFlags": {"mfaRequired": True}}, headers=headers
        )
        assert patched.status_code == 200
        assert patched.json()["featureFlags"]["mfaRequired"] is True
        headers = auth(login(api).json())
        me = api.get("/api/v1/identity/me", headers=headers).json()
        assert me["mfaSetupRequired"] is True
        blocked = api.get("/api/v1/identity/users", headers=headers)
        assert (blocked.status_code, blocked.json()["code"]) == (403, "auth.mfa_setup_required")
        secret = api.post("/api/v1/auth/mfa/setup", headers=headers).json()["secret"]
        assert (
            api.post(
                "/api/v1/auth/mfa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers
            ).status_code
            == 204
        )
        assert api.get("/api/v1/identity/users", headers=headers).status_code == 200

    def test_mfa_stays_while_the_tenant_requires_it(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        headers = auth(login(api).json())
        totp = pyotp.TOTP(api.post("/api/v1/auth/mfa/setup", headers=headers).json()["secret"])
        assert (
            api.post("/api/v1/auth/mfa/enable", json={"code": totp.now()}, headers=headers).status_code == 204
        )
        api.patch("/api/v1/tenant/settings", json={"featureFlags": {"mfaRequired": True}}, headers=headers)
        refused = api.post("/api/v1/auth/mfa/disable", json={"code": totp.now()}, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "auth.mfa_required_by_tenant")
        assert su.execute(
            "SELECT bool_and(mfa_enabled) FROM users WHERE mfa_secret IS NOT NULL"
        ).fetchone() == (True,)


class TestUsers:
    def test_last_admin_cannot_be_removed(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        headers = auth(login(api).json())
        admin_id = api.get("/api/v1/identity/me", headers=headers).json()["id"]
        for method, path, body in (
            ("patch", f"/api/v1/identity/users/{admin_id}", {"role": "editor"}),
            ("post", f"/api/v1/identity/users/{admin_id}/deactivate", None),
            ("delete", f"/api/v1/identity/users/{admin_id}", None),
        ):
            response = api.request(method.upper(), path, json=body, headers=headers)
            assert (response.status_code, response.json()["code"]) == (409, "user.last_admin"), path
        second = ensure_user(su, firm, "admin", "zweite@kanzlei-demo.de")
        assert (
            api.patch(
                f"/api/v1/identity/users/{admin_id}", json={"role": "editor"}, headers=headers
            ).status_code
            == 200
        )
        assert su.execute("SELECT role FROM users WHERE id = %s", (second,)).fetchone() == ("admin",)

    def test_delete_anonymises_and_ends_sessions(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        headers = auth(login(api).json())
        lawyer = ensure_user(su, firm, "user", "anwalt@kanzlei-demo.de")
        lawyer_headers = login_as(api, su, firm, "user", "anwalt@kanzlei-demo.de")
        assert api.delete(f"/api/v1/identity/users/{lawyer}", headers=headers).status_code == 204
        row = su.execute("SELECT display_name, email, status FROM users WHERE id = %s", (lawyer,)).fetchone()
        assert row is not None
        assert row[0] == "Gelöschter Nutzer"
        assert "anwalt" not in row[1]
        assert row[2] == "disabled"
        assert api.get("/api/v1/identity/me", headers=lawyer_headers).status_code == 401
        assert api.get(f"/api/v1/identity/users/{lawyer}", headers=headers).status_code == 404
        listed = api.get("/api/v1/identity/users", headers=headers).json()
        assert [u["email"] for u in listed["items"]] == ["admin@kanzlei-demo.de"]

    def test_list_paginates_and_filters(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection
    ) -> None:
        headers = auth(login(api).json())
        for i in range(5):
            ensure_user(su, firm, "user", f"nutzer{i}@kanzlei-demo.de")
        page = api.get("/api/v1/identity/users?page=2&pageSize=2&role=user", headers=headers).json()
        assert (page["total"], page["page"], page["pageSize"], len(page["items"])) == (5, 2, 2, 2)
        assert api.get("/api/v1/identity/users?pageSize=101", headers=headers).status_code == 422

    def test_foreign_tenant_objects_are_404(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
    ) -> None:
        other = make_tenant("kanzlei-nord")
        foreign_user = ensure_user(su, other, "user", "x@nord.de")
        headers = auth(login(api).json())
        for method, path in (
            ("GET", f"/api/v1/identity/users/{foreign_user}"),
            ("POST", f"/api/v1/identity/users/{foreign_user}/deactivate"),
            ("DELETE", f"/api/v1/identity/users/{foreign_user}"),
        ):
            response = api.request(method, path, headers=headers)
            assert (response.status_code, response.json()["code"]) == (404, "user.not_found"), path
        assert su.execute("SELECT status FROM users WHERE id = %s", (foreign_user,)).fetchone() == ("active",)


class TestTeams:
    def test_team_lifecycle(
        self, api: TestClient, firm: uuid.UUID, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
    ) -> None:
        headers = auth(login(api).json())
        team = api.post("/api/v1/identity/teams", json={"name": "Arbeitsrecht"}, headers=headers)
        assert team.status_code == 201
        team_id = team.json()["id"]
        dup = api.post("/api/v1/identity/teams", json={"name": "Arbeitsrecht"}, headers=headers)
        assert (dup.status_code, dup.json()["code"]) == (409, "team.name_taken")
        member = ensure_user(su, firm, "user", "m@kanzlei-demo.de")
        foreign = ensure_user(su, make_tenant("kanzlei-x"), "user", "f@x.de")
        bad = api.put(
            f"/api/v1/identity/teams/{team_id}/members",
            json={"userIds": [str(member), str(foreign)]},
            headers=headers,
        )
        assert (bad.status_code, bad.json()["code"]) == (422, "team.unknown_members")
        ok = api.put(
            f"/api/v1/identity/teams/{team_id}/members", json={"userIds": [str(member)]}, headers=headers
        )
        assert ok.json()["memberIds"] == [str(member)]
        renamed = api.patch(
            f"/api/v1/identity/teams/{team_id}", json={"name": "Arbeitsrecht Nord"}, headers=headers
        )
        assert renamed.json()["name"] == "Arbeitsrecht Nord"
        assert api.delete(f"/api/v1/identity/teams/{team_id}", headers=headers).status_code == 204
        assert api.get(f"/api/v1/identity/teams/{team_id}", headers=headers).status_code == 404
        assert [a for a in actions(su) if a.startswith("team.")] == [
            "team.create",
            "team.update",
            "team.update",
            "team.delete",
        ]


def test_tenant_settings_merge_and_audit(api: TestClient, firm: uuid.UUID, su: psycopg.Connection) -> None:
    headers = auth(login(api).json())
    initial = api.get("/api/v1/tenant/settings", headers=headers).json()
    assert initial["plan"] == "starter"
    assert initial["retentionDays"] == 90
    patched = api.patch(
        "/api/v1/tenant/settings",
        json={
            "profile": {"name": "Kanzlei Demo Partner mbB"},
            "branding": {"colors": {"primary": "#123456"}},
            "retentionDays": 60,
        },  # the starter plan allows at most 90 (tests/test_plan_limits.py)
        headers=headers,
    ).json()
    assert patched["profile"]["name"] == "Kanzlei Demo Partner mbB"
    assert patched["branding"]["colors"] == {"primary": "#123456"}
    again = api.patch(
        "/api/v1/tenant/settings", json={"branding": {"colors": {"secondary": "#654321"}}}, headers=headers
    )
    assert again.json()["branding"]["colors"] == {"primary": "#123456", "secondary": "#654321"}
    assert again.json()["retentionDays"] == 60
    bad = api.patch(
        "/api/v1/tenant/settings", json={"profile": {"defaultJurisdiction": "Deutschland"}}, headers=headers
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["profile.defaultJurisdiction"]
    assert actions(su).count("tenant.settings_change") == 2
