"""One page of a list query and the number of all its rows: every list endpoint's two statements.

The caller builds the filtered, ordered query; ``paginate`` counts its rows and reads the
requested page (``page`` starts at 1). The catalog answers its hot search in one statement
(a window count, content/catalog.py) and uses ``count_rows`` only past the last page.
Short lists assembled in Python (the review queue over both kinds, the platform's tenants)
page with ``page_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def count_rows(session: AsyncSession, query: Select[*tuple[Any, ...]]) -> int:
    """The number of rows ``query`` selects (its ORDER BY is dropped: it does not change the count)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return total or 0


async def paginate(session: AsyncSession, query: Select[T], page: int, page_size: int) -> tuple[list[T], int]:
    """The ``page``-th slice of ``page_size`` rows of an ordered one-entity query, and the total count."""
    total = await count_rows(session, query)
    rows = await session.scalars(query.offset((page - 1) * page_size).limit(page_size))
    return list(rows.all()), total


def page_of(items: Sequence[T], page: int, page_size: int) -> tuple[list[T], int]:
    """The ``page``-th slice of ``page_size`` items of a list built in memory, and its length."""
    start = (page - 1) * page_size
    return list(items[start : start + page_size]), len(items)
