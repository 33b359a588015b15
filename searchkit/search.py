"""The read side: one searcher kept open on an index, and the order of a search's steps.

One Whoosh searcher is kept open and reused; before each call it is refreshed if a writer has
committed since, and reopened if a rebuild switched the index to a new generation. Calls are
serialised by a lock, which makes one ``Reader`` safe to share between threads.

Each step lives in a module of its own: parsing (searchkit/queries.py), match sets
(matches.py), ranking (ranking.py), field sorts (ordering.py), facets (facets.py), hits and
snippets (hits.py), spelling (suggest.py) and related items (related.py). What they keep
between calls is in one ``IndexCaches`` (cache.py), moved on to each new commit here.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from time import sleep
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from whoosh.searching import Searcher

from .boosts import Boosts, Factors, ValuesCache
from .cache import IndexCaches
from .checksums import damage_error, verify_reader
from .cursors import Cursor, capture, frozen, relevance_key, signature
from .cursors import check as check_cursor
from .errors import (
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    ItemNotFoundError,
    QueryError,
    SearchkitError,
)
from .explain import Explainer, matches_doc, no_match_reason
from .facets import FacetCounter
from .hits import HitBuilder, stored_item, stored_json
from .limits import Vocabulary, expand_terms
from .matches import FILTER_CACHE_SIZE, Matches
from .models import (
    Completions,
    Explained,
    IndexInfo,
    NewsItem,
    RelatedResults,
    SearchResults,
    TrendingResults,
)
from .options import SORTS, Filters, check_facet_names, check_page
from .ordering import OrderCache, index_info, newest_of, segments_key
from .postings import NORMS_CACHE_SIZE, POSTINGS_CACHE_SIZE, Norms, Postings, postings_weight
from .queries import Parser, matches_all
from .ranking import Ranker
from .schema import F, make_weighting
from .store import IndexLocation, open_whoosh
from .storyview import Story, StoryList, StoryMap, StoryView, collapsed
from .suggest import CORRECTIONS_CACHE_SIZE, complete, did_you_mean
from .trending import Context, TrendingCache, Window, find_trending

if TYPE_CHECKING:  # loaded on first use: not on the search path
    from .related import RelatedCache

#: How often opening the index is tried while a writer replaces files under it.
REFRESH_ATTEMPTS = 5

Result = TypeVar("Result")
Params = ParamSpec("Params")


def _naming_damage(
    method: Callable[Concatenate[Reader, Params], Result],
) -> Callable[Concatenate[Reader, Params], Result]:
    """A read that fails inside Whoosh (a zlib, unpickling or decoding error, a postings block
    that does not parse) checks the index fully: if a file is damaged, the failure is an
    ``IndexCorruptError`` naming it, not the library's traceback."""

    @functools.wraps(method)
    def wrapper(self: Reader, /, *args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return method(self, *args, **kwargs)
        except SearchkitError:
            raise
        except Exception as exc:
            gen = self._gen
            error = None if gen is None else damage_error(gen, exc, required=self._checked)
            if error is None:
                raise
            self._drop_searcher()
            raise error from exc

    return wrapper


class Reader:
    """Searches one index directory, following its commits and rebuilds."""

    def __init__(self, location: IndexLocation) -> None:
        self.location = location
        self._lock = threading.RLock()
        self._gen: Path | None = None
        self._checked = False  # whether the open generation's commits all have checksums
        self._ix: Any = None
        self._searcher: Searcher | None = None
        self._parser: Parser | None = None
        self._caches = IndexCaches()
        self._facets = FacetCounter(self._caches)
        self._orders = OrderCache(self._caches)
        self._ranker = Ranker(Norms(self._caches.cache(NORMS_CACHE_SIZE)), self._orders)
        self._match_cache = self._caches.cache(FILTER_CACHE_SIZE)
        self._corrections = self._caches.cache(CORRECTIONS_CACHE_SIZE)
        self._postings = self._caches.cache(POSTINGS_CACHE_SIZE, weigh=postings_weight)
        self._related: RelatedCache | None = None
        self._values = ValuesCache(self._caches)
        self._vocabulary = Vocabulary(self._caches)
        self._hits = HitBuilder()
        self._trending = TrendingCache(self._caches)
        self._stories = StoryView(self._caches, self._orders)
        self._refresh()

    # -- searcher management ----------------------------------------------------------------

    def _refresh(self) -> Searcher:
        """The searcher on the index's current state: refreshed after a commit, reopened after
        a rebuild. A writer may replace or delete files while this looks at them (a rebuild
        removes the old generation, a merge old segments), so a failed attempt is retried on
        the state that replaced it."""
        for attempt in range(REFRESH_ATTEMPTS):
            try:
                return self._refresh_once()
            except (IndexNotFoundError, IndexVersionError):
                raise
            except Exception as exc:
                if attempt + 1 == REFRESH_ATTEMPTS:
                    if isinstance(exc, SearchkitError):
                        raise
                    gen = self.location.current()
                    damage = None if gen is None else damage_error(gen, exc, required=True)
                    if damage is not None:
                        raise damage from exc
                    raise IndexCorruptError(
                        f"cannot read the index in {self.location}: {exc}; run `searchkit index --rebuild`"
                    ) from exc
                self._drop_searcher()
                sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    def _refresh_once(self) -> Searcher:
        if self._searcher is not None:
            # The usual case, cheaply: the same generation (checked when it was opened) and no
            # commit since.
            with contextlib.suppress(IndexCorruptError):
                if self.location.current() == self._gen and self._searcher.up_to_date():
                    return self._searcher
        gen = self.location.require()
        if self._searcher is not None and gen == self._gen:
            if self._searcher.up_to_date():
                return self._searcher
            # A newer commit in the same folder. Not Searcher.refresh(): the readers it means
            # to reuse are keyed by generation, which all segments share, so it closes only
            # one of the old segment readers and leaves the others' files open.
            ix = self._ix
        else:
            ix = open_whoosh(gen)
        required = self.location.checksums_required(gen)
        try:
            searcher = ix.searcher(weighting=make_weighting())
        except Exception as exc:  # damaged segment files
            raise damage_error(gen, exc, required=required) or IndexCorruptError(
                f"cannot read the index in {gen}: {exc}; run `searchkit index --rebuild`"
            ) from exc
        try:
            # Cheaply: sizes, and whole the small files (columns, TOC) whose damage would give
            # wrong answers rather than errors.
            verify_reader(gen, searcher.reader(), ix, full=False, required=required)
        except BaseException:
            searcher.close()
            raise
        if self._searcher is not None:
            self._searcher.close()
        if ix is not self._ix or self._parser is None:
            # Whoosh's Index.schema reads the index's table of contents: the searcher's is kept
            self._parser = Parser(searcher.schema)
        self._gen, self._searcher, self._ix, self._checked = gen, searcher, ix, required
        self._caches.advance(segments_key(searcher.reader()))
        return searcher

    def _drop_searcher(self) -> None:
        if self._searcher is not None:
            with contextlib.suppress(Exception):  # its files may be gone already
                self._searcher.close()
            self._searcher = None
            self._gen = None

    def close(self) -> None:
        with self._lock:
            self._drop_searcher()

    # -- searching --------------------------------------------------------------------------

    @_naming_damage
    def search(
        self,
        text: str,
        *,
        filters: Filters,
        sort: str | None,
        limit: int,
        page: int,
        facets: Sequence[str] = (),
        facet_limit: int = 10,
        boosts: Boosts | None = None,
        explain: bool = False,
        after: str | None = None,
        collapse: bool = False,
    ) -> SearchResults:
        check_page(limit, page)
        if facet_limit < 1:
            raise QueryError(f"invalid facet limit {facet_limit}: use 1 or more")
        facet_specs = check_facet_names(facets)
        everything = matches_all(text)
        sort = sort or ("newest" if everything else "relevance")
        if sort not in SORTS:
            raise QueryError(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)}")
        if everything and sort == "relevance":
            sort = "newest"  # every item scores the same: ties go to the newest
        cursor = Cursor.decode(after) if after is not None else None
        if cursor is not None and page != 1:
            raise QueryError("give either a page or a cursor (after), not both")
        search_signature = signature(text, sort, filters, boosts, collapse)
        if cursor is not None:
            check_cursor(cursor, search_signature, sort)
        stats = cursor.statistics if cursor is not None else None
        with self._lock:
            searcher = self._refresh()
            reader = searcher.reader()
            with frozen(searcher, stats):  # a cursor's page scores as its first page did
                parsed = expand_terms(self.parse(text), reader, self._vocabulary)
                postings = Postings(reader, self._postings, self._caches.generation)
                matches = Matches(
                    searcher, parsed, filters, self._match_cache, self._caches.generation, postings
                )
                factors = None
                if sort == "relevance" and boosts is not None and boosts.active:
                    # Boosts change relevance only: a field sort ignores them.
                    values = self._values.get(reader)
                    if stats is not None:
                        values, boosts = (
                            replace(values, pivots=stats.pivots),
                            replace(boosts, as_of=stats.as_of),
                        )
                    factors = Factors(boosts, values)
                stories = self._story_map(searcher)
                story_total = None

                def key_of(doc: int, score: float) -> tuple[Any, ...]:
                    if sort == "relevance":
                        return relevance_key(score, newest_of(reader, doc))
                    return self._orders.key(reader, sort, doc)

                if collapse:
                    story_total = len(stories.stories_of(matches.all()))
                    shown, more = collapsed(
                        lambda n: self._rank(searcher, parsed, matches, postings, sort, n, factors, None),
                        stories,
                        matches.total,
                        0 if cursor is not None else (page - 1) * limit,
                        limit,
                        None if cursor is None else (lambda doc, score: key_of(doc, score) <= cursor.key),
                    )
                elif cursor is None:
                    wanted = page * limit
                    ranked = self._rank(searcher, parsed, matches, postings, sort, wanted, factors, None)
                    shown = ranked[(page - 1) * limit : wanted]
                    more = (page - 1) * limit + len(shown) < matches.total
                else:
                    ranked = self._rank(
                        searcher, parsed, matches, postings, sort, limit + 1, factors, cursor.key
                    )
                    shown, more = ranked[:limit], len(ranked) > limit
                terms = self._hits.terms(parsed, searcher)
                explainer = Explainer(searcher, self._ranker, postings) if explain else None
                hits = tuple(
                    self._stories.decorate(
                        self._hits.hit(
                            stored_json(searcher, doc),
                            score,
                            terms,
                            explainer.score(parsed, doc, factors) if explainer is not None else None,
                        ),
                        searcher,
                        stories,
                        doc,
                        collapse,
                    )
                    for doc, score in shown
                )
                next_cursor = None
                if more and shown:
                    key = key_of(*shown[-1])
                    pivots = dict(factors.values.pivots) if factors is not None else {}
                    recency = boosts is not None and boosts.half_life is not None
                    as_of = boosts.as_of if boosts is not None and recency else None
                    statistics = stats or capture(searcher, parsed, as_of, pivots)
                    next_cursor = Cursor(search_signature, sort, key, statistics).encode()
            counted = (
                self._facets.count(reader, facet_specs, matches.without, facet_limit) if facet_specs else {}
            )
            suggestion = (
                None if everything else self._did_you_mean(searcher, text, filters, matches, postings)
            )
        return SearchResults(
            query=text,
            total=matches.total,
            page=page,
            page_size=limit,
            hits=hits,
            facets=counted,
            suggestion=suggestion,
            next_cursor=next_cursor,
            stories=story_total,
        )

    @_naming_damage
    def stories(self, text: str, *, filters: Filters, min_size: int, limit: int) -> StoryList:
        """The stories with an item that matches, largest first, then the newest."""
        check_page(limit)
        with self._lock:
            searcher = self._refresh()
            reader = searcher.reader()
            parsed = expand_terms(self.parse(text), reader, self._vocabulary)
            generation = self._caches.generation
            matches = Matches(searcher, parsed, filters, self._match_cache, generation, Postings(reader))
            return self._stories.listing(searcher, self._story_map(searcher), matches.all(), min_size, limit)

    @_naming_damage
    def story(self, story_or_item: str) -> Story:
        """A story by its id (or an id it was merged from), or the story of an item."""
        with self._lock:
            searcher = self._refresh()
            stories = self._story_map(searcher)
            number = stories.number_of(story_or_item)
            if number is None:
                number = stories.story[self._docnum(searcher, story_or_item, "story, item id or url")]
            return self._stories.story(searcher, stories, number)

    def _story_map(self, searcher: Searcher) -> StoryMap:
        assert self._gen is not None
        return self._stories.map(self._gen, searcher, self._ix)

    def _rank(
        self,
        searcher: Searcher,
        parsed: Any,
        matches: Matches,
        postings: Postings,
        sort: str,
        wanted: int,
        factors: Factors | None,
        after: Sequence[Any] | None,
    ) -> list[tuple[int, float]]:
        """The first ``wanted`` matches in ``sort`` order with their scores (after a cursor's
        key, with ``after``)."""
        if sort == "relevance":
            return self._ranker.by_relevance(searcher, parsed, matches, postings, wanted, factors, after)
        reader = searcher.reader()
        if after is None:
            docs = self._orders.top(reader, sort, matches.all(), matches.total, wanted)
        else:
            docs = self._orders.after(reader, sort, matches.all(), after, wanted)
        return self._ranker.page_scores(searcher, parsed, postings, docs)

    @_naming_damage
    def explain(self, text: str, id_or_url: str, *, filters: Filters, boosts: Boosts | None) -> Explained:
        """Why one item scores what it does for a query, whether or not it is on the first
        page; or, when it does not match, why: the filters that exclude it, or the query's
        words it lacks."""
        with self._lock:
            searcher = self._refresh()
            doc = self._docnum(searcher, id_or_url)
            parsed = expand_terms(self.parse(text), searcher.reader(), self._vocabulary)
            postings = Postings(searcher.reader())
            factors = (
                Factors(boosts, self._values.get(searcher.reader())) if boosts and boosts.active else None
            )
            ident = searcher.stored_fields(doc)[F.ID]
            parts, described = filters.parts(), filters.describe()
            excluded = [
                described[name] for name, part in parts.items() if not matches_doc(searcher, part, doc)
            ]
            explanation = Explainer(searcher, self._ranker, postings).score(parsed, doc, factors)
            reasons = []
            if explanation is None:
                reasons.append(no_match_reason(searcher, parsed, doc, postings))
            if excluded:
                reasons.append(
                    f"excluded by the filter{'s' if len(excluded) > 1 else ''} {'; '.join(excluded)}"
                )
            matched = not reasons
            return Explained(
                query=text,
                id=ident,
                matches=matched,
                score=explanation.value if explanation is not None and matched else None,
                explanation=explanation,
                reason="; ".join(reasons) if reasons else None,
            )

    def parse(self, text: str) -> Any:
        """The parsed and rewritten query (searchkit/queries.py)."""
        assert self._parser is not None  # made by the first refresh
        return self._parser.parse(text)

    def _did_you_mean(
        self, searcher: Searcher, text: str, filters: Filters, matches: Matches, postings: Postings
    ) -> str | None:
        """The corrected query when it matches more items (suggest.did_you_mean), counted as
        the search's matches are."""

        def count(corrected: str) -> int:
            parsed = expand_terms(self.parse(corrected), searcher.reader(), self._vocabulary)
            generation = self._caches.generation
            return Matches(searcher, parsed, filters, self._match_cache, generation, postings).total

        generation = self._caches.generation
        return did_you_mean(searcher, text, matches.total, count, self._corrections, generation)

    @_naming_damage
    def trending(
        self, text: str, *, filters: Filters, window: Window, by: str, score: str, limit: int
    ) -> TrendingResults:
        """Values more frequent in a window than before it (searchkit/trending.py)."""
        with self._lock:
            searcher = self._refresh()
            parsed = expand_terms(self.parse(text), searcher.reader(), self._vocabulary)
            caches = (self._match_cache, self._caches.generation, self._facets, self._trending)
            context = Context(searcher, parsed, *caches, self._story_map(searcher))
            return find_trending(context, filters=filters, window=window, by=by, score=score, limit=limit)

    # -- items ------------------------------------------------------------------------------

    @_naming_damage
    def related(self, id_or_url: str, *, limit: int) -> RelatedResults:
        """The item, then items related to it: listed, backlinks, similar."""
        from .related import RelatedCache, find_related  # loaded on first use

        check_page(limit)
        with self._lock:
            searcher = self._refresh()
            if self._related is None:
                self._related = RelatedCache(self._caches)
            docnum = self._docnum(searcher, id_or_url)
            data = stored_json(searcher, docnum)
            found = find_related(
                searcher,
                docnum,
                stored_item(searcher, docnum),
                limit=limit,
                cache=self._related,
                stories=self._story_map(searcher),
            )
            return RelatedResults(item=self._hits.hit(data, 0.0, frozenset()), related=found)

    @_naming_damage
    def complete(self, prefix: str, *, limit: int) -> Completions:
        """Completions of ``prefix`` from title words and topics, most frequent first."""
        check_page(limit)
        with self._lock:
            searcher = self._refresh()
            labels = self._facets.labels(searcher.reader()).get("topics", {})
            return Completions(prefix=prefix, completions=complete(searcher, prefix, labels, limit=limit))

    @staticmethod
    def _docnum(searcher: Searcher, id_or_url: str, what: str = "item with id or url") -> int:
        for field in (F.ID, F.URL):
            docnum = searcher.document_number(**{field: id_or_url})
            if docnum is not None:
                return int(docnum)
        raise ItemNotFoundError(f"no {what} {id_or_url!r} in the index")

    @_naming_damage
    def get(self, id_or_url: str) -> NewsItem:
        """The item with this id or url (ids are tried first)."""
        with self._lock:
            searcher = self._refresh()
            return stored_item(searcher, self._docnum(searcher, id_or_url))

    @_naming_damage
    def info(self) -> IndexInfo:
        with self._lock:
            searcher = self._refresh()
            assert self._gen is not None
            reader = searcher.reader()
            meta = self.location.read_meta(self._gen)
            return index_info(str(self.location), self._gen, meta, reader, self._values.get(reader).pivots)
