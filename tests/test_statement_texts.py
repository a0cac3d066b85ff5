"""A list of ids is bound as one array: the statement text does not depend on its length.

An ``IN`` list is rendered with one placeholder per value, so each length was another statement
text. psycopg prepares every text separately on each connection (after its 5th execution there)
and PostgreSQL keeps a plan per prepared statement, so the texts a connection collects grew with
the data (clauses per template, users on a list page) and so did each backend's memory
(docs/operations.md, "Connection budget"). ``platform.orm.any_of`` binds the list as one array.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from servanda.content import published
from servanda.identity.repository import UserRepository
from servanda.platform.db import Database
from tests.conftest import DbUnderTest


@pytest.fixture
def texts() -> Iterator[list[str]]:
    captured: list[str] = []

    def capture(_conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "set_config" not in sql:
            captured.append(sql)

    event.listen(Engine, "before_cursor_execute", capture)
    yield captured
    event.remove(Engine, "before_cursor_execute", capture)


def test_a_list_of_ids_is_one_statement_text_whatever_its_length(
    clean_db: DbUnderTest, texts: list[str]
) -> None:
    sent: dict[int, list[str]] = {}

    async def run() -> None:
        db = Database(clean_db.app, pool_size=1)
        try:
            for n in (1, 3, 7):
                ids = [uuid.uuid4() for _ in range(n)]
                texts.clear()
                async with db.session(None) as session:
                    await published.pinned_versions(session, uuid.uuid4(), ids)
                    await published.current_clause_versions(session, ids)
                    await UserRepository(session).display_names(set(ids))
                    await UserRepository(session).contacts(set(ids))
                    await UserRepository(session).reviewers(set(ids), page=1, page_size=10)
                sent[n] = list(texts)
        finally:
            await db.dispose()

    asyncio.run(run())
    assert len(sent[1]) == 6, sent[1]  # the reviewers: a page and its count
    assert sent[1] == sent[3] == sent[7]
    assert all(("ANY (" in sql or "ALL (" in sql) and "id IN (" not in sql for sql in sent[1]), sent[1]
