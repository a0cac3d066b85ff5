"""A bounded per-process memo for values that never go stale under their key.

Several hot paths keep what they derived from immutable input (a published version's parsed
content, an evaluation under its complete input, a prepared DOCX style, a rendered statement) so
the next request does not derive it again. Each such memo is a plain dict that forgets its
oldest entry when full: no expiry and no invalidation, because a changed input is a new key.
What may be kept, and why it is safe, is said where each memo is declared.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """At most ``size`` entries; when full, the entry kept longest is dropped (insertion order).

    Not locked: callers in threads hold their own lock around ``get`` + ``put``.
    """

    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a memo holds at least one entry")
        self.size = size
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        if key not in entries and len(entries) >= self.size:
            del entries[next(iter(entries))]
        entries[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
