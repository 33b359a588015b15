"""A segment writer that buffers postings per term and writes them a block at a time.

Whoosh's ``SegmentWriter`` sends every posting through a sorting pool (a tuple, a size estimate
and a sort per posting), sorts them all at commit, and hands them one by one to its postings
writer, which looks each document's field length up again and checks and appends it posting
by posting. Those per-posting Python calls were about half of a build's time
(benchmarks/README.md). This writer keeps each term's postings in a list as documents arrive
(documents arrive in document order, so nothing needs sorting but the terms), encodes each full
list of 128 postings as one block at once (full blocks wait in a temporary file), and at the
end writes the terms in order.

The files are Whoosh's own format (codec ``W3``), so Whoosh's readers, merges and searches take
them as they are. With Whoosh's choices (``min_compress=0`` and no shared position values) they
are byte for byte what Whoosh's writer writes for the same documents (tests/test_segment.py).
By default, blocks shorter than ``MIN_COMPRESS`` bytes are left uncompressed and equal
position values are pickled once: smaller files, read as fast or faster.

The full-text fields (analysed by :class:`~searchkit.schema.NewsAnalyzer`, with positions) are
tokenised straight into per-word position lists, and the fields of words as written (spelling,
completion) into word counts, without Whoosh's token objects; every other field goes through
Whoosh's own ``field.index``. Merges (Whoosh's ``add_reader``, which its merge policies call at
commit) copy the merged segments' postings into the same buffers, after the new documents.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zlib
from array import array
from collections import Counter
from operator import sub
from pickle import dumps
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3FieldWriter, W3TermInfo
from whoosh.system import pack_int, pack_uint, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from ..schema import WORD_PATTERN, NewsAnalyzer, make_word_analyzer

#: Postings per block, and the block compression level: Whoosh's W3 codec's defaults.
BLOCK_LIMIT = 128
COMPRESSION = 3

#: Blocks whose pickle is shorter than this are written uncompressed.
MIN_COMPRESS = 256

#: About what a term and a buffered posting take in memory (``BlockSegmentWriter.memory``),
#: rounded up: on 10,000 Reuters items, 149 MB estimated against 117 MB of resident memory.
TERM_BYTES = 250
POSTING_BYTES = 150

_WEIGHTS = [float(n) for n in range(256)]
_WORD = re.compile(WORD_PATTERN)
_ONE = pack_uint(1)

#: The encoded value of a posting with one position, for the first positions of a field.
_CACHED_POSITIONS = 4096
_ONE_POSITION = [_ONE + dumps([pos], 2) for pos in range(_CACHED_POSITIONS)]


def _positions_value(poses: list[int]) -> bytes:
    """A posting's value for positions ``poses``, as Whoosh's ``Positions`` format encodes it."""
    count: bytes = pack_uint(len(poses))
    return count + dumps([poses[0], *map(sub, poses[1:], poses)], 2)


def _encode_block(
    postings: list[tuple[int, float, bytes, int]], fixed_size: int | None, min_compress: int
) -> tuple[bytes, tuple[Any, ...]]:
    """One block of postings (docnum, weight, value bytes, field length) in Whoosh's W3 block
    format (without its length prefix), and the block's statistics for the term info.

    Whoosh compresses every block; blocks whose pickle is shorter than ``min_compress`` bytes
    are left uncompressed (the block's header says so, and Whoosh's reader honours it):
    compressing a few bytes costs more time than reading them saves, and makes them longer.
    """
    ids, weights, values, lengths = zip(*postings, strict=True)
    count = len(ids)
    weights32 = array("f", weights)
    first = weights32[0]
    if weights32.count(first) < count:
        mini_weights: Any = tuple(weights32)
    else:
        mini_weights = None if first == 1.0 else first
    if fixed_size is None or fixed_size < 0:
        mini_values: Any = tuple(filter(None, values))
    elif fixed_size == 0:
        mini_values = None
    else:
        mini_values = b"".join(values)
    deltas = (ids[0], *map(sub, ids[1:], ids)) if count > 1 else ids
    data = dumps((deltas, mini_weights, mini_values), 2)
    compression = COMPRESSION if len(data) >= min_compress else 0
    if compression:
        data = zlib.compress(data, compression)
    max_weight = max(weights)
    if not max_weight > 0:
        max_weight = 0
    known = list(filter(None, lengths))
    min_length = min(known) if known else None
    max_length = max(known) if known else 0
    info = dumps(
        (count, ids[-1], max_weight, compression, length_to_byte(min_length), length_to_byte(max_length)), 2
    )
    stats = (sum(weights32), count, min_length, max_length, max_weight, ids[0], ids[-1])
    return info + data, stats


class _BlockStore:
    """Encoded full blocks, kept in an anonymous temporary file until the segment is written,
    so that a writer's memory holds only the postings not yet in a block."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
        self._size = 0

    def put(self, data: bytes) -> int:
        """Store ``data``; its offset."""
        offset = self._size
        self._file.write(data)
        self._size += len(data)
        return offset

    def get(self, offset: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, offset)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class _Term:
    """One term's full blocks (offsets and lengths in the block store) and statistics."""

    __slots__ = ("blocks", "info")

    def __init__(self) -> None:
        self.blocks: list[int] = []
        self.info = W3TermInfo()

    def add_stats(self, stats: tuple[Any, ...]) -> None:
        weight, count, min_length, max_length, max_weight, first, last = stats
        info = self.info
        info._weight += weight
        info._df += count
        if info._minlength is None:
            info._minlength = min_length
        elif min_length is not None:
            info._minlength = min(info._minlength, min_length)
        info._maxlength = max(info._maxlength, max_length)
        info._maxweight = max(info._maxweight, max_weight)
        if info._minid is None:
            info._minid = first
        info._maxid = last


