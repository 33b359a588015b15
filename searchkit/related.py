"""Related items: what the item lists, what lists it, and what is close to it.

Three sources, in this order, each hit saying which:

1. ``listed``: the item's own ``related`` entries, in their order; an entry whose url is an
   indexed item is returned as that item, one pointing outside the index from its front-matter
   data (``in_index`` False).
2. ``backlink``: indexed items whose ``related`` entries list this item's url, newest first.
3. ``similar``: "more like this", in two stages (see ``similar``). The item's key terms (its
   words with the highest tf-idf, as in Lucene's MoreLikeThis) are scored with BM25 against the
   ``content`` field (title, topics, excerpt, body) to gather candidates, those sharing a topic
   with the item first; each candidate is then ranked by the cosine similarity of its words to
   the item's, boosted when it shares a topic with the item and when it was published close in
   time.

The item itself, its duplicates (same url, or same title and provider) and items already
returned are left out.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
import weakref
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import neg
from typing import Any

from whoosh import query

from .models import NewsItem, Provider, RelatedHit
from .postings import Norms, Postings, bm25_scores
from .schema import WORD_PATTERN, normalize_value, probabilistic_idf

#: How many key terms describe an item's content: its words with the highest tf-idf that occur
#: in at least one other item (Lucene's MoreLikeThis uses 25 too). More terms cost time (their
#: postings are read) for no measurable gain in benchmarks/related.py.
KEY_TERMS = 25
#: A key term weighs at least this share of the heaviest one's tf-idf: this drops the common
#: words (said, pct, million) a short item fills its key terms with, whose long postings cost
#: a third of the time for no measurable change in the results (benchmarks/related.py).
MIN_KEY_TERM_WEIGHT = 0.2
#: Candidates gathered by the key terms and then re-ranked (at least as many as asked for).
#: Their topic boost (see ``similar``) lets 40 do what 60 did without it: on three samples of
#: benchmarks/related.py, 0.86-0.89 of topic share and the same cosine within 0.002; 20 lose
#: a point of topic share. Each one costs an analysis of its text when its vector is not kept.
CANDIDATES = 40
#: Boost of a candidate that shares at least one topic with the item: its score is multiplied by
#: 1 + TOPIC_WEIGHT. Chosen with benchmarks/related.py on the Reuters data (three samples of 100
#: items): 0.75 puts a shared topic in 85-88% of the top-5 similar items (about 60% without the
#: boost, 80-85% at 0.5) and costs about 0.01 of word cosine to the item, which stays within
#: 0.01 of plain Whoosh ``more_like``'s; 1.0 gains 3 more points of topic share for another
#: 0.003-0.006 of cosine.
TOPIC_WEIGHT = 0.75
#: Publication-time closeness: a candidate this many days away keeps half its time bonus.
TIME_HALF_LIFE_DAYS = 30.0
#: Boost of a candidate published at the same time as the item: 1 + TIME_WEIGHT.
TIME_WEIGHT = 0.25
#: Items whose tf-idf vectors (about 3.5 KB each on Reuters) a reader's cache keeps, the most
#: recently ranked ones.
VECTOR_CACHE_SIZE = 2048
#: (document, BM25 score) pairs (12 bytes each) of the most recently used key terms a reader's
#: cache keeps, at most ``TERM_CANDIDATES`` per term: the common terms come back in item after
#: item, and reading their postings is most of what a first lookup costs.
SCORE_CACHE_SIZE = 1_000_000
#: Candidates a key term brings: the items where it scores highest. A term in more items
#: weighs little (its idf is low) and rarely lifts an item the rarer key terms leave out; with
#: every item of a common term counted, a lookup costs time in proportion to the corpus. On
#: benchmarks/related.py the same topic share (0.890) and cosine (0.266) as counting every
#: item; of the suite's 30 lookups at scale 1, 23 return the same ten items and the others 8
#: or 9 of them; at 10x the Reuters data a repeated lookup takes 15 ms instead of 260.
TERM_CANDIDATES = 1000


def find_related(searcher: Any, docnum: int, item: NewsItem, *, limit: int) -> tuple[RelatedHit, ...]:
    """Related items of ``item`` (document ``docnum``), at most ``limit`` of them."""
    found: list[RelatedHit] = []
    seen_urls = {item.url} if item.url else set()
    seen_docs = {docnum}
    seen_keys = {_dup_key(item.title, item.provider.name)}

    def take(hit: RelatedHit, doc: int | None) -> None:
        if len(found) >= limit:
            return
        key = _dup_key(hit.title, hit.provider.name)
        if (hit.url and hit.url in seen_urls) or (doc is not None and doc in seen_docs) \
                or key in seen_keys:
            return
        found.append(hit)
        if hit.url:
            seen_urls.add(hit.url)
        if doc is not None:
            seen_docs.add(doc)
        seen_keys.add(key)

    for link in item.related:
        doc = searcher.document_number(url=link.url) if link.url else None
        if doc is not None:
            take(_from_doc(searcher, doc, "listed", None), doc)
        else:
            take(RelatedHit(id=None, url=link.url, title=link.title, provider=link.provider,
                            published_at=link.published_at, score=None, reason="listed",
                            in_index=False), None)

    if item.url and len(found) < limit:
        backlinks = sorted(searcher.docs_for_query(query.Term("related_url", item.url)))
        hits = [_from_doc(searcher, doc, "backlink", None) for doc in backlinks]
        for doc, hit in sorted(zip(backlinks, hits, strict=True), key=lambda pair: _newest_first(pair[1])):
            take(hit, doc)

    if len(found) < limit:
        # Ask for more than the free places: duplicates and items already returned are skipped.
        for doc, score in similar(searcher, docnum, item, count=limit - len(found) + len(seen_docs)):
            if len(found) >= limit:
                break
            take(_from_doc(searcher, doc, "similar", score), doc)
    return tuple(found)


def similar(searcher: Any, docnum: int, item: NewsItem, *, count: int) -> list[tuple[int, float]]:
    """(docnum, score) of the items most like ``item``, best first, the item excluded.

    At least ``count`` of them when that many items share a key term with the item (the caller
    skips duplicates), and all the gathered candidates otherwise.

    1. Candidates: the item's ``KEY_TERMS`` words of highest tf-idf (among those that some other
       item has, and weighing at least ``MIN_KEY_TERM_WEIGHT`` of the first one) are scored
       with the index's BM25 on ``content``, each weighted by its tf-idf, and multiplied by
       ``1 + TOPIC_WEIGHT`` for items that share a topic with the item, as in the ranking; the
       best ``max(CANDIDATES, count)`` items are kept. Each term counts for the
       ``TERM_CANDIDATES`` items where it scores highest; its BM25 scores are computed from
       its postings a block at a time (searchkit/postings.py), several times faster than a
       Whoosh ``Or`` query of the terms.
    2. Ranking: the cosine similarity between the tf-idf vectors of the item's and the
       candidate's words (title, excerpt and body, analysed as in the index), multiplied by
       ``1 + TOPIC_WEIGHT`` when they share a topic and by ``1 + TIME_WEIGHT * closeness``
       (closeness 1 at the same time, halving every ``TIME_HALF_LIFE_DAYS``). The cosine over
       all words, not only the key terms, keeps the ranking on what the texts have in common
       as a whole; BM25's sum over a few terms lets one rare shared number or name dominate.

    What stays the same while the index does (document frequencies, each word's analysis,
    terms' BM25 scores, recently ranked items' vectors) is kept between calls: see
    ``_ReaderCache``.
    """
    cache = _reader_cache(searcher)
    analyzer = searcher.schema["content"].analyzer
    mine = cache.doc(searcher, analyzer, docnum, partial(_item_record, item))
    key_terms = _key_terms(searcher, cache, mine.vector)
    if not key_terms:
        return []
    gathered = _gather(searcher, cache, key_terms)
    gathered.pop(docnum, None)
    boost = 1 + TOPIC_WEIGHT
    for doc in cache.topic_docs(searcher, mine.topics).intersection(gathered):
        gathered[doc] *= boost
    # (score, -docnum) pairs, compared in C: the best scores, the lower docnum first on a tie
    pool = heapq.nlargest(max(CANDIDATES, count), zip(gathered.values(), map(neg, gathered), strict=True))

    scored = []
    for _, negated in pool:
        doc = -negated
        theirs = cache.doc(searcher, analyzer, doc, partial(_stored_record, searcher, doc))
        score = _cosine(mine.vector, theirs.vector)
        if mine.topics & theirs.topics:
            score *= boost
        score *= 1 + TIME_WEIGHT * _closeness(mine.published_at, theirs.published_at)
        scored.append((doc, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


def _key_terms(searcher: Any, cache: _ReaderCache, vector: dict[str, float]) -> list[tuple[float, str]]:
    """(tf-idf, term) of the item's key terms, heaviest first (see ``similar``)."""
    key_terms = heapq.nlargest(KEY_TERMS, ((weight, term) for term, weight in vector.items()
                                           if cache.shared(searcher, term)))
    if not key_terms:
        return []
    floor = key_terms[0][0] * MIN_KEY_TERM_WEIGHT
    return [(w, t) for w, t in key_terms if w >= floor]


