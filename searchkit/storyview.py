"""The read side of stories: each hit's story, results collapsed to one hit per story, and the
stories that match a search (what they are: searchkit/stories.py).

A commit's ``StoryMap`` puts its book next to the index's document numbers: each document's
story as a number, each story's documents, and the raw publication times that order them. It is
built once per commit (about 40 ms for 21,000 items) and cached with the reader's other caches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .cache import Cache, IndexCaches
from .checksums import commit_of
from .hits import stored_json
from .models import Hit, JsonModel, NewsItem, StoryRef, parse_datetime
from .ordering import OrderCache, positions, segment_id, segment_values
from .schema import F
from .stories import StoryBook, default_story_id, load_book

#: Story summaries (``StoryRef``) kept per commit.
SUMMARY_CACHE_SIZE = 4096

#: Segments whose columns are kept (``segment_columns``): those of a few states of the index.
COLUMNS_CACHE_SIZE = 64


@dataclass(frozen=True)
class StoryItem(JsonModel):
    """One item of a story."""

    id: str
    title: str
    provider: str
    published_at: datetime | None
    url: str
    duplicate_of: str | None


@dataclass(frozen=True)
class Story(JsonModel):
    """One story: the items that report one event (searchkit/stories.py), oldest first.
    ``title`` is its representative item's (the earliest that is not a duplicate)."""

    id: str
    size: int
    title: str
    providers: tuple[str, ...]
    topics: tuple[str, ...]
    first_published: datetime | None
    last_published: datetime | None
    items: tuple[StoryItem, ...]


@dataclass(frozen=True)
class StoryList(JsonModel):
    """``stories``: the matching stories (``total`` of them), largest first, then newest."""

    total: int
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class ShownItem:
    """``show``: one item in full, with its story and, when it is a copy, ``duplicate_of``."""

    item: NewsItem
    story: StoryRef
    duplicate_of: str | None

    @classmethod
    def of(cls, item: NewsItem, story: Story) -> ShownItem:
        ref = StoryRef(story.id, story.size, story.providers, story.first_published, story.last_published)
        copy_of = next((entry.duplicate_of for entry in story.items if entry.id == item.id), None)
        return cls(item, ref, copy_of)

    def to_dict(self) -> dict[str, Any]:
        return {**self.item.to_dict(), "story": self.story.to_dict(), "duplicate_of": self.duplicate_of}


#: A segment's item ids, raw publication times and default story ids, by document number.
SegmentColumns = tuple[list[str], list[int], list[str]]


def segment_columns(segment: Any, names: list[str] | None = None) -> SegmentColumns:
    """What ``StoryMap`` reads of a segment (``names``: its item ids, when they were read): it
    never changes, so it is kept per segment."""
    if names is None:
        ids = segment.column_reader(F.ID)
        names = [ids[n] for n in range(segment.doc_count_all())]
    return names, list(segment_values(segment, F.PUBLISHED_AT)), [default_story_id(i) for i in names]


class StoryMap:
    """One commit's stories by document number (deleted documents have story -1). ``columns``
    gives a segment's ``segment_columns``, kept between commits by ``StoryView``."""

    def __init__(
        self, book: StoryBook, reader: Any, columns: Callable[[Any], SegmentColumns] = segment_columns
    ) -> None:
        self.book = book
        size = reader.doc_count_all()
        self.ids: list[str] = [""] * size
        self.dates: list[int] = [0] * size  # raw publication times; 0: undated
        self.story: list[int] = [-1] * size
        self.story_ids: list[str] = []
        self.docs: list[list[int]] = []  # story number -> its documents
        self.doc_of: dict[str, int] = {}
        numbers: dict[str, int] = {}
        for segment, offset in reader.leaf_readers():
            if not segment.doc_count_all() or not segment.has_column(F.ID):
                continue
            ids, dates, defaults = columns(segment)
            assigned = book.stories  # as book.story_of, with the default story ids computed once
            for n in segment.all_doc_ids():
                doc = offset + n
                ident = ids[n]
                self.ids[doc], self.dates[doc] = ident, dates[n]
                self.doc_of[ident] = doc
                story = assigned.get(ident) or defaults[n]
                number = numbers.get(story)
                if number is None:
                    number = numbers[story] = len(self.story_ids)
                    self.story_ids.append(story)
                    self.docs.append([])
                self.story[doc] = number
                self.docs[number].append(doc)
        self.numbers = numbers

    def number_of(self, story_id: str) -> int | None:
        return self.numbers.get(self.book.resolve(story_id))

    def stories_of(self, matched: int) -> set[int]:
        """The stories with a document in bitmap ``matched``."""
        story = self.story
        return {story[doc] for doc in positions(matched)}

    def last_date(self, number: int) -> int:
        return max(self.dates[doc] for doc in self.docs[number])

    def duplicate_of(self, ident: str) -> str | None:
        return self.book.duplicate_of.get(ident)

    def duplicates(self, ident: str) -> int:
        return self.book.duplicate_counts.get(ident, 0)


