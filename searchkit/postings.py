"""Postings read in bulk, and BM25 scores computed over them a term at a time.

Whoosh's matchers hand out one posting per call, through several layers of Python calls, and
look up each document's field length the same way: scoring a match costs about 5 us. What
needs every posting of a term (a word's match set, the ranking of a plain word query, the
candidates of related items) reads them here instead: a whole block of document numbers and
term frequencies at a time from Whoosh's W3 postings, field lengths once per segment, and the
index's BM25 (``schema.NewsBM25``) over whole blocks. Most of what remains is Whoosh
unpickling each block.

The scores are Whoosh's own, to the bit, for one term: the same formula in the same order of
operations, with the same idf and average length (``bm25_scores``).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, TypeAlias

from .cache import Cache
from .models import Duplicate
from .ordering import bitmap, segment_id
from .schema import F, NewsBM25
from .whoosh_internals.postings import MappedTerms, bm25_field_b, field_lengths, term_blocks

#: Length normalisations kept per (segment, field, average length): a few fields of the
#: segments of the current and the previous state of the index.
NORMS_CACHE_SIZE = 64

#: Postings kept between the searches of one state of the index, counted in postings (12
#: bytes each, so at most about 24 MB): the terms searched most recently.
POSTINGS_CACHE_SIZE = 2_000_000

#: (segment, its first reader-wide number, document numbers in it, term frequencies) per segment.
SegmentPostings: TypeAlias = "list[tuple[Any, int, array[int], array[float]]]"


def postings_weight(found: SegmentPostings) -> int:
    """The weight of a term's postings in a cache of ``POSTINGS_CACHE_SIZE``."""
    return 1 + sum(len(ids) for _segment, _offset, ids, _weights in found)


class Postings:
    """The postings of the terms one search reads, over one reader, each term read once: the
    search's match set and its ranking need the same words. With ``cache`` (scoped by the
    reader ``generation``, searchkit/cache.py), the terms read by earlier searches of the same
    state of the index are not read again: reading is mostly Whoosh unpickling and
    decompressing blocks, about half of a plain search's time."""

    def __init__(
        self, reader: Any, cache: Cache[Any, SegmentPostings] | None = None, generation: int = 0
    ) -> None:
        self._reader = reader
        self._read: dict[tuple[str, Any], SegmentPostings] = {}
        self._cache = cache
        self._generation = generation

    def segments(self, fieldname: str, text: Any) -> list[tuple[Any, int, array[int], array[float]]]:
        """(segment, its first reader-wide number, document numbers in the segment, term
        frequencies) of each segment that holds the term."""
        schema = self._reader.schema
        if fieldname in schema and not isinstance(text, bytes):
            try:
                text = schema[fieldname].to_bytes(text)
            except ValueError:  # not a value of the field (a word in a number field)
                return []
        key = (fieldname, text)
        found = self._read.get(key)
        if found is None and self._cache is not None:
            found = self._cache.touch((self._generation, fieldname, text))
            if found is not None:
                self._read[key] = found
        if found is None:
            found = []
            for segment, offset in self._reader.leaf_readers():
                ids, weights = array("I"), array("d")
                for block_ids, block_weights in term_blocks(segment, fieldname, text):
                    _extend(ids, block_ids)
                    _extend(weights, block_weights)
                if ids:
                    found.append((segment, offset, ids, weights))
            self._read[key] = found
            if self._cache is not None:
                self._cache.put((self._generation, fieldname, text), found)
        return found

    def bits(self, fieldname: str, text: Any) -> int:
        """The live documents holding the term as a bitmap (see ordering.bitmap)."""
        bits = 0
        for segment, offset, ids, _weights in self.segments(fieldname, text):
            bits |= bitmap(ids, segment.doc_count_all()) << offset
        return bits


def _pick(
    ids: array[int], weights: array[float], offset: int, only: Sequence[int]
) -> tuple[list[int], list[float]]:
    """The postings of a segment's ``ids`` (ascending) that are among the reader-wide ``only``."""
    picked_ids, picked_weights = [], []
    end = offset + (ids[-1] + 1 if ids else 0)
    for doc in only[bisect_left(only, offset) : bisect_left(only, end)]:
        i = bisect_left(ids, doc - offset)
        if i < len(ids) and ids[i] == doc - offset:
            picked_ids.append(ids[i])
            picked_weights.append(weights[i])
    return picked_ids, picked_weights


