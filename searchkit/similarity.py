"""Fingerprints of news items, and the two tests that link items into duplicates and stories.

The stories feature links two items when ``is_duplicate`` or ``same_story`` holds for their
fingerprints, and takes the connected components (single link) as duplicate groups and
stories. The index keeps each item's ``Fingerprint`` (``encode``) in a column and the hashes of
its ``band_keys`` beside each commit (searchkit/bandtable.py), which find the items a new one
may link to. Both tests are pure functions of two fingerprints and the window, with no
document frequency or other statistic of the corpus (fixed word lists only), so an incremental
update and a rebuild make the same links.

**A fingerprint.** Headline and body (the excerpt, or the headline, when there is no body) are
cut into lower-case tokens. Stop words go: English function words, "said", units and wire
abbreviations (mln, dlrs, pct), number words, the words of dates. What is left are *content
words*, a plural made singular ("reserves"), and *figures*: a token with digits, "two" to
"twelve", "one" before a unit; 6-1/8 is one figure, 52-55 two. A fingerprint keeps bottom-k
sketches of their CRC-32 hashes (the k smallest hashes of a set, Broder 1997: the whole set for
a typical item, a uniform sample of a long one, Jaccard estimates between the two): the
3-shingles of the body's content words and figures (k = 128; the median Reuters item has 46);
the content words of headline and body (128); each figure with its *context*, the nearest
content word before it ("reserves totaled 18.5", "funds were trading at 6-1/8") (64); the
headline's content words; the body's length, the date, and whether the item says it corrects
or repeats another (CORRECTED, corrects, RPT, REPEAT).

**Duplicates** (``is_duplicate``): the same text or small edits of it (re-wrapped, a headline
changed, a sentence dropped or added, a figure corrected). The shingle Jaccard is 0.6 or more;
no figure of the body *changed* (a context states a figure in both, and none of them is in
both) unless one of the two says it corrects or repeats; and when a body has under 30 words,
more than half of the shorter headline's content words are in the other one (two companies'
"Qtly div 20 cts vs 20 cts prior" are no copies).

**The same story** (``same_story``): at least 8 content words in common, and half of the
smaller item's, and a content-word Jaccard of 0.1 (a brief is no part of every roundup that
mentions its subject). When both state figures, more than half of the smaller item's figures
are in the other (reports of one event state its figures) and none changed; and two texts with
a content-word Jaccard of 0.8 or more and other figures are two editions of a routine report
(the Fed's daily repurchases, a money-market forecast), not one story. A duplicate need not
pass (a corrected figure fails): callers put duplicates in their original's story themselves.

**Time.** Both tests need the two items published within ``window`` seconds of each other. An
undated item is within any window of another undated item and of no dated one: undated copies
still group, and no dated story grows through an item that cannot be placed in time.

**Why these rules.** Shingle resemblance is the classic near-duplicate test; alone (word
4-shingles, 0.6) it took reports re-sent with new figures and short notices of different
companies for copies (duplicate precision 0.951). Content words find coverage that rewords a
report (the evaluation's rewrites keep about 0.55 of their original's content words, 0.4 of its
shingles); alone (Jaccard 0.3 within 3 days) they merged 51 of 176 recurring-headline pairs and
51 of 600 same-day pairs of different stories: daily reports keep their words and change their
figures, and one day's earnings tables and dividend notices share their template. The figures
an item states tell those apart, and need no statistics of the corpus. Thresholds are round
numbers; a step either way keeps every target met but one (a shingle Jaccard of 0.5: duplicate
precision 0.977), and "half or more" of the figures merges 9 recurring-headline pairs.

**Band keys** (``band_keys``, ints): each of the 24 smallest bigrams of the body's content
words and figures (one-row LSH bands); the 4 smallest shingles of an item with fewer than 4
bigrams; each pair of the 8 smallest *names* of the body (a capitalised word after a
lower-case word, a figure or a comma). Bigrams find copies and rewrites; names find coverage
that tells the same event in its own words. Among the 22,000 items of benchmarks/stories.py,
within 3 days: MinHash bands of content words (32 of 2 words) made 2.4 M candidate pairs,
single names 2.4 M, bigrams 0.37 M, bigrams and name pairs 0.51 M; all duplicate pairs and
98% of story pairs share a key (bigrams alone: 95-96%).

**Figures** (benchmarks/stories.py, tabled in benchmarks/README.md): duplicates P 0.994 R 1.000,
stories B-cubed F1 0.981 and 0.967 (seeds 0 and 1), no recurring-headline pair merged.

**Cost** (Python 3.11, a shared 2-core machine): ``fingerprint`` 140-180 us on average over
the Reuters and BBC items, in the writer processes; ``decode`` 3-10 us; 0.5-1.1 KB encoded,
1.45 KB at most, as much in memory (sketches are bytes, not sets of ints). Seven candidate pairs
in eight fail on the AND of two bitmaps (``linking.screen``; for a full build, all at once in
arrays: searchkit/bulk.py), and the tests count the sets of the rest: linking the 21,268 items
takes 0.6-0.7 s, 1 s of CPU.
"""

