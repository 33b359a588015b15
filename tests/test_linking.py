"""Links between items (searchkit/linking.py): each pair that shares a band key within the
window is compared once, whether few items are linked pair by pair or many in arrays
(searchkit/bulk.py) with their tests shared out between forked processes."""

from __future__ import annotations

import gc
import random
import signal
import struct
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchkit import linking, similarity
from searchkit.models import NewsItem

WINDOW = 3 * 24 * 3600.0

#: Words of a few events: items drawn from one share band keys and often link.
EVENTS = [
    "acme widget takeover shareholders premium stockholm packaging regulators brussels nordbank",
    "valencia flood turia river rescue schools madrid trains storm catalonia homes power",
    "opec oil output quota saudi crude barrels vienna ministers prices cut agreement",
]
Pairs = set[frozenset[str]]


def fingerprints(count: int, seed: int) -> dict[str, similarity.Fingerprint]:
    """Items of a few events spread over three weeks (a few undated), with figures that
    sometimes change, and copies of each other."""
    rng = random.Random(seed)
    start = datetime(1987, 3, 1, tzinfo=UTC)
    prints = {}
    items: list[NewsItem] = []
    for n in range(count):
        words = rng.choice(EVENTS).split()
        title = " ".join(rng.sample(words, 4))
        body = " ".join(rng.choice(words) for _ in range(rng.randint(20, 60)))
        body += f" Output rose to {rng.choice([12, 15, 18])} mln tonnes in the Acme Stockholm deal."
        published = None if n % 17 == 0 else start + timedelta(hours=rng.randint(0, 21 * 24))
        if n % 4 == 3:  # a copy of an earlier item, re-wrapped, a few hours later
            original = rng.choice(items)
            title, body = original.title, original.body.replace(" ", "\n", 3)
            if original.published_at is not None:
                published = original.published_at + timedelta(hours=rng.randint(0, 30))
        items.append(NewsItem(id=f"i{n:03d}", title=title, body=body, published_at=published))
    for item in items:
        prints[item.id] = similarity.fingerprint(item)
    return prints


def expected_links(
    prints: dict[str, similarity.Fingerprint],
) -> tuple[set[frozenset[str]], set[frozenset[str]]]:
    """Every pair sharing a band key, tested on its own: the links by definition."""
    duplicate: Pairs = set()
    story: Pairs = set()
    for a, b in combinations(sorted(prints), 2):
        fa, fb = prints[a], prints[b]
        if not set(similarity.band_keys(fa)) & set(similarity.band_keys(fb)):
            continue
        if similarity.is_duplicate(fa, fb, window=WINDOW):
            duplicate.add(frozenset((a, b)))
            story.add(frozenset((a, b)))
        elif similarity.same_story(fa, fb, window=WINDOW):
            story.add(frozenset((a, b)))
    return duplicate, story


def found_links(
    prints: dict[str, similarity.Fingerprint],
) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
    links = linking.Links([], [])
    linking.link_within(list(prints), prints, WINDOW, links)
    return [frozenset(p) for p in links.duplicate], [frozenset(p) for p in links.story]


@pytest.mark.parametrize("tasks", [1, 2, 5, 40])
def test_many_items_in_arrays_and_forked_processes_give_each_link_once(
    monkeypatch: pytest.MonkeyPatch, tasks: int
) -> None:
    prints = fingerprints(120, seed=tasks)
    duplicate, story = expected_links(prints)
    assert len(story) > 100 and duplicate  # the corpus links, across spans
    one_duplicate, one_story = found_links(prints)
    assert set(one_duplicate) == duplicate and set(one_story) == story
    monkeypatch.setattr(linking, "PARALLEL_LINKS", 2)
    monkeypatch.setattr(linking, "LINK_TASKS", tasks)
    shared_duplicate, shared_story = found_links(prints)
    # The same links, each once.
    assert sorted(map(sorted, shared_duplicate)) == sorted(map(sorted, one_duplicate))
    assert sorted(map(sorted, shared_story)) == sorted(map(sorted, one_story))
    assert len(set(shared_story)) == len(shared_story)


