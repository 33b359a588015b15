"""Cursors for deep paging: the next page after the last hit of this one, stable under updates.

An offset page (``page=500``) ranks 500 pages of hits to show the last; a cursor (``after=``)
holds the sort key of the last hit shown, and the next page is the first ``limit`` matches
whose key comes after it: its cost does not grow with depth. Keys are total orders that do not
depend on Whoosh's document numbers (which change when segments merge):

- ``newest``: (undated, -date, id); ``oldest``: (undated, date, id);
  ``quality``/``heat``: (no value, -value, undated, -date, id) (``ordering.py``);
- ``relevance``: (-score, undated, -date, id): ties go to the newest, as on offset pages.

When items are added or removed between pages (Elasticsearch's ``search_after`` needs a point
in time for this), an item that stays in the index is neither skipped nor repeated: its key
cannot move. A field's value is the item's own; a score also depends on the collection (idf,
average lengths, and for boosts the time ``as_of`` and the pivots), so the cursor carries the
statistics the first page was scored with, and every later page scores with them.

A cursor is opaque: URL-safe base64 of compressed JSON, holding a signature of the search
(query, sort, filters, boosts); a cursor given to another search, or a damaged one, is a
``QueryError``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import QueryError
from .models import format_datetime, parse_datetime

_VERSION = 1


@dataclass(frozen=True)
class Statistics:
    """What scores depend on beyond the item: each term's idf and each field's average length
    (the first page's), and for boosts the reference time and the pivots."""

    idf: dict[tuple[str, bytes], float] = field(default_factory=dict)
    average: dict[str, float] = field(default_factory=dict)
    as_of: datetime | None = None
    pivots: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "idf": [[f, t.decode("utf-8", "surrogateescape"), v] for (f, t), v in self.idf.items()],
            "avg": self.average,
            "as_of": format_datetime(self.as_of),
            "pivots": self.pivots,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statistics:
        return cls(
            {(str(f), str(t).encode("utf-8", "surrogateescape")): float(v) for f, t, v in data["idf"]},
            {str(k): float(v) for k, v in data["avg"].items()},
            parse_datetime(data["as_of"]) if data["as_of"] else None,
            {str(k): (None if v is None else float(v)) for k, v in data["pivots"].items()},
        )


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the search's signature, its sort, the last hit's key, and
    the statistics its scores were computed with."""

    signature: str
    sort: str
    key: tuple[Any, ...]
    statistics: Statistics

    def encode(self) -> str:
        data = {
            "v": _VERSION,
            "sig": self.signature,
            "sort": self.sort,
            "key": list(self.key),
            "stats": self.statistics.to_json(),
        }
        raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"), 9)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text.strip() + "=" * (-len(text.strip()) % 4)
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
            data = json.loads(zlib.decompress(raw))
            if data["v"] != _VERSION:
                raise ValueError("another version")
            return cls(
                str(data["sig"]), str(data["sort"]), tuple(data["key"]), Statistics.from_json(data["stats"])
            )
        except (ValueError, KeyError, TypeError, IndexError, binascii.Error, zlib.error, UnicodeError):
            raise QueryError("invalid cursor: pass `after` the next_cursor of a search, unchanged") from None


def signature(text: str, sort: str, filters: Any, boosts: Any, collapse: bool = False) -> str:
    """What a cursor is valid for: the query, the sort, the filters, the boosts' settings (not
    the time: ``as_of`` travels in the cursor's statistics) and whether hits are collapsed."""
    settings: tuple[Any, ...] = (
        text,
        sort,
        repr(filters),
        repr(getattr(boosts, "half_life", None)),
        getattr(boosts, "fields", ()),
    )
    if collapse:
        settings += ("collapse",)
    return hashlib.sha256(repr(settings).encode("utf-8")).hexdigest()[:16]


def check(cursor: Cursor, expected_signature: str, sort: str) -> None:
    if cursor.signature != expected_signature or cursor.sort != sort:
        raise QueryError(
            "invalid cursor: it belongs to another search "
            "(the query, sort, filters, boosts or collapse differ)"
        )


def capture(
    searcher: Any, parsed: Any, as_of: datetime | None, pivots: dict[str, float | None]
) -> Statistics:
    """The statistics ``parsed`` is scored with now, for the cursors of this search."""
    idf: dict[tuple[str, bytes], float] = {}
    average: dict[str, float] = {}
    try:
        terms = parsed.existing_terms(searcher.reader(), phrases=True, expand=True)
    except Exception:  # a query Whoosh cannot list the terms of: nothing to freeze
        terms = set()
    for fieldname, text in sorted(terms):
        if fieldname in searcher.schema and searcher.schema[fieldname].scorable:
            raw = text if isinstance(text, bytes) else searcher.schema[fieldname].to_bytes(text)
            idf[(fieldname, raw)] = float(searcher.idf(fieldname, raw))
            average[fieldname] = float(searcher.avg_field_length(fieldname) or 1)
    return Statistics(idf, average, as_of, dict(pivots))


@contextlib.contextmanager
def frozen(searcher: Any, statistics: Statistics | None) -> Iterator[None]:
    """Score with ``statistics`` (a cursor's) instead of the index's current ones: Whoosh's
    scorers and searchkit's read both from the top-level searcher's ``idf`` and
    ``avg_field_length``, which are replaced for the duration (the reader's lock is held)."""
    if statistics is None or not (statistics.idf or statistics.average):
        yield
        return
    idf, average = searcher.idf, searcher.avg_field_length

    def frozen_idf(fieldname: str, text: Any) -> float:
        found = statistics.idf.get(
            (fieldname, text if isinstance(text, bytes) else str(text).encode("utf-8"))
        )
        return found if found is not None else float(idf(fieldname, text))

    def frozen_average(fieldname: str, default: Any = None) -> Any:
        found = statistics.average.get(fieldname)
        return found if found is not None else average(fieldname, default)

    searcher.idf, searcher.avg_field_length = frozen_idf, frozen_average
    try:
        yield
    finally:
        del searcher.idf, searcher.avg_field_length  # the class's methods again


def relevance_key(score: float, newest: Sequence[Any]) -> tuple[Any, ...]:
    """The cursor key of a relevance hit: (-score, undated, -date, id)."""
    return (-score, *newest)
