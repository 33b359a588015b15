"""Postings, field lengths, columns and term counts read in bulk from Whoosh's W3 codec.

Whoosh's matchers hand out one posting per call, through several layers of Python calls, and
look up each document's field length the same way. These functions read a whole block of
document numbers and term frequencies at a time, a segment's field lengths at once, a column
as one array or one read (searchkit/postings.py scores them), and a field's terms with their
document counts from the mapped term file.
"""

from __future__ import annotations

import contextlib
import mmap
import operator
import struct
import sys
from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any, cast

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3TermInfo, W3TermsReader, _lenfield
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from . import PRIVATE_NAMES

_LENGTHS = [byte_to_length(byte) for byte in range(256)]

#: What is read of a W3 postings matcher (the default codec of Whoosh 2.7.4, its last release),
#: as the package lists it: any other matcher is read one posting at a time.
_W3_MATCHER = PRIVATE_NAMES["whoosh.codec.whoosh3.W3LeafMatcher"]


def term_blocks(segment: Any, fieldname: str, text: Any) -> Iterator[tuple[Sequence[int], Sequence[float]]]:
    """(document numbers, term frequencies) of one term in one segment, a block at a time,
    deleted documents left out; nothing when the segment lacks the term."""
    try:
        matcher = segment.postings(fieldname, text)
    except TermNotFound:
        return
    deleted: frozenset[int] = frozenset()
    if isinstance(matcher, FilterMatcher) and matcher._exclude:
        # Whoosh's way of leaving out a segment's deleted documents
        deleted = frozenset(matcher._ids)
        matcher = matcher.child
    if not all(hasattr(matcher, name) for name in _W3_MATCHER):  # another codec: one at a time
        all_ids: list[int] = []
        all_weights: list[float] = []
        while matcher.is_active():
            all_ids.append(matcher.id())
            all_weights.append(matcher.weight())
            matcher.next()
        blocks: Iterator[tuple[Sequence[int], Sequence[float]]] = iter([(all_ids, all_weights)])
    else:
        blocks = _w3_blocks(matcher)
    for ids, weights in blocks:
        if deleted:
            kept = [i for i, doc in enumerate(ids) if doc not in deleted]
            ids, weights = [ids[i] for i in kept], [weights[i] for i in kept]
        yield ids, weights


def _w3_blocks(matcher: Any) -> Iterator[tuple[Sequence[int], Sequence[float]]]:
    while matcher.is_active():
        ids = _block_ids(matcher)
        if matcher._weights is None:
            matcher._read_weights()
        yield ids, cast(Sequence[float], matcher._weights)
        matcher._next_block()


def _block_ids(matcher: Any) -> Sequence[int]:
    """The document numbers of a W3 matcher's current block."""
    if matcher._ids is None:
        if matcher._byteids:
            matcher._read_ids()
        else:  # document numbers are stored as gaps: Whoosh adds them up in a generator
            if matcher._data is None:
                matcher._read_data()
            matcher._ids = tuple(accumulate(matcher._data[0]))
    return cast(Sequence[int], matcher._ids)


def field_lengths(segment: Any, fieldname: str) -> list[int]:
    """The length of ``fieldname`` in each document of ``segment``, as Whoosh's scoring sees
    it (stored as one byte, decoded); 0 where the document has none."""
    count = segment.doc_count_all()
    perdoc = getattr(segment, "_perdoc", None)
    column = (
        perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if perdoc is not None and hasattr(perdoc, "_cached_reader")
        else None
    )
    if column is not None:  # a column of length bytes (0: none)
        return [_LENGTHS[byte] for byte in column_values(column, count)]
    return [segment.doc_field_length(doc, fieldname, 0) or 0 for doc in range(count)]


def column_values(column: Any, size: int) -> list[Any]:
    """The raw values of the first ``size`` documents in a Whoosh column reader: a numeric
    column is read as one array, a column of byte strings as one read, any other a value at a
    time."""
    if isinstance(column, NumericColumn.Reader):
        stored = min(column._count, size)
        values = array(column._typecode, column._dbfile.get(column._basepos, stored * column._fixedlen))
        if sys.byteorder == "little":  # stored big-endian
            values.byteswap()
        return values.tolist() + [column._default] * (size - stored)
    if isinstance(column, VarBytesColumn.Reader):
        # The values lie end to end: one read of them all, then a slice each, which is what
        # the reader's own lookup reads (a seek and a read each, cut short at the end of the
        # column's file, the end of the read here too).
        stored = min(len(column._lengths), size)
        offsets, lengths = column._offsets[:stored], column._lengths[:stored]
        end = max(map(operator.add, offsets, lengths), default=0)
        data = column._dbfile.get(column._basepos, min(end, column._length))
        sliced = [data[offset : offset + length] for offset, length in zip(offsets, lengths, strict=True)]
        return sliced + [column[n] for n in range(stored, size)]
    return [column[n] for n in range(size)]


def deleted_documents(segment: Any) -> set[int]:
    """The deleted documents of a segment reader, read at once from its segment rather than
    asked a document at a time (three calls each)."""
    if not segment.has_deletions():
        return set()
    size = segment.doc_count_all()
    stored = segment.segment()
    if stored is None:  # not a reader of one segment: its own way
        return {doc for doc in range(size) if segment.is_deleted(doc)}
    return {doc for doc in stored.deleted_docs() if doc < size}


