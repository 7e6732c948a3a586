"""Ordered ref lists of recent entity filters, kept until the next write.

Ladybug has no ordered index: every page of a listing sorts the whole filtered table again
(count and page of 100 at 100k entities: ~33 ms; page 500 of 1,000: ~110 ms). A catalog is
read far more often than it is written, so the embedded store sorts a filter's refs once and
serves every page, and the count, as a slice of that list until something is written. Only
the embedded store may do this: it is the only process that can write its file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

# About 75 bytes a ref: the whole budget is ~75 MB.
MAX_CACHED_REFS = 1_000_000


def listing_key(clause: str, params: dict[str, Any], order: str) -> Hashable:
    """A hashable key of one filter and order (parameter lists become tuples)."""
    return (
        clause,
        order,
        tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())),
    )


class Listings:
    """Least-recently-used ordered ref lists, each valid for one store generation.

    The store's generation is odd while a write runs and moves on when it ends; a list read
    while a write ran, or before the last one, is never served.
    """

    def __init__(self, max_refs: int = MAX_CACHED_REFS) -> None:
        self._max_refs = max_refs
        self._lists: OrderedDict[Hashable, tuple[int, list[str]]] = OrderedDict()
        self._size = 0

    def get(self, key: Hashable, generation: int) -> list[str] | None:
        found = self._lists.get(key)
        if found is None:
            return None
        if found[0] != generation:
            self._drop(key)
            return None
        self._lists.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, generation: int, refs: list[str]) -> None:
        if generation % 2 or len(refs) > self._max_refs:
            return
        if key in self._lists:
            self._drop(key)
        self._lists[key] = (generation, refs)
        self._size += len(refs)
        while self._size > self._max_refs:
            self._drop(next(iter(self._lists)))

    def _drop(self, key: Hashable) -> None:
        _, refs = self._lists.pop(key)
        self._size -= len(refs)
