"""Base models of every module's request and response bodies (camelCase on the wire).

Pydantic only, no web framework: schemas of every business module derive from
these, and the OpenAPI document names them.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

T = TypeVar("T")

API_PREFIX = "/api/v1"  # every route and every link in a body starts with it


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


class _AsStored:
    """Answer a value as it is, documented in OpenAPI as its declared type (see ``Stored``)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=handler(source),  # what the OpenAPI document names
            python_schema=core_schema.any_schema(),  # built by the server: not validated again
            serialization=core_schema.simple_ser_schema("any"),  # written as it is
        )


# JSON the server wrote itself and answers unchanged: authored shapes as stored (their compact
# form leaves out unset members, which a model would write as null), or a view the engine built
# as plain JSON. The OpenAPI document describes it as ``T``; tests/test_api_fuzz.py checks every
# answer against that description.
Stored = Annotated[T, _AsStored()]