from __future__ import annotations

import math
import re
import struct
import sys
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

from .models import NewsItem

#: Bumped whenever the encoding or what a fingerprint holds changes: an index keeps fingerprints
#: of one version only (``Fingerprint.decode`` refuses the others).
FINGERPRINT_VERSION = 3

# How much of an item a fingerprint keeps: bottom-k sketches (the k smallest hashes of a set).
SHINGLE_SKETCH = 128  # 3-shingles of the body's content words and figures
WORD_SKETCH = 128  # content words of headline and body
FIGURE_SKETCH = 64  # (context, figure) pairs of headline and body
TITLE_SKETCH = 16  # content words of the headline
KEY_SKETCH = 24  # bigrams of the body's content words and figures: the band keys
SHINGLE_KEYS = 4  # an item with fewer bigrams also gets this many shingles as keys
NAME_KEYS = 8  # names of the body: each pair of the 8 smallest is a band key
BAND_BUCKETS = 1 << 32  # band keys are kept as hashes of this many values
SHINGLE_KEY, NAME_KEY = 1 << 32, 2 << 64  # what tells a band key's kind (``band_keys``)

# The duplicate test.
DUPLICATE_RESEMBLANCE = 0.6  # shingle Jaccard, at least
SHORT_BODY = 30  # words: a shorter body also needs most of its headline's words in common

# The story test.
STORY_SHARED = 8  # content words in common, at least
STORY_CONTAINMENT = 0.5  # of the smaller item's content words, at least
STORY_RESEMBLANCE = 0.1  # content-word Jaccard, at least: a brief is no part of any long roundup
NEW_EDITION = 0.8  # content-word Jaccard from which any other figure makes another edition

COMPLETE = 0xFFFFFFFF  # the cut of a sketch that holds its whole set
_TITLE = 0x10000  # the bit of a (context, figure) pair that says it is the headline's
_MIX = (0x9E3779B1, 0x85EBCA77)  # odd multipliers that combine word hashes into a shingle's
BITMAP_BITS = 2048  # bits of a sketch's bitmap (``Fingerprint.word_map``)
BAND_MULTIPLIER = 0x9E3779B1  # what a band key, folded to 32 bits, is multiplied by (``band_hashes``)

#: u.s, 1,087,000, 6-1/8 and 11:00 whole. Run on text whose underscores are spaces (``_tokens``),
#: it finds what ``[^\W_]+(?:[.,/:-][^\W_]+)*`` finds in the text, a quarter faster.
_TOKEN = re.compile(r"\w+(?:[.,/:-]\w+)*")
_FIGURE = re.compile(r"\d+-\d+/\d+|\d+(?:[.,/:]\d+)*")  # 6-1/8 is one figure, 52-55 two
_ORDINALS = frozenset(["st", "nd", "rd", "th"])
_NUMBERS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip
#: "one" is a figure only before one of these ("one mln dlrs", not "one of the").
_SCALES = frozenset(
    """hundred thousand million mln billion bln trillion percent pct per dollar dollars dlr dlrs cent cents
    cts pound pounds stg sterling yen share shares tonne tonnes barrel barrels point points""".split()  # noqa: SIM905  # 30 words
)
#: Words that say an item corrects or repeats another: in its headline, or in its body.
_TITLE_MARKERS = frozenset({"corrected", "correction", "corrects", "correcting", "rpt", "repeat", "repeats"})
_BODY_MARKERS = frozenset({"corrected", "correction", "corrects", "correcting", "rpt"})
#: Words that say nothing of what an item is about: English function words, attribution,
#: units and wire abbreviations, number words, and the words of dates.
_STOP_WORDS = """a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours yourself
yourselves said says say told reuter reuters mln million bln billion dlr dlrs dollar dollars pct percent per
cent cents cts stg sterling pence u.s u.k us uk one two three four five six seven eight nine ten eleven
twelve monday tuesday wednesday thursday friday saturday sunday january february march april may june july
august september october november december jan feb mar apr jun jul aug sep sept oct nov dec year years week
weeks month months day days today yesterday last next new around nearly roughly approximately almost less
least""".split()  # noqa: SIM905  # 190 words: a list literal would take 190 lines
_STOP = frozenset(_STOP_WORDS)


