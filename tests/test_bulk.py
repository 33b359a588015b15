"""Linking in arrays (searchkit/bulk.py) gives what linking item by item gives: the band-key
table's entries, the candidate pairs and the screen's verdicts, on fingerprints of any shape
(few bigrams, many names, bitmap collisions, truncated sketches)."""

from __future__ import annotations

import struct
from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import bulk, linking, similarity

#: 32-bit hashes, most from a small pool (sketches share them), many of them 2048 apart: they
#: share a bit of a bitmap.
hashes = st.one_of(st.integers(0, 60).map(lambda v: v // 3 * 2048 + v % 3), st.integers(0, 0xFFFFFFFF))


def packed(values: set[int], size: int) -> bytes:
    kept = sorted(values)[:size]
    return struct.pack(f"<{len(kept)}I", *kept)


@st.composite
def fingerprints(draw: st.DrawFn) -> similarity.Fingerprint:
    def sketch(size: int) -> tuple[bytes, int]:
        values = sorted(draw(st.sets(hashes, max_size=size + 8)))
        if len(values) > size and draw(st.booleans()):  # a truncated sketch, with its cut
            return packed(set(values), size), values[size - 1]
        return packed(set(values[:size]), size), similarity.COMPLETE

    words, word_cut = sketch(40)
    shingles, shingle_cut = sketch(40)
    return similarity.Fingerprint(
        draw(st.sampled_from([0.0, 3600.0])),
        words=words,
        word_cut=word_cut,
        shingles=shingles,
        shingle_cut=shingle_cut,
        bigrams=packed(draw(st.sets(hashes, max_size=similarity.KEY_SKETCH)), similarity.KEY_SKETCH),
        names=packed(draw(st.sets(hashes, max_size=similarity.NAME_KEYS)), similarity.NAME_KEYS),
        body_words=100,
    )


@given(st.lists(fingerprints(), max_size=12))
def test_band_entries_are_the_tables_entries(prints: list[similarity.Fingerprint]) -> None:
    expected = sorted(
        h << 32 | n for n, fp in enumerate(prints) for h in similarity.band_hashes(similarity.band_keys(fp))
    )
    assert bulk.band_entries(prints).tolist() == expected


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20)), unique_by=lambda e: e[1]), st.data())
def test_candidate_pairs_are_the_pairs_of_a_hash_within_reach(
    entries: list[tuple[int, int]], data: st.DataObject
) -> None:
    # Entries of hashes 0-5 for positions 0-20; each position reaches itself or later.
    positions = range(21)
    reach = [data.draw(st.integers(n, 20)) for n in positions]
    table = np.array(sorted(h << 32 | p for h, p in entries), dtype=np.uint64)
    first, later = bulk.candidate_pairs(table, np.array(reach, dtype=np.int64))
    expected = sorted(
        {
            (min(p, q), max(p, q))
            for (h, p), (g, q) in combinations(entries, 2)
            if h == g and max(p, q) <= reach[min(p, q)]
        }
    )
    assert list(zip(first.tolist(), later.tolist(), strict=True)) == expected


@settings(max_examples=60)
@given(st.lists(fingerprints(), min_size=2, max_size=8))
def test_the_screen_in_arrays_is_the_screen(prints: list[similarity.Fingerprint]) -> None:
    pairs = list(combinations(range(len(prints)), 2))
    first = np.array([a for a, _ in pairs], dtype=np.int64)
    later = np.array([b for _, b in pairs], dtype=np.int64)
    passed, may_duplicate, may_story = bulk.screen(prints, first, later)
    found = {
        pairs[n]: (d, s)
        for n, d, s in zip(passed.tolist(), may_duplicate.tolist(), may_story.tolist(), strict=True)
    }
    expected = {
        (a, b): (duplicate, story)
        for a, b in pairs
        for _, duplicate, story in linking.screen(prints[a], [prints[b]])
    }
    assert found == expected


def test_bitmaps_are_the_fingerprints_bitmaps() -> None:
    values = {7, 7 + 2048, 9, 4095, 2047, 0xFFFFFFFF}
    sketches = [packed(values, 40), b"", packed({1}, 40)]
    words, more, sizes = bulk.bitmaps(sketches)
    for n, raw in enumerate(sketches):
        value, collided = similarity._bitmap(raw)
        assert int.from_bytes(words[n].tobytes(), "little") == value
        assert (int(more[n]), int(sizes[n])) == (collided, len(raw) // 4)


def test_the_screen_in_arrays_at_the_bars() -> None:
    # Whole sketches of 10-20 hashes sharing 0-20 of them, no two on one bit: every bound lands
    # on and around the bars (8 words, half the smaller set, a shingle Jaccard of 0.6).
    prints = []
    for size in range(10, 21):
        for shared in range(size + 1):
            own = [100_000 * (len(prints) + 1) + 2048 * n + 1 for n in range(size - shared)]
            common = set(range(shared)) | set(own)
            raw = packed(common, 40)
            prints.append(similarity.Fingerprint(0.0, words=raw, shingles=raw, body_words=100))
    base = packed(set(range(20)), 40)
    prints.append(similarity.Fingerprint(0.0, words=base, shingles=base, body_words=100))
    first = np.arange(len(prints) - 1, dtype=np.int64)
    later = np.full(len(prints) - 1, len(prints) - 1, dtype=np.int64)
    passed, may_duplicate, may_story = bulk.screen(prints, first, later)
    found = dict(
        zip(passed.tolist(), zip(may_duplicate.tolist(), may_story.tolist(), strict=True), strict=True)
    )
    expected = {
        n: (d, s) for n in range(len(prints) - 1) for _, d, s in linking.screen(prints[n], [prints[-1]])
    }
    assert found == expected
    assert any(d for d, _ in expected.values()) and any(not d and s for d, s in expected.values())
