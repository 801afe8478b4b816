"""When parked connections expire: a heap keyed by `time.monotonic()`, never scanned.

Each item carries a generation, `park_gen`. Setting a deadline bumps it, and so does unparking the item
(the dispatcher's `_unpark`, one attribute write on a hot path): the heap entry of an earlier deadline
stays where it is and is recognised as stale (its generation no longer matches) when it reaches the top.
So a park costs one O(log n) push, and expiry looks only at entries whose time has come, never at all
the parked connections (cheroot scans every one on each tick).

Main thread only (the dispatcher's), like the selector.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Any

__all__ = ["Deadlines"]


class Deadlines:
    """The deadlines of parked connections and TLS handshakes (anything with an int `park_gen`)."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()  # tie-breaker: items do not compare

    def set(self, item: Any, when: float) -> None:
        """`item` expires at `when` (monotonic seconds); any earlier deadline of it no longer counts."""
        item.park_gen += 1
        heapq.heappush(self._heap, (when, next(self._seq), item.park_gen, item))

    def first(self) -> float | None:
        """The earliest deadline, or None; it may be a stale one (waking for it early is harmless)."""
        return self._heap[0][0] if self._heap else None

    def expired(self, now: float) -> Iterator[Any]:
        """Take out and yield each item whose deadline is `now` or earlier (stale entries are dropped)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, generation, item = heapq.heappop(heap)
            if generation == item.park_gen:
                yield item
