"""The labelled evaluation the coming "Stories" feature (``duplicate_of`` and ``story`` for each
item) is judged on: real duplicates, planted coverage and negatives, with the metrics, two
baseline predictors and searchkit's own rules.

    python benchmarks/stories.py [--seed N] [--keep DIR] [--show-pairs N] [--recall]

``build_evaluation(out_dir, seed=...)`` writes ``out_dir/corpus`` (Reuters-21578 and BBC as they
are, plus the planted items of part 2 under ``planted/``) and ``out_dir/labels.json``; ids are
the files' paths relative to ``out_dir/corpus``, as searchkit makes them. The same seed gives
the same files and labels (part 1 does not depend on it). ``evaluate`` runs a predictor, a
callable ``predict(corpus_dir) -> (duplicate_of, story)``, and scores it:

* duplicates, part 1: pairwise precision and recall over the pairs within groups, counted over
  pairs of two Reuters items, the ambiguous pairs left out; and recall on the near-copy pairs;
* stories, part 2: B-cubed precision, recall and F1 over the planted stories' items;
* negatives, part 3: how many pairs the prediction puts in one story, per kind.

**Part 1, real duplicates in Reuters** (``find_duplicates``). Every pair of Reuters items whose
bodies have a word 3-shingle Jaccard of 0.5 or more is found, none missed (a prefix-filtered
similarity join), identical bodies included. Each pair is then labelled by the first rule
that applies; the rules were written after reading samples of every rule's pairs and of each
Jaccard band (``--show-pairs`` prints them again):

1. *recurring report*: the same headline on different UTC dates, the headline seen on 3 dates
   or more (FED ADDS RESERVES VIA CUSTOMER REPURCHASES, 14 items) or the two published at the
   same time of day (within an hour): not duplicates when a figure changed (a later day's
   report), ignored when not (the Bundesbank's "left credit policies unchanged", word for
   word on three Thursdays: a copy or a new report?);
2. a short body (under 30 words) and another subject (no common ticker, another first
   headline word): not duplicates, even when identical ("Qtly div 20 cts vs 20 cts prior / Pay
   April 15 / Record March 23" from two companies);
3. more than 72 hours apart: not duplicates when a figure changed, else ignored;
4. identical bodies after whitespace normalisation: duplicates;
5. a figure changed and another subject (a template: two companies' eurobond issues): not;
6. Jaccard 0.7 or more, no figure changed unless one of the two says it is a correction or a
   repeat (CORRECTED, corrects, RPT, REPEAT): duplicates (re-sends: a reworded headline, a
   ticker added, a sentence dropped or added, typos fixed, a figure corrected);
7. anything else (0.5 <= J < 0.7, mostly versions of one story with paragraphs added or cut,
   or a figure changed without a word about it): ignored.

"A figure changed" means a replaced run of words holds as many numbers on both sides, not the
same ones (``changed_figures``). Duplicate groups are the connected components of the
duplicate pairs. Ignored pairs count neither for nor against a prediction; any other pair of
Reuters items is a non-duplicate. With seed 0: 523 groups (1,055 items, 541 pairs: 339
identical bodies, 202 near-copy links), 163 pairs ignored, 463 similar pairs not duplicates.

**Part 2, planted coverage** (``plant``, ``rewrite``). Originals: Reuters and BBC items with a
prose body (80 words or more, 4 prose sentences making 80% of it; tables are not rewritten),
a headline not repeated in their source, in no pair of part 1 (for BBC: no body with a
Jaccard of 0.5 with another) and in no pair of part 3. About half of the Reuters originals
come in twos: two items of the same topic and day that surely are different stories (part
3b's test), the most similar such pairs first, so that merging neighbouring stories costs
precision; the rest are a seeded sample, no two within 3 days with a content-word Jaccard of
0.2 or more. Each original gets 1-4 rewrites, each by another invented provider (ten, each
with a house style: title or sentence case, "percent" or "per cent"). A rewrite:

* is published 30 minutes to 24 hours after the original (a quarter of them before it), keeps
  its topics and category, and has the provider's url and a random id
  (``planted/<provider>/<12 hex digits>.md``, which says nothing of the original);
* headline: ticker markers and CORRECTED/RPT dropped; "A SAYS B" made "B, A says" and "B - A"
  made "A: B" (70% each); the wire abbreviations spelled out (MLN -> million, U.S. -> US,
  1ST -> first, PCT -> percent); words replaced from a headline synonym table (80% each);
  recased in the provider's style, proper nouns cased as in the body; 2 in 5 wrapped
  ("UPDATE 1-...", "... - report"); a headline left unchanged is wrapped or gets the topic as
  a kicker ("Politics: ...");
* body, split into sentences: the lead's first "said" given the weekday (30%); a quarter are
  briefs (the lead and one or two of the next three sentences); otherwise each later sentence
  dropped (15-50%) and 40% cut to their first 40-70%; adjacent sentences swapped; half add 1-3
  sentences of background from the older item (5 to 30 days before, same source and topic)
  closest in content; the lead swapped with the next sentence (up to 20%); attribution turned
  round ("X said Y." <-> "Y, X said.", 30-70% of sentences); money in the providers' style
  ("1.5 billion dlrs" -> "$1.5 billion"); words replaced from a body synonym table (25-75%),
  the abbreviations always; half end with a sentence of the provider's own ("This story will
  be updated."); regrouped into paragraphs of 1-3 sentences.

How much is changed (drop, swap, flip and synonym rates) is drawn per rewrite. With seed 0 the
median word 3-shingle Jaccard between a rewrite and its original is about 0.4, the content-word
Jaccard about 0.55. Each original and its rewrites make one labelled story; no part-1 group
is part of one (their items are not originals), and the report gives, separately, the share
of part-1 duplicate pairs a prediction puts in one story.

**Part 3, negatives** (``recurring_negatives``, ``distinct_same_day_pairs``). (a) Recurring
headlines: consecutive items of a recurring headline (rule 1) whose bodies differ in a figure:
a later day's report is a new story. (b) Same topic, same UTC date, different stories: two
Reuters items with a topic in common, different headlines, at most one rare word (in 20 items
or fewer) in common and in no pair of part 1, which either name different listed companies in
their headlines (tickers and names differ, neither in the other's text) or name no company,
have disjoint ``places`` and share no headline content word. Each item's most similar such
partner is kept (the hardest negative it has), and a seeded sample of 600 of those pairs.

**Baselines.** ``naive_predict``: duplicates have identical normalised bodies; a story is a
chain of items with the same normalised headline, each within 3 days of the one before, plus
duplicates. ``minhash_predict``: one-permutation MinHash (64 bins, rotation densification)
with LSH banding, candidates compared exactly; duplicates are pairs within 3 days with a body
word 4-shingle Jaccard of 0.6 or more (16 bands of 4 rows); stories add pairs within 3 days
whose content words (title and body; no stop words, none in over 5% of items) have a Jaccard
of 0.3 or more (32 bands of 2 rows), joined single-link. Both thresholds are round numbers
chosen before looking at the scores, not tuned.

**searchkit** (``library_predict``): the rules of ``searchkit.similarity`` applied as the index
applies them, and nothing else: every item's fingerprint, candidates from shared band keys
(items of one key published within 3 days of each other), ``is_duplicate`` then
``same_story`` on each candidate pair, duplicate groups and stories the connected components
(duplicates joined to their story). ``--recall`` also compares every two items published
within 3 days of each other (minutes) and prints the share of the pairs a test links that share
a band key (``candidate_recall``).

Part 1 is found with shingles, so a shingle-based detector with a lower threshold finds all
of it: its recall says nothing about near-copies that shingles would miss.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from searchkit import similarity
from searchkit.corpus import corpus_files
from searchkit.documents import parse_bytes, read_item_bytes
from searchkit.models import NewsItem

#: Items of one story are published within this time of each other (the feature's default).
WINDOW = timedelta(days=3)

#: The real data: (archive, the folder it unpacks to).
SOURCES = (("reuters21578-news.tar.gz", "reuters21578"), ("bbc-news.tar.gz", "bbc"))
REUTERS = "reuters21578/"
BBC = "bbc/"
PLANTED = "planted"

# Part 1 (see the module docstring).
CANDIDATE_JACCARD = 0.5
DUPLICATE_JACCARD = 0.7
DUPLICATE_GAP = timedelta(hours=72)
SHORT_BODY_WORDS = 30
SERIES_DATES = 3

# Part 2.
REUTERS_ORIGINALS = 200
BBC_ORIGINALS = 100
MIN_ORIGINAL_WORDS = 80
MIN_ORIGINAL_SENTENCES = 4

# Part 3.
SAME_DAY_NEGATIVES = 600


# -- text -----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:[.,/'-][a-z0-9]+)*")
_MARKER = re.compile(r"\b(corrected|corrects|correction|rpt|repeat|repeats|repeated)\b", re.IGNORECASE)
_TICKER = re.compile(r"<([^<>]*)>")
_DIGITS = re.compile(r"\d+(?:[.:/-]\d+)*")
_NUMBER_WORDS = {
    word: str(n)
    for n, word in enumerate(
        _WORD.findall("zero one two three four five six seven eight nine ten eleven twelve")
    )
}


def normalised(text: str) -> str:
    """``text`` with runs of whitespace made one space, stripped."""
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-case word tokens; numbers keep their inner points and commas (``1.5``, ``2,000``)."""
    return _WORD.findall(text.lower())