def _pack(hashes: list[int]) -> bytes:
    if _LITTLE:
        return array("I", hashes).tobytes()
    return struct.pack(f"<{len(hashes)}I", *hashes)


def _unpack(raw: bytes) -> Sequence[int]:
    """The hashes of a sketch, without copying them where the machine is little-endian."""
    if _LITTLE:
        return memoryview(raw).cast("I")
    return struct.unpack(f"<{len(raw) >> 2}I", raw)


_LITTLE = sys.byteorder == "little" and struct.calcsize("I") == 4


def _bitmap(raw: bytes) -> tuple[int, int]:
    """A sketch's hashes as a bitmap (bit ``hash % BITMAP_BITS`` set), and how many of them share a
    bit with another: two sets have at most popcount(AND) plus the smaller of those in common."""
    bits = bytearray(BITMAP_BITS >> 3)
    for h in _unpack(raw):
        h &= BITMAP_BITS - 1
        bits[h >> 3] |= 1 << (h & 7)
    value = int.from_bytes(bits, "little")
    return value, (len(raw) >> 2) - value.bit_count()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the stories feature keeps of an item to compare it with others: its date, and sets
    of 32-bit hashes as bottom-k sketches (the k smallest hashes of a set), each held as bytes:
    its hashes sorted, little-endian. A ``*_cut`` is the largest hash a truncated sketch kept,
    ``0xFFFFFFFF`` when it holds the whole set. Bytes keep it small in memory (about 1 KB,
    where frozensets of Python ints took 16 KB: a full build holds every item's)."""

    #: ``published_at`` in POSIX seconds; None when the item has no date.
    published: float | None
    #: 3-shingles of the body's content words and figures (the excerpt, or the headline, when
    #: there is no body).
    shingles: bytes = b""
    shingle_cut: int = COMPLETE
    #: Content words of headline and body: no stop words or figures; plurals made singular.
    words: bytes = b""
    word_cut: int = COMPLETE
    #: The figures the item states, each with its context: the high 15 bits hash the nearest
    #: content word before it, bit 16 says it is the headline's, the low 16 bits hash the figure.
    figures: bytes = b""
    figure_cut: int = COMPLETE
    #: Content words of the headline.
    title: bytes = b""
    #: Bigrams of the body's content words and figures: band keys.
    bigrams: bytes = b""
    #: Names in the body (capitalised words inside a sentence): pairs of them are band keys.
    names: bytes = b""
    #: How many words the body has.
    body_words: int = 0
    #: The item says it corrects or repeats another (CORRECTED, corrects, RPT, REPEAT).
    corrected: bool = False
    #: ``words`` and ``shingles`` as bitmaps (``_bitmap``; not encoded), made on first use:
    #: they bound what two sets share from above, which rules most candidate pairs out
    #: before a test (``linking.screen``).
    _word_map: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)
    _shingle_map: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def word_map(self) -> tuple[int, int]:
        if self._word_map is None:
            object.__setattr__(self, "_word_map", _bitmap(self.words))
        return self._word_map  # type: ignore[return-value]  # set just above

    @property
    def shingle_map(self) -> tuple[int, int]:
        if self._shingle_map is None:
            object.__setattr__(self, "_shingle_map", _bitmap(self.shingles))
        return self._shingle_map  # type: ignore[return-value]  # set just above

    def encode(self) -> bytes:
        """The fingerprint as bytes, for an index column (``decode`` reads it back)."""
        sets = (self.shingles, self.words, self.figures, self.title, self.bigrams, self.names)
        head = _HEAD.pack(
            FINGERPRINT_VERSION,
            int(self.corrected),
            math.nan if self.published is None else self.published,
            self.body_words,
            self.shingle_cut,
            self.word_cut,
            self.figure_cut,
            *(len(s) >> 2 for s in sets),
        )
        return head + b"".join(sets)

    @classmethod
    def decode(cls, raw: bytes) -> Fingerprint:
        """The fingerprint ``encode`` wrote; ValueError for anything else, another version's
        included."""
        raw = bytes(raw)
        if len(raw) < _HEAD.size or raw[0] != FINGERPRINT_VERSION:
            raise ValueError("not a fingerprint of this version")
        _version, corrected, stamp, body, scut, wcut, fcut, *counts = _HEAD.unpack_from(raw)
        if corrected > 1 or len(raw) != _HEAD.size + 4 * sum(counts) or any(map(int.__gt__, counts, _SIZES)):
            raise ValueError("malformed fingerprint")
        sets = []
        start = _HEAD.size
        for count in counts:
            sets.append(raw[start : start + 4 * count])
            start += 4 * count
        shingles, words, figures, title, bigrams, names = sets
        published = None if math.isnan(stamp) else stamp
        fields = (published, shingles, scut, words, wcut, figures, fcut, title, bigrams, names, body)
        return cls(*fields, bool(corrected))


