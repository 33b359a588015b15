"""Faceted counts over every item a search matches, with the disjunctive rule.

Whoosh's own facets rebuild a per-document list of values on every search (see
benchmarks/README.md); here each facet value's documents are a bitmap (a Python int, one bit
per document number), built once per index segment and kept until the segment goes away. A
search then costs one pass over its matching documents to make their bitmap, and per value
one AND and one popcount, both in C.

Facets and the filter each one ignores (its "own" filter, so that a UI can offer OR-selection
within a facet): ``topics``/``--topic``, ``provider``/``--provider``, ``category``/
``--category``, ``type``/``--type``, ``year`` and ``month``/``--since`` and ``--until``,
``quality``/``--min-quality``, ``heat``/``--min-heat``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .errors import QueryError
from .models import Facet, FacetCount
from .ordering import bitmap, segment_id
from .schema import FACET_LABEL_KINDS

#: Facet names, in the order they are documented.
FACETS = ("topics", "provider", "category", "type", "year", "month", "quality", "heat")

#: The filter each facet ignores when it is counted (see the module docstring).
OWN_FILTER = {"topics": "topics", "provider": "providers", "category": "category",
              "type": "type", "year": "dates", "month": "dates", "quality": "min_quality",
              "heat": "min_heat"}

#: Quality buckets: (label, lowest, highest) inclusive.
QUALITY_BUCKETS = (("0-19", None, 19), ("20-39", 20, 39), ("40-59", 40, 59), ("60-79", 60, 79),
                   ("80-100", 80, None))

#: Heat buckets; a negative heat (the feed's -1) is the bucket "none".
HEAT_BUCKETS = (("none", None, -1), ("0-9", 0, 9), ("10-99", 10, 99), ("100-999", 100, 999),
                ("1000+", 1000, None))

_TERM_FIELDS = {"topics": "topic", "provider": "provider_exact", "category": "category",
                "type": "type"}


def check_facet_names(names: Iterable[str]) -> tuple[str, ...]:
    """Validate facet names, keeping their order and dropping repeats."""
    result: list[str] = []
    for name in names:
        if name not in FACETS:
            raise QueryError(f"invalid facet {name!r}: choose from {', '.join(FACETS)}")
        if name not in result:
            result.append(name)
    return tuple(result)


class FacetCache:
    """Per-segment value bitmaps, kept across searches and index refreshes.

    Segments are immutable once written (deletions only hide documents, and deleted documents
    never match), so a segment's bitmaps stay valid for as long as the segment exists.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._segments: dict[tuple[str, str], dict[str, int]] = {}
        self._labels: dict[tuple[tuple[str, int], ...], dict[str, dict[str, str]]] = {}

    def value_bitmaps(self, reader: Any, facet: str) -> dict[str, int]:
        """value -> bitmap of global document numbers, for one facet over the whole reader."""
        combined: dict[str, int] = {}
        live = set()
        for segment, offset in reader.leaf_readers():
            key = (segment_id(segment), facet)
            live.add(key)
            with self._lock:
                maps = self._segments.get(key)
            if maps is None:
                maps = _segment_bitmaps(segment, facet)
                with self._lock:
                    self._segments[key] = maps
            for value, bits in maps.items():
                combined[value] = combined.get(value, 0) | (bits << offset)
        self._forget_except(live, facet)
        return combined

    def _forget_except(self, live: set[tuple[str, str]], facet: str) -> None:
        with self._lock:
            for key in [k for k in self._segments if k[1] == facet and k not in live]:
                del self._segments[key]

    def labels(self, reader: Any) -> dict[str, dict[str, str]]:
        """facet -> (normalised value -> the spelling most items use).

        Items are counted live: Whoosh's ``doc_frequency`` still counts deleted documents until
        their segment is merged, which kept a deleted item's spelling on show.
        """
        # A segment's live count changes with its deletions, which keep its id.
        key = tuple((segment_id(segment), segment.doc_count())
                    for segment, _ in reader.leaf_readers())
        with self._lock:
            cached = self._labels.get(key)
        if cached is not None:
            return cached
        best: dict[str, dict[str, tuple[int, str]]] = {}
        kind_to_facet = {FACET_LABEL_KINDS[field]: facet for facet, field in _TERM_FIELDS.items()}
        if "labels" in reader.schema and reader.doc_count_all():
            for raw in reader.lexicon("labels"):
                text = raw.decode("utf-8")
                kind, _, value = text.partition(":")
                facet = kind_to_facet.get(kind)
                if facet is None:
                    continue
                frequency = (sum(1 for _ in reader.postings("labels", raw).all_ids())
                             if reader.has_deletions() else reader.doc_frequency("labels", text))
                if not frequency:
                    continue
                norm = value.casefold()
                current = best.setdefault(facet, {}).get(norm)
                if current is None or frequency > current[0]:
                    best[facet][norm] = (frequency, value)
        result = {facet: {norm: pair[1] for norm, pair in values.items()}
                  for facet, values in best.items()}
        with self._lock:
            self._labels = {key: result}
        return result


