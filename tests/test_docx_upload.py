"""The base-DOCX check of style templates, without HTTP: type by content, zip bombs, macros, XML,
external relationships (export/docx_upload.py)."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest

from servanda.export import docx_upload
from servanda.export.docx_upload import validate_base_docx
from servanda.platform import errors
from tests.docx_samples import clean_docx, members, repack, with_external_relationships

MACRO_DOCUMENT = "application/vnd.ms-word.document.macroEnabled.main+xml"
MAIN_DOCUMENT = docx_upload.MAIN_DOCUMENT_TYPE


def refused(data: bytes) -> tuple[type[errors.DomainError], str]:
    with pytest.raises(errors.DomainError) as caught:
        validate_base_docx(data)
    assert caught.value.errors and caught.value.errors[0]["field"] == "file"
    return type(caught.value), caught.value.code


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_a_clean_docx_passes_and_is_repacked_reproducibly() -> None:
    original = clean_docx()
    first = validate_base_docx(original)
    assert first.stripped == []
    assert first.data == validate_base_docx(original).data  # fixed timestamps, same order
    assert list(members(first.data)) == list(members(original))
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(first.data)).infolist()} == {
        (1980, 1, 1, 0, 0, 0)
    }
    assert docx.Document(io.BytesIO(first.data)).paragraphs[0].text == "Briefkopf Kanzlei"


def test_too_large_is_413() -> None:
    data = repack(clean_docx(), {"word/media/big.png": bytes(range(256)) * (21 * 1024)}, compression=0)
    assert len(data) > docx_upload.MAX_BYTES
    assert refused(data) == (errors.PayloadTooLarge, "style.base_docx_too_large")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj <<>> endobj\n",
        b"Lorem ipsum, nur Text mit der Endung .docx",
        b"PK\x03\x04 truncated",
        zip_of({"hallo.txt": b"kein Word"}),
        zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<x/>"}),  # no package rels
    ],
    ids=["pdf", "text", "broken zip", "zip without office parts", "zip without relationships"],
)
def test_not_a_docx_by_content_is_415(data: bytes) -> None:
    assert refused(data) == (errors.UnsupportedMediaType, "style.base_docx_not_docx")


def test_an_xlsx_or_dotx_is_not_a_docx() -> None:
    dotx = repack(
        clean_docx(),
        {
            "[Content_Types].xml": lambda xml: xml.replace(
                MAIN_DOCUMENT.encode(), docx_upload.TEMPLATE_MAIN_TYPE.encode()
            )
        },
    )
    assert refused(dotx) == (errors.UnsupportedMediaType, "style.base_docx_not_docx")
    no_main = repack(clean_docx(), {"word/document.xml": None})
    assert refused(no_main) == (errors.UnsupportedMediaType, "style.base_docx_not_docx")


def test_zip_bombs_are_refused() -> None:
    huge = repack(clean_docx(), {"customXml/item9.xml": b"\0" * (60 * 1024 * 1024)})
    assert len(huge) < docx_upload.MAX_BYTES
    assert refused(huge) == (errors.Invalid, "style.base_docx_zip_bomb")
    dense = repack(clean_docx(), {"customXml/item9.xml": b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>"})
    assert refused(dense) == (errors.Invalid, "style.base_docx_zip_bomb")  # ratio > 100
    many = repack(clean_docx(), {f"customXml/n{i}.xml": b"<a/>" for i in range(docx_upload.MAX_MEMBERS)})
    assert refused(many) == (errors.Invalid, "style.base_docx_zip_bomb")


def test_a_directory_that_understates_sizes_is_caught_while_unpacking() -> None:
    """Both headers claim 1 KiB for a 200 KB member: unpacking stops there and the CRC fails."""
    data = bytearray(repack(clean_docx(), {"customXml/item9.xml": b"<a>" + b"x" * 200_000 + b"</a>"}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("customXml/item9.xml")
    data[info.header_offset + 22 : info.header_offset + 26] = (1024).to_bytes(4, "little")
    name = info.filename.encode()
    entry = bytes(data).index(b"PK\x01\x02")
    while bytes(data)[entry + 46 : entry + 46 + len(name)] != name:
        entry = bytes(data).index(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = (1024).to_bytes(4, "little")
    assert refused(bytes(data)) == (errors.Invalid, "style.base_docx_invalid")


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "word\\..\\evil.xml", "C:/evil.xml"])
def test_member_names_outside_the_package_are_refused(name: str) -> None:
    assert refused(repack(clean_docx(), {name: b"<a/>"})) == (errors.Invalid, "style.base_docx_invalid")


def test_duplicate_members_are_refused() -> None:
    buffer = io.BytesIO(clean_docx())
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("word/document.xml", b"<w:document/>")
    assert refused(buffer.getvalue()) == (errors.Invalid, "style.base_docx_invalid")


@pytest.mark.parametrize(
    "changes",
    [
        {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 ole"},
        {"word/vbaData.xml": b"<wne:vbaSuppData xmlns:wne='urn:x'/>"},
        {
            "[Content_Types].xml": lambda xml: xml.replace(MAIN_DOCUMENT.encode(), MACRO_DOCUMENT.encode()),
        },
        {"word/activeX/activeX1.xml": b"<ax:ocx xmlns:ax='urn:x'/>"},
        {"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0 ole"},
    ],
    ids=["vbaProject.bin", "vbaData.xml", "docm main part", "ActiveX", "OLE object"],
)
def test_macros_and_active_content_are_refused(changes: dict[str, object]) -> None:
    data = repack(clean_docx(), changes)  # type: ignore[arg-type]
    assert refused(data) == (errors.Invalid, "style.base_docx_macros")


def test_a_vba_relationship_is_refused() -> None:
    rel = (
        '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
        'Target="vbaProject.bin"/>'
    )
    data = repack(
        clean_docx(),
        {
            "word/_rels/document.xml.rels": lambda xml: xml.replace(
                b"</Relationships>", rel.encode() + b"</Relationships>"
            )
        },
    )
    assert refused(data) == (errors.Invalid, "style.base_docx_macros")


def test_dtds_and_entities_are_refused() -> None:
    billion = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>"
    )
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    for body in (billion, xxe):
        data = repack(clean_docx(), {"word/styles.xml": body})
        assert refused(data) == (errors.Invalid, "style.base_docx_invalid")
    broken = repack(clean_docx(), {"word/styles.xml": b"<w:styles><unclosed></w:styles>"})
    assert refused(broken) == (errors.Invalid, "style.base_docx_invalid")


def test_external_relationships_are_stripped_and_safe_links_kept() -> None:
    result = validate_base_docx(with_external_relationships(clean_docx()))
    assert sorted((s.type, s.target) for s in result.stripped) == [
        ("attachedTemplate", "file:///\\\\evil.example\\share\\Normal.dotm"),
        ("hyperlink", "file://///evil.example/share/x.docx"),
        ("image", "http://evil.example/track.png"),
    ]
    parts = members(result.data)
    rels = b"".join(body for name, body in parts.items() if name.endswith(".rels"))
    assert b"evil.example" not in rels
    assert rels.count(b'TargetMode="External"') == 1 and b"https://kanzlei.example/" in rels
    document = parts["word/document.xml"]
    assert b"rIdFile" not in document and b"rIdPix" not in document and b"imagedata" not in document
    assert b"Ablage" in document, "the stripped hyperlink keeps its text"
    assert b'r:id="rIdWeb"' in document
    assert b"attachedTemplate" not in parts["word/settings.xml"]
    assert b'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"' in parts["word/settings.xml"]
    # python-docx still reads the cleaned file, with its kept hyperlink.
    opened = docx.Document(io.BytesIO(result.data))
    assert opened.part.rels["rIdWeb"].target_ref == "https://kanzlei.example/"
