"""The read side: parsing queries, filters and sorting, and turning matches into hits.

One Whoosh searcher is kept open and reused; before each call it is refreshed if a writer has
committed since, and reopened if a rebuild switched the index to a new generation. Calls are
serialised by a lock, which makes one ``Reader`` safe to share between threads.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from time import sleep
from typing import Any

from whoosh import query
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.qparser import (
    FieldAliasPlugin,
    FuzzyTermPlugin,
    GtLtPlugin,
    OrGroup,
    QueryParser,
    syntax,
)
from whoosh.qparser.dateparse import Choice, Combo, DateParserPlugin, English
from whoosh.searching import Searcher

from . import schema
from .errors import (
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    ItemNotFoundError,
    QueryError,
    SearchkitError,
)
from .facets import FacetCache, check_facet_names, count_facets
from .highlight import Highlighter
from .models import (
    Completions,
    Highlights,
    Hit,
    IndexInfo,
    NewsItem,
    Provider,
    RelatedResults,
    SearchResults,
    item_from_dict,
    parse_datetime,
)
from .ordering import OrderCache, bitmap, positions, segment_values, segments_key
from .postings import Norms, Postings, bm25_scores
from .schema import exact_values, make_analyzer, make_weighting
from .store import IndexLocation, open_whoosh
from .suggest import complete, correct_query
from .whoosh_internals.matching import MendedAndNotMatcher

#: Accepted values of ``sort``.
SORTS = ("relevance", "newest", "oldest", "quality", "heat")

#: How often opening the index is tried while a writer replaces files under it.
REFRESH_ATTEMPTS = 5

#: Hits fetched beyond the page to order ties in score by date.
TIE_MARGIN = 5

#: Up to this many matches, a query that is not made of words alone (a phrase, a prefix) is
#: ranked by scoring each match rather than by Whoosh's collector (see Reader._by_relevance).
SCORE_EACH_MATCH = 1000

#: Filter bitmaps kept per index state (filters repeat: topics, providers, quality...).
FILTER_CACHE_SIZE = 64

#: Largest page size a caller may ask for.
MAX_LIMIT = 1000

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HIGHLIGHT_FIELDS = {"content", "title", "excerpt", "topics", "provider"}
_ALIASES = {"published_at": ["date", "published_date"], "provider": ["source"],
            "content": ["body", "text"]}


def parse_time_bound(value: str | date | datetime, *, end: bool = False,
                     now: datetime | None = None) -> datetime:
    """Turn a ``--since``/``--until`` value into an aware UTC datetime.

    Accepts a datetime or date, ``YYYY-MM-DD`` (the whole day: its start for ``since``, its
    end for ``until``), a full ISO 8601 time, or a span back from now: ``30m``, ``24h``,
    ``7d``, ``2w``. Raises ``QueryError`` for anything else.
    """
    if isinstance(value, datetime):
        return parse_datetime(value)
    if isinstance(value, date):
        day = datetime.combine(value, time(), tzinfo=timezone.utc)
        return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    text = str(value).strip()
    span = _SPAN.match(text)
    if span:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(**{_SPAN_UNITS[span.group(2).lower()]: int(span.group(1))})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return parse_time_bound(date.fromisoformat(text), end=end)
        except ValueError:
            pass
    else:
        try:
            return parse_datetime(text)
        except ValueError:
            pass
    raise QueryError(f"invalid date {text!r}: use YYYY-MM-DD, an ISO 8601 time, "
                     "or a span like 7d or 24h")


@dataclass(frozen=True)
class Filters:
    """Restrictions that narrow a search without changing scores.

    Several ``topics`` (or ``providers``) match any of them; different filters must all hold.
    Topics, providers, category and type match case-insensitively on the exact value.
    """

    topics: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    category: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_quality: int | None = None
    min_heat: int | None = None

    def parts(self) -> dict[str, query.Query]:
        """One query per active filter, keyed by the filter's name (as facets.OWN_FILTER)."""
        parts: dict[str, query.Query] = {}
        for name, field, values in (("topics", "topic", self.topics),
                                    ("providers", "provider_exact", self.providers)):
            wanted = exact_values(values)
            if wanted:
                parts[name] = query.Or([query.Term(field, v) for v in wanted])
        for name, value in (("category", self.category), ("type", self.type)):
            wanted = exact_values([value] if value else [])
            if wanted:
                parts[name] = query.Term(name, wanted[0])
        if self.since is not None or self.until is not None:
            parts["dates"] = query.DateRange("published_at", _naive(self.since), _naive(self.until))
        if self.min_quality is not None:
            parts["min_quality"] = query.NumericRange("quality", self.min_quality, None)
        if self.min_heat is not None:
            parts["min_heat"] = query.NumericRange("heat", self.min_heat, None)
        return parts

    def to_query(self) -> query.Query | None:
        """All active filters as one query (None when there is none)."""
        parts = list(self.parts().values())
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _undated_values(schema: Any) -> frozenset[int]:
    """Raw ``published_at`` column values that mean "no date"."""
    field = schema["published_at"]
    return frozenset({0, field.column_type.default_value()})