def count_facets(
    reader: Any,
    cache: FacetCache,
    names: Iterable[str],
    match_bits: Callable[[str | None], int],
    limit: int,
) -> dict[str, Facet]:
    """Count ``names`` over the matching items.

    ``match_bits(own_filter)`` returns the bitmap of items that match the query and every filter
    except ``own_filter`` (None: every filter).
    """
    labels = cache.labels(reader)
    result = {}
    for name in names:
        matched = match_bits(OWN_FILTER[name])
        maps = cache.value_bitmaps(reader, name)
        counts = []
        covered = 0
        for value, bits in maps.items():
            both = matched & bits
            if both:
                covered |= both
                counts.append(FacetCount(labels.get(name, {}).get(value, value),
                                         both.bit_count()))
        counts.sort(key=lambda fc: (-fc.count, fc.value))
        missing = (matched & ~covered).bit_count()
        result[name] = Facet(name=name, values=tuple(counts[:limit]),
                             other=max(len(counts) - limit, 0), missing=missing)
    return result


def _segment_bitmaps(segment: Any, facet: str) -> dict[str, int]:
    """value -> bitmap of this segment's (local) document numbers."""
    size = segment.doc_count_all()
    if not size:
        return {}
    field = _TERM_FIELDS.get(facet)
    if field is not None:
        maps = {}
        if field in segment.schema and segment.indexed_field_names().__contains__(field):
            for raw in segment.lexicon(field):
                value = raw.decode("utf-8")
                maps[value] = bitmap(segment.postings(field, raw).all_ids(), size)
        return maps
    docs: dict[str, list[int]] = {}
    if facet in ("year", "month"):
        for docnum, value in _column(segment, "published_at"):
            when = segment.schema["published_at"].from_column_value(value)
            when = when.replace(tzinfo=timezone.utc) if isinstance(when, datetime) else when
            label = f"{when.year:04d}" if facet == "year" else f"{when.year:04d}-{when.month:02d}"
            docs.setdefault(label, []).append(docnum)
    else:
        buckets = QUALITY_BUCKETS if facet == "quality" else HEAT_BUCKETS
        field_obj = segment.schema[facet]
        for docnum, value in _column(segment, facet):
            number = field_obj.from_column_value(value)
            label = _bucket(number, buckets)
            if label is not None:
                docs.setdefault(label, []).append(docnum)
    return {label: bitmap(nums, size) for label, nums in docs.items()}


def _column(segment: Any, field: str) -> Iterable[tuple[int, Any]]:
    """(docnum, raw column value) for documents that have a value (not the column default)."""
    if not segment.has_column(field):
        return
    column = segment.column_reader(field, translate=False)
    missing = segment.schema[field].column_type.default_value()
    for docnum in range(segment.doc_count_all()):
        raw = column[docnum]
        if raw != missing:
            yield docnum, raw


def _bucket(number: int, buckets: tuple[tuple[str, int | None, int | None], ...]) -> str | None:
    for label, low, high in buckets:
        if (low is None or number >= low) and (high is None or number <= high):
            return label
    return None
