"""Uploaded images (logos): strict validation of PNG, JPEG and SVG, decided from the bytes alone.

Shared by the tenant logo (``tenants/logo.py``: PNG and SVG, codes ``branding.*``) and the
style templates' logos (``export/styles.py``: PNG, JPEG and SVG, codes ``style.logo_*``); each
caller passes an :class:`ImagePolicy` with its types and code prefix. Pure functions, no I/O.

What is accepted is decided from the bytes, never from the file name or the
declared content type:

- PNG: signature, a well-formed chunk sequence (lengths, CRCs, IHDR first,
  IDAT, nothing after IEND), at most 2000×2000 pixels and 1 MiB.
- JPEG: SOI marker, a well-formed segment sequence up to the scan with a frame header
  (SOFn) before it, EOI at the end, at most 2000×2000 pixels and 1 MiB.
- SVG: at most 512 KiB of UTF-8 XML with an ``<svg>`` root in the SVG
  namespace, parsed with defusedxml (no DTD, no entities), and nothing that can
  run code or load something from elsewhere: no ``<script>``,
  ``<foreignObject>``, event handler attributes, ``javascript:``, external
  ``href``/``xlink:href`` (only ``#fragment`` and embedded PNG/JPEG data),
  external ``<use>``, CSS ``@import``/external ``url()``, processing
  instructions, elements outside the SVG and editor-metadata namespaces.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree

from servanda.platform import errors

PNG_MAX_BYTES: Final = 1024 * 1024
JPEG_MAX_BYTES: Final = 1024 * 1024
SVG_MAX_BYTES: Final = 512 * 1024
PNG_MAX_SIDE: Final = 2000
UPLOAD_MAX_BYTES: Final = max(PNG_MAX_BYTES, JPEG_MAX_BYTES, SVG_MAX_BYTES)
PNG_TYPE: Final = "image/png"
JPEG_TYPE: Final = "image/jpeg"
SVG_TYPE: Final = "image/svg+xml"
EXTENSIONS: Final = {PNG_TYPE: "png", JPEG_TYPE: "jpg", SVG_TYPE: "svg"}
_TYPE_NAMES: Final = {PNG_TYPE: "PNG", JPEG_TYPE: "JPEG", SVG_TYPE: "SVG"}
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE: Final = b"\xff\xd8\xff"

SVG_NS: Final = "http://www.w3.org/2000/svg"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
# Editor metadata (Inkscape, Sodipodi, RDF/Dublin Core/Creative Commons): inert in a browser.
# Everything else, in particular XHTML (whose <script> runs anywhere in an XML document)
# and MathML, is refused.
METADATA_NAMESPACES: Final = frozenset(
    {
        "http://www.inkscape.org/namespaces/inkscape",
        "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "http://purl.org/dc/elements/1.1/",
        "http://creativecommons.org/ns#",
        "http://web.resource.org/cc/",
    }
)
FORBIDDEN_SVG_ELEMENTS: Final = {
    "script": "<script> ist nicht erlaubt",
    "foreignobject": "<foreignObject> ist nicht erlaubt",
    "handler": "<handler> (Skript) ist nicht erlaubt",
    "listener": "<listener> (Skript) ist nicht erlaubt",
}
ANIMATION_ELEMENTS: Final = frozenset({"set", "animate", "animatecolor", "animatemotion", "animatetransform"})
_ALLOWED_DATA_URL = re.compile(r"^data:image/(png|jpeg)[;,]")
_CSS_URL = re.compile(r"url\(\s*(['\"]?)\s*(.)?", re.DOTALL)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
_XML_DECLARATION = re.compile(r"<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")


@dataclass(frozen=True)
class ImagePolicy:
    """What one kind of upload accepts: its content types and the prefix of its problem codes
    (``"branding."`` → ``branding.too_large``; ``"style.logo_"`` → ``style.logo_too_large``)."""

    code_prefix: str
    types: tuple[str, ...] = (PNG_TYPE, SVG_TYPE)

    def code(self, name: str) -> str:
        return f"{self.code_prefix}{name}"

    @property
    def max_bytes(self) -> int:
        limits = {PNG_TYPE: PNG_MAX_BYTES, JPEG_TYPE: JPEG_MAX_BYTES, SVG_TYPE: SVG_MAX_BYTES}
        return max(limits[t] for t in self.types)


@dataclass(frozen=True)
class Logo:
    """A validated logo, ready to store."""

    data: bytes
    content_type: str
    extension: str


def too_large(policy: ImagePolicy, limit: int) -> errors.PayloadTooLarge:
    size = f"{limit // 1024 // 1024} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return errors.PayloadTooLarge(
        policy.code("too_large"),
        f"Das Logo darf höchstens {size} groß sein.",
        errors=[{"field": "file", "message": f"höchstens {size}"}],
    )


def unsupported_type(policy: ImagePolicy) -> errors.UnsupportedMediaType:
    names = [_TYPE_NAMES[t] for t in policy.types]
    hyphenated = ", ".join(f"{n}-" for n in names[:-1])  # "PNG-, JPEG- oder SVG-Datei"
    kinds = f"{hyphenated} oder {names[-1]}-Datei" if hyphenated else f"{names[-1]}-Datei"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " oder " + names[-1]
    return errors.UnsupportedMediaType(
        policy.code("unsupported_type"),
        f"Das Logo muss eine {kinds} sein.",
        errors=[{"field": "file", "message": f"nur {listed}"}],
    )


def invalid_image(policy: ImagePolicy, reason: str) -> errors.Invalid:
    return errors.Invalid(
        policy.code("invalid_image"),
        f"Die Bilddatei ist fehlerhaft: {reason}.",
        errors=[{"field": "file", "message": reason}],
    )


def unsafe_svg(policy: ImagePolicy, reason: str) -> errors.Invalid:
    return errors.Invalid(
        policy.code("unsafe_svg"),
        f"Die SVG-Datei wurde abgelehnt: {reason}.",
        errors=[{"field": "file", "message": reason}],
    )


class _Refused(Exception):
    """Raised by the checks below; :func:`validate_image` turns it into the policy's domain error."""

    def __init__(self, kind: str, reason: str, size: tuple[int, int] | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.size = size

    def error(self, policy: ImagePolicy) -> errors.DomainError:
        if self.kind == "unsafe_svg":
            return unsafe_svg(policy, self.reason)
        if self.kind == "dimensions_too_large" and self.size is not None:
            return _dimensions_too_large(policy, *self.size)
        return invalid_image(policy, self.reason)


def _dimensions_too_large(policy: ImagePolicy, width: int, height: int) -> errors.Invalid:
    return errors.Invalid(
        policy.code("dimensions_too_large"),
        f"Das Logo darf höchstens {PNG_MAX_SIDE}×{PNG_MAX_SIDE} Pixel groß sein "
        f"(hochgeladen: {width}×{height}).",
        errors=[{"field": "file", "message": f"höchstens {PNG_MAX_SIDE}×{PNG_MAX_SIDE} Pixel"}],
    )


# -- PNG ----------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Walk the chunks of a PNG and return (width, height); refuse a malformed one."""
    if not data.startswith(PNG_SIGNATURE):
        raise _Refused("invalid_image", "keine PNG-Signatur")
    pos = len(PNG_SIGNATURE)
    size: tuple[int, int] | None = None
    seen_idat = False
    while True:
        if pos + 12 > len(data):
            raise _Refused("invalid_image", "PNG-Datei ist unvollständig")
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise _Refused("invalid_image", "PNG-Block ist unvollständig")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(chunk_type + body) != crc:
            raise _Refused("invalid_image", "PNG-Prüfsumme stimmt nicht")
        if size is None:
            if chunk_type != b"IHDR" or length != 13:
                raise _Refused("invalid_image", "PNG beginnt nicht mit IHDR")
            size = struct.unpack(">II", body[:8])
        elif chunk_type == b"IHDR":
            raise _Refused("invalid_image", "mehrere IHDR-Blöcke")
        seen_idat = seen_idat or chunk_type == b"IDAT"
        pos = end
        if chunk_type == b"IEND":
            break
    if not seen_idat:
        raise _Refused("invalid_image", "PNG enthält keine Bilddaten")
    if pos != len(data):
        raise _Refused("invalid_image", "Daten nach dem PNG-Ende")
    width, height = size
    if width == 0 or height == 0:
        raise _Refused("invalid_image", "PNG hat die Größe 0")
    if width > PNG_MAX_SIDE or height > PNG_MAX_SIDE:
        raise _Refused("dimensions_too_large", f"{width}×{height}", (width, height))
    return width, height


# -- SVG ----------------------------------------------------------------------------------------


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return "", name


def _url_text(value: str) -> str:
    """A URL as a browser reads it: without whitespace and control characters, lower case."""
    return _URL_NOISE.sub("", value).lower()


def _check_css(css: str, where: str) -> None:
    text = _CSS_COMMENT.sub("", css).lower()
    if "\\" in text:
        raise _Refused("unsafe_svg", f"CSS-Escapes in {where} sind nicht erlaubt")
    if "@import" in text:
        raise _Refused("unsafe_svg", f"@import in {where} ist nicht erlaubt")
    if "expression(" in text or "image-set(" in text:
        raise _Refused("unsafe_svg", f"externe Ressourcen in {where} sind nicht erlaubt")
    _check_urls(text, where)


def _check_urls(value: str, where: str) -> None:
    """Only ``url(#fragment)`` references: anything else loads a resource from elsewhere."""
    for match in _CSS_URL.finditer(value.lower()):
        if match.group(2) != "#":
            raise _Refused("unsafe_svg", f"externe url() in {where} ist nicht erlaubt")


def _check_href(value: str, element: str, *, local_only: bool = False) -> None:
    url = _url_text(value)
    if url.startswith("#"):
        return
    if local_only:
        raise _Refused("unsafe_svg", f"externes <{element}> ist nicht erlaubt")
    if not _ALLOWED_DATA_URL.match(url):
        raise _Refused("unsafe_svg", f"externer Verweis (href) in <{element}> ist nicht erlaubt")


def _check_prolog(text: str) -> None:
    declaration = _XML_DECLARATION.match(text)
    if declaration:
        encoding = _DECLARED_ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).lower().replace("-", "").replace("_", "") != "utf8":
            raise _Refused("invalid_image", "SVG muss UTF-8-kodiert sein")
    start = declaration.end() if declaration else 0
    if "<?" in text[start:]:
        raise _Refused("unsafe_svg", "Verarbeitungsanweisungen (<?…?>) sind nicht erlaubt")
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise _Refused("unsafe_svg", "DOCTYPE und Entitäten sind nicht erlaubt")
    lowered = _url_text(text)
    if any(scheme in lowered for scheme in _SCRIPT_SCHEMES):
        raise _Refused("unsafe_svg", "javascript:-Verweise sind nicht erlaubt")


