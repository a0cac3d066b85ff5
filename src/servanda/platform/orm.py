"""Declarative base and column conventions shared by every module's models."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, MetaData, all_, any_, bindparam, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Text

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        list[str]: ARRAY(Text),
    }


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))


def created_at() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


def updated_at() -> Mapped[datetime]:
    return mapped_column(server_default=func.now(), onupdate=func.now())


def jsonb_object() -> Mapped[dict[str, Any]]:
    return mapped_column(server_default=text("'{}'::jsonb"))


def jsonb_list() -> Mapped[list[Any]]:
    return mapped_column(server_default=text("'[]'::jsonb"))


def text_array() -> Mapped[list[str]]:
    return mapped_column(server_default=text("'{}'::text[]"))


def any_of(column: Any, values: Iterable[Any] = (), *, key: str | None = None) -> ColumnElement[bool]:
    """``column = ANY(:values)`` with the values bound as one array (``key``: a named parameter
    of a statement built once, its values given at execution).

    An ``IN`` list is rendered with one placeholder per value, so every length is another
    statement text: psycopg prepares each text separately per connection (PostgreSQL keeps a plan
    for each), and the number of texts grows with the data (clauses of a template, users on a
    page). One array parameter keeps it one text; PostgreSQL uses the same index for it.
    """
    matches: ColumnElement[bool] = column == any_(_array(column, values, key))
    return matches


def none_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column <> ALL(:values)``: the negation of :func:`any_of`, one statement text likewise
    (an empty list excludes nothing)."""
    excluded: ColumnElement[bool] = column != all_(_array(column, values, None))
    return excluded


def _array(column: Any, values: Iterable[Any], key: str | None) -> Any:
    if key is not None:
        return bindparam(key, type_=ARRAY(column.type))
    return bindparam(None, list(values), type_=ARRAY(column.type))
