"""Trending: the values that occur significantly more often in a window of time than before it.

Two sets of items are compared (Elasticsearch's ``significant_terms`` calls them the
foreground and the background):

- the **window** (foreground): items published from ``since = until - window`` (inclusive)
  to ``until`` (exclusive). ``until`` is ``as_of`` (default now); a date as ``as_of`` (a
  ``date``, ``YYYY-MM-DD``) means the end of that day, so the window ends at the next midnight.
- the **background**: items published in the ``baseline`` span just before the window,
  from ``since - baseline`` to ``since`` (exclusive). It never includes the window (unlike
  Elasticsearch's default background, a superset of the foreground): "more often than
  usual" means more often than before. When the index holds less than ``baseline`` before
  the window, the background is all of it that precedes the window.

A query and the search filters narrow both sets alike; undated items are in neither.

For each value (``by``: a topic, a provider, or a word of titles and excerpts) with ``f`` of
the window's ``F`` items and ``b`` of the background's ``B`` items, the background is smoothed
by **add-one**: it is counted as if it held one more item, which has every value, so
``bg% = (b + 1) / (B + 1)`` (never 0: a value absent before gets a finite score, and ranks
above one seen once) and ``fg% = f / F``. Then:

- ``ratio = fg% / bg%``: how many times more often than usual (what a person reads);
- ``jlh`` (the default; Elasticsearch's JLH): ``(fg% - bg%) * fg% / bg%``, a blend of the
  absolute and the relative change that favours values neither very rare nor very common;
- ``percentage`` (Elasticsearch's percentage): ``f / (b + 1)``, the window's items per item of
  the (smoothed) background: favours values that were rare before;
- ``chi2`` (Elasticsearch's ``chi_square`` with ``background_is_superset: false``, since the
  background is disjoint from the window, and ``include_negatives: false``): Pearson's
  chi-square of the 2x2 table window/background x holds/lacks the value, on the raw counts:
  ``N * (f * (B - b) - (F - f) * b) ** 2 / (F * B * (f + b) * (N - f - b))``, ``N = F + B``
  (0 when every item holds the value).

A value is listed when it is in at least ``MIN_ITEMS`` items of the window and more frequent
there than in the smoothed background (``ratio > 1``, which also keeps out chi-square's
"negatives"), best score first; ties go to the larger count, then to the value in
alphabetical order. An empty window or background lists nothing: the counts say which.

What ``by`` counts is one entry of ``SOURCES``: ``stories`` counts each story's items (the
value is the story's id: ``searchkit story ID``), so that a story growing in the window ranks
by how much; ``topics`` and ``providers`` count the facet values (searchkit/facets.py, shown
in their most common spelling); ``terms`` counts the words
of titles and excerpts as the index analyses them (schema.NewsAnalyzer: lower-cased, accents
folded, stemmed, so "Election" and "elections" are one word), an item counting once per word.
The window's counts come from its items' stored text, analysed again; the background's count
of a word from the postings of the ``title`` and ``excerpt`` fields (kept per segment), read
only for the words that may make the list (``find_trending``). A word is shown in
the form written most often in the window's items (ties: fewer capitals, then alphabetical).
Snowball's English stop words (``schema.STOP_WORDS`` and ``QUERY_ONLY_STOP_WORDS``), numbers
(``1987``, ``3.5``, ``3rd``) and single letters (the ``s`` of "China's") are left out.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from .cache import Cache, IndexCaches
from .errors import QueryError
from .facets import FacetCounter
from .hits import stored_json
from .matches import Matches
from .models import TrendingResults, TrendingValue
from .options import (
    FACETS_BY_NAME,
    FILTERS,
    Filters,
    Kind,
    TimeBound,
    check_page,
    parse_span,
    parse_time_bound,
    shown,
)
from .ordering import bitmap, positions, segment_id
from .postings import Postings
from .schema import WORD_PATTERN, F
from .storyview import StoryMap
from .whoosh_internals.postings import term_blocks

#: The defaults of ``SearchIndex.trending`` and ``searchkit trending``: the last day against the
#: thirty days before it, topics, ranked by JLH.
DEFAULT_WINDOW = "24h"
DEFAULT_BASELINE = "30d"
DEFAULT_BY = "topics"
DEFAULT_SCORE = "jlh"

#: A value is listed only when at least this many items of the window have it (the default
#: ``min_doc_count`` of Elasticsearch's ``significant_terms``): fewer is noise.
MIN_ITEMS = 3

#: Document numbers of words (the documents whose title or excerpt holds a word, per segment)
#: a reader keeps: the words counted for one window on Reuters hold about 400,000.
TERM_DOCS_CACHE_SIZE = 1_000_000

#: Words whose analysis a reader keeps (it does not depend on the index).
STEMS_CACHE_SIZE = 200_000

#: The text fields whose words ``terms`` counts.
TERM_FIELDS = (F.TITLE, F.EXCERPT)

#: Function words the index keeps because queries need them (names such as WHO and IT,
#: negations, particles: see ``schema.STOP_WORDS``) but that never say what is trending:
#: with the words the index drops, ``terms`` leaves out Snowball's English stop list whole.
QUERY_ONLY_STOP_WORDS = frozenset(
    ["who", "it", "no", "not", "nor", "up", "down", "over", "under", "out", "off"]
)

#: The index's words (schema.NewsAnalyzer).
_WORD = re.compile(WORD_PATTERN)
#: Numbers, as the index writes them: digits with inner dots or commas, and ordinals (3rd).
_NUMBER = re.compile(r"\d[\d.,]*(?:st|nd|rd|th)?")

_ONE_MICROSECOND = timedelta(microseconds=1)

#: The filter of publication times (searchkit/options.py): the window narrows it.
_DATES = next(spec.name for spec in FILTERS if spec.kind is Kind.DATE_RANGE and spec.field == F.PUBLISHED_AT)


@dataclass(frozen=True)
class Window:
    """The window (``since`` inclusive to ``until`` exclusive) and its background (from
    ``background_since`` inclusive to ``since``)."""

    since: datetime
    until: datetime
    background_since: datetime

    @classmethod
    def from_arguments(
        cls,
        window: str | timedelta,
        as_of: TimeBound | None,
        baseline: str | timedelta,
        *,
        now: datetime | None = None,
    ) -> Window:
        """Check and parse ``window`` and ``baseline`` (spans: ``24h``, ``2d``, ``4w`` or a
        ``timedelta``) and ``as_of`` (a time, as ``--until`` takes it; default now). Raises
        ``QueryError``."""
        length = parse_length("window", window)
        before = parse_length("baseline", baseline)
        now = now or datetime.now(timezone.utc)
        if as_of is None:
            until = now
        else:
            start = parse_time_bound(as_of, now=now)
            end = parse_time_bound(as_of, end=True, now=now)
            until = start
            if end != start:  # a whole day: the window takes all of it
                until = _shift(end, _ONE_MICROSECOND, "as_of", as_of)
        since = _shift(until, -length, "window", window)
        return cls(since, until, _shift(since, -before, "baseline", baseline))


def parse_length(name: str, value: str | timedelta) -> timedelta:
    """A window or baseline length: a ``timedelta`` or a span (``90m``, ``24h``, ``7d``,
    ``2w``), more than zero. Raises ``QueryError``."""
    span = value if isinstance(value, timedelta) else parse_span(value) if isinstance(value, str) else None
    if span is None:
        raise QueryError(f"invalid {name} {shown(value)}: use a span like 24h, 2d or 4w")
    if span <= timedelta(0):
        raise QueryError(f"invalid {name} {shown(value)}: it must be more than zero")
    return span


def _shift(when: datetime, by: timedelta, name: str, value: Any) -> datetime:
    try:
        return when + by
    except OverflowError:
        raise QueryError(
            f"invalid {name} {shown(value)}: the window or its baseline leaves 0001-01-01 to 9999-12-31"
        ) from None


# -- scores -------------------------------------------------------------------------------------


def jlh(f: int, fg_size: int, b: int, bg_size: int) -> float:
    """Elasticsearch's JLH: ``(fg% - bg%) * fg% / bg%``, the background smoothed by add-one."""
    fg, bg = f / fg_size, (b + 1) / (bg_size + 1)
    return (fg - bg) * fg / bg


