"""The band keys of the items a commit holds: how an update finds the held items an added one
may link to (searchkit/stories.py). Kept in ``_MAIN_<n>.bands`` beside the commit's table of
contents, written with it and covered by its checksums (searchkit/checksums.py).

A ``BandTable`` lists items (ids, each with its publication time) in *runs*: the items one
commit added, in the order of time (undated ones last), each item at a position of its own.
A run holds one sorted array of 64-bit entries: the hash of a band key
(``similarity.band_hashes``, 32 bits) above the position of an item that has the key. As a
run's positions are in the order of time, the entries of one hash are too: a lookup bisects
each run for the hash and the positions within the story window, and reads only those.

A commit adds a run of the items it adds, and marks the items it removes or replaces as gone
(their positions stay, with no id). Rewriting the rest costs a copy, no sort. When there are
more than ``MAX_RUNS`` runs, the live items of all but the first (a full build's) move into one
new run; when gone positions are a quarter of the list, every live item moves into a single
run: a sort of all the entries, about 0.5 s for the 21,268 Reuters and BBC items, once in
several updates.

Why not Whoosh terms: an item has about 40 band keys, nearly all distinct, and Whoosh writes
each term and posting list in Python: 870,000 postings took 2-5 s of a 20 s build of the
Reuters and BBC items, and each update's lookups went through a term reader per segment.

Format (version 2, little-endian): ``SKBT``, the version (1 byte), then the number of listed
items, the length of their ids and the number of runs (4 bytes each); the ids as a JSON list
(null for a gone item); each item's publication time in seconds since the epoch (a double,
infinity for none); for each run, its first position, its end and its number of entries (4
bytes each); then each run's entries (8 bytes each).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .checksums import companion_name
from .errors import IndexCorruptError

#: The suffix of the file a commit keeps its band keys in: ``_MAIN_<n>.bands``.
TABLE_SUFFIX = "bands"

#: More runs than this, and all but the first are merged into one.
MAX_RUNS = 8

_MAGIC = b"SKBT"
_VERSION = 2
_HEAD = struct.Struct("<4sBIII")
_RUN = struct.Struct("<III")
_POSITION = 0xFFFFFFFF  # the low 32 bits of an entry
_SWAP = sys.byteorder != "little"

#: A run: its first position, its end, and its entries (sorted).
Run = tuple[int, int, "array[int]"]


def _time(published: float | None) -> float:
    return math.inf if published is None else published


@dataclass
class BandTable:
    """Items (``ids``: None for a gone one; ``times``: publication times, infinity for none)
    and the runs of their band keys' entries (hash << 32 | position)."""

    ids: list[str | None] = field(default_factory=list)
    times: array[float] = field(default_factory=lambda: array("d"))
    runs: list[Run] = field(default_factory=list)

    def lookup(self, hashes: Iterable[int], published: float | None, window: float) -> Iterator[int]:
        """The positions of the items that have a key of one of ``hashes`` and were published
        within ``window`` seconds of ``published`` (undated ones, for an undated item); an
        item once per hash it has. Gone items' positions are among them."""
        # A second more each way: what rounding may cost; the link tests check the window.
        low, high = (
            (math.inf, math.inf) if published is None else (published - window - 1, published + window + 1)
        )
        hashes = list(hashes)
        times = self.times
        for start, end, entries in self.runs:
            first, last = bisect_left(times, low, start, end), bisect_right(times, high, start, end)
            if first == last:
                continue
            for h in hashes:
                n = bisect_left(entries, h << 32 | first)
                stop = bisect_left(entries, h << 32 | last, n)
                for entry in entries[n:stop]:
                    yield entry & _POSITION

    def updated(
        self, added: Mapping[str, tuple[float | None, list[int]]], removed: Collection[str]
    ) -> BandTable:
        """The table after a commit that adds ``added`` (id -> publication time and band-key
        hashes; a listed id is a new version of the item) and removes ``removed``."""
        ids, times = list(self.ids), array("d", self.times)
        gone = set(removed) | added.keys()
        for n, ident in enumerate(ids):
            if ident is not None and ident in gone:
                ids[n] = None
        items = [(ident, _time(published), hashes) for ident, (published, hashes) in added.items()]
        runs = [*self.runs, _append_run(ids, times, items)] if items else list(self.runs)
        if ids.count(None) * 4 > len(ids):  # everything into one run, gone positions dropped
            fresh = BandTable()
            fresh.runs.append(_append_run(fresh.ids, fresh.times, _live(ids, times, runs)))
            return fresh
        if len(runs) > MAX_RUNS:
            moved = _live(ids, times, runs[1:])
            for start, end, _entries in runs[1:]:
                ids[start:end] = [None] * (end - start)
            runs = [runs[0], _append_run(ids, times, moved)]
        return BandTable(ids, times, runs)

    @classmethod
    def first_run(cls, ids: list[str], times: Iterable[float | None], entries: bytes) -> BandTable:
        """A table of one run: ``ids`` in the order of time (then id), their publication times,
        and the run's entries, sorted, as little-endian 64-bit integers (searchkit/bulk.py's
        ``band_entries``). ``BandTable().updated`` makes the same table of the same items."""
        run = array("Q")
        run.frombytes(entries)
        if _SWAP:
            run.byteswap()
        return cls(list(ids), array("d", map(_time, times)), [(0, len(ids), run)])

    def encode(self) -> bytes:
        names = json.dumps(self.ids, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        times = array("d", self.times)
        runs = [array("Q", entries) for _start, _end, entries in self.runs]
        if _SWAP:
            times.byteswap()
            for run in runs:
                run.byteswap()
        head = _HEAD.pack(_MAGIC, _VERSION, len(self.ids), len(names), len(runs))
        table = [_RUN.pack(start, end, len(entries)) for start, end, entries in self.runs]
        return b"".join([head, names, times.tobytes(), *table, *(run.tobytes() for run in runs)])

    @classmethod
    def decode(cls, raw: bytes) -> BandTable:
        """Raises ValueError for a table that cannot be read."""
        try:
            magic, version, count, size, run_count = _HEAD.unpack_from(raw)
            if magic != _MAGIC or version != _VERSION:
                raise ValueError(f"band keys format {magic!r} {version} is not {_MAGIC!r} {_VERSION}")
            at = _HEAD.size + size
            ids = json.loads(raw[_HEAD.size : at])
            if not isinstance(ids, list) or len(ids) != count:
                raise ValueError("the band keys' items are not a list of their count")
            times = array("d")
            times.frombytes(raw[at : at + 8 * count])
            at += 8 * count
            spans = [_RUN.unpack_from(raw, at + n * _RUN.size) for n in range(run_count)]
            at += run_count * _RUN.size
            runs: list[Run] = []
            for start, end, entries_count in spans:
                if not start <= end <= count:
                    raise ValueError(f"a run of positions {start}-{end} among {count}")
                entries = array("Q")
                entries.frombytes(raw[at : at + 8 * entries_count])
                at += 8 * entries_count
                runs.append((start, end, entries))
        except (struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the band keys cannot be read: {exc}") from exc
        if at != len(raw) or len(times) != count:
            raise ValueError(f"the band keys take {len(raw)} bytes, not {at}")
        if _SWAP:
            times.byteswap()
            for _start, _end, entries in runs:
                entries.byteswap()
        return cls([None if i is None else str(i) for i in ids], times, runs)


def _append_run(ids: list[str | None], times: array[float], items: list[tuple[str, float, list[int]]]) -> Run:
    """List ``items`` (id, time, hashes) in the order of time (then id) at the end of ``ids``
    and ``times``; their run."""
    start = len(ids)
    entries: list[int] = []
    for n, (ident, when, hashes) in enumerate(sorted(items, key=lambda item: (item[1], item[0]))):
        ids.append(ident)
        times.append(when)
        entries.extend([h << 32 | (start + n) for h in hashes])
    entries.sort()
    return start, len(ids), array("Q", entries)


def _live(ids: list[str | None], times: array[float], runs: list[Run]) -> list[tuple[str, float, list[int]]]:
    """The live items of ``runs`` (id, time, hashes), the hashes read back from the entries."""
    hashes: dict[int, list[int]] = {}
    for _start, _end, entries in runs:
        for entry in entries:
            position = entry & _POSITION
            if ids[position] is not None:
                hashes.setdefault(position, []).append(entry >> 32)
    found = []
    for start, end, _entries in runs:
        for position in range(start, end):
            ident = ids[position]
            if ident is not None:
                found.append((ident, times[position], hashes.get(position, [])))
    return found


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
