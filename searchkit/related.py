"""Related items: what the item lists, what lists it, and what is close to it.

Four sources, in this order, each hit saying which (an item in the index with its
``duplicate_of``):

1. ``listed``: the item's own ``related`` entries, in their order; an entry whose url is an
   indexed item is returned as that item, one pointing outside the index from its front-matter
   data (``in_index`` False).
2. ``backlink``: indexed items whose ``related`` entries list this item's url, newest first.
3. ``same_story``: the other items of the item's story (searchkit/stories.py), newest first.
4. ``similar``: "more like this", in two stages (see ``similar``). The item's key terms (its
   words with the highest tf-idf, as in Lucene's MoreLikeThis) are scored with BM25 against the
   ``content`` field (title, topics, excerpt, body) to gather candidates, those sharing a topic
   with the item first; each candidate is then ranked by the cosine similarity of its words to
   the item's, boosted when it shares a topic with the item and when it was published close in
   time.

What the item lists is returned whole, in its order (a daily report that lists yesterday's
report of the same headline keeps it); a backlink that the item also lists is not repeated.
Similar items leave out the item itself, items already returned, the item's story (its
duplicates among them), and copies by content: an
item whose word counts have a cosine of at least ``DUPLICATE_COSINE`` with the item's or with
a similar item returned before it (a re-sent or corrected copy), never by headline.
"""

from __future__ import annotations

import heapq
import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from itertools import repeat
from operator import mul, neg
from typing import Any

from whoosh import query

from .cache import Cache, IndexCaches
from .hits import related_hit, stored_json
from .models import NewsItem, RelatedHit, parse_datetime
from .postings import NORMS_CACHE_SIZE, Norms, Postings, bm25_scores
from .schema import WORD_PATTERN, F, normalize_value, probabilistic_idf
from .storyview import StoryMap

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
#: Similar items whose word-count vectors (term frequencies, no idf: the measure does not move
#: as the index changes) have at least this cosine are copies of one text (a re-sent or
#: corrected version: the same words but for a changed sentence or figure), and only the first
#: is returned. Different stories under one recurring headline (daily rate reports) share far
#: fewer words.
DUPLICATE_COSINE = 0.95
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


def find_related(
    searcher: Any, docnum: int, item: NewsItem, *, limit: int, cache: RelatedCache, stories: StoryMap
) -> tuple[RelatedHit, ...]:
    """Related items of ``item`` (document ``docnum``), at most ``limit`` of them."""
    found: list[RelatedHit] = []
    seen_docs = {docnum}
    seen_urls = {item.url} if item.url else set()

    def take(hit: RelatedHit, doc: int | None) -> None:
        """Add a hit unless it is the item or one already taken (same document or url)."""
        if len(found) >= limit or doc in seen_docs or (hit.url and hit.url in seen_urls):
            return
        found.append(hit)
        if doc is not None:
            seen_docs.add(doc)
        if hit.url:
            seen_urls.add(hit.url)

    # What the item lists, in its order: every entry, whatever its headline.
    for link in item.related:
        doc = searcher.document_number(url=link.url) if link.url else None
        if doc is not None:
            take(related_hit(stored_json(searcher, doc), "listed", None), doc)
        else:
            take(
                RelatedHit(
                    id=None,
                    url=link.url,
                    title=link.title,
                    provider=link.provider,
                    published_at=link.published_at,
                    score=None,
                    reason="listed",
                    in_index=False,
                ),
                None,
            )

    # Every item that lists this one, newest first.
    if item.url and len(found) < limit:
        backlinks = sorted(searcher.docs_for_query(query.Term(F.RELATED_URL, item.url)))
        hits = [related_hit(stored_json(searcher, doc), "backlink", None) for doc in backlinks]
        for doc, hit in sorted(zip(backlinks, hits, strict=True), key=lambda pair: _newest_first(pair[1])):
            take(hit, doc)

    # The other items of its story (other coverage, and copies), newest first.
    story = [doc for doc in stories.docs[stories.story[docnum]] if doc != docnum]
    for doc in sorted(story, key=lambda d: (-stories.dates[d], stories.ids[d])):
        take(related_hit(stored_json(searcher, doc), "same_story", None), doc)
    seen_docs.update(story)  # never "similar": they are the same story

    if len(found) < limit:
        # Ask for more than the free places: duplicates and items already returned are skipped.
        candidates = similar(searcher, docnum, item, cache=cache, count=limit - len(found) + len(seen_docs))
        # Similar items leave out copies of the item's text and of each other's: items whose
        # words are (nearly) the same. Their vectors are what ``similar`` ranked them by (kept).
        analyzer = searcher.schema[F.CONTENT].analyzer
        taken = [cache.doc(searcher, analyzer, docnum, partial(_item_record, item)).words]
        taken += [
            cache.doc(searcher, analyzer, doc, partial(_stored_record, searcher, doc)).words for doc in story
        ]
        for doc, score in candidates:
            if len(found) >= limit:
                break
            if doc in seen_docs:
                continue
            vector = cache.doc(searcher, analyzer, doc, partial(_stored_record, searcher, doc)).words
            if any(_cosine(vector, other) >= DUPLICATE_COSINE for other in taken):
                continue
            take(related_hit(stored_json(searcher, doc), "similar", score), doc)
            taken.append(vector)
    return tuple(
        replace(hit, duplicate_of=stories.duplicate_of(hit.id)) if hit.id is not None else hit
        for hit in found
    )


