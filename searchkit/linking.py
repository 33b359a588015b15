"""Links between items, found by shared band keys: the pairs searchkit/stories.py groups.

``link_within`` compares every two items that share a band key (``similarity.band_keys``) and
are published within the story window of each other, and records a duplicate link where
``similarity.is_duplicate`` holds and a story link where ``similarity.same_story`` does. A full
build compares about 25 pairs per item (0.5 M for the 21,000 Reuters and BBC items), each
through ``screen`` first, which rules most out on bounds (seven pairs in eight).

Few items (an update's) are linked here, pair by pair. From ``PARALLEL_LINKS`` items on (a full
build), the candidate pairs and their screen are found in arrays (searchkit/bulk.py: about 0.3 s
for the Reuters and BBC items, where this module took 2-3 s of CPU), and the pairs that pass are
tested in ``LINK_TASKS`` parts, which ``LINK_PROCS`` forked processes take in turn where the
platform forks. Each pair is compared once. The links found are the same either way, only their
order differs, and the groups made of them do not depend on it.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

from .similarity import (
    COMPLETE,
    DUPLICATE_RESEMBLANCE,
    STORY_CONTAINMENT,
    STORY_SHARED,
    Fingerprint,
    band_keys,
    is_duplicate,
    same_story,
    share_band_key,
)
from .whoosh_internals.writers import quiet_signals

#: Processes that share out the tests of a large grouping (a full build's), and the parts of
#: its pairs they take in turn (more parts than processes even out their work).
LINK_PROCS, LINK_TASKS = 2, 6
#: From how many items on pairs are found in arrays and tested in forked processes (below,
#: importing numpy and starting processes costs more than they save).
PARALLEL_LINKS = 4000

_LATEST = float("inf")


def sort_key(ident: str, prints: Mapping[str, Fingerprint]) -> tuple[float, str]:
    """Earliest published first (undated items last), then the smallest id."""
    published = prints[ident].published
    return (_LATEST if published is None else published, ident)


@dataclass(frozen=True)
class Links:
    duplicate: list[tuple[str, str]]
    story: list[tuple[str, str]]


@dataclass(frozen=True)
class Bands:
    """Many items in the order of time (``sort_key``) and their band-key entries
    (``bulk.band_entries``, a numpy array): made once for a full build's links and its table."""

    order: list[str]
    entries: Any


def bands_of(prints: Mapping[str, Fingerprint]) -> Bands:
    from .bulk import band_entries  # numpy: imported by the writes that link many items only

    order = sorted(prints, key=lambda i: sort_key(i, prints))
    return Bands(order, band_entries([prints[ident] for ident in order]))


def _kind(fa: Fingerprint, fb: Fingerprint, window: float, duplicate: bool = True, story: bool = True) -> int:
    """2: a duplicate link (a story link too); 1: a story link; 0: none. ``duplicate``,
    ``story``: False where that test is known to fail (``screen``)."""
    if duplicate and is_duplicate(fa, fb, window=window):
        return 2
    return 1 if story and same_story(fa, fb, window=window) else 0