def _gather(searcher: Any, cache: _ReaderCache, key_terms: list[tuple[float, str]]) -> dict[int, float]:
    """docnum -> the sum over the key terms of tf-idf times BM25 on ``content``."""
    gathered: dict[int, float] = {}
    get = gathered.get
    for weight, term in key_terms:
        docs, scores = cache.term_scores(searcher, term)
        for doc, score in zip(docs, scores, strict=True):
            gathered[doc] = get(doc, 0.0) + weight * score
    return gathered


@dataclass(frozen=True)
class _Record:
    """What the ranking needs of an item: its words' text, topics (normalised) and time."""

    text: str
    topics: frozenset[str]
    published_at: datetime | None


@dataclass(frozen=True)
class _Doc:
    """An item as the ranking sees it: its unit tf-idf vector, topics and time."""

    vector: dict[str, float]
    topics: frozenset[str]
    published_at: datetime | None


def _item_record(item: NewsItem) -> _Record:
    return _Record(_words_text(item.title, item.excerpt, item.body), _topic_set(item.topics),
                   item.published_at)


def _stored_record(searcher: Any, doc: int) -> _Record:
    data = json.loads(searcher.stored_fields(doc)["doc"])
    published = data.get("published_at")
    return _Record(_words_text(data.get("title", ""), data.get("excerpt", ""), data.get("body", "")),
                   _topic_set(data.get("topics", ())),
                   datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None)


