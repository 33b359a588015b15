"""Fingerprints of news items and the predicates stories compare them with.

A first version, not yet measured on the labelled evaluation (benchmarks/stories.py): word
3-shingles of the body for duplicates, content words of headline and body for stories, the
figures an item states (with the word before each) so that a report repeated with other figures
is another report, and correction markers (CORRECTED, RPT) that let a corrected figure stay a
copy. Band keys are MinHash bins of both sets. It is known to put some recurring reports with
changed figures in one story (tests/test_related.py marks that case).
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass

from .models import NewsItem

FINGERPRINT_VERSION = 1

_MASK = 0xFFFFFFFF
_COMPLETE = _MASK  # the cut of a sketch that holds its whole set

SHINGLE_SKETCH = 128
WORD_SKETCH = 128
NUMBER_SKETCH = 64
TITLE_WORDS = 16

DUPLICATE_RESEMBLANCE = 0.6
SHORT_BODY = 30
STORY_CONTAINMENT = 0.5
STORY_SHARED = 5
FIGURES_SHARED = 0.5
SLOT_VETO = True

_WORD = re.compile(r"[^\W_]+(?:[.,/-][^\W_]+)*")
_FIGURE = re.compile(r"\d+(?:[.,/-]\d+)*")
_MARKERS = frozenset(["corrected", "corrects", "correcting", "correction", "rpt", "repeat", "repeats"])
_NUMBER_WORDS = dict(
    zip(
        ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"],
        map(str, range(2, 13)),
        strict=True,
    )
)
_STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours yourself
yourselves said says say told reuter reuters mln million bln billion dlrs dollars dollar dlr pct percent per
cent cents cts stg pence u.s u.k us uk one
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december jan feb mar apr jun jul aug sep sept oct nov dec
year years week weeks month months day days today yesterday last next new""".split()  # noqa: SIM905
)
_MULT = (0x9E3779B1, 0x85EBCA77)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What stories compare of one item."""

    published: float | None
    shingles: frozenset[int] = frozenset()
    shingle_cut: int = _COMPLETE
    words: frozenset[int] = frozenset()
    word_cut: int = _COMPLETE
    figures: frozenset[int] = frozenset()
    figure_cut: int = _COMPLETE
    title: frozenset[int] = frozenset()
    body_words: int = 0
    corrected: bool = False

    def encode(self) -> bytes:
        s, w, f, t = (sorted(x) for x in (self.shingles, self.words, self.figures, self.title))
        stamp = math.nan if self.published is None else self.published
        return struct.pack(
            f"<BBdIIIHHHHH{len(s) + len(w) + len(f) + len(t)}I",
            FINGERPRINT_VERSION,
            self.corrected,
            stamp,
            self.shingle_cut,
            self.word_cut,
            self.figure_cut,
            min(self.body_words, 0xFFFF),
            len(s),
            len(w),
            len(f),
            len(t),
            *s,
            *w,
            *f,
            *t,
        )

    @classmethod
    def decode(cls, raw: bytes) -> Fingerprint:
        head = struct.Struct("<BBdIIIHHHHH")
        if len(raw) < head.size or raw[0] != FINGERPRINT_VERSION:
            raise ValueError("not a fingerprint of this version")
        _v, corrected, stamp, scut, wcut, fcut, body, ns, nw, nf, nt = head.unpack_from(raw)
        if len(raw) != head.size + 4 * (ns + nw + nf + nt) or corrected > 1:
            raise ValueError("malformed fingerprint")
        values = struct.unpack_from(f"<{ns + nw + nf + nt}I", raw, head.size)
        return cls(
            None if math.isnan(stamp) else stamp,
            frozenset(values[:ns]),
            scut,
            frozenset(values[ns : ns + nw]),
            wcut,
            frozenset(values[ns + nw : ns + nw + nf]),
            fcut,
            frozenset(values[ns + nw + nf :]),
            body,
            bool(corrected),
        )


def _sketch(hashes: set[int], size: int) -> tuple[frozenset[int], int]:
    if len(hashes) <= size:
        return frozenset(hashes), _COMPLETE
    kept = sorted(hashes)[:size]
    return frozenset(kept), kept[-1]


def _figure(token: str) -> str | None:
    match = _FIGURE.match(token)
    if match is None:
        return _NUMBER_WORDS.get(token)
    rest = token[match.end() :]
    if rest in ("st", "nd", "rd", "th"):
        return None
    return match.group(0).replace(",", "")


def fingerprint(item: NewsItem) -> Fingerprint:
    body = item.body or item.excerpt or item.title
    crc = zlib.crc32
    title_tokens = [_stem(w) for w in _WORD.findall(item.title.lower())]
    tokens = [_stem(w) for w in _WORD.findall(body.lower())]
    title_hashes = [crc(w.encode()) for w in title_tokens]
    hashes = [crc(w.encode()) for w in tokens]
    m1, m2 = _MULT
    shingles = {
        (a * m1 + b * m2 + c) & _MASK for a, b, c in zip(hashes, hashes[1:], hashes[2:], strict=False)
    }
    if not shingles and hashes:
        shingles = {crc(" ".join(tokens).encode())}
    words: set[int] = set()
    fills: set[int] = set()
    title: set[int] = set()
    for toks, hs, is_title in ((title_tokens, title_hashes, True), (tokens, hashes, False)):
        prev = 0
        for token, h in zip(toks, hs, strict=True):
            if token[0].isdigit() or token in _NUMBER_WORDS:
                figure = _figure(token)
                if figure is not None:
                    fills.add((prev & 0xFFFF0000) | (crc(figure.encode()) & 0xFFFF))
            elif len(token) > 2 and token not in _STOP:
                words.add(h)
                if is_title:
                    title.add(h)
            prev = h
    marked = bool(_MARKERS.intersection(title_tokens)) or bool(_MARKERS.intersection(tokens))
    s, scut = _sketch(shingles, SHINGLE_SKETCH)
    w, wcut = _sketch(words, WORD_SKETCH)
    f, fcut = _sketch(fills, NUMBER_SKETCH)
    t, _ = _sketch(title, TITLE_WORDS)
    published = item.published_at.timestamp() if item.published_at is not None else None
    return Fingerprint(published, s, scut, w, wcut, f, fcut, t, len(tokens), marked)


def _stem(word: str) -> str:
    if len(word) > 3 and word[-1] == "s" and word[-2] != "s":
        return word[:-1]
    return word


def _bins(values: frozenset[int], bins: int) -> list[int]:
    shift = bins.bit_length() - 1
    slots = [-1] * bins
    for v in values:
        b, rank = v & (bins - 1), v >> shift
        if slots[b] < 0 or rank < slots[b]:
            slots[b] = rank
    if max(slots) < 0:
        return []
    out = list(slots)
    for i in range(bins):
        d = 0
        while slots[(i + d) % bins] < 0:
            d += 1
        out[i] = slots[(i + d) % bins] + (d << 28)
    return out


DUP_BINS, DUP_ROWS = 32, 2
STORY_BINS, STORY_ROWS = 64, 2


def band_keys(fp: Fingerprint) -> list[str]:
    keys = []
    for prefix, values, bins, rows in (
        ("d", fp.shingles, DUP_BINS, DUP_ROWS),
        ("s", fp.words, STORY_BINS, STORY_ROWS),
    ):
        signature = _bins(values, bins)
        for band in range(len(signature) // rows):
            packed = struct.pack(f"<{rows}Q", *signature[band * rows : (band + 1) * rows])
            keys.append(f"{prefix}{band:x}:{zlib.crc32(packed):08x}")
    return keys


def _close(a: Fingerprint, b: Fingerprint, window: float) -> bool:
    if a.published is None or b.published is None:
        return a.published is None and b.published is None
    return abs(a.published - b.published) <= window


def _overlap(a: frozenset[int], acut: int, b: frozenset[int], bcut: int) -> tuple[int, int, int]:
    """(shared, size of a, size of b), counted below both sketches' cuts."""
    shared = a & b
    if acut == bcut == _COMPLETE:
        return len(shared), len(a), len(b)
    cut = min(acut, bcut)
    na = len(a) if acut == cut else sum(1 for x in a if x <= cut)
    nb = len(b) if bcut == cut else sum(1 for x in b if x <= cut)
    return sum(1 for x in shared if x <= cut), na, nb