def screen(a: Fingerprint, others: Sequence[Fingerprint]) -> list[tuple[int, bool, bool]]:
    """The others that ``a`` may link to, whatever their times: (position in ``others``,
    whether ``is_duplicate`` may hold, whether ``same_story`` may). Two sketches share at most
    as many hashes as their bitmaps (``Fingerprint.word_map``, ``shingle_map``) share bits, plus
    the fewer of either's hashes that share a bit with another of its own: the tests' bars on
    that bound rule out 7 in 8 of a full build's candidate pairs, at about 0.6 us a pair where
    the two tests take 5-10 us. For many pairs of one item; a single pair is cheaper tested."""
    word_bits, word_more = a.word_map
    shingle_bits, shingle_more = a.shingle_map
    words, shingles = len(a.words) >> 2, len(a.shingles) >> 2
    words_whole, shingles_whole = a.word_cut == COMPLETE, a.shingle_cut == COMPLETE
    resemblance = DUPLICATE_RESEMBLANCE
    kept = []
    for n, b in enumerate(others):
        # same_story: STORY_SHARED words in common, and half the smaller set's where both are whole.
        bits, more = b.word_map
        bound = (word_bits & bits).bit_count() + (more if more < word_more else word_more)
        story = bound >= STORY_SHARED
        if story and words_whole and b.word_cut == COMPLETE:
            least = len(b.words) >> 2
            story = bound >= STORY_CONTAINMENT * (least if least < words else words)
        # is_duplicate: a shingle Jaccard of 0.6, so shared >= 0.375 * (na + nb) of two whole
        # sets, of similar sizes; 0.6 of the sketch with the lower cut (all below both cuts).
        bits, more = b.shingle_map
        bound = (shingle_bits & bits).bit_count() + (more if more < shingle_more else shingle_more)
        other = len(b.shingles) >> 2
        if shingles_whole and b.shingle_cut == COMPLETE:
            small, large = (other, shingles) if other < shingles else (shingles, other)
            duplicate = small >= resemblance * large and bound * (1 + resemblance) >= resemblance * (
                shingles + other
            )
        else:
            duplicate = bound >= resemblance * (shingles if a.shingle_cut <= b.shingle_cut else other)
        if story or duplicate:
            kept.append((n, duplicate, story))
    return kept


def link(a: str, b: str, prints: Mapping[str, Fingerprint], window: float, links: Links) -> None:
    """Record the link between ``a`` and ``b``, if any."""
    kind = _kind(prints[a], prints[b], window)
    if kind == 2:
        links.duplicate.append((a, b))
    if kind:
        links.story.append((a, b))


def link_within(
    ids: Iterable[str],
    prints: Mapping[str, Fingerprint],
    window: float,
    links: Links,
    keys: Mapping[str, list[int]] | None = None,
    bands: Bands | None = None,
) -> None:
    """Link the pairs of ``ids`` that share a band key and are published within the window (an
    undated item only with undated ones: similarity's predicates link no other pair).
    ``keys``: the band keys of the items, where already made; ``bands``: their ``Bands``,
    where already made (its items are ``ids``)."""
    order = bands.order if bands else sorted(ids, key=lambda i: sort_key(i, prints))  # undated last
    if not order:
        return
    times = [prints[ident].published for ident in order]
    dated = [t for t in times if t is not None]  # the first positions: undated items are last
    # The last position within the window of each item (an undated one reaches every later one).
    reach = [len(order) - 1 if t is None else bisect_right(dated, t + window) - 1 for t in times]
    if len(order) < PARALLEL_LINKS:
        item_keys = [keys[ident] if keys is not None else band_keys(prints[ident]) for ident in order]
        found = [_link_span(order, item_keys, prints, reach, window)]
    else:
        found = _link_many([prints[ident] for ident in order], reach, window, bands and bands.entries)
    for duplicate, story in found:
        links.duplicate.extend((order[a], order[b]) for a, b in duplicate)
        links.story.extend((order[a], order[b]) for a, b in story)


@contextlib.contextmanager
def beside(work: Callable[[], bytes], *, large: bool) -> Iterator[Callable[[], bytes]]:
    """Start ``work`` in a forked process when ``large`` (where the platform forks), to run
    while the block does other work (``link_within``'s processes share the cores with it); the
    callable the block gets waits for its result. Otherwise the callable runs ``work``."""
    if not large or not _can_fork():
        yield work
        return
    with _forked([work], 1) as pool:
        yield pool.apply_async(_run, (0,)).get


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for a grouping (the processes it forks inherit the pause).
    A full build's grouping makes about a million lists, sets and tuples and no reference
    cycles: refcounting frees them all, while the collections their count sets off walk every
    object of the heap (in a forked process, touching pages it then has to copy). Paused, the
    grouping of the Reuters and BBC items took 2.3-3.0 s against 2.6-3.4 s, 3.4-4.6 s of its
    processes' CPU against 4.0-5.4 s (six of each, alternating)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@contextlib.contextmanager
def _forked(tasks: Sequence[Callable[[], Any]], procs: int) -> Iterator[Any]:
    """A pool of ``procs`` forked processes that run ``tasks`` by their index (``_run``): the
    processes inherit the tasks, whose data is never pickled (only their results are)."""
    global _TASKS
    _TASKS = tasks
    try:
        pool = multiprocessing.get_context("fork").Pool(procs, initializer=quiet_signals)
    finally:
        _TASKS = ()
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