def check_svg(data: bytes) -> None:
    """Refuse ``data``, naming the reason, when it is not a harmless SVG document."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("invalid_image", "SVG muss UTF-8-kodiert sein") from None
    _check_prolog(text.removeprefix("\ufeff"))
    try:
        root = defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise _Refused("unsafe_svg", "DOCTYPE und Entitäten sind nicht erlaubt") from None
    except ParseError:
        raise _Refused("invalid_image", "SVG ist kein wohlgeformtes XML") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise _Refused("unsafe_svg", "das Wurzelelement ist nicht <svg> (SVG-Namensraum)")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        namespace, local = _split(element.tag)
        if namespace != SVG_NS and namespace not in METADATA_NAMESPACES:
            raise _Refused("unsafe_svg", f"Element <{local}> außerhalb des SVG-Namensraums ist nicht erlaubt")
        name = local.lower()
        if namespace == SVG_NS and name in FORBIDDEN_SVG_ELEMENTS:
            raise _Refused("unsafe_svg", FORBIDDEN_SVG_ELEMENTS[name])
        if name in ANIMATION_ELEMENTS:
            target = _url_text(element.get("attributeName", "")).rpartition(":")[2]
            if target == "href" or target.startswith("on"):
                raise _Refused("unsafe_svg", f"<{local}> darf keine Verweise oder Ereignisse ändern")
        if name == "style":
            _check_css("".join(element.itertext()), "<style>")
        for attribute, value in element.attrib.items():
            attr_namespace, attr_local = _split(attribute)
            attr = attr_local.lower()
            if attr.startswith("on"):
                raise _Refused("unsafe_svg", f"Ereignis-Attribut {attr_local} ist nicht erlaubt")
            if any(scheme in _url_text(value) for scheme in _SCRIPT_SCHEMES):
                raise _Refused("unsafe_svg", "javascript:-Verweise sind nicht erlaubt")
            if attr == "base" and attr_namespace == XML_NS:
                raise _Refused(
                    "unsafe_svg", "xml:base ist nicht erlaubt"
                )  # would turn #fragments into remote URLs
            if attr == "href" and attr_namespace in ("", XLINK_NS):
                _check_href(value, local, local_only=name == "use")
            elif attr == "href":
                raise _Refused("unsafe_svg", f"Verweis-Attribut {attribute} ist nicht erlaubt")
            if attr == "style":
                _check_css(value, "style-Attribut")
            elif "url(" in value.lower():
                _check_urls(value, f"Attribut {attr_local}")


# -- JPEG ---------------------------------------------------------------------------------------

_SOF_MARKERS: Final = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the segments of a JPEG up to its first scan and return (width, height)."""
    if not data.startswith(JPEG_SIGNATURE):
        raise _Refused("invalid_image", "keine JPEG-Signatur")
    if not data.endswith(b"\xff\xd9"):
        raise _Refused("invalid_image", "JPEG-Datei ist unvollständig")
    pos = 2
    size: tuple[int, int] | None = None
    while True:
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise _Refused("invalid_image", "JPEG-Segment ist fehlerhaft")
        marker = data[pos + 1]
        if marker == 0xD9 or (0xD0 <= marker <= 0xD7) or marker == 0x01:
            raise _Refused("invalid_image", "JPEG endet vor den Bilddaten")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise _Refused("invalid_image", "JPEG-Segment ist unvollständig")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise _Refused("invalid_image", "JPEG-Bildkopf ist fehlerhaft")
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            break
        pos += 2 + length
    if size is None:
        raise _Refused("invalid_image", "JPEG ohne Bildkopf")
    width, height = size
    if width == 0 or height == 0:
        raise _Refused("invalid_image", "JPEG hat die Größe 0")
    if width > PNG_MAX_SIDE or height > PNG_MAX_SIDE:
        raise _Refused("dimensions_too_large", f"{width}×{height}", (width, height))
    return width, height


