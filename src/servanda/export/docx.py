"""DOCX rendering of the engine's document model (issue 12, point 3; docs/export.md).

:func:`render_docx` turns the same :class:`~servanda.engine.document.Document` the HTML
preview shows into a Word file a lawyer can sign and keep editing: real paragraph styles
(``Title``, ``Heading 1``/``Heading 2`` for the "§ n" headings so Word's navigation pane and
LibreOffice's navigator list them, ``Absatz nummeriert`` with a hanging indent for "(1)",
"(2)"), a header with logo, firm line, "ENTWURF" and "Unser Zeichen", a footer with real
``PAGE``/``NUMPAGES`` fields ("Seite X von Y") and the draft line, and core properties from
the document's properties (never the clock).

Pure: no database, no files, no clock. Text is only ever inserted as run text (``w:t``), so
an answer such as ``{ PAGE }``, ``<w:p>`` or ``&amp;`` stays literal; characters XML cannot
carry are dropped.

Byte-reproducible: python-docx stamps zip members with the current time, so the package is
rewritten with fixed member dates (1980-01-01), a fixed member order, fixed compression and
fixed attributes; core and extended properties carry no time but the document's date.
"""

from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import io
import re
import struct
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast
from xml.sax.saxutils import escape

import docx
from docx.document import Document as WordDocument
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.image.image import Image
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.package import OpcPackage
from docx.opc.part import Part
from docx.opc.pkgwriter import _ContentTypesItem
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Row
from docx.oxml.text.paragraph import CT_P
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.section import Section
from docx.shared import Length, Mm, Pt, RGBColor, Twips
from docx.styles.style import ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph as WordParagraph

from servanda.engine.document import (
    SIGNATURE_LINE,
    ClauseBlock,
    Document,
    Paragraph,
    Run,
    SignatureBlock,
)
from servanda.engine.formatting import format_date
from servanda.export.style import Colors, Logo, StyleSpec
from servanda.platform.memo import Memo

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Style names (python-docx takes the UI names of built-in styles).
TITLE = "Title"
HEADING_1 = "Heading 1"
HEADING_2 = "Heading 2"
NORMAL = "Normal"
NUMBERED = "Absatz nummeriert"
SIGNATURE = "Unterschrift"
PARTIES = "Vertragsparteien"
HEADER = "Header"
FOOTER = "Footer"

DRAFT = "ENTWURF"
DRAFT_COLOR = RGBColor(0xC0, 0x00, 0x00)
CLIENT_REFERENCE = "Unser Zeichen:"
HANGING_INDENT = Mm(9)  # room for "(10)" in an 11 pt serif font
LOGO_MAX_HEIGHT_MM = 15.0
LOGO_MAX_WIDTH_MM = 50.0
A4 = (Twips(11906), Twips(16838))  # 210 × 297 mm, as Word writes it
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can carry
LANGUAGE = "de-DE"
APPLICATION = "Servanda Office"

# Characters XML 1.0 cannot carry (C0 controls except tab/newline/CR, surrogates, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEX_COLOR = re.compile(r"^#?([0-9A-Fa-f]{6})$")
# Relationships of a base DOCX that name people or carry review data; the body they
# belonged to is gone, so they go too.
_DROPPED_BASE_RELS = (
    RT.COMMENTS,
    "http://schemas.microsoft.com/office/2011/relationships/commentsExtended",
    "http://schemas.microsoft.com/office/2016/09/relationships/commentsIds",
    "http://schemas.microsoft.com/office/2018/08/relationships/commentsExtensible",
    "http://schemas.microsoft.com/office/2011/relationships/people",
)


def render_docx(
    document: Document, style: StyleSpec, *, logo: Logo | None = None, base_docx: bytes | None = None
) -> bytes:
    """The DOCX bytes of ``document``; the same inputs always give the same bytes."""
    word, ids, static = _prepared(style, base_docx)
    section_headings = any(section.show_heading for section in document.sections)
    _body(word, ids, document, clause_heading=HEADING_2 if section_headings else HEADING_1)
    _header(word.sections[-1], ids, document, style, logo)
    _footer(word.sections[-1], ids, document, style)
    _properties(word, document, style)
    return _reproducible_zip(_members(word, static))


# --- the prepared package of a style ----------------------------------------------------------------


@dataclass(frozen=True)
class _Deflated:
    """A zip member's bytes deflated (raw, level 6, as zipfile writes them), with their CRC and size."""

    crc: int
    size: int
    data: bytes


def _deflate(blob: bytes) -> _Deflated:
    compressor = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
    return _Deflated(zlib.crc32(blob), len(blob), compressor.compress(blob) + compressor.flush())


@dataclass(frozen=True)
class _Prepared:
    """A style's package before any document content: body cleared, page set up, styles formatted.

    ``static``: the parts no render changes (styles, settings, theme, fonts, numbering, what a
    base DOCX brings), by member name, with their members already serialised and deflated; the
    renders share these parts instead of copying them.
    """

    package: OpcPackage
    ids: dict[str, str | None]
    static: dict[str, tuple[Part, dict[str, _Deflated]]]


