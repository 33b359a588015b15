"""A worker's cache of search answers, kept per commit of the index.

A search server answers the same requests again and again (a front page, a popular query,
the next page of one), and on an index that does not change each answer is the same. Like
Elasticsearch's shard request cache, which is dropped on each refresh, an answer is kept under
the request's parameters (as parsed: defaults filled in, so that ``?q=oil`` and
``?q=oil&page=1`` are one entry) and the commit the index is at (``SearchIndex.commit_id``:
the generation folder and Whoosh's commit number, read from file names). Any commit, by the
watcher, by ``searchkit index`` in another process or by a rebuild, names a new commit, and
the answers of the old one are never looked up again; the least recently used go first.

The commit is read before the search runs, and the search sees that commit or a later one: a
kept answer is never older than what the search would give at the time of the request. An
answer that depends on the clock is not kept: a span back from now (``since=7d``, ``as_of=1d``),
recency without ``as_of`` (ages count from now), and a query that names the date field
(``date:yesterday``).

The budget is in slots of ``SLOT_BYTES``: an answer takes one slot per started ``SLOT_BYTES``
of its JSON and its parameters (most searches, ten hits with snippets, take one or two), and
answers larger than the whole budget are not kept. ``searchkit serve --cache-size N`` sets the slots of each
worker (``CACHE_SIZE``: 1,024, 16 MB at most), and 0 turns the cache off.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from ..cache import Cache
from ..options import counts_from_now
from ..queries import names_a_date

#: Slots of each worker's cache by default (``--cache-size``).
CACHE_SIZE = 1024

#: The share of the budget one slot stands for, in bytes of JSON.
SLOT_BYTES = 16 * 1024


def slots(size: int) -> int:
    """The slots ``size`` bytes take: one per started ``SLOT_BYTES``."""
    return max(1, -(-size // SLOT_BYTES))


class AnswerCache:
    """JSON answers by (endpoint, commit, parameters), least recently used first out, within
    ``size`` slots (an answer's JSON and its key's parameters counted); a size of 0 keeps
    nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: Cache[Hashable, tuple[bytes, int]] = Cache(size, weigh=lambda kept: kept[1])

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def get(self, key: Hashable) -> bytes | None:
        kept = self._answers.touch(key) if self.size > 0 else None
        return None if kept is None else kept[0]

    def put(self, key: Hashable, body: bytes) -> None:
        taken = slots(len(body) + len(repr(key)))
        if taken <= self.size:
            self._answers.put(key, (body, taken))

    def __len__(self) -> int:
        return len(self._answers)


def cache_key(path: str, commit: str, arguments: Mapping[str, Any]) -> Hashable | None:
    """The key of an answer: the endpoint, the commit and the parsed parameters; None when the
    answer depends on the clock and must not be kept (module docstring)."""
    if _reads_the_clock(arguments):
        return None
    return (path, commit, tuple(sorted((name, _frozen(value)) for name, value in arguments.items())))


def _reads_the_clock(arguments: Mapping[str, Any]) -> bool:
    if arguments.get("recency") is not None and arguments.get("as_of") is None:
        return True
    if any(counts_from_now(arguments.get(name)) for name in ("since", "until", "as_of")):
        return True
    query = arguments.get("query")
    return isinstance(query, str) and names_a_date(query)


def _frozen(value: Any) -> Hashable:
    return tuple(value) if isinstance(value, list) else value