def _topic_set(topics: Iterable[str]) -> frozenset[str]:
    """Topics as the ``topic`` field holds them."""
    return frozenset(normalize_value(t) for t in topics) - {""}


_CACHES_LOCK = threading.Lock()
_CACHES: weakref.WeakKeyDictionary[Any, _ReaderCache] = weakref.WeakKeyDictionary()


def _reader_cache(searcher: Any) -> _ReaderCache:
    """The cache of the searcher's reader: made on first use, dropped with the reader."""
    reader = searcher.reader()
    with _CACHES_LOCK:
        cache = _CACHES.get(reader)
        if cache is None:
            cache = _CACHES[reader] = _ReaderCache(searcher.doc_count())
    return cache


class _ReaderCache:
    """What ``similar`` keeps between calls on one state of the index (one Whoosh reader).

    A reader never changes (a commit or a rebuild gives a new one), so nothing here goes stale.
    Kept: document frequencies and idf over ``content``, each distinct word's analysis, each
    segment's ``content`` length normalisation, the documents of each topic, and, for the most
    recently used ones, terms' BM25 scores (``SCORE_CACHE_SIZE``) and items' vectors
    (``VECTOR_CACHE_SIZE``).
    It holds no reference to the reader, which would keep it alive (``_reader_cache``). Plain
    dicts are filled without a lock: a race only computes a value twice.
    """

    def __init__(self, total: int) -> None:
        self._total = total
        self._freq: dict[str, int] = {}
        self._idf: dict[str, float] = {}
        self._terms: dict[str, tuple[str, ...]] = {}
        self._norms = Norms()
        self._topics: dict[str, frozenset[int]] = {}
        self._lock = threading.Lock()
        self._scores: OrderedDict[str, tuple[array[int], array[float]]] = OrderedDict()
        self._score_entries = 0
        self._docs: OrderedDict[int, _Doc] = OrderedDict()

    def frequency(self, searcher: Any, term: str) -> int:
        freq = self._freq.get(term)
        if freq is None:
            freq = self._freq[term] = searcher.doc_frequency("content", term)
        return freq

    def idf(self, searcher: Any, term: str) -> float:
        # The probabilistic idf of the index's scoring (schema.NewsBM25): near 0 for words in
        # most items.
        idf = self._idf.get(term)
        if idf is None:
            freq = self.frequency(searcher, term)
            idf = self._idf[term] = probabilistic_idf(self._total, freq)
        return idf

    def shared(self, searcher: Any, term: str) -> bool:
        """Whether some item other than the one the term comes from has it."""
        return self.frequency(searcher, term) >= 2

    def topic_docs(self, searcher: Any, topics: frozenset[str]) -> set[int]:
        """The documents that have at least one of ``topics``."""
        docs: set[int] = set()
        for topic in topics:
            found = self._topics.get(topic)
            if found is None:
                found = self._topics[topic] = frozenset(searcher.docs_for_query(query.Term("topic", topic)))
            docs.update(found)
        return docs

    def term_scores(self, searcher: Any, term: str) -> tuple[array[int], array[float]]:
        """The ``TERM_CANDIDATES`` documents where ``term`` scores highest in ``content`` (all
        that hold it, when fewer do), ascending, and its BM25 score in each; kept for the most
        recently used terms."""
        with self._lock:
            found = self._scores.get(term)
            if found is not None:
                self._scores.move_to_end(term)
                return found
        found = bm25_scores(searcher, self._norms, Postings(searcher.reader()), "content", term)
        assert found is not None  # content is scored with BM25
        docs, scores = found
        if len(docs) > TERM_CANDIDATES:
            best = sorted(heapq.nlargest(TERM_CANDIDATES, range(len(scores)),
                                         key=scores.__getitem__))
            found = array("I", [docs[i] for i in best]), array("d", [scores[i] for i in best])
        with self._lock:
            if term not in self._scores:
                self._scores[term] = found
                self._score_entries += len(found[0])
            while self._score_entries > SCORE_CACHE_SIZE:
                _, (docs, _) = self._scores.popitem(last=False)
                self._score_entries -= len(docs)
        return found

    def doc(self, searcher: Any, analyzer: Any, docnum: int, record: Callable[[], _Record]) -> _Doc:
        """Document ``docnum`` as the ranking sees it; ``record`` gives its data when it is not
        kept."""
        with self._lock:
            found = self._docs.get(docnum)
            if found is not None:
                self._docs.move_to_end(docnum)
                return found
        data = record()
        found = _Doc(self.tfidf(searcher, analyzer, data.text), data.topics, data.published_at)
        with self._lock:
            self._docs[docnum] = found
            while len(self._docs) > VECTOR_CACHE_SIZE:
                self._docs.popitem(last=False)
        return found

    def tfidf(self, searcher: Any, analyzer: Any, text: str) -> dict[str, float]:
        """Unit-length tf-idf vector of the analysed words of ``text``; tf is 1 + log(count)."""
        known = self._idf
        vector = {}
        for term, n in self.term_counts(analyzer, text).items():
            idf = known.get(term)
            if idf is None:
                idf = self.idf(searcher, term)
            vector[term] = (1 + math.log(n)) * idf if n > 1 else idf
        norm = math.sqrt(sum(w * w for w in vector.values()))
        return {term: w / norm for term, w in vector.items()} if norm else {}

    def term_counts(self, analyzer: Any, text: str) -> dict[str, int]:
        """How many times each term occurs in ``text`` analysed as in the index.

        The index's analysis (schema.NewsAnalyzer) finds words with ``WORD_PATTERN`` and makes
        each one a term, or none, on its own: the words are counted first (in C), and each
        distinct word is analysed once per reader.
        """
        counts: dict[str, int] = {}
        terms_of = self._terms
        for word, n in Counter(_WORDS.findall(text)).items():
            terms = terms_of.get(word)
            if terms is None:
                if len(terms_of) >= _WORD_CACHE_LIMIT:
                    terms_of.clear()
                terms = terms_of[word] = tuple(token.text for token in analyzer(word))
            for term in terms:
                counts[term] = counts.get(term, 0) + n
        return counts


