"""List parameters shared by every list endpoint: ``?page=1&pageSize=25`` (at most 100)."""

from typing import Annotated

from fastapi import Query

PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=100)]