def test_forked_link_processes_leave_signals_to_the_indexer() -> None:
    # As the writer processes do (tests/test_indexer.py): no inherited handler runs in them.
    def handlers() -> tuple[object, object]:
        return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    saved = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with linking._forked([handlers], 1) as pool:
            assert pool.map(linking._run, [0]) == [(signal.SIG_IGN, signal.SIG_DFL)]
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_nothing_to_link() -> None:
    links = linking.Links([], [])
    linking.link_within([], {}, WINDOW, links)
    assert links == linking.Links([], [])


# -- the screen --------------------------------------------------------------------------------


def spread(v: int) -> int:
    """Hashes 2048 apart fall on one bit of a bitmap: the screen's bounds must count what such
    collisions hide. Keeps the order."""
    return v // 3 * 2048 + v % 3


def sketch(values: set[int], cut: int) -> tuple[bytes, int]:
    kept = sorted(spread(v) for v in values if v <= cut)
    return struct.pack(f"<{len(kept)}I", *kept), similarity.COMPLETE if cut >= 60 else spread(cut)


sets, cuts = st.sets(st.integers(0, 60), max_size=40), st.integers(0, 70)


@given(sets, sets, cuts, cuts, sets, sets, cuts, cuts)
def test_the_screen_keeps_every_pair_a_test_holds_for(
    word_x: set[int],
    word_y: set[int],
    word_cut_x: int,
    word_cut_y: int,
    shingle_x: set[int],
    shingle_y: set[int],
    shingle_cut_x: int,
    shingle_cut_y: int,
) -> None:
    def made(words: set[int], word_cut: int, shingles: set[int], shingle_cut: int) -> similarity.Fingerprint:
        (w, wc), (s, sc) = sketch(words, word_cut), sketch(shingles, shingle_cut)
        return similarity.Fingerprint(0.0, words=w, word_cut=wc, shingles=s, shingle_cut=sc, body_words=100)

    a = made(word_x, word_cut_x, shingle_x, shingle_cut_x)
    b = made(word_y, word_cut_y, shingle_y, shingle_cut_y)
    for one, other in ((a, b), (b, a)):
        kept = {n: (duplicate, story) for n, duplicate, story in linking.screen(one, [other])}
        duplicate, story = kept.get(0, (False, False))
        if similarity.is_duplicate(one, other, window=WINDOW):
            assert duplicate
        if similarity.same_story(one, other, window=WINDOW):
            assert story


def test_the_screen_rules_out_unrelated_items_and_keeps_copies() -> None:
    rng = random.Random(3)
    vocabulary = [f"word{n}" for n in range(400)]

    def item(ident: str, words: list[str]) -> similarity.Fingerprint:
        body = " ".join(rng.choice(words) for _ in range(80))
        return similarity.fingerprint(NewsItem(id=ident, title=words[0], body=body))

    one = item("a", vocabulary[:40])
    others = [item(f"b{n}", vocabulary[40 + 9 * n : 49 + 9 * n]) for n in range(30)]
    # A screen that kept every pair would pass the test above: this one rules out items that
    # share no word, and keeps a copy as a possible duplicate.
    assert linking.screen(one, others) == []
    same = similarity.Fingerprint.decode(one.encode())
    assert linking.screen(one, [*others, same]) == [(30, True, True)]


def test_the_cycle_collector_is_paused_for_a_grouping_and_restored() -> None:
    seen = []

    @linking.no_cycle_collection()
    def grouping() -> None:
        seen.append(gc.isenabled())

    assert gc.isenabled()
    grouping()
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a program that paused it itself keeps it paused
    try:
        grouping()
        assert not gc.isenabled()
    finally:
        gc.enable()
