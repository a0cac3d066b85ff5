"""German formatting of answer and parameter values (engine.md "Rendering"), through Babel.

number ``1.234,5``; currency ``10.000,00 EUR``; date ``01.04.2026``; yes_no ``ja``/``nein``;
single choice → the option's text (its ``insertText``, else its label); multiple choice → those
texts joined "A, B und C".
Values that do not fit their type (an old snapshot, a bad default) fall back to ``str`` rather
than failing the whole document.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from babel.dates import format_date as babel_format_date
from babel.lists import format_list
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal

from servanda.engine.shapes import Option

LOCALE = "de_DE"
DEFAULT_CURRENCY = "EUR"
# Babel's de pattern would give "10.000,00 €" with a no-break space; the spec shows the ISO
# code after a normal space. "¤¤" is the code; currency_digits=False keeps exactly two decimals.
_CURRENCY_PATTERN = "#,##0.00 ¤¤"
_DECIMAL = re.compile(r"^-?\d{1,30}(\.\d{1,30})?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TYPED_AMOUNT = re.compile(r"^-?[0-9.,]{1,40}$")
_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def to_amount(value: Any) -> Decimal | None:
    """A JSON number, ``Decimal`` or plain decimal string (``"1234.5"``) as ``Decimal``, else ``None``."""
    if isinstance(value, bool):  # an int subclass, but not a number here
        return None
    if isinstance(value, float):
        # repr() is the shortest decimal that round-trips, so 10.1 stays 10.1.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        return Decimal(value.strip())
    return None


def parse_date(value: Any) -> datetime.date | None:
    """An ISO ``YYYY-MM-DD`` string (or a ``date``) as ``date``, else ``None``."""
    if isinstance(value, datetime.datetime):
        return None
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def parse_amount_input(value: Any) -> Decimal | None:
    """An amount as a user or client types it: ``4.500,00`` and ``4500,5`` (German, through Babel)
    as well as ``4500.00`` and JSON numbers; ``None`` when it is neither.

    A string is read as German first (strict grouping: ``4.500`` is four thousand five
    hundred), then as a plain decimal with a point (``4500.50``). Mixed forms such as
    ``1,234.56`` are refused rather than guessed.
    """
    if not isinstance(value, str):
        return to_amount(value)
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    if not _TYPED_AMOUNT.match(text):  # digits, separators and a sign only (no "1e3")
        return None
    try:
        amount = parse_decimal(text, locale=LOCALE, strict=True)
    except (NumberFormatError, ValueError):
        return to_amount(text)
    return amount if amount.is_finite() else None


def parse_date_input(value: Any) -> datetime.date | None:
    """A date as a user or client types it: ``01.01.2027``, ``1.1.2027`` or ISO ``2027-01-01``."""
    if isinstance(value, str):
        german = _GERMAN_DATE.match(value.strip())
        if german:
            day, month, year = (int(part) for part in german.groups())
            try:
                return datetime.date(year, month, day)
            except ValueError:
                return None
        return parse_date(value.strip())
    return parse_date(value)


def format_number(value: Any) -> str:
    amount = to_amount(value)
    if amount is None:
        return str(value)
    # decimal_quantization=False: show every given decimal instead of rounding to three.
    return _normalise_spaces(format_decimal(amount, locale=LOCALE, decimal_quantization=False))


def format_money(value: Any, currency: str = DEFAULT_CURRENCY) -> str:
    amount = to_amount(value)
    if amount is None:
        return str(value)
    text = format_currency(amount, currency, format=_CURRENCY_PATTERN, locale=LOCALE, currency_digits=False)
    return _normalise_spaces(text)


def format_date(value: Any) -> str:
    day = parse_date(value)
    if day is None:
        return str(value)
    return babel_format_date(day, format="dd.MM.yyyy", locale=LOCALE)


def format_yes_no(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nein"
    return str(value)


def currency_code(options: Sequence[Option] | Mapping[str, Any] | None) -> str:
    code = options.get("currency") if isinstance(options, Mapping) else None
    return code if isinstance(code, str) and _CURRENCY_CODE.match(code) else DEFAULT_CURRENCY


def option_label(options: Sequence[Option] | Mapping[str, Any] | None, value: Any) -> str:
    if isinstance(options, list):
        for option in options:
            if option.value == value:
                return str(option.label)
    return str(value)


def option_text(options: Sequence[Option] | Mapping[str, Any] | None, value: Any) -> str:
    """What the document inserts for a choice: the option's ``insertText``, else its label."""
    if isinstance(options, list):
        for option in options:
            if option.value == value:
                return str(option.text)
    return str(value)


def join_labels(labels: Sequence[str]) -> str:
    """ "A", "A und B", "A, B und C" """
    return str(format_list(list(labels), locale=LOCALE)) if labels else ""


def format_value(kind: str, value: Any, options: Sequence[Option] | Mapping[str, Any] | None = None) -> str:
    """``value`` of a question or parameter of type ``kind`` as German text ("" for ``None``)."""
    if value is None:
        return ""
    match kind:
        case "number" | "currency" | "date":
            currency = currency_code(options) if kind == "currency" else ""
            key = _value_key(value)
            if key is None:
                return _format_scalar(kind, value, currency)
            return _format_cached(kind, key, value, currency)
        case "yes_no":
            return format_yes_no(value)
        case "single_choice":
            return option_text(options, value)
        case "multiple_choice":
            if isinstance(value, list):
                return join_labels([option_text(options, v) for v in value])
            return option_text(options, value)
    return str(value)


def _format_scalar(kind: str, value: Any, currency: str) -> str:
    if kind == "number":
        return format_number(value)
    if kind == "currency":
        return format_money(value, currency)
    return format_date(value)


def _value_key(value: Any) -> tuple[type, Any] | None:
    """A key under which equal values format identically, or None (not cached).

    The type is part of it (``True == 1``); a float by its repr (``-0.0 == 0.0``); Decimals are
    not cached at all (``Decimal("1.0") == Decimal("1.00")`` but they show different decimals).
    """
    if isinstance(value, (str, bool, int)):
        return type(value), value
    if isinstance(value, float):
        return float, repr(value)
    return None


@functools.lru_cache(maxsize=8192)
def _format_cached(kind: str, key: tuple[type, Any], value: Any, currency: str) -> str:
    # ``value`` is the first one seen for ``key``: every value with this key formats the same.
    return _format_scalar(kind, value, currency)


def _normalise_spaces(text: str) -> str:
    # CLDR data uses no-break and narrow no-break spaces; the document wants plain text that
    # reads the same in every export format.
    return text.replace("\u00a0", " ").replace("\u202f", " ")