def similar(
    searcher: Any, docnum: int, item: NewsItem, *, count: int, cache: RelatedCache
) -> list[tuple[int, float]]:
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
    ``RelatedCache``.
    """
    analyzer = searcher.schema[F.CONTENT].analyzer
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


def _key_terms(searcher: Any, cache: RelatedCache, vector: dict[str, float]) -> list[tuple[float, str]]:
    """(tf-idf, term) of the item's key terms, heaviest first (see ``similar``)."""
    key_terms = heapq.nlargest(
        KEY_TERMS, ((weight, term) for term, weight in vector.items() if cache.shared(searcher, term))
    )
    if not key_terms:
        return []
    floor = key_terms[0][0] * MIN_KEY_TERM_WEIGHT
    return [(w, t) for w, t in key_terms if w >= floor]


def _gather(searcher: Any, cache: RelatedCache, key_terms: list[tuple[float, str]]) -> dict[int, float]:
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
    """An item as the ranking sees it: its unit tf-idf vector, topics and time, and its unit
    word-count vector (what duplicates are told by)."""

    vector: dict[str, float]
    topics: frozenset[str]
    published_at: datetime | None
    words: dict[str, float]


def _item_record(item: NewsItem) -> _Record:
    return _Record(
        _words_text(item.title, item.excerpt, item.body), _topic_set(item.topics), item.published_at
    )


def _stored_record(searcher: Any, doc: int) -> _Record:
    """What the ranking needs of an indexed item, from its stored JSON (the fields of
    ``NewsItem.to_dict()``, read as ``models`` reads them; not the whole item)."""
    data = stored_json(searcher, doc)
    published = data.get("published_at")
    return _Record(
        _words_text(data.get("title", ""), data.get("excerpt", ""), data.get("body", "")),
        _topic_set(data.get("topics", ())),
        parse_datetime(published) if published else None,
    )


def _topic_set(topics: Iterable[str]) -> frozenset[str]:
    """Topics as the ``topic`` field holds them."""
    return frozenset(normalize_value(t) for t in topics) - {""}