# Preparing a style (opening the template or base DOCX, formatting its styles, serialising and
# deflating styles.xml & co.) was two thirds of a render. It depends only on the page and type
# of the style spec (not on the firm, header or footer) and on the base DOCX's bytes, so it is
# kept per process and each render works on a copy of it that shares the static parts. Keyed by
# content, not by style template id and version: an edited style is simply a new key. About
# 5 MB per entry (python-docx's styles.xml and stylesWithEffects.xml parsed).
_PREPARED: Memo[tuple[StyleSpec, bytes | None], _Prepared] = Memo(16)
# Renders run in threads (asyncio.to_thread): one at a time reads or fills the cache, and lxml
# never sees the same tree used by two threads at once.
_PREPARED_LOCK = threading.Lock()


def _prepare(style: StyleSpec, base_docx: bytes | None) -> _Prepared:
    word = docx.Document(io.BytesIO(base_docx)) if base_docx is not None else docx.Document()
    from_base = base_docx is not None
    _clear_body(word)
    if from_base:
        _drop_base_review_parts(word)
    _page_setup(word.sections[-1], style)
    _styles(word, style, from_base=from_base)
    ids = _style_ids(word)
    _settings(word, from_base=from_base)
    package = word.part.package
    assert package is not None
    # What a render changes: the document (body, header and footer references), the
    # properties; everything else stays as prepared.
    changing = {word.part}
    for rel in package.rels.values():
        if rel.reltype in (RT.CORE_PROPERTIES, RT.EXTENDED_PROPERTIES) and not rel.is_external:
            changing.add(rel.target_part)
    static = {}
    for part in package.iter_parts():
        if part in changing:
            continue
        members = {part.partname.membername: _deflate(part.blob)}
        if len(part.rels):
            members[part.partname.rels_uri.membername] = _deflate(part.rels.xml)
        static[part.partname.membername] = (part, members)
    return _Prepared(package, ids, static)


def _prepared(
    style: StyleSpec, base_docx: bytes | None
) -> tuple[WordDocument, StyleIds, Mapping[str, tuple[Part, dict[str, _Deflated]]]]:
    """A copy of the prepared package of ``style`` (over ``base_docx``) that shares the static
    parts, its style ids and the static parts' deflated members."""
    # Only what preparing reads, so every firm with the same look shares one entry.
    page_and_type = StyleSpec(
        fonts=style.fonts, font_sizes=style.font_sizes, colors=style.colors, margins_mm=style.margins_mm
    )
    key = (page_and_type, hashlib.sha256(base_docx).digest() if base_docx is not None else None)
    with _PREPARED_LOCK:
        prepared = _PREPARED.get(key)
        if prepared is None:
            prepared = _prepare(page_and_type, base_docx)
            _PREPARED.put(key, prepared)
        shared: dict[int, object] = {id(part): part for part, _ in prepared.static.values()}
        package = copy.deepcopy(prepared.package, shared)
    word = package.main_document_part.document
    return word, prepared.ids, prepared.static


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- text ----------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _add_text(paragraph: WordParagraph, text: str) -> None:
    """``text`` as one run; ``\\n`` becomes a line break and ``\\t`` a tab."""
    _append_run(paragraph._p, _clean(text))


def _add_runs(paragraph: WordParagraph, runs: Iterable[Run]) -> None:
    for run in runs:
        # A missing value must catch the eye wherever it is left (drafts; optional values of
        # a final document).
        _append_run(paragraph._p, _clean(run.text), bold=run.bold, highlight=run.placeholder is not None)


_BREAKS = re.compile(r"([\t\r\n])")


def _append_run(p: CT_P, text: str, *, bold: bool = False, highlight: bool = False) -> None:
    """A ``w:r`` at the end of ``p``, built as python-docx's ``add_run(text)`` with ``bold`` and a
    yellow highlight would build it (``w:t`` pieces, ``w:tab`` for a tab, ``w:br`` for a line
    break), without its per-character state machine and its searches for existing children."""
    r = OxmlElement("w:r")
    if bold or highlight:
        r_pr = OxmlElement("w:rPr")
        if bold:
            r_pr.append(OxmlElement("w:b"))
        if highlight:
            r_pr.append(OxmlElement("w:highlight", {qn("w:val"): _HIGHLIGHT}))
        r.append(r_pr)
    for piece in _BREAKS.split(text) if text else ():
        if piece == "\t":
            r.append(OxmlElement("w:tab"))
        elif piece in ("\r", "\n"):
            r.append(OxmlElement("w:br"))
        elif piece:
            t = OxmlElement("w:t")
            t.text = piece
            if len(piece.strip()) < len(piece):
                t.set(qn("xml:space"), "preserve")
            r.append(t)
    p.append(r)


_HIGHLIGHT = "yellow"  # WD_COLOR_INDEX.YELLOW as WordprocessingML writes it


# --- paragraphs and their styles -------------------------------------------------------------------

StyleIds = Mapping[str, str | None]  # style name → style id (None: the default paragraph style)


class _Container(Protocol):
    def add_paragraph(self) -> WordParagraph: ...


class _BodyAppender:
    """Paragraphs at the end of the body, before its final ``w:sectPr``: python-docx searches
    the body for that ``w:sectPr`` on every paragraph it adds (quadratic in the paragraphs)."""

    def __init__(self, word: WordDocument) -> None:
        self._parent = word._body
        self._sect_pr = word.element.body.get_or_add_sectPr()

    def add_paragraph(self) -> WordParagraph:
        p = cast(CT_P, OxmlElement("w:p"))
        self._sect_pr.addprevious(p)
        return WordParagraph(p, self._parent)