class _GtLtPlugin(GtLtPlugin):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's ``field:>value`` plugin, lenient about ``<`` and ``>`` elsewhere in free text.

    Whoosh's own filter fails with an IndexError on a query that starts with the symbol, as the
    Reuters title "<MIRTONE INTERNATIONAL INC> 1ST QTR" does, and leaves the symbol in
    parenthesised groups, where it fails later. Here a symbol that does not follow a field name
    is dropped, at every level of grouping.
    """

    def do_gtlt(self, parser: Any, group: Any) -> Any:
        newgroup = group.empty_copy()
        i = 0
        while i < len(group):
            node = group[i]
            if isinstance(node, self.GtLtNode):
                nextnode = group[i + 1] if i + 1 < len(group) else None
                if (len(newgroup) and isinstance(newgroup[-1], syntax.FieldnameNode)
                        and nextnode is not None and nextnode.has_text):
                    newgroup.append(self.make_range(nextnode, node.rel))
                    i += 1
            elif isinstance(node, syntax.GroupNode):
                newgroup.append(self.do_gtlt(parser, node))
            else:
                newgroup.append(node)
            i += 1
        return newgroup


class _Dates(English):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's English date parser, trying numeric forms (``2023-05-01``) before words.

    Whoosh's order reads ``2023-05-01`` as the year 2023 in a range (``date:[2023-05-01 TO
    2023-09-30]`` matched all of 2023) and rejects it as a single date.
    """

    def setup(self) -> None:
        super().setup()
        self.bundle = Choice((self.plusdate, self.simple, self.datetime), name="bundle")
        self.torange = Combo((self.bundle, "to", self.bundle), name="torange")
        self.all = Choice((self.torange, self.bundle), name="all")


