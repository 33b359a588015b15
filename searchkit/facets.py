"""Faceted counts over every item a search matches, with the disjunctive rule.

Whoosh's own facets rebuild a per-document list of values on every search (see
benchmarks/README.md); here each facet value's documents are a bitmap (a Python int, one bit
per document number), built once per index segment and kept until the segment goes away. A
search then costs one pass over its matching documents to make their bitmap, and per value
one AND and one popcount, both in C.

What each facet counts, and the filter it ignores (its "own" filter, so that a UI can offer
OR-selection within a facet), is its entry in ``options.FACETS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from .cache import Cache, IndexCaches
from .models import Facet, FacetCount
from .options import FACETS, Bucket, FacetKind, FacetSpec
from .ordering import bitmap, segment_id
from .schema import FACET_LABEL_KINDS, F

#: Label kind (schema.FACET_LABEL_KINDS) -> the facet that shows its spellings.
_FACET_OF_LABEL_KIND = {
    FACET_LABEL_KINDS[spec.field]: spec.name
    for spec in FACETS
    if spec.kind is FacetKind.TERMS and spec.field in FACET_LABEL_KINDS
}


class FacetCounter:
    """Counts facets; keeps each segment's value bitmaps (valid while the segment lives, see
    searchkit/cache.py) and the spellings of the values of the index's current state."""

    def __init__(self, caches: IndexCaches) -> None:
        self._caches = caches
        self._segments: Cache[tuple[str, str], dict[str, int]] = caches.cache(1024)
        self._labels: Cache[tuple[int], dict[str, dict[str, str]]] = caches.cache(1)

    def value_bitmaps(self, reader: Any, spec: FacetSpec) -> dict[str, int]:
        """value -> bitmap of global document numbers, for one facet over the whole reader."""
        combined: dict[str, int] = {}
        for segment, offset in reader.leaf_readers():
            maps = self._segments.get_or_put(
                (segment_id(segment), spec.name), partial(_segment_bitmaps, segment, spec)
            )
            for value, bits in maps.items():
                combined[value] = combined.get(value, 0) | (bits << offset)
        return combined

    def labels(self, reader: Any) -> dict[str, dict[str, str]]:
        """facet -> (normalised value -> the spelling most items use).

        Items are counted live: Whoosh's ``doc_frequency`` still counts deleted documents until
        their segment is merged, which kept a deleted item's spelling on show.
        """
        return self._labels.get_or_put((self._caches.generation,), lambda: _labels(reader))

    def count(
        self, reader: Any, specs: Iterable[FacetSpec], match_bits: Callable[[str | None], int], limit: int
    ) -> dict[str, Facet]:
        """Count the facets ``specs`` over the matching items.

        ``match_bits(own_filter)`` returns the bitmap of items that match the query and every
        filter except ``own_filter`` (None: every filter).
        """
        labels = self.labels(reader)
        result = {}
        for spec in specs:
            matched = match_bits(spec.own_filter)
            counts = []
            covered = 0
            spellings = labels.get(spec.name, {})
            for value, bits in self.value_bitmaps(reader, spec).items():
                both = matched & bits
                if both:
                    covered |= both
                    counts.append(FacetCount(spellings.get(value, value), both.bit_count()))
            counts.sort(key=lambda fc: (-fc.count, fc.value))
            missing = (matched & ~covered).bit_count()
            result[spec.name] = Facet(
                name=spec.name,
                values=tuple(counts[:limit]),
                other=max(len(counts) - limit, 0),
                missing=missing,
            )
        return result


def _labels(reader: Any) -> dict[str, dict[str, str]]:
    best: dict[str, dict[str, tuple[int, str]]] = {}
    if F.LABELS in reader.schema and reader.doc_count_all():
        for raw in reader.lexicon(F.LABELS):
            text = raw.decode("utf-8")
            kind, _, value = text.partition(":")
            facet = _FACET_OF_LABEL_KIND.get(kind)
            if facet is None:
                continue
            frequency = (
                sum(1 for _ in reader.postings(F.LABELS, raw).all_ids())
                if reader.has_deletions()
                else reader.doc_frequency(F.LABELS, text)
            )
            if not frequency:
                continue
            norm = value.casefold()
            current = best.setdefault(facet, {}).get(norm)
            if current is None or frequency > current[0]:
                best[facet][norm] = (frequency, value)
    return {facet: {norm: pair[1] for norm, pair in values.items()} for facet, values in best.items()}


def _segment_bitmaps(segment: Any, spec: FacetSpec) -> dict[str, int]:
    """value -> bitmap of this segment's (local) document numbers."""
    size = segment.doc_count_all()
    if not size:
        return {}
    field = spec.field
    if spec.kind is FacetKind.TERMS:
        maps = {}
        if field in segment.schema and field in segment.indexed_field_names():
            for raw in segment.lexicon(field):
                value = raw.decode("utf-8")
                maps[value] = bitmap(segment.postings(field, raw).all_ids(), size)
        return maps
    docs: dict[str, list[int]] = {}
    field_obj = segment.schema[field]
    if spec.kind in (FacetKind.YEAR, FacetKind.MONTH):
        for docnum, value in _column(segment, field):
            when = field_obj.from_column_value(value)
            when = when.replace(tzinfo=timezone.utc) if isinstance(when, datetime) else when
            label = f"{when.year:04d}" if spec.kind is FacetKind.YEAR else f"{when.year:04d}-{when.month:02d}"
            docs.setdefault(label, []).append(docnum)
    else:
        for docnum, value in _column(segment, field):
            bucket = _bucket(field_obj.from_column_value(value), spec.buckets)
            if bucket is not None:
                docs.setdefault(bucket, []).append(docnum)
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


def _bucket(number: int, buckets: tuple[Bucket, ...]) -> str | None:
    for label, low, high in buckets:
        if (low is None or number >= low) and (high is None or number <= high):
            return label
    return None
