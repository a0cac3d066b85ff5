"""platform/paging: the reversed ORDER BY that reads a deep page from the list's other end."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql

from servanda.audit.models import AuditEvent
from servanda.contracts.models import ContractInstance
from servanda.platform.paging import _reversed_order


def _sql(terms: list[ColumnElement[Any]]) -> str:
    query = select(ContractInstance.id).order_by(*terms)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(query.compile(dialect=dialect)).split("ORDER BY ")[1]


def test_every_direction_turns_and_nulls_follow_it() -> None:
    query = select(ContractInstance).order_by(
        ContractInstance.updated_at.desc(), func.lower(ContractInstance.title), ContractInstance.id.asc()
    )
    reversed_terms = _reversed_order(query)
    assert reversed_terms is not None
    # DESC (nulls first) <-> ASC (nulls last): the exact reverse of the original order
    assert _sql(reversed_terms) == "contracts.updated_at ASC, lower(contracts.title) DESC, contracts.id DESC"


def test_explicit_nulls_placement_or_no_order_keeps_the_offset() -> None:
    history = select(AuditEvent).order_by(AuditEvent.created_at.desc().nulls_last(), AuditEvent.id)
    assert _reversed_order(history) is None
    assert _reversed_order(select(AuditEvent)) is None