_HEAD = struct.Struct("<BBdHIIIBBBBBB")
_SIZES = (SHINGLE_SKETCH, WORD_SKETCH, FIGURE_SKETCH, TITLE_SKETCH, KEY_SKETCH, NAME_KEYS)


def _sketch(hashes: set[int], size: int) -> tuple[bytes, int]:
    """The ``size`` smallest of ``hashes``, and the cut (see ``Fingerprint``)."""
    kept = sorted(hashes)
    if len(kept) <= size:
        return _pack(kept), COMPLETE
    return _pack(kept[:size]), kept[size - 1]


def _root(word: str) -> str:
    """A word without -ing, -ed or -e, so that "averaged" and "averaging" give one context."""
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word[-1] == "e":
        return word[:-1]
    return word


def _scan(tokens: list[str], flag: int, words: set[int], figures: set[int]) -> tuple[list[int], list[int]]:
    """Add the content words and (context, figure) pairs of ``tokens`` to ``words`` and
    ``figures``; return the hashes of its content words, and of its content words and
    figures, in order."""
    crc, stop = zlib.crc32, _STOP
    if not _NUMBERS.keys().isdisjoint(tokens):
        last = len(tokens) - 1
        tokens = [
            _NUMBERS[t] if t in _NUMBERS and (t != "one" or (i < last and tokens[i + 1] in _SCALES)) else t
            for i, t in enumerate(tokens)
        ]
    kept = [t for t in tokens if t[0] <= "9" or (len(t) > 2 and t not in stop)]
    # Plurals made singular ("reserves"), but not "gas" or "business"; figures as they are.
    terms = [t[:-1] if len(t) > 3 and t[-1] == "s" and t[-2] != "s" and t[0] > "9" else t for t in kept]
    sequence = list(map(crc, map(str.encode, terms)))
    content = [h for h, t in zip(sequence, kept, strict=True) if t[0] > "9"]
    words.update(content)
    contexts: dict[int, int] = {}
    for n in [n for n, t in enumerate(kept) if t[0] <= "9"]:
        token = kept[n]
        if token.isdigit():
            found = [token]
        elif token[-2:] in _ORDINALS and token[:-2].isdigit():
            continue
        else:
            found = [f.replace(",", "") for f in _FIGURE.findall(token)]
        j = n - 1  # the nearest content word before a figure names what it measures
        while j >= 0 and kept[j][0] <= "9":
            j -= 1
        slot = contexts.get(j)
        if slot is None:
            slot = contexts[j] = (crc(_root(terms[j]).encode()) & 0xFFFE0000 if j >= 0 else 0) | flag
        figures.update([slot | (crc(f.encode()) & 0xFFFF) for f in found])
    return content, sequence


#: A name: a capitalised word after a lower-case word, a figure or a comma (so not the first
#: word of a sentence, nor a word of an all-capitals headline).
_NAME = re.compile(r"[A-Z](?<=[a-z0-9,;:)] [A-Z])[a-z][a-z'-]+")  # capitals first: the lookbehind is rare


