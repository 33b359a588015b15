"""Related items: what the item lists, what lists it, and what is close to it.

Three sources, in this order, each hit saying which:

1. ``listed``: the item's own ``related`` entries, in their order; an entry whose url is an
   indexed item is returned as that item, one pointing outside the index from its front-matter
   data (``in_index`` False).
2. ``backlink``: indexed items whose ``related`` entries list this item's url, newest first.
3. ``similar``: "more like this", in two stages (see ``similar``). The item's key terms (its
   words with the highest tf-idf, as in Lucene's MoreLikeThis) are scored with BM25 against the
   ``content`` field (title, topics, excerpt, body) to gather candidates; each candidate is then
   ranked by the cosine similarity of its words to the item's, boosted when it shares a topic
   with the item and when it was published close in time.

The item itself, its duplicates (same url, or same title and provider) and items already
returned are left out.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from whoosh import query
from whoosh.reading import TermNotFound

from .models import NewsItem, Provider, RelatedHit
from .schema import normalize_value

#: How many key terms describe an item's content: its words with the highest tf-idf that occur
#: in at least one other item (Lucene's MoreLikeThis uses 25 too). More terms cost time (their
#: postings are read) for no measurable gain in benchmarks/related.py.
KEY_TERMS = 25
#: A key term weighs at least this share of the heaviest one's tf-idf: this drops the common
#: words (said, pct, million) a short item fills its key terms with, whose long postings cost
#: a third of the time for no measurable change in the results (benchmarks/related.py).
MIN_KEY_TERM_WEIGHT = 0.2
#: Candidates gathered by the key terms and then re-ranked (at least as many as asked for).
CANDIDATES = 60
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
       with the index's BM25 on ``content``, each weighted by its tf-idf; the best
       ``max(CANDIDATES, count)`` items are kept. Reading the postings directly is several
       times faster than a Whoosh ``Or`` query of the same terms.
    2. Ranking: the cosine similarity between the tf-idf vectors of the item's and the
       candidate's words (title, excerpt and body, analysed as in the index), multiplied by
       ``1 + TOPIC_WEIGHT`` when they share a topic and by ``1 + TIME_WEIGHT * closeness``
       (closeness 1 at the same time, halving every ``TIME_HALF_LIFE_DAYS``). The cosine over
       all words, not only the key terms, keeps the ranking on what the texts have in common
       as a whole; BM25's sum over a few terms lets one rare shared number or name dominate.
    """
    analyzer = searcher.schema["content"].analyzer
    idf = _IdfCache(searcher)
    vector = _tfidf(analyzer, idf, _words_text(item.title, item.excerpt, item.body))
    key_terms = sorted(((weight, term) for term, weight in vector.items() if idf.shared(term)),
                       reverse=True)[:KEY_TERMS]
    if key_terms:
        floor = key_terms[0][0] * MIN_KEY_TERM_WEIGHT
        key_terms = [(w, t) for w, t in key_terms if w >= floor]
    if not key_terms:
        return []
    gathered: dict[int, float] = defaultdict(float)
    for weight, term in key_terms:
        try:
            matcher = searcher.postings("content", term)
        except TermNotFound:  # pragma: no cover - doc_frequency said it is there
            continue
        while matcher.is_active():
            gathered[matcher.id()] += weight * matcher.score()
            matcher.next()
    gathered.pop(docnum, None)
    pool = heapq.nlargest(max(CANDIDATES, count), gathered.items(),
                          key=lambda pair: (pair[1], -pair[0]))

    wanted = {normalize_value(t) for t in item.topics} - {""}
    scored = []
    for doc, _ in pool:
        data = json.loads(searcher.stored_fields(doc)["doc"])
        theirs = _tfidf(analyzer, idf, _words_text(data.get("title", ""), data.get("excerpt", ""),
                                                   data.get("body", "")))
        score = _cosine(vector, theirs)
        if wanted & {normalize_value(t) for t in data.get("topics", ())}:
            score *= 1 + TOPIC_WEIGHT
        score *= 1 + TIME_WEIGHT * _closeness(item.published_at, data.get("published_at"))
        scored.append((doc, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


class _IdfCache:
    """Inverse document frequencies over ``content``, looked up once per term and call."""

    def __init__(self, searcher: Any) -> None:
        self._searcher = searcher
        self._total = searcher.doc_count_all()
        self._freq: dict[str, int] = {}

    def frequency(self, term: str) -> int:
        freq = self._freq.get(term)
        if freq is None:
            freq = self._freq[term] = self._searcher.doc_frequency("content", term)
        return freq

    def __call__(self, term: str) -> float:
        # The probabilistic idf of the index's scoring (schema.NewsBM25): near 0 for words in
        # most items.
        freq = self.frequency(term)
        return math.log(1 + (self._total - freq + 0.5) / (freq + 0.5))

    def shared(self, term: str) -> bool:
        """Whether some item other than the one the term comes from has it."""
        return self.frequency(term) >= 2


def _words_text(title: str, excerpt: str, body: str) -> str:
    return "\n".join((title, excerpt, body))


def _tfidf(analyzer: Any, idf: _IdfCache, text: str) -> dict[str, float]:
    """Unit-length tf-idf vector of the analysed words of ``text``; tf is 1 + log(count)."""
    counts = Counter(token.text for token in analyzer(text))
    vector = {term: (1 + math.log(n)) * idf(term) for term, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {term: w / norm for term, w in vector.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(term, 0.0) for term, w in a.items())


def _closeness(when: datetime | None, other: str | None) -> float:
    if when is None or not other:
        return 0.0
    other_time = datetime.fromisoformat(other.replace("Z", "+00:00"))
    days = abs((when - other_time).total_seconds()) / 86400
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