class Reader:
    """Searches one index directory, following its commits and rebuilds."""

    def __init__(self, location: IndexLocation) -> None:
        self.location = location
        self._lock = threading.RLock()
        self._gen: Path | None = None
        self._searcher: Searcher | None = None
        self._facet_cache = FacetCache()
        self._orders = OrderCache()
        self._highlighter = Highlighter(make_analyzer())
        self._filter_cache: dict[tuple[Any, ...], int] = {}
        self._norms = Norms()
        self._query_parser: QueryParser | None = None
        self._parser_index: Any = None
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
                    raise IndexCorruptError(f"cannot read the index in {self.location}: {exc}; "
                                            "run `searchkit index --rebuild`") from exc
                self._drop_searcher()
                sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    def _refresh_once(self) -> Searcher:
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
        try:
            searcher = ix.searcher(weighting=make_weighting())
        except Exception as exc:  # damaged segment files
            raise IndexCorruptError(f"cannot read the index in {gen}: {exc}; "
                                    "run `searchkit index --rebuild`") from exc
        if self._searcher is not None:
            self._searcher.close()
        self._gen, self._searcher, self._ix = gen, searcher, ix
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

    # -- queries ----------------------------------------------------------------------------

    def parse(self, text: str) -> query.Query:
        """Parse a user query (Whoosh syntax); empty text or ``*`` matches everything."""
        if not text.strip() or text.strip() == "*":
            return query.Every()
        parser = self._parser()
        try:
            parsed = _with_title_phrase(_exclude_negations(parser.parse(text)))
        except Exception as exc:  # Whoosh raises assorted errors on odd input
            raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
        errors = [q.error for q in parsed.leaves() if getattr(q, "error", None)]
        if isinstance(parsed, query.NullQuery.__class__) and getattr(parsed, "error", None):
            errors.append(parsed.error)  # type: ignore[attr-defined]
        if errors:
            raise QueryError(f"cannot parse query {text!r}: {errors[0]}")
        return parsed

    def _parser(self) -> QueryParser:
        """The query parser, made once per index (its date plugin's regular expressions take
        milliseconds to compile), its "now" set for each query."""
        if self._query_parser is None or self._parser_index is not self._ix:
            # Whoosh's Index.schema reads the index's table of contents: the searcher's is kept
            assert self._searcher is not None
            parser = QueryParser("content", self._searcher.schema, group=OrGroup)
            parser.add_plugin(FuzzyTermPlugin())
            parser.add_plugin(_GtLtPlugin())
            parser.add_plugin(DateParserPlugin(dateparser=_Dates(), free=False))
            parser.add_plugin(FieldAliasPlugin(_ALIASES))
            self._query_parser, self._parser_index = parser, self._ix
        for plugin in self._query_parser.plugins:
            if isinstance(plugin, DateParserPlugin):
                # An explicit "now": Whoosh's default calls datetime.utcnow(), deprecated in 3.12.
                plugin.basedate = datetime.now(timezone.utc).replace(tzinfo=None)
        return self._query_parser

    def search(self, text: str, *, filters: Filters, sort: str | None, limit: int,
               page: int, facets: Sequence[str] = (), facet_limit: int = 10) -> SearchResults:
        if limit < 1 or limit > MAX_LIMIT:
            raise QueryError(f"invalid limit {limit}: use 1 to {MAX_LIMIT}")
        if page < 1:
            raise QueryError(f"invalid page {page}: pages start at 1")
        if facet_limit < 1:
            raise QueryError(f"invalid facet limit {facet_limit}: use 1 or more")
        facet_names = check_facet_names(facets)
        matches_all = not text.strip() or text.strip() == "*"
        sort = sort or ("newest" if matches_all else "relevance")
        if sort not in SORTS:
            raise QueryError(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)}")
        if matches_all and sort == "relevance":
            sort = "newest"  # every item scores the same: ties go to the newest
        with self._lock:
            searcher = self._refresh()
            parsed = self.parse(text)
            postings = Postings(searcher.reader())
            matches = _Matches(searcher, parsed, filters, self._filter_cache, postings)
            wanted = page * limit
            if sort == "relevance":
                ranked = self._by_relevance(searcher, parsed, matches, postings, wanted)
            else:
                docs = self._orders.top(searcher.reader(), sort, matches.all(), matches.total,
                                        wanted)
                ranked = self._page_scores(searcher, parsed, postings, docs)
            terms = self._highlight_terms(parsed, searcher)
            hits = tuple(self._hit(searcher.stored_fields(doc), score, terms)
                         for doc, score in ranked[(page - 1) * limit:wanted])
            counted = (count_facets(searcher.reader(), self._facet_cache, facet_names,
                                    matches.without, facet_limit) if facet_names else {})
            suggestion = (None if matches_all
                          else self._did_you_mean(searcher, text, filters, matches.total))
        return SearchResults(query=text, total=matches.total, page=page, page_size=limit,
                             hits=hits, facets=counted, suggestion=suggestion)

    def _by_relevance(self, searcher: Searcher, parsed: query.Query, matches: _Matches,
                      postings: Postings, wanted: int) -> list[tuple[int, float]]:
        """The best ``wanted`` matches by score, ties to the newest.

        A query made of words is scored a term at a time (``_word_scores``): several times
        faster than Whoosh's collector, which scores one match at a time and can rarely skip
        a block of postings here. The optional title-phrase clause is scored apart, by
        Whoosh, for the items whose title has the phrase, and added to their scores.

        Other queries (phrases, prefixes, fuzzy terms: never with the title-phrase clause,
        which is added to plain words only) are ranked by Whoosh. With at most
        ``SCORE_EACH_MATCH`` matches, Whoosh scores each of them, found from the match set: its
        collector would walk the query's matchers again (for a phrase, through every item that
        holds its words). With more, its collector ranks them (``_whoosh_top``).
        """
        allowed = matches.allowed()
        words, bonus = _split_title_phrase(parsed)
        scores = _word_scores(searcher, words, self._norms, postings)
        if scores is not None:
            if allowed is not None:
                scores = {doc: score for doc, score in scores.items() if allowed(doc)}
            if bonus is not None:
                phrased = [doc for doc in searcher.docs_for_query(bonus)
                           if allowed is None or allowed(doc)]
                for doc, extra in self._with_scores(searcher, bonus, phrased):
                    scores[doc] = scores.get(doc, 0.0) + extra
            scored = [(doc, scores[doc]) for doc in _best(scores, wanted)]
        elif matches.total <= SCORE_EACH_MATCH:
            scores = dict(self._with_scores(searcher, parsed, positions(matches.all())))
            scored = [(doc, scores[doc]) for doc in _best(scores, wanted)]
        else:
            scored = self._whoosh_top(searcher, parsed, matches.filter_set(), wanted)
        scored.sort(key=lambda pair: -pair[1])
        if len({score for _doc, score in scored}) < len(scored):  # ties: newest first
            newest = self._orders.newest_key(searcher.reader(), [doc for doc, _ in scored])
            scored.sort(key=lambda pair: (-pair[1], newest(pair[0])))
        return scored[:wanted]

    @staticmethod
    def _whoosh_top(searcher: Searcher, q: query.Query, allowed: set[int] | None,
                    wanted: int) -> list[tuple[int, float]]:
        """The best ``wanted`` matches of ``q`` with their scores, and every match that ties
        with the last of them, by Whoosh's collector: a few extra matches are fetched, and if a tie
        could reach past those, every match is scored."""
        fetch = wanted + TIE_MARGIN
        # No "replace": Whoosh's collector swaps the query's matchers for leaner ones as its
        # minimum score rises, and for an OR inside an AND that loses some of the best matches
        # ("(oil OR gas*) AND prices" on Reuters). It still skips blocks that cannot make it.
        collector: Any = TopCollector(limit=fetch, replace=0)
        if allowed is not None:
            collector = FilterCollector(collector, allow=allowed)
        searcher.search_with_collector(q, collector)
        results = collector.results()
        scored = [(results.docnum(i), results.score(i) or 0.0)
                  for i in range(results.scored_length())]
        if len(scored) == fetch and scored[-1][1] >= scored[wanted - 1][1]:
            results = searcher.search(q, filter=allowed, limit=None)
            scored = [(results.docnum(i), results.score(i) or 0.0)
                      for i in range(results.scored_length())]
        return scored

    def _page_scores(self, searcher: Searcher, parsed: query.Query, postings: Postings,
                     docs: list[int]) -> list[tuple[int, float]]:
        """Relevance scores of a page of documents sorted by a field, as ``_by_relevance``
        scores them: every item scores the same for a match-all query (Whoosh's matcher would
        list every document to say so), and a query made of words is scored a term at a time
        from the postings its match set read, the title-phrase bonus added."""
        if type(parsed) is query.Every:
            return [(doc, float(parsed.boost or 1.0)) for doc in docs]
        words, bonus = _split_title_phrase(parsed)
        scores = _word_scores(searcher, words, self._norms, postings, sorted(docs)) if docs else None
        if scores is None:
            return self._with_scores(searcher, parsed, docs)
        extra = dict(self._with_scores(searcher, bonus, docs)) if bonus is not None else {}
        return [(doc, scores.get(doc, 0.0) + extra.get(doc, 0.0)) for doc in docs]

    @staticmethod
    def _with_scores(searcher: Searcher, parsed: query.Query,
                     docs: list[int]) -> list[tuple[int, float]]:
        """Relevance scores of the given documents (in their order)."""
        if not docs:
            return []
        # Skip the query's matcher to each document, segment by segment, rather than run a
        # search over every match (a sorted page of a big result set scores 10 documents).
        scores: dict[int, float] = {}
        wanted = sorted(docs)
        context = searcher.context(needs_current=True)
        for subsearcher, offset in searcher.leaf_searchers():
            size = subsearcher.doc_count_all()
            local = [doc - offset for doc in wanted if offset <= doc < offset + size]
            if not local:
                continue
            matcher = parsed.matcher(subsearcher, context)
            for doc in local:
                if not matcher.is_active():
                    break
                if matcher.id() < doc:
                    matcher.skip_to(doc)
                    if not matcher.is_active():
                        break
                if matcher.id() == doc:
                    scores[doc + offset] = float(matcher.score() or 0.0)
        return [(doc, scores.get(doc, 0.0)) for doc in docs]

    def _did_you_mean(self, searcher: Searcher, text: str, filters: Filters,
                      total: int) -> str | None:
        corrected = correct_query(searcher, text)
        if corrected is None:
            return None
        try:
            better = searcher.search(self.parse(corrected), filter=filters.to_query(), limit=1)
        except QueryError:
            return None
        return corrected if len(better) > total else None

    def related(self, id_or_url: str, *, limit: int) -> RelatedResults:
        """The item, then items related to it: listed, backlinks, similar."""
        from .related import find_related  # loaded on first use: not on the search path

        if limit < 1 or limit > MAX_LIMIT:
            raise QueryError(f"invalid limit {limit}: use 1 to {MAX_LIMIT}")
        with self._lock:
            searcher = self._refresh()
            docnum = self._docnum(searcher, id_or_url)
            stored = searcher.stored_fields(docnum)
            item = item_from_dict(json.loads(stored["doc"]))
            found = find_related(searcher, docnum, item, limit=limit)
            return RelatedResults(item=self._hit(stored, 0.0, frozenset()), related=found)

    def complete(self, prefix: str, *, limit: int) -> Completions:
        """Completions of ``prefix`` from title words and topics, most frequent first."""
        if limit < 1 or limit > MAX_LIMIT:
            raise QueryError(f"invalid limit {limit}: use 1 to {MAX_LIMIT}")
        with self._lock:
            searcher = self._refresh()
            labels = self._facet_cache.labels(searcher.reader()).get("topics", {})
            return Completions(prefix=prefix,
                               completions=complete(searcher, prefix, labels, limit=limit))

    @staticmethod
    def _docnum(searcher: Searcher, id_or_url: str) -> int:
        for field in ("id", "url"):
            docnum = searcher.document_number(**{field: id_or_url})
            if docnum is not None:
                return int(docnum)
        raise ItemNotFoundError(f"no item with id or url {id_or_url!r} in the index")

    def get(self, id_or_url: str) -> NewsItem:
        """The item with this id or url (ids are tried first)."""
        with self._lock:
            searcher = self._refresh()
            docnum = self._docnum(searcher, id_or_url)
            return item_from_dict(json.loads(searcher.stored_fields(docnum)["doc"]))

    def info(self) -> IndexInfo:
        with self._lock:
            searcher = self._refresh()
            assert self._gen is not None
            meta = self.location.read_meta(self._gen)
            oldest = newest = None
            reader = searcher.reader()
            if reader.doc_count():
                dates = _dates(searcher)
                if dates:
                    oldest, newest = min(dates), max(dates)
            size = sum(p.stat().st_size for p in self._gen.iterdir() if p.is_file())
            updated = meta.get("updated")
            return IndexInfo(
                index_dir=str(self.location), documents=reader.doc_count(), size_bytes=size,
                oldest=oldest, newest=newest,
                last_update=parse_datetime(updated) if updated else None,
                corpus=meta.get("corpus"),
            )

    # -- hits -------------------------------------------------------------------------------

    @staticmethod
    def _highlight_terms(parsed: query.Query, searcher: Searcher) -> frozenset[str]:
        try:
            terms = parsed.existing_terms(searcher.reader(), phrases=True, expand=True)
        except Exception:  # a query kind that cannot list its terms: highlight nothing
            return frozenset()
        words = set()
        for field, text in terms:
            if field in _HIGHLIGHT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return frozenset(words)

    def _hit(self, stored: Any, score: float, terms: frozenset[str]) -> Hit:
        data = json.loads(stored["doc"])
        published = data.get("published_at")
        title = data["title"]
        return Hit(
            id=data["id"],
            url=data.get("url", ""),
            title=title,
            excerpt=data.get("excerpt", ""),
            provider=Provider(**data.get("provider", {})),
            topics=tuple(data.get("topics", ())),
            category=data.get("category", ""),
            type=data.get("type", ""),
            published_at=parse_datetime(published) if published else None,
            quality=data.get("quality"),
            heat=data.get("heat", -1),
            score=float(score),
            highlights=Highlights(
                title=self._highlighter.mark(title, terms) or title,
                excerpt=self._snippet(data.get("excerpt", ""), data.get("body", ""), terms),
            ),
        )

    def _snippet(self, excerpt: str, body: str, terms: frozenset[str]) -> str:
        """The excerpt when it has a match, else a snippet of the body around its matches."""
        return (self._highlighter.mark(excerpt, terms)
                or self._highlighter.snippet(body, terms)
                or excerpt or _shorten(body, 240))