def _style_ids(word: WordDocument) -> dict[str, str | None]:
    """The ids of the styles the renderer uses, looked up once (a lookup by name scans every
    style of the document, per paragraph)."""
    default = word.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    ids: dict[str, str | None] = {}
    for name in (NORMAL, TITLE, HEADING_1, HEADING_2, NUMBERED, PARTIES, SIGNATURE, HEADER, FOOTER):
        style = word.styles[name]
        ids[name] = None if default is not None and style.style_id == default.style_id else style.style_id
    return ids


def _add(container: _Container, ids: StyleIds, style: str, text: str = "") -> WordParagraph:
    """A new paragraph of ``style`` with ``text`` (literal; ``\n`` a line break)."""
    paragraph = container.add_paragraph()
    _restyle(paragraph, ids, style)
    cleaned = _clean(text)
    if cleaned:
        _append_run(paragraph._p, cleaned)
    return paragraph


def _restyle(paragraph: WordParagraph, ids: StyleIds, style: str) -> None:
    style_id = ids[style]
    p = paragraph._p
    if p.pPr is not None:
        p.style = style_id
    elif style_id is not None:  # a new paragraph: its w:pPr holds only the style
        p_pr = OxmlElement("w:pPr")
        p_pr.append(OxmlElement("w:pStyle", {qn("w:val"): style_id}))
        p.insert(0, p_pr)


# --- the body ------------------------------------------------------------------------------------


def _clear_body(word: WordDocument) -> None:
    """An empty body that keeps (or gets) its final section properties."""
    body = word.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    body.get_or_add_sectPr()


def _body(word: WordDocument, ids: StyleIds, document: Document, *, clause_heading: str) -> None:
    body = _BodyAppender(word)
    _add(body, ids, TITLE, document.title)
    if document.parties is not None:
        # The parties block is centred, as German contracts set it (and a justified line
        # that ends in a line break would be stretched across the page).
        parties = document.parties
        _add(body, ids, PARTIES, parties.intro)
        for i, party in enumerate(parties.parties):
            if i:
                _add(body, ids, PARTIES, "und")
            paragraph = _add(body, ids, PARTIES)
            _add_runs(paragraph, party.runs)
            _add_text(paragraph, "\n" + party.designation)
        if parties.outro:
            _add(body, ids, PARTIES, parties.outro)
    for section in document.sections:
        if section.show_heading:
            heading = _add(body, ids, HEADING_1, section.title)
            heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for clause in section.clauses:
            _clause(body, ids, clause, clause_heading)
    if document.signature is not None:
        _signature(word, ids, document.signature)


def _clause(body: _BodyAppender, ids: StyleIds, clause: ClauseBlock, heading_style: str) -> None:
    if clause.heading:
        _add(body, ids, heading_style, clause.heading)
    for paragraph in clause.paragraphs:
        _paragraph(_add(body, ids, NUMBERED if paragraph.number is not None else NORMAL), paragraph)


def _paragraph(target: WordParagraph, paragraph: Paragraph) -> None:
    if paragraph.number is not None:
        # "(1)" then a tab to the hanging indent: the number stands in the margin column and
        # the text wraps under itself, as a lawyer formats it by hand.
        _add_text(target, paragraph.label + "\t")
    _add_runs(target, paragraph.runs)