def _figures_changed(a: Fingerprint, b: Fingerprint) -> bool:
    slots = {f >> 16 for f in a.figures}.intersection([f >> 16 for f in b.figures])
    if not slots:
        return False
    kept = {f >> 16 for f in a.figures & b.figures}
    return bool(slots - kept)


def is_duplicate(a: Fingerprint, b: Fingerprint, *, window: float) -> bool:
    if not _close(a, b, window):
        return False
    shared, na, nb = _overlap(a.shingles, a.shingle_cut, b.shingles, b.shingle_cut)
    if not shared or shared < DUPLICATE_RESEMBLANCE * (na + nb - shared):
        return False
    if _figures_changed(a, b) and not (a.corrected or b.corrected):
        return False
    return not ((a.body_words < SHORT_BODY or b.body_words < SHORT_BODY) and not a.title & b.title)


def same_story(a: Fingerprint, b: Fingerprint, *, window: float) -> bool:
    if not _close(a, b, window):
        return False
    shared, na, nb = _overlap(a.words, a.word_cut, b.words, b.word_cut)
    if shared < STORY_SHARED or shared < STORY_CONTAINMENT * min(na, nb):
        return False
    if a.figures and b.figures:
        va = {f & 0xFFFF for f in a.figures}
        vb = {f & 0xFFFF for f in b.figures}
        if len(va & vb) < FIGURES_SHARED * min(len(va), len(vb)):
            return False
    return not (SLOT_VETO and _figures_changed(a, b))