class _FieldPostings:
    """The postings of one field, by term (str in the fields tokenised here, else bytes):
    postings not yet in a full block, and the terms with full blocks."""

    __slots__ = ("buffered", "buffers", "fixed_size", "min_compress", "store", "terms")

    def __init__(self, fixed_size: int | None, min_compress: int, store: _BlockStore) -> None:
        self.buffers: dict[Any, list[tuple[int, float, bytes, int]]] = {}
        self.terms: dict[Any, _Term] = {}
        self.fixed_size = fixed_size
        self.min_compress = min_compress
        self.store = store
        self.buffered = 0  # postings in ``buffers``

    def add(self, key: Any, posting: tuple[int, float, bytes, int]) -> None:
        """Buffer one posting of ``key`` (``add_document``'s loop over words does this inline)."""
        buffer = self.buffers.get(key)
        if buffer is None:
            self.buffers[key] = [posting]
        else:
            buffer.append(posting)
            if len(buffer) >= BLOCK_LIMIT:
                self.spill(key, buffer)

    def spill(self, key: Any, buffer: list[tuple[int, float, bytes, int]]) -> None:
        """Encode a full ``buffer`` of ``key``'s postings as a block into the store."""
        term = self.terms.get(key)
        if term is None:
            term = self.terms[key] = _Term()
        block, stats = _encode_block(buffer, self.fixed_size, self.min_compress)
        term.blocks += (self.store.put(block), len(block))
        term.add_stats(stats)
        self.buffered -= len(buffer)
        buffer.clear()

    def write(self, postfile: Any) -> list[tuple[bytes, bytes]]:
        """Write every term's blocks to ``postfile``: (term bytes, term info bytes) in order."""
        self.store.flush()
        get = self.store.get
        buffers = self.buffers
        terms = self.terms
        rows = []
        offset = postfile.tell()
        for key in sorted(set(buffers) | set(terms)):
            term = terms.get(key)
            if term is None:
                term = _Term()
            blocks = [get(term.blocks[n], term.blocks[n + 1]) for n in range(0, len(term.blocks), 2)]
            buffer = buffers.get(key)
            if buffer:
                block, stats = _encode_block(buffer, self.fixed_size, self.min_compress)
                blocks.append(block)
                term.add_stats(stats)
            parts = [WHOOSH3_HEADER_MAGIC]
            for block in blocks[:-1]:
                parts += (pack_int(len(block)), block)
            parts += (pack_int(-len(blocks[-1])), blocks[-1])
            data = b"".join(parts)
            postfile.write(data)
            term.info.set_extent(offset, len(data))
            offset += len(data)
            btext = key.encode("utf-8") if isinstance(key, str) else key
            rows.append((btext, term.info.to_bytes()))
        buffers.clear()
        terms.clear()
        self.buffered = 0
        return rows


