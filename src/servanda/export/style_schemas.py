"""Request and response bodies of the style-template API (camelCase on the wire).

A style template stores only what it sets: every member of ``fonts``, ``fontSizes``,
``colors``, ``marginsMm``, ``header`` and ``footer`` may be absent (null in answers), and an
absent member is taken from the tenant's branding, then from the built-in defaults
(``export/style.py``). A PATCH merges each given group member by member; ``null`` removes a
member (back to the inherited value).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from servanda.platform.api_models import ApiInput, ApiModel
from servanda.platform.validation_messages import InputError

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
FONT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 .\-]{0,63}$"
_COLOR = re.compile(COLOR_PATTERN)
_FONT = re.compile(FONT_PATTERN)

# Sane ranges (decision, docs/export.md): font sizes in points (Word stores half points),
# margins in millimetres on an A4 page (210 × 297 mm).
MARGIN_MIN_MM = 5.0
MARGIN_MAX_MM = 80.0
MARGINS_HORIZONTAL_MAX_MM = 120.0  # left + right: at least 90 mm of text width remain
MARGINS_VERTICAL_MAX_MM = 150.0  # top + bottom


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise InputError(
            "Muss eine Farbe im Format #RRGGBB sein (z. B. #1F3864).",
            "Must be a colour in the form #RRGGBB (e.g. #1F3864).",
        )
    return value.upper()


def _font(value: str) -> str:
    value = value.strip()
    if not _FONT.fullmatch(value):
        raise InputError(
            "Muss ein Schriftname aus Buchstaben, Ziffern, Leerzeichen, Punkt oder Bindestrich sein "
            "(höchstens 64 Zeichen, z. B. Liberation Serif).",
            "Must be a font name of letters, digits, spaces, dots or hyphens "
            "(at most 64 characters, e.g. Liberation Serif).",
        )
    return value


Color = Annotated[
    str,
    Field(json_schema_extra={"pattern": COLOR_PATTERN, "examples": ["#1F3864"]}),
    AfterValidator(_color),
]
FontName = Annotated[
    str,
    Field(json_schema_extra={"pattern": FONT_PATTERN, "examples": ["Liberation Serif"]}),
    AfterValidator(_font),
]
Millimetres = Annotated[float, Field(ge=MARGIN_MIN_MM, le=MARGIN_MAX_MM)]
TextLine = Annotated[str, Field(max_length=200)]


def _points(low: float, high: float) -> object:
    return Field(ge=low, le=high, multiple_of=0.5)


# -- groups (the same shape in requests and answers; null = inherited) --------------------------


class Fonts(ApiInput):
    body: FontName | None = None
    headings: FontName | None = None


class FontSizes(ApiInput):
    """Point sizes, in steps of 0.5."""

    body: Annotated[float, _points(6, 72)] | None = None
    heading: Annotated[float, _points(6, 72)] | None = None
    title: Annotated[float, _points(6, 96)] | None = None
    small: Annotated[float, _points(5, 24)] | None = None


class Colors(ApiInput):
    """``#RRGGBB``: primary for title and headings, secondary for header and footer."""

    primary: Color | None = None
    secondary: Color | None = None


class Margins(ApiInput):
    """Page margins in millimetres (5–80 each; left + right at most 120, top + bottom at most 150)."""

    top: Millimetres | None = None
    bottom: Millimetres | None = None
    left: Millimetres | None = None
    right: Millimetres | None = None


class Header(ApiInput):
    text: TextLine | None = None
    logo: bool | None = None
    client_reference: bool | None = None


class Footer(ApiInput):
    text: TextLine | None = None
    page_numbers: bool | None = None


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise InputError("Darf nicht leer sein.", "Must not be empty.")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]


class StyleTemplateCreate(ApiInput):
    name: Name
    is_default: bool = False
    fonts: Fonts | None = None
    font_sizes: FontSizes | None = None
    colors: Colors | None = None
    margins_mm: Margins | None = None
    header: Header | None = None
    footer: Footer | None = None


class StyleTemplatePatch(ApiInput):
    name: Name | None = None
    is_default: bool | None = None
    fonts: Fonts | None = None
    font_sizes: FontSizes | None = None
    colors: Colors | None = None
    margins_mm: Margins | None = None
    header: Header | None = None
    footer: Footer | None = None


# -- answers ------------------------------------------------------------------------------------


class StyleLogoOut(ApiModel):
    content_type: str
    size: int
    sha256: str
    uploaded_at: str


class StrippedRelationshipOut(ApiModel):
    part: str
    type: str
    target: str


class BaseDocxOut(ApiModel):
    size: int
    sha256: str
    stripped_relationships: list[StrippedRelationshipOut]


class StyleTemplateOut(ApiModel):
    id: uuid.UUID
    name: str
    type: str  # system | vendor | lawfirm
    read_only: bool  # the built-in system style: nobody changes it
    is_default: bool  # the tenant's default (the system style when the tenant has none)
    fonts: Fonts
    font_sizes: FontSizes
    colors: Colors
    margins_mm: Margins
    header: Header
    footer: Footer
    has_base_docx: bool
    logo: StyleLogoOut | None
    created_at: datetime
    updated_at: datetime
