"""The manifest: what the index records about each item's source, and when the item entered it.

One entry per item, in the ``F.MANIFEST`` column: ``size mtime_ns sha256 origin first changed``.
The indexer compares files with the first four (incremental updates); the last two are *index
times*, in microseconds since the Unix epoch:

- ``first``: when the item entered the index;
- ``changed``: when its current content did (``first`` for an item never changed since).

An entry written before index times were recorded has neither: both read as 0, "before any
saved search's mark". Each indexing run takes one time, its *stamp* (``next_stamp``): the
clock's, but always after every index time already in the index, so that index times only
grow whatever the clock does. Times are carried forward through what does not change content:
a touched file, a broken file keeping its last good version, ``add_items`` replacing an item
with the same content, a rebuild (``Recorded.carried``). Saved searches
(searchkit/saved.py) compare them with their marks, which are index times too
(``EnteredBetween``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import matching, query

from .checksums import damage_error, verify_reader
from .errors import IndexCorruptError, SearchkitError
from .schema import F
from .whoosh_internals.postings import column_values, live_documents

ORIGIN_FILE = "file"
ORIGIN_API = "api"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Recorded:
    """One item's manifest entry (module docstring)."""

    size: int
    mtime_ns: int
    sha: str
    origin: str
    first: int = 0
    changed: int = 0

    @classmethod
    def decode(cls, raw: bytes) -> Recorded:
        parts = raw.decode("utf-8").split(" ")
        if len(parts) == 6:  # the usual entry, with index times
            size, mtime, sha, origin, first_text, changed_text = parts
            first, changed = int(first_text), int(changed_text)
        else:  # one written before index times (or a damaged one: the same error as ever)
            size, mtime, sha, origin, *times = parts
            first, changed = (int(times[0]), int(times[1])) if len(times) == 2 else (0, 0)
        # What cls(...) makes, without the six calls a frozen dataclass's __init__ makes to set
        # its fields (about a quarter of the time of decoding an entry).
        record = object.__new__(cls)
        vars(record).update(
            size=int(size), mtime_ns=int(mtime), sha=sha, origin=origin, first=first, changed=changed
        )
        return record

    def encode(self) -> str:
        return f"{self.size} {self.mtime_ns} {self.sha} {self.origin} {self.first} {self.changed}"

    def carried(self, before: Recorded | None, stamp: int) -> Recorded:
        """This entry, for content indexed by the run of ``stamp``, with the index times of
        ``before`` (what the index recorded for the item until now) carried forward: a new
        item enters now; an item keeps its first time, and its changed time when its content
        (``sha``) is the same."""
        if before is None:
            return replace(self, first=stamp, changed=stamp)
        return replace(self, first=before.first, changed=before.changed if before.sha == self.sha else stamp)


def next_stamp(records: Iterable[Recorded]) -> int:
    """The index time of a run that writes into an index holding ``records``: now, or just
    after the latest index time among them if the clock says otherwise."""
    latest = max((record.changed for record in records), default=0)
    return max(time.time_ns() // 1000, latest + 1)


def stamp_time(stamp: int) -> datetime | None:
    """An index time as an aware UTC datetime; None for 0 (no time: before any)."""
    return _EPOCH + timedelta(microseconds=stamp) if stamp > 0 else None


def time_stamp(moment: datetime | None) -> int:
    """The index time of a datetime ``stamp_time`` gave (exactly: both count microseconds)."""
    return 0 if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def read_manifest(ix: whoosh_index.Index, *, required: bool) -> dict[str, Recorded]:
    """id -> the manifest entry of every item of the index's latest commit, read from the
    columns once the commit is verified as a reader verifies it when it opens (``required``:
    the commit must have checksums)."""
    result: dict[str, Recorded] = {}
    folder = Path(ix.storage.folder)
    try:
        with ix.reader() as reader:
            verify_reader(folder, reader, ix, full=False, required=required)
            for segment_reader, _offset in reader.leaf_readers():
                if not segment_reader.has_column(F.MANIFEST):
                    continue  # an empty index
                # Both columns read whole (their raw bytes), each value decoded as Whoosh's
                # column reader decodes it (an id is UTF-8), for live documents only.
                size = segment_reader.doc_count_all()
                ids = column_values(segment_reader.column_reader(F.ID, translate=False), size)
                manifest = column_values(segment_reader.column_reader(F.MANIFEST, translate=False), size)
                for docnum in live_documents(segment_reader):
                    raw = manifest[docnum]
                    if raw:
                        result[ids[docnum].decode("utf-8")] = Recorded.decode(raw)
    except SearchkitError:
        raise
    except Exception as exc:  # damaged segment files: Whoosh raises EOFError, struct errors...
        raise damage_error(folder, exc, required=required) or IndexCorruptError(
            f"cannot read the index in {folder}: {exc}; run `searchkit index --rebuild`"
        ) from exc
    return result


class EnteredBetween(query.Query):  # type: ignore[misc]  # Whoosh ships no type hints
    """A filter: the items whose current content entered the index after the index time
    ``after`` and at or before ``until`` (their ``changed`` time), new items and changed ones;
    with ``changed_only``, only those that were in the index at ``after`` already (their
    ``first`` time is not after it). Read from the manifest column of each segment; as a
    filter its matches are cached per commit (searchkit/matches.py), never scored."""

    def __init__(self, after: int, until: int, *, changed_only: bool = False) -> None:
        self.after = after
        self.until = until
        self.changed_only = changed_only

    def __repr__(self) -> str:
        return f"EnteredBetween({self.after}, {self.until}, changed_only={self.changed_only})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnteredBetween) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        """The matching documents of ``searcher``'s segment (Whoosh hands a query one segment
        at a time)."""
        reader = searcher.reader()
        if not reader.has_column(F.MANIFEST):
            return matching.NullMatcher()
        manifest = reader.column_reader(F.MANIFEST)
        after, until, changed_only = self.after, self.until, self.changed_only
        found = []
        for docnum in reader.all_doc_ids():
            parts = manifest[docnum].split(b" ")
            if len(parts) != 6:
                continue  # no index times: entered before any mark
            changed = int(parts[5])
            if after < changed <= until and (not changed_only or int(parts[4]) <= after):
                found.append(docnum)
        return matching.ListMatcher(found) if found else matching.NullMatcher()