def _signature(word: WordDocument, ids: StyleIds, signature: SignatureBlock) -> None:
    """Signature lines side by side, two per row, in a borderless table (rows do not split)."""
    columns = 2
    lines = signature.lines
    rows = (len(lines) + columns - 1) // columns
    section = word.sections[-1]
    width = _text_width(section)
    table = word.add_table(rows=rows, cols=columns)
    _borderless(table, [width // columns] * columns)
    for index, line in enumerate(lines):
        cell = table.cell(index // columns, index % columns)
        place_date = cell.paragraphs[0]
        _restyle(place_date, ids, SIGNATURE)
        place_date.paragraph_format.space_before = Pt(24)
        _add_text(place_date, signature.place_date)
        signer = _add(cell, ids, SIGNATURE)
        signer.paragraph_format.space_before = Pt(36)  # room to sign
        _add_text(signer, "\n".join(t for t in (SIGNATURE_LINE, line.role, line.name) if t))
    for row in table.rows:
        _no_split(row._tr)


def _text_width(section: Section) -> int:
    width = section.page_width or A4[0]
    return int(width - (section.left_margin or 0) - (section.right_margin or 0))


def _borderless(table: Table, widths: list[int]) -> None:
    """A fixed-layout table without borders whose columns have ``widths`` (EMU)."""
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    tbl_pr.append(borders)
    indent = OxmlElement("w:tblInd")  # flush with the text margin
    indent.set(qn("w:w"), "0")
    indent.set(qn("w:type"), "dxa")
    tbl_pr.append(indent)
    margins = OxmlElement("w:tblCellMar")
    for edge in ("left", "right"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:w"), "0")
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    tbl_pr.append(margins)
    total = OxmlElement("w:tblW")
    total.set(qn("w:w"), str(sum(widths) // 635))  # EMU → twentieths of a point
    total.set(qn("w:type"), "dxa")
    existing = tbl_pr.find(qn("w:tblW"))
    if existing is not None:
        tbl_pr.remove(existing)
    tbl_pr.append(total)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Length(width)
        for cell in column.cells:
            cell.width = Length(width)
    _sort_children(tbl_pr, _TBL_PR_ORDER)


# w:tblPr children must appear in schema order for Word.
_TBL_PR_ORDER = _words(
    "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize "
    "tblW jc tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook"
)


def _sort_children(element: BaseOxmlElement, order: tuple[str, ...]) -> None:
    rank = {qn(f"w:{name}"): i for i, name in enumerate(order)}
    children = sorted(element, key=lambda child: rank.get(child.tag, len(order)))
    for child in children:
        element.remove(child)
        element.append(child)


def _no_split(tr: CT_Row) -> None:
    tr_pr = tr.get_or_add_trPr()
    cant_split = OxmlElement("w:cantSplit")
    tr_pr.insert(0, cant_split)


# --- page, styles, settings ----------------------------------------------------------------------


def _page_setup(section: Section, style: StyleSpec) -> None:
    """A4 portrait with the style's margins (also over a base DOCX: the page is ours)."""
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = A4
    margins = style.margins_mm
    section.top_margin = Mm(margins.top)
    section.bottom_margin = Mm(margins.bottom)
    section.left_margin = Mm(margins.left)
    section.right_margin = Mm(margins.right)
    section.header_distance = Mm(min(12.5, margins.top / 2))
    section.footer_distance = Mm(min(10.0, margins.bottom / 2))
    section.gutter = Mm(0)


def _color(value: str, default: str) -> RGBColor:
    match = _HEX_COLOR.match(value) or _HEX_COLOR.match(default)
    assert match is not None
    return RGBColor.from_string(match.group(1).upper())


def _primary(colors: Colors) -> RGBColor:
    return _color(colors.primary, Colors().primary)


def _secondary(colors: Colors) -> RGBColor:
    return _color(colors.secondary, Colors().secondary)


def _set_fonts(r_pr: BaseOxmlElement, font: str) -> None:
    """One font for every script, replacing theme fonts (which would win over it)."""
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        r_pr.insert(0, fonts)
    for attribute in list(fonts.attrib):
        del fonts.attrib[attribute]
    for script in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{script}"), font)


def _reset(style: ParagraphStyle) -> None:
    """Drop the formatting a template gave ``style`` (borders, theme colours, spacing)."""
    for tag in ("w:pPr", "w:rPr"):
        for element in style.element.findall(qn(tag)):
            style.element.remove(element)


def _paragraph_style(word: WordDocument, name: str, *, base: str | None) -> tuple[ParagraphStyle, bool]:
    """The style ``name`` and whether the caller should format it (not defined by a base DOCX)."""
    if name in word.styles:
        found = word.styles[name]
        assert isinstance(found, ParagraphStyle)
        return found, False
    created = word.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH, builtin=name in _BUILTIN)
    assert isinstance(created, ParagraphStyle)
    if base is not None:
        created.base_style = word.styles[base]
    return created, True


_BUILTIN = {TITLE, HEADING_1, HEADING_2, NORMAL, HEADER, FOOTER}


def _styles(word: WordDocument, spec: StyleSpec, *, from_base: bool) -> None:
    """Format the styles the body uses.

    Without a base DOCX every style is set from the style spec. With one, the base's styles
    win where it defines them (its Normal, Title and Heading styles are the firm's house
    style); styles it lacks are added and formatted from the spec. Header and footer runs are
    formatted directly, so they follow the spec either way.
    """
    primary = _primary(spec.colors)
    sizes = spec.font_sizes
    fonts = spec.fonts

    normal, own = _paragraph_style(word, NORMAL, base=None)
    if own or not from_base:
        _reset(normal)
        _defaults(word, fonts.body, sizes.body)
        normal.font.name = fonts.body
        _set_fonts(normal.element.get_or_add_rPr(), fonts.body)
        normal.font.size = Pt(sizes.body)
        fmt = normal.paragraph_format
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(6)
        fmt.line_spacing = 1.15
        fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        fmt.widow_control = True

    title, own = _paragraph_style(word, TITLE, base=NORMAL)
    if own or not from_base:
        _reset(title)
        title.base_style = normal
        title.next_paragraph_style = normal
        _set_fonts(title.element.get_or_add_rPr(), fonts.headings)
        title.font.size = Pt(sizes.title)
        title.font.bold = True
        title.font.color.rgb = primary
        fmt = title.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(18)
        fmt.keep_with_next = True

    for name, level, before in ((HEADING_1, 0, 18), (HEADING_2, 1, 12)):
        heading, own = _paragraph_style(word, name, base=NORMAL)
        if own or not from_base:
            _reset(heading)
            heading.base_style = normal
            heading.next_paragraph_style = normal
            _set_fonts(heading.element.get_or_add_rPr(), fonts.headings)
            heading.font.size = Pt(sizes.heading)
            heading.font.bold = True
            heading.font.color.rgb = primary
            fmt = heading.paragraph_format
            fmt.alignment = WD_ALIGN_PARAGRAPH.LEFT
            fmt.space_before = Pt(before)
            fmt.space_after = Pt(6)
            fmt.keep_with_next = True
            fmt.keep_together = True
        _outline_level(heading, level)

    numbered, own = _paragraph_style(word, NUMBERED, base=NORMAL)
    if own or not from_base:
        _reset(numbered)
        numbered.base_style = word.styles[NORMAL]
        numbered.next_paragraph_style = numbered
        fmt = numbered.paragraph_format
        fmt.left_indent = HANGING_INDENT
        fmt.first_line_indent = -HANGING_INDENT
        fmt.tab_stops.add_tab_stop(HANGING_INDENT)

    parties, own = _paragraph_style(word, PARTIES, base=NORMAL)
    if own or not from_base:
        _reset(parties)
        parties.base_style = word.styles[NORMAL]
        fmt = parties.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt.space_after = Pt(9)
        fmt.keep_with_next = True

    signature, own = _paragraph_style(word, SIGNATURE, base=NORMAL)
    if own or not from_base:
        _reset(signature)
        signature.base_style = word.styles[NORMAL]
        fmt = signature.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.LEFT
        fmt.space_after = Pt(0)
        fmt.keep_with_next = True

    for name in (HEADER, FOOTER):
        header, _ = _paragraph_style(word, name, base=NORMAL)
        # Header and footer are always ours: formatted from the spec over any base.
        _reset(header)
        header.base_style = word.styles[NORMAL]
        _set_fonts(header.element.get_or_add_rPr(), fonts.body)
        header.font.size = Pt(sizes.small)
        header.font.color.rgb = _secondary(spec.colors)
        fmt = header.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.LEFT
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(0)
        fmt.line_spacing = 1.0


def _outline_level(style: ParagraphStyle, level: int) -> None:
    """The outline level that puts the heading into Word's navigation pane."""
    p_pr = style.element.get_or_add_pPr()
    for existing in p_pr.findall(qn("w:outlineLvl")):
        p_pr.remove(existing)
    outline = OxmlElement("w:outlineLvl")
    outline.set(qn("w:val"), str(level))
    p_pr.append(outline)
    _sort_children(p_pr, _P_PR_ORDER)


_P_PR_ORDER = _words(
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr "
    "suppressLineNumbers pBdr shd tabs suppressAutoHyphens kinsoku wordWrap "
    "overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
    "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc "
    "textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr "
    "sectPr pPrChange"
)


def _defaults(word: WordDocument, font: str, size: float) -> None:
    """Document defaults: the body font for every script, German as the language."""
    styles = word.styles.element
    doc_defaults = styles.find(qn("w:docDefaults"))
    if doc_defaults is None:
        doc_defaults = OxmlElement("w:docDefaults")
        styles.insert(0, doc_defaults)
    r_pr_default = doc_defaults.find(qn("w:rPrDefault"))
    if r_pr_default is None:
        r_pr_default = OxmlElement("w:rPrDefault")
        doc_defaults.insert(0, r_pr_default)
    r_pr = r_pr_default.find(qn("w:rPr"))
    if r_pr is None:
        r_pr = OxmlElement("w:rPr")
        r_pr_default.append(r_pr)
    for child in list(r_pr):
        r_pr.remove(child)
    fonts = OxmlElement("w:rFonts")
    r_pr.append(fonts)
    _set_fonts(r_pr, font)
    half_points = str(round(size * 2))
    for tag in ("w:sz", "w:szCs"):
        element = OxmlElement(tag)
        element.set(qn("w:val"), half_points)
        r_pr.append(element)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), LANGUAGE)
    lang.set(qn("w:eastAsia"), LANGUAGE)
    lang.set(qn("w:bidi"), "ar-SA")
    r_pr.append(lang)


def _settings(word: WordDocument, *, from_base: bool) -> None:
    settings = word.settings.element
    # Header and footer are ours: one header for every page.
    word.settings.odd_and_even_pages_header_footer = False
    if not from_base:
        theme_lang = settings.find(qn("w:themeFontLang"))
        if theme_lang is not None:
            theme_lang.set(qn("w:val"), LANGUAGE)
        # No preview picture, no revision ids, no "spelling checked" claim of the template.
        for tag in ("w:savePreviewPicture", "w:rsids", "w:proofState"):
            for element in settings.findall(qn(tag)):
                settings.remove(element)
        # Justified German text wants hyphenation (Word does it; LibreOffice where the
        # German hyphenation dictionary is installed).
        if settings.find(qn("w:autoHyphenation")) is None:
            _insert_before(settings, OxmlElement("w:autoHyphenation"), _AFTER_AUTO_HYPHENATION)
        # German number format for fields a lawyer may insert.
        for tag, value in (("w:decimalSymbol", ","), ("w:listSeparator", ";")):
            element = settings.find(qn(tag))
            if element is not None:
                element.set(qn("w:val"), value)
    # A justified line that ends in a manual line break is not stretched (Word and
    # LibreOffice both read this compatibility setting).
    compat = settings.find(qn("w:compat"))
    if compat is None:
        compat = OxmlElement("w:compat")
        _insert_before(settings, compat, _AFTER_COMPAT)
    if compat.find(qn("w:doNotExpandShiftReturn")) is None:
        preceding = [i for i, child in enumerate(compat) if child.tag in _BEFORE_SHIFT_RETURN]
        compat.insert(preceding[-1] + 1 if preceding else 0, OxmlElement("w:doNotExpandShiftReturn"))
    # The package thumbnail of python-docx's own template shows an empty page.
    package = word.part.package
    assert package is not None
    for rel_id, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rel_id]


# Schema order: the w:settings children that follow w:compat, and the w:compat children
# that precede w:doNotExpandShiftReturn.
_AFTER_COMPAT = frozenset(
    qn(tag)
    for tag in _words(
        "w:docVars w:rsids m:mathPr w:attachedSchema w:themeFontLang w:clrSchemeMapping "
        "w:doNotIncludeSubdocsInStats w:doNotAutoCompressPictures w:forceUpgrade w:captions "
        "w:readModeInkLockDown w:smartTagType sl:schemaLibrary w:shapeDefaults "
        "w:doNotEmbedSmartTags w:decimalSymbol w:listSeparator"
    )
)
_AFTER_AUTO_HYPHENATION = _AFTER_COMPAT | frozenset(
    qn(f"w:{tag}")
    for tag in _words(
        "consecutiveHyphenLimit hyphenationZone doNotHyphenateCaps showEnvelope summaryLength "
        "clickAndTypeStyle defaultTableStyle evenAndOddHeaders bookFoldRevPrinting "
        "bookFoldPrinting bookFoldPrintingSheets drawingGridHorizontalSpacing "
        "drawingGridVerticalSpacing displayHorizontalDrawingGridEvery "
        "displayVerticalDrawingGridEvery doNotUseMarginsForDrawingGridOrigin "
        "drawingGridHorizontalOrigin drawingGridVerticalOrigin doNotShadeFormData "
        "noPunctuationKerning characterSpacingControl printTwoOnOne strictFirstAndLastChars "
        "noLineBreaksAfter noLineBreaksBefore savePreviewPicture doNotValidateAgainstSchema "
        "saveInvalidXml ignoreMixedContent alwaysShowPlaceholderText doNotDemarcateInvalidXml "
        "saveXmlDataOnly useXSLTWhenSaving saveThroughXslt showXMLTags "
        "alwaysMergeEmptyNamespace updateFields hdrShapeDefaults footnotePr endnotePr compat"
    )
)
_BEFORE_SHIFT_RETURN = frozenset(
    qn(f"w:{tag}")
    for tag in _words(
        "useSingleBorderforContiguousCells wpJustification noTabHangInd noLeading spaceForUL "
        "noColumnBalance balanceSingleByteDoubleByteWidth noExtraLineSpacing "
        "doNotLeaveBackslashAlone ulTrailSpace"
    )
)


def _insert_before(parent: BaseOxmlElement, element: BaseOxmlElement, followers: frozenset[str]) -> None:
    for index, child in enumerate(parent):
        if child.tag in followers:
            parent.insert(index, element)
            return
    parent.append(element)


def _drop_base_review_parts(word: WordDocument) -> None:
    part = word.part
    for rel_id, rel in list(part.rels.items()):
        if rel.reltype in _DROPPED_BASE_RELS:
            del part.rels[rel_id]


# --- header and footer ---------------------------------------------------------------------------


def _fresh_header_footer(section: Section) -> None:
    """Drop every header/footer definition (a base DOCX's too) and start one of each, empty."""
    section.different_first_page_header_footer = False
    for item in (
        section.header,
        section.footer,
        section.first_page_header,
        section.first_page_footer,
        section.even_page_header,
        section.even_page_footer,
    ):
        item.is_linked_to_previous = True
    section.header.is_linked_to_previous = False
    section.footer.is_linked_to_previous = False


def _header_lines(document: Document, style: StyleSpec) -> list[str]:
    lines = []
    firm = (style.header.text or style.firm_name).strip()
    if firm:
        lines.append(firm)
    for line in document.header:
        if line.startswith(CLIENT_REFERENCE) and not style.header.client_reference:
            continue
        lines.append(line)
    if document.properties.date is not None:
        lines.append(f"Stand: {format_date(document.properties.date)}")
    return lines


def _header(section: Section, ids: StyleIds, document: Document, style: StyleSpec, logo: Logo | None) -> None:
    """Logo at the left, firm line, "ENTWURF", "Unser Zeichen" and the date at the right."""
    _fresh_header_footer(section)
    header = section.header
    hdr = header._element
    for child in list(hdr):
        hdr.remove(child)
    width = _text_width(section)
    left = width * 2 // 5
    table = header.add_table(rows=1, cols=2, width=Length(width))
    _borderless(table, [left, width - left])
    logo_cell, text_cell = table.cell(0, 0), table.cell(0, 1)
    picture = _picture(logo) if style.header.logo and logo is not None else None
    logo_paragraph = logo_cell.paragraphs[0]
    _restyle(logo_paragraph, ids, HEADER)
    if picture is not None:
        data, width_mm, height_mm = picture
        run = logo_paragraph.add_run()
        run.add_picture(io.BytesIO(data), width=Mm(width_mm), height=Mm(height_mm))
        doc_pr = run._r.find(".//" + qn("wp:docPr"))
        if doc_pr is not None:
            doc_pr.set("descr", _clean(f"Logo {style.firm_name}".strip()))
            doc_pr.set("name", "Logo")
    _header_text(text_cell, ids, _header_lines(document, style), document, style)
    # A header ends with a paragraph (Word requires one after a table); keep it tiny.
    closing = _add(header, ids, HEADER)
    closing.paragraph_format.space_after = Pt(6)


def _header_text(cell: _Cell, ids: StyleIds, lines: list[str], document: Document, style: StyleSpec) -> None:
    first = True
    for line in lines:
        paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        _restyle(paragraph, ids, HEADER)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = paragraph.add_run(_clean(line))
        if line == DRAFT and document.properties.draft:
            run.bold = True
            run.font.size = Pt(max(14.0, style.font_sizes.heading))
            run.font.color.rgb = DRAFT_COLOR
            run.font.name = style.fonts.headings
            _set_fonts(run._r.get_or_add_rPr(), style.fonts.headings)
            # character spacing: a stamp, not a word
            spacing = OxmlElement("w:spacing")
            spacing.set(qn("w:val"), "40")
            run._r.get_or_add_rPr().append(spacing)
            _sort_children(run._r.get_or_add_rPr(), _R_PR_ORDER)
    if first:
        _restyle(cell.paragraphs[0], ids, HEADER)


_R_PR_ORDER = _words(
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss "
    "imprint noProof snapToGrid vanish webHidden color spacing w kern position sz "
    "szCs highlight u effect bdr shd fitText vertAlign rtl cs em lang "
    "eastAsianLayout specVanish oMath"
)


@functools.lru_cache(maxsize=32)  # a firm's logo comes with every export; SVGs are converted once
def _picture(logo: Logo) -> tuple[bytes, float, float] | None:
    """The logo as PNG/JPEG bytes and its size in mm (at most 50 × 15 mm), or None.

    SVG cannot be embedded by python-docx; cairosvg (libcairo) converts it to a PNG 180 px
    high (about 300 dpi at 15 mm), fetching nothing from elsewhere (its safe defaults: no
    entities, only ``data:`` URLs), and it is left out when cairo is missing. Bytes that are no readable image are left out too: a broken
    logo must not stop a contract from being exported (uploads are validated already).
    """
    data = logo.data
    if logo.content_type == "image/svg+xml":
        converted = _svg_to_png(data)
        if converted is None:
            return None
        data = converted
    elif logo.content_type not in ("image/png", "image/jpeg"):
        return None
    try:
        image = Image.from_blob(data)
    except Exception:  # python-docx raises several types for unreadable images
        return None
    if image.px_width <= 0 or image.px_height <= 0:
        return None
    aspect = image.px_width / image.px_height
    height = LOGO_MAX_HEIGHT_MM
    width = height * aspect
    if width > LOGO_MAX_WIDTH_MM:
        width = LOGO_MAX_WIDTH_MM
        height = width / aspect
    return data, round(width, 2), round(height, 2)


def _svg_to_png(data: bytes) -> bytes | None:
    try:
        import cairosvg  # lazily: needs libcairo at import time
    except (ImportError, OSError):  # not installed, or libcairo missing
        return None
    try:
        png = cairosvg.svg2png(bytestring=data, output_height=180)
    except Exception:  # a malformed SVG: no logo rather than no export
        return None
    return png if isinstance(png, bytes) else None


def _footer(section: Section, ids: StyleIds, document: Document, style: StyleSpec) -> None:
    """Footer text and the draft line (small), then "Seite X von Y" with real fields."""
    footer = section.footer
    ftr = footer._element
    for child in list(ftr):
        ftr.remove(child)
    lines = [line for line in (style.footer.text.strip(), *document.footer) if line]
    for line in lines:
        paragraph = _add(footer, ids, FOOTER, line)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if style.footer.page_numbers:
        paragraph = _add(footer, ids, FOOTER)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if lines:
            paragraph.paragraph_format.space_before = Pt(3)
        _add_text(paragraph, "Seite ")
        _field(paragraph, "PAGE", "1")
        _add_text(paragraph, " von ")
        _field(paragraph, "NUMPAGES", "1")
    if not lines and not style.footer.page_numbers:
        _add(footer, ids, FOOTER)


def _field(paragraph: WordParagraph, instruction: str, cached: str) -> None:
    """A complex field (``PAGE``, ``NUMPAGES``) with a cached result Word and LibreOffice update."""
    p = paragraph._p
    for kind, text in (("begin", None), ("instr", f" {instruction} \\* MERGEFORMAT "), ("separate", None)):
        r = OxmlElement("w:r")
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            r.append(instr)
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            r.append(char)
        p.append(r)
    result = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = cached
    result.append(t)
    p.append(result)
    end = OxmlElement("w:r")
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "end")
    end.append(char)
    p.append(end)


# --- properties and the package ------------------------------------------------------------------


def _properties(word: WordDocument, document: Document, style: StyleSpec) -> None:
    """Core properties from the document's properties only; no person, no clock.

    Every element a template brought (author, last printed, description …) is removed first.
    """
    props = word.core_properties
    element = props._element
    for child in list(element):
        element.remove(child)
    meta = document.properties
    firm = _clean(style.firm_name.strip())
    props.title = _clean(meta.title)[:255]
    props.subject = _clean(meta.subject)[:255]
    props.author = firm[:255]
    props.last_modified_by = firm[:255]
    props.revision = 1
    props.language = LANGUAGE
    props.content_status = "Entwurf" if meta.draft else "Final"
    keywords = [meta.template_title]
    if meta.template_version is not None:
        keywords.append(f"Fassung {meta.template_version}")
    if meta.pin_stand:
        keywords.append(f"Klauselstand {meta.pin_stand}")
    props.keywords = _clean("; ".join(k for k in keywords if k))[:255]
    comments = []
    if meta.template_title:
        version = f", Fassung {meta.template_version}" if meta.template_version is not None else ""
        comments.append(f"Vorlage „{meta.template_title}“{version}")
    if meta.pin_stand:
        comments.append(f"Klauselstand {meta.pin_stand}")
    if meta.template_version_id is not None:
        comments.append(f"Vorlagenversion {meta.template_version_id}")
    props.comments = _clean(" · ".join(comments))
    if meta.template_version_id is not None:
        props.identifier = str(meta.template_version_id)
    if meta.date is not None:
        stamp = datetime.datetime.combine(meta.date, datetime.time(0, 0), tzinfo=datetime.UTC)
        props.created = stamp
        props.modified = stamp
    _app_properties(word, firm)


def _app_properties(word: WordDocument, firm: str) -> None:
    """Extended properties (docProps/app.xml) without the template's application and counts."""
    package = word.part.package
    assert package is not None
    for rel in package.rels.values():
        if rel.reltype == RT.EXTENDED_PROPERTIES and not rel.is_external:
            rel.target_part._blob = (  # a plain Part: its bytes are what is written
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
                'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/'
                f'2006/docPropsVTypes"><Application>{APPLICATION}</Application>'
                f"<DocSecurity>0</DocSecurity><Company>{escape(firm)}</Company>"
                "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
                "<HyperlinksChanged>false</HyperlinksChanged></Properties>"
            ).encode()


def _members(
    word: WordDocument, static: Mapping[str, tuple[Part, dict[str, _Deflated]]]
) -> dict[str, bytes | _Deflated]:
    """Every member of the package as python-docx's ``save`` would write it, without writing a zip:
    the content types, the package relationships, each part and its relationships; the members
    of the prepared style's static parts come deflated already."""
    package = word.part.package
    assert package is not None
    parts = list(package.iter_parts())
    members: dict[str, bytes | _Deflated] = {
        "[Content_Types].xml": _ContentTypesItem.from_parts(parts).blob,  # type: ignore[no-untyped-call]
        "_rels/.rels": package.rels.xml,
    }
    for part in parts:
        name = part.partname.membername
        shared = static.get(name)
        if shared is not None and shared[0] is part:  # not a new part that took a dropped one's name
            members.update(shared[1])
            continue
        part.before_marshal()
        members[name] = part.blob
        if len(part.rels):
            members[part.partname.rels_uri.membername] = part.rels.xml
    return members


def _reproducible_zip(members: Mapping[str, bytes | _Deflated]) -> bytes:
    """The package, written once, with nothing that depends on when or where it was written.

    Members: ``[Content_Types].xml`` first, then ``_rels/.rels``, then by name; every member
    dated 1980-01-01 00:00, deflated at level 6, attributes of a plain ``0644`` file made on
    Unix - byte for byte what ``zipfile`` writes for these members (a test compares them), but
    written here so that the static parts' members are deflated once per style, not per render.
    """
    first = ("[Content_Types].xml", "_rels/.rels")
    order = [name for name in first if name in members]
    order += sorted(name for name in members if name not in first)
    year, month, day, hour, minute, second = ZIP_DATE
    dos_date = (year - 1980) << 9 | month << 5 | day
    dos_time = hour << 11 | minute << 5 | second // 2
    out, central = bytearray(), bytearray()
    for name in order:
        member = members[name]
        deflated = member if isinstance(member, _Deflated) else _deflate(member)
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode(), _UTF8_NAME
        if max(len(out), deflated.size, len(deflated.data)) >= _ZIP32_LIMIT:
            raise ValueError("a DOCX over 2 GiB would need zip64")
        common = (flags, _DEFLATED, dos_time, dos_date, deflated.crc, len(deflated.data), deflated.size)
        central += _CENTRAL_ENTRY.pack(
            b"PK\x01\x02", _ZIP_VERSION, _UNIX, _ZIP_VERSION, 0, *common,
            len(encoded), 0, 0, 0, 0, _ATTRIBUTES, len(out),
        )  # fmt: skip
        central += encoded
        out += _LOCAL_HEADER.pack(b"PK\x03\x04", _ZIP_VERSION, 0, *common, len(encoded), 0)
        out += encoded
        out += deflated.data
    start = len(out)
    out += central
    out += _END_RECORD.pack(b"PK\x05\x06", 0, 0, len(order), len(order), len(central), start, 0)
    return bytes(out)


# The zip records (PKWARE APPNOTE 4.3.7, 4.3.12, 4.3.16), as zipfile packs them.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_DEFLATED = 8
ZIP_LEVEL = 6
_ZIP_VERSION = 20  # "2.0": deflate; what zipfile writes as the version made by and needed
_UNIX = 3  # made on Unix, so the attributes below are Unix mode bits
_ATTRIBUTES = 0o100644 << 16  # a plain file, rw-r--r--
_UTF8_NAME = 0x800
_ZIP32_LIMIT = 1 << 31
