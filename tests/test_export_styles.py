"""Style templates through the API: CRUD, roles, tenant isolation, the read-only system style, one
default per tenant, validation, the base-DOCX and logo uploads, audit events, and resolve_style."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.export.repository import ResolvedStyle, resolve_style
from servanda.platform.db import Database
from servanda.platform.storage import DirectoryStorage
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.docx_samples import clean_docx, members, repack, with_external_relationships
from tests.test_branding import SAFE_SVG, make_png

S = "/api/v1/export/style-templates"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# A minimal baseline JPEG: SOI, APP0, SOF0 (3×2), SOS, one byte of scan data, EOI.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x0b\x08\x00\x02\x00\x03\x01\x01\x11\x00"
    b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x00\xff\xd9"
)


@pytest.fixture
def firm(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> dict[str, Any]:
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    return {
        "a": a,
        "b": b,
        "user": login_as(api, su, a, "user", "user@a.de"),
        "editor": login_as(api, su, a, "editor", "editor@a.de"),
        "admin": login_as(api, su, a, "admin", "admin@a.de"),
        "b_admin": login_as(api, su, b, "admin", "admin@b.de"),
        "b_editor": login_as(api, su, b, "editor", "editor@b.de"),
    }


def system_id(su: psycopg.Connection) -> str:
    row = su.execute("SELECT id FROM style_templates WHERE tenant_id IS NULL AND type = 'system'").fetchone()
    assert row is not None
    return str(row[0])


def create(api: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = api.post(S, json={"name": "Hausstil", **body}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{S}/{response.json()['id']}"
    return response.json()  # type: ignore[no-any-return]


def codes(response: Any) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")


def storage_root(api: TestClient) -> Path:
    return Path(api.app.state.settings.servanda_data_dir).resolve() / "storage"  # type: ignore[attr-defined]


def stored(api: TestClient, tenant: uuid.UUID) -> list[str]:
    root = storage_root(api) / str(tenant)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def events(su: psycopg.Connection, tenant: uuid.UUID) -> list[tuple[str, str, dict[str, Any]]]:
    rows = su.execute(
        "SELECT action, object_id, details FROM audit_events WHERE tenant_id = %s "
        "AND action LIKE 'style_template.%%' ORDER BY seq",
        (tenant,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def put_file(api: TestClient, url: str, headers: dict[str, str], data: bytes, name: str, ctype: str) -> Any:
    return api.put(url, headers=headers, files={"file": (name, data, ctype)})


# -- CRUD, roles, audit ------------------------------------------------------------------------


def test_editors_manage_styles_users_read_them(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    body = {
        "fonts": {"body": "Liberation Sans", "headings": "DejaVu Serif"},
        "fontSizes": {"body": 10.5, "title": 18},
        "colors": {"primary": "#aa0000"},
        "marginsMm": {"left": 30, "right": 20},
        "header": {"text": "Kanzlei A", "clientReference": False},
        "footer": {"pageNumbers": True},
    }
    style = create(api, firm["editor"], name="Kanzlei A Standard", **body)
    assert style["type"] == "lawfirm" and style["readOnly"] is False and style["isDefault"] is False
    assert style["fonts"] == {"body": "Liberation Sans", "headings": "DejaVu Serif"}
    assert style["fontSizes"] == {"body": 10.5, "heading": None, "title": 18.0, "small": None}
    assert style["colors"] == {"primary": "#AA0000", "secondary": None}
    assert style["header"] == {"text": "Kanzlei A", "logo": None, "clientReference": False}
    assert style["hasBaseDocx"] is False and style["logo"] is None
    url = f"{S}/{style['id']}"

    # every user reads (they choose a style when exporting) ...
    listed = api.get(S, headers=firm["user"]).json()
    assert [s["name"] for s in listed["items"]] == ["Servanda Standard", "Kanzlei A Standard"]
    assert listed["total"] == 2 and listed["items"][0]["readOnly"] is True
    assert api.get(url, headers=firm["user"]).json() == style
    # ... only editors and admins write
    assert api.post(S, json={"name": "X"}, headers=firm["user"]).status_code == 403
    assert api.patch(url, json={"name": "X"}, headers=firm["user"]).status_code == 403
    assert api.delete(url, headers=firm["user"]).status_code == 403
    assert put_file(api, f"{url}/logo", firm["user"], make_png(), "l.png", "image/png").status_code == 403

    patched = api.patch(
        url,
        json={"name": "Neu", "colors": {"secondary": "#00ff00"}, "fontSizes": {"title": None}},
        headers=firm["admin"],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["colors"] == {"primary": "#AA0000", "secondary": "#00FF00"}
    assert patched.json()["fontSizes"]["title"] is None, "null removes a member"
    assert patched.json()["fonts"] == style["fonts"], "groups not named stay"
    unchanged = api.patch(url, json={"name": "Neu"}, headers=firm["admin"])
    assert unchanged.status_code == 200

    assert api.delete(url, headers=firm["editor"]).status_code == 204
    assert api.get(url, headers=firm["editor"]).status_code == 404
    assert [(a, o) for a, o, _ in events(su, firm["a"])] == [
        ("style_template.create", style["id"]),
        ("style_template.update", style["id"]),
        ("style_template.delete", style["id"]),
    ]
    update = events(su, firm["a"])[1][2]
    assert update["changed"] == ["name", "fontSizes", "colors"]
    assert update["name"] == {"from": "Kanzlei A Standard", "to": "Neu"}


def test_the_system_style_is_read_only(api: TestClient, su: psycopg.Connection, firm: dict[str, Any]) -> None:
    sid = system_id(su)
    before = su.execute("SELECT * FROM style_templates WHERE id = %s", (sid,)).fetchone()
    system = api.get(f"{S}/{sid}", headers=firm["user"]).json()
    assert system["readOnly"] is True and system["type"] == "system" and system["isDefault"] is True
    assert system["fontSizes"] == {"body": 11.0, "heading": 13.0, "title": 16.0, "small": None}
    for caller in ("editor", "admin", "b_admin"):
        headers = firm[caller]
        attempts = [
            api.patch(f"{S}/{sid}", json={"name": "Meins"}, headers=headers),
            api.patch(f"{S}/{sid}", json={"isDefault": False}, headers=headers),
            api.delete(f"{S}/{sid}", headers=headers),
            put_file(api, f"{S}/{sid}/base-docx", headers, clean_docx(), "b.docx", DOCX),
            api.delete(f"{S}/{sid}/base-docx", headers=headers),
            put_file(api, f"{S}/{sid}/logo", headers, make_png(), "l.png", "image/png"),
            api.delete(f"{S}/{sid}/logo", headers=headers),
        ]
        assert {codes(r) for r in attempts} == {(403, "style.system_read_only")}
    assert su.execute("SELECT * FROM style_templates WHERE id = %s", (sid,)).fetchone() == before
    assert events(su, firm["a"]) == []


def test_one_default_per_tenant(api: TestClient, su: psycopg.Connection, firm: dict[str, Any]) -> None:
    first = create(api, firm["editor"], name="Erster", isDefault=True)
    other_tenant = create(api, firm["b_editor"], name="Fremd", isDefault=True)
    second = create(api, firm["editor"], name="Zweiter", isDefault=True)

    def defaults(tenant: uuid.UUID) -> list[str]:
        rows = su.execute(
            "SELECT name FROM style_templates WHERE tenant_id = %s AND is_default ORDER BY name", (tenant,)
        ).fetchall()
        return [r[0] for r in rows]

    assert defaults(firm["a"]) == ["Zweiter"]
    assert defaults(firm["b"]) == ["Fremd"], "another tenant's default is untouched"
    listed = {s["name"]: s["isDefault"] for s in api.get(S, headers=firm["user"]).json()["items"]}
    assert listed == {"Servanda Standard": False, "Erster": False, "Zweiter": True}

    moved = api.patch(f"{S}/{first['id']}", json={"isDefault": True}, headers=firm["admin"])
    assert moved.json()["isDefault"] is True
    assert defaults(firm["a"]) == ["Erster"]
    assert api.get(f"{S}/{second['id']}", headers=firm["user"]).json()["isDefault"] is False
    assert events(su, firm["a"])[-1][2] == {"changed": ["isDefault"], "previousDefault": [second["id"]]}

    api.patch(f"{S}/{first['id']}", json={"isDefault": False}, headers=firm["admin"])
    assert defaults(firm["a"]) == []
    assert api.get(f"{S}/{system_id(su)}", headers=firm["user"]).json()["isDefault"] is True
    assert other_tenant["isDefault"] is True


def test_concurrent_defaults_leave_one(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any], clean_db: DbUnderTest
) -> None:
    """Two transactions marking different defaults at once: the advisory lock orders them."""
    from servanda.export.styles import StyleTemplateService
    from servanda.identity.service import acting_user

    ids = [create(api, firm["editor"], name=f"Stil {i}")["id"] for i in range(4)]

    async def run() -> None:
        db = Database(clean_db.app, pool_size=4)

        async def mark(style_id: str) -> None:
            async with db.session(None) as session:
                principal = await acting_user(session, "kanzlei-a")
                await StyleTemplateService(session, DirectoryStorage(Path("/nonexistent"))).update(
                    principal, uuid.UUID(style_id), {"is_default": True}
                )
                await asyncio.sleep(0.05)  # hold the transaction open while the others try

        try:
            await asyncio.gather(*(mark(i) for i in ids))
        finally:
            await db.dispose()

    asyncio.run(run())
    count = su.execute(
        "SELECT count(*) FROM style_templates WHERE tenant_id = %s AND is_default", (firm["a"],)
    ).fetchone()
    assert count == (1,)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colors": {"primary": "red"}}, "colors.primary"),
        ({"colors": {"secondary": "#12345"}}, "colors.secondary"),
        ({"fonts": {"body": "<script>"}}, "fonts.body"),
        ({"fonts": {"headings": ""}}, "fonts.headings"),
        ({"fontSizes": {"body": 200}}, "fontSizes.body"),
        ({"fontSizes": {"title": 2}}, "fontSizes.title"),
        ({"fontSizes": {"body": 10.3}}, "fontSizes.body"),
        ({"marginsMm": {"top": 2}}, "marginsMm.top"),
        ({"marginsMm": {"left": 500}}, "marginsMm.left"),
        ({"header": {"text": "x" * 201}}, "header.text"),
        ({"name": "   "}, "name"),
        ({"colors": {"tertiary": "#000000"}}, "colors.tertiary"),
    ],
)
def test_invalid_styles_are_422_in_german(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = api.post(S, json={"name": "Stil", **body}, headers=firm["editor"])
    assert codes(response) == (422, "request.validation_failed")
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert not errors[0]["message"].startswith(("Input should", "Value error", "String should"))
    if "colors" in body and "tertiary" not in body["colors"]:
        assert errors[0]["message"] == "Muss eine Farbe im Format #RRGGBB sein (z. B. #1F3864)."
    assert su.execute("SELECT count(*) FROM style_templates WHERE tenant_id IS NOT NULL").fetchone() == (0,)


def test_margins_must_leave_room_for_text(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    response = api.post(
        S, json={"name": "Stil", "marginsMm": {"left": 70, "right": 70}}, headers=firm["editor"]
    )
    assert codes(response) == (422, "style.invalid_margins")
    assert response.json()["errors"][0]["message"].startswith("Linker und rechter Rand zusammen")
    style = create(api, firm["editor"], marginsMm={"left": 70})
    patched = api.patch(f"{S}/{style['id']}", json={"marginsMm": {"right": 60}}, headers=firm["editor"])
    assert codes(patched) == (422, "style.invalid_margins"), "checked on the merged margins"
    assert api.get(f"{S}/{style['id']}", headers=firm["editor"]).json()["marginsMm"]["right"] is None


# -- tenant isolation --------------------------------------------------------------------------


def test_another_tenant_neither_sees_nor_changes_styles(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    style = create(api, firm["editor"], name="Geheim", isDefault=True)
    url = f"{S}/{style['id']}"
    put_file(api, f"{url}/logo", firm["editor"], make_png(), "l.png", "image/png")
    before = su.execute("SELECT * FROM style_templates WHERE id = %s", (style["id"],)).fetchone()
    listed = api.get(S, headers=firm["b_admin"]).json()
    assert [s["name"] for s in listed["items"]] == ["Servanda Standard"]
    attempts = [
        api.get(url, headers=firm["b_admin"]),
        api.patch(url, json={"name": "Übernommen"}, headers=firm["b_admin"]),
        api.delete(url, headers=firm["b_admin"]),
        put_file(api, f"{url}/base-docx", firm["b_admin"], clean_docx(), "b.docx", DOCX),
        api.put(f"{url}/base-docx", json={}, headers=firm["b_admin"]),  # no file: still 404 first
        api.delete(f"{url}/base-docx", headers=firm["b_admin"]),
        put_file(api, f"{url}/logo", firm["b_admin"], make_png(), "l.png", "image/png"),
        api.delete(f"{url}/logo", headers=firm["b_admin"]),
    ]
    assert {codes(r) for r in attempts} == {(404, "style.not_found")}
    assert su.execute("SELECT * FROM style_templates WHERE id = %s", (style["id"],)).fetchone() == before
    assert stored(api, firm["b"]) == []


def test_the_database_itself_keeps_styles_apart_and_the_system_style_unwritable(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any], connect_as: Any
) -> None:
    """Below the service: the app role under RLS, with explicit WHERE clauses naming the rows."""
    from tests.conftest import APP

    style = create(api, firm["editor"], name="Geheim")
    sid = system_id(su)
    as_b = connect_as(APP, tenant=firm["b"])
    seen = as_b.execute("SELECT id FROM style_templates WHERE tenant_id = %s", (firm["a"],)).fetchall()
    assert seen == []
    assert as_b.execute("UPDATE style_templates SET name = 'x' WHERE id = %s", (style["id"],)).rowcount == 0
    assert as_b.execute("DELETE FROM style_templates WHERE id = %s", (style["id"],)).rowcount == 0
    as_b.rollback()
    as_a = connect_as(APP, tenant=firm["a"])
    assert as_a.execute("SELECT count(*) FROM style_templates WHERE id = %s", (sid,)).fetchone() == (1,)
    assert as_a.execute("UPDATE style_templates SET name = 'x' WHERE id = %s", (sid,)).rowcount == 0
    assert as_a.execute("DELETE FROM style_templates WHERE id = %s", (sid,)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # WITH CHECK: no new system styles
        as_a.execute("INSERT INTO style_templates (tenant_id, name, type) VALUES (NULL, 'x', 'system')")
    as_a.rollback()


# -- uploads -----------------------------------------------------------------------------------


def test_a_good_base_docx_is_stored_and_can_be_removed(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    style = create(api, firm["editor"])
    url = f"{S}/{style['id']}/base-docx"
    response = put_file(api, url, firm["editor"], clean_docx(), "briefkopf.docx", DOCX)
    assert response.status_code == 200, response.text
    assert response.json()["strippedRelationships"] == []
    key = f"styles/{style['id']}/base.docx"
    assert stored(api, firm["a"]) == [key]
    assert su.execute(
        "SELECT base_docx_key FROM style_templates WHERE id = %s", (style["id"],)
    ).fetchone() == (f"{firm['a']}/{key}",)
    assert api.get(f"{S}/{style['id']}", headers=firm["user"]).json()["hasBaseDocx"] is True
    assert events(su, firm["a"])[-1][2]["changed"] == ["baseDocx"]

    assert api.delete(url, headers=firm["editor"]).status_code == 204
    assert stored(api, firm["a"]) == []
    assert codes(api.delete(url, headers=firm["editor"])) == (404, "style.base_docx_not_found")


@pytest.mark.parametrize(
    ("data", "name", "ctype", "expected"),
    [
        (
            repack(clean_docx(), {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 vba"}),
            "makro.docx",
            DOCX,
            (422, "style.base_docx_macros"),
        ),
        (
            repack(clean_docx(), {"customXml/item9.xml": b"\0" * (60 * 1024 * 1024)}),
            "bombe.docx",
            DOCX,
            (422, "style.base_docx_zip_bomb"),
        ),
        (b"%PDF-1.7\n%%EOF\n", "vertrag.docx", DOCX, (415, "style.base_docx_not_docx")),
        (b"\0" * (5 * 1024 * 1024 + 1), "gross.docx", DOCX, (413, "style.base_docx_too_large")),
    ],
    ids=["macros", "zip bomb", "not a zip with a .docx name", "too large"],
)
def test_bad_base_docx_is_refused_and_nothing_is_stored(
    api: TestClient,
    su: psycopg.Connection,
    firm: dict[str, Any],
    data: bytes,
    name: str,
    ctype: str,
    expected: tuple[int, str],
) -> None:
    style = create(api, firm["editor"])
    response = put_file(api, f"{S}/{style['id']}/base-docx", firm["editor"], data, name, ctype)
    assert codes(response) == expected
    assert response.json()["detail"].startswith("Das Basisdokument")
    assert stored(api, firm["a"]) == []
    assert su.execute(
        "SELECT base_docx_key FROM style_templates WHERE id = %s", (style["id"],)
    ).fetchone() == (None,)
    assert [a for a, _, _ in events(su, firm["a"])] == ["style_template.create"]


def test_external_relationships_are_stripped_from_the_stored_file(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    style = create(api, firm["editor"])
    data = with_external_relationships(clean_docx())
    response = put_file(api, f"{S}/{style['id']}/base-docx", firm["editor"], data, "kopf.docx", DOCX)
    assert response.status_code == 200, response.text
    assert sorted(s["type"] for s in response.json()["strippedRelationships"]) == [
        "attachedTemplate",
        "hyperlink",
        "image",
    ]
    path = storage_root(api) / str(firm["a"]) / "styles" / style["id"] / "base.docx"
    parts = members(path.read_bytes())
    assert b"evil.example" not in b"".join(parts.values())
    assert b"attachedTemplate" not in parts["word/settings.xml"]
    assert zipfile.ZipFile(io.BytesIO(path.read_bytes())).testzip() is None
    assert len(events(su, firm["a"])[-1][2]["strippedRelationships"]) == 3


def test_style_logos_png_jpeg_svg(api: TestClient, su: psycopg.Connection, firm: dict[str, Any]) -> None:
    style = create(api, firm["editor"])
    url = f"{S}/{style['id']}/logo"
    png = put_file(api, url, firm["editor"], make_png(8, 8), "logo.bin", "application/octet-stream")
    assert png.status_code == 200, png.text
    assert png.json()["contentType"] == "image/png"
    assert stored(api, firm["a"]) == [f"styles/{style['id']}/logo.png"]
    jpeg = put_file(api, url, firm["editor"], JPEG, "logo.png", "image/png")
    assert jpeg.status_code == 200, jpeg.text
    assert jpeg.json()["contentType"] == "image/jpeg"
    assert stored(api, firm["a"]) == [f"styles/{style['id']}/logo.jpg"], "the replaced PNG is removed"
    svg = put_file(api, url, firm["editor"], SAFE_SVG, "logo.svg", "image/svg+xml")
    assert svg.status_code == 200
    got = api.get(f"{S}/{style['id']}", headers=firm["user"]).json()
    assert got["logo"]["contentType"] == "image/svg+xml" and got["header"]["logo"] is None

    hostile = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert codes(put_file(api, url, firm["editor"], hostile, "x.svg", "image/svg+xml")) == (
        422,
        "style.logo_unsafe_svg",
    )
    assert codes(put_file(api, url, firm["editor"], b"GIF89a....", "x.png", "image/png")) == (
        415,
        "style.logo_unsupported_type",
    )
    big = make_png(2001, 1)
    assert codes(put_file(api, url, firm["editor"], big, "x.png", "image/png")) == (
        422,
        "style.logo_dimensions_too_large",
    )
    assert codes(
        put_file(api, url, firm["editor"], b"\x89PNG" + b"\0" * (1024 * 1024 + 1), "x.png", "image/png")
    ) == (
        413,
        "style.logo_too_large",
    )
    assert stored(api, firm["a"]) == [f"styles/{style['id']}/logo.svg"]
    assert api.delete(url, headers=firm["editor"]).status_code == 204
    assert stored(api, firm["a"]) == []
    assert codes(api.delete(url, headers=firm["editor"])) == (404, "style.logo_not_found")


def test_deleting_a_style_removes_its_files(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any]
) -> None:
    style = create(api, firm["editor"])
    put_file(api, f"{S}/{style['id']}/base-docx", firm["editor"], clean_docx(), "b.docx", DOCX)
    put_file(api, f"{S}/{style['id']}/logo", firm["editor"], make_png(), "l.png", "image/png")
    assert len(stored(api, firm["a"])) == 2
    assert api.delete(f"{S}/{style['id']}", headers=firm["editor"]).status_code == 204
    assert stored(api, firm["a"]) == []
    assert events(su, firm["a"])[-1][0] == "style_template.delete"


# -- what the export worker gets ---------------------------------------------------------------


def resolve(clean_db: DbUnderTest, api: TestClient, tenant: uuid.UUID, style_id: str | None) -> ResolvedStyle:
    async def run() -> ResolvedStyle:
        db = Database(clean_db.app, pool_size=1)
        try:
            async with db.session(tenant) as session:
                storage = DirectoryStorage(storage_root(api))
                return await resolve_style(
                    session, storage, tenant, uuid.UUID(style_id) if style_id else None
                )
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_resolve_style_layers_system_branding_and_the_template(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any], clean_db: DbUnderTest
) -> None:
    a = firm["a"]
    su.execute("UPDATE tenants SET name = 'Kanzlei Meyer & Partner' WHERE id = %s", (a,))
    branding = {
        "branding": {
            "colors": {"primary": "#112233"},
            "fonts": {"body": "DejaVu Sans"},
            "marginsMm": {"top": 30},
        }
    }
    assert api.patch("/api/v1/tenant/settings", json=branding, headers=firm["admin"]).status_code == 200
    assert (
        put_file(
            api, "/api/v1/tenant/branding/logo", firm["admin"], make_png(), "l.png", "image/png"
        ).status_code
        == 200
    )

    # no style at all: the system style with the tenant's branding, name and logo
    plain = resolve(clean_db, api, a, None)
    assert plain.style_template_id == uuid.UUID(system_id(su))
    assert plain.spec.firm_name == "Kanzlei Meyer & Partner"
    assert plain.spec.colors.primary == "#112233" and plain.spec.colors.secondary == "#5B6B7F"
    assert plain.spec.fonts.body == "DejaVu Sans" and plain.spec.fonts.headings == "Liberation Sans"
    assert plain.spec.margins_mm.top == 30 and plain.spec.font_sizes.title == 16
    assert plain.logo is not None and plain.logo.content_type == "image/png"
    assert plain.base_docx is None

    # the tenant's default template wins over branding; its own logo over the tenant's
    style = create(
        api, firm["editor"], isDefault=True, colors={"primary": "#AA0000"}, header={"text": "Kopf"}
    )
    put_file(api, f"{S}/{style['id']}/logo", firm["editor"], JPEG, "l.jpg", "image/jpeg")
    put_file(api, f"{S}/{style['id']}/base-docx", firm["editor"], clean_docx(), "b.docx", DOCX)
    default = resolve(clean_db, api, a, None)
    assert default.style_template_id == uuid.UUID(style["id"])
    assert default.spec.colors.primary == "#AA0000" and default.spec.fonts.body == "DejaVu Sans"
    assert default.spec.header.text == "Kopf"
    assert (
        default.logo is not None and default.logo.content_type == "image/jpeg" and default.logo.data == JPEG
    )
    assert default.base_docx is not None and docx_text(default.base_docx) == "Briefkopf Kanzlei"

    # explicitly the system style: no template values, branding still applies
    chosen = resolve(clean_db, api, a, system_id(su))
    assert chosen.spec.colors.primary == "#112233" and chosen.logo is not None
    assert chosen.logo.content_type == "image/png" and chosen.base_docx is None

    # a style hiding the logo; another tenant's or a deleted id falls back to the default
    hidden = create(api, firm["editor"], name="Ohne Logo", header={"logo": False})
    assert resolve(clean_db, api, a, hidden["id"]).logo is None
    foreign = create(api, firm["b_editor"], name="Fremd")
    assert resolve(clean_db, api, a, foreign["id"]).style_template_id == uuid.UUID(style["id"])


def docx_text(data: bytes) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


# -- the shared image check (platform/images.py) -----------------------------------------------


def test_jpeg_logos_are_checked_and_the_tenant_logo_stays_png_or_svg() -> None:
    from servanda.export.styles import LOGO_POLICY
    from servanda.platform import errors, images
    from servanda.tenants.logo import validate_logo

    assert images.validate_image(JPEG, LOGO_POLICY).extension == "jpg"
    for broken in (JPEG[:-2], JPEG[:20] + JPEG[-2:], b"\xff\xd8\xff\xd9"):
        with pytest.raises(errors.Invalid) as caught:
            images.validate_image(broken, LOGO_POLICY)
        assert caught.value.code == "style.logo_invalid_image"
    wide = JPEG.replace(b"\x08\x00\x02\x00\x03", b"\x08\x00\x02\x0f\xa0")  # 4000 pixels wide
    with pytest.raises(errors.Invalid) as caught:
        images.validate_image(wide, LOGO_POLICY)
    assert caught.value.code == "style.logo_dimensions_too_large"
    with pytest.raises(errors.UnsupportedMediaType) as refused:
        validate_logo(JPEG)
    assert (refused.value.code, refused.value.detail) == (
        "branding.unsupported_type",
        "Das Logo muss eine PNG- oder SVG-Datei sein.",
    )


def test_a_cleaned_base_docx_renders_without_any_external_reference(
    api: TestClient, su: psycopg.Connection, firm: dict[str, Any], clean_db: DbUnderTest
) -> None:
    """Upload → resolve_style → the renderer: nothing of the stripped relationships reaches an export."""
    from servanda.export.docx import render_docx
    from tests.test_export_docx import build

    style = create(api, firm["editor"], isDefault=True, fonts={"body": "Liberation Sans"})
    hostile = with_external_relationships(clean_docx())
    url = f"{S}/{style['id']}/base-docx"
    assert put_file(api, url, firm["editor"], hostile, "kopf.docx", DOCX).status_code == 200
    resolved = resolve(clean_db, api, firm["a"], None)
    assert resolved.base_docx is not None and resolved.spec.fonts.body == "Liberation Sans"
    rendered = members(render_docx(build(), resolved.spec, logo=resolved.logo, base_docx=resolved.base_docx))
    everything = b"".join(rendered.values())
    assert b"evil.example" not in everything and b"attachedTemplate" not in everything
    assert b"Normal.dotm" not in everything