#: What the processes of ``_forked`` run (set only while they are forked).
_TASKS: Sequence[Callable[[], Any]] = ()


def _run(task: int) -> Any:
    return _TASKS[task]()


_Pairs = tuple[list[tuple[int, int]], list[tuple[int, int]]]


def _link_span(
    order: Sequence[str],
    item_keys: Sequence[list[int]],
    prints: Mapping[str, Fingerprint],
    reach: Sequence[int],
    window: float,
) -> _Pairs:
    """The duplicate and story links of the pairs of ``order`` (in time order; ``reach``: the
    last position within the window of each) that share a band key, as positions in
    ``order``."""
    duplicate: list[tuple[int, int]] = []
    story: list[tuple[int, int]] = []
    buckets: dict[int, list[int]] = defaultdict(list)
    for n, keys in enumerate(item_keys):
        for key in keys:
            buckets[key].append(n)  # each bucket in the order of time
    # Each item's later partners, once each however many keys they share.
    partners: dict[int, set[int]] = defaultdict(set)
    for members in buckets.values():
        if len(members) > 1:
            for x, a in enumerate(members):
                end = bisect_right(members, reach[a], x + 1)
                if end > x + 1:
                    partners[a].update(members[x + 1 : end])
    for a, later in partners.items():
        fa, others = prints[order[a]], list(later)
        fbs = [prints[order[b]] for b in others]
        for n, may_duplicate, may_story in screen(fa, fbs):
            b = others[n]
            kind = _kind(fa, fbs[n], window, may_duplicate, may_story)
            if kind == 2:
                duplicate.append((a, b))
            if kind:
                story.append((a, b))
    return duplicate, story


def _link_many(
    prints: Sequence[Fingerprint], reach: Sequence[int], window: float, entries: Any = None
) -> list[_Pairs]:
    """``_link_span`` for many items (``prints`` in the order of time; ``entries``: their band
    entries, where already made): the pairs and their screen in arrays (searchkit/bulk.py), the
    tests in forked processes where the platform forks."""
    import numpy as np  # imported by the writes that link many items only

    from . import bulk

    if entries is None:
        entries = bulk.band_entries(prints)
    first, later = bulk.candidate_pairs(entries, np.asarray(reach, dtype=np.int64))
    passed, may_duplicate, may_story = bulk.screen(prints, first, later)
    pairs = list(
        zip(
            first[passed].tolist(),
            later[passed].tolist(),
            may_duplicate.tolist(),
            may_story.tolist(),
            strict=True,
        )
    )
    work = partial(_test_pairs, prints, pairs, window)
    if not _can_fork():
        return [work(0, len(pairs))]
    cuts = [len(pairs) * n // LINK_TASKS for n in range(LINK_TASKS + 1)]
    parts = [partial(work, lo, hi) for lo, hi in pairwise(cuts) if lo < hi]
    with _forked(parts, LINK_PROCS) as pool:
        return list(pool.map(_run, range(len(parts)), chunksize=1))


def _test_pairs(
    prints: Sequence[Fingerprint],
    pairs: Sequence[tuple[int, int, bool, bool]],
    window: float,
    lo: int,
    hi: int,
) -> _Pairs:
    """The links among ``pairs[lo:hi]`` (positions in ``prints``, and what the screen left of
    the two tests). Pairs found by a shared band hash alone (two keys of one hash) share no
    key: they are no candidates, and make no link."""
    duplicate: list[tuple[int, int]] = []
    story: list[tuple[int, int]] = []
    for a, b, may_duplicate, may_story in pairs[lo:hi]:
        fa, fb = prints[a], prints[b]
        kind = _kind(fa, fb, window, may_duplicate, may_story)
        if kind and share_band_key(fa, fb):
            if kind == 2:
                duplicate.append((a, b))
            story.append((a, b))
    return duplicate, story


class Union:
    """Union-find over item ids; a group's root is its smallest id."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for ident in self.parent:
            found[self.find(ident)].append(ident)
        return list(found.values())