def live_documents(segment: Any) -> Sequence[int]:
    """The live (not deleted) documents of a segment reader, ascending: its ``all_doc_ids()``."""
    size = segment.doc_count_all()
    deleted = deleted_documents(segment)
    return [doc for doc in range(size) if doc not in deleted] if deleted else range(size)


def bm25_field_b(weighting: Any, fieldname: str) -> float:
    """The B parameter a Whoosh ``BM25F`` weighting uses for ``fieldname``."""
    return float(weighting._field_B.get(fieldname, weighting.B))


class MappedTerms:
    """One segment's terms looked up through a memory map of its term file. Whoosh reads each
    slot of its on-disk hash table with a seek and a read (15-30 us a lookup, most of them for
    terms the segment lacks); here a lookup reads the mapped bytes. Falls back to Whoosh's own
    lookup where the term file is not a plain file (a compound segment, RAM storage)."""

    def __init__(self, segment: Any) -> None:
        self._segment = segment
        self._terms: Any = None
        self._map: mmap.mmap | None = None
        self._deleted: frozenset[int] | None = None  # the segment's deleted documents, once read
        with contextlib.suppress(Exception):  # anything unexpected: Whoosh's own lookup
            terms = segment.codec().terms_reader(segment.storage(), segment.segment())
            self._terms = terms
            handle = terms._dbfile.file
            if isinstance(terms, W3TermsReader) and terms._dbfile.is_real:
                self._tables: list[tuple[int, int]] = terms._tindex.tables
                self._hash = terms._tindex.hashfn
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._terms is not None:
            self._terms.close()
            self._terms = None

    def _value(self, key: bytes) -> bytes | None:
        """The value stored for ``key`` (Whoosh's ``HashReader.ranges_for_key``, on the map)."""
        assert self._map is not None
        data = self._map
        keyhash = self._hash(key)
        start, slots = self._tables[keyhash & 255]
        if not slots:
            return None
        end = start + slots * _POINTER.size
        position = start + ((keyhash >> 8) % slots) * _POINTER.size
        for _ in range(slots):
            slot_hash, item = _POINTER.unpack_from(data, position)
            if not item:
                return None
            if slot_hash == keyhash:
                key_length, value_length = _LENGTHS_PAIR.unpack_from(data, item)
                begin = item + _LENGTHS_PAIR.size
                if key_length == len(key) and data[begin : begin + key_length] == key:
                    return data[begin + key_length : begin + key_length + value_length]
            position += _POINTER.size
            if position == end:
                position = start
        return None

    def doc_frequencies(self, fieldname: str) -> Iterator[tuple[bytes, int]]:
        """Each term of ``fieldname`` in the segment, in order, with the number of documents
        that hold it, deleted ones too: what Whoosh's ``iter_field`` gives as term infos
        (``doc_frequency()``), read from the map, the count alone, without making term infos."""
        if self._map is None:
            for text, info in self._segment.iter_field(fieldname):
                yield text, info.doc_frequency()
            return
        tindex = self._terms._tindex
        prefix = self._terms._keycoder(fieldname, b"")  # the field's number: its terms follow
        position = tindex.closest_key_pos(prefix)
        if position is None:
            return
        data, end, skip = self._map, tindex.endofdata, len(prefix)
        while position < end:
            key_length, value_length = _LENGTHS_PAIR.unpack_from(data, position)
            key = position + _LENGTHS_PAIR.size
            if data[key : key + skip] != prefix:
                return  # the next field's terms
            value = key + key_length
            yield data[key + skip : value], _DOC_FREQUENCY.unpack_from(data, value)[0]
            position = value + value_length

    def documents(self, fieldname: str, text: str | bytes) -> list[int]:
        """The live documents of ``segment`` (its own numbers) that hold the term."""
        if self._map is None:
            return [doc for block, _ in term_blocks(self._segment, fieldname, text) for doc in block]
        terms = self._terms
        tbytes = text.encode("utf-8") if isinstance(text, str) else text
        value = self._value(terms._keycoder(fieldname, tbytes))
        if value is None:
            return []
        info = W3TermInfo.from_bytes(value)
        if info.is_inlined():
            found = list(info.inlined_postings()[0])
        else:
            matcher = terms._codec.postings_reader(
                terms._postfile, info, self._segment.schema[fieldname].format, term=(fieldname, tbytes)
            )
            found = []
            while matcher.is_active():  # whole blocks of document numbers, no weights
                found.extend(_block_ids(matcher))
                matcher._next_block()
        if self._deleted is None:
            self._deleted = frozenset(deleted_documents(self._segment))
        return [doc for doc in found if doc not in self._deleted] if self._deleted else found


_POINTER = struct.Struct("!Iq")  # Whoosh's hash slot: key hash, position of the key
_LENGTHS_PAIR = struct.Struct("!ii")  # before each key: its length and its value's
_DOC_FREQUENCY = struct.Struct("!5xI")  # in a W3 term info: flags, total weight, doc frequency
