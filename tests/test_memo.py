"""The bounded per-process memo (platform/memo.py) and a memo read across an await."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from servanda.content import published
from servanda.platform.memo import Memo


def test_the_entry_kept_longest_goes_first_when_full() -> None:
    memo: Memo[str, int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("c", 3)
    assert "a" not in memo
    assert (memo.get("b"), memo.get("c"), len(memo)) == (2, 3, 2)


def test_replacing_a_kept_key_drops_nothing_else() -> None:
    memo: Memo[str, int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("b", 20)
    assert (memo.get("a"), memo.get("b"), len(memo)) == (1, 20, 2)


def test_a_memo_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Memo(0)


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)


class _EvictingSession:
    """Answers pinned_versions' statements; while the heavy clause query is out, another request
    (simulated) fills the memo so far that every entry read before the await is evicted."""

    def __init__(self, light: list[Any], heavy: list[Any]) -> None:
        self.light, self.heavy, self.calls = light, heavy, 0

    async def execute(self, statement: Any, params: Any = None) -> _Rows:
        self.calls += 1
        if self.calls == 1:
            return _Rows(self.light)
        for _ in range(published._CONTENT.size):
            published._CONTENT.put(uuid.uuid4(), ("other", {}, [], None))
        return _Rows(self.heavy)


def test_pinned_content_read_before_an_await_survives_eviction_during_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(published, "_CONTENT", Memo(8))
    tv, kept, fetched = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    published._CONTENT.put(tv, ({"slots": []}, []))
    published._CONTENT.put(kept, ("Kept text", {}, [], "Kept"))

    def light(kind: str, vid: uuid.UUID, title: str) -> SimpleNamespace:
        return SimpleNamespace(
            kind=kind,
            id=vid,
            parent_id=uuid.uuid4(),
            version_number=1,
            status="published",
            title=title,
            jurisdiction="DE" if kind == "t" else None,
            current_published_version_id=vid if kind == "t" else None,
        )

    session = _EvictingSession(
        [light("t", tv, "Vertrag"), light("c", kept, "Kept"), light("c", fetched, "Fetched")],
        [SimpleNamespace(id=fetched, content="Fetched text", parameters={}, rules=[], heading="F")],
    )
    found = asyncio.run(published.pinned_versions(session, tv, [kept, fetched]))  # type: ignore[arg-type]
    assert found is not None
    _, _, clauses = found
    assert [c.version.content for c in clauses] == ["Kept text", "Fetched text"]
    assert session.calls == 2  # the template version came from the memo, one heavy query
