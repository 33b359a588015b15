"""Match sets: the documents a query and each of its filters match, as bitmaps.

A bitmap is a Python int with one bit per document number (searchkit/ordering.py): sets are
combined with ``&`` and ``|`` and counted with ``bit_count()``, in C. The bitmaps of a query
and of each filter are kept (scoped by the reader generation, searchkit/cache.py): filters and
queries repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh import query
from whoosh.searching import Searcher

from .cache import Cache
from .options import Filters
from .ordering import bitmap, positions, segment_values
from .postings import Postings
from .queries import TitlePhrase

#: Bitmaps kept of queries and filters (filters repeat: topics, providers, quality...).
FILTER_CACHE_SIZE = 64


class Matches:
    """The documents a query and its filters match, as bitmaps, computed once per search.

    ``without(name)`` gives the matches of the query and every filter but ``name``: what a
    facet whose own filter is ``name`` counts over (the disjunctive rule). The query's own
    bitmap is made when first needed: a query ranked by relevance from its postings, without
    facets, never needs it (its ranking counts the matches, ``count``).
    """

    def __init__(
        self,
        searcher: Searcher,
        parsed: query.Query,
        filters: Filters,
        cache: Cache[Any, int],
        generation: int,
        postings: Postings,
    ) -> None:
        self.size = searcher.reader().doc_count_all()

        def bits(q: query.Query) -> int:
            return cache.get_or_put((generation, repr(q)), lambda: self._compute(searcher, q, postings))

        self._bits = bits
        self._parsed = parsed
        self._base: int | None = None
        self._all: int | None = None
        self._total: int | None = None
        self.filters = {name: bits(q) for name, q in filters.parts().items()}

    def _compute(self, searcher: Searcher, q: query.Query, postings: Postings) -> int:
        found = _range_from_column(searcher.reader(), q, self.size)
        return found if found is not None else _query_bits(searcher, q, self.size, postings)

    @property
    def base(self) -> int:
        """The documents the query matches, filters aside."""
        if self._base is None:
            self._base = self._bits(self._parsed)
        return self._base

    @property
    def total(self) -> int:
        """How many documents the query and every filter match."""
        if self._total is None:
            self._total = self.all().bit_count()
        return self._total

    def count(self, total: int) -> None:
        """Record how many documents match, counted by whoever listed them all."""
        self._total = total

    def all(self) -> int:
        """The documents the query and every filter match."""
        if self._all is None:
            self._all = self.without(None)
        return self._all

    def without(self, own: str | None) -> int:
        bits = self.base
        for name, filter_bits in self.filters.items():
            if name != own:
                bits &= filter_bits
        return bits

    def _filter_bits(self) -> int | None:
        if not self.filters:
            return None
        bits = -1
        for filter_bits in self.filters.values():
            bits &= filter_bits
        return bits

    def filter_set(self) -> set[int] | None:
        """The documents every filter allows, as Whoosh takes a filter (None: no filter)."""
        bits = self._filter_bits()
        return None if bits is None else set(positions(bits))

    def allowed(self) -> Callable[[int], bool] | None:
        """Whether every filter allows a document (None: no filter)."""
        bits = self._filter_bits()
        if bits is None:
            return None
        data = (bits & ((1 << self.size) - 1)).to_bytes((self.size + 7) // 8, "little")
        return lambda doc: bool(data[doc >> 3] >> (doc & 7) & 1)


def _range_from_column(reader: Any, q: query.Query, size: int) -> int | None:
    """The bitmap of a range filter on a sortable number or date (``--since``, ``--until``,
    ``--min-quality``, ``--min-heat``), read from the field's column; None for other queries.

    Whoosh runs a range over the indexed terms, enumerating every distinct value in it: about
    a second for two months of news, where a pass over the column takes milliseconds.
    Items without a value (0 in the column) never match.
    """
    if not isinstance(q, query.NumericRange) or q.startexcl or q.endexcl:
        return None
    if isinstance(q, query.DateRange):  # its bounds are already the column's numbers
        low, high = q.start, q.end
    else:
        field = reader.schema[q.fieldname]
        low = None if q.start is None else field.to_column_value(q.start)
        high = None if q.end is None else field.to_column_value(q.end)
    matched = []
    for segment, offset in reader.leaf_readers():
        matched += [
            offset + doc
            for doc, raw in enumerate(segment_values(segment, q.fieldname))
            if raw and (low is None or raw >= low) and (high is None or raw <= high)
        ]
    return bitmap(matched, size)


def _query_bits(searcher: Searcher, q: query.Query, size: int, postings: Postings) -> int:
    """The bitmap of the documents ``q`` matches.

    Whoosh's ``docs_for_query`` steps the query's matcher tree document by document, several
    Python calls per document at every OR and AND. Plain words (terms under ORs and ANDs) are
    read instead one postings list at a time and combined as bitmaps: about half the time for
    a two-word query. Other queries (phrases, ranges...) go through Whoosh.
    """
    kind = type(q)
    if kind is query.Term:
        return postings.bits(q.fieldname, q.text)
    if kind is query.Or and not getattr(q, "minmatch", 0) and q.subqueries:
        # The title-phrase clause matches a subset of what its words match.
        parts = [sub for sub in q.subqueries if not isinstance(sub, TitlePhrase)] or q.subqueries
        bits = 0
        for sub in parts:
            bits |= _query_bits(searcher, sub, size, postings)
        return bits
    if kind is query.And and q.subqueries:
        bits = -1
        for sub in q.subqueries:
            bits &= _query_bits(searcher, sub, size, postings)
            if not bits:
                break
        return bits
    return bitmap(searcher.docs_for_query(q), size)
