"""Validation and cleaning of an uploaded base DOCX (a style template's "Basisdokument").

Pure: bytes in, cleaned bytes (or a domain error) out; no I/O. What is accepted is decided
from the content, never from the file name or the declared content type:

1. **Size**: at most :data:`MAX_BYTES` (413 ``style.base_docx_too_large``).
2. **Type**: a ZIP whose ``[Content_Types].xml`` and ``_rels/.rels`` name a WordprocessingML
   main document part (``word/document.xml`` as a rule) that exists
   (415 ``style.base_docx_not_docx``; a ``.dotx`` template too, with a hint to save as .docx).
3. **Zip bomb and archive tricks** (422 ``style.base_docx_zip_bomb`` / ``style.base_docx_invalid``):
   at most :data:`MAX_MEMBERS` members, :data:`MAX_TOTAL_UNCOMPRESSED` bytes unpacked in
   total (counted while unpacking, not trusted from the directory), no member larger than
   :data:`RATIO_FLOOR` with a compression ratio above :data:`MAX_RATIO`; no absolute,
   ``..``, backslash, drive-letter or duplicate member names, no encryption, only stored or
   deflated members.
4. **Macros and active content** (422 ``style.base_docx_macros``): ``vbaProject.bin``/
   ``vbaData.xml``, macro-enabled content types (``.docm``/``.dotm`` main parts), VBA
   relationships, ActiveX controls and OLE objects (``oleObject`` relationships, ``.bin``
   embeddings) are refused, not stripped: a file that carries them is not a plain style
   template, and the user should know.
5. **XML** of every ``.xml``/``.rels`` part is parsed with defusedxml: no DTD, no entities
   (422 ``style.base_docx_invalid``).
6. **External relationships** (``TargetMode="External"`` in any ``.rels``) are **stripped**:
   attached templates, remote images (``r:link``), linked OLE objects, frames and
   sub-documents would make Word or LibreOffice fetch something from elsewhere when the
   exported contract is opened (NTLM hash leaks, tracking, template injection). Hyperlinks
   to ``http``/``https``/``mailto`` stay (they are only followed on a click); hyperlinks
   with any other scheme (``file:``, UNC paths) are stripped too. The elements that pointed
   at a stripped relationship lose the reference (hyperlinks keep their text, images their
   embedded copy) or are removed (``w:attachedTemplate``, ``v:imagedata``, ...), so Word
   finds no dangling ids. Stripping rather than refusing: letterheads often carry a
   hyperlinked web address or a template path from the firm's file server, and refusing
   those would refuse most real-world files for no gain.

The result is re-packed with fixed timestamps and the original member order (no zip
comment, no extra fields, nothing after the archive), and finally opened with python-docx
(the library the renderer uses), so what is stored is what the worker can read.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Final
from xml.etree import ElementTree
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree

from servanda.platform import errors

MAX_BYTES: Final = 5 * 1024 * 1024
MAX_MEMBERS: Final = 500
MAX_TOTAL_UNCOMPRESSED: Final = 50 * 1024 * 1024
MAX_RATIO: Final = 100
RATIO_FLOOR: Final = 1024 * 1024  # smaller members may compress as well as they like
DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

CT_NS: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
PR_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
R_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OFFICE_DOCUMENT_REL: Final = f"{R_NS}/officeDocument"
HYPERLINK_REL: Final = f"{R_NS}/hyperlink"
MAIN_DOCUMENT_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
TEMPLATE_MAIN_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
SAFE_LINK_SCHEMES: Final = ("http://", "https://", "mailto:")
# Elements whose reference to a stripped relationship is optional: drop the attribute, keep the element.
KEEP_ELEMENT_ON_STRIP: Final = frozenset({"hyperlink", "blip", "hlinkClick", "hlinkHover"})
FIXED_DATE: Final = (1980, 1, 1, 0, 0, 0)
_CHUNK: Final = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StrippedRelationship:
    part: str  # the .rels member
    id: str
    type: str
    target: str


@dataclass(frozen=True)
class CleanDocx:
    data: bytes
    stripped: list[StrippedRelationship] = field(default_factory=list)


# -- errors -------------------------------------------------------------------------------------


def too_large(limit: int = MAX_BYTES) -> errors.PayloadTooLarge:
    size = f"{limit // 1024 // 1024} MiB"
    return errors.PayloadTooLarge(
        "style.base_docx_too_large",
        f"Das Basisdokument darf höchstens {size} groß sein.",
        errors=[{"field": "file", "message": f"höchstens {size}"}],
    )


def not_docx(reason: str = "keine DOCX-Datei") -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(
        "style.base_docx_not_docx",
        f"Das Basisdokument muss eine Word-Datei (.docx) sein: {reason}.",
        errors=[{"field": "file", "message": reason}],
    )


def invalid(reason: str) -> errors.Invalid:
    return errors.Invalid(
        "style.base_docx_invalid",
        f"Das Basisdokument ist fehlerhaft: {reason}.",
        errors=[{"field": "file", "message": reason}],
    )


def zip_bomb(reason: str) -> errors.Invalid:
    return errors.Invalid(
        "style.base_docx_zip_bomb",
        f"Das Basisdokument wurde abgelehnt: {reason}.",
        errors=[{"field": "file", "message": reason}],
    )


def macros(reason: str) -> errors.Invalid:
    return errors.Invalid(
        "style.base_docx_macros",
        f"Das Basisdokument enthält Makros oder aktive Inhalte ({reason}). "
        "Bitte speichern Sie es als Word-Dokument ohne Makros (.docx).",
        errors=[{"field": "file", "message": reason}],
    )


# -- the archive --------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name or _CONTROL.search(name):
        raise invalid("unzulässiger Name eines Archiv-Eintrags")
    if name.startswith("/") or "\\" in name or _DRIVE.match(name):
        raise invalid(f"absoluter Pfad im Archiv: {name[:80]}")
    if any(segment in ("..", ".") for segment in name.split("/")):
        raise invalid(f"relativer Pfad im Archiv: {name[:80]}")


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise zip_bomb(f"mehr als {MAX_MEMBERS} Einträge im Archiv")
    seen: set[str] = set()
    declared_total = 0
    members = []
    for info in infos:
        _check_name(info.filename)
        if info.is_dir():
            continue
        key = info.filename.lower()  # part names are case-insensitive (OPC)
        if key in seen:
            raise invalid(f"doppelter Eintrag im Archiv: {info.filename[:80]}")
        seen.add(key)
        if info.flag_bits & 0x1:
            raise invalid("verschlüsselte Einträge sind nicht erlaubt")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise invalid("unbekanntes Kompressionsverfahren")
        declared_total += info.file_size
        if declared_total > MAX_TOTAL_UNCOMPRESSED:
            raise zip_bomb(f"entpackt größer als {MAX_TOTAL_UNCOMPRESSED // 1024 // 1024} MiB")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise zip_bomb(f"verdächtig hohe Kompressionsrate ({info.filename[:80]})")
        members.append(info)
    return members


def _read_all(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> dict[str, bytes]:
    """Unpack every member, counting the bytes actually produced (the directory may lie)."""
    contents: dict[str, bytes] = {}
    total = 0
    for info in members:
        parts: list[bytes] = []
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    total += len(chunk)
                    if total > MAX_TOTAL_UNCOMPRESSED:
                        raise zip_bomb(f"entpackt größer als {MAX_TOTAL_UNCOMPRESSED // 1024 // 1024} MiB")
                    parts.append(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
            raise invalid(f"beschädigter Archiv-Eintrag ({info.filename[:80]})") from error
        except RuntimeError as error:  # e.g. "File is encrypted"
            raise invalid("verschlüsselte Einträge sind nicht erlaubt") from error
        contents[info.filename] = b"".join(parts)
    return contents


# -- XML ----------------------------------------------------------------------------------------


def _parse(name: str, data: bytes) -> ElementTree.Element:
    try:
        return defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise invalid(f"DOCTYPE oder Entitäten in {name[:80]} sind nicht erlaubt") from None
    except ParseError:
        raise invalid(f"{name[:80]} ist kein wohlgeformtes XML") from None


def _rels_source(rels_name: str) -> str | None:
    """The part a ``.rels`` member belongs to (``word/_rels/document.xml.rels`` → ``word/document.xml``)."""
    directory, base = posixpath.split(rels_name)
    if posixpath.basename(directory) != "_rels" or not base.endswith(".rels"):
        return None
    source = posixpath.join(posixpath.dirname(directory), base.removesuffix(".rels"))
    return source or None  # "_rels/.rels" belongs to the package itself


def _resolve(source_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(source_dir, target))


def _content_types(parsed: ElementTree.Element) -> tuple[dict[str, str], dict[str, str]]:
    defaults, overrides = {}, {}
    for element in parsed:
        if element.tag == f"{{{CT_NS}}}Default":
            defaults[element.get("Extension", "").lower()] = element.get("ContentType", "")
        elif element.tag == f"{{{CT_NS}}}Override":
            overrides[element.get("PartName", "").lstrip("/").lower()] = element.get("ContentType", "")
    return defaults, overrides


def _check_macros(
    contents: dict[str, bytes],
    defaults: dict[str, str],
    overrides: dict[str, str],
    rels: list[ElementTree.Element],
) -> None:
    for name in contents:
        base = posixpath.basename(name).lower()
        if base in ("vbaproject.bin", "vbadata.xml") or (base.startswith("vba") and base.endswith(".bin")):
            raise macros("VBA-Projekt")
        if name.lower().startswith("word/activex/"):
            raise macros("ActiveX-Steuerelemente")
        if name.lower().startswith("word/embeddings/") and base.endswith(".bin"):
            raise macros("eingebettete OLE-Objekte")
    for content_type in [*defaults.values(), *overrides.values()]:
        lowered = content_type.lower()
        if "macroenabled" in lowered or "vba" in lowered:
            raise macros("makrofähiger Dokumenttyp (.docm/.dotm)")
        if "activex" in lowered:
            raise macros("ActiveX-Steuerelemente")
        if "oleobject" in lowered:
            raise macros("eingebettete OLE-Objekte")
    for parsed in rels:
        for relationship in parsed:
            kind = relationship.get("Type", "").lower()
            if "vba" in kind or kind.endswith("/wordvbadata"):
                raise macros("VBA-Projekt")
            if "activex" in kind or kind.endswith("/control"):
                raise macros("ActiveX-Steuerelemente")
            if kind.endswith("/oleobject") and relationship.get("TargetMode", "").lower() != "external":
                raise macros("eingebettete OLE-Objekte")


def _main_part(package_rels: ElementTree.Element, defaults: dict[str, str], overrides: dict[str, str]) -> str:
    targets = [
        r.get("Target", "")
        for r in package_rels
        if r.get("Type") == OFFICE_DOCUMENT_REL and r.get("TargetMode", "").lower() != "external"
    ]
    if len(targets) != 1:
        raise not_docx("kein Word-Hauptdokument im Paket")
    part = _resolve("", targets[0])
    content_type = overrides.get(part.lower()) or defaults.get(
        posixpath.splitext(part)[1].lstrip(".").lower()
    )
    if content_type == TEMPLATE_MAIN_TYPE:
        raise not_docx("eine Dokumentvorlage (.dotx); bitte als .docx speichern")
    if content_type != MAIN_DOCUMENT_TYPE:
        raise not_docx("das Hauptdokument ist kein Word-Dokument")
    return part


# -- stripping external relationships ----------------------------------------------------------


def _keep_external(relationship: ElementTree.Element) -> bool:
    target = relationship.get("Target", "").strip().lower()
    return relationship.get("Type") == HYPERLINK_REL and target.startswith(SAFE_LINK_SCHEMES)


def _strip_rels(name: str, parsed: ElementTree.Element) -> tuple[bytes, list[StrippedRelationship]] | None:
    stripped = []
    for relationship in list(parsed):
        if relationship.get("TargetMode", "").lower() == "external" and not _keep_external(relationship):
            stripped.append(
                StrippedRelationship(
                    part=name,
                    id=relationship.get("Id", ""),
                    type=relationship.get("Type", "").rsplit("/", 1)[-1],
                    target=relationship.get("Target", "")[:200],
                )
            )
            parsed.remove(relationship)
    if not stripped:
        return None
    # A .rels document has one (default) namespace: ElementTree writes it back unchanged.
    ElementTree.register_namespace("", PR_NS)
    data = ElementTree.tostring(parsed, encoding="UTF-8", xml_declaration=True)
    return data, stripped


def _drop_references(data: bytes, ids: set[str]) -> bytes:
    """Remove the references to stripped relationship ids from a part (lxml keeps its prefixes,
    which ``mc:Ignorable`` names; the part passed the defusedxml check already)."""
    from lxml import etree  # python-docx's XML library, present with it

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    changed = False
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        hits = [a for a, v in element.attrib.items() if a.startswith(f"{{{R_NS}}}") and v in ids]
        if not hits:
            continue
        changed = True
        local = etree.QName(element).localname
        parent = element.getparent()
        if local in KEEP_ELEMENT_ON_STRIP or parent is None:
            for attribute in hits:
                del element.attrib[attribute]
        else:
            parent.remove(element)
    if not changed:
        return data
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return result


# -- the whole check ----------------------------------------------------------------------------


def _repack(order: list[str], contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, contents[name])
    return buffer.getvalue()


def _readable_by_renderer(data: bytes) -> None:
    import docx

    try:
        docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, ValueError, lxml errors ...
        raise invalid("Word kann die Datei nicht lesen") from error


def validate_base_docx(data: bytes) -> CleanDocx:
    """Check ``data`` as described in the module docstring; the cleaned DOCX or a domain error."""
    if len(data) > MAX_BYTES:
        raise too_large()
    if not data.startswith(b"PK\x03\x04"):
        raise not_docx()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise not_docx("kein gültiges ZIP-Archiv") from None
    with archive:
        members = _members(archive)
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
            raise not_docx("kein Office-Dokument")
        contents = _read_all(archive, members)
    order = [m.filename for m in members]
    parsed = {
        name: _parse(name, body)
        for name, body in contents.items()
        if name.lower().endswith((".xml", ".rels"))
    }
    defaults, overrides = _content_types(parsed["[Content_Types].xml"])
    rels = {name: tree for name, tree in parsed.items() if name.lower().endswith(".rels")}
    _check_macros(contents, defaults, overrides, list(rels.values()))
    main = _main_part(rels["_rels/.rels"], defaults, overrides)
    if main not in contents:
        raise not_docx("das Word-Hauptdokument fehlt")

    stripped: list[StrippedRelationship] = []
    for name, tree in rels.items():
        result = _strip_rels(name, tree)
        if result is None:
            continue
        contents[name], removed = result
        stripped.extend(removed)
        source = _rels_source(name)
        if source is not None and source in contents and source.lower().endswith(".xml"):
            try:
                contents[source] = _drop_references(contents[source], {r.id for r in removed})
            except Exception as error:  # lxml's XMLSyntaxError: refused by defusedxml already, in practice
                raise invalid(f"{source[:80]} ist kein wohlgeformtes XML") from error
    cleaned = _repack(order, contents)
    _readable_by_renderer(cleaned)
    return CleanDocx(cleaned, stripped)
