"""Related items: what the item lists, what lists it, and what is close to it.

Three sources, in this order, each hit saying which:

1. ``listed``: the item's own ``related`` entries, in their order; an entry whose url is an
   indexed item is returned as that item, one pointing outside the index from its front-matter
   data (``in_index`` False).
2. ``backlink``: indexed items whose ``related`` entries list this item's url, newest first.
3. ``similar``: "more like this". The item's key terms (Whoosh's Bo1 key-term extraction over
   title, topics, excerpt and body) plus its topics form a query; the best candidates are then
   re-ranked by text score, shared topics and closeness in publication time.

The item itself, its duplicates (same url, or same title and provider) and items already
returned are left out.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from whoosh import query

from .models import NewsItem, Provider, RelatedHit
from .schema import content_text, normalize_value

#: How many key terms describe an item's content.
KEY_TERMS = 12
#: Candidates fetched by text before re-ranking.
CANDIDATES = 60
#: Weight of the share of the item's topics a candidate has (0..1) in the re-ranking.
TOPIC_WEIGHT = 1.0
#: Publication-time closeness: a candidate this many days away keeps half its time bonus.
TIME_HALF_LIFE_DAYS = 30.0
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
        for doc, hit in sorted(zip(backlinks, hits), key=lambda pair: _newest_first(pair[1])):
            take(hit, doc)

    if len(found) < limit:
        for doc, score in similar(searcher, docnum, item, count=limit - len(found) + len(seen_docs)):
            take(_from_doc(searcher, doc, "similar", score), doc)
    return tuple(found)


def similar(searcher: Any, docnum: int, item: NewsItem, *, count: int) -> list[tuple[int, float]]:
    """(docnum, score) of the items most like ``item``, best first, the item excluded."""
    terms = searcher.key_terms_from_text("content", content_text(item), numterms=KEY_TERMS,
                                         normalize=True)
    clauses: list[query.Query] = [query.Term("content", term, boost=weight)
                                  for term, weight in terms]
    topics = [normalize_value(t) for t in item.topics]
    if not clauses:
        return []
    results = searcher.search(query.Or(clauses), limit=max(CANDIDATES, count),
                              mask=query.Term("id", item.id))
    if not results.scored_length():
        return []
    best = results.score(0) or 1.0
    wanted = set(topics)
    scored = []
    for rank in range(results.scored_length()):
        doc = results.docnum(rank)
        data = json.loads(results[rank]["doc"])
        text_score = (results.score(rank) or 0.0) / best
        shared = 0.0
        if wanted:
            theirs = {normalize_value(t) for t in data.get("topics", ())}
            shared = len(wanted & theirs) / len(wanted)
        closeness = _closeness(item.published_at, data.get("published_at"))
        scored.append((doc, text_score * (1 + TOPIC_WEIGHT * shared) * (1 + TIME_WEIGHT * closeness)))
    scored.sort(key=lambda pair: -pair[1])
    return scored[:count]


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