def shingles(tokens: Sequence[str], size: int) -> set[str]:
    """The set of ``size``-word shingles (the whole text as one when it is shorter)."""
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def numbers(tokens: Iterable[str]) -> list[str]:
    """The numbers among whitespace-separated tokens, sorted: ``2,000`` as ``2000``, ``two``
    as ``2``."""
    found = []
    for token in tokens:
        found.extend(_DIGITS.findall(token.replace(",", "")))
        word = token.strip(".,;:()\"'").lower()
        if word in _NUMBER_WORDS:
            found.append(_NUMBER_WORDS[word])
    return sorted(found)


def changed_figures(a: str, b: str) -> bool:
    """True when a figure differs between two texts: a replaced run of words holds as many
    numbers on both sides, not the same ones. Dropped or added words do not count."""
    aw, bw = a.split(), b.split()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, aw, bw, autojunk=False).get_opcodes():
        if op == "replace":
            before, after = numbers(aw[i1:i2]), numbers(bw[j1:j2])
            if before and len(before) == len(after) and before != after:
                return True
    return False


def title_key(title: str) -> str:
    return normalised(title).upper()


def subject_keys(title: str) -> set[str]:
    """What names a headline's subject: its tickers (``<KASL>``, ``<PARC.O>`` -> ``$PARC``) and
    its first word, correction markers left out (``CORRECTED - DEROSE ...`` -> ``DEROSE``)."""
    keys = {"$" + t.split(".")[0].strip().upper() for t in _TICKER.findall(title) if t and " " not in t}
    bare = _MARKER.sub(" ", title.replace("<", " ").replace(">", " "))
    first = re.findall(r"[A-Za-z0-9][A-Za-z0-9&.'/]*", bare)
    if first:
        keys.add(first[0].upper())
    return keys


def when(item: NewsItem) -> datetime:
    return item.published_at or datetime(1970, 1, 1, tzinfo=timezone.utc)


def earliest_first(items: Mapping[str, NewsItem], ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=lambda i: (when(items[i]), i))


