"""Sort orders kept between searches, column values, and bitmap helpers for match sets.

Whoosh sorts a result set by calling a Python key function for every matching document on
every search. Here each field sort (newest, oldest, quality, heat) is computed once per state
of the index, as the list of all document numbers in that order, and a search picks its page
from it: by walking the order and keeping documents in the match set when the set is large,
or by ranking just the matching documents when it is small.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .cache import Cache, IndexCaches
from .models import IndexInfo, parse_datetime
from .options import SORTS
from .schema import F
from .whoosh_internals.postings import column_values

#: Field sorts this module orders by (relevance is ordered by score).
FIELD_SORTS = tuple(sort for sort in SORTS if sort != "relevance")

#: Segments whose item ids are kept for the sort orders: those of a few states of the index.
SEGMENT_IDS_CACHE_SIZE = 64


def bitmap(docnums: Iterable[int], size: int) -> int:
    """The set of ``docnums`` (all below ``size``) as an int with those bits set."""
    bits = bytearray((size + 7) // 8)
    for docnum in docnums:
        bits[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(bits, "little")


def positions(bits: int) -> list[int]:
    """The document numbers in a bitmap, ascending."""
    result = []
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for index, byte in enumerate(data):
        if byte:
            base = index << 3
            for bit in range(8):
                if byte >> bit & 1:
                    result.append(base + bit)
    return result


def segment_id(segment: Any) -> str:
    """Identifies one segment reader's segment (deletions aside)."""
    seg = segment.segment() if callable(getattr(segment, "segment", None)) else None
    return seg.segment_id() if seg is not None else str(id(segment))


def segments_key(reader: Any) -> tuple[str, ...]:
    """Identifies a set of segments (deletions aside): the key of everything cached per set."""
    return tuple(segment_id(segment) for segment, _offset in reader.leaf_readers())


