"""The document model (engine.md "Rendering") that feeds the HTML preview and the exports.

It reads as a German contract: the title from the template, the parties block ("zwischen …
– nachfolgend „Arbeitgeber“ – und …") from the interview, an unnumbered preamble, per
selected clause its display heading "§ n Heading" (numbered continuously across the
document) with paragraphs "(1)", "(2)" when it has more than one, an unnumbered closing and
the signature block (place, date, one line per party with its role). Template sections
group clauses; their titles appear only where the template sets ``showHeading``.

Metadata stays out of the body: the contract's working title, template, version and pins
are document *properties*; the header carries "ENTWURF" (drafts) and the client reference
("Unser Zeichen"); the footer line (drafts only) names template, version and pin stand.

Clause text is split into paragraphs on blank lines; a single line break inside a paragraph
stays as ``\\n`` in the run text. Markup comes only from the authored clause text, and only
``**bold**``: the text is tokenised *before* parameters are substituted, so an answer
containing ``**``, ``{{x}}`` or ``<script>`` is inserted as plain text and never interpreted.
An unpaired ``**`` is literal.

Parameter value = the effective answer of the first question whose ``parameterKeys``
contains the key, else the clause parameter's ``default``; formatted in German (a choice
inserts its option's ``insertText``, else its label). No value → placeholder ``[[key]]``
and an entry in ``missing_parameters``; a placeholder that the clause does not declare as a
parameter counts as required (it cannot be left in a final document). Answers to hidden
questions are never used (they are not effective).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from servanda.engine.assembly import Assembly, ordered_sections
from servanda.engine.formatting import format_date, format_value
from servanda.engine.interview import InterviewState
from servanda.engine.shapes import DocumentSettings, Parameter, Question, Structure
from servanda.engine.shapes import Party as PartySpec

# The same placeholder syntax the publishing gates check (content/gates.py).
_TOKEN = re.compile(r"\*\*|{{\s*([a-zA-Z0-9_]+)\s*}}")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
BOLD = "**"
BLANK = "_______________"  # a blank to fill in by hand (signature block)
SIGNATURE_LINE = "______________________________"
PLACEMENTS = ("preamble", "body", "closing")


@dataclass(frozen=True)
class ClauseText:
    """What the document needs of a pinned clause version."""

    clause_id: uuid.UUID
    title: str  # internal title, for authors ("Vergütung (Pauschal)")
    content: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    heading: str | None = None  # display heading ("Vergütung"); None: the title

    @property
    def display_heading(self) -> str:
        return (self.heading if self.heading is not None else self.title).strip()


@dataclass(frozen=True)
class Pin:
    """A pinned clause version, for the document properties."""

    clause_id: uuid.UUID
    title: str
    version_number: int | None = None
    version_id: uuid.UUID | None = None


@dataclass(frozen=True)
class DocumentMeta:
    title: str = ""  # the contract's working title: a document property, not the heading
    client_reference: str | None = None
    date: datetime.date | None = None  # passed in (the contract's date): the engine reads no clock
    template_title: str = ""
    template_version: int | None = None
    draft: bool = True
    template_version_id: uuid.UUID | None = None
    pins: tuple[Pin, ...] = ()


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    placeholder: str | None = None  # the parameter key when this run is a missing value

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "bold": self.bold, "placeholder": self.placeholder}


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]
    number: int | None = None  # "(1)", "(2)" inside a § that has more than one paragraph

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    @property
    def label(self) -> str:
        return f"({self.number})" if self.number is not None else ""

    @property
    def display_text(self) -> str:
        return f"{self.label} {self.text}" if self.number is not None else self.text

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "runs": [r.as_json() for r in self.runs]}


@dataclass(frozen=True)
class ClauseBlock:
    clause_id: uuid.UUID
    number: int | None  # § number; None for preamble and closing clauses
    title: str  # the internal title (authors)
    display: str  # the display heading without the number ("" = no heading)
    paragraphs: tuple[Paragraph, ...]

    @property
    def heading(self) -> str:
        if self.number is None:
            return self.display
        return f"§ {self.number} {self.display}".rstrip()


@dataclass(frozen=True)
class DocumentSection:
    id: str
    title: str
    clauses: tuple[ClauseBlock, ...]
    placement: str = "body"
    show_heading: bool = False


class MissingParameter(NamedTuple):
    clause_id: uuid.UUID | None  # None: a value of the parties block
    key: str
    required: bool


@dataclass(frozen=True)
class OutlineEntry:
    section_id: str
    title: str
    headings: tuple[str, ...]


@dataclass(frozen=True)
class ContractParty:
    role: str
    runs: tuple[Run, ...]  # name (bold), address, representative

    @property
    def designation(self) -> str:
        return f"– nachfolgend „{self.role}“ –"

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class PartiesBlock:
    intro: str
    parties: tuple[ContractParty, ...]
    outro: str | None = None

    def lines(self) -> list[str]:
        """The block as paragraphs of plain text: intro, party, "und", party, …, outro."""
        lines = [self.intro]
        for i, party in enumerate(self.parties):
            if i:
                lines.append("und")
            lines.append(f"{party.text}\n{party.designation}")
        if self.outro:
            lines.append(self.outro)
        return lines


@dataclass(frozen=True)
class SignatureLine:
    role: str
    name: str | None  # the party's name when answered


@dataclass(frozen=True)
class SignatureBlock:
    place: str | None
    date: str | None
    lines: tuple[SignatureLine, ...]

    @property
    def place_date(self) -> str:
        return f"{self.place or BLANK}, den {self.date or BLANK}"

    def text_blocks(self) -> list[str]:
        blocks = []
        for line in self.lines:
            name = f"\n{line.name}" if line.name else ""
            blocks.append(f"{self.place_date}\n\n{SIGNATURE_LINE}\n{line.role}{name}")
        return blocks


@dataclass(frozen=True)
class DocumentProperties:
    """Document properties of every export (not body text)."""

    title: str  # the contract's working title
    subject: str  # the document title
    template_title: str
    template_version: int | None
    template_version_id: uuid.UUID | None
    client_reference: str | None
    date: datetime.date | None
    draft: bool
    pins: tuple[Pin, ...]

    @property
    def pin_stand(self) -> str:
        """A short, stable fingerprint of the pinned clause versions ("Klauselstand")."""
        ids = sorted(str(p.version_id or p.clause_id) for p in self.pins)
        return hashlib.sha256(",".join(ids).encode()).hexdigest()[:8] if ids else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subject": self.subject,
            "templateTitle": self.template_title,
            "templateVersion": self.template_version,
            "templateVersionId": str(self.template_version_id) if self.template_version_id else None,
            "clientReference": self.client_reference,
            "date": self.date.isoformat() if self.date else None,
            "draft": self.draft,
            "pinStand": self.pin_stand,
            "pins": [
                {
                    "clauseId": str(p.clause_id),
                    "title": p.title,
                    "versionNumber": p.version_number,
                    "versionId": str(p.version_id) if p.version_id else None,
                }
                for p in self.pins
            ],
        }


@dataclass(frozen=True)
class Document:
    title: str
    properties: DocumentProperties
    header: tuple[str, ...]  # "ENTWURF" (drafts), "Unser Zeichen: …"
    footer: tuple[str, ...]  # drafts only: template, version, date, pin stand
    parties: PartiesBlock | None
    sections: tuple[DocumentSection, ...]  # document order: preamble, body, closing
    signature: SignatureBlock | None
    missing_parameters: tuple[MissingParameter, ...]

    def clauses(self) -> Iterator[ClauseBlock]:
        for section in self.sections:
            yield from section.clauses

    def outline(self) -> list[OutlineEntry]:
        return [
            OutlineEntry(s.id, s.title, tuple(c.heading for c in s.clauses if c.heading))
            for s in self.sections
        ]

    @property
    def missing_required(self) -> list[MissingParameter]:
        return [m for m in self.missing_parameters if m.required]

    def plain_text(self) -> str:
        """The body as plain text, blocks separated by a blank line (header and footer left out)."""
        blocks = [self.title]
        if self.parties is not None:
            blocks.extend(self.parties.lines())
        for section in self.sections:
            if section.show_heading:
                blocks.append(section.title)
            for clause in section.clauses:
                if clause.heading:
                    blocks.append(clause.heading)
                blocks.extend(p.display_text for p in clause.paragraphs)
        if self.signature is not None:
            blocks.extend(self.signature.text_blocks())
        return "\n\n".join(blocks) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "properties": self.properties.as_json(),
            "header": list(self.header),
            "footer": list(self.footer),
            "parties": None
            if self.parties is None
            else {
                "intro": self.parties.intro,
                "parties": [
                    {"role": p.role, "designation": p.designation, "runs": [r.as_json() for r in p.runs]}
                    for p in self.parties.parties
                ],
                "outro": self.parties.outro,
            },
            "sections": [
                {
                    "id": s.id,
                    "title": s.title,
                    "placement": s.placement,
                    "showHeading": s.show_heading,
                    "clauses": [
                        {
                            "clauseId": str(c.clause_id),
                            "number": c.number,
                            "heading": c.heading,
                            "paragraphs": [p.as_json() for p in c.paragraphs],
                        }
                        for c in s.clauses
                    ],
                }
                for s in self.sections
            ],
            "signature": None
            if self.signature is None
            else {
                "placeDate": self.signature.place_date,
                "lines": [{"role": line.role, "name": line.name} for line in self.signature.lines],
            },
            "missingParameters": [
                {"clauseId": str(m.clause_id) if m.clause_id else None, "key": m.key, "required": m.required}
                for m in self.missing_parameters
            ],
        }


# --- parameter values ------------------------------------------------------------------------


def _questions_by_parameter(state: InterviewState) -> dict[str, Question]:
    by_key: dict[str, Question] = {}
    for question_state in state.questions:
        for key in question_state.question.parameter_keys:
            by_key.setdefault(key, question_state.question)
    return by_key


def _value(parameter: Parameter | None, question: Question | None, state: InterviewState) -> str | None:
    if question is not None:
        answer = state.effective(question.key)
        if answer is not None:
            return format_value(question.type, answer, question.options) or None
    if parameter is not None and parameter.default is not None:
        return format_value(parameter.type, parameter.default, parameter.options) or None
    return None


def _answer(state: InterviewState, key: str | None) -> str | None:
    """The effective answer of question ``key``, formatted; None when there is none."""
    if key is None:
        return None
    question = state.question(key)
    answer = state.effective(key)
    if question is None or answer is None:
        return None
    return format_value(question.question.type, answer, question.question.options) or None


# --- clause text ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def paragraphs_of(content: str) -> tuple[str, ...]:
    """The paragraphs of a clause text; clause texts are immutable content, parsed once per process."""
    text = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    return tuple(p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip())


def _merge(runs: list[Run]) -> tuple[Run, ...]:
    merged: list[Run] = []
    for run in runs:
        if not run.text:
            continue
        previous = merged[-1] if merged else None
        if (
            previous
            and previous.placeholder is None
            and run.placeholder is None
            and previous.bold == run.bold
        ):
            merged[-1] = Run(previous.text + run.text, run.bold)
        else:
            merged.append(run)
    return tuple(merged)


def _paragraph(text: str, substitute: Callable[[str, bool], Run], number: int | None = None) -> Paragraph:
    """Runs of one paragraph; ``substitute(key, bold)`` gives the run for a placeholder."""
    segments = _segments(text)
    if len(segments) == 1:  # no placeholder and no bold: the common plain paragraph
        return Paragraph(_plain_runs(text), number)
    runs = [Run(part, bold) if key is None else substitute(key, bold) for part, key, bold in segments]
    return Paragraph(_merge(runs), number)


@functools.lru_cache(maxsize=16384)
def _plain_runs(text: str) -> tuple[Run, ...]:
    return _merge([Run(text)])


@functools.lru_cache(maxsize=16384)
def _segments(text: str) -> tuple[tuple[str, str | None, bool], ...]:
    """A paragraph as (literal text, None, bold) and ("", placeholder key, bold) in order.

    The parse of ``**`` switches and ``{{key}}`` placeholders depends on the text alone, so it is
    done once per paragraph text and process; the answers are substituted per request.
    """
    markers = [m for m in _TOKEN.finditer(text) if m.group(0) == BOLD]
    # An odd number of ** leaves the last one unpaired: it is text, not a switch.
    literal = markers[-1].start() if len(markers) % 2 else None
    segments: list[tuple[str, str | None, bool]] = []
    bold = False
    cursor = 0
    for match in _TOKEN.finditer(text):
        segments.append((text[cursor : match.start()], None, bold))
        cursor = match.end()
        if match.group(1) is not None:
            segments.append(("", match.group(1), bold))
        elif match.start() == literal:
            segments.append((BOLD, None, bold))
        else:
            bold = not bold
    segments.append((text[cursor:], None, bold))
    return tuple(segments)


def _clause_block(
    clause: ClauseText,
    number: int | None,
    questions: Mapping[str, Question],
    state: InterviewState,
    missing: dict[tuple[uuid.UUID | None, str], MissingParameter],
) -> ClauseBlock:
    def substitute(key: str, bold: bool) -> Run:
        parameter = clause.parameters.get(key)
        value = _value(parameter, questions.get(key), state)
        if value is not None:
            return Run(value, bold)
        required = parameter.required if parameter is not None else True
        missing.setdefault((clause.clause_id, key), MissingParameter(clause.clause_id, key, required))
        return Run(f"[[{key}]]", bold, placeholder=key)

    texts = paragraphs_of(clause.content)
    # Numbered paragraphs only inside a § with more than one; preamble and closing stay plain.
    numbered = number is not None and len(texts) > 1
    paragraphs = tuple(
        _paragraph(text, substitute, i + 1 if numbered else None) for i, text in enumerate(texts)
    )
    display = clause.display_heading
    if number is None and clause.heading is None:
        display = ""  # an unnumbered clause shows a heading only when it has one of its own
    return ClauseBlock(clause.clause_id, number, clause.title, display, paragraphs)


def candidate_texts(
    clauses: Mapping[uuid.UUID, ClauseText], state: InterviewState, document: Document | None = None
) -> dict[uuid.UUID, tuple[str, tuple[str, ...]]]:
    """Each clause as the document would show it with the current answers, to read before
    choosing it: its display heading and its paragraphs (parameters filled and formatted,
    missing ones as ``[[key]]``, bold markers removed), without § and paragraph numbers.
    Clauses already in ``document`` (the contract's, built from the same answers) are taken
    from it instead of being rendered again."""
    placed = {block.clause_id: block for block in document.clauses()} if document is not None else {}
    questions = _questions_by_parameter(state)
    texts: dict[uuid.UUID, tuple[str, tuple[str, ...]]] = {}
    for clause_id, clause in clauses.items():
        block = placed.get(clause_id) or _clause_block(clause, None, questions, state, {})
        texts[clause_id] = (clause.display_heading, tuple(p.text for p in block.paragraphs))
    return texts


# --- parties, signature, header and footer -------------------------------------------------------


def _party(
    party: PartySpec, state: InterviewState, missing: dict[tuple[uuid.UUID | None, str], MissingParameter]
) -> ContractParty:
    def value(key: str, bold: bool = False) -> Run:
        text = _answer(state, key)
        if text is not None:
            return Run(text, bold)
        # A party's name is always needed; other values as their question says.
        question = state.question(key)
        required = key == party.name_question or question is None or question.question.required
        missing.setdefault((None, key), MissingParameter(None, key, required))
        return Run(f"[[{key}]]", bold, placeholder=key)

    runs = [value(party.name_question, bold=True)]
    if party.address_question is not None:
        runs += [Run(", "), value(party.address_question)]
    representative = _answer(state, party.representative_question)
    if representative is not None:
        runs += [Run(", vertreten durch "), Run(representative)]
    return ContractParty(party.role, _merge(runs))


def _parties(
    settings: DocumentSettings | None,
    state: InterviewState,
    missing: dict[tuple[uuid.UUID | None, str], MissingParameter],
) -> PartiesBlock | None:
    if settings is None or not settings.parties:
        return None
    parties = tuple(_party(p, state, missing) for p in settings.parties)
    return PartiesBlock(settings.parties_intro, parties, settings.parties_outro)


def _signature(settings: DocumentSettings | None, state: InterviewState) -> SignatureBlock | None:
    if settings is None or settings.signature is None:
        return None
    lines = tuple(SignatureLine(p.role, _answer(state, p.name_question)) for p in settings.parties)
    if not lines:
        lines = (SignatureLine("", None),)
    return SignatureBlock(
        _answer(state, settings.signature.place_question),
        _answer(state, settings.signature.date_question),
        lines,
    )


def _properties(title: str, meta: DocumentMeta) -> DocumentProperties:
    return DocumentProperties(
        title=meta.title or title,
        subject=title,
        template_title=meta.template_title,
        template_version=meta.template_version,
        template_version_id=meta.template_version_id,
        client_reference=meta.client_reference,
        date=meta.date,
        draft=meta.draft,
        pins=meta.pins,
    )


def _header(meta: DocumentMeta) -> tuple[str, ...]:
    lines = ["ENTWURF"] if meta.draft else []
    if meta.client_reference:
        lines.append(f"Unser Zeichen: {meta.client_reference}")
    return tuple(lines)


def _footer(properties: DocumentProperties) -> tuple[str, ...]:
    if not properties.draft:
        return ()
    parts = ["Entwurf"]
    if properties.date is not None:
        parts[0] = f"Entwurf vom {format_date(properties.date)}"
    if properties.template_title:
        version = (
            f", Fassung {properties.template_version}" if properties.template_version is not None else ""
        )
        parts.append(f"Vorlage „{properties.template_title}“{version}")
    if properties.pin_stand:
        parts.append(f"Klauselstand {properties.pin_stand}")
    return (" · ".join(parts),)


# --- the document -----------------------------------------------------------------------------


def build(
    *,
    structure: Structure,
    assembly: Assembly,
    clauses: Mapping[uuid.UUID, ClauseText],
    state: InterviewState,
    meta: DocumentMeta,
) -> Document:
    """The document of the selected clauses. Sections without a selected clause are left out;
    a selected clause without a pinned text is skipped (pins cover every clause a slot offers).
    Preamble sections come first and closing sections last, whatever their order."""
    questions = _questions_by_parameter(state)
    missing: dict[tuple[uuid.UUID | None, str], MissingParameter] = {}
    settings = structure.document
    parties = _parties(settings, state, missing)
    ordered = sorted(ordered_sections(structure), key=lambda s: PLACEMENTS.index(s.placement))
    sections: list[DocumentSection] = []
    placed: set[uuid.UUID] = set()
    number = 0
    for section in ordered:
        blocks: list[ClauseBlock] = []
        for choice in assembly.slots:
            clause_id = choice.clause_id
            if choice.section_id != section.id or clause_id is None or clause_id in placed:
                continue
            clause = clauses.get(clause_id)
            if clause is None:
                continue
            placed.add(clause_id)
            numbered: int | None = None
            if section.placement == "body":
                number += 1
                numbered = number
            blocks.append(_clause_block(clause, numbered, questions, state, missing))
        if blocks:
            sections.append(
                DocumentSection(
                    section.id, section.title, tuple(blocks), section.placement, section.show_heading
                )
            )
    title = (settings.title if settings and settings.title else None) or meta.template_title or meta.title
    properties = _properties(title, meta)
    return Document(
        title=title,
        properties=properties,
        header=_header(meta),
        footer=_footer(properties),
        parties=parties,
        sections=tuple(sections),
        signature=_signature(settings, state),
        missing_parameters=tuple(missing.values()),
    )
