"""Reads the embedded store keeps until its next write: listings, records, relations and
traversal counts.

Ladybug has no ordered index, so every page of a listing sorts the whole filtered table
again (count and page of 100 at 100k entities: ~33 ms; page 500 of 1,000: ~110 ms), and the
records and relations of a page of 100 with owners and dependencies take ~15 ms more. A
catalog is read far more often than it is written: the embedded store keeps what it read,
and serves it again until something is written. Only the embedded store may do this: it is
the only process that can write its file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")
# What get() returns for a key it does not hold (None may be a value: a ref nothing defines).
MISSING: Any = object()


def listing_key(clause: str, params: dict[str, Any], order: str) -> Hashable:
    """A hashable key of one filter and order (parameter lists become tuples)."""
    return (
        clause,
        order,
        tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())),
    )


class GenerationCache(Generic[V]):
    """Least-recently-used values, all valid for one store generation.

    The store's generation is odd while a write runs and moves on when it ends: a value read
    while a write ran is never kept, and a new generation drops everything.

    Args:
        budget: the most the values may weigh together.
        weight: a value's weight (1 each by default; a list's length for listings).
    """

    def __init__(self, budget: int, weight: Callable[[V], int] = lambda _: 1) -> None:
        self._budget = budget
        self._weight = weight
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._generation = 0
        self._used = 0

    def get(self, key: Hashable, generation: int) -> V:
        """The value of ``key`` read in ``generation``, or ``MISSING``."""
        if generation != self._generation:
            if generation > self._generation:
                self._clear(generation)
            return MISSING  # type: ignore[no-any-return]
        value = self._values.get(key, MISSING)
        if value is not MISSING:
            self._values.move_to_end(key)
        return value  # type: ignore[no-any-return]

    def put(self, key: Hashable, generation: int, value: V) -> None:
        """Keep ``value`` if it was read in the current generation, with no write running."""
        weight = self._weight(value)
        if generation % 2 or generation < self._generation or weight > self._budget:
            return
        if generation > self._generation:
            self._clear(generation)
        old = self._values.pop(key, MISSING)
        if old is not MISSING:
            self._used -= self._weight(old)
        self._values[key] = value
        self._used += weight
        while self._used > self._budget:
            _, dropped = self._values.popitem(last=False)
            self._used -= self._weight(dropped)

    def _clear(self, generation: int) -> None:
        self._values.clear()
        self._used = 0
        self._generation = generation