class UnionFind:
    """Disjoint sets of ids (path halving)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[str]]:
        members: dict[str, list[str]] = defaultdict(list)
        for x in self.parent:
            members[self.find(x)].append(x)
        return sorted(sorted(g) for g in members.values() if len(g) > 1)


def similar_pairs(sets: Mapping[str, set[str]], threshold: float) -> dict[tuple[str, str], float]:
    """Every pair of ``sets`` whose Jaccard is at least ``threshold``, with its Jaccard: a
    prefix-filtered similarity join (two sets that similar share one of the rarest
    ``n - ceil(threshold * n) + 1`` elements of each), so none is missed."""
    df = Counter(e for s in sets.values() for e in s)
    shared = sorted((e for e, n in df.items() if n > 1), key=lambda e: (df[e], e))
    rank = {e: r for r, e in enumerate(shared)}
    index: dict[int, list[str]] = defaultdict(list)
    candidates: set[tuple[str, str]] = set()
    for ident in sorted(sets):
        elements = sets[ident]
        prefix = len(elements) - math.ceil(threshold * len(elements)) + 1
        ranked = sorted(rank[e] for e in elements if e in rank)
        prefix -= len(elements) - len(ranked)  # elements no other set holds come first
        for r in ranked[: max(prefix, 0)]:
            for other in index[r]:
                candidates.add((other, ident))
            index[r].append(ident)
    found = {}
    for a, b in candidates:
        score = jaccard(sets[a], sets[b])
        if score >= threshold:
            found[(a, b)] = score
    return found


def load_items(corpus_dir: Path) -> dict[str, NewsItem]:
    """Every item of a corpus folder, by id (searchkit's own reader, so its ids)."""
    return {
        ident: parse_bytes(read_item_bytes(path, ident), ident) for ident, path in corpus_files(corpus_dir)
    }


# -- part 1: real duplicates ----------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateLabels:
    """Part 1: the duplicate groups, the pairs left out of scoring, and how each was decided."""

    groups: list[list[str]]
    ignored: list[tuple[str, str]]
    near_pairs: list[tuple[str, str]]  # duplicate pairs whose bodies are not identical
    not_duplicates: list[tuple[str, str]]  # similar pairs (J >= 0.5) labelled not duplicates
    reasons: dict[tuple[str, str], str] = field(repr=False)


class _Body:
    """What the part-1 rules look at in one item."""

    def __init__(self, item: NewsItem) -> None:
        tokens = words(item.body)
        self.item = item
        self.text = normalised(item.body)
        self.shingles = shingles(tokens, 3)
        self.short = len(tokens) < SHORT_BODY_WORDS
        self.subject = subject_keys(item.title)
        self.title = title_key(item.title)
        self.marked = bool(_MARKER.search(item.title) or _MARKER.search(item.body))


def recurring(a: NewsItem, b: NewsItem, series: Mapping[str, int]) -> bool:
    """Same headline on different UTC dates, the headline one of a series (seen on
    ``SERIES_DATES`` dates or more) or the two published at the same time of day."""
    key = title_key(a.title)
    if key != title_key(b.title) or when(a).date() == when(b).date():
        return False
    hours = abs((when(a) - when(b)).total_seconds()) / 3600 % 24
    return series.get(key, 0) >= SERIES_DATES or min(hours, 24 - hours) <= 1


def title_dates(items: Iterable[NewsItem]) -> dict[str, int]:
    """On how many UTC dates each headline occurs."""
    dates: dict[str, set[object]] = defaultdict(set)
    for item in items:
        dates[title_key(item.title)].add(when(item).date())
    return {key: len(found) for key, found in dates.items()}


def label_pair(a: _Body, b: _Body, score: float, series: Mapping[str, int]) -> tuple[str, str]:
    """("duplicate" | "ignored" | "not", the rule) for a pair with body Jaccard ``score``."""
    exact = a.text == b.text
    changed = not exact and changed_figures(a.item.body, b.item.body)
    if recurring(a.item, b.item, series):
        if changed:
            return "not", "recurring headline, figures changed"
        return "ignored", "recurring headline, same figures"
    if (a.short or b.short) and not a.subject & b.subject:
        return "not", "short body, other subject"
    if abs(when(a.item) - when(b.item)) > DUPLICATE_GAP:
        if changed:
            return "not", "over 72 hours apart, figures changed"
        return "ignored", "over 72 hours apart"
    if exact:
        return "duplicate", "identical body"
    if changed and not a.subject & b.subject:
        return "not", "other subject, figures changed"
    if score >= DUPLICATE_JACCARD and (not changed or a.marked or b.marked):
        return "duplicate", "near-identical body"
    if score >= DUPLICATE_JACCARD:
        return "ignored", "figure changed, not marked as a correction"
    return "ignored", "Jaccard 0.5-0.7"


def find_duplicates(items: Mapping[str, NewsItem]) -> DuplicateLabels:
    """Part 1 over the Reuters items of ``items`` (see the module docstring)."""
    bodies = {i: _Body(item) for i, item in items.items() if i.startswith(REUTERS)}
    series = title_dates(b.item for b in bodies.values())
    pairs = similar_pairs({i: b.shingles for i, b in bodies.items()}, CANDIDATE_JACCARD)
    union = UnionFind()
    ignored, near, negative = [], [], []
    reasons = {}
    for (x, y), score in sorted(pairs.items()):
        label, reason = label_pair(bodies[x], bodies[y], score, series)
        reasons[(x, y)] = reason
        if label == "duplicate":
            union.union(x, y)
            if bodies[x].text != bodies[y].text:
                near.append((x, y))
        elif label == "ignored":
            ignored.append((x, y))
        else:
            negative.append((x, y))
    groups = [earliest_first(items, g) for g in union.groups()]
    return DuplicateLabels(groups, ignored, near, negative, reasons)


# -- part 3: negatives ----------------------------------------------------------------------


class NegativePair(NamedTuple):
    """Two items that are different stories; ``kind`` says how they were chosen:
    "recurring-headline", "same-day-companies" or "same-day-places"."""

    a: str
    b: str
    kind: str


def recurring_negatives(items: Mapping[str, NewsItem], labels: DuplicateLabels) -> list[NegativePair]:
    """Consecutive items of a recurring headline whose figures differ (part 3a)."""
    reuters = [item for i, item in items.items() if i.startswith(REUTERS)]
    series = title_dates(reuters)
    by_title: dict[str, list[NewsItem]] = defaultdict(list)
    for item in reuters:
        by_title[title_key(item.title)].append(item)
    in_group = {i: n for n, g in enumerate(labels.groups) for i in g}
    found = []
    for key in sorted(by_title):
        ordered = sorted(by_title[key], key=lambda it: (when(it), it.id))
        for a, b in pairwise(ordered):
            if not recurring(a, b, series) or in_group.get(a.id, -1) == in_group.get(b.id, -2):
                continue
            if normalised(a.body) != normalised(b.body) and changed_figures(a.body, b.body):
                found.append(NegativePair(*sorted((a.id, b.id)), "recurring-headline"))
    return found


def _company(item: NewsItem) -> tuple[str, str] | None:
    """(ticker, first name word) of a headline that names a listed company, else None."""
    tickers = [t.split(".")[0].strip() for t in _TICKER.findall(item.title) if t and " " not in t.strip()]
    first = re.findall(r"[A-Za-z][A-Za-z&'-]*", item.title.split("<")[0])
    if not tickers or not first:
        return None
    return tickers[0].lower(), first[0].lower()


_PLACES_FIELD = re.compile(r"^places:[ \t]*(?:\[\])?[ \t]*\n((?:-[ \t].*\n)*)", re.MULTILINE)


def read_places(corpus_dir: Path, ids: Iterable[str]) -> dict[str, set[str]]:
    """The Reuters ``places`` field of each item (an extra field, which searchkit does not keep),
    read from the front matter's text: a block list of plain values."""
    found = {}
    for ident in ids:
        text = (corpus_dir / ident).read_text(encoding="utf-8")
        end = text.find("\n---", 3)
        match = _PLACES_FIELD.search(text[: end + 1] if end > 0 else text)
        found[ident] = {line[1:].strip() for line in match.group(1).splitlines()} if match else set()
    return found


class DistinctPair(NamedTuple):
    """Two Reuters items that surely are different stories, how similar they are (a Jaccard)
    and why they are different ("companies" or "places")."""

    score: float
    a: str
    b: str
    why: str


def distinct_same_day_pairs(
    items: Mapping[str, NewsItem], labels: DuplicateLabels, places: Mapping[str, set[str]]
) -> list[DistinctPair]:
    """Every two Reuters items that share a topic, are published the same UTC date and surely
    report different events (``distinct``), with different headlines, at most one rare word
    (in 20 items or fewer) in common, and in no pair of part 1. The score is the Jaccard of
    their words found in at most 5% of items."""
    reuters = {i: item for i, item in items.items() if i.startswith(REUTERS) and item.topics}
    vocab = {i: set(words(f"{item.title} {item.body}")) for i, item in reuters.items()}
    df = Counter(w for v in vocab.values() for w in v)
    rare = {i: {w for w in v if df[w] <= 20 and not any(c.isdigit() for c in w)} for i, v in vocab.items()}
    common = max(len(vocab) // 20, 1)
    content = {i: {w for w in v if df[w] <= common} for i, v in vocab.items()}
    similar = {tuple(sorted(p)) for p in [*labels.ignored, *labels.not_duplicates]}
    similar.update(p for g in labels.groups for p in combinations(sorted(g), 2))
    by_day: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i, item in reuters.items():
        for topic in item.topics:
            by_day[(when(item).date().isoformat(), topic.lower())].append(i)
    found = {}
    for key in sorted(by_day):
        for x, y in combinations(sorted(by_day[key]), 2):
            a, b = reuters[x], reuters[y]
            if (x, y) in found or (x, y) in similar or title_key(a.title) == title_key(b.title):
                continue
            why = distinct(a, b, vocab, places) if len(rare[x] & rare[y]) <= 1 else ""
            if why:
                found[(x, y)] = DistinctPair(jaccard(content[x], content[y]), x, y, why)
    return sorted(found.values())


def same_day_negatives(pairs: Iterable[DistinctPair], rng: random.Random, count: int) -> list[NegativePair]:
    """Part 3b: each item's most similar partner among ``pairs`` (``distinct_same_day_pairs``),
    the hardest negative it has, then a sample of ``count`` of those pairs. Their kind is
    "same-day-companies" or "same-day-places"."""
    best: dict[str, DistinctPair] = {}
    for pair in pairs:
        for i in pair.a, pair.b:
            if i not in best or pair.score > best[i].score:
                best[i] = pair
    hardest = sorted(set(best.values()))
    chosen = rng.sample(hardest, min(count, len(hardest)))
    return [NegativePair(p.a, p.b, f"same-day-{p.why}") for p in sorted(chosen)]


def distinct(a: NewsItem, b: NewsItem, vocab: Mapping[str, set[str]], places: Mapping[str, set[str]]) -> str:
    """Why ``a`` and ``b`` surely report different events, or "": "companies" when their
    headlines name different listed companies (tickers and first name words differ, and
    neither appears in the other's text); "places" when neither names a company, their
    ``places`` are disjoint and not empty, and their headlines share no content word."""
    ca, cb = _company(a), _company(b)
    if ca and cb:
        same = ca[0] == cb[0] or ca[1] == cb[1] or set(ca) & vocab[b.id] or set(cb) & vocab[a.id]
        return "" if same else "companies"
    pa, pb = places.get(a.id, set()), places.get(b.id, set())
    if ca or cb or not pa or not pb or pa & pb:
        return ""
    return "" if title_words(a.title) & title_words(b.title) else "places"


def title_words(title: str) -> set[str]:
    return {w for w in words(title) if len(w) > 2 and w not in _STOP and not w[0].isdigit()}


# -- part 2: planted coverage ---------------------------------------------------------------


class Provider(NamedTuple):
    """An invented news provider and its house style."""

    name: str
    domain: str
    headline_case: str  # "title" or "sentence"
    percent: str  # how it writes "pct" and "%"


PROVIDERS = (
    Provider("Global Wire", "globalwire.example", "title", "percent"),
    Provider("Market Courier", "marketcourier.example", "sentence", "per cent"),
    Provider("The Daily Ledger", "dailyledger.example", "title", "percent"),
    Provider("Northern Herald", "northernherald.example", "sentence", "per cent"),
    Provider("Continental Press", "continentalpress.example", "title", "percent"),
    Provider("Financial Dispatch", "findispatch.example", "sentence", "percent"),
    Provider("Harbour Times", "harbourtimes.example", "title", "per cent"),
    Provider("Newsline Asia", "newslineasia.example", "sentence", "percent"),
    Provider("Capital Observer", "capitalobserver.example", "title", "percent"),
    Provider("Metro Business Journal", "metrobusiness.example", "sentence", "per cent"),
)


def _table(text: str) -> dict[str, list[str]]:
    """A table written as ``word: replacement, replacement`` lines."""
    table = {}
    for line in text.strip().splitlines():
        word, _, replacements = line.partition(":")
        table[word.strip()] = [r.strip() for r in replacements.split(",")]
    return table


#: Reuters' house abbreviations, always spelled out by the other providers.
ABBREVIATIONS = {
    word: spelled[0]
    for word, spelled in _table(
        """
mln: million
bln: billion
dlrs: dollars
dlr: dollar
stg: sterling
cts: cents
qtr: quarter
qtly: quarterly
shr: share
shrs: shares
avg: average
revs: revenues
mths: months
vs: versus
yr: year
govt: government
1st: first
2nd: second
3rd: third
4th: fourth
u.s.: US
u.k.: UK
"""
    ).items()
}

HEADLINE_SYNONYMS = _table(
    """
raises: lifts, increases, boosts
raise: lift, increase
cuts: lowers, reduces, trims
sees: expects, forecasts, predicts
buys: acquires, purchases
buy: acquire, purchase
sells: offloads, disposes of
sell: offload
rises: climbs, gains, increases
rise: increase, gain
rose: climbed, gained
falls: drops, slips, declines
fall: drop, decline
fell: dropped, slipped
talks: negotiations, discussions
deal: agreement, pact
pact: deal, accord
accord: deal, agreement
agreement: deal, accord
plans: prepares, intends
hike: increase, rise
bid: offer, approach
offer: bid, proposal
stake: holding, share
unit: subsidiary, division
firm: company
company: firm
urges: calls on, presses
warns: cautions
approves: backs, clears
rejects: turns down, dismisses
seeks: wants, looks for
says: states
expected: likely, set
strike: walkout, stoppage
loss: deficit
profit: earnings
net: profit, earnings
big: major, large
new: fresh
shares: stock
government: administration
minister: secretary
chief: head
boost: lift, help
wins: secures, takes
row: dispute
dispute: row, conflict
"""
)

BODY_SYNONYMS = _table(
    """
said: stated, added, noted
says: states, reports
rose: climbed, increased, gained
fell: dropped, declined, slipped
increase: rise, gain
increased: rose, climbed
decline: drop, fall
declined: fell, dropped
company: firm, group
companies: firms, groups
government: administration, authorities
expected: forecast, anticipated
announced: unveiled, disclosed
about: around, roughly, some
big: large, major
large: big, sizeable
agreement: deal, accord, pact
deal: agreement, transaction
talks: negotiations, discussions
officials: authorities, sources
however: but, though
also: additionally, further
buy: purchase, acquire
bought: purchased, acquired
sold: offloaded, disposed of
shares: stock
profit: earnings
chairman: head, chief
help: assist, aid
told: informed
because: as, since
but: however, yet
raised: lifted, increased
spokesman: representative, spokesperson
spokeswoman: representative, spokesperson
country: nation
countries: nations
plans: intends, aims
major: big, leading
recent: latest
currently: now, at present
approximately: about, around
biggest: largest
largest: biggest
new: fresh
earlier: previously
further: additional, more
important: significant, key
total: overall
strong: robust, solid
weak: soft, feeble
meeting: session, gathering
problems: difficulties, troubles
"""
)

#: Sentences a provider adds of its own (at most one per rewrite).
CLOSINGS = (
    "Further details were not immediately available.",
    "More details are expected later this week.",
    "This story will be updated.",
    "Additional reporting by staff writers.",
)

_SMALL_WORDS = frozenset(_WORD.findall("a an and as at by for from in of on or the to with"))
_KEEP_UPPER = frozenset({"US", "UK", "EC", "EU", "OPEC", "IMF", "GATT", "USDA", "CEO", "GDP", "TV"})
# Words, wire abbreviations (U.S.) and ordinals (1ST); not a word before an apostrophe, so
# that a possessive keeps its noun ("government's").
_SWAPPABLE = re.compile(r"\b(?:[A-Za-z]\.){2,}|\b[1-4](?:st|nd|rd|th)\b|\b[A-Za-z]+\b(?!')", re.IGNORECASE)
_BOUNDARY = re.compile(r"([.!?][\"')]?)\s+(?=[\"'(]?[A-Z0-9])")
_NO_BREAK_AFTER = frozenset(
    _WORD.findall(
        "u.s u.k mr mrs ms dr st inc corp co ltd no gov gen sen rep jr sr vs jan feb mar apr "
        "jun jul aug sep sept oct nov dec"
    )
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph (no break after an abbreviation or an initial)."""
    found, start = [], 0
    for match in _BOUNDARY.finditer(paragraph):
        before = paragraph[start : match.start(1)].rsplit(None, 1)
        last = before[-1].lower() if before else ""
        if match.group(1)[0] == "." and (last in _NO_BREAK_AFTER or len(last) == 1):
            continue
        found.append(paragraph[start : match.start(1) + len(match.group(1))].strip())
        start = match.end()
    if paragraph[start:].strip():
        found.append(paragraph[start:].strip())
    return found


def body_sentences(body: str) -> list[str]:
    return [s for paragraph in body.split("\n\n") for s in sentences(normalised(paragraph))]


def _cased_like(new: str, old: str) -> str:
    if len(old) > 1 and old.isupper() and not new.isupper():
        return new.upper()
    if old[0].isupper():
        return new[0].upper() + new[1:]
    return new


def swap_words(
    text: str, table: Mapping[str, Sequence[str]], rng: random.Random, rate: float, provider: Provider
) -> str:
    """``text`` with each word of ``table`` replaced by a synonym with probability ``rate``,
    the wire abbreviations and percentages spelled out in the provider's style."""
    always = {**ABBREVIATIONS, "pct": provider.percent}

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        key = word.lower()
        if key in always:
            return always[key] if always[key].isupper() else _cased_like(always[key], word)
        if key in table and rng.random() < rate:
            return _cased_like(rng.choice(table[key]), word)
        return word

    text = _SWAPPABLE.sub(swap, text)
    text = re.sub(r"(\d)\s?%", rf"\1 {provider.percent}", text)
    return re.sub(
        r"(\d)(bn|m)\b", lambda m: m.group(1) + (" billion" if m.group(2) == "bn" else " million"), text
    )


def word_forms(text: str) -> dict[str, str]:
    """Each word of ``text`` (lower case) and the form it most often takes there."""
    found = (re.sub(r"'s$", "", form) for form in re.findall(r"[A-Za-z][A-Za-z'-]*", text))
    forms: dict[str, str] = {}
    for form, _n in Counter(found).most_common():
        forms.setdefault(form.lower(), form)
    return forms


def recase(headline: str, body: str, style: str) -> str:
    """A headline in the provider's case style. Words of a headline in capitals (Reuters) take
    their most common form in the body, so that proper nouns keep their capital."""
    letters = [c for c in headline if c.isalpha()]
    capitals = len(letters) > 0 and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    forms = word_forms(body)
    out = []
    for position, token in enumerate(headline.split()):
        match = re.match(r"^([^A-Za-z]*)([A-Za-z][A-Za-z'.-]*)(.*)$", token)
        if not match:
            out.append(token)
            continue
        lead, word, tail = match.groups()
        if capitals and word not in _KEEP_UPPER:
            known = forms.get(word.lower(), "")
            word = known if known[:1].isupper() else word.lower()
        if position == 0 or (style == "title" and word.lower() not in _SMALL_WORDS):
            word = word[0].upper() + word[1:]
        out.append(lead + word + tail)
    return " ".join(out)


def rewrite_headline(title: str, body: str, rng: random.Random, provider: Provider, topic: str = "") -> str:
    """Another provider's headline for the same news (see the module docstring)."""
    headline = re.sub(r" ([,:;])", r"\1", normalised(_TICKER.sub(" ", title)))
    headline = re.sub(r"^[(]?(?:CORRECTED|RPT|REPEAT)[)]?\s*-?\s*", "", headline, flags=re.IGNORECASE)
    said = re.match(r"^(.{2,40}?)\s+SAYS\s+(.{6,})$", headline, re.IGNORECASE)
    credit = re.match(r"^(.{6,}?)\s+-{1,2}\s*([^-]{3,30})$", headline)
    if said and rng.random() < 0.7:
        headline = f"{said.group(2)}, {said.group(1)} says"
    elif credit and rng.random() < 0.7:
        headline = f"{credit.group(2)}: {credit.group(1)}"
    headline = swap_words(headline, HEADLINE_SYNONYMS, rng, 0.8, provider)
    headline = recase(headline, body, provider.headline_case)
    templates = ["{}", "{}", "{}", "UPDATE 1-{}", "{} - report"]
    if words(headline) == words(title):  # nothing changed: a wrapper, or the topic as a kicker
        templates = ["UPDATE 1-{}", "{} - report", f"{(topic or 'News').capitalize()}: {{}}"]
    return rng.choice(templates).format(headline)


_SAID_FIRST = re.compile(
    r"^(?P<who>[A-Z][^,;:\"]{2,50}?) said (?:that )?"
    r"(?P<what>(?:the|a|an|it|its|he|she|they|their|his|her|there|this|these|we) [^\"]{15,})\.$"
)
_SAID_LAST = re.compile(r"^(?P<what>[A-Z][^\"]{15,}), (?P<who>[^,;:\"]{3,50}?) said\.$")
_MONEY = (
    (re.compile(r"\b(\d[\d.,/-]*) (mln|million|bln|billion) (?:dlrs|dollars)\b"), r"$\1 \2"),
    (re.compile(r"\b(\d[\d.,/-]*) (?:dlrs|dollars)\b"), r"$\1"),
    (re.compile(r"\b(\d[\d.,/-]*) (mln|million|bln|billion) stg\b"), r"£\1 \2"),
)


def _first_word(text: str, forms: Mapping[str, str], upper: bool) -> str:
    """``text`` with its first word capitalised (``upper``) or in its usual form."""
    word, _, rest = text.partition(" ")
    if upper:
        return word[:1].upper() + word[1:] + (" " + rest if rest else "")
    usual = forms.get(word.lower(), word)
    return (usual if usual[:1].islower() else word) + (" " + rest if rest else "")


def flip_attribution(sentence: str, forms: Mapping[str, str]) -> str:
    """ "X said Y." as "Y, X said." and the other way round; other sentences as they are."""
    first = _SAID_FIRST.match(sentence)
    if first:
        what = _first_word(first.group("what"), forms, upper=True)
        return f"{what}, {_first_word(first.group('who'), forms, upper=False)} said."
    last = _SAID_LAST.match(sentence)
    if last:
        who = _first_word(last.group("who"), forms, upper=True)
        return f"{who} said {_first_word(last.group('what'), forms, upper=False)}."
    return sentence


def money_style(text: str) -> str:
    """Reuters' "1.5 billion dlrs" and "200 mln stg" as "$1.5 billion" and "£200 mln"."""
    for pattern, replacement in _MONEY:
        text = pattern.sub(replacement, text)
    return text


def rewrite_body(
    item: NewsItem, rng: random.Random, provider: Provider, strength: float, background: Sequence[str] = ()
) -> str:
    """Another provider's text for the same news (see the module docstring); ``strength`` in
    [0, 1] sets how much is changed; ``background`` holds sentences of older reports, one or
    two of which may be added."""
    forms = word_forms(item.body)
    lead, *rest = body_sentences(item.body) or [item.title]
    if rng.random() < 0.3:
        lead = re.sub(r"\bsaid\b", f"said on {_WEEKDAYS[when(item).weekday()]}", lead, count=1)
    if rng.random() < 0.25:  # a brief: the lead and one or two of the next sentences
        kept = sorted(rng.sample(rest[:3], min(len(rest[:3]), rng.randint(1, 2))), key=rest.index)
    else:
        kept = [s for s in rest if rng.random() >= 0.15 + 0.35 * strength]
        if len(rest) > 3 and rng.random() < 0.4:
            kept = kept[: max(2, math.ceil(rng.uniform(0.4, 0.7) * len(kept)))]
    if rest and not kept:
        kept = [rest[0]]
    for _ in range(int(strength * len(kept) / 2)):
        i = rng.randrange(len(kept) - 1)
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    if background and rng.random() < 0.5:
        start = rng.randrange(len(background))
        kept.append(" ".join(background[start : start + rng.randint(1, 3)]))
    ordered = [lead, *kept]
    if len(ordered) > 2 and rng.random() < 0.2 * strength:
        ordered[0], ordered[1] = ordered[1], ordered[0]
    flips, rate = 0.3 + 0.4 * strength, 0.25 + 0.5 * strength
    ordered = [flip_attribution(s, forms) if rng.random() < flips else s for s in ordered]
    ordered = [swap_words(money_style(s), BODY_SYNONYMS, rng, rate, provider) for s in ordered]
    if rng.random() < 0.5:
        ordered.append(rng.choice(CLOSINGS))
    paragraphs = []
    while ordered:
        size = rng.randint(1, 3)
        paragraphs.append(" ".join(ordered[:size]))
        ordered = ordered[size:]
    return "\n\n".join(paragraphs)


@dataclass(frozen=True)
class Rewrite:
    """A planted item: another provider's version of ``original``."""

    id: str
    original: str
    title: str
    body: str
    published_at: datetime
    provider: Provider
    topics: tuple[str, ...]
    category: str

    def text(self) -> str:
        """The item's file: YAML front matter and Markdown body, in the corpus format."""
        lead = body_sentences(self.body)[:1] or [self.title]
        excerpt = lead[0] if len(lead[0]) <= 300 else lead[0][:300].rsplit(" ", 1)[0]
        url = f"https://www.{self.provider.domain}/news/{self.id.rsplit('/', 1)[-1][:-3]}"
        fields = {
            "category": self.category,
            "title": self.title,
            "excerpt": excerpt,
            "publishedDateTime": self.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "webUrl": url,
            "originalUrl": url,
            "type": "article",
            "published": True,
            "provider": {"name": self.provider.name, "domain": self.provider.domain},
            "topics": list(self.topics),
        }
        front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=1_000_000)
        return f"---\n{front}---\n\n{self.body}\n"


def rewrite(
    item: NewsItem, rng: random.Random, provider: Provider, background: Sequence[str] = ()
) -> Rewrite:
    """One planted rewrite of ``item`` by ``provider``, published 30 minutes to a day away."""
    strength = rng.random()
    title = rewrite_headline(item.title, item.body, rng, provider, (item.topics or ("",))[0])
    body = rewrite_body(item, rng, provider, strength, background)
    if normalised(body) == normalised(item.body):
        body += "\n\n" + CLOSINGS[0]
    shift = timedelta(minutes=rng.randint(30, 24 * 60)) * (-1 if rng.random() < 0.25 else 1)
    slug = re.sub(r"[^a-z0-9]+", "-", provider.name.lower()).strip("-")
    ident = f"{PLANTED}/{slug}/{rng.getrandbits(48):012x}.md"
    return Rewrite(ident, item.id, title, body, when(item) + shift, provider, item.topics, item.category)


#: Background sentences come from items of the same source and topic published this long
#: before the original (so that no rewrite is within the window of the item it quotes).
BACKGROUND_AGE = (timedelta(days=5), timedelta(days=30))


def background_sentences(items: Mapping[str, NewsItem], ident: str, vocab: dict[str, set[str]]) -> list[str]:
    """Sentences 2-4 of the older item of the same source and topic (see ``BACKGROUND_AGE``)
    closest to ``ident`` in content words (a Jaccard of 0.1 at least): the earlier report a
    provider would recall. None when there is none. ``vocab`` caches content words."""
    item = items[ident]
    source = ident.split("/", 1)[0] + "/"
    topics = {t.lower() for t in item.topics}
    mine = content_words(item)
    low, high = BACKGROUND_AGE
    best, donor = 0.1, None
    for other_id in sorted(items):
        other = items[other_id]
        if (
            other_id.startswith(source)
            and low <= when(item) - when(other) <= high
            and topics & {t.lower() for t in other.topics}
        ):
            if other_id not in vocab:
                vocab[other_id] = content_words(other)
            score = jaccard(mine, vocab[other_id])
            if score > best:
                best, donor = score, other
    return body_sentences(donor.body)[1:4] if donor else []


def plant(
    items: Mapping[str, NewsItem], originals: Sequence[str], rng: random.Random
) -> tuple[list[Rewrite], list[list[str]]]:
    """1-4 rewrites of each original, each by another provider; and the planted stories
    (original first, then its rewrites)."""
    rewrites, stories = [], []
    vocab: dict[str, set[str]] = {}
    for ident in originals:
        background = background_sentences(items, ident, vocab)
        providers = rng.sample(PROVIDERS, rng.randint(1, 4))
        made = [rewrite(items[ident], rng, provider, background) for provider in providers]
        rewrites.extend(made)
        stories.append([ident, *(r.id for r in made)])
    return rewrites, stories


_STOP = frozenset(
    words(
        """a about after against all also an and any are as at be because been before being between
    both but by can could did do does during each for from had has have he her here him his how
    i if in into is it its may me more most mr mrs no not now of off on once only or other our
    out over own said same says she should so some such than that the their them then there these
    they this those through to too under until up us very was we were what when where which while
    who whom why will with would yet you your"""
    )
)


def content_words(item: NewsItem) -> set[str]:
    """Words of title and body with a letter, three letters or more, not stop words."""
    return {
        w for w in words(f"{item.title} {item.body}") if len(w) > 2 and w not in _STOP and not w[0].isdigit()
    }


def choose_originals(
    items: Mapping[str, NewsItem],
    eligible: Sequence[str],
    count: int,
    rng: random.Random,
    taken: list[str],
    *,
    pairs: Sequence[DistinctPair] = (),
) -> list[str]:
    """``count`` items of ``eligible``, none within the window of an item of ``taken`` (or of
    those chosen) with a content-word Jaccard of 0.2 or more. Up to half of them come from
    ``pairs`` of verified different stories (``distinct_same_day_pairs``), most similar
    first, both items of a pair together (their stories must stay apart); the rest are a
    seeded sample."""
    usable = set(eligible)
    vocab: dict[str, set[str]] = {i: content_words(items[i]) for i in taken}
    chosen: list[str] = []

    def clear(ident: str, partner: str = "") -> bool:
        mine = content_words(items[ident])
        return not any(
            other != partner
            and abs(when(items[ident]) - when(items[other])) <= WINDOW
            and jaccard(mine, vocab[other]) >= 0.2
            for other in vocab
        )

    for _score, a, b, _why in sorted(pairs, reverse=True):
        if len(chosen) + 2 > count // 2:
            break
        if {a, b} <= usable and not {a, b} & vocab.keys() and clear(a, b) and clear(b, a):
            chosen += [a, b]
            vocab[a], vocab[b] = content_words(items[a]), content_words(items[b])
    pool = sorted(usable - vocab.keys())
    rng.shuffle(pool)
    for ident in pool:
        if len(chosen) == count:
            break
        if clear(ident):
            chosen.append(ident)
            vocab[ident] = content_words(items[ident])
    taken.extend(chosen)
    return chosen


def eligible_originals(items: Mapping[str, NewsItem], prefix: str, excluded: set[str]) -> list[str]:
    """Items of one source that can be rewritten: prose bodies (80 words or more, at least 4
    sentences of prose making 80% of it; tables are not rewritten), headline not repeated in
    the source, not in ``excluded``."""
    mine = {i: item for i, item in items.items() if i.startswith(prefix)}
    titles = Counter(title_key(item.title) for item in mine.values())
    return [
        i
        for i, item in mine.items()
        if i not in excluded
        and titles[title_key(item.title)] == 1
        and len(item.body.split()) >= MIN_ORIGINAL_WORDS
        and len(prose(item.body)) >= MIN_ORIGINAL_SENTENCES
        and sum(len(s.split()) for s in prose(item.body)) >= 0.8 * len(item.body.split())
    ]


def prose(body: str) -> list[str]:
    """The sentences of a body that read as prose (six words or more, ending in a full stop,
    a question or exclamation mark or a quote), not table rows."""
    return [s for s in body_sentences(body) if len(s.split()) >= 6 and s[-1] in ".!?\"'"]


# -- the evaluation -------------------------------------------------------------------------


@dataclass
class Evaluation:
    """The labels of one build (``build_evaluation``), saved as ``labels.json`` beside the
    corpus folder. Ids are paths relative to ``corpus_dir``."""

    corpus_dir: Path
    seed: int
    #: Part 1: groups of Reuters items that are duplicates of each other, earliest first.
    duplicate_groups: list[list[str]]
    #: Part 1: pairs counted neither for nor against a prediction (see the module docstring).
    ignored_pairs: list[tuple[str, str]]
    #: Part 1: the duplicate pairs whose bodies are not identical (near-copies).
    near_duplicate_pairs: list[tuple[str, str]]
    #: Part 1 is scored over the pairs of these items (all Reuters items).
    duplicate_items: list[str]
    #: Part 2: one list per planted story, the original first, then its rewrites.
    story_groups: list[list[str]]
    #: Part 3: pairs of different stories.
    negative_pairs: list[NegativePair]
    #: Counts describing the build.
    counts: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {
            "seed": self.seed,
            "counts": self.counts,
            "duplicate_groups": self.duplicate_groups,
            "ignored_pairs": self.ignored_pairs,
            "near_duplicate_pairs": self.near_duplicate_pairs,
            "story_groups": self.story_groups,
            "negative_pairs": [list(p) for p in self.negative_pairs],
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, out_dir: Path) -> Evaluation:
        """The evaluation ``build_evaluation`` wrote into ``out_dir`` (or its corpus folder)."""
        if not (out_dir / "labels.json").exists() and (out_dir.parent / "labels.json").exists():
            out_dir = out_dir.parent
        data = json.loads((out_dir / "labels.json").read_text(encoding="utf-8"))
        corpus = out_dir / "corpus"
        return cls(
            corpus_dir=corpus,
            seed=data["seed"],
            duplicate_groups=data["duplicate_groups"],
            ignored_pairs=[(a, b) for a, b in data["ignored_pairs"]],
            near_duplicate_pairs=[(a, b) for a, b in data["near_duplicate_pairs"]],
            duplicate_items=sorted(i for i, _path in corpus_files(corpus) if i.startswith(REUTERS)),
            story_groups=data["story_groups"],
            negative_pairs=[NegativePair(*p) for p in data["negative_pairs"]],
            counts=data["counts"],
        )


def source_dirs() -> list[Path]:
    """The unpacked Reuters and BBC folders (benchmarks/.data, unpacked once)."""
    from _data import unpacked  # benchmarks/ is on sys.path when this runs as a script

    return [unpacked(archive, folder) for archive, folder in SOURCES]


def build_evaluation(
    out_dir: str | Path,
    *,
    seed: int = 0,
    sources: Sequence[Path] | None = None,
    originals: tuple[int, int] = (REUTERS_ORIGINALS, BBC_ORIGINALS),
    same_day: int = SAME_DAY_NEGATIVES,
) -> Evaluation:
    """Write the corpus (the ``sources`` folders, Reuters and BBC by default, copied as they
    are, plus the planted items) into ``out_dir/corpus`` and the labels into
    ``out_dir/labels.json``; the same ``seed`` gives the same files and labels. ``originals``
    is how many Reuters and BBC items get rewrites; ``same_day`` how many same-topic same-day
    negatives are kept."""
    out = Path(out_dir)
    corpus = out / "corpus"
    if corpus.exists():
        raise FileExistsError(f"{corpus} exists; build into a new folder")
    for source in sources if sources is not None else source_dirs():
        shutil.copytree(source, corpus / source.name)
    items = load_items(corpus)

    labels = find_duplicates(items)
    places = read_places(corpus, [i for i in items if i.startswith(REUTERS)])
    negatives = recurring_negatives(items, labels)
    separate = distinct_same_day_pairs(items, labels, places)
    negatives += same_day_negatives(separate, random.Random(f"{seed}/same-day"), same_day)

    # Originals: in no similar pair of their source (part 1's pairs, BBC's found the same way)
    # and in no negative pair, so that the parts stay apart.
    excluded = {i for pair in [*labels.ignored, *labels.not_duplicates] for i in pair}
    excluded.update(i for g in labels.groups for i in g)
    excluded.update(i for p in negatives for i in p[:2])
    bbc = {i: shingles(words(item.body), 3) for i, item in items.items() if i.startswith(BBC)}
    excluded.update(i for pair in similar_pairs(bbc, CANDIDATE_JACCARD) for i in pair)
    rng = random.Random(f"{seed}/plant")
    taken: list[str] = []
    chosen = [
        *choose_originals(
            items, eligible_originals(items, REUTERS, excluded), originals[0], rng, taken, pairs=separate
        ),
        *choose_originals(items, eligible_originals(items, BBC, excluded), originals[1], rng, taken),
    ]
    picked = set(chosen)
    twins = {i for p in separate if p.a in picked and p.b in picked for i in (p.a, p.b)}
    rewrites, stories = plant(items, chosen, rng)
    for planted in rewrites:
        path = corpus / planted.id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(planted.text(), encoding="utf-8")

    kinds = Counter(p.kind for p in negatives)
    evaluation = Evaluation(
        corpus_dir=corpus,
        seed=seed,
        duplicate_groups=labels.groups,
        ignored_pairs=labels.ignored,
        near_duplicate_pairs=labels.near_pairs,
        duplicate_items=sorted(i for i in items if i.startswith(REUTERS)),
        story_groups=stories,
        negative_pairs=negatives,
        counts={
            "items": len(items) + len(rewrites),
            "reuters": sum(i.startswith(REUTERS) for i in items),
            "bbc": sum(i.startswith(BBC) for i in items),
            "planted": len(rewrites),
            "duplicate_groups": len(labels.groups),
            "duplicate_items": sum(len(g) for g in labels.groups),
            "duplicate_pairs": sum(len(g) * (len(g) - 1) // 2 for g in labels.groups),
            "near_duplicate_pairs": len(labels.near_pairs),
            "ignored_pairs": len(labels.ignored),
            "similar_non_duplicate_pairs": len(labels.not_duplicates),
            "stories": len(stories),
            "story_originals_reuters": sum(s[0].startswith(REUTERS) for s in stories),
            "story_originals_bbc": sum(s[0].startswith(BBC) for s in stories),
            "story_twins": len(twins),
            "negatives_recurring_headline": kinds["recurring-headline"],
            "negatives_recurring_within_window": sum(
                p.kind == "recurring-headline" and abs(when(items[p.a]) - when(items[p.b])) <= WINDOW
                for p in negatives
            ),
            "negatives_same_day_companies": kinds["same-day-companies"],
            "negatives_same_day_places": kinds["same-day-places"],
        },
    )
    evaluation.save(out / "labels.json")
    return evaluation


# -- metrics --------------------------------------------------------------------------------


class PairScores(NamedTuple):
    precision: float
    recall: float
    correct: int  # predicted pairs that are true pairs
    predicted: int
    true: int


class BCubed(NamedTuple):
    precision: float
    recall: float
    f1: float


def group_pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    """Every pair (sorted) of two ids within one group."""
    return {pair for group in groups for pair in combinations(sorted(set(group)), 2)}


def pairwise_precision_recall(
    predicted_groups: Iterable[Iterable[str]],
    true_groups: Iterable[Iterable[str]],
    *,
    items: Iterable[str] | None = None,
    ignore: Iterable[tuple[str, str]] = (),
) -> PairScores:
    """Precision and recall of the pairs within predicted groups against the pairs within true
    groups. With ``items``, only pairs of two of those items count; ``ignore`` pairs never
    count. No predicted pair gives precision 1, no true pair recall 1."""
    keep = set(items) if items is not None else None
    skipped = {tuple(sorted(p)) for p in ignore}

    def pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
        kept = ([i for i in g if keep is None or i in keep] for g in groups)
        return group_pairs(kept) - skipped

    predicted, true = pairs(predicted_groups), pairs(true_groups)
    correct = len(predicted & true)
    return PairScores(
        correct / len(predicted) if predicted else 1.0,
        correct / len(true) if true else 1.0,
        correct,
        len(predicted),
        len(true),
    )


def bcubed(
    predicted_clusters: Mapping[str, object],
    true_clusters: Mapping[str, object],
    *,
    items: Iterable[str] | None = None,
) -> BCubed:
    """B-cubed precision, recall and F1 (Bagga and Baldwin 1998; Amigó et al. 2009) over
    ``items`` (default: the ids of ``true_clusters``): per item, the share of its predicted
    cluster that shares its true cluster (precision) and the share of its true cluster that
    shares its predicted cluster (recall), both restricted to ``items`` and averaged over
    them; F1 is their harmonic mean. An item missing from either mapping is alone there."""
    ids = sorted(set(items) if items is not None else set(true_clusters))
    if not ids:
        raise ValueError("B-cubed needs at least one item")
    alone = object()

    def label(clusters: Mapping[str, object], i: str) -> object:
        return (clusters[i],) if i in clusters else (alone, i)

    pred = {i: label(predicted_clusters, i) for i in ids}
    true = {i: label(true_clusters, i) for i in ids}
    by_pred: dict[object, set[str]] = defaultdict(set)
    by_true: dict[object, set[str]] = defaultdict(set)
    for i in ids:
        by_pred[pred[i]].add(i)
        by_true[true[i]].add(i)
    precision = recall = 0.0
    for i in ids:
        same = len(by_pred[pred[i]] & by_true[true[i]])
        precision += same / len(by_pred[pred[i]])
        recall += same / len(by_true[true[i]])
    precision /= len(ids)
    recall /= len(ids)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BCubed(precision, recall, f1)


def merged_negatives(predicted_story: Mapping[str, object], negative_pairs: Iterable[Sequence[str]]) -> int:
    """How many negative pairs ``(a, b, ...)`` the prediction puts in one story (an id it does
    not know is a story of its own)."""
    return sum(
        1
        for pair in negative_pairs
        if pair[0] in predicted_story
        and pair[1] in predicted_story
        and predicted_story[pair[0]] == predicted_story[pair[1]]
    )


def groups_from_links(duplicate_of: Mapping[str, str | None]) -> list[list[str]]:
    """The duplicate groups a ``duplicate_of`` mapping draws (each item joined to its target)."""
    union = UnionFind()
    for ident, target in duplicate_of.items():
        if target is not None and target != ident:
            union.union(ident, target)
    return union.groups()


# -- predictors -----------------------------------------------------------------------------

Prediction = tuple[dict[str, str | None], dict[str, str]]
Predictor = Callable[[Path], Prediction]


def prediction(items: Mapping[str, NewsItem], duplicates: UnionFind, stories: UnionFind) -> Prediction:
    """``duplicate_of`` (the earliest item of each group) and ``story`` (the id of each story's
    earliest item) from two partitions of ``items``; duplicates join their story."""
    duplicate_of: dict[str, str | None] = dict.fromkeys(items)
    for group in duplicates.groups():
        first, *rest = earliest_first(items, group)
        for ident in rest:
            duplicate_of[ident] = first
            stories.union(first, ident)
    story = {i: i for i in items}
    for group in stories.groups():
        first = earliest_first(items, group)[0]
        for ident in group:
            story[ident] = first
    return duplicate_of, story


def naive_predict(corpus_dir: Path) -> Prediction:
    """Baseline (a): duplicates have identical bodies after whitespace normalisation; a story
    is a chain of items with the same headline (normalised, any case) each within 3 days of
    the one before, plus duplicates."""
    items = load_items(corpus_dir)
    duplicates, stories = UnionFind(), UnionFind()
    by_body: dict[str, list[str]] = defaultdict(list)
    by_title: dict[str, list[str]] = defaultdict(list)
    for ident, item in items.items():
        if item.body.strip():
            by_body[normalised(item.body)].append(ident)
        by_title[normalised(item.title).casefold()].append(ident)
    for ids in by_body.values():
        for other in ids[1:]:
            duplicates.union(ids[0], other)
    for ids in by_title.values():
        ordered = earliest_first(items, ids)
        for a, b in pairwise(ordered):
            if when(items[b]) - when(items[a]) <= WINDOW:
                stories.union(a, b)
    return prediction(items, duplicates, stories)


MINHASH_BINS = 64
_DENSE_STEP = 1 << 58  # above any bin's value (64-bit hashes without their 6 bin bits)


def feature_hash(feature: str) -> int:
    """A 64-bit hash of a feature, the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")


def minhash(features: Iterable[str]) -> list[int] | None:
    """A one-permutation MinHash signature (``MINHASH_BINS`` bins; Li, Owen and Zhang 2012)
    with rotation densification (Shrivastava and Li 2014): an empty bin takes the next
    non-empty bin's value, offset by the distance. None for no features."""
    slots = [-1] * MINHASH_BINS
    for feature in features:
        h = feature_hash(feature)
        slot, value = h % MINHASH_BINS, h // MINHASH_BINS
        if slots[slot] < 0 or value < slots[slot]:
            slots[slot] = value
    if max(slots) < 0:
        return None
    signature = list(slots)
    for slot in range(MINHASH_BINS):
        distance = 0
        while slots[(slot + distance) % MINHASH_BINS] < 0:
            distance += 1
        signature[slot] = slots[(slot + distance) % MINHASH_BINS] + distance * _DENSE_STEP
    return signature


def lsh_candidates(
    signatures: Mapping[str, list[int]], bands: int, items: Mapping[str, NewsItem], window: timedelta
) -> set[tuple[str, str]]:
    """Pairs that agree on every row of at least one band and are published within ``window``."""
    rows = MINHASH_BINS // bands
    buckets: dict[tuple[int, tuple[int, ...]], list[str]] = defaultdict(list)
    for ident, signature in signatures.items():
        for band in range(bands):
            buckets[(band, tuple(signature[band * rows : (band + 1) * rows]))].append(ident)
    pairs = set()
    for members in buckets.values():
        if len(members) < 2:
            continue
        ordered = earliest_first(items, members)
        for n, a in enumerate(ordered):
            for b in ordered[n + 1 :]:
                if when(items[b]) - when(items[a]) > window:
                    break
                pairs.add((a, b) if a < b else (b, a))
    return pairs


MINHASH_DUPLICATE_JACCARD = 0.6
MINHASH_STORY_JACCARD = 0.3


def minhash_predict(corpus_dir: Path) -> Prediction:
    """Baseline (b): MinHash with LSH banding. Duplicates: body word 4-shingle Jaccard >= 0.6,
    within 3 days (candidates from 16 bands of 4 rows). Stories: content words of title and
    body (three letters or more, no stop words, none in over 5% of items), Jaccard >= 0.3,
    within 3 days (32 bands of 2 rows), joined single-link, plus duplicates."""
    items = load_items(corpus_dir)
    duplicates, stories = UnionFind(), UnionFind()
    body_sets = {i: shingles(words(item.body), 4) for i, item in items.items()}
    signatures = {i: s for i, s in ((i, minhash(f)) for i, f in body_sets.items()) if s is not None}
    for a, b in lsh_candidates(signatures, 16, items, WINDOW):
        if jaccard(body_sets[a], body_sets[b]) >= MINHASH_DUPLICATE_JACCARD:
            duplicates.union(a, b)
    vocab = {i: content_words(item) for i, item in items.items()}
    df = Counter(w for v in vocab.values() for w in v)
    common = len(items) // 20
    vocab = {i: {w for w in v if df[w] <= common} for i, v in vocab.items()}
    signatures = {i: s for i, s in ((i, minhash(f)) for i, f in vocab.items()) if s is not None}
    for a, b in lsh_candidates(signatures, 32, items, WINDOW):
        if jaccard(vocab[a], vocab[b]) >= MINHASH_STORY_JACCARD:
            stories.union(a, b)
    return prediction(items, duplicates, stories)


BASELINES: dict[str, Predictor] = {"naive": naive_predict, "minhash": minhash_predict}


def _published(fp: similarity.Fingerprint) -> float:
    return math.inf if fp.published is None else fp.published


def key_pairs(prints: Mapping[str, similarity.Fingerprint], window: float) -> set[tuple[str, str]]:
    """The pairs (sorted) of items that share a band key and are published within ``window``
    seconds of each other (an undated item is paired with every undated item of its keys)."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for ident, fp in prints.items():
        for key in similarity.band_keys(fp):
            buckets[key].append(ident)
    pairs = set()
    for members in buckets.values():
        members.sort(key=lambda i: (_published(prints[i]), i))
        for n, a in enumerate(members):
            for b in members[n + 1 :]:
                if _published(prints[b]) - _published(prints[a]) > window:
                    break
                pairs.add((a, b) if a < b else (b, a))
    return pairs


def library_predict(corpus_dir: Path) -> Prediction:
    """searchkit's rules (``searchkit.similarity``) as the index applies them: candidates from
    shared band keys, a duplicate or story link where a test holds, connected components."""
    items = load_items(corpus_dir)
    window = WINDOW.total_seconds()
    prints = {ident: similarity.fingerprint(item) for ident, item in items.items()}
    duplicates, stories = UnionFind(), UnionFind()
    for a, b in sorted(key_pairs(prints, window)):
        if similarity.is_duplicate(prints[a], prints[b], window=window):
            duplicates.union(a, b)
        elif similarity.same_story(prints[a], prints[b], window=window):
            stories.union(a, b)
    return prediction(items, duplicates, stories)


PREDICTORS: dict[str, Predictor] = {**BASELINES, "searchkit": library_predict}


def candidate_recall(corpus_dir: Path) -> dict[str, dict[str, float]]:
    """For each test ("duplicate", and "story" for the pairs that are no duplicates): how many
    pairs of items published within 3 days of each other it holds for ("pairs"), and the share
    of them that share a band key ("recall"): every such pair is compared."""
    items = load_items(corpus_dir)
    window = WINDOW.total_seconds()
    prints = {ident: similarity.fingerprint(item) for ident, item in items.items()}
    keys = {ident: set(similarity.band_keys(fp)) for ident, fp in prints.items()}
    ordered = sorted(prints, key=lambda i: (_published(prints[i]), i))
    linked: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for n, a in enumerate(ordered):
        for b in ordered[n + 1 :]:
            if _published(prints[b]) - _published(prints[a]) > window:
                break
            if similarity.is_duplicate(prints[a], prints[b], window=window):
                kind = "duplicate"
            elif similarity.same_story(prints[a], prints[b], window=window):
                kind = "story"
            else:
                continue
            linked[kind] += 1
            found[kind] += bool(keys[a] & keys[b])
    return {k: {"pairs": linked[k], "recall": found[k] / linked[k]} for k in sorted(linked)}


def evaluate(evaluation: Evaluation | str | Path, predict: Predictor) -> dict[str, Any]:
    """Run ``predict`` on the evaluation's corpus and score it on the three parts.

    ``evaluation`` is an ``Evaluation``, the folder ``build_evaluation`` wrote or its corpus
    folder. ``predict``
    takes the corpus folder and returns ``(duplicate_of, story)``: for each id, the id of the
    earliest item of its duplicate group (None for none), and its story id."""
    ev = evaluation if isinstance(evaluation, Evaluation) else Evaluation.load(Path(evaluation))
    start = time.perf_counter()
    duplicate_of, story = predict(ev.corpus_dir)
    seconds = time.perf_counter() - start
    predicted_groups = groups_from_links(duplicate_of)
    duplicates = pairwise_precision_recall(
        predicted_groups, ev.duplicate_groups, items=ev.duplicate_items, ignore=ev.ignored_pairs
    )
    near = pairwise_precision_recall(predicted_groups, [list(p) for p in ev.near_duplicate_pairs])
    truth = {i: n for n, group in enumerate(ev.story_groups) for i in group}
    stories = bcubed(story, truth, items=list(truth))
    kinds = sorted({p.kind for p in ev.negative_pairs})
    merged = {k: merged_negatives(story, [p for p in ev.negative_pairs if p.kind == k]) for k in kinds}
    dup_pairs = group_pairs(ev.duplicate_groups)
    return {
        "seconds": seconds,
        "duplicates": duplicates._asdict(),
        "near_duplicate_recall": near.recall,
        "stories": stories._asdict(),
        "duplicate_pairs_in_one_story": merged_negatives(story, list(dup_pairs)) / max(len(dup_pairs), 1),
        "negatives_merged": merged,
        "negatives": dict(Counter(p.kind for p in ev.negative_pairs)),
    }


# -- command line ---------------------------------------------------------------------------


def show_pairs(evaluation: Evaluation, per_reason: int, seed: int) -> None:
    """Print a sample of part 1's labelled pairs for each rule, with their word differences."""
    import difflib

    items = load_items(evaluation.corpus_dir)
    labels = find_duplicates(items)
    by_reason: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair, reason in sorted(labels.reasons.items()):
        by_reason[reason].append(pair)
    rng = random.Random(seed)
    for reason, pairs in sorted(by_reason.items()):
        print(f"\n## {reason}: {len(pairs)} pairs")
        for x, y in sorted(rng.sample(pairs, min(per_reason, len(pairs)))):
            a, b = items[x], items[y]
            print(f"- {x} {when(a):%Y-%m-%d %H:%M} {a.title}\n  {y} {when(b):%Y-%m-%d %H:%M} {b.title}")
            aw, bw = a.body.split(), b.body.split()
            ops = difflib.SequenceMatcher(None, aw, bw, autojunk=False).get_opcodes()
            for op, i1, i2, j1, j2 in [o for o in ops if o[0] != "equal"][:4]:
                print(f"    {op}: {' '.join(aw[i1:i2])[:80]!r} -> {' '.join(bw[j1:j2])[:80]!r}")


KINDS = ("recurring-headline", "same-day-companies", "same-day-places")


def report(evaluation: Evaluation, results: Mapping[str, Mapping[str, Any]]) -> str:
    """The counts of the evaluation and a Markdown table of the predictors' figures."""
    counts = evaluation.counts
    lines = [
        f"corpus: {counts['items']:,} items ({counts['reuters']:,} Reuters, {counts['bbc']:,} BBC, "
        f"{counts['planted']:,} planted), seed {evaluation.seed}",
        f"part 1: {counts['duplicate_groups']} duplicate groups, {counts['duplicate_items']} items, "
        f"{counts['duplicate_pairs']} pairs ({counts['near_duplicate_pairs']} near-copy links); "
        f"{counts['ignored_pairs']} ambiguous pairs ignored, "
        f"{counts['similar_non_duplicate_pairs']} similar pairs that are not duplicates",
        f"part 2: {counts['stories']} planted stories ({counts['story_originals_reuters']} Reuters, "
        f"{counts['story_originals_bbc']} BBC originals; {counts['story_twins']} of them in same-day "
        f"pairs of different stories), {counts['planted']} rewrites",
        f"part 3: {counts['negatives_recurring_headline']} recurring-headline pairs "
        f"({counts['negatives_recurring_within_window']} within 3 days), "
        f"{counts['negatives_same_day_companies']} same-topic same-day pairs of other companies, "
        f"{counts['negatives_same_day_places']} of other places",
        "",
        "| predictor | dup P | dup R | near-copy R | stories B3 P | B3 R | B3 F1 | dup pairs in one story "
        "| merged: recurring | same-day companies | same-day places | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        d, s = r["duplicates"], r["stories"]
        merged = " | ".join(f"{r['negatives_merged'].get(k, 0)} / {r['negatives'].get(k, 0)}" for k in KINDS)
        lines.append(
            f"| {name} | {d['precision']:.3f} | {d['recall']:.3f} | {r['near_duplicate_recall']:.3f} "
            f"| {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} "
            f"| {r['duplicate_pairs_in_one_story']:.3f} | {merged} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled parts (default 0)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build into DIR (new) and keep it")
    parser.add_argument(
        "--show-pairs", type=int, default=0, metavar="N", help="print N pairs per part-1 rule"
    )
    parser.add_argument(
        "--recall", action="store_true", help="also measure the band keys' candidate recall (minutes)"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stories-") as tmp:
        out = args.keep or Path(tmp)
        evaluation = build_evaluation(out, seed=args.seed)
        built = time.perf_counter() - started
        print(f"built in {built:.1f} s: {out}")
        if args.show_pairs:
            show_pairs(evaluation, args.show_pairs, args.seed)
        results = {name: evaluate(evaluation, predict) for name, predict in PREDICTORS.items()}
        recall = candidate_recall(evaluation.corpus_dir) if args.recall else None
    print(report(evaluation, results))
    if recall is not None:
        shares = (f"{kind} links {r['pairs']:,}, {r['recall']:.3f} share a key" for kind, r in recall.items())
        print("\nsearchkit's band keys, candidate recall: " + "; ".join(shares))
    print(f"\ntotal {time.perf_counter() - started:.1f} s (build {built:.1f} s)")


if __name__ == "__main__":
    main()