def _names(text: str) -> set[int]:
    """The hashes of the names in ``text`` (lower-cased; stop words are no names)."""
    stop, crc = _STOP, zlib.crc32
    return {crc(w.encode()) for w in map(str.lower, _NAME.findall(text)) if w not in stop}


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("_", " "))


def fingerprint(item: NewsItem) -> Fingerprint:
    """The fingerprint of an item: its headline, body (or excerpt) and date."""
    m1, m2 = _MIX
    title_tokens = _tokens(item.title)
    text = item.body or item.excerpt or item.title
    tokens = _tokens(text)
    words: set[int] = set()
    figures: set[int] = set()
    title, _ = _scan(title_tokens, _TITLE, words, figures)
    _, sequence = _scan(tokens, 0, words, figures)
    triples = zip(sequence, sequence[1:], sequence[2:], strict=False)
    shingles = {(a * m1 + b * m2 + c) & COMPLETE for a, b, c in triples}
    if not shingles and sequence:  # a body of one or two words is its own shingle
        shingles = {sum(sequence) & COMPLETE}
    bigrams = {(a * m1 + b) & COMPLETE for a, b in pairwise(sequence)}
    shingle_sketch, shingle_cut = _sketch(shingles, SHINGLE_SKETCH)
    word_sketch, word_cut = _sketch(words, WORD_SKETCH)
    figure_sketch, figure_cut = _sketch(figures, FIGURE_SKETCH)
    return Fingerprint(
        published=item.published_at.timestamp() if item.published_at is not None else None,
        shingles=shingle_sketch,
        shingle_cut=shingle_cut,
        words=word_sketch,
        word_cut=word_cut,
        figures=figure_sketch,
        figure_cut=figure_cut,
        title=_sketch(set(title), TITLE_SKETCH)[0],
        bigrams=_sketch(bigrams, KEY_SKETCH)[0],
        names=_sketch(_names(text), NAME_KEYS)[0],
        body_words=min(len(tokens), 0xFFFF),
        corrected=not (_TITLE_MARKERS.isdisjoint(title_tokens) and _BODY_MARKERS.isdisjoint(tokens)),
    )


def band_keys(fp: Fingerprint) -> list[int]:
    """The keys that find an item's candidates (two items are candidates when they share one):
    the hash of each bigram of its sketch; ``SHINGLE_KEY`` plus each of its smallest shingle
    hashes when it has few bigrams; ``NAME_KEY`` plus each pair of name hashes (``a << 32 | b``)."""
    keys = list(_unpack(fp.bigrams))
    if len(keys) < SHINGLE_KEYS:
        keys += [SHINGLE_KEY | h for h in _unpack(fp.shingles)[:SHINGLE_KEYS]]
    keys += [NAME_KEY | a << 32 | b for a, b in combinations(_unpack(fp.names), 2)]
    return keys


def band_fold(key: int) -> int:
    """A band key folded to 32 bits, before ``band_hashes`` multiplies it: the XOR of its
    32-bit parts (searchkit/bulk.py folds the parts above a key's hashes with it)."""
    return (key ^ key >> 32 ^ key >> 64) & 0xFFFFFFFF


def band_hashes(keys: Iterable[int]) -> list[int]:
    """The hashes of band ``keys`` the index keeps (one of ``BAND_BUCKETS`` values each, distinct
    ones only): two items that share a key share its hash; what a hash finds is checked with
    ``share_band_key``."""
    mask = BAND_BUCKETS - 1
    return sorted({(band_fold(k) * BAND_MULTIPLIER) & mask for k in keys})


