"""German formatting through Babel (engine.md "Rendering")."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from servanda.engine import formatting
from servanda.engine.formatting import format_value, join_labels
from servanda.engine.shapes import Option

OPTIONS = [
    Option(value="a", label="Alpha"),
    Option(value="b", label="Beta"),
    Option(value="c", label="Gamma"),
]


@pytest.mark.parametrize(
    ("kind", "value", "opts", "expected"),
    [
        ("number", 1234.5, None, "1.234,5"),
        ("number", 1000000, None, "1.000.000"),
        ("number", 0.125, None, "0,125"),
        ("number", Decimal("-3.75"), None, "-3,75"),
        ("currency", "10000.00", None, "10.000,00 EUR"),
        ("currency", "0.50", None, "0,50 EUR"),
        ("currency", 1234567, None, "1.234.567,00 EUR"),
        ("currency", "2500.00", {"currency": "CHF"}, "2.500,00 CHF"),
        ("currency", "1.00", {"currency": "nonsense"}, "1,00 EUR"),
        ("date", "2026-04-01", None, "01.04.2026"),
        ("date", datetime.date(2026, 12, 31), None, "31.12.2026"),
        ("yes_no", True, None, "ja"),
        ("yes_no", False, None, "nein"),
        ("single_choice", "b", OPTIONS, "Beta"),
        ("single_choice", "unbekannt", OPTIONS, "unbekannt"),
        ("multiple_choice", ["a", "b", "c"], OPTIONS, "Alpha, Beta und Gamma"),
        ("multiple_choice", ["a", "c"], OPTIONS, "Alpha und Gamma"),
        ("multiple_choice", ["b"], OPTIONS, "Beta"),
        ("text", "Muster GmbH", None, "Muster GmbH"),
        ("text", None, None, ""),
    ],
)
def test_format_value(kind: str, value: Any, opts: Any, expected: str) -> None:
    assert format_value(kind, value, opts) == expected


def test_currency_uses_a_normal_space() -> None:
    text = format_value("currency", "10000.00")
    assert "\u00a0" not in text and "\u202f" not in text and text.endswith(" EUR")


def test_values_that_do_not_fit_fall_back_to_text() -> None:
    assert format_value("number", "viel") == "viel"
    assert format_value("date", "morgen") == "morgen"
    assert format_value("yes_no", "vielleicht") == "vielleicht"


def test_join_labels() -> None:
    assert join_labels([]) == ""
    assert join_labels(["A"]) == "A"
    assert join_labels(["A", "B"]) == "A und B"
    assert join_labels(["A", "B", "C"]) == "A, B und C"


@pytest.mark.parametrize("kind", ["number", "currency", "date"])
def test_cached_formatting_tells_apart_values_that_compare_equal(kind: str) -> None:
    # 0.0 == -0.0, 1 == True == 1.0 and Decimal("1.0") == Decimal("1.00"), yet each shows differently;
    # whichever comes first must not decide how the others are shown.
    values = [0.0, -0.0, 1, True, 1.0, Decimal("1.0"), Decimal("1.00"), "1", "2026-04-01", 2.5, "2.50"]
    for ordering in (values, list(reversed(values))):
        formatting._format_cached.cache_clear()
        for value in ordering:
            expected = formatting._format_scalar(kind, value, "EUR" if kind == "currency" else "")
            assert format_value(kind, value, {"currency": "EUR"}) == expected, value
    assert format_value("number", -0.0) != format_value("number", 0.0)
