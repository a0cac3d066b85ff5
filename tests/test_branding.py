"""Tenant logo upload through the API: PNG and SVG, roles, tenant isolation, hostile files."""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.platform import errors
from servanda.platform.problems import problem_of
from servanda.tenants.logo import validate_logo
from tests.auth_helpers import login_as

ADMIN_LOGO = "/api/v1/tenant/branding/logo"
USER_LOGO = "/api/v1/branding/logo"
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(width: int = 4, height: int = 3, *, extra: bytes = b"") -> bytes:
    """A real RGBA PNG (filter byte 0 per row), built without an imaging library."""
    rows = b"".join(b"\x00" + bytes([200, 30, 30, 255]) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
        + extra
    )


SAFE_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 120 40" width="120" height="40">
  <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>
  <defs>
    <linearGradient id="g"><stop offset="0" stop-color="#003366"/><stop offset="1" stop-color="#0099cc"/></linearGradient>
    <style>.brand { fill: url(#g); font-family: sans-serif; }</style>
  </defs>
  <rect id="r" width="40" height="40" fill="url(#g)" inkscape:label="Feld"/>
  <use href="#r" x="80"/>
  <text x="44" y="26" class="brand" style="font-weight: bold">Kanzlei</text>
</svg>
"""


def svg(body: str, *, attrs: str = "") -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" {attrs}>'
        f"{body}</svg>"
    ).encode()


HOSTILE_SVGS: dict[str, bytes] = {
    "script tag": svg("<script>alert(document.cookie)</script>"),
    "script with CDATA": svg("<script><![CDATA[fetch('/api/v1/identity/me')]]></script>"),
    "onload attribute": svg("<rect width='1' height='1'/>", attrs='onload="alert(1)"'),
    "onclick on a child": svg("<circle r='4' onClick='alert(1)'/>"),
    "external href": svg("<image href='https://evil.example/track.png' width='1' height='1'/>"),
    "external xlink:href": svg("<image xlink:href='//evil.example/x.svg' width='1' height='1'/>"),
    "javascript: URL": svg("<a xlink:href='javascript:alert(1)'><text>x</text></a>"),
    "javascript: URL obfuscated": svg("<a href='&#x20;jav&#x09;ascript&#58;alert(1)'><text>x</text></a>"),
    "data:text/html href": svg("<a href='data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;'>x</a>"),
    "foreignObject": svg(
        "<foreignObject width='100' height='100'><body xmlns='http://www.w3.org/1999/xhtml'>"
        "<iframe src='https://evil.example'/></body></foreignObject>"
    ),
    "XHTML script outside foreignObject": svg(
        "<h:script xmlns:h='http://www.w3.org/1999/xhtml'>alert(1)</h:script>"
    ),
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>""",
    "style @import": svg("<style>@import url(https://evil.example/x.css);</style>"),
    "style @import string": svg('<style>@import "https://evil.example/x.css";</style>'),
    "style external url()": svg("<style>rect { fill: url('https://evil.example/p.svg#a'); }</style>"),
    "style attribute external url()": svg("<rect style='background:url(https://evil.example/t)'/>"),
    "presentation attribute external url()": svg("<rect fill='url(https://evil.example/p.svg#a)'/>"),
    "css escape": svg("<style>rect { fill: u\\72l(https://evil.example/p); }</style>"),
    "xml:base turning a fragment remote": svg(
        "<use href='#icon' xml:base='https://evil.example/sprite.svg'/>"
    ),
    "external use": svg("<use href='https://evil.example/sprite.svg#icon'/>"),
    "use with data URL": svg("<use href='data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#x'/>"),
    "set rewriting href": svg("<a href='#x'><set attributeName='href' to='#y'/><text>x</text></a>"),
    "xml-stylesheet": b'<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/x.xsl"?>'
    b'<svg xmlns="http://www.w3.org/2000/svg"/>',
    "non-SVG root": b"<html><body><script>alert(1)</script></body></html>",
    "svg root without namespace": b"<svg><rect/></svg>",
}


@pytest.fixture
def tenants(make_tenant: Any) -> tuple[uuid.UUID, uuid.UUID]:
    return make_tenant("kanzlei-logo-a"), make_tenant("kanzlei-logo-b")


def storage_dir(api: TestClient, tenant: uuid.UUID) -> Path:
    return Path(api.app.state.settings.servanda_data_dir).resolve() / "storage" / str(tenant)  # type: ignore[attr-defined]


def stored_files(api: TestClient, tenant: uuid.UUID) -> list[str]:
    root = storage_dir(api, tenant)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def logo_record(su: psycopg.Connection, tenant: uuid.UUID) -> Any:
    row = su.execute("SELECT settings #> '{branding,logo}' FROM tenants WHERE id = %s", (tenant,)).fetchone()
    assert row is not None
    return row[0]


def audit_events(su: psycopg.Connection, tenant: uuid.UUID) -> list[tuple[Any, ...]]:
    return su.execute(
        "SELECT action, actor_id, object_type, object_id, details FROM audit_events "
        "WHERE tenant_id = %s ORDER BY seq",
        (tenant,),
    ).fetchall()


def upload(api: TestClient, headers: dict[str, str], data: bytes, name: str, content_type: str) -> Any:
    return api.put(ADMIN_LOGO, headers=headers, files={"file": (name, data, content_type)})


def test_admin_uploads_a_png_every_user_sees_it(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin", "chefin@a.de")
    png = make_png(32, 16)

    response = upload(api, admin, png, "logo.png", "image/png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contentType"] == "image/png"
    assert body["size"] == len(png)
    assert body["sha256"] == hashlib.sha256(png).hexdigest()
    assert body["url"] == USER_LOGO

    record = logo_record(su, a)
    assert record["key"] == f"{a}/branding/logo.png"
    assert record["contentType"] == "image/png"
    assert record["size"] == len(png)
    assert record["sha256"] == hashlib.sha256(png).hexdigest()
    assert record["uploadedAt"]
    admin_id = su.execute("SELECT id FROM users WHERE email = 'chefin@a.de'").fetchone()
    assert admin_id is not None
    assert audit_events(su, a) == [
        ("tenant.settings_change", admin_id[0], "tenant", str(a), {"changed": ["branding.logo"]})
    ]
    assert stored_files(api, a) == ["branding/logo.png"]
    path = storage_dir(api, a) / "branding" / "logo.png"
    assert path.read_bytes() == png
    assert path.stat().st_mode & 0o777 == 0o600

    for role in ("admin", "editor", "user"):
        url = ADMIN_LOGO if role == "admin" else USER_LOGO
        got = api.get(url, headers=login_as(api, su, a, role))
        assert got.status_code == 200, (role, got.text)
        assert got.content == png
        assert got.headers["content-type"] == "image/png"
        assert "nosniff" in got.headers.get_list("x-content-type-options")
        assert got.headers["content-disposition"].startswith("inline")
    cached = api.get(USER_LOGO, headers={**admin, "If-None-Match": f'"{hashlib.sha256(png).hexdigest()}"'})
    assert cached.status_code == 304

    # Changing other branding settings keeps the logo.
    patched = api.patch(
        "/api/v1/tenant/settings", headers=admin, json={"branding": {"colors": {"primary": "#003366"}}}
    )
    assert patched.status_code == 200, patched.text
    assert logo_record(su, a)["sha256"] == hashlib.sha256(png).hexdigest()


def test_svg_is_served_with_a_locked_down_policy_and_replaces_the_png(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin")
    assert upload(api, admin, make_png(), "logo.png", "image/png").status_code == 200

    response = upload(api, admin, SAFE_SVG, "logo.svg", "image/svg+xml")
    assert response.status_code == 200, response.text
    assert response.json()["contentType"] == "image/svg+xml"
    assert logo_record(su, a)["key"] == f"{a}/branding/logo.svg"
    assert stored_files(api, a) == ["branding/logo.svg"], "the replaced PNG is removed"

    got = api.get(USER_LOGO, headers=login_as(api, su, a, "user"))
    assert got.status_code == 200
    assert got.content == SAFE_SVG
    assert got.headers["content-type"] == "image/svg+xml"
    assert got.headers.get_list("content-security-policy") == [
        SVG_CSP
    ]  # the route's policy, not the API default too
    assert "nosniff" in got.headers.get_list("x-content-type-options")
    assert got.headers["content-disposition"] == 'inline; filename="logo.svg"'
    assert [e[0] for e in audit_events(su, a)] == ["tenant.settings_change"] * 2


def test_content_decides_the_type_not_the_name(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin")
    response = upload(api, admin, make_png(), "logo.svg", "image/svg+xml")
    assert response.status_code == 200
    assert response.json()["contentType"] == "image/png"
    assert api.get(ADMIN_LOGO, headers=admin).headers["content-type"] == "image/png"


def test_only_admins_manage_the_logo(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin")
    assert upload(api, admin, make_png(), "logo.png", "image/png").status_code == 200
    for role in ("user", "editor"):
        headers = login_as(api, su, a, role)
        response = upload(api, headers, make_png(8, 8), "logo.png", "image/png")
        assert response.status_code == 403, role
        assert api.delete(ADMIN_LOGO, headers=headers).status_code == 403
        assert api.get(ADMIN_LOGO, headers=headers).status_code == 403
        assert api.get(USER_LOGO, headers=headers).status_code == 200
    assert api.get(USER_LOGO).status_code == 401
    assert upload(api, {}, make_png(), "logo.png", "image/png").status_code == 401
    assert logo_record(su, a)["sha256"] == hashlib.sha256(make_png()).hexdigest()
    assert len(audit_events(su, a)) == 1


def test_another_tenant_never_sees_the_logo(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, b = tenants
    assert upload(api, login_as(api, su, a, "admin"), make_png(), "logo.png", "image/png").status_code == 200
    foreign = login_as(api, su, b, "admin")
    for url in (USER_LOGO, ADMIN_LOGO):
        response = api.get(url, headers=foreign)
        assert response.status_code == 404, url
        assert response.json()["code"] == "branding.logo_not_found"
    assert api.delete(ADMIN_LOGO, headers=foreign).status_code == 404
    assert stored_files(api, b) == []
    assert stored_files(api, a) == ["branding/logo.png"]

    # B's own logo is B's; A still gets A's.
    svg_b = svg("<rect width='2' height='2'/>")
    assert upload(api, foreign, svg_b, "b.svg", "image/svg+xml").status_code == 200
    assert api.get(USER_LOGO, headers=foreign).content == svg_b
    assert api.get(USER_LOGO, headers=login_as(api, su, a, "user")).content == make_png()


def test_admin_deletes_the_logo(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin")
    assert api.delete(ADMIN_LOGO, headers=admin).status_code == 404
    assert upload(api, admin, make_png(), "logo.png", "image/png").status_code == 200
    assert api.delete(ADMIN_LOGO, headers=admin).status_code == 204
    assert logo_record(su, a) is None
    assert stored_files(api, a) == []
    assert api.get(USER_LOGO, headers=admin).status_code == 404
    assert [e[4] for e in audit_events(su, a)] == [{"changed": ["branding.logo"]}] * 2


def _assert_nothing_changed(api: TestClient, su: psycopg.Connection, tenant: uuid.UUID) -> None:
    assert stored_files(api, tenant) == []
    assert logo_record(su, tenant) is None
    assert audit_events(su, tenant) == []


@pytest.mark.parametrize(
    ("data", "content_type", "limit"),
    [
        (make_png()[:33] + b"\x00" * (1024 * 1024 + 1 - 33), "image/png", "1 MiB"),
        (b"\x00" * (1024 * 1024 + 1), "application/octet-stream", "1 MiB"),
        (svg("<desc>" + "x" * (512 * 1024) + "</desc>"), "image/svg+xml", "512 KiB"),
    ],
    ids=["png-1MiB+1", "binary-1MiB+1", "svg-512KiB+1"],
)
def test_oversized_uploads_are_refused(
    api: TestClient,
    su: psycopg.Connection,
    tenants: tuple[uuid.UUID, uuid.UUID],
    data: bytes,
    content_type: str,
    limit: str,
) -> None:
    a, _ = tenants
    response = upload(api, login_as(api, su, a, "admin"), data, "logo", content_type)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "branding.too_large"
    assert limit in response.json()["detail"]
    _assert_nothing_changed(api, su, a)


def test_png_larger_than_2000_pixels_is_refused(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    response = upload(api, login_as(api, su, a, "admin"), make_png(2001, 1), "wide.png", "image/png")
    assert response.status_code == 422
    assert response.json()["code"] == "branding.dimensions_too_large"
    _assert_nothing_changed(api, su, a)


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n", "logo.pdf", "application/pdf"),
        (b"Das ist kein Bild, nur Text.\n", "logo.png", "image/png"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "logo.gif", "image/gif"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "logo.jpg", "image/jpeg"),
        (b"", "logo.png", "image/png"),
    ],
    ids=["pdf", "text-named-png", "gif", "jpeg", "empty"],
)
def test_wrong_types_are_refused(
    api: TestClient,
    su: psycopg.Connection,
    tenants: tuple[uuid.UUID, uuid.UUID],
    data: bytes,
    name: str,
    content_type: str,
) -> None:
    a, _ = tenants
    response = upload(api, login_as(api, su, a, "admin"), data, name, content_type)
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "branding.unsupported_type"
    _assert_nothing_changed(api, su, a)


@pytest.mark.parametrize("name", list(HOSTILE_SVGS))
def test_hostile_svgs_are_refused(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID], name: str
) -> None:
    a, _ = tenants
    response = upload(api, login_as(api, su, a, "admin"), HOSTILE_SVGS[name], "logo.svg", "image/svg+xml")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "branding.unsafe_svg"
    assert problem["errors"][0]["field"] == "file"
    assert problem["errors"][0]["message"] in problem["detail"], "the reason is named"
    _assert_nothing_changed(api, su, a)


def test_a_refused_upload_keeps_the_previous_logo(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = tenants
    admin = login_as(api, su, a, "admin")
    assert upload(api, admin, SAFE_SVG, "logo.svg", "image/svg+xml").status_code == 200
    before = logo_record(su, a)
    response = upload(api, admin, HOSTILE_SVGS["onload attribute"], "logo.svg", "image/svg+xml")
    assert response.status_code == 422
    assert logo_record(su, a) == before
    assert api.get(USER_LOGO, headers=admin).content == SAFE_SVG
    assert len(audit_events(su, a)) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_png()[:40], "unvollständig"),
        (make_png(extra=b"<script>alert(1)</script>"), "nach dem PNG-Ende"),
        (make_png().replace(b"IHDR", b"IHDX"), "Prüfsumme"),
        (make_png(0, 5), "Größe 0"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>", "wohlgeformt"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><text>ä</text></svg>'.encode("latin-1"), "UTF-8"),
    ],
    ids=["truncated", "trailing-data", "bad-crc", "zero-size", "malformed-xml", "not-utf8"],
)
def test_malformed_images_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(errors.Invalid) as raised:
        validate_logo(data)
    assert problem_of(raised.value).status == 422
    assert raised.value.code == "branding.invalid_image"
    assert reason in (raised.value.detail or "")


def test_safe_svg_features_are_accepted() -> None:
    logo = validate_logo(SAFE_SVG)
    assert (logo.content_type, logo.extension) == ("image/svg+xml", "svg")
    embedded = svg("<image href='data:image/png;base64,iVBORw0KGgo=' width='1' height='1'/>")
    assert validate_logo(embedded).content_type == "image/svg+xml"
    assert validate_logo(b"\xef\xbb\xbf" + SAFE_SVG).content_type == "image/svg+xml"


def test_every_user_reads_the_feature_flags_an_admin_sets(
    api: TestClient, su: psycopg.Connection, tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, b = tenants
    admin = login_as(api, su, a, "admin", "chefin@a.de")
    lawyer = login_as(api, su, a, "user", "anwalt@a.de")
    other = login_as(api, su, b, "user", "anwalt@b.de")
    features = "/api/v1/tenant/features"
    assert api.get(features, headers=lawyer).json() == {"odtExport": False, "mfaRequired": False}
    assert api.get("/api/v1/tenant/settings", headers=lawyer).status_code == 403  # the rest stays admin-only
    patched = api.patch("/api/v1/tenant/settings", json={"featureFlags": {"odtExport": True}}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert api.get(features, headers=lawyer).json() == {"odtExport": True, "mfaRequired": False}
    assert api.get(features, headers=other).json()["odtExport"] is False  # per tenant
    assert api.get(features).status_code == 401
