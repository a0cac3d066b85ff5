"""HTML of the document model for the live preview.

Every piece of text is escaped (answers may contain ``<script>``); the only markup is the
fixed structure below plus ``<strong>`` for bold runs of authored clause text. Attribute
values come from the engine (UUIDs, authored element ids, fixed class names), never from
answers.

The preview shows what an export carries, in reading order: the header ("ENTWURF", "Unser
Zeichen") and the draft footer line as small, muted lines (``document-header`` /
``document-footer``) so a lawyer sees them without mistaking them for contract text; the
document properties (working title, pins) are not shown.
"""

from __future__ import annotations

from html import escape

from servanda.engine.document import SIGNATURE_LINE, ClauseBlock, Document, DocumentSection, Paragraph, Run


def _text(text: str) -> str:
    # A line break inside a paragraph is kept as <br>; everything else is escaped text.
    return "<br>".join(escape(line, quote=True) for line in text.split("\n"))


def _run(run: Run) -> str:
    if run.placeholder is not None:
        html = f'<span class="placeholder">{_text(run.text)}</span>'
    else:
        html = _text(run.text)
    return f"<strong>{html}</strong>" if run.bold else html


def _paragraph(paragraph: Paragraph) -> str:
    number = ""
    if paragraph.number is not None:
        number = f'<span class="paragraph-number">{_text(paragraph.label)}</span> '
    return "<p>" + number + "".join(_run(run) for run in paragraph.runs) + "</p>"


def _clause(clause: ClauseBlock) -> str:
    parts = [f'<div class="clause" data-clause-id="{escape(str(clause.clause_id), quote=True)}">']
    if clause.heading:
        parts.append(f"<h3>{_text(clause.heading)}</h3>")
    parts.extend(_paragraph(p) for p in clause.paragraphs)
    parts.append("</div>")
    return "\n".join(parts)


def _section(section: DocumentSection) -> list[str]:
    css = "contract-section" if section.placement == "body" else f"contract-section {section.placement}"
    parts = [f'<section class="{css}" data-section-id="{escape(section.id, quote=True)}">']
    if section.show_heading:
        parts.append(f"<h2>{_text(section.title)}</h2>")
    parts.extend(_clause(clause) for clause in section.clauses)
    parts.append("</section>")
    return parts


def render(document: Document) -> str:
    parts = ['<article class="contract">']
    if document.header:
        parts.append(
            '<div class="document-header">' + "<br>".join(_text(h) for h in document.header) + "</div>"
        )
    parts.append(f"<h1>{_text(document.title)}</h1>")
    if document.parties is not None:
        parts.append('<div class="parties">')
        parts.append(f"<p>{_text(document.parties.intro)}</p>")
        for i, party in enumerate(document.parties.parties):
            if i:
                parts.append("<p>und</p>")
            runs = "".join(_run(run) for run in party.runs)
            parts.append(f'<p class="party">{runs}<br>{_text(party.designation)}</p>')
        if document.parties.outro:
            parts.append(f"<p>{_text(document.parties.outro)}</p>")
        parts.append("</div>")
    for section in document.sections:
        parts.extend(_section(section))
    if document.signature is not None:
        parts.append('<div class="signatures">')
        for line in document.signature.lines:
            parts.append('<div class="signature">')
            parts.append(f"<p>{_text(document.signature.place_date)}</p>")
            signer = "\n".join(t for t in (SIGNATURE_LINE, line.role, line.name) if t)
            parts.append(f'<p class="signature-line">{_text(signer)}</p>')
            parts.append("</div>")
        parts.append("</div>")
    if document.footer:
        parts.append(
            '<div class="document-footer">' + "<br>".join(_text(f) for f in document.footer) + "</div>"
        )
    parts.append("</article>")
    return "\n".join(parts) + "\n"
