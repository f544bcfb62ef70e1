"""A first-in first-out list for the few items a connection has waiting.

Lighter than `collections.deque`, whose empty instance already holds a
64-slot block (about 600 bytes): a server holds thousands of idle
connections, each with a queue or two that are empty nearly all the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

COMPACT_AFTER = 1024  # consumed items kept at the front before the list is shifted


class Backlog(Generic[T]):
    __slots__ = ("_head", "_items")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._head = 0  # index of the next item to take

    def __len__(self) -> int:
        return len(self._items) - self._head

    def __bool__(self) -> bool:
        return self._head < len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items[self._head :])

    def append(self, item: T) -> None:
        self._items.append(item)

    def extend(self, items: Iterable[T]) -> None:
        self._items.extend(items)

    def popleft(self) -> T:
        """The oldest item; IndexError when there is none."""
        item = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self.clear()
        elif self._head >= COMPACT_AFTER and 2 * self._head >= len(self._items):
            del self._items[: self._head]
            self._head = 0
        return item

    def clear(self) -> None:
        self._items.clear()
        self._head = 0