# -- detection ----------------------------------------------------------------------------------


def validate_image(data: bytes, policy: ImagePolicy) -> Logo:
    """Decide the type from the content and validate it; raise 413, 415 or 422 domain errors
    with the policy's codes."""
    if len(data) > policy.max_bytes:
        raise too_large(policy, policy.max_bytes)
    try:
        if data.startswith(PNG_SIGNATURE) and PNG_TYPE in policy.types:
            if len(data) > PNG_MAX_BYTES:
                raise too_large(policy, PNG_MAX_BYTES)
            png_size(data)
            return Logo(data, PNG_TYPE, EXTENSIONS[PNG_TYPE])
        if data.startswith(JPEG_SIGNATURE) and JPEG_TYPE in policy.types:
            if len(data) > JPEG_MAX_BYTES:
                raise too_large(policy, JPEG_MAX_BYTES)
            jpeg_size(data)
            return Logo(data, JPEG_TYPE, EXTENSIONS[JPEG_TYPE])
        head = data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        if head.startswith(b"<") and SVG_TYPE in policy.types:
            if len(data) > SVG_MAX_BYTES:
                raise too_large(policy, SVG_MAX_BYTES)
            check_svg(data)
            return Logo(data, SVG_TYPE, EXTENSIONS[SVG_TYPE])
    except _Refused as refusal:
        raise refusal.error(policy) from None
    raise unsupported_type(policy)