def share_band_key(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether ``band_keys(a)`` and ``band_keys(b)`` have a key in common, read off the
    sketches (no key is made): a bigram in common; both with shingle keys (fewer than
    ``SHINGLE_KEYS`` bigrams) and one of those in common; or two names in common (a name pair
    is a key of both)."""
    if not set(_unpack(a.bigrams)).isdisjoint(_unpack(b.bigrams)):
        return True
    few = SHINGLE_KEYS * 4  # bytes of that many hashes
    if (
        len(a.bigrams) < few
        and len(b.bigrams) < few
        and not set(_unpack(a.shingles)[:SHINGLE_KEYS]).isdisjoint(_unpack(b.shingles)[:SHINGLE_KEYS])
    ):
        return True
    # Names are 4 bytes each; a pair of two names in common is a key of both.
    return len(a.names) >= 8 and len(b.names) >= 8 and len(set(_unpack(a.names)) & set(_unpack(b.names))) >= 2


def _close(a: Fingerprint, b: Fingerprint, window: float) -> bool:
    if a.published is None or b.published is None:
        return a.published is None and b.published is None
    return abs(a.published - b.published) <= window


def _overlap(a: bytes, acut: int, b: bytes, bcut: int) -> tuple[int, int, int]:
    """(hashes in common, hashes of the smaller, hashes of the larger), counted below both
    sketches' cuts: where both are complete, so the counts are those of the whole sets or of
    the same sample of both."""
    ha, hb = _unpack(a), _unpack(b)
    if acut != bcut:
        cut = min(acut, bcut)
        ha, hb = ha[: bisect_right(ha, cut)], hb[: bisect_right(hb, cut)]
    if len(ha) > len(hb):
        ha, hb = hb, ha
    return len(set(ha).intersection(hb)), len(ha), len(hb)


def _figure_sets(a: Fingerprint, b: Fingerprint, body_only: bool) -> tuple[set[int], set[int]]:
    """The (context, figure) pairs of two fingerprints, below both sketches' cuts."""
    fa, fb = _unpack(a.figures), _unpack(b.figures)
    if a.figure_cut != b.figure_cut:
        cut = min(a.figure_cut, b.figure_cut)
        fa, fb = fa[: bisect_right(fa, cut)], fb[: bisect_right(fb, cut)]
    if body_only:
        return {f for f in fa if not f & _TITLE}, {f for f in fb if not f & _TITLE}
    return set(fa), set(fb)


def _changed(fa: set[int], fb: set[int]) -> bool:
    """A context states figures in both, and none of its figures is in both."""
    shared = {f >> 16 for f in fa}.intersection([f >> 16 for f in fb])
    return bool(shared) and not shared <= {f >> 16 for f in fa & fb}


def is_duplicate(a: Fingerprint, b: Fingerprint, *, window: float) -> bool:
    """Whether two items are copies of one text (small edits allowed: re-wrapping, a changed
    headline, a sentence dropped or added, a figure corrected) published within ``window``
    seconds of each other. See the module docstring."""
    if not _close(a, b, window):
        return False
    na, nb = len(a.shingles) >> 2, len(b.shingles) >> 2
    if a.shingle_cut == b.shingle_cut == COMPLETE and min(na, nb) < DUPLICATE_RESEMBLANCE * max(na, nb):
        return False  # too different in size for the Jaccard to reach the bar
    shared, na, nb = _overlap(a.shingles, a.shingle_cut, b.shingles, b.shingle_cut)
    if not shared or shared < DUPLICATE_RESEMBLANCE * (na + nb - shared):
        return False
    if (a.body_words < SHORT_BODY or b.body_words < SHORT_BODY) and (a.title or b.title):
        common, ta, tb = _overlap(a.title, COMPLETE, b.title, COMPLETE)
        if 2 * common <= min(ta, tb):
            return False
    return a.corrected or b.corrected or not _changed(*_figure_sets(a, b, True))


def same_story(a: Fingerprint, b: Fingerprint, *, window: float) -> bool:
    """Whether two items report the same news, published within ``window`` seconds of each
    other. A duplicate need not pass (a corrected figure fails it): callers put duplicates in
    their original's story themselves. See the module docstring."""
    if not _close(a, b, window):
        return False
    shared, na, nb = _overlap(a.words, a.word_cut, b.words, b.word_cut)
    union = na + nb - shared
    if shared < max(STORY_SHARED, STORY_CONTAINMENT * min(na, nb), STORY_RESEMBLANCE * union):
        return False
    if not a.figures or not b.figures:
        return True
    fa, fb = _figure_sets(a, b, False)
    va, vb = {f & 0xFFFF for f in fa}, {f & 0xFFFF for f in fb}
    if 2 * len(va & vb) <= min(len(va), len(vb)):
        return False
    if va != vb and shared >= NEW_EDITION * union:
        return False
    return not _changed(fa, fb)
