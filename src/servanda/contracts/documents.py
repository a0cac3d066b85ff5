"""Public read side of the contracts module for the export: a contract's document from its pins.

The export never reads "latest": it evaluates the contract with the pure engine from exactly
the versions it pinned and its stored answers (the same evaluation the API and the live
preview use), so a completed contract renders the same document forever.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.contracts import repository
from servanda.contracts.evaluation import evaluate
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import load_pins
from servanda.engine.document import Document
from servanda.engine.rules import ValidationState
from servanda.identity.principal import Principal
from servanda.platform.orm import any_of


@dataclass(frozen=True)
class ContractDocument:
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str  # the contract's working title (download file names)
    client_reference: str | None
    status: str  # draft | completed | archived
    validation_state: ValidationState
    document: Document

    @property
    def draft(self) -> bool:
        return self.document.properties.draft


async def _document(session: AsyncSession, contract: ContractInstance) -> ContractDocument:
    pins = await load_pins(session, contract.template_version_id, list(contract.clause_version_ids))
    evaluation = evaluate(contract, pins)
    return ContractDocument(
        contract.id,
        contract.tenant_id,
        contract.title,
        contract.client_reference,
        contract.status,
        evaluation.validation_state,
        evaluation.document,
    )


@dataclass(frozen=True)
class ContractState:
    """What the export's preconditions need, as stored on the row (no evaluation)."""

    id: uuid.UUID
    status: str  # draft | completed | archived
    validation_state: str  # written with every change (evaluation.store_validation)
    draft: bool


async def visible_contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> ContractState:
    """The contract as ``principal`` sees it, else 404 ``contract.not_found`` (export preconditions)."""
    contract = await repository.contract(session, principal, contract_id)
    return ContractState(
        contract.id, contract.status, contract.validation_state, contract.completed_at is None
    )


async def contract_title(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    """The working title of a contract of the session's tenant (RLS), without evaluating it."""
    title: str | None = await session.scalar(
        select(ContractInstance.title).where(ContractInstance.id == contract_id)
    )
    return title


async def contract_document(session: AsyncSession, contract_id: uuid.UUID) -> ContractDocument | None:
    """The contract of the session's tenant (RLS) by id, for the export worker (no principal)."""
    contract = await session.get(ContractInstance, contract_id)
    return None if contract is None else await _document(session, contract)


def visible_contract_ids(principal: Principal) -> Select[Any]:
    """The ids of the contracts ``principal`` sees: a subquery for filters of other modules' rows
    (export jobs are visible exactly when their contract is)."""
    return repository.visible_contracts(principal, select(ContractInstance.id))


async def visible_ids(
    session: AsyncSession, principal: Principal, contract_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``contract_ids`` ``principal`` sees (batch export preconditions), in one query."""
    if not contract_ids:
        return set()
    query = visible_contract_ids(principal).where(any_of(ContractInstance.id, contract_ids))
    return set((await session.scalars(query)).all())