class StoryView:
    """The caches of the read side of stories, and what is built from them."""

    def __init__(self, caches: IndexCaches, orders: OrderCache | None = None) -> None:
        """``orders``: the sort orders' cache, whose item ids per segment are shared."""
        self._caches = caches
        self._orders = orders
        self._maps: Cache[Any, StoryMap] = caches.cache(2)
        self._refs: Cache[Any, StoryRef] = caches.cache(SUMMARY_CACHE_SIZE)
        # Scoped by segment: a commit that adds a small segment reads only that one's columns.
        self._columns: Cache[Any, SegmentColumns] = caches.cache(COLUMNS_CACHE_SIZE)

    def _segment_columns(self, segment: Any) -> SegmentColumns:
        names = None if self._orders is None else self._orders.segment_ids(segment)
        return self._columns.get_or_put((segment_id(segment),), lambda: segment_columns(segment, names))

    def map(self, folder: Path, searcher: Any, ix: Any) -> StoryMap:
        reader = searcher.reader()

        def build() -> StoryMap:
            generation, _segments = commit_of(reader, ix)
            return StoryMap(load_book(folder, generation) or StoryBook(), reader, self._segment_columns)

        return self._maps.get_or_put((self._caches.generation,), build)

    def decorate(self, hit: Hit, searcher: Any, stories: StoryMap, doc: int, collapse: bool) -> Hit:
        """``hit`` (of document ``doc``) with its story and ``duplicate_of``; and, collapsed,
        how many items copy it."""
        return replace(
            hit,
            story=self.ref(searcher, stories, stories.story[doc]),
            duplicate_of=stories.duplicate_of(hit.id),
            duplicates=stories.duplicates(hit.id) if collapse else None,
        )

    def ref(self, searcher: Any, stories: StoryMap, number: int) -> StoryRef:
        """The summary of story ``number``, as hits show it."""

        def build() -> StoryRef:
            items = [stored_json(searcher, doc) for doc in stories.docs[number]]
            times = [
                t for t in (parse_datetime(i["published_at"]) for i in items if i.get("published_at")) if t
            ]
            return StoryRef(
                id=stories.story_ids[number],
                size=len(items),
                providers=_most_first(_provider(i) for i in items),
                first_published=min(times, default=None),
                last_published=max(times, default=None),
            )

        return self._refs.get_or_put((self._caches.generation, number), build)

    def listing(self, searcher: Any, stories: StoryMap, matched: int, min_size: int, limit: int) -> StoryList:
        """The stories with a document in bitmap ``matched`` and at least ``min_size`` items,
        largest first, then the newest (by their last item), then by id; ``limit`` of them."""
        numbers = [n for n in stories.stories_of(matched) if len(stories.docs[n]) >= min_size]
        numbers.sort(key=lambda n: (-len(stories.docs[n]), -stories.last_date(n), stories.story_ids[n]))
        found = tuple(self.story(searcher, stories, n) for n in numbers[:limit])
        return StoryList(total=len(numbers), stories=found)

    def story(self, searcher: Any, stories: StoryMap, number: int) -> Story:
        """Story ``number`` whole: its items oldest first."""
        docs = stories.docs[number]
        items = [stored_json(searcher, doc) for doc in docs]
        entries = sorted(
            (
                StoryItem(
                    id=data["id"],
                    title=data.get("title", ""),
                    provider=_provider(data),
                    published_at=parse_datetime(data["published_at"]) if data.get("published_at") else None,
                    url=data.get("url", ""),
                    duplicate_of=stories.duplicate_of(data["id"]),
                )
                for data in items
            ),
            key=_oldest_first,
        )
        originals = [entry for entry in entries if entry.duplicate_of is None] or entries
        dated = [entry.published_at for entry in entries if entry.published_at is not None]
        return Story(
            id=stories.story_ids[number],
            size=len(entries),
            title=originals[0].title,
            providers=_most_first(entry.provider for entry in entries),
            topics=_most_first(topic for data in items for topic in data.get("topics", ())),
            first_published=min(dated, default=None),
            last_published=max(dated, default=None),
            items=tuple(entries),
        )


def collapsed(
    rank: Callable[[int], list[tuple[int, float]]],
    stories: StoryMap,
    total: int,
    first: int,
    count: int,
    before: Callable[[int, float], bool] | None = None,
) -> tuple[list[tuple[int, float]], bool]:
    """Hits ``first`` to ``first + count`` of the collapsed order (each story's best-ranked
    match), ``rank(n)`` giving the first ``n`` of the ``total`` matches in order, and whether
    more stories follow. ``before(doc, score)``: the hit comes before a cursor; its story was
    shown on an earlier page. The matches are ranked in growing batches until enough stories
    are found or none are left, so a page costs in proportion to its depth."""
    wanted = first + count
    batch = max(wanted * 4, 40)
    while True:
        ranked = rank(batch)
        seen: set[int] = set()
        found: list[tuple[int, float]] = []
        for doc, score in ranked:
            number = stories.story[doc]
            if number in seen:
                continue
            seen.add(number)
            if before is not None and before(doc, score):
                continue
            found.append((doc, score))
            if len(found) > wanted:
                break
        if len(found) > wanted or len(ranked) >= total or len(ranked) < batch:
            return found[first:wanted], len(found) > wanted
        batch *= 4


def _provider(data: dict[str, Any]) -> str:
    provider = data.get("provider") or {}
    return str(provider.get("name") or provider.get("domain") or "")


def _most_first(values: Iterable[str]) -> tuple[str, ...]:
    counts = Counter(value for value in values if value)
    return tuple(sorted(counts, key=lambda v: (-counts[v], v)))


def _oldest_first(entry: StoryItem) -> tuple[bool, str, str]:
    published = entry.published_at
    return (published is None, published.isoformat() if published else "", entry.id)