def percentage(f: int, fg_size: int, b: int, bg_size: int) -> float:
    """Elasticsearch's percentage, ``f / b``, the background smoothed by add-one."""
    return f / (b + 1)


def chi2(f: int, fg_size: int, b: int, bg_size: int) -> float:
    """Elasticsearch's chi-square, background disjoint from the window (not a superset)."""
    n = fg_size + bg_size
    holding = f + b
    if holding == n:  # every item holds it: no association to measure
        return 0.0
    table = f * (bg_size - b) - (fg_size - f) * b  # N11 * N00 - N01 * N10
    return float(n * table**2 / (fg_size * bg_size * holding * (n - holding)))


def ratio(f: int, fg_size: int, b: int, bg_size: int) -> float:
    """``fg% / bg%``: how many times more often than in the (smoothed) background."""
    return (f / fg_size) / ((b + 1) / (bg_size + 1))


Score = Callable[[int, int, int, int], float]

#: ``score`` name -> its function of (f, F, b, B); ``jlh`` is the default.
SCORES: dict[str, Score] = {"jlh": jlh, "chi2": chi2, "percentage": percentage}


# -- what is counted ----------------------------------------------------------------------------

#: A value a source offers: (value as shown, items of the window with it, a function that
#: counts the background's items with it: called only for the values that may be listed).
Candidate = tuple[str, int, Callable[[], int]]


