"""Base models of every module's request and response bodies (camelCase on the wire).

Pydantic only, no web framework: schemas of every business module derive from
these, and the OpenAPI document names them.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    """A response body (or part of one): snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class ApiInput(ApiModel):
    """A request body: unknown members are refused (422), not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Page(ApiModel, Generic[T]):
    """One page of a list: the items, the total count of matches, the page number and size."""

    items: list[T]
    total: int
    page: int
    page_size: int
