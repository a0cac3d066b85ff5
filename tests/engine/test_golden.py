"""Golden texts: each shipped template, rendered with a full set of demo answers, must read
exactly like its reviewed text in ``tests/golden/<template>.txt``.

The text is taken from the HTML live preview (block elements become paragraphs, ``<br>``
a line break), so the golden text is what a lawyer sees in the preview: header, title,
parties block, preamble, §§ with numbered paragraphs, closing, signature block, footer.
The preview's text must also equal the document model's plain text framed by header and
footer, so preview and exports cannot drift apart.

A changed text is a content decision: review the new wording as a lawyer would, then
regenerate with ``SERVANDA_UPDATE_GOLDEN=1 pytest tests/engine/test_golden.py`` and commit
the golden files together with the change.
"""

from __future__ import annotations

import datetime
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from servanda.engine.document import DocumentMeta, Pin
from servanda.engine.evaluate import evaluate_contract
from servanda.engine.html import render

from .helpers import PACKS, Pack

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("SERVANDA_UPDATE_GOLDEN") == "1"

DEMO_ANSWERS: dict[str, dict[str, Any]] = {
    "arbeitsvertrag": {
        "arbeitgeber_name": "Muster GmbH",
        "arbeitgeber_anschrift": "Hauptstraße 1, 80331 München",
        "arbeitgeber_vertreter": "die Geschäftsführerin Dr. Maria Muster",
        "arbeitnehmer_name": "Erika Mustermann",
        "arbeitnehmer_anschrift": "Nebenweg 2, 80333 München",
        "beginn": "2026-04-01",
        "vertragstyp": "unbefristet",
        "probezeit": "6",
        "taetigkeit": "Sachbearbeiterin Finanzbuchhaltung",
        "aufgaben": "Kontierung und Buchung von Belegen, Kreditorenbuchhaltung und Mitwirkung an den "
        "Monatsabschlüssen",
        "arbeitsort_art": "fest",
        "arbeitsort": "der Betrieb des Arbeitgebers in der Hauptstraße 1, 80331 München",
        "wochenstunden": 40,
        "verguetungsmodell": "monatsgehalt",
        "gehalt": "4200.00",
        "sonderzahlung": True,
        "sonderzahlung_betrag": "2100.00",
        "bav": False,
        "urlaubstage": 30,
        "wettbewerbsverbot": "12",
        "wettbewerbsverbot_gebiet": "de",
        "kuendigungsfrist": "3m_monatsende",
        "tarifbindung": "keine",
        "vertragsort": "München",
    },
    "geheimhaltungsvereinbarung": {
        "partei1_name": "Muster Technologie GmbH",
        "partei1_anschrift": "Hauptstraße 1, 80331 München",
        "partei2_name": "Beispiel Systems AG",
        "partei2_anschrift": "Hafenstraße 5, 20457 Hamburg",
        "art": "gegenseitig",
        "zweck": "eine mögliche Zusammenarbeit bei der Entwicklung einer Batteriemanagement-Software",
        "laufzeit_jahre": 3,
        "vertragsstrafe_vereinbaren": True,
        "vertragsstrafe_betrag": "10000.00",
        "rueckgabe_frist_tage": 14,
        "gerichtsstand": "München",
        "unterzeichnungsort": "München",
    },
    "dienstleistungsvertrag": {
        "auftraggeber_name": "Muster Handel GmbH",
        "auftraggeber_anschrift": "Hauptstraße 1, 80331 München",
        "auftragnehmer_name": "Beispiel Consulting GmbH",
        "auftragnehmer_anschrift": "Kaiserstraße 10, 60311 Frankfurt am Main",
        "leistungsbeschreibung": "Beratung bei der Einführung eines ERP-Systems einschließlich Schulung der Key User",
        "honorarmodell": "stunde",
        "stundensatz": "140.00",
        "stundenkontingent": 120,
        "standard_zahlungsziel": True,
        "laufzeitmodell": "unbefristet",
        "vertragsbeginn": "2026-05-01",
        "kuendigungsfrist": "3",
        "haftungsmodell": "hoechstbetrag",
        "haftung_hoechstbetrag": "250000.00",
        "versicherung_nachweis": True,
        "deckungssumme": "1000000.00",
        "personenbezogene_daten": True,
        "datenkategorien": "Stammdaten und Kontaktdaten von Kunden und Beschäftigten des Auftraggebers",
        "arbeitsergebnisse": True,
        "nutzungsrecht_art": "einfach",
        "solo_selbstaendig": False,
        "gerichtsstand": "München",
        "unterzeichnungsort": "München",
    },
}
TEMPLATES = {
    "arbeitsvertrag.json": "arbeitsvertrag",
    "nda.json": "geheimhaltungsvereinbarung",
    "dienstleistungsvertrag.json": "dienstleistungsvertrag",
}
_BLOCKS = {"p", "h1", "h2", "h3"}
_BLOCK_DIVS = {"document-header", "document-footer"}


class _PreviewText(HTMLParser):
    """The text of the preview: one paragraph per block element, ``<br>`` as a line break."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS or (tag == "div" and dict(attrs).get("class") in _BLOCK_DIVS):
            self.current = []
        elif tag == "br" and self.current is not None:
            self.current.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if (tag in _BLOCKS or tag == "div") and self.current is not None:
            self.blocks.append("".join(self.current))
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current.append(data.strip("\n"))


def preview_text(html: str) -> str:
    parser = _PreviewText()
    parser.feed(html)
    return "\n\n".join(parser.blocks) + "\n"


def test_every_shipped_template_has_demo_answers_and_a_golden_text() -> None:
    shipped = sorted(p.name for p in PACKS.glob("*.json"))
    assert shipped == sorted(TEMPLATES)
    assert sorted(DEMO_ANSWERS) == sorted(TEMPLATES.values())


@pytest.mark.parametrize(("pack_name", "template"), sorted(TEMPLATES.items()))
def test_preview_matches_the_golden_text(pack_name: str, template: str) -> None:
    pack = Pack(pack_name, template)
    pins = tuple(Pin(cid, c.title, 1) for cid, c in pack.clauses.items())
    meta = DocumentMeta(
        title=f"{pack.template_title} (Demo)",
        client_reference="AZ 2026/0417",
        date=datetime.date(2026, 3, 2),
        template_title=pack.template_title,
        template_version=1,
        pins=pins,
    )
    evaluation = evaluate_contract(
        pack.structure, pack.questions, pack.clauses, DEMO_ANSWERS[template], {}, "DE", meta=meta
    )
    # the demo answers make a complete contract without a finding
    assert evaluation.validation_state == "valid", evaluation.completion_problems()
    assert evaluation.validation.violations == []
    document = evaluation.document
    text = preview_text(render(document))
    framed = "\n\n".join(
        ["\n".join(document.header), document.plain_text().rstrip("\n"), "\n".join(document.footer)]
    )
    assert text == framed + "\n"  # the preview shows exactly the document model
    path = GOLDEN / f"{template}.txt"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden text; review the preview and run with SERVANDA_UPDATE_GOLDEN=1: {path}"
    assert text == path.read_text(encoding="utf-8")
