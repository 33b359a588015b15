"""Stories and duplicates: which items are copies of one text, and which report one event.

Two items are *linked* when a predicate of ``similarity`` holds for their fingerprints: a
duplicate link (``is_duplicate``: the same text, or small edits of it) or a story link
(``same_story``: close in content, published within the story window of each other). Duplicate
groups are the connected components of the duplicate links; stories are the connected
components of all links (a duplicate is always in its original's story). An item without a
publication time is linked only to items without one. Both depend on the
set of items only, never on the order they arrived in: an incremental update and a rebuild of
the same corpus give the same groups.

What is kept with each commit, in ``_MAIN_<n>.stories`` beside its table of contents and
written before it (``StoryBook``):

- ``duplicate_of``: for every item of a duplicate group but its earliest, the earliest item of
  the group (the earliest published; ties: the smallest id);
- ``story``: the story id of every item of a story of two items or more (a lone item's story
  id is ``default_story_id`` of its own id, and is not written down);
- ``aliases``: story ids that were merged into another story, and the id they now resolve to.

**Story ids are stable.** A story's id is given when the story first appears: the default id
of its earliest item (``s`` and 12 hexadecimal digits). It is kept while the story has items:
a new item joins the story without changing its id, and removing any item, the one the id was
made from included, leaves the id unchanged. When an item links two stories, the merged story
keeps the id of the story whose earliest item is the earliest, and the other id becomes an
alias of it (``searchkit story OLD_ID`` shows the merged story). When removing an item splits a
story, the part holding the story's earliest remaining item keeps the id; the other parts get
new ids. A rebuild keeps the ids of the index it replaces by the same rules.

Finding links costs in proportion to what changed: the hashes of each item's band keys are
kept with each commit (searchkit/bandtable.py), so the items an added one may link to are
found by looking its hashes up (and checking their keys), and only the stories an update
touches (by a removal or a new link) are grouped again: one that lost an item is linked again,
one that lost none is joined as it is (it is still connected, and so are its duplicates).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Any, Protocol

from .bandtable import TABLE_SUFFIX, BandTable, load_table
from .checksums import companion_name, verify
from .errors import IndexCorruptError, QueryError
from .linking import (
    PARALLEL_LINKS,
    Bands,
    Links,
    Union,
    bands_of,
    beside,
    link,
    link_within,
    no_cycle_collection,
    sort_key,
)
from .options import format_span
from .schema import F
from .similarity import Fingerprint, band_hashes, band_keys, share_band_key
from .whoosh_internals.postings import column_values, live_documents

#: Items of one story are published within this many seconds of an item they are linked to,
#: unless the index was created with another window.
DEFAULT_WINDOW = 3 * 24 * 3600.0

#: The suffix of the file a commit keeps its stories in: ``_MAIN_<n>.stories``.
BOOK_SUFFIX = "stories"

_BOOK_VERSION = 1


@lru_cache(maxsize=1 << 16)  # asked for again and again while regrouping
def default_story_id(item_id: str) -> str:
    """The id of a story made by ``item_id`` (the story of an item alone in it)."""
    return "s" + hashlib.blake2b(item_id.encode("utf-8"), digest_size=6).hexdigest()


@dataclass
class StoryBook:
    """The stories and duplicate groups of one commit (see the module docstring)."""

    stories: dict[str, str] = field(default_factory=dict)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    window: float = DEFAULT_WINDOW

    def story_of(self, ident: str) -> str:
        return self.stories.get(ident) or default_story_id(ident)

    @cached_property
    def members(self) -> dict[str, list[str]]:
        """Story id -> its item ids, for the stories of two items or more (and lone items
        whose story keeps an id of its own). Built once per book: do not change a book after."""
        found: dict[str, list[str]] = defaultdict(list)
        for ident, story in self.stories.items():
            found[story].append(ident)
        return dict(found)

    @cached_property
    def duplicate_counts(self) -> dict[str, int]:
        """Item id -> how many items are duplicates of it (for the first item of each group)."""
        counts: dict[str, int] = defaultdict(int)
        for original in self.duplicate_of.values():
            counts[original] += 1
        return dict(counts)

    def resolve(self, story: str) -> str:
        """The id ``story`` is known by now (itself unless it was merged into another)."""
        seen = {story}
        while story in self.aliases:
            story = self.aliases[story]
            if story in seen:  # never written; a damaged book must not loop
                break
            seen.add(story)
        return story

    def encode(self) -> bytes:
        data = {
            "version": _BOOK_VERSION,
            "window": self.window,
            "stories": self.stories,
            "duplicate_of": self.duplicate_of,
            "aliases": self.aliases,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> StoryBook:
        """Raises ValueError for a book that cannot be read."""
        try:
            data = json.loads(raw)
            if data.get("version") != _BOOK_VERSION:
                raise ValueError(f"stories format {data.get('version')!r} is not {_BOOK_VERSION}")
            return cls(
                stories={str(k): str(v) for k, v in data["stories"].items()},
                duplicate_of={str(k): str(v) for k, v in data["duplicate_of"].items()},
                aliases={str(k): str(v) for k, v in data["aliases"].items()},
                window=float(data["window"]),
            )
        except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise ValueError(f"the stories cannot be read: {exc}") from exc


class HeldPrints(Protocol):
    """The fingerprints of the items an index holds before a change."""

    #: No item is held (a new index): there is nothing to look up.
    empty: bool

    def candidates(self, fp: Fingerprint, keys: Collection[int], window: float) -> set[str]:
        """Ids of the held items that share a band key with ``fp`` (``keys``: its band keys),
        published within ``window`` seconds of it (undated ones when it is undated)."""

    def get(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        """The fingerprints of ``ids`` (held items only; others are left out)."""


def regroup(
    book: StoryBook,
    added: Mapping[str, Fingerprint],
    removed: Collection[str],
    held: HeldPrints,
    *,
    carry: tuple[StoryBook, Collection[str]] | None = None,
    keys: Mapping[str, list[int]] | None = None,
    bands: Bands | None = None,
) -> StoryBook:
    """The book after a change: ``added`` items (new ones and new versions of changed ones)
    and ``removed`` ids (deleted items; the old versions of changed ones may be named too) on
    top of the items ``held`` had, grouped as ``book`` says. ``carry``: the book of the index
    a rebuild replaces and the ids that index held, whose story ids are kept. ``keys``: the
    band keys of the added items, ``bands``: their ``linking.Bands``, where already made."""
    window = book.window
    gone = set(removed) | set(added)
    prints: dict[str, Fingerprint] = dict(added)
    links = Links([], [])

    # Links of added items to held ones, found by their band keys.
    candidates: dict[str, set[str]] = {}
    if not held.empty:
        if keys is None:
            keys = {ident: band_keys(fp) for ident, fp in added.items()}
        candidates = {ident: held.candidates(fp, keys[ident], window) - gone for ident, fp in added.items()}
    linked_held: set[str] = set().union(*candidates.values())
    # The stories a change touches are grouped again, whole: those of removed items, and
    # those of held items an added one may link to.
    touched = {book.story_of(i) for i in gone} | {book.story_of(i) for i in linked_held}
    regrouped: set[str] = set(linked_held)
    for story in touched:
        regrouped.update(i for i in book.members.get(story, ()) if i not in gone)
    prints.update(held.get(regrouped - prints.keys()))
    regrouped &= prints.keys()
    for ident, others in candidates.items():
        for other in others:
            if other in prints:
                link(ident, other, prints, window, links)
    link_within(added, prints, window, links, keys, bands)
    by_story: dict[str, list[str]] = defaultdict(list)
    for ident in regrouped:
        by_story[book.story_of(ident)].append(ident)
    nodes = [*added, *regrouped]
    duplicates, stories = Union(nodes), Union(nodes)
    # A story that lost an item is linked again; one that lost none is still connected, and
    # so are its duplicate groups: they are joined as they are.
    broken = {book.story_of(i) for i in gone}
    for story, members in by_story.items():
        if story in broken:
            link_within(members, prints, window, links)
            continue
        for ident in members:
            stories.union(members[0], ident)
            if book.duplicate_of.get(ident) in duplicates.parent:
                duplicates.union(ident, book.duplicate_of[ident])
    for a, b in links.duplicate:
        duplicates.union(a, b)
    for a, b in links.story:
        stories.union(a, b)

    result = StoryBook(
        stories={i: s for i, s in book.stories.items() if i not in gone and i not in regrouped},
        duplicate_of={i: d for i, d in book.duplicate_of.items() if i not in gone and i not in regrouped},
        aliases=dict(book.aliases),
        window=window,
    )
    for group in duplicates.groups():
        if len(group) > 1:
            first, *rest = sorted(group, key=lambda i: sort_key(i, prints))
            result.duplicate_of.update(dict.fromkeys(rest, first))
    _name_stories(result, stories.groups(), prints, book, added, set(removed) & added.keys(), carry)
    return result


def _name_stories(
    result: StoryBook,
    groups: list[list[str]],
    prints: Mapping[str, Fingerprint],
    book: StoryBook,
    added: Mapping[str, Fingerprint],
    replaced: Collection[str],
    carry: tuple[StoryBook, Collection[str]] | None,
) -> None:
    """Give each regrouped story its id by the rules of the module docstring."""

    def previous_id(ident: str) -> str | None:
        if ident not in added or ident in replaced:  # held, or a changed item: its story
            return book.story_of(ident)
        if carry is not None and ident in carry[1]:
            return carry[0].story_of(ident)
        return None  # a new item

    ordered = [sorted(group, key=lambda i: sort_key(i, prints)) for group in groups]
    # Each previous id goes to the group holding its earliest item.
    claims: dict[str, tuple[tuple[float, str], int]] = {}
    for n, group in enumerate(ordered):
        for ident in group:
            old = previous_id(ident)
            if old is None:
                continue
            key = sort_key(ident, prints)
            if old not in claims or key < claims[old][0]:
                claims[old] = (key, n)
    owned: dict[int, list[tuple[tuple[float, str], str]]] = defaultdict(list)
    for old, (key, n) in claims.items():
        owned[n].append((key, old))
    in_use = set(result.stories.values())
    for n, group in enumerate(ordered):
        names = sorted(owned.get(n, []))
        if names:
            story = names[0][1]
            for _key, other in names[1:]:
                result.aliases[other] = story
        else:
            story = _fresh_id(group[0], in_use)
        result.aliases.pop(story, None)
        in_use.add(story)
        if len(group) > 1 or story != default_story_id(group[0]):
            result.stories.update(dict.fromkeys(group, story))


def _fresh_id(ident: str, in_use: set[str]) -> str:
    story = default_story_id(ident)
    n = 1
    while story in in_use:
        story = default_story_id(f"{ident}#{n}")
        n += 1
    return story


# -- the index's side -------------------------------------------------------------------------


def load_book(folder: Path, generation: int) -> StoryBook | None:
    """The book kept with commit ``generation`` in ``folder``; None when it has none (an empty
    index). A book that cannot be read is damage."""
    path = folder / companion_name(generation, BOOK_SUFFIX)
    try:
        return StoryBook.decode(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index file {path} is damaged ({exc}); run `searchkit index --rebuild`"
        ) from exc


class IndexPrints:
    """``HeldPrints`` of a Whoosh reader and the band keys of its commit (``BandTable``):
    candidates found by their hashes and publication times, fingerprints read from their
    column (each document's id is read once)."""

    def __init__(self, reader: Any, table: BandTable) -> None:
        self.table = table
        self.empty = not any(ident is not None for ident in table.ids)
        self.prints: list[Any] = []  # per segment: (first docnum, size, column reader)
        self.doc_of: dict[str, int] = {}
        for segment, offset in reader.leaf_readers():
            size = segment.doc_count_all()
            if not size or not segment.has_column(F.PRINT):
                continue
            ids = column_values(segment.column_reader(F.ID, translate=False), size)
            self.doc_of.update((ids[n].decode("utf-8"), n + offset) for n in live_documents(segment))
            self.prints.append((offset, size, segment.column_reader(F.PRINT)))
        self.decoded: dict[int, Fingerprint] = {}

    def candidates(self, fp: Fingerprint, keys: Collection[int], window: float) -> set[str]:
        ids = self.table.ids
        near = {i for n in self.table.lookup(band_hashes(keys), fp.published, window) if (i := ids[n])}
        # A hash stands for other keys too.
        return {i for i, other in self.get(near).items() if share_band_key(fp, other)}

    def get(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        found: dict[str, Fingerprint] = {}
        for ident in ids:
            doc = self.doc_of.get(ident)
            if doc is not None and doc not in self.decoded:
                for offset, size, column in self.prints:
                    if offset <= doc < offset + size:
                        with contextlib.suppress(ValueError):
                            self.decoded[doc] = Fingerprint.decode(column[doc - offset])
                        break
            if doc in self.decoded:
                found[ident] = self.decoded[doc]
        return found


@no_cycle_collection()  # a full build's grouping makes a million objects and no cycles
def stage(
    ix: Any,
    added: Mapping[str, bytes],
    removed: Collection[str],
    *,
    carry: tuple[StoryBook, Collection[str]] | None = None,
) -> None:
    """Group again for the commit ``ix``'s writer is about to make (``added``: encoded
    fingerprints) and hand the book to the storage, which writes it with the commit."""
    folder = Path(ix.storage.folder)
    generation = ix.latest_generation()
    book = load_book(folder, generation) or StoryBook()
    table = load_table(folder, generation)
    prints = {}
    for ident, raw in added.items():
        with contextlib.suppress(ValueError):
            prints[ident] = Fingerprint.decode(raw)
    keys: dict[str, list[int]] | None = None
    bands: Bands | None = None
    work: Callable[[], bytes]
    if not table.ids and len(prints) >= PARALLEL_LINKS:  # a full build: links and table in arrays
        bands = bands_of(prints)
        work, large = partial(_first_table, bands, prints), False
    else:
        keys = made = {ident: band_keys(fp) for ident, fp in prints.items()}

        def new_table() -> bytes:
            hashed = {ident: (fp.published, band_hashes(made[ident])) for ident, fp in prints.items()}
            return table.updated(hashed, [*removed, *added]).encode()

        # A large update's table (a sort of its entries) is made while the links are found.
        work, large = new_table, len(prints) >= PARALLEL_LINKS
    with beside(work, large=large) as table_bytes, ix.reader() as reader:
        new = regroup(book, prints, removed, IndexPrints(reader, table), carry=carry, keys=keys, bands=bands)
        ix.storage.companions[TABLE_SUFFIX] = table_bytes()
    ix.storage.companions[BOOK_SUFFIX] = new.encode()


def _first_table(bands: Bands, prints: Mapping[str, Fingerprint]) -> bytes:
    """The band-key table of a new index's first commit, holding ``prints``, from their
    ``bands``: the table ``BandTable().updated`` makes, without its sort in Python."""
    times = [prints[ident].published for ident in bands.order]
    return BandTable.first_run(bands.order, times, bands.entries.astype("<u8").tobytes()).encode()


def window_of(folder: Path | None) -> float | None:
    """The story window of the index in ``folder``; None when there is none to read."""
    from .store import open_whoosh  # store imports this module

    if folder is None:
        return None
    try:
        book = load_book(folder, open_whoosh(folder).latest_generation())
    except Exception:  # damaged in a way the checksums do not see: nothing is carried
        return None
    return None if book is None else book.window


def check_window(folder: Path, window: float | None) -> None:
    """Raise ``QueryError`` when ``window`` is given and is not the index's: it is set when the
    index is created (or rebuilt)."""
    current = window_of(folder)
    if window is not None and current is not None and window != current:
        raise QueryError(
            f"this index links stories within {format_span(current)}, set when it was created; "
            f"`searchkit index --rebuild --story-window {format_span(window)}` changes it"
        )


def carry_from(folder: Path | None) -> tuple[StoryBook, set[str]] | None:
    """What a rebuild keeps of the index in ``folder`` (the live generation): its book and the
    ids it held. None when there is none or it cannot be read."""
    if folder is None:
        return None
    from .store import open_whoosh  # store imports this module

    try:
        ix = open_whoosh(folder)
        book = load_book(folder, ix.latest_generation())
        # A damaged index is not read (Whoosh leaves files open when it fails part-way).
        if book is None or verify(folder, ix.latest_generation(), None, full=False, required=False)[0]:
            return None
        with ix.reader() as reader:
            if not reader.doc_count():
                return book, set()
            column = reader.column_reader(F.ID)
            return book, {column[doc] for doc in reader.all_doc_ids()}
    except Exception:  # damaged in a way the checksums do not see: nothing is carried
        return None