class OrderCache:
    """All document numbers in each field-sort order, per state of the index (``IndexCaches``
    generation)."""

    def __init__(self, caches: IndexCaches) -> None:
        self._caches = caches
        self._keyed: Cache[tuple[int, str], list[tuple[Any, ...]]] = caches.cache(len(FIELD_SORTS))
        self._orders: Cache[tuple[int, str], list[int]] = caches.cache(len(FIELD_SORTS))
        self._ranks: Cache[tuple[int, str], list[int]] = caches.cache(len(FIELD_SORTS))
        # Scoped by segment: after a commit, only a new segment's ids are read (one call into
        # Whoosh's column reader per document, most of the time of an order).
        self._item_ids: Cache[tuple[str], list[str]] = caches.cache(SEGMENT_IDS_CACHE_SIZE)

    def segment_ids(self, segment: Any) -> list[str]:
        """The item id of each document of ``segment`` (deleted ones too), kept per segment."""

        def read() -> list[str]:
            ids = segment.column_reader(F.ID)
            return [ids[n] for n in range(segment.doc_count_all())]

        return self._item_ids.get_or_put((segment_id(segment),), read)

    def keyed(self, reader: Any, sort: str) -> list[tuple[Any, ...]]:
        """Every document's sort key in ``sort`` order, its document number last: the keys
        without it are the cursors' (searchkit/cursors.py), independent of document numbers."""
        return self._keyed.get_or_put(
            (self._caches.generation, sort), lambda: _compute_order(reader, sort, self.segment_ids)
        )

    def order(self, reader: Any, sort: str) -> list[int]:
        """Every document number of ``reader`` (deleted ones too) in ``sort`` order."""
        return self._orders.get_or_put(
            (self._caches.generation, sort), lambda: [entry[-1] for entry in self.keyed(reader, sort)]
        )

    def key(self, reader: Any, sort: str, doc: int) -> tuple[Any, ...]:
        """The cursor key of ``doc`` in a field sort."""
        return self.keyed(reader, sort)[self.rank(reader, sort)[doc]][:-1]

    def after(self, reader: Any, sort: str, matched: int, key: Sequence[Any], count: int) -> list[int]:
        """The first ``count`` documents of bitmap ``matched`` whose key comes after ``key``
        (a cursor's), in order: found by bisection, then walked; the cost does not depend on
        how deep ``key`` is."""
        keyed = self.keyed(reader, sort)
        order = self.order(reader, sort)
        start = bisect.bisect_right(keyed, (*key, math.inf))
        data = matched.to_bytes((len(order) + 7) // 8, "little")
        result = []
        for docnum in order[start:]:
            if data[docnum >> 3] >> (docnum & 7) & 1:
                result.append(docnum)
                if len(result) == count:
                    break
        return result

    def rank(self, reader: Any, sort: str) -> list[int]:
        """rank[docnum] = the document's position in ``sort`` order."""

        def compute() -> list[int]:
            order = self.order(reader, sort)
            ranks = [0] * len(order)
            for position, docnum in enumerate(order):
                ranks[docnum] = position
            return ranks

        return self._ranks.get_or_put((self._caches.generation, sort), compute)

    def newest_key(self, reader: Any, docs: list[int]) -> Callable[[int], Any]:
        """A key that orders ``docs`` newest first, as ``order(reader, "newest")`` does.

        Uses the cached order when there is one; otherwise reads the few documents' values from
        the columns, so that a one-off search (a CLI process) does not sort the whole index.
        """
        cached = (self._caches.generation, "newest") in self._orders
        if cached or len(docs) * 8 > reader.doc_count_all():
            return self.rank(reader, "newest").__getitem__
        dates = raw_values(reader, F.PUBLISHED_AT, docs)
        shared = Counter(dates.values())
        keys = {}
        for doc, date in dates.items():
            # The id breaks ties of dates; read (from the stored fields: opening the id column
            # reads an offset per document) only where two dates are the same.
            ident = reader.stored_fields(doc)[F.ID] if shared[date] > 1 else ""
            keys[doc] = _newest_key(date, ident, doc)
        return keys.__getitem__

    def top(self, reader: Any, sort: str, matched: int, total: int, count: int) -> list[int]:
        """The first ``count`` documents of bitmap ``matched`` (``total`` of them) in order."""
        order = self.order(reader, sort)
        if total * 8 < len(order):
            ranks = self.rank(reader, sort)
            return heapq.nsmallest(count, positions(matched), key=ranks.__getitem__)
        data = matched.to_bytes((len(order) + 7) // 8, "little")
        result = []
        for docnum in order:
            if data[docnum >> 3] >> (docnum & 7) & 1:
                result.append(docnum)
                if len(result) == count:
                    break
        return result


def newest_of(reader: Any, doc: int) -> tuple[bool, int, str]:
    """(undated, -date, id) of one document: the "newest" key without its document number."""
    date = raw_values(reader, F.PUBLISHED_AT, [doc])[doc]
    return _newest_key(date, reader.stored_fields(doc)[F.ID], doc)[:-1]


def _compute_order(reader: Any, sort: str, segment_ids: Callable[[Any], list[str]]) -> list[tuple[Any, ...]]:
    keyed: list[tuple[Any, ...]] = []
    for segment, offset in reader.leaf_readers():
        size = segment.doc_count_all()
        if not size or not segment.has_column(F.ID):
            continue
        ids = segment_ids(segment)
        dates = segment_values(segment, F.PUBLISHED_AT)
        if sort == "newest":
            keyed += [_newest_key(d, ids[n], offset + n) for n, d in enumerate(dates)]
        elif sort == "oldest":
            keyed += [(d == 0, d, ids[n], offset + n) for n, d in enumerate(dates)]
        else:
            values = segment_values(segment, sort)
            keyed += [
                (v == 0, -v, dates[n] == 0, -dates[n], ids[n], offset + n) for n, v in enumerate(values)
            ]
    keyed.sort()
    return keyed


def _newest_key(date: int, ident: str, docnum: int) -> tuple[bool, int, str, int]:
    """The "newest" order of a document with raw date ``date`` (0: undated, last) and ``ident``:
    ties of dates by id, then by document number."""
    return (date == 0, -date, ident, docnum)


def raw_values(reader: Any, field: str, docs: Iterable[int]) -> dict[int, int]:
    """Raw column values of a few documents (0 where a document has none). Per segment:
    Whoosh's multi-segment column reader misplaces documents when a segment lacks the column."""
    leaves = [
        (offset, offset + segment.doc_count_all(), segment) for segment, offset in reader.leaf_readers()
    ]
    columns: dict[int, Any] = {}
    values = {}
    for doc in docs:
        for start, end, segment in leaves:
            if start <= doc < end:
                if start not in columns:
                    columns[start] = (
                        segment.column_reader(field, translate=False) if segment.has_column(field) else None
                    )
                column = columns[start]
                values[doc] = column[doc - start] if column is not None else 0
                break
    return values


def segment_values(segment: Any, field: str) -> list[int]:
    """Raw column values of every document of a segment (0 where the document has none)."""
    size = segment.doc_count_all()
    if not segment.has_column(field):
        return [0] * size
    return column_values(segment.column_reader(field, translate=False), size)


def undated_values(schema: Any) -> frozenset[int]:
    """Raw ``published_at`` column values that mean "no date"."""
    field = schema[F.PUBLISHED_AT]
    return frozenset({0, field.column_type.default_value()})


def dates(reader: Any) -> list[datetime]:
    """The publication time of every live item that has one (UTC).

    Raw values are compared with the column's "no date" values before translating: the
    default of an undated item is not a representable datetime.
    """
    field = reader.schema[F.PUBLISHED_AT]
    missing = undated_values(reader.schema)
    found = []
    for segment, _offset in reader.leaf_readers():
        raw = segment_values(segment, F.PUBLISHED_AT)
        for docnum in segment.all_doc_ids():
            if raw[docnum] not in missing:
                found.append(field.from_column_value(raw[docnum]).replace(tzinfo=timezone.utc))
    return found


def index_info(
    index_dir: str, gen: Path, meta: Mapping[str, Any], reader: Any, pivots: Mapping[str, float | None]
) -> IndexInfo:
    """``info``: the number of items, the size on disk, the date range and what the index's
    metadata says of its last update and corpus."""
    found = dates(reader) if reader.doc_count() else []
    updated = meta.get("updated")
    return IndexInfo(
        index_dir=index_dir,
        documents=reader.doc_count(),
        size_bytes=sum(p.stat().st_size for p in gen.iterdir() if p.is_file()),
        oldest=min(found, default=None),
        newest=max(found, default=None),
        last_update=parse_datetime(updated) if updated else None,
        corpus=meta.get("corpus"),
        pivots=dict(pivots),
    )