class RelatedCache:
    """What ``similar`` keeps between calls, in the reader's caches (searchkit/cache.py), each
    entry scoped by the reader generation: document frequencies and idf over ``content``, each
    segment's ``content`` length normalisation, the documents of each topic, and, for the most
    recently used ones, terms' BM25 scores (``SCORE_CACHE_SIZE`` pairs) and items' vectors
    (``VECTOR_CACHE_SIZE``). Each distinct word's analysis is kept apart: it does not depend on
    the index.
    """

    def __init__(self, caches: IndexCaches) -> None:
        self._caches = caches
        self._idf = caches.cache(_TERM_CACHE_SIZE)
        self._topics = caches.cache(_TERM_CACHE_SIZE)
        self._norms = Norms(caches.cache(NORMS_CACHE_SIZE))
        self._scores = caches.cache(SCORE_CACHE_SIZE, weigh=lambda found: max(1, len(found[0])))
        self._docs = caches.cache(VECTOR_CACHE_SIZE)
        self._terms: Cache[str, tuple[str, ...]] = Cache(_WORD_CACHE_LIMIT)

    def idf(self, searcher: Any, term: str) -> float:
        """The term's probabilistic idf over ``content`` (schema.NewsBM25): near 0 for words in
        most items."""
        return self._term_stats(searcher, term)[1]

    def shared(self, searcher: Any, term: str) -> bool:
        """Whether some item other than the one the term comes from has it."""
        return self._term_stats(searcher, term)[0] >= 2

    def _term_stats(self, searcher: Any, term: str) -> tuple[int, float]:
        key = (self._caches.generation, term)
        found = self._idf.get(key)
        if found is None:
            frequency = searcher.doc_frequency(F.CONTENT, term)
            found = self._idf.put(key, (frequency, probabilistic_idf(searcher.doc_count(), frequency)))
        return found  # type: ignore[no-any-return]

    def topic_docs(self, searcher: Any, topics: frozenset[str]) -> set[int]:
        """The documents that have at least one of ``topics``."""
        docs: set[int] = set()
        for topic in topics:
            docs.update(
                self._topics.get_or_put(
                    (self._caches.generation, topic), partial(_docs_of, searcher, F.TOPIC, topic)
                )
            )
        return docs

    def term_scores(self, searcher: Any, term: str) -> tuple[array[int], array[float]]:
        """The ``TERM_CANDIDATES`` documents where ``term`` scores highest in ``content`` (all
        that hold it, when fewer do), ascending, and its BM25 score in each; kept for the most
        recently used terms."""
        key = (self._caches.generation, term)
        found = self._scores.touch(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        scored = bm25_scores(searcher, self._norms, Postings(searcher.reader()), F.CONTENT, term)
        assert scored is not None  # content is scored with BM25
        docs, scores = scored
        if len(docs) > TERM_CANDIDATES:
            best = sorted(heapq.nlargest(TERM_CANDIDATES, range(len(scores)), key=scores.__getitem__))
            docs, scores = array("I", [docs[i] for i in best]), array("d", [scores[i] for i in best])
        return self._scores.put(key, (docs, scores))  # type: ignore[no-any-return]

    def doc(self, searcher: Any, analyzer: Any, docnum: int, record: Callable[[], _Record]) -> _Doc:
        """Document ``docnum`` as the ranking sees it; ``record`` gives its data when it is not
        kept."""
        key = (self._caches.generation, docnum)
        found = self._docs.touch(key)
        if found is None:
            data = record()
            counts = self.term_counts(analyzer, data.text)
            found = self._docs.put(
                key, _Doc(self.tfidf(searcher, counts), data.topics, data.published_at, _unit(counts))
            )
        return found  # type: ignore[no-any-return]

    def tfidf(self, searcher: Any, counts: dict[str, int]) -> dict[str, float]:
        """Unit-length tf-idf vector of analysed words and their counts; tf is 1 + log(count)."""
        vector = {}
        known, generation = self._idf, self._caches.generation
        for term, n in counts.items():
            stats = known.get((generation, term))
            idf = stats[1] if stats is not None else self.idf(searcher, term)
            vector[term] = (1 + math.log(n)) * idf if n > 1 else idf
        return _unit(vector)

    def term_counts(self, analyzer: Any, text: str) -> dict[str, int]:
        """How many times each term occurs in ``text`` analysed as in the index.

        The index's analysis (schema.NewsAnalyzer) finds words with ``WORD_PATTERN`` and makes
        each one a term, or none, on its own: the words are counted first (in C), and each
        distinct word is analysed once.
        """
        counts: dict[str, int] = {}
        terms_of = self._terms
        for word, n in Counter(_WORDS.findall(text)).items():
            terms = terms_of.get(word)
            if terms is None:
                terms = terms_of.put(word, tuple(token.text for token in analyzer(word)))
            for term in terms:
                counts[term] = counts.get(term, 0) + n
        return counts


#: Terms whose document frequency and idf, and topics whose documents, are kept.
_TERM_CACHE_SIZE = 200_000
#: Words as the index's analysis finds them.
_WORDS = re.compile(WORD_PATTERN)
#: Distinct words whose analysis a reader's cache keeps (it starts over beyond).
_WORD_CACHE_LIMIT = 500_000


def _words_text(title: str, excerpt: str, body: str) -> str:
    return "\n".join((title, excerpt, body))


def _docs_of(searcher: Any, field: str, value: str) -> frozenset[int]:
    """The documents that have ``value`` in ``field``."""
    return frozenset(searcher.docs_for_query(query.Term(field, value)))


def _unit(vector: dict[str, Any]) -> dict[str, float]:
    """``vector`` scaled to length 1 (empty when it is all zeros)."""
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {term: w / norm for term, w in vector.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    # sum(w * b.get(term, 0.0) for term, w in a.items()), in the same order, with C loops
    return float(sum(map(mul, a.values(), map(b.get, a, repeat(0.0)))))


def _closeness(when: datetime | None, other: datetime | None) -> float:
    if when is None or other is None:
        return 0.0
    days = abs((when - other).total_seconds()) / 86400
    return math.pow(0.5, days / TIME_HALF_LIFE_DAYS)


def _newest_first(hit: RelatedHit) -> tuple[int, float, str]:
    if hit.published_at is None:
        return (1, 0.0, hit.id or "")
    return (0, -hit.published_at.timestamp(), hit.id or "")
