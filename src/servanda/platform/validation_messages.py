"""Request validation messages for people: German, English when the client asks for it.

FastAPI reports invalid requests with pydantic's English texts ("Field
required", "Input should be ..."). The HTTP adapter (``platform/problems.py``)
renders each error with :func:`message` instead, chosen by the pydantic error
``type`` (never by its English ``msg``), in the language :func:`language` picks
from ``Accept-Language`` (German unless English is preferred).

Validators of our own request models raise :class:`InputError` (a ``ValueError``
carrying both languages); the engine's shape validators, which may not import
the platform, raise their own ``ValueError`` subclass with the same ``de`` and
``en`` attributes. Pure: no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

Language = Literal["de", "en"]
DEFAULT_LANGUAGE: Language = "de"
SUPPORTED: tuple[Language, ...] = ("de", "en")


class InputError(ValueError):
    """A validator's refusal in both languages; ``str()`` is the English text (pydantic's ``msg``)."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(en)
        self.de = de
        self.en = en


def language(accept_language: str | None) -> Language:
    """The language to answer in: the supported one with the highest quality in ``Accept-Language``
    (RFC 9110: ``en-US;q=0.8, de;q=0.5``; ``q=0`` means "not acceptable", ``*`` means any, so German);
    German when the header is missing, malformed or names only other languages. Ties go to the
    earlier entry."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for entry in (accept_language or "").split(","):
        tag, *parameters = entry.strip().split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        chosen: Language | None = DEFAULT_LANGUAGE if primary == "*" else None
        for supported in SUPPORTED:
            if primary == supported:
                chosen = supported
        if chosen is not None and quality > best_q:
            best, best_q = chosen, quality
    return best


# pydantic error type -> (German, English); ``{name}`` is filled from the error's ``ctx``.
MESSAGES: dict[str, tuple[str, str]] = {
    # presence and shape of the body
    "missing": ("Pflichtfeld fehlt.", "Field required."),
    "extra_forbidden": ("Dieses Feld ist nicht vorgesehen.", "This field is not allowed."),
    "json_invalid": (
        "Der Anfragetext ist kein gültiges JSON.",
        "The request body is not valid JSON.",
    ),
    "json_type": ("Erwartet wird JSON-Text.", "JSON text is expected."),
    "model_type": ("Muss ein Objekt sein.", "Must be an object."),
    "model_attributes_type": ("Muss ein Objekt sein.", "Must be an object."),
    "dataclass_type": ("Muss ein Objekt sein.", "Must be an object."),
    "dataclass_exact_type": ("Muss ein Objekt sein.", "Must be an object."),
    "dict_type": ("Muss ein Objekt sein.", "Must be an object."),
    "mapping_type": ("Muss ein Objekt sein.", "Must be an object."),
    "ordered_dict_type": ("Muss ein Objekt sein.", "Must be an object."),
    "frozen_dict_type": ("Muss ein Objekt sein.", "Must be an object."),
    "counter_type": ("Muss ein Objekt sein.", "Must be an object."),
    "named_tuple_type": ("Muss eine Liste sein.", "Must be a list."),
    "list_type": ("Muss eine Liste sein.", "Must be a list."),
    "tuple_type": ("Muss eine Liste sein.", "Must be a list."),
    "set_type": ("Muss eine Liste sein.", "Must be a list."),
    "frozen_set_type": ("Muss eine Liste sein.", "Must be a list."),
    "deque_type": ("Muss eine Liste sein.", "Must be a list."),
    "iterable_type": ("Muss eine Liste sein.", "Must be a list."),
    "iteration_error": ("Die Liste kann nicht gelesen werden.", "The list cannot be read."),
    "set_item_not_hashable": (
        "Die Liste enthält einen ungültigen Eintrag.",
        "The list contains an invalid item.",
    ),
    "invalid_key": ("Ungültiger Schlüssel.", "Invalid key."),
    "none_required": ("Muss leer (null) sein.", "Must be null."),
    "too_short": (
        "Muss mindestens {min_length} Einträge haben.",
        "Must have at least {min_length} items.",
    ),
    "too_long": (
        "Darf höchstens {max_length} Einträge haben.",
        "Must have at most {max_length} items.",
    ),
    # texts
    "string_type": ("Muss ein Text sein.", "Must be a string."),
    "string_unicode": ("Muss gültiger Unicode-Text sein.", "Must be a valid Unicode string."),
    "string_not_ascii": ("Darf nur ASCII-Zeichen enthalten.", "Must contain only ASCII characters."),
    "string_too_short": (
        "Muss mindestens {min_length} Zeichen lang sein.",
        "Must be at least {min_length} characters long.",
    ),
    "string_too_long": (
        "Darf höchstens {max_length} Zeichen lang sein.",
        "Must be at most {max_length} characters long.",
    ),
    "string_pattern_mismatch": ("Hat nicht das erwartete Format.", "Does not have the expected format."),
    "bytes_type": ("Muss ein Text sein.", "Must be a string."),
    "bytes_too_short": (
        "Muss mindestens {min_length} Bytes lang sein.",
        "Must be at least {min_length} bytes long.",
    ),
    "bytes_too_long": (
        "Darf höchstens {max_length} Bytes lang sein.",
        "Must be at most {max_length} bytes long.",
    ),
    "bytes_invalid_encoding": ("Ungültige Kodierung.", "Invalid encoding."),
    # choices
    "literal_error": ("Erlaubte Werte: {expected}.", "Allowed values: {expected}."),
    "enum": ("Erlaubte Werte: {expected}.", "Allowed values: {expected}."),
    "union_tag_invalid": (
        "Unbekannter Typ {tag}; erlaubte Werte: {expected_tags}.",
        "Unknown type {tag}; allowed values: {expected_tags}.",
    ),
    "union_tag_not_found": ("Das Feld {discriminator} fehlt.", "The field {discriminator} is missing."),
    # identifiers, numbers, yes/no
    "uuid_type": ("Muss eine gültige UUID sein.", "Must be a valid UUID."),
    "uuid_parsing": ("Muss eine gültige UUID sein.", "Must be a valid UUID."),
    "uuid_version": (
        "Muss eine UUID der Version {expected_version} sein.",
        "Must be a version {expected_version} UUID.",
    ),
    "int_type": ("Muss eine ganze Zahl sein.", "Must be an integer."),
    "int_parsing": ("Muss eine ganze Zahl sein.", "Must be an integer."),
    "int_from_float": ("Muss eine ganze Zahl sein.", "Must be an integer."),
    "int_parsing_size": ("Die Zahl ist zu groß.", "The number is too large."),
    "float_type": ("Muss eine Zahl sein.", "Must be a number."),
    "float_parsing": ("Muss eine Zahl sein.", "Must be a number."),
    "finite_number": ("Muss eine endliche Zahl sein.", "Must be a finite number."),
    "decimal_type": ("Muss eine Zahl sein.", "Must be a number."),
    "decimal_parsing": ("Muss eine Zahl sein.", "Must be a number."),
    "decimal_max_digits": (
        "Darf höchstens {max_digits} Ziffern haben.",
        "Must have at most {max_digits} digits.",
    ),
    "decimal_max_places": (
        "Darf höchstens {decimal_places} Nachkommastellen haben.",
        "Must have at most {decimal_places} decimal places.",
    ),
    "decimal_whole_digits": (
        "Darf höchstens {whole_digits} Stellen vor dem Komma haben.",
        "Must have at most {whole_digits} digits before the decimal point.",
    ),
    "fraction_type": ("Muss eine Zahl sein.", "Must be a number."),
    "fraction_parsing": ("Muss eine Zahl sein.", "Must be a number."),
    "complex_type": ("Muss eine Zahl sein.", "Must be a number."),
    "complex_str_parsing": ("Muss eine Zahl sein.", "Must be a number."),
    "greater_than": ("Muss größer als {gt} sein.", "Must be greater than {gt}."),
    "greater_than_equal": ("Muss mindestens {ge} sein.", "Must be at least {ge}."),
    "less_than": ("Muss kleiner als {lt} sein.", "Must be less than {lt}."),
    "less_than_equal": ("Darf höchstens {le} sein.", "Must be at most {le}."),
    "multiple_of": ("Muss ein Vielfaches von {multiple_of} sein.", "Must be a multiple of {multiple_of}."),
    "bool_type": ("Muss true oder false sein.", "Must be true or false."),
    "bool_parsing": ("Muss true oder false sein.", "Must be true or false."),
    # dates and times
    "date_type": ("Muss ein gültiges Datum sein.", "Must be a valid date."),
    "date_parsing": ("Muss ein gültiges Datum sein.", "Must be a valid date."),
    "date_from_datetime_parsing": ("Muss ein gültiges Datum sein.", "Must be a valid date."),
    "date_from_datetime_inexact": (
        "Muss ein Datum ohne Uhrzeit sein.",
        "Must be a date without a time of day.",
    ),
    "date_past": ("Muss in der Vergangenheit liegen.", "Must be in the past."),
    "date_future": ("Muss in der Zukunft liegen.", "Must be in the future."),
    "time_type": ("Muss eine gültige Uhrzeit sein.", "Must be a valid time."),
    "time_parsing": ("Muss eine gültige Uhrzeit sein.", "Must be a valid time."),
    "datetime_type": ("Muss ein gültiger Zeitpunkt sein.", "Must be a valid date and time."),
    "datetime_parsing": ("Muss ein gültiger Zeitpunkt sein.", "Must be a valid date and time."),
    "datetime_object_invalid": ("Muss ein gültiger Zeitpunkt sein.", "Must be a valid date and time."),
    "datetime_from_date_parsing": ("Muss ein gültiger Zeitpunkt sein.", "Must be a valid date and time."),
    "datetime_past": ("Muss in der Vergangenheit liegen.", "Must be in the past."),
    "datetime_future": ("Muss in der Zukunft liegen.", "Must be in the future."),
    "timezone_naive": ("Darf keine Zeitzone enthalten.", "Must not include a time zone."),
    "timezone_aware": ("Muss eine Zeitzone enthalten.", "Must include a time zone."),
    "timezone_offset": ("Hat die falsche Zeitzone.", "Has the wrong time zone offset."),
    "time_delta_type": ("Muss eine gültige Dauer sein.", "Must be a valid duration."),
    "time_delta_parsing": ("Muss eine gültige Dauer sein.", "Must be a valid duration."),
    # addresses
    "url_type": ("Muss eine gültige URL sein.", "Must be a valid URL."),
    "url_parsing": ("Muss eine gültige URL sein.", "Must be a valid URL."),
    "url_syntax_violation": ("Muss eine gültige URL sein.", "Must be a valid URL."),
    "url_too_long": (
        "Die URL darf höchstens {max_length} Zeichen lang sein.",
        "The URL must be at most {max_length} characters long.",
    ),
    "url_scheme": ("Die URL muss mit {expected_schemes} beginnen.", "The URL must use {expected_schemes}."),
    # our own validators (InputError) and anything else a validator refuses
    "value_error": ("Der Wert ist ungültig.", "The value is invalid."),
    "assertion_error": ("Der Wert ist ungültig.", "The value is invalid."),
    "is_instance_of": ("Der Wert hat den falschen Typ.", "The value has the wrong type."),
    "is_subclass_of": ("Der Wert hat den falschen Typ.", "The value has the wrong type."),
    "callable_type": ("Der Wert hat den falschen Typ.", "The value has the wrong type."),
    "missing_sentinel_error": ("Der Wert ist ungültig.", "The value is invalid."),
    "ellipsis_error": ("Der Wert ist ungültig.", "The value is invalid."),
}
FALLBACK = ("Der Wert ist ungültig.", "The value is invalid.")

# pydantic error types no request can cause (schema building, Python-side calls, frozen models,
# recursion guards): they fall back to FALLBACK. tests/test_validation_messages.py checks that
# every other type pydantic knows is in MESSAGES.
NOT_FROM_REQUESTS = frozenset(
    {
        "no_such_attribute",
        "needs_python_object",
        "recursion_loop",
        "recursion_depth_exceeded",
        "frozen_field",
        "frozen_instance",
        "get_attribute_error",
        "default_factory_not_called",
        "arguments_type",
        "missing_argument",
        "unexpected_keyword_argument",
        "missing_keyword_only_argument",
        "unexpected_positional_argument",
        "missing_positional_only_argument",
        "multiple_argument_values",
    }
)

# value errors of libraries (pydantic's EmailStr, FastAPI's UploadFile), known by their text
KNOWN_VALUE_ERRORS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (
        re.compile(r"^value is not a valid email address", re.IGNORECASE),
        ("Muss eine gültige E-Mail-Adresse sein.", "Must be a valid e-mail address."),
    ),
    (
        re.compile(r"^(Value error, )?Expected UploadFile", re.IGNORECASE),
        ("Muss eine hochgeladene Datei sein.", "Must be an uploaded file."),
    ),
)
_OR = re.compile(r" or (?=[^,]*$)")  # pydantic lists choices as "'a', 'b' or 'c'"


def message(error: Mapping[str, Any], lang: Language = DEFAULT_LANGUAGE) -> str:
    """The message for one pydantic error (an item of ``ValidationError.errors()``) in ``lang``."""
    kind = str(error.get("type", ""))
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    index = 0 if lang == "de" else 1
    if kind == "value_error":
        raised = ctx.get("error")
        if isinstance(raised, ValueError) and isinstance(getattr(raised, "de", None), str):
            return str(getattr(raised, "de" if lang == "de" else "en"))
        for pattern, texts in KNOWN_VALUE_ERRORS:
            if pattern.match(str(error.get("msg", ""))):
                return texts[index]
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return ("Darf nicht leer sein.", "Must not be empty.")[index]
    if kind == "too_long" and ctx.get("max_length") == 1:
        return ("Darf höchstens einen Eintrag haben.", "Must have at most one item.")[index]
    if kind in ("literal_error", "enum", "union_tag_invalid") and lang == "de":
        for key in ("expected", "expected_tags"):
            if key in ctx:
                ctx[key] = _OR.sub(" oder ", str(ctx[key]))
    template = MESSAGES.get(kind, FALLBACK)[index]
    try:
        return template.format_map({k: str(v) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):  # a context member pydantic did not give
        return FALLBACK[index]
