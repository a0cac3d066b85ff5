"""The style of an exported document: what a style template (or the tenant's branding) says.

Pure data, no I/O: the DOCX renderer takes a :class:`StyleSpec`, the style-template service
builds one from a ``style_templates`` row merged over the tenant's branding and the built-in
system defaults. Every field has a default a German law firm would accept, so an empty
style template renders a clean document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Metric-compatible with Times New Roman / Arial and installed with LibreOffice on Debian
# (fonts-liberation2), so DOCX, ODT and PDF lay out the same pages.
DEFAULT_BODY_FONT = "Liberation Serif"
DEFAULT_HEADING_FONT = "Liberation Sans"


@dataclass(frozen=True)
class Fonts:
    body: str = DEFAULT_BODY_FONT
    headings: str = DEFAULT_HEADING_FONT


@dataclass(frozen=True)
class FontSizes:
    """Point sizes."""

    body: float = 11.0
    heading: float = 12.0
    title: float = 16.0
    small: float = 8.0  # header, footer


@dataclass(frozen=True)
class Colors:
    """``#RRGGBB``: primary for title and headings, secondary for header and footer lines."""

    primary: str = "#1F3864"
    secondary: str = "#595959"


@dataclass(frozen=True)
class Margins:
    """Page margins in millimetres (A4)."""

    top: float = 25.0
    bottom: float = 20.0
    left: float = 25.0
    right: float = 20.0


@dataclass(frozen=True)
class HeaderSpec:
    text: str = ""  # e.g. the firm's name; empty: the firm name from the tenant profile
    logo: bool = True  # the tenant's logo (or the style's) at the top left when there is one
    client_reference: bool = True  # "Unser Zeichen: …"


@dataclass(frozen=True)
class FooterSpec:
    text: str = ""
    page_numbers: bool = True  # "Seite X von Y"


@dataclass(frozen=True)
class StyleSpec:
    fonts: Fonts = field(default_factory=Fonts)
    font_sizes: FontSizes = field(default_factory=FontSizes)
    colors: Colors = field(default_factory=Colors)
    margins_mm: Margins = field(default_factory=Margins)
    header: HeaderSpec = field(default_factory=HeaderSpec)
    footer: FooterSpec = field(default_factory=FooterSpec)
    firm_name: str = ""  # document property "author firm" and default header text


def _pick(cls: Any, data: dict[str, Any] | None, keys: dict[str, str]) -> Any:
    """``cls`` with the fields present in ``data`` (camelCase or snake_case keys), others default."""
    values = {}
    for attr, camel in keys.items():
        if data and data.get(camel, data.get(attr)) is not None:
            values[attr] = data.get(camel, data.get(attr))
    return cls(**values)


def style_from_settings(
    *,
    fonts: dict[str, Any] | None = None,
    font_sizes: dict[str, Any] | None = None,
    colors: dict[str, Any] | None = None,
    margins_mm: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    footer: dict[str, Any] | None = None,
    firm_name: str = "",
) -> StyleSpec:
    """A :class:`StyleSpec` from the JSON shapes of a style template / tenant branding."""
    return StyleSpec(
        fonts=_pick(Fonts, fonts, {"body": "body", "headings": "headings"}),
        font_sizes=_pick(
            FontSizes, font_sizes, {"body": "body", "heading": "heading", "title": "title", "small": "small"}
        ),
        colors=_pick(Colors, colors, {"primary": "primary", "secondary": "secondary"}),
        margins_mm=_pick(
            Margins, margins_mm, {"top": "top", "bottom": "bottom", "left": "left", "right": "right"}
        ),
        header=_pick(
            HeaderSpec, header, {"text": "text", "logo": "logo", "client_reference": "clientReference"}
        ),
        footer=_pick(FooterSpec, footer, {"text": "text", "page_numbers": "pageNumbers"}),
        firm_name=firm_name,
    )


@dataclass(frozen=True)
class Logo:
    """An image for the document header: PNG, JPEG or SVG bytes and their content type."""

    data: bytes
    content_type: str
