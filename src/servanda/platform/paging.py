"""One page of a list query and the number of all its rows: every list endpoint's two statements.

The caller builds the filtered, ordered query; ``paginate`` counts its rows and reads the
requested page (``page`` starts at 1). A page in the back half of the list is read from the
other end (the ORDER BY reversed, a short OFFSET, the rows turned around): an OFFSET makes
PostgreSQL walk every skipped row, so the last page would cost a walk over the whole list
(see docs/operations.md, "Scale data and benchmarks"). The audit log pages its whole trail by
its dense ``seq`` instead (audit/service.py). The catalog answers its hot search in one
statement (a window count, content/catalog.py) and uses ``count_rows`` only past the last page.
Short lists assembled in Python (the review queue over both kinds, the platform's tenants)
page with ``page_of``. A filter that visits every candidate row anyway (the contract search's
substring match) reads its page and total in one statement with ``paginate_counted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

T = TypeVar("T")


async def count_rows(session: AsyncSession, query: Select[*tuple[Any, ...]]) -> int:
    """The number of rows ``query`` selects (its ORDER BY is dropped: it does not change the count)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return total or 0


async def paginate(session: AsyncSession, query: Select[T], page: int, page_size: int) -> tuple[list[T], int]:
    """The ``page``-th slice of ``page_size`` rows of an ordered one-entity query, and the total count.

    Its ORDER BY must be a total order (end with a unique column) for pages read from the other
    end to be the same rows as read from the front.
    """
    total = await count_rows(session, query)
    offset = (page - 1) * page_size
    backwards = _reversed_order(query) if offset > total // 2 else None
    if backwards is None:
        rows = await session.scalars(query.offset(offset).limit(page_size))
        return list(rows.all()), total
    if offset >= total:
        return [], total
    count = min(page_size, total - offset)  # the page's rows, counted from the list's end
    tail = await session.scalars(
        query.order_by(None).order_by(*backwards).offset(total - offset - count).limit(count)
    )
    return list(reversed(tail.all())), total


async def paginate_counted(
    session: AsyncSession, query: Select[tuple[T]], page: int, page_size: int
) -> tuple[list[T], int]:
    """``paginate`` in one statement: the page's rows, each with a window count of all rows.

    For a filter whose plan visits every candidate row anyway (a substring search has no index
    to stop early on): the count and the page are one plan, one pass over the rows and one round
    trip instead of two of each. Not for long unfiltered lists: the window needs every row sorted
    before the first one is returned, where ``paginate`` reads a deep page from the other end.
    """
    offset = (page - 1) * page_size
    rows = (
        await session.execute(query.add_columns(func.count().over()).offset(offset).limit(page_size))
    ).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][1])
    # beyond the last page (or no rows at all): no row carries the count
    return [], await count_rows(session, query) if page > 1 else 0


def _reversed_order(query: Select[Any]) -> list[ColumnElement[Any]] | None:
    """``query``'s ORDER BY with every direction turned (NULLS FIRST/LAST follow), or None when
    there is none or a term carries explicit NULLS placement."""
    terms: list[ColumnElement[Any]] = []
    for term in query._order_by_clauses:
        if isinstance(term, UnaryExpression):
            if term.modifier is operators.desc_op:
                terms.append(term.element.asc())
            elif term.modifier is operators.asc_op:
                terms.append(term.element.desc())
            else:
                return None
        else:
            terms.append(term.desc())
    return terms or None


def page_of(items: Sequence[T], page: int, page_size: int) -> tuple[list[T], int]:
    """The ``page``-th slice of ``page_size`` items of a list built in memory, and its length."""
    start = (page - 1) * page_size
    return list(items[start : start + page_size]), len(items)