#: Words as the index's analysis finds them.
_WORDS = re.compile(WORD_PATTERN)
#: Distinct words whose analysis a reader's cache keeps (it starts over beyond).
_WORD_CACHE_LIMIT = 500_000


def _words_text(title: str, excerpt: str, body: str) -> str:
    return "\n".join((title, excerpt, body))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(term, 0.0) for term, w in a.items())


def _closeness(when: datetime | None, other: datetime | None) -> float:
    if when is None or other is None:
        return 0.0
    days = abs((when - other).total_seconds()) / 86400
    return math.pow(0.5, days / TIME_HALF_LIFE_DAYS)


def _from_doc(searcher: Any, doc: int, reason: str, score: float | None) -> RelatedHit:
    data = json.loads(searcher.stored_fields(doc)["doc"])
    published = data.get("published_at")
    return RelatedHit(
        id=data["id"], url=data.get("url", ""), title=data["title"],
        provider=Provider(**data.get("provider", {})),
        published_at=datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None,
        score=score, reason=reason, in_index=True,
    )


def _newest_first(hit: RelatedHit) -> tuple[int, float, str]:
    if hit.published_at is None:
        return (1, 0.0, hit.id or "")
    return (0, -hit.published_at.timestamp(), hit.id or "")


def _dup_key(title: str, provider: str) -> tuple[str, str]:
    return (" ".join(title.split()).casefold(), provider.casefold())