class BlockSegmentWriter(SegmentWriter):  # type: ignore[misc]  # Whoosh ships no type hints
    """A Whoosh segment writer with per-term posting buffers (see the module's docstring)."""

    def __init__(self, ix: Any, *, min_compress: int = MIN_COMPRESS, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self._min_compress = min_compress
        if not isinstance(self.fieldwriter, W3FieldWriter):
            raise TypeError(
                f"BlockSegmentWriter writes Whoosh's W3 codec only, not {type(self.fieldwriter).__name__}"
            )
        self._postings: dict[str, _FieldPostings] = {}
        self._store = _BlockStore()
        self._fast: dict[str, NewsAnalyzer] = {}
        self._words: set[str] = set()  # fields of words as written, with their frequencies
        word_analyzer = make_word_analyzer()
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise TypeError(
                    f"field {name!r}: BlockSegmentWriter writes no term vectors or separate spelling words"
                )
            if (
                isinstance(field.analyzer if field.format else None, NewsAnalyzer)
                and type(field.format) is formats.Positions
                and field.format.field_boost == 1.0
                and field.scorable
            ):
                self._fast[name] = field.analyzer
            elif (
                field.format is not None
                and type(field.format) is formats.Frequency
                and field.format.field_boost == 1.0
                and field.scorable
                and field.analyzer == word_analyzer
            ):
                self._words.add(name)

    def _field_postings(self, fieldname: str, field: Any) -> _FieldPostings:
        postings = self._postings.get(fieldname)
        if postings is None:
            postings = self._postings[fieldname] = _FieldPostings(
                field.format.fixed_value_size(), self._min_compress, self._store
            )
        return postings

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        schema = self.schema
        perdoc = self.perdocwriter
        docnum = self.docnum
        if any(name.startswith("_") for name in fields):
            raise ValueError("BlockSegmentWriter takes no boosts or custom stored values")
        names = sorted(fields)
        self._check_fields(schema, names)
        weights = _WEIGHTS
        perdoc.start_doc(docnum)
        for fieldname in names:
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                postings = self._field_postings(fieldname, field)
                buffers = postings.buffers
                analyzer = self._fast.get(fieldname)
                if analyzer is not None or fieldname in self._words:
                    # (word, frequency, encoded value) of each word; then one loop buffers them
                    if analyzer is not None:
                        positions, length = analyzer.positions(value)
                        found = [
                            (
                                word,
                                len(poses),
                                _ONE_POSITION[poses[0]]
                                if len(poses) == 1 and poses[0] < _CACHED_POSITIONS
                                else _positions_value(poses),
                            )
                            for word, poses in positions.items()
                        ]
                    else:
                        counts = Counter(map(str.lower, _WORD.findall(value)))
                        length = sum(counts.values())
                        found = [(word, count, pack_uint(count)) for word, count in counts.items()]
                    postings.buffered += len(found)
                    for word, count, vbytes in found:
                        posting = (docnum, weights[count] if count < 256 else float(count), vbytes, length)
                        buffer = buffers.get(word)
                        if buffer is None:
                            buffers[word] = [posting]
                        else:
                            buffer.append(posting)
                            if len(buffer) >= BLOCK_LIMIT:
                                postings.spill(word, buffer)
                else:
                    items = list(field.index(value))
                    postings.buffered += len(items)
                    if field.scorable:
                        length = sum(item[1] for item in items)
                    for btext, _freq, weight, vbytes in items:
                        postings.add(btext, (docnum, float(weight), vbytes, length))
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            column = field.column_type
            if column:
                perdoc.add_column_value(fieldname, column, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def memory(self) -> int:
        """About how many bytes of memory the postings not yet written take."""
        return sum(
            TERM_BYTES * (len(postings.buffers) + len(postings.terms)) + POSTING_BYTES * postings.buffered
            for postings in self._postings.values()
        )

    def add_reader(self, reader: Any) -> None:
        """Copy the live documents of ``reader`` (a segment being merged) into this one."""
        self._check_state()
        schema = self.schema
        base = self.docnum
        indexed = {name for name in reader.indexed_field_names() if name in schema}
        docmap = self.write_per_doc(set(schema.names()) | indexed, reader)
        length_of = reader.doc_field_length
        for fieldname, btext, docnum, weight, vbytes in reader.iter_postings():
            if fieldname not in schema:
                continue
            postings = self._field_postings(fieldname, schema[fieldname])
            textual = fieldname in self._fast or fieldname in self._words
            key = btext.decode("utf-8") if textual else btext
            postings.buffered += 1
            postings.add(
                key,
                (
                    docmap[docnum] if docmap is not None else base + docnum,
                    float(weight),
                    vbytes,
                    length_of(docnum, fieldname),
                ),
            )
        self._added = True

    def _flush_segment(self) -> None:
        writer = self.fieldwriter
        try:
            self.perdocwriter.close()
            for fieldname in sorted(self._postings):
                writer.start_field(fieldname, self.schema[fieldname])
                prefix = pack_ushort(writer._fieldid)
                for btext, info in self._postings[fieldname].write(writer._postfile):
                    writer._tindex.add(prefix + btext, info)
                writer.finish_field()
            self._postings.clear()
            writer.close()
        except BaseException:
            self._close_files_quietly()
            raise

    def _close_files_quietly(self) -> None:
        """Close the segment's open files after a write failed (a full disk), so that the run's
        clean-up can remove them; their flush fails again, and they close all the same."""
        writer = self.fieldwriter
        for handle in (writer._tindex.dbfile, writer._postfile):
            with contextlib.suppress(Exception):
                handle.close()
            # A StructFile's close runs its on-close step (a flush and fsync) first, which fails
            # again: close the file under it too.
            with contextlib.suppress(Exception):
                handle.file.close()

    def _close_segment(self) -> None:
        try:
            super()._close_segment()
        except BaseException:
            self._close_files_quietly()
            raise
        finally:
            self._store.close()