class _Matches:
    """The documents a query and its filters match, as bitmaps, computed once per search.

    ``without(name)`` gives the matches of the query and every filter but ``name``: what a
    facet whose own filter is ``name`` counts over (the disjunctive rule).
    """

    def __init__(self, searcher: Searcher, parsed: query.Query, filters: Filters,
                 cache: dict[tuple[Any, ...], int], postings: Postings) -> None:
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        state = (segments_key(reader), reader.doc_count())
        self.base = self._bits(searcher, parsed, state, cache, postings)
        self.filters = {name: self._bits(searcher, q, state, cache, postings)
                        for name, q in filters.parts().items()}
        self._all = self.without(None)
        self.total = self._all.bit_count()

    def _bits(self, searcher: Searcher, q: query.Query, state: tuple[Any, ...],
              cache: dict[tuple[Any, ...], int], postings: Postings) -> int:
        key = (state, repr(q))
        bits = cache.get(key)
        if bits is None:
            bits = _range_from_column(searcher.reader(), q, self.size)
            if bits is None:
                bits = _query_bits(searcher, q, self.size, postings)
            if len(cache) >= FILTER_CACHE_SIZE:
                cache.clear()
            cache[key] = bits
        return bits

    def all(self) -> int:
        return self._all

    def without(self, own: str | None) -> int:
        bits = self.base
        for name, filter_bits in self.filters.items():
            if name != own:
                bits &= filter_bits
        return bits

    def _filter_bits(self) -> int | None:
        if not self.filters:
            return None
        bits = -1
        for filter_bits in self.filters.values():
            bits &= filter_bits
        return bits

    def filter_set(self) -> set[int] | None:
        """The documents every filter allows, as Whoosh takes a filter (None: no filter)."""
        bits = self._filter_bits()
        return None if bits is None else set(positions(bits))

    def allowed(self) -> Callable[[int], bool] | None:
        """Whether every filter allows a document (None: no filter)."""
        bits = self._filter_bits()
        if bits is None:
            return None
        data = (bits & ((1 << self.size) - 1)).to_bytes((self.size + 7) // 8, "little")
        return lambda doc: bool(data[doc >> 3] >> (doc & 7) & 1)


def _range_from_column(reader: Any, q: query.Query, size: int) -> int | None:
    """The bitmap of a range filter on a sortable number or date (``--since``, ``--until``,
    ``--min-quality``, ``--min-heat``), read from the field's column; None for other queries.

    Whoosh runs a range over the indexed terms, enumerating every distinct value in it: about
    a second for two months of news, where a pass over the column takes milliseconds.
    Items without a value (0 in the column) never match.
    """
    if not isinstance(q, query.NumericRange) or q.startexcl or q.endexcl:
        return None
    if isinstance(q, query.DateRange):  # its bounds are already the column's numbers
        low, high = q.start, q.end
    else:
        field = reader.schema[q.fieldname]
        low = None if q.start is None else field.to_column_value(q.start)
        high = None if q.end is None else field.to_column_value(q.end)
    matched = []
    for segment, offset in reader.leaf_readers():
        matched += [offset + doc for doc, raw in enumerate(segment_values(segment, q.fieldname))
                    if raw and (low is None or raw >= low) and (high is None or raw <= high)]
    return bitmap(matched, size)


def _query_bits(searcher: Searcher, q: query.Query, size: int, postings: Postings) -> int:
    """The bitmap of the documents ``q`` matches.

    Whoosh's ``docs_for_query`` steps the query's matcher tree document by document, several
    Python calls per document at every OR and AND. Plain words (terms under ORs and ANDs) are
    read instead one postings list at a time and combined as bitmaps: about half the time for
    a two-word query. Other queries (phrases, ranges...) go through Whoosh.
    """
    kind = type(q)
    if kind is query.Term:
        return postings.bits(q.fieldname, q.text)
    if kind is query.Or and not getattr(q, "minmatch", 0) and q.subqueries:
        # The title-phrase clause matches a subset of what its words match.
        parts = [sub for sub in q.subqueries if not isinstance(sub, _TitlePhrase)] or q.subqueries
        bits = 0
        for sub in parts:
            bits |= _query_bits(searcher, sub, size, postings)
        return bits
    if kind is query.And and q.subqueries:
        bits = -1
        for sub in q.subqueries:
            bits &= _query_bits(searcher, sub, size, postings)
            if not bits:
                break
        return bits
    return bitmap(searcher.docs_for_query(q), size)


def _best(scores: dict[int, float], wanted: int) -> list[int]:
    """The documents with the ``wanted`` highest scores, and every one that ties with the last
    of them."""
    if len(scores) <= wanted:
        return list(scores)
    cutoff = heapq.nlargest(wanted, scores.values())[-1]
    return [doc for doc, score in scores.items() if score >= cutoff]


def _word_scores(searcher: Searcher, q: query.Query, norms: Norms, postings: Postings,
                 only: Sequence[int] | None = None) -> dict[int, float] | None:
    """docnum -> score of every match of a query made of words (terms under ORs and ANDs, as
    the parser makes of free text), read a term at a time (searchkit/postings.py); None for
    other queries. With ``only`` (ascending), the scores of those documents only.

    For one term the scores are Whoosh's own, to the bit. Whoosh sums the terms of an OR or
    AND in an order of its own (a tree by estimated size, per segment); here they are summed
    in the query's order, the same for every document, so a sum may differ from Whoosh's in
    its last bit.
    """
    kind = type(q)
    if kind is query.Term:
        found = bm25_scores(searcher, norms, postings, q.fieldname, q.text, q.boost, only)
        return None if found is None else dict(zip(*found, strict=True))
    if q.boost != 1.0 or kind not in (query.Or, query.And) or not q.subqueries:
        return None
    if kind is query.Or and (q.minmatch or q.scale):
        return None
    combined: dict[int, float] | None = None
    for sub in q.subqueries:
        scores = _word_scores(searcher, sub, norms, postings, only)
        if scores is None:
            return None
        if combined is None:
            combined = scores
        elif kind is query.Or:
            get = combined.get
            for doc, score in scores.items():
                combined[doc] = get(doc, 0.0) + score
        else:
            combined = {doc: score + scores[doc] for doc, score in combined.items()
                        if doc in scores}
    return combined


class _TitlePhrase(query.Phrase):  # type: ignore[misc]  # Whoosh ships no type hints
    """The optional title-phrase clause ``_with_title_phrase`` adds (ranking treats it apart)."""


def _split_title_phrase(q: query.Query) -> tuple[query.Query, query.Phrase | None]:
    """``q`` without the title-phrase clause ``_with_title_phrase`` added, and the clause (None
    when it added none)."""
    if isinstance(q, query.Or) and q.subqueries and isinstance(q.subqueries[-1], _TitlePhrase):
        return query.Or(q.subqueries[:-1]), q.subqueries[-1]
    return q, None


def _with_title_phrase(q: query.Query) -> query.Query:
    """Add an optional clause for the query's words as a phrase in the title.

    Only for plain free text (an OR of words): an item whose title holds the words in that
    order, as when a reader pastes a headline, gets ``schema.TITLE_PHRASE_BOOST`` more.
    """
    boost = schema.TITLE_PHRASE_BOOST
    if boost <= 0 or not isinstance(q, query.Or) or len(q.subqueries) < 2:
        return q
    if not all(isinstance(sub, query.Term) and sub.fieldname == "content" for sub in q.subqueries):
        return q
    words = [sub.text for sub in q.subqueries]
    return query.Or([*q.subqueries, _TitlePhrase("title", words, boost=boost)])


def _exclude_negations(q: query.Query) -> query.Query:
    """Make every ``NOT x`` exclude ``x`` from the matches of the group it stands in, as in
    Lucene, through one mended kind of query (``_AndNot``).

    Whoosh's OR grouping turns ``solar NOT battery`` into ``solar OR (NOT battery)``, which
    matches every item without "battery" (and still the ones with both words). Whoosh's other
    forms of negation (``NOT`` inside an AND, a lone ``NOT x``, ``a ANDNOT b``) run through
    matchers that can return excluded or deleted items; they all become ``_AndNot`` too.
    """
    if isinstance(q, query.Not):
        return _AndNot(query.Every(), _exclude_negations(q.query))
    return _group_negations(q)


def _group_negations(q: query.Query) -> query.Query:
    q = q.apply(lambda sub: query.Not(_exclude_negations(sub.query))
                if isinstance(sub, query.Not) else _exclude_negations(sub))
    if type(q) is query.AndNot:  # `a ANDNOT b` as typed
        return _AndNot(q.a, q.b)
    if isinstance(q, (query.Or, query.And)):
        negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
        if negative:
            positive = copy.copy(q)
            positive.subqueries = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
            return _AndNot(positive if positive.subqueries else query.Every(), query.Or(negative))
    return q


class _AndNot(query.AndNot):  # type: ignore[misc]
    """``a`` without the items ``b`` matches, through the mended matcher."""

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return MendedAndNotMatcher(self.a.matcher(searcher, context),
                              self.b.matcher(searcher, searcher.boolean_context()))


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _dates(searcher: Searcher) -> list[datetime]:
    """The publication time of every live item that has one (UTC).

    Raw values are compared with the column's "no date" values before translating: the
    default of an undated item is not a representable datetime.
    """
    field = searcher.schema["published_at"]
    missing = _undated_values(searcher.schema)
    dates = []
    for segment, _offset in searcher.reader().leaf_readers():
        raw = segment_values(segment, "published_at")
        for docnum in segment.all_doc_ids():
            if raw[docnum] not in missing:
                dates.append(field.from_column_value(raw[docnum]).replace(tzinfo=timezone.utc))
    return dates


def normalize_sequence(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Accept one string or a sequence of strings for a multi-valued filter."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)
