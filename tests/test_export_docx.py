"""The DOCX renderer (issue 12, points 3 and 9): documents built by the real engine from the
shipped content packs, rendered to DOCX and read back with python-docx, in another process,
and by a real consumer (LibreOffice converts them to text and to a PDF whose first page is
kept as a PNG under ``test-artifacts/``)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Mm, Pt, RGBColor, Twips

from servanda.engine.document import Document, DocumentMeta, Pin
from servanda.engine.evaluate import evaluate_contract
from servanda.engine.shapes import Structure
from servanda.export.docx import render_docx
from servanda.export.style import HeaderSpec, Logo, StyleSpec, style_from_settings
from tests.engine.helpers import Pack
from tests.engine.test_golden import DEMO_ANSWERS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FIRM = "Kanzlei Muster & Partner mbB"
STYLE = StyleSpec(firm_name=FIRM)
PACKS = {
    "arbeitsvertrag": "arbeitsvertrag.json",
    "geheimhaltungsvereinbarung": "nda.json",
    "dienstleistungsvertrag": "dienstleistungsvertrag.json",
}
INJECTION = '<w:p>&amp; { PAGE } {{gehalt}} ]]> <script>alert(1)</script> "\x01'
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def build(template: str = "arbeitsvertrag", *, draft: bool = True, **answers: Any) -> Document:
    """The document of a shipped template with the golden demo answers (plus ``answers``)."""
    pack = Pack(PACKS[template], template)
    pins = tuple(Pin(cid, c.title, 1) for cid, c in pack.clauses.items())
    meta = DocumentMeta(
        title=f"{pack.template_title} Mustermann",
        client_reference="AZ 2026/0417",
        date=datetime.date(2026, 3, 2),
        template_title=pack.template_title,
        template_version=1,
        draft=draft,
        pins=pins,
    )
    evaluation = evaluate_contract(
        pack.structure,
        pack.questions,
        pack.clauses,
        {**DEMO_ANSWERS[template], **answers},
        {},
        "DE",
        meta=meta,
    )
    return evaluation.document


def png(width: int = 240, height: int = 80) -> bytes:
    """A small RGB PNG (a two-coloured bar), written by hand: no image library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(b"\x1f\x38\x64" if x < width // 3 else b"\xc8\xd2\xe6" for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LOGO = Logo(png(), "image/png")


def read(data: bytes) -> Any:
    return docx.Document(io.BytesIO(data))


def body_text(data: bytes) -> str:
    """Every paragraph of the body (table cells included), one per line."""
    word = read(data)
    lines = [p.text for p in word.paragraphs]
    for table in word.tables:
        for row in table.rows:
            for cell in row.cells:
                lines.extend(p.text for p in cell.paragraphs)
    return "\n".join(lines)


def part(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return package.read(name).decode("utf-8")


def header_footer_text(data: bytes) -> tuple[str, str]:
    section = read(data).sections[0]
    header = "\n".join(p.text for p in section.header.tables[0].cell(0, 1).paragraphs)
    footer = "\n".join(p.text for p in section.footer.paragraphs)
    return header, footer


def words(text: str) -> list[str]:
    return text.replace("\ufeff", "").split()


# --- reproducibility ---------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_bytes() -> None:
    document = build()
    first = render_docx(document, STYLE, logo=LOGO)
    second = render_docx(build(), STYLE, logo=LOGO)
    assert first == second
    assert render_docx(document, STYLE) != first  # the logo is part of the bytes


def test_another_process_at_another_time_gives_the_same_bytes() -> None:
    """A fresh interpreter (other hash seed, other time zone, seconds later) writes the same file."""
    data = render_docx(build(), STYLE, logo=LOGO)
    script = (
        "import hashlib, sys\n"
        "from tests.test_export_docx import LOGO, STYLE, build\n"
        "from servanda.export.docx import render_docx\n"
        "sys.stdout.write(hashlib.sha256(render_docx(build(), STYLE, logo=LOGO)).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Pacific/Auckland"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout == hashlib.sha256(data).hexdigest()


def test_zip_members_have_fixed_dates_order_and_attributes() -> None:
    data = render_docx(build(), STYLE, logo=LOGO)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        infos = package.infolist()
    names = [info.filename for info in infos]
    assert names[:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert names[2:] == sorted(names[2:])
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    assert {(info.create_system, info.external_attr) for info in infos} == {(3, 0o100644 << 16)}
    assert "docProps/thumbnail.jpeg" not in names  # python-docx's template picture of an empty page
    assert "word/media/image1.png" in names


def test_the_package_is_written_as_zipfile_writes_it() -> None:
    """The renderer writes the zip itself (a style's static members deflated once, not per render):
    byte for byte what zipfile writes for the same members, date and attributes."""
    data = render_docx(build(), STYLE, logo=LOGO)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.testzip() is None  # every CRC checks
        members = [(info.filename, package.read(info)) for info in package.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, blob in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            target.writestr(info, blob, compresslevel=6)
    assert out.getvalue() == data


def test_renders_that_share_a_prepared_style_leave_nothing_in_it() -> None:
    """The prepared style (template, styles, page; docx.py keeps it per process) is shared by every
    render with the same look: the body, header, logo and properties one render adds, or the
    base's header it drops, must not reach the next one."""
    from servanda.export import docx as renderer

    base = docx.Document()
    base.sections[0].header.paragraphs[0].text = "Alte Kopfzeile"
    base.add_paragraph("Alter Inhalt")
    buffer = io.BytesIO()
    base.save(buffer)
    other_firm = StyleSpec(firm_name="Andere Kanzlei", header=HeaderSpec(text="Kopf", client_reference=False))
    for base_docx in (None, buffer.getvalue()):
        first = render_docx(build(), STYLE, logo=LOGO, base_docx=base_docx)
        render_docx(build("geheimhaltungsvereinbarung", draft=False), other_firm, base_docx=base_docx)
        again = render_docx(build(), STYLE, logo=LOGO, base_docx=base_docx)
        renderer._PREPARED.clear()
        fresh = render_docx(build(), STYLE, logo=LOGO, base_docx=base_docx)
        assert first == again == fresh
        assert body_text(fresh).count("Arbeitsvertrag") == body_text(first).count("Arbeitsvertrag")


# --- properties ------------------------------------------------------------------------------------


def test_document_properties_come_from_the_document_not_the_clock() -> None:
    document = build()
    data = render_docx(document, STYLE)
    props = read(data).core_properties
    assert props.title == "Arbeitsvertrag Mustermann"  # the contract's working title
    assert props.subject == "Arbeitsvertrag"  # the document title
    assert props.author == FIRM
    assert props.last_modified_by == FIRM
    assert props.revision == 1
    midnight = datetime.datetime(2026, 3, 2, 0, 0, tzinfo=datetime.UTC)
    assert props.created == midnight
    assert props.modified == midnight
    assert props.last_printed is None
    assert f"Klauselstand {document.properties.pin_stand}" in props.keywords
    assert "Vorlage „Arbeitsvertrag“, Fassung 1" in props.comments
    core, app = part(data, "docProps/core.xml"), part(data, "docProps/app.xml")
    # nothing of python-docx's template: no author, no description, no application name
    for text in (core, app):
        assert "python-docx" not in text
        assert "Microsoft" not in text
    assert "AZ 2026/0417" not in core  # the client reference stays in the header
    assert "<Application>Servanda Office</Application>" in app
    assert "<Company>Kanzlei Muster &amp; Partner mbB</Company>" in app


# --- header, footer, body ------------------------------------------------------------------------


def test_entwurf_only_in_drafts() -> None:
    draft_header, draft_footer = header_footer_text(render_docx(build(draft=True), STYLE))
    final_header, final_footer = header_footer_text(render_docx(build(draft=False), STYLE))
    assert draft_header.splitlines() == [FIRM, "ENTWURF", "Unser Zeichen: AZ 2026/0417", "Stand: 02.03.2026"]
    assert final_header.splitlines() == [FIRM, "Unser Zeichen: AZ 2026/0417", "Stand: 02.03.2026"]
    assert "Entwurf vom 02.03.2026 · Vorlage „Arbeitsvertrag“, Fassung 1 · Klauselstand" in draft_footer
    assert "Entwurf" not in final_footer
    assert "ENTWURF" not in body_text(render_docx(build(draft=True), STYLE))
    # the style may leave the client reference out of the header
    header, _ = header_footer_text(
        render_docx(build(), StyleSpec(header=HeaderSpec(text="Kanzlei X", client_reference=False)))
    )
    assert header.splitlines() == ["Kanzlei X", "ENTWURF", "Stand: 02.03.2026"]


def test_footer_page_numbers_are_real_fields() -> None:
    data = render_docx(build(), STYLE)
    footer = next(
        part(data, name)
        for name in zipfile.ZipFile(io.BytesIO(data)).namelist()
        if name.startswith("word/footer")
    )
    instructions = re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", footer)
    assert [i.split()[0] for i in instructions] == ["PAGE", "NUMPAGES"]
    assert footer.count('w:fldCharType="begin"') == 2 and footer.count('w:fldCharType="end"') == 2
    _, text = header_footer_text(data)
    assert text.splitlines()[-1] == "Seite 1 von 1"  # cached results; Word and LibreOffice update them
    assert "instrText" not in part(data, "word/document.xml")  # no field in the body


def test_logo_png_is_embedded_in_the_header() -> None:
    data = render_docx(build(), STYLE, logo=LOGO)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.read("word/media/image1.png") == LOGO.data
        header_rels = next(
            n for n in package.namelist() if re.fullmatch(r"word/_rels/header\d+\.xml\.rels", n)
        )
        assert "media/image1.png" in package.read(header_rels).decode()
        assert "media/image1.png" not in package.read("word/_rels/document.xml.rels").decode()
    shapes = read(data).sections[0].header.tables[0].cell(0, 0)._tc.xpath(".//wp:extent")
    assert len(shapes) == 1
    # 240 × 80 px scaled to the 15 mm logo height: 45 × 15 mm
    assert (int(shapes[0].get("cx")), int(shapes[0].get("cy"))) == (Mm(45), Mm(15))
    # the style can switch the logo off; a broken image is left out rather than failing the export
    assert "media/" not in str(
        zipfile.ZipFile(
            io.BytesIO(render_docx(build(), StyleSpec(header=HeaderSpec(logo=False)), logo=LOGO))
        ).namelist()
    )
    broken = render_docx(build(), STYLE, logo=Logo(b"\x89PNG broken", "image/png"))
    assert not [n for n in zipfile.ZipFile(io.BytesIO(broken)).namelist() if n.startswith("word/media/")]


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">'
    b'<rect width="40" height="40" fill="#1F3864"/><rect x="48" y="10" width="72" height="20" fill="#C8D2E6"/>'
    b"</svg>"
)


def test_an_svg_logo_is_converted_to_png() -> None:
    data = render_docx(build(), STYLE, logo=Logo(SVG, "image/svg+xml"))
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        image = package.read("word/media/image1.png")
    assert image.startswith(b"\x89PNG")
    extent = read(data).sections[0].header.tables[0].cell(0, 0)._tc.xpath(".//wp:extent")[0]
    assert (int(extent.get("cx")), int(extent.get("cy"))) == (Mm(45), Mm(15))  # 3:1 like the SVG
    assert render_docx(build(), STYLE, logo=Logo(SVG, "image/svg+xml")) == data


def test_style_fonts_sizes_colours_and_margins_are_applied() -> None:
    style = style_from_settings(
        fonts={"body": "DejaVu Serif", "headings": "DejaVu Sans"},
        font_sizes={"body": 10.5, "heading": 13, "title": 18, "small": 7},
        colors={"primary": "#7B1E3A", "secondary": "#333333"},
        margins_mm={"top": 30, "bottom": 22, "left": 27, "right": 18},
        firm_name=FIRM,
    )
    word = read(render_docx(build(), style))
    section = word.sections[0]
    assert (section.page_width, section.page_height) == (Twips(11906), Twips(16838))  # A4
    assert [
        round(m / Mm(1))
        for m in (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    ] == [30, 22, 27, 18]
    normal, heading, title = word.styles["Normal"], word.styles["Heading 1"], word.styles["Title"]
    assert (normal.font.name, normal.font.size) == ("DejaVu Serif", Pt(10.5))
    assert (heading.font.name, heading.font.size, heading.font.bold) == ("DejaVu Sans", Pt(13), True)
    assert heading.font.color.rgb == RGBColor(0x7B, 0x1E, 0x3A)
    assert (title.font.name, title.font.size) == ("DejaVu Sans", Pt(18))
    assert word.styles["Footer"].font.size == Pt(7)
    # the structure a lawyer keeps editing: title, § headings as Heading 1 (navigation pane),
    # numbered paragraphs in their own style with a hanging indent
    paragraphs = word.paragraphs
    assert (paragraphs[0].style.name, paragraphs[0].text) == ("Title", "Arbeitsvertrag")
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == ["§ 1 Beginn des Arbeitsverhältnisses", "§ 2 Probezeit", "§ 3 Tätigkeit"]
    assert headings[-1] == "§ 18 Schlussbestimmungen"
    numbered = [p for p in paragraphs if p.style.name == "Absatz nummeriert"]
    assert numbered[0].text.startswith("(1)\tDer Arbeitnehmer wird als Sachbearbeiterin")
    indent = word.styles["Absatz nummeriert"].paragraph_format
    assert indent.left_indent == -indent.first_line_indent > 0
    outline = word.styles["Heading 1"].element.pPr.find(f"{W}outlineLvl")
    assert outline is not None and outline.get(f"{W}val") == "0"


def test_bold_runs_line_breaks_and_placeholders() -> None:
    # a draft without the employee's name: the placeholder is highlighted
    document = build(arbeitnehmer_name=None)
    word = read(render_docx(document, STYLE))
    party = next(p for p in word.paragraphs if "[[arbeitnehmer_name]]" in p.text)
    placeholder = next(r for r in party.runs if r.text == "[[arbeitnehmer_name]]")
    assert placeholder.font.highlight_color == WD_COLOR_INDEX.YELLOW
    assert placeholder.bold  # the party's name is bold, missing or not
    employer = next(p for p in word.paragraphs if p.text.startswith("Muster GmbH"))
    assert employer.runs[0].text == "Muster GmbH" and employer.runs[0].bold
    assert not employer.runs[1].bold
    assert employer.text.endswith("\n– nachfolgend „Arbeitgeber“ –")  # a line break, not a new paragraph
    assert employer._p.xpath(".//w:br")


def test_section_titles_take_heading_1_and_a_document_without_date_or_firm() -> None:
    pack = Pack(PACKS["geheimhaltungsvereinbarung"], "geheimhaltungsvereinbarung")
    shape = pack.structure.model_dump(by_alias=True, mode="json", exclude_none=True)
    for section in shape["sections"]:
        section["showHeading"] = True
    meta = DocumentMeta(title="NDA Beispiel", template_title=pack.template_title)  # no date, no reference
    answers = DEMO_ANSWERS["geheimhaltungsvereinbarung"]
    document = evaluate_contract(
        Structure.model_validate(shape), pack.questions, pack.clauses, answers, {}, "DE", meta=meta
    ).document
    data = render_docx(document, StyleSpec())
    word = read(data)
    titles = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 2"]
    assert titles == [section.title for section in document.sections]
    assert headings == [clause.heading for clause in document.clauses() if clause.heading]
    assert headings[1].startswith("§ 1 ")
    outline = word.styles["Heading 2"].element.pPr.find(f"{W}outlineLvl")
    assert outline is not None and outline.get(f"{W}val") == "1"
    assert header_footer_text(data)[0].splitlines() == ["ENTWURF"]  # no firm, reference or date
    core = part(data, "docProps/core.xml")
    assert "dcterms:created" not in core and "dcterms:modified" not in core  # no date: none, not now
    assert word.core_properties.author == ""
    assert render_docx(document, StyleSpec()) == data


def test_answers_are_inserted_as_literal_text() -> None:
    data = render_docx(build(arbeitgeber_name=INJECTION, vertragsort="{ DATE \\@ yyyy }"), STYLE)
    text = body_text(data)
    literal = INJECTION.replace("\x01", "")  # a character XML cannot carry is dropped
    assert literal in text
    assert "{ DATE \\@ yyyy }, den" in text
    document_xml = part(data, "word/document.xml")
    assert (
        "fldChar" not in document_xml and "instrText" not in document_xml and "fldSimple" not in document_xml
    )
    assert "&lt;w:p&gt;&amp;amp; { PAGE }" in document_xml


def test_base_docx_styles_are_used_and_its_content_replaced() -> None:
    base = docx.Document()
    heading = base.styles["Heading 1"]
    heading.font.name, heading.font.size, heading.font.color.rgb = (
        "DejaVu Sans Mono",
        Pt(20),
        RGBColor(0, 0x80, 0),
    )
    base.styles["Normal"].font.name = "DejaVu Serif"
    for missing in ("Title", "Heading 2", "Footer"):  # a base that lacks styles gets ours
        if missing in base.styles:
            base.styles[missing].delete()
    base.sections[0].orientation = WD_ORIENT.LANDSCAPE
    base.sections[0].different_first_page_header_footer = True
    base.add_paragraph("Alter Inhalt des Briefbogens")
    base.sections[0].header.paragraphs[0].text = "Alte Kopfzeile"
    base.core_properties.author = "Dr. Ex Mitarbeiter"
    buffer = io.BytesIO()
    base.save(buffer)

    data = render_docx(build(), STYLE, base_docx=buffer.getvalue())
    word = read(data)
    assert word.styles["Heading 1"].font.name == "DejaVu Sans Mono"  # the base's house style wins
    assert word.styles["Heading 1"].font.size == Pt(20)
    assert word.styles["Normal"].font.name == "DejaVu Serif"
    assert word.styles["Absatz nummeriert"].paragraph_format.left_indent > 0  # ours, added to the base
    assert (word.styles["Title"].font.size, word.styles["Title"].font.name) == (Pt(16), "Liberation Sans")
    assert word.paragraphs[0].style.name == "Title"
    assert word.sections[0].orientation == WD_ORIENT.PORTRAIT
    assert not word.sections[0].different_first_page_header_footer
    assert "§ 1 Beginn des Arbeitsverhältnisses" in [
        p.text for p in word.paragraphs if p.style.name == "Heading 1"
    ]
    assert "Alter Inhalt" not in body_text(data)
    header, footer = header_footer_text(data)
    assert "ENTWURF" in header and "Seite 1 von 1" in footer
    assert "Alte Kopfzeile" not in "".join(
        part(data, n) for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("word/header")
    )
    assert word.core_properties.author == FIRM
    assert "Ex Mitarbeiter" not in part(data, "docProps/core.xml")
    assert word.sections[0].page_width == Twips(11906)  # the page is ours: A4, the style's margins
    assert render_docx(build(), STYLE, base_docx=buffer.getvalue()) == data


# --- a real consumer: LibreOffice ------------------------------------------------------------------


def _soffice(args: list[str], profile: Path, timeout: float = 180) -> None:
    """A cold ``soffice`` with its own profile directory; its process group dies with it."""
    command = ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # any helper process it left behind
    assert process.returncode == 0, output.decode(errors="replace")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("soffice") is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")
    work = tmp_path_factory.mktemp("docx-soffice")
    documents = {template: build(template) for template in PACKS}
    documents["injection"] = build(arbeitgeber_name=INJECTION.replace("\x01", ""))
    documents["final"] = build("geheimhaltungsvereinbarung", draft=False)
    files = []
    for name, document in documents.items():
        path = work / f"{name}.docx"
        path.write_bytes(render_docx(document, STYLE, logo=LOGO))
        files.append(str(path))
    out = work / "out"
    _soffice(["--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(out), *files], work / "profile")
    _soffice(["--convert-to", "pdf", "--outdir", str(out), files[0]], work / "profile")
    return {"documents": documents, "out": out}


def test_libreoffice_reads_the_contract_text(converted: dict[str, Any]) -> None:
    for name, document in converted["documents"].items():
        text = (converted["out"] / f"{name}.txt").read_text(encoding="utf-8-sig")
        # exactly the document model's text (header and footer are not part of a text export)
        assert words(text) == words(document.plain_text()), name
    arbeitsvertrag = (converted["out"] / "arbeitsvertrag.txt").read_text(encoding="utf-8-sig")
    lines = arbeitsvertrag.splitlines()
    assert lines[0] == "Arbeitsvertrag"
    assert "§ 1 Beginn des Arbeitsverhältnisses" in lines and "§ 18 Schlussbestimmungen" in lines
    assert "Das Arbeitsverhältnis beginnt am 01.04.2026 und wird auf unbestimmte Zeit geschlossen." in lines
    assert (
        "(1)\tDer Arbeitnehmer erhält für seine Tätigkeit ein monatliches Bruttogehalt von 4.200,00 EUR."
        in lines
    )
    nda = (converted["out"] / "geheimhaltungsvereinbarung.txt").read_text(encoding="utf-8-sig")
    assert "10.000,00 EUR" in nda
    injection = (converted["out"] / "injection.txt").read_text(encoding="utf-8-sig")
    assert INJECTION.replace("\x01", "") in injection


def test_libreoffice_lays_out_pages_and_the_first_page_is_kept_as_png(converted: dict[str, Any]) -> None:
    pdf = converted["out"] / "arbeitsvertrag.pdf"
    page_one = subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    pages = int(
        re.search(
            r"Pages:\s+(\d+)",
            subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout,
        ).group(1)
    )  # type: ignore[union-attr]
    assert pages > 1
    assert f"Seite 1 von {pages}" in page_one  # the fields, computed by LibreOffice
    assert "ENTWURF" in page_one and "Unser Zeichen: AZ 2026/0417" in page_one
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "docx-arbeitsvertrag-page-1"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(target)],
        check=True,
        timeout=60,
    )
    image = target.with_suffix(".png").read_bytes()
    assert image.startswith(b"\x89PNG") and len(image) > 20_000
