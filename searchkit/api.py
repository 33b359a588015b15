"""``SearchIndex``: the one front door to searchkit, for the CLI and for embedding programs.

from searchkit import SearchIndex

with SearchIndex.open("index") as index:
    for hit in index.search("facial recognition", topics=["AI"], limit=5).hits:
        print(hit.title, hit.url)
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .boosts import Boosts
from .errors import IndexNotFoundError, QueryError
from .models import (
    CheckReport,
    Completions,
    Explained,
    IndexInfo,
    IndexReport,
    NewsItem,
    RelatedResults,
    SearchResults,
    TrendingResults,
)
from .options import FilterArguments, Filters, parse_story_window, with_filter_parameters
from .saved import SavedSearches
from .search import Reader
from .store import LOCK_TIMEOUT, IndexLocation
from .storyview import ShownItem, Story, StoryList
from .trending import DEFAULT_BASELINE, DEFAULT_BY, DEFAULT_SCORE, DEFAULT_WINDOW, Window

if TYPE_CHECKING:  # the indexer (Whoosh's writers, multiprocessing) loads on first write
    from typing_extensions import Unpack

    from .indexer import Indexer
    from .whoosh_internals.writers import Progress


class SearchIndex:
    """A searchkit index on disk: search it, look items up, and keep it in line with a corpus.

    Open one with ``SearchIndex.open(path)`` (the index must exist) or ``SearchIndex.create(path)``
    (creates an empty index if there is none). One searcher is reused across calls and refreshed
    when the index changes, even by another process; the object may be shared by threads.
    """

    def __init__(self, path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        """Prefer ``open`` or ``create``. ``lock_timeout`` bounds waits for another writer."""
        self._location = IndexLocation(path)
        self._lock_timeout = lock_timeout
        self._writer: Indexer | None = None
        self._reader: Reader | None = None
        self._saved: SavedSearches | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT) -> SearchIndex:
        """Open an existing index; raises ``IndexNotFoundError`` if there is none."""
        index = cls(path, lock_timeout=lock_timeout)
        index._read()
        return index

    @classmethod
    def create(cls, path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT) -> SearchIndex:
        """Open the index at ``path``, creating an empty one first if there is none."""
        index = cls(path, lock_timeout=lock_timeout)
        index._indexer.create()
        return index

    @property
    def path(self) -> Path:
        """The index directory."""
        return self._location.path

    def exists(self) -> bool:
        """True when the directory holds an index."""
        try:
            self._location.require()
        except IndexNotFoundError:
            return False
        return True

    def commit_id(self) -> str | None:
        """Names the index's latest commit on disk, the one the next search sees; None when
        there is no index. Every update, removal and rebuild (by any process) names a new one,
        and searches at one commit give the same results: answers cached under it stay right
        (``searchkit serve`` keeps them so). Cheap: file names are read, no index is opened.
        Raises ``IndexCorruptError`` when the directory's pointer to its index is damaged."""
        return self._location.commit()

    def close(self) -> None:
        """Release the searcher and its open files. The object can be reopened by using it."""
        if self._reader is not None:
            self._release()  # closes the reader (once)
            self._reader = None

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _indexer(self) -> Indexer:
        if self._writer is None:
            from .indexer import Indexer

            self._writer = Indexer(self._location, lock_timeout=self._lock_timeout)
        return self._writer

    def _read(self) -> Reader:
        if self._reader is None:
            self._reader = Reader(self._location)
            # An object dropped without close(), as in SearchIndex.open(path).search(...), still
            # closes its files when it is collected.
            self._release = weakref.finalize(self, self._reader.close)
        return self._reader

    @property
    def saved(self) -> SavedSearches:
        """The saved searches of this index (searchkit/saved.py): ``add(name, query, *,
        sort, **filters)``, ``list()``, ``get(name)``, ``remove(name)``, and ``run(name, *,
        peek, limit)``, which returns the matching items that entered the index since the
        previous run of ``name`` and moves its mark past them."""
        if self._saved is None:
            read = weakref.WeakMethod(self._read)  # not a cycle: a dropped index still closes

            def reader() -> Reader:
                method = read()
                assert method is not None  # reached through this object only
                return method()

            self._saved = SavedSearches(self._location, reader, lock_timeout=self._lock_timeout)
        return self._saved

    # -- write side -------------------------------------------------------------------------

    def update(
        self,
        corpus: str | Path,
        *,
        progress: Progress | None = None,
        story_window: str | timedelta | None = None,
    ) -> IndexReport:
        """Bring the index in line with the corpus folder: add new files, re-read changed ones,
        drop items whose files are gone. Broken files are reported, and a file that was indexed
        before keeps its last good version until it is fixed or deleted. ``story_window``
        (``"3d"``, the default): how far apart in time the items of a story may be, set when
        the index is created (a different value for an existing index raises ``QueryError``)."""
        return self._indexer.update(corpus, progress=progress, story_window=parse_story_window(story_window))

    def rebuild(
        self,
        corpus: str | Path,
        *,
        progress: Progress | None = None,
        story_window: str | timedelta | None = None,
    ) -> IndexReport:
        """Index the corpus from scratch into a new generation and switch to it when complete;
        searches keep using the old index until then. Story ids and the story window (unless
        ``story_window`` gives another) are kept from the index it replaces."""
        return self._indexer.rebuild(corpus, progress=progress, story_window=parse_story_window(story_window))

    def add_items(self, items: Iterable[NewsItem]) -> IndexReport:
        """Add items that do not come from corpus files (replacing items with the same id).
        ``update`` never deletes them."""
        return self._indexer.add_items(items)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove items by id; returns how many were found."""
        return self._indexer.remove(ids)

    # -- read side --------------------------------------------------------------------------

    @with_filter_parameters
    def search(
        self,
        query: str = "",
        *,
        sort: str | None = None,
        limit: int = 10,
        page: int = 1,
        facets: Sequence[str] = (),
        facet_limit: int = 10,
        recency: str | timedelta | None = None,
        as_of: str | datetime | None = None,
        boost: str | Sequence[str] = (),
        explain: bool = False,
        after: str | None = None,
        collapse: bool = False,
        **filters: Unpack[FilterArguments],
    ) -> SearchResults:
        """Full-text search in Whoosh query syntax, narrowed by filters.

        An empty query (or ``*``) matches every item. ``sort`` is one of ``relevance`` (the
        default with a query; ties go to the newest), ``newest`` (the default without one),
        ``oldest``, ``quality`` or ``heat`` (highest first). The filters (``FilterArguments``,
        defined in ``searchkit.options.FILTERS``) are ``topics``, ``providers`` (one value or
        several, any of them), ``category``, ``type``, ``since``/``until`` (a date, a datetime,
        ``YYYY-MM-DD``, an ISO 8601 time or a span such as ``7d``), ``min_quality`` and
        ``min_heat``; filters never change scores. ``facets`` names facets to count over every
        matching item (``topics``, ``provider``, ``category``, ``type``, ``year``, ``month``,
        ``quality``, ``heat``), each ignoring its own filter; ``facet_limit`` caps each list.
        When the query finds few or no hits and a spelling correction finds more,
        ``suggestion`` carries the corrected query.

        News-aware ranking (searchkit/boosts.py; relevance order only, a field sort ignores
        it): ``recency`` (a half-life, ``"3d"`` or a ``timedelta``) multiplies each score by
        ``0.5 ** (age / half_life)``, the age counted back from ``as_of`` (default now);
        ``boost`` (``"quality"``, ``"heat"`` or both) multiplies it by ``1 + v / (v +
        pivot)``, ``pivot`` being the field's median (``info().pivots``). ``explain`` adds to
        each hit the tree of how its score is computed.

        Deep paging: ``next_cursor`` of a result (None on the last page), given as ``after``
        to the same search, returns the next page, at a cost that does not grow with depth;
        walking by cursors returns every match once, also when items are added or removed
        between pages (searchkit/cursors.py). Raises ``QueryError`` for a query or argument
        that is not valid (a cursor of another search, a damaged one).

        Every hit carries its ``story`` (id, size, providers, first and last publication) and
        ``duplicate_of`` (searchkit/stories.py). ``collapse`` returns one hit per story, its
        best-ranked match in this order, with ``duplicates`` (how many items copy it);
        ``total`` still counts matching items, ``stories`` counts matching stories, facets
        count items; pages and cursors walk stories.
        """
        return self._read().search(
            query,
            filters=Filters.from_arguments(filters),
            sort=sort,
            limit=limit,
            page=page,
            facets=facets,
            facet_limit=facet_limit,
            boosts=Boosts.from_arguments(recency, as_of, boost),
            explain=explain,
            after=after,
            collapse=collapse,
        )

    @with_filter_parameters
    def explain(
        self,
        query: str,
        id_or_url: str,
        *,
        recency: str | timedelta | None = None,
        as_of: str | datetime | None = None,
        boost: str | Sequence[str] = (),
        **filters: Unpack[FilterArguments],
    ) -> Explained:
        """Why the item with this id or url scores what it does for ``query`` with these
        filters and boosts (as ``search`` takes them), whether or not it is on the first page;
        when it does not match, ``reason`` says why: the filters that exclude it, or the
        query's words it lacks. Raises ``ItemNotFoundError`` and ``QueryError``."""
        return self._read().explain(
            query,
            id_or_url,
            filters=Filters.from_arguments(filters),
            boosts=Boosts.from_arguments(recency, as_of, boost),
        )

    @with_filter_parameters
    def stories(
        self, query: str = "", *, min_size: int = 1, limit: int = 10, **filters: Unpack[FilterArguments]
    ) -> StoryList:
        """The stories with at least one item that matches ``query`` and the filters (as
        ``search`` takes them), largest first, then the newest; ``min_size`` leaves out smaller
        ones. Each story is given whole, its items oldest first."""
        if min_size < 1:
            raise QueryError(f"invalid minimum story size {min_size}: use 1 or more")
        return self._read().stories(
            query, filters=Filters.from_arguments(filters), min_size=min_size, limit=limit
        )

    def story(self, story_or_item: str) -> Story:
        """One story, by its id (an id it was merged from works too), or the story of the item
        with this id or url; raises ``ItemNotFoundError``."""
        return self._read().story(story_or_item)

    @with_filter_parameters
    def trending(
        self,
        query: str = "",
        *,
        window: str | timedelta = DEFAULT_WINDOW,
        as_of: str | date | datetime | None = None,
        baseline: str | timedelta = DEFAULT_BASELINE,
        by: str = DEFAULT_BY,
        score: str = DEFAULT_SCORE,
        limit: int = 10,
        **filters: Unpack[FilterArguments],
    ) -> TrendingResults:
        """The values that occur significantly more often in the items published in the
        ``window`` ending at ``as_of`` (default now; a date means the end of that day) than in
        the ``baseline`` span before it: ``by`` ``topics``, ``providers`` or ``terms`` (words
        of titles and excerpts), ranked by ``score`` (``jlh``, ``chi2`` or ``percentage``),
        best first. The query and the filters (as ``search`` takes them) narrow both sets.
        Definitions: searchkit/trending.py. Raises ``QueryError``."""
        return self._read().trending(
            query,
            filters=Filters.from_arguments(filters),
            window=Window.from_arguments(window, as_of, baseline),
            by=by,
            score=score,
            limit=limit,
        )

    def related(self, id_or_url: str, *, limit: int = 10) -> RelatedResults:
        """Items related to the item with this id or url: its own ``related`` entries
        (``listed``, in or outside the index), items that list it (``backlink``), then items
        close in content, topics and time (``similar``). Raises ``ItemNotFoundError``."""
        return self._read().related(id_or_url, limit=limit)

    def suggest(self, prefix: str, *, limit: int = 10) -> Completions:
        """Autocompletions of ``prefix`` from title words and topic values, most frequent
        first; the words before the last one are kept."""
        return self._read().complete(prefix, limit=limit)

    def show(self, id_or_url: str) -> ShownItem:
        """``searchkit show``: the full item with this id or url, its story (id, size,
        providers, first and last publication) and ``duplicate_of``; raises
        ``ItemNotFoundError``."""
        item = self.get(id_or_url)
        return ShownItem.of(item, self.story(item.id))

    def get(self, id_or_url: str) -> NewsItem:
        """The full item with this id or url; raises ``ItemNotFoundError``."""
        return self._read().get(id_or_url)

    def info(self) -> IndexInfo:
        """Number of items, size on disk, date range, last update and corpus."""
        return self._read().info()

    def check(self) -> CheckReport:
        """Verify every file of the live index against the checksums recorded with its commit
        (``searchkit check``). Damage is reported in the result (``ok`` is False, ``damaged``
        names each file and what is wrong with it), not raised; ``searchkit index --rebuild``
        repairs it. Raises ``IndexNotFoundError`` when there is no index."""
        from .checksums import check_location

        return check_location(self._location)
