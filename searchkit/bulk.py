"""Linking many items at once, in arrays: a full build's candidate pairs, their screen and its
band-key table (searchkit/linking.py, searchkit/bandtable.py), with numpy.

Item by item in Python, a full build of the 21,268 Reuters and BBC items spent about 3 s of CPU
here: a dictionary of 840,000 band keys, 486,000 candidate pairs put in sets, each screened on
two bitmaps (``linking.screen``), and a sort of the table's 840,000 entries in a process of its
own. In arrays the same work takes a fraction of that, and only the pairs that pass the screen
(about one in eight) are tested in Python (``similarity.is_duplicate``, ``same_story``).

The results are those of the Python path, exactly:

- ``band_entries`` gives the table's entries (``hash << 32 | position``) of the hashes
  ``similarity.band_hashes(band_keys(fp))`` gives, computed from the sketches: a band key is a
  bigram hash, a shingle hash with ``SHINGLE_KEY`` above it, or two name hashes with
  ``NAME_KEY`` above them; folded to 32 bits (``k ^ k >> 32 ^ k >> 64``) that is the hash, the
  shingle hash ``^ 1``, or the two names' ``a ^ b ^ 2``, then multiplied as ``band_hashes`` does.
- ``candidate_pairs`` gives every pair of positions with an entry of the same hash, the later
  within the reach of the earlier: the pairs that share a band key, and the few that share only
  a hash (two keys of one hash, about one pair in 10,000). ``linking`` drops those among the
  links it finds (``similarity.share_band_key``).
- ``screen`` applies ``linking.screen``'s bounds to all pairs at once: the same bitmaps
  (``similarity.BITMAP_BITS`` bits, bit ``hash % BITMAP_BITS`` set), the same comparisons in the
  same floating-point arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt

from .similarity import (
    BAND_BUCKETS,
    BAND_MULTIPLIER,
    BITMAP_BITS,
    COMPLETE,
    DUPLICATE_RESEMBLANCE,
    NAME_KEY,
    NAME_KEYS,
    SHINGLE_KEY,
    SHINGLE_KEYS,
    STORY_CONTAINMENT,
    STORY_SHARED,
    Fingerprint,
    band_fold,
)

Ints = npt.NDArray[np.int64]
Entries = npt.NDArray[np.uint64]

_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
#: Pairs screened at a time: two bitmaps of 256 bytes per pair and side (16 MB a chunk).
_CHUNK = 1 << 15


def _flat(sketches: Sequence[bytes]) -> tuple[npt.NDArray[np.uint64], Ints]:
    """The hashes of ``sketches`` one after the other, and how many each has."""
    sizes = np.fromiter((len(s) >> 2 for s in sketches), dtype=np.int64, count=len(sketches))
    hashes = np.frombuffer(b"".join(sketches), dtype="<u4").astype(np.uint64)
    return hashes, sizes


def _distinct(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``values`` sorted, each once (numpy's ``unique`` hashes them: several times slower)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _owners(sizes: Ints) -> Ints:
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)


def band_entries(prints: Sequence[Fingerprint]) -> Entries:
    """``hash << 32 | position`` for each band hash of each item (its position in ``prints``),
    sorted, each once: what ``bandtable`` keeps of items listed in this order."""
    folded: list[npt.NDArray[np.uint64]] = []
    owners: list[Ints] = []
    bigrams, counts = _flat([fp.bigrams for fp in prints])
    folded.append(bigrams)
    owners.append(_owners(counts))
    # Shingle keys, for items with fewer than SHINGLE_KEYS bigrams: their smallest shingles.
    few = np.flatnonzero(counts < SHINGLE_KEYS)
    shingles, sizes = _flat([prints[n].shingles[: 4 * SHINGLE_KEYS] for n in few.tolist()])
    folded.append(shingles ^ np.uint64(band_fold(SHINGLE_KEY)))
    owners.append(np.repeat(few, sizes))
    # Name keys: each pair of an item's names (at most NAME_KEYS, smallest first).
    names, sizes = _flat([fp.names for fp in prints])
    table = np.zeros((len(prints), NAME_KEYS), dtype=np.uint64)
    rows = _owners(sizes)
    table[rows, np.arange(len(names)) - np.repeat(np.cumsum(sizes) - sizes, sizes)] = names
    for i, j in combinations(range(NAME_KEYS), 2):
        have = np.flatnonzero(sizes > j)
        folded.append(table[have, i] ^ table[have, j] ^ np.uint64(band_fold(NAME_KEY)))
        owners.append(have)
    hashes = (np.concatenate(folded) * np.uint64(BAND_MULTIPLIER)) & np.uint64(BAND_BUCKETS - 1)
    positions = np.concatenate(owners).astype(np.uint64)
    return _distinct((hashes << _SHIFT) | positions)


def candidate_pairs(entries: Entries, reach: Ints) -> tuple[Ints, Ints]:
    """The pairs of positions (earlier, later) that have an entry of one hash, the later at or
    before ``reach`` of the earlier (the last position within its window), each once."""
    positions = (entries & _LOW).astype(np.int64)
    ends = np.searchsorted(
        entries, (entries & ~_LOW) | reach[positions].astype(np.uint64), side="right"
    ).astype(np.int64)
    later = ends - np.arange(1, len(entries) + 1, dtype=np.int64)  # entries after each, in reach
    first = np.repeat(np.arange(len(entries), dtype=np.int64), later)
    step = np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(later) - later, later)
    a, b = positions[first].astype(np.uint64), positions[first + 1 + step].astype(np.uint64)
    pairs = _distinct((a << _SHIFT) | b)
    return (pairs >> _SHIFT).astype(np.int64), (pairs & _LOW).astype(np.int64)


def bitmaps(sketches: Sequence[bytes]) -> tuple[npt.NDArray[np.uint64], Ints, Ints]:
    """Each sketch's bitmap as ``BITMAP_BITS // 64`` words (``similarity._bitmap``'s bits), how
    many of its hashes share a bit with another, and how many hashes it has."""
    hashes, sizes = _flat(sketches)
    bits = (hashes & np.uint64(BITMAP_BITS - 1)).astype(np.int64)
    words = np.zeros((len(sketches), BITMAP_BITS // 64), dtype=np.uint64)
    np.bitwise_or.at(
        words, (_owners(sizes), bits >> 6), np.left_shift(np.uint64(1), (bits & 63).astype(np.uint64))
    )
    return words, sizes - np.bitwise_count(words).sum(axis=1, dtype=np.int64), sizes


def screen(
    prints: Sequence[Fingerprint], a: Ints, b: Ints
) -> tuple[Ints, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``linking.screen`` on the pairs ``(prints[a[n]], prints[b[n]])``: the indexes of the pairs
    that pass, and for each whether ``is_duplicate`` and ``same_story`` may hold."""
    word_map, word_more, words = bitmaps([fp.words for fp in prints])
    shingle_map, shingle_more, shingles = bitmaps([fp.shingles for fp in prints])
    words_whole = np.fromiter((fp.word_cut == COMPLETE for fp in prints), dtype=np.bool_, count=len(prints))
    cuts = np.fromiter((fp.shingle_cut for fp in prints), dtype=np.int64, count=len(prints))
    resemblance = DUPLICATE_RESEMBLANCE
    kept: list[Ints] = []
    duplicates: list[npt.NDArray[np.bool_]] = []
    stories: list[npt.NDArray[np.bool_]] = []
    for start in range(0, len(a), _CHUNK):
        x, y = a[start : start + _CHUNK], b[start : start + _CHUNK]
        shared = np.bitwise_count(word_map[x] & word_map[y]).sum(axis=1, dtype=np.int64)
        bound = shared + np.minimum(word_more[x], word_more[y])
        story = (bound >= STORY_SHARED) & (
            ~(words_whole[x] & words_whole[y]) | (bound >= STORY_CONTAINMENT * np.minimum(words[x], words[y]))
        )
        shared = np.bitwise_count(shingle_map[x] & shingle_map[y]).sum(axis=1, dtype=np.int64)
        bound = shared + np.minimum(shingle_more[x], shingle_more[y])
        nx, ny = shingles[x], shingles[y]
        whole = (cuts[x] == COMPLETE) & (cuts[y] == COMPLETE)
        duplicate = np.where(
            whole,
            (np.minimum(nx, ny) >= resemblance * np.maximum(nx, ny))
            & (bound * (1 + resemblance) >= resemblance * (nx + ny)),
            bound >= resemblance * np.where(cuts[x] <= cuts[y], nx, ny),
        )
        passed = np.flatnonzero(story | duplicate)
        kept.append(passed + start)
        duplicates.append(duplicate[passed])
        stories.append(story[passed])
    if not kept:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.bool_)
    return np.concatenate(kept), np.concatenate(duplicates), np.concatenate(stories)