def _extend(target: array[Any], values: Sequence[Any]) -> None:
    if isinstance(values, array) and values.typecode != target.typecode:
        values = values.tolist()
    target.extend(values)


class Norms:
    """BM25's length normalisation ``K1 * ((1 - B) + B * length / average)`` of every document
    of a segment, per field, computed once per segment, field and average length and kept in
    ``cache`` (scoped by segment, see searchkit/cache.py; a cache of its own by default)."""

    def __init__(self, cache: Cache[Any, list[float]] | None = None) -> None:
        self._cache: Cache[Any, list[float]] = cache if cache is not None else Cache(NORMS_CACHE_SIZE)

    def get(self, segment: Any, fieldname: str, average: float, b: float, k1: float) -> list[float]:
        # Grouped as whoosh.scoring.bm25 groups it, so the scores are the same to the bit.
        return self._cache.get_or_put(
            (segment_id(segment), fieldname, average, b, k1),
            lambda: [k1 * ((1 - b) + b * length / average) for length in field_lengths(segment, fieldname)],
        )


def bm25_parameters(searcher: Any, fieldname: str) -> tuple[float, float] | None:
    """(B, K1) of the searcher's BM25 scoring of ``fieldname``; None when Whoosh would score
    the field another way (another weighting model, a field that is not scorable)."""
    weighting = searcher.weighting
    if (
        type(weighting) is not NewsBM25
        or fieldname not in searcher.schema
        or not searcher.schema[fieldname].scorable
    ):
        return None
    return bm25_field_b(weighting, fieldname), weighting.K1


def bm25_scores(
    searcher: Any,
    norms: Norms,
    postings: Postings,
    fieldname: str,
    text: Any,
    boost: float = 1.0,
    only: Sequence[int] | None = None,
) -> tuple[array[int], array[float]] | None:
    """The live documents (reader-wide numbers, ascending) that hold ``text`` in ``fieldname``
    and the term's BM25 score in each, times ``boost``: what a Whoosh ``Term`` query scores
    them; with ``only`` (ascending), those of these documents only. None when Whoosh would not
    score the field with BM25 (``bm25_parameters``)."""
    parameters = bm25_parameters(searcher, fieldname)
    if parameters is None:
        return None
    b, k1 = parameters
    try:
        text = searcher.schema[fieldname].to_bytes(text)
    except ValueError:
        return array("I"), array("d")
    idf = searcher.idf(fieldname, text)
    average = searcher.avg_field_length(fieldname) or 1
    k1_plus_1 = k1 + 1
    docs, scores = array("I"), array("d")
    for segment, offset, all_ids, all_weights in postings.segments(fieldname, text):
        ids: Sequence[int] = all_ids
        weights: Sequence[float] = all_weights
        if only is not None:
            ids, weights = _pick(all_ids, all_weights, offset, only)
        norm = norms.get(segment, fieldname, average, b, k1)
        # whoosh.scoring.bm25: idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
        scores.extend(
            [idf * ((tf * k1_plus_1) / (tf + norm[doc])) for doc, tf in zip(ids, weights, strict=True)]
        )
        docs.extend([doc + offset for doc in ids] if offset else ids)
    if boost != 1.0:
        scores = array("d", [score * boost for score in scores])
    return docs, scores


def duplicate_urls(reader: Any) -> tuple[Duplicate, ...]:
    """Urls that more than one (live) item declares, with those items' ids."""
    if not reader.doc_count_all() or F.URL not in reader.indexed_field_names():
        return ()
    segments = [(MappedTerms(segment), base) for segment, base in reader.leaf_readers()]
    try:
        # Each segment's url terms with their document counts (deleted documents too), read
        # from its term file in one pass: only a url counted more than once can be a duplicate.
        counts: dict[bytes, int] = {}
        for terms, _base in segments:
            for raw, count in terms.doc_frequencies(F.URL):
                counts[raw] = counts.get(raw, 0) + count
        found = []
        for raw in sorted(raw for raw, count in counts.items() if count > 1):
            docs = [base + doc for terms, base in segments for doc in terms.documents(F.URL, raw)]
            if len(docs) > 1:
                ids = sorted(reader.stored_fields(doc)[F.ID] for doc in docs)
                found.append(Duplicate(raw.decode("utf-8"), tuple(ids)))
    finally:
        for terms, _base in segments:
            terms.close()
    return tuple(found)
