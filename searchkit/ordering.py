"""Sort orders kept between searches, and bitmap helpers for match sets.

Whoosh sorts a result set by calling a Python key function for every matching document on
every search. Here each field sort (newest, oldest, quality, heat) is computed once per set of
index segments, as the list of all document numbers in that order, and a search picks its page
from it: by walking the order and keeping documents in the match set when the set is large,
or by ranking just the matching documents when it is small.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from typing import Any

#: Field sorts this module orders by (relevance is ordered by score).
FIELD_SORTS = ("newest", "oldest", "quality", "heat")


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


def segments_key(reader: Any) -> tuple[str, ...]:
    """Identifies a set of segments (deletions aside): the key of everything cached per set."""
    keys = []
    for segment, _offset in reader.leaf_readers():
        seg = segment.segment() if callable(getattr(segment, "segment", None)) else None
        keys.append(seg.segment_id() if seg is not None else str(id(segment)))
    return tuple(keys)


class OrderCache:
    """All document numbers in each field-sort order, per set of segments."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, ...] | None = None
        self._orders: dict[str, list[int]] = {}
        self._ranks: dict[str, list[int]] = {}

    def order(self, reader: Any, sort: str) -> list[int]:
        """Every document number of ``reader`` (deleted ones too) in ``sort`` order."""
        key = segments_key(reader)
        with self._lock:
            if key != self._key:
                self._key, self._orders, self._ranks = key, {}, {}
            order = self._orders.get(sort)
        if order is None:
            order = _compute_order(reader, sort)
            with self._lock:
                if key == self._key:
                    self._orders[sort] = order
        return order

    def rank(self, reader: Any, sort: str) -> list[int]:
        """rank[docnum] = the document's position in ``sort`` order."""
        order = self.order(reader, sort)
        with self._lock:
            ranks = self._ranks.get(sort)
        if ranks is None:
            ranks = [0] * len(order)
            for position, docnum in enumerate(order):
                ranks[docnum] = position
            with self._lock:
                self._ranks[sort] = ranks
        return ranks

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


def _compute_order(reader: Any, sort: str) -> list[int]:
    keyed: list[tuple[Any, ...]] = []
    for segment, offset in reader.leaf_readers():
        size = segment.doc_count_all()
        if not size or not segment.has_column("id"):
            continue
        ids = segment.column_reader("id")
        dates = _raw(segment, "published_at")
        if sort == "newest":
            keyed += [(d == 0, -d, ids[n], offset + n) for n, d in enumerate(dates)]
        elif sort == "oldest":
            keyed += [(d == 0, d, ids[n], offset + n) for n, d in enumerate(dates)]
        else:
            values = _raw(segment, sort)
            keyed += [(v == 0, -v, dates[n] == 0, -dates[n], ids[n], offset + n)
                      for n, v in enumerate(values)]
    keyed.sort()
    return [entry[-1] for entry in keyed]


def _raw(segment: Any, field: str) -> list[int]:
    """Raw column values of every document of a segment (0 where the document has none)."""
    size = segment.doc_count_all()
    if not segment.has_column(field):
        return [0] * size
    column = segment.column_reader(field, translate=False)
    return [column[n] for n in range(size)]
