"""Saved searches: a search kept under a name, and what entered the index since it last ran.

A saved search is a query with its filters and sort, as ``SearchIndex.search`` takes them, and
a *mark*: an index time (searchkit/manifest.py). ``run`` returns the items that match and whose
content entered the index after the mark: items new to the index, and items whose content
changed since (``updated``). Then it moves the mark to the latest index time of the commit it
saw. The first run counts from the index time the search was added at.

"Entered the index" is index time, not publication time: an item that arrives late with an old
date is new. Marks and the times they are compared with are both index times, never the
caller's clock, and a run takes the items up to its new mark only, whatever commits happen
while it runs: each version of an item is returned by one run (without ``peek``). Index times
are kept through updates of unchanged content, broken files keeping their last good version
and rebuilds, so none of those makes old items new again.

The saved searches of an index live in one file in its directory (``store.SAVED``, beside the
generations, so that rebuilds keep them), with a format version. Every change replaces the
file atomically (``store.write_atomic``) under the index's write lock, taken for the write
only: a process killed at any moment leaves the old file or the new one, never a mixture.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from .errors import IndexCorruptError, QueryError, SavedSearchError
from .manifest import EnteredBetween, read_manifest, stamp_time, time_stamp
from .models import JsonModel, SearchResults, format_datetime, parse_datetime
from .options import FILTER_PARAMS, MAX_LIMIT, Filters, check_page, shown, with_filter_parameters
from .store import SAVED, IndexLocation, open_whoosh, write_atomic

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .options import FilterArguments
    from .search import Reader

#: The version of the saved searches file this searchkit writes and reads.
FORMAT = 1

#: A saved search's name: 1 to 64 ASCII letters, digits, ``-``, ``_`` and ``.``, not starting
#: with ``.``: safe in a file, a shell, a url and a log line.
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")

#: How a run's restriction to new items is named among its filters.
_NEW = "new since the mark"


@dataclass(frozen=True)
class SavedSearch(JsonModel):
    """A saved search: ``query``, ``sort`` and ``filters`` as ``SearchIndex.search`` takes
    them (dates as ISO 8601 text), when it was added, its mark ``since`` (its next run returns
    the matching items that entered the index after it; None: since the index began) and the
    time of its last run (None: never)."""

    name: str
    query: str
    sort: str | None
    filters: dict[str, Any]
    created: datetime
    since: datetime | None
    last_run: datetime | None


@dataclass(frozen=True)
class SavedRun:
    """One run of a saved search: the matching items whose content entered the index after
    ``since`` (the mark before the run) and at or before ``until`` (the mark the run moves it
    to: the latest index time of the commit it saw), as search results (``results.total``
    counts them all). ``added`` of them are new to the index, ``updated`` were in it before
    ``since`` and changed since: ``updated_ids`` holds those among ``results.hits``.
    ``peek``: the mark was left where it was."""

    name: str
    since: datetime | None
    until: datetime | None
    results: SearchResults
    added: int
    updated: int
    updated_ids: frozenset[str]
    peek: bool

    def to_dict(self) -> dict[str, Any]:
        """The search's JSON, each hit with ``updated``, after the run's own keys."""
        data = self.results.to_dict()
        for hit in data["hits"]:
            hit["updated"] = hit["id"] in self.updated_ids
        return {
            "saved": self.name,
            "since": format_datetime(self.since),
            "until": format_datetime(self.until),
            "new": {"added": self.added, "updated": self.updated},
            "peek": self.peek,
            **data,
        }


def check_name(name: object) -> str:
    """``name`` if it is a valid saved search name; raises ``SavedSearchError`` saying why not."""
    rule = f"1 to {MAX_NAME} letters, digits, '-', '_' or '.', not starting with '.'"
    if not isinstance(name, str) or not name:
        raise SavedSearchError(f"a saved search needs a name: {rule}")
    if len(name) > MAX_NAME:
        raise SavedSearchError(
            f"the saved search name {shown(name)} is too long ({len(name)} characters): use {rule}"
        )
    if not _NAME.fullmatch(name):
        raise SavedSearchError(f"invalid saved search name {shown(name)}: use {rule}")
    return name


class SavedSearches:
    """The saved searches of one index: ``SearchIndex.saved``."""

    def __init__(self, location: IndexLocation, read: Callable[[], Reader], *, lock_timeout: float) -> None:
        self._location = location
        self._path = location.path / SAVED
        self._read = read
        self._lock_timeout = lock_timeout
        #: (commit, (its latest index time, id -> first index time)): see ``_times``.
        self._cached: tuple[tuple[str, int], tuple[int, dict[str, int]]] | None = None

    @with_filter_parameters
    def add(
        self, name: str, query: str = "", *, sort: str | None = None, **filters: Unpack[FilterArguments]
    ) -> SavedSearch:
        """Save a search under ``name``: ``query``, ``sort`` and the filters as ``search``
        takes them (a span such as ``since="7d"`` counts back from each run). Its first run
        returns what enters the index from now on. Raises ``SavedSearchError`` for an invalid
        or taken name, ``QueryError`` for a query, filter or sort that does not work."""
        check_name(name)
        if not isinstance(query, str):
            raise QueryError(f"invalid query {shown(query)}: use a string")
        stored = _stored_filters(filters)
        # Refused now, not at its first run: the query, its filters and its sort must work.
        self._read().search(query, filters=Filters.from_arguments(stored), sort=sort, limit=1, page=1)
        latest, _first = self._times()
        now = format_datetime(datetime.now(timezone.utc))
        entry = {
            "query": query,
            "sort": sort,
            "filters": stored,
            "created": now,
            "mark": latest,
            "last_run": None,
        }
        with self._location.lock(self._lock_timeout):
            searches = self._load()
            if name in searches:
                raise SavedSearchError(
                    f"a saved search named {name!r} exists already; remove it first "
                    f"(`searchkit saved remove {name}`) or choose another name"
                )
            searches[name] = entry
            self._save(searches)
        return _model(self._path, name, entry)

    def list(self) -> tuple[SavedSearch, ...]:
        """Every saved search, by name."""
        return tuple(_model(self._path, name, entry) for name, entry in sorted(self._load().items()))

    def get(self, name: str) -> SavedSearch:
        """The saved search ``name``; raises ``SavedSearchError`` when there is none."""
        return _model(self._path, name, self._entry(self._load(), name))

    def remove(self, name: str) -> SavedSearch:
        """Remove the saved search ``name`` and return it; raises ``SavedSearchError`` when
        there is none."""
        with self._location.lock(self._lock_timeout):
            searches = self._load()
            removed = _model(self._path, name, self._entry(searches, name))
            del searches[name]
            self._save(searches)
        return removed

    def run(self, name: str, *, peek: bool = False, limit: int | None = None) -> SavedRun:
        """The matching items that entered the index since the last run of ``name`` (since it
        was added, for the first run), in its sort order, then move its mark past them unless
        ``peek``. ``limit`` returns the first so many (``total`` and the counts still count
        all, and the mark moves past all); None returns them all. Raises ``SavedSearchError``
        for an unknown name, ``QueryError`` naming the saved search when its query or filters
        no longer work (a wildcard that now matches too many words, say)."""
        if limit is not None:
            check_page(limit)
        found = self._run(self.get(name), limit)
        if not peek:
            self.acknowledge([found])
        return replace(found, peek=peek)

    def run_all(self, *, peek: bool = False, limit: int | None = None) -> tuple[SavedRun, ...]:
        """``run`` every saved search, by name; the marks move together, in one write."""
        if limit is not None:
            check_page(limit)
        found = tuple(self._run(saved, limit) for saved in self.list())
        if not peek:
            self.acknowledge(found)
        return tuple(replace(run, peek=peek) for run in found)

    def acknowledge(self, runs: Iterable[SavedRun]) -> None:
        """Move the marks of the saved searches of ``runs`` to where those runs counted to
        (``until``), as ``run`` without ``peek`` does: for a caller that acts on what a
        peeking run returned before it marks it seen, so that nothing is lost if it dies
        in between. A mark never moves back; a saved search removed since is left alone."""
        until = {run.name: time_stamp(run.until) for run in runs}
        if not until:
            return
        now = format_datetime(datetime.now(timezone.utc))
        with self._location.lock(self._lock_timeout):
            searches = self._load()
            for name, stamp in until.items():
                entry = searches.get(name)
                if entry is not None:
                    entry["mark"] = max(entry["mark"], stamp)
                    entry["last_run"] = now
            self._save(searches)

    # -- internals ----------------------------------------------------------------------------

    def _run(self, saved: SavedSearch, limit: int | None) -> SavedRun:
        mark = time_stamp(saved.since)
        latest, first = self._times()
        try:
            filters = Filters.from_arguments(saved.filters)
            new = filters.restricted(_NEW, EnteredBetween(mark, latest))
            results = self._search(saved, new, limit)
            updated_ids = frozenset(hit.id for hit in results.hits if first.get(hit.id, latest) <= mark)
            updated = len(updated_ids)
            if len(results.hits) < results.total:  # count the updated ones among the rest too
                changed = filters.restricted(_NEW, EnteredBetween(mark, latest, changed_only=True))
                updated = self._search(saved, changed, 1).total
        except QueryError as exc:
            raise QueryError(
                f"saved search {saved.name!r} no longer runs: {exc}; remove it "
                f"(`searchkit saved remove {saved.name}`) and save it again, changed"
            ) from exc
        return SavedRun(
            name=saved.name,
            since=saved.since,
            until=stamp_time(max(latest, mark)),
            results=results,
            added=results.total - updated,
            updated=updated,
            updated_ids=updated_ids,
            peek=False,
        )

    def _search(self, saved: SavedSearch, filters: Filters, limit: int | None) -> SearchResults:
        """The saved search's results with ``filters``: the first ``limit``, or all of them
        (walked by cursors, ``MAX_LIMIT`` at a time) on one page. Either way there is no next
        page: a run's cursor would page a search nobody can repeat."""
        reader = self._read()
        first = reader.search(saved.query, filters=filters, sort=saved.sort, limit=limit or MAX_LIMIT, page=1)
        if limit is not None:
            return replace(first, next_cursor=None)
        hits, page = builtins.list(first.hits), first
        while page.next_cursor is not None:
            page = reader.search(
                saved.query, filters=filters, sort=saved.sort, limit=MAX_LIMIT, page=1, after=page.next_cursor
            )
            hits += page.hits
        return replace(first, page_size=len(hits), hits=tuple(hits), next_cursor=None)

    def _times(self) -> tuple[int, dict[str, int]]:
        """The latest index time of the index's current commit, and the first index time of
        each of its items: read from the manifest column once per commit. A rebuild may
        replace the generation while it is read: then the one that replaced it is read."""
        for attempt in range(3):
            gen = self._location.require()
            try:
                ix = open_whoosh(gen)
                key = (gen.name, ix.latest_generation())
                if self._cached is not None and self._cached[0] == key:
                    return self._cached[1]
                manifest = read_manifest(ix, required=self._location.checksums_required(gen))
            except IndexCorruptError:
                if attempt == 2 or self._location.current() == gen:
                    raise
                continue
            times = (
                max((entry.changed for entry in manifest.values()), default=0),
                {ident: entry.first for ident, entry in manifest.items()},
            )
            self._cached = (key, times)
            return times
        raise AssertionError("unreachable")

    def _load(self) -> dict[str, dict[str, Any]]:
        """The saved searches file's entries, by name (empty when there is no file)."""
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise _damaged(self._path, exc) from exc
        try:
            data = json.loads(text)
            version = data["format"]
            searches = data["searches"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _damaged(self._path, exc) from exc
        if version != FORMAT:
            raise SavedSearchError(
                f"{self._path} has format {version!r}, this searchkit reads format {FORMAT}: "
                "use the searchkit that wrote it"
            )
        if not isinstance(searches, dict):
            raise _damaged(self._path, "no table of saved searches")
        for name, entry in searches.items():
            _model(self._path, name, entry)  # every entry checked when the file is read
        return searches

    def _save(self, searches: Mapping[str, Any]) -> None:
        data = {"format": FORMAT, "searches": dict(sorted(searches.items()))}
        try:
            write_atomic(self._path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise SavedSearchError(
                f"cannot write {exc.filename or self._path}: {exc.strerror or exc}; "
                "the saved searches are as they were"
            ) from exc

    @staticmethod
    def _entry(searches: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        check_name(name)
        entry = searches.get(name)
        if entry is None:
            raise SavedSearchError(f"no saved search named {name!r}; `searchkit saved list` lists them")
        return entry


def _stored_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters as ``search`` takes them, checked (``TypeError`` for a keyword that is not
    a filter's, ``QueryError`` for a bad value), as JSON: dates as ISO 8601 text."""
    Filters.from_arguments(filters)
    stored: dict[str, Any] = {}
    for key, value in filters.items():
        if isinstance(value, datetime):
            value = format_datetime(parse_datetime(value))
        elif isinstance(value, date):
            value = value.isoformat()  # a whole day, as YYYY-MM-DD is
        elif isinstance(value, (tuple, builtins.list)):
            value = builtins.list(value)
        if value is not None:
            stored[key] = value
    return stored


def _model(path: Any, name: Any, entry: Any) -> SavedSearch:
    """A saved search from its entry in the file; raises ``SavedSearchError`` for an entry
    that is not one (a file edited by hand)."""
    try:
        check_name(name)
        fields = (entry["query"], entry["sort"], entry["filters"], entry["mark"], entry["last_run"])
        query, sort, filters, mark, last_run = fields
        if not (
            isinstance(query, str)
            and (sort is None or isinstance(sort, str))
            and isinstance(filters, dict)
            and set(filters) <= set(FILTER_PARAMS)
            and isinstance(mark, int)
            and (last_run is None or isinstance(last_run, str))
        ):
            raise TypeError(f"the entry of {name!r} holds a value of the wrong type or an unknown filter")
        return SavedSearch(
            name=name,
            query=query,
            sort=sort,
            filters=filters,
            created=parse_datetime(entry["created"]),
            since=stamp_time(mark),
            last_run=None if last_run is None else parse_datetime(last_run),
        )
    except (KeyError, TypeError, ValueError, SavedSearchError) as exc:
        raise _damaged(path, exc) from exc


def _damaged(path: Any, reason: object) -> SavedSearchError:
    return SavedSearchError(
        f"cannot read the saved searches in {path} ({reason}); fix the file, or delete it to "
        "start again without saved searches"
    )