@dataclass(frozen=True)
class Sets:
    """The two sets compared, as bitmaps of document numbers (searchkit/ordering.py)."""

    window: int
    background: int


class TrendingCache:
    """What ``terms`` keeps between calls: each word's documents per segment (valid while the
    segment lives, see searchkit/cache.py)."""

    def __init__(self, caches: IndexCaches) -> None:
        self._docs: Cache[tuple[str, str], frozenset[int]] = caches.cache(
            TERM_DOCS_CACHE_SIZE, weigh=lambda docs: len(docs) + 1
        )
        #: Each word as written -> as the index analyses it (None: a stop word).
        self.stems: Cache[str, str | None] = Cache(STEMS_CACHE_SIZE)

    def word_docs(self, segment: Any, word: str) -> frozenset[int]:
        """The segment's documents (local numbers) whose title or excerpt holds ``word``."""

        def read() -> frozenset[int]:
            found: set[int] = set()
            for field in TERM_FIELDS:
                if field in segment.schema:
                    for ids, _weights in term_blocks(segment, field, segment.schema[field].to_bytes(word)):
                        found.update(ids)
            return frozenset(found)

        return self._docs.get_or_put((segment_id(segment), word), read)


@dataclass(frozen=True)
class Context:
    """One call's searcher and parsed query, and what the reader keeps between calls: the
    match-set cache (searchkit/matches.py) and its generation, the facet counter and the
    words' cache."""

    searcher: Any
    query: Any
    match_cache: Cache[Any, int]
    generation: int
    facets: FacetCounter
    cache: TrendingCache
    stories: StoryMap

    def matches(self, filters: Filters, postings: Postings) -> int:
        """The bitmap of the items that match the query and ``filters``."""
        return Matches(self.searcher, self.query, filters, self.match_cache, self.generation, postings).all()


def _facet_source(facet: str) -> Callable[[Context, Sets], Iterable[Candidate]]:
    spec = FACETS_BY_NAME[facet]

    def count(context: Context, sets: Sets) -> Iterable[Candidate]:
        reader = context.searcher.reader()
        spellings = context.facets.labels(reader).get(spec.name, {})
        for value, bits in context.facets.value_bitmaps(reader, spec).items():
            f = (bits & sets.window).bit_count()
            if f >= MIN_ITEMS:
                yield spellings.get(value, value), f, partial(_common, bits, sets.background)

    return count


def _common(bits: int, other: int) -> int:
    return (bits & other).bit_count()


def _terms(context: Context, sets: Sets) -> Iterable[Candidate]:
    """Words of titles and excerpts: those of at least ``MIN_ITEMS`` of the window's items,
    from their stored text; the background's count of each from the word's postings."""
    searcher = context.searcher
    analyzer = searcher.schema[F.TITLE].analyzer
    stem_of: dict[str, str | None] = {}  # each word as written -> as analysed (None: dropped)
    items: Counter[str] = Counter()  # analysed word -> window items holding it
    written: list[str] = []  # every word of the window's titles and excerpts, as written
    for doc in positions(sets.window):
        data = stored_json(searcher, doc)
        words = _WORD.findall(f"{data.get('title', '')}\n{data.get('excerpt', '')}")
        for word in set(words):
            if word not in stem_of:
                stem_of[word] = _analysed(word, context.cache.stems, analyzer)
        held = set(map(stem_of.__getitem__, words))
        held.discard(None)
        items.update(held)  # type: ignore[arg-type]  # None discarded
        written += words
    forms: dict[str, Counter[str]] = {}  # analysed word -> its forms as written -> occurrences
    for word, times in Counter(written).items():
        stem = stem_of[word]
        if stem is not None:
            forms.setdefault(stem, Counter())[word] = times
    # The background's documents in each segment that holds some (an update's new segment
    # often holds none), by the segment's own numbers.
    segments = [
        (segment, frozenset(positions(local)))
        for segment, offset in searcher.reader().leaf_readers()
        if (local := sets.background >> offset & ((1 << segment.doc_count_all()) - 1))
    ]

    def count(word: str) -> int:
        return sum(len(local & context.cache.word_docs(segment, word)) for segment, local in segments)

    for word, n in items.items():
        if n >= MIN_ITEMS and _is_topical(word):
            yield _most_used(forms[word]), n, partial(count, word)


