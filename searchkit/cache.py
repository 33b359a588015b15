"""The one cache facility: bounded maps, and the rule that keeps what an index gave valid.

``Cache`` is a bounded map shared by threads. Reads are plain dict reads (they cost what a dict
lookup costs, which matters in the analyzer's per-word loop); ``put`` stores under a lock and
evicts the oldest entries past the limit, counted in entries or by a weight per value;
``touch`` marks an entry recently used, for caches that evict the least recently used.

``IndexCaches`` holds the caches of what one index gave (sort orders, facet bitmaps, filter
bitmaps, length normalisations, related-item data), with one rule for staying valid after a
commit. Every key starts with its *scope*:

- a segment id (a ``str``): for what one segment gave. Segments never change once written
  (a deletion only hides documents, and hidden documents never match), so such an entry stays
  valid for as long as the segment is part of the index;
- the reader generation (an ``int``): for what the whole state of the index gave. The reader
  bumps it each time it moves to a new commit.

``advance(live_segments)`` runs when the reader moves to a new commit: it bumps the generation
and drops every entry whose scope is neither the new generation nor a live segment. Caches of
what does not depend on the index (a word's analysis) are plain ``Cache`` objects.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Cache(OrderedDict[K, V], Generic[K, V]):
    """A bounded map: at most ``limit`` entries, or values of at most ``limit`` total
    ``weigh(value)``; the oldest (or least recently ``touch``-ed) go first."""

    def __init__(self, limit: int, *, weigh: Callable[[V], int] | None = None) -> None:
        super().__init__()
        self.limit = limit
        self._weigh = weigh
        self._total_weight = 0
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (replacing an entry, which keeps its place) and return
        it."""
        weigh = self._weigh
        with self._lock:
            if weigh is None:
                if key not in self:
                    self._total_weight += 1
            else:
                old = self.get(key)
                if old is not None:
                    self._total_weight -= weigh(old)
                self._total_weight += weigh(value)
            self[key] = value
            while self._total_weight > self.limit and len(self) > 1:
                _, evicted = self.popitem(last=False)
                self._total_weight -= weigh(evicted) if weigh else 1
        return value

    def get_or_put(self, key: K, compute: Callable[[], V]) -> V:
        """The value under ``key``, computed and stored first if there is none."""
        value = self.get(key)
        if value is None:
            value = self.put(key, compute())
        return value

    def touch(self, key: K) -> V | None:
        """The value under ``key`` (None if none), marked as the most recently used."""
        value = self.get(key)
        if value is not None:
            with self._lock:
                if key in self:
                    self.move_to_end(key)
        return value

    def retain(self, keep: Callable[[K], bool]) -> None:
        """Drop every entry whose key ``keep`` rejects."""
        weigh = self._weigh
        with self._lock:
            for key in [key for key in self if not keep(key)]:
                value = self.pop(key)
                self._total_weight -= weigh(value) if weigh else 1

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self._total_weight = 0


class IndexCaches:
    """The caches of what one index gave, and their one invalidation rule (module docstring)."""

    def __init__(self) -> None:
        self.generation = 0
        self._caches: list[Cache[Any, Any]] = []

    def cache(self, limit: int, *, weigh: Callable[[Any], int] | None = None) -> Cache[Any, Any]:
        """A new cache under the rule: each of its keys is a tuple whose first element is the
        entry's scope (a segment id, or ``generation``)."""
        cache: Cache[Any, Any] = Cache(limit, weigh=weigh)
        self._caches.append(cache)
        return cache

    def advance(self, live_segments: Iterable[str]) -> None:
        """The reader moved to a new commit: a new generation, and only the entries of the
        segments still live are kept."""
        self.generation += 1
        live = set(live_segments)

        def keep(key: Any) -> bool:
            return key[0] in live

        for cache in self._caches:
            cache.retain(keep)

    def clear(self) -> None:
        """Drop everything (the reader closed its searcher)."""
        for cache in self._caches:
            cache.clear()
