"""The band keys of the items a commit holds: how an update finds the held items an added one
may link to (searchkit/stories.py). Kept in ``_MAIN_<n>.bands`` beside the commit's table of
contents, written with it and covered by its checksums (searchkit/checksums.py).

A ``BandTable`` lists items (ids, with each one's publication time) and holds one sorted array
of 64-bit entries: the hash of a band key (``similarity.band_hashes``, 32 bits) above the
position of an item that has the key. A lookup is a bisection per hash. A commit writes the
previous table with its removed items marked gone and the added items' entries merged in; the
positions of gone items are dropped, and the others renumbered, once they are a quarter of
the list.

Why not Whoosh terms: an item has about 40 band keys, nearly all distinct, and Whoosh writes
each term and posting list in Python: 870,000 postings took 2-5 s of a 20 s build of the
Reuters and BBC items, and each update's lookups went through a term reader per segment. The
array costs a sort (about 0.5 s for those items) and a merge per update.

Format (version 1, little-endian): ``SKBT``, the version (1 byte), the number of listed items,
the length of their ids and the number of entries (4 bytes each); the ids as a JSON list (null
for a gone item); each item's publication time in seconds since the epoch (a double, NaN for
none); the entries (8 bytes each).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .checksums import companion_name
from .errors import IndexCorruptError

#: The suffix of the file a commit keeps its band keys in: ``_MAIN_<n>.bands``.
TABLE_SUFFIX = "bands"

_MAGIC = b"SKBT"
_VERSION = 1
_HEAD = struct.Struct("<4sBIII")
_POSITION = 0xFFFFFFFF  # the low 32 bits of an entry
_SWAP = sys.byteorder != "little"


def _array(typecode: str, values: Iterable[float] | Iterable[int] = ()) -> array:  # type: ignore[type-arg]
    return array(typecode, values)


@dataclass
class BandTable:
    """Items (``ids``: None for a gone one; ``times``: publication times, NaN for none) and the
    sorted ``entries`` (hash << 32 | position) of their band keys."""

    ids: list[str | None] = field(default_factory=list)
    times: array = field(default_factory=lambda: _array("d"))  # type: ignore[type-arg]
    entries: array = field(default_factory=lambda: _array("Q"))  # type: ignore[type-arg]

    def lookup(self, hashes: Iterable[int]) -> Iterator[int]:
        """The positions of the items that have a key of one of ``hashes`` (an item once per
        hash it has)."""
        entries, size = self.entries, len(self.entries)
        for h in hashes:
            n = bisect_left(entries, h << 32)
            while n < size and entries[n] >> 32 == h:
                yield entries[n] & _POSITION
                n += 1

    def updated(
        self, added: Mapping[str, tuple[float | None, list[int]]], removed: Collection[str]
    ) -> BandTable:
        """The table after a commit that adds ``added`` (id -> publication time and band-key
        hashes; a listed id is a new version of the item) and removes ``removed``."""
        ids, times = list(self.ids), _array("d", self.times)
        gone = set(removed) | added.keys()
        for n, ident in enumerate(ids):
            if ident is not None and ident in gone:
                ids[n] = None
        new: list[int] = []
        for ident in sorted(added):
            published, hashes = added[ident]
            position = len(ids)
            ids.append(ident)
            times.append(math.nan if published is None else published)
            new.extend([(h << 32) | position for h in hashes])
        entries = [*self.entries, *new]
        entries.sort()  # the previous entries are one sorted run: this is mostly a merge
        held = len(ids) - ids.count(None)
        if (len(ids) - held) * 4 <= len(ids):
            return BandTable(ids, times, _array("Q", entries))
        # Drop the gone items' positions; the others keep their order, so the entries do too.
        renumbered, kept_times = [-1] * len(ids), _array("d")
        kept_ids: list[str | None] = []
        for n, ident in enumerate(ids):
            if ident is not None:
                renumbered[n] = len(kept_ids)
                kept_ids.append(ident)
                kept_times.append(times[n])
        high = ~_POSITION
        kept = [(e & high) | p for e in entries if (p := renumbered[e & _POSITION]) >= 0]
        return BandTable(kept_ids, kept_times, _array("Q", kept))

    def encode(self) -> bytes:
        names = json.dumps(self.ids, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        times, entries = _array("d", self.times), _array("Q", self.entries)
        if _SWAP:
            times.byteswap()
            entries.byteswap()
        head = _HEAD.pack(_MAGIC, _VERSION, len(self.ids), len(names), len(entries))
        return b"".join([head, names, times.tobytes(), entries.tobytes()])

    @classmethod
    def decode(cls, raw: bytes) -> BandTable:
        """Raises ValueError for a table that cannot be read."""
        try:
            magic, version, count, size, entries_count = _HEAD.unpack_from(raw)
        except struct.error as exc:
            raise ValueError(f"the band keys cannot be read: {exc}") from exc
        if magic != _MAGIC or version != _VERSION:
            raise ValueError(f"band keys format {magic!r} {version} is not {_MAGIC!r} {_VERSION}")
        start = _HEAD.size
        end = start + size + 8 * count + 8 * entries_count
        if len(raw) != end:
            raise ValueError(f"the band keys take {len(raw)} bytes, not {end}")
        try:
            ids = json.loads(raw[start : start + size])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the band keys' items cannot be read: {exc}") from exc
        if not isinstance(ids, list) or len(ids) != count:
            raise ValueError("the band keys' items are not a list of their count")
        times, entries = _array("d"), _array("Q")
        times.frombytes(raw[start + size : start + size + 8 * count])
        entries.frombytes(raw[start + size + 8 * count :])
        if _SWAP:
            times.byteswap()
            entries.byteswap()
        return cls([None if i is None else str(i) for i in ids], times, entries)


def load_table(folder: Path, generation: int) -> BandTable:
    """The table kept with commit ``generation`` in ``folder`` (empty when it has none: an
    empty index). A table that cannot be read is damage."""
    path = folder / companion_name(generation, TABLE_SUFFIX)
    try:
        return BandTable.decode(path.read_bytes())
    except FileNotFoundError:
        return BandTable()
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index file {path} is damaged ({exc}); run `searchkit index --rebuild`"
        ) from exc