def _stories(context: Context, sets: Sets) -> Iterable[Candidate]:
    """Stories (searchkit/stories.py), by id: their items in the window and before it."""
    stories = context.stories
    window: Counter[int] = Counter(stories.story[doc] for doc in positions(sets.window))
    for number, n in window.items():
        if n >= MIN_ITEMS:
            docs = bitmap(stories.docs[number], len(stories.story))
            yield stories.story_ids[number], n, partial(_common, docs, sets.background)


def _analysed(word: str, known: Cache[str, str | None], analyzer: Any) -> str | None:
    """``word`` as the index analyses it (None: a stop word), from ``known`` or analysed
    lower-cased, once for all its spellings (OIL, Oil, oil: the same)."""
    if word in known:
        return known[word]
    low = word.lower()
    stem = known[low] if low in known else next((token.text for token in analyzer(low, tokenize=False)), None)
    known.put(low, stem)
    known.put(word, stem)
    return stem


def _is_topical(word: str) -> bool:
    """Whether an analysed word may trend: not a stop word, a number or a single letter."""
    return len(word) > 1 and word not in QUERY_ONLY_STOP_WORDS and not _NUMBER.fullmatch(word)


def _most_used(forms: Mapping[str, int]) -> str:
    """The form written most often; ties to the one with fewer capitals, then the first."""
    return min(forms, key=lambda form: (-forms[form], sum(c.isupper() for c in form), form))


#: ``by`` -> what it counts. A source is a function of the context and the two sets that
#: yields the values of at least ``MIN_ITEMS`` of the window's items (``Candidate``): adding
#: one is one entry here.
SOURCES: dict[str, Callable[[Context, Sets], Iterable[Candidate]]] = {
    "topics": _facet_source("topics"),
    "terms": _terms,
    "providers": _facet_source("provider"),
    "stories": _stories,
}


# -- the whole --------------------------------------------------------------------------------


def check_arguments(by: str, score: str, limit: int) -> None:
    """Raise ``QueryError`` for an unknown ``by`` or ``score``, or a limit out of range."""
    if by not in SOURCES:
        raise QueryError(f"invalid by {shown(by)}: choose one of {', '.join(SOURCES)}")
    if score not in SCORES:
        raise QueryError(f"invalid score {shown(score)}: choose one of {', '.join(SCORES)}")
    check_page(limit)


def narrowed(filters: Filters, since: datetime, until: datetime) -> Filters:
    """``filters`` with the publication-time filter narrowed to ``since``..``until``
    (inclusive): what the window or the background matches."""
    given = dict(filters.values)
    low, high = given.get(_DATES, (None, None))
    given[_DATES] = (since if low is None else max(low, since), until if high is None else min(high, until))
    return Filters(tuple((spec.name, given[spec.name]) for spec in FILTERS if spec.name in given))


def find_trending(
    context: Context, *, filters: Filters, window: Window, by: str, score: str, limit: int
) -> TrendingResults:
    """The values of ``by`` trending in ``window`` among the items that match the context's
    query and ``filters``, ranked by ``score``."""
    check_arguments(by, score, limit)
    postings = Postings(context.searcher.reader())  # the query's, read once for both sets
    sets = Sets(
        window=context.matches(narrowed(filters, window.since, window.until - _ONE_MICROSECOND), postings),
        background=context.matches(
            narrowed(filters, window.background_since, window.since - _ONE_MICROSECOND), postings
        ),
    )
    fg_size, bg_size = sets.window.bit_count(), sets.background.bit_count()
    scored = SCORES[score]
    found = []
    if fg_size and bg_size:
        # Most frequent in the window first. Every score falls as the background count grows
        # (for the values listed) and rises with the window count, so once a value could not
        # reach the best ``limit`` scores even absent from the background, no later one can:
        # the background counts of the rest are never read.
        best: list[float] = []  # the best ``limit`` scores so far (a heap: the lowest first)
        for value, f, background in sorted(SOURCES[by](context, sets), key=lambda c: -c[1]):
            if f < MIN_ITEMS or f * (bg_size + 1) <= fg_size:  # ratio <= 1 even when b = 0
                break
            if len(best) == limit and scored(f, fg_size, 0, bg_size) < best[0]:
                break
            b = background()
            if f * (bg_size + 1) > fg_size * (b + 1):  # ratio > 1, in integers
                found.append(
                    TrendingValue(
                        value=value,
                        count=f,
                        background_count=b,
                        score=scored(f, fg_size, b, bg_size),
                        ratio=ratio(f, fg_size, b, bg_size),
                    )
                )
                heapq.heappush(best, found[-1].score)
                if len(best) > limit:
                    heapq.heappop(best)
    found.sort(key=lambda item: (-item.score, -item.count, item.value))
    return TrendingResults(
        since=window.since,
        until=window.until,
        foreground=fg_size,
        background=bg_size,
        trending=tuple(found[:limit]),
    )
