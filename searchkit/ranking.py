"""Ranking: the best matches of a query by relevance, and the relevance of a page of matches.

A query made of words (terms under ORs and ANDs, as the parser makes of free text) is scored a
term at a time from its postings (searchkit/postings.py): several times faster than Whoosh's
collector, which scores one match at a time. Other queries (phrases, prefixes, fuzzy terms)
are scored by Whoosh. Ties in score go to the newest item.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from whoosh import query
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.searching import Searcher

from .boosts import Factors
from .matches import Matches
from .ordering import OrderCache, newest_of, positions
from .postings import Norms, Postings, bm25_scores
from .queries import split_title_phrase

#: Hits fetched beyond the page to order ties in score by date.
TIE_MARGIN = 5

#: Up to this many matches, a query that is not made of words alone (a phrase, a prefix) is
#: ranked by scoring each match rather than by Whoosh's collector (see Ranker.by_relevance).
SCORE_EACH_MATCH = 1000


class Ranker:
    """Ranks matches with the reader's length normalisations and sort orders (both cached)."""

    def __init__(self, norms: Norms, orders: OrderCache) -> None:
        self.norms = norms
        self.orders = orders

    def by_relevance(
        self,
        searcher: Searcher,
        parsed: query.Query,
        matches: Matches,
        postings: Postings,
        wanted: int,
        factors: Factors | None = None,
        after: Sequence[Any] | None = None,
    ) -> list[tuple[int, float]]:
        """The best ``wanted`` matches by score, ties to the newest; with ``factors`` (recency,
        quality, heat: searchkit/boosts.py), by the boosted score, exactly: every match is
        scored and boosted before the best are taken. With ``after`` (a cursor's key: -score,
        undated, -date, id), only the matches whose key comes after it.

        A query made of words is scored a term at a time (``_word_scores``): several times
        faster than Whoosh's collector, which scores one match at a time and can rarely skip
        a block of postings here. The optional title-phrase clause is scored apart for the
        items whose title has the phrase (``_phrase_scores``), and added to their scores.

        Other queries (phrases, prefixes, fuzzy terms: never with the title-phrase clause,
        which is added to plain words only) are ranked by Whoosh. With at most
        ``SCORE_EACH_MATCH`` matches, Whoosh scores each of them, found from the match set: its
        collector would walk the query's matchers again (for a phrase, through every item that
        holds its words). With more, its collector ranks them (``_whoosh_top``).
        """
        allowed = matches.allowed()
        words, bonus = split_title_phrase(parsed)
        scores = _word_scores(searcher, words, self.norms, postings)
        if scores is not None:
            if allowed is not None:
                scores = {doc: score for doc, score in scores.items() if allowed(doc)}
            if bonus is not None:
                # Only items whose title holds every word can hold the phrase.
                candidates = -1
                for word in bonus.words:
                    candidates &= postings.bits(bonus.fieldname, word)
                phrased = [doc for doc in positions(candidates) if allowed is None or allowed(doc)]
                for doc, extra in self.phrase_scores(searcher, bonus, postings, phrased).items():
                    scores[doc] = scores.get(doc, 0.0) + extra
            matches.count(len(scores))  # the query's and the filters' matches, all scored
            if factors is not None:
                scores = factors.apply(scores)
            if after is not None:
                scores = _after(searcher, scores, after)
            scored = [(doc, scores[doc]) for doc in _best(scores, wanted)]
        elif matches.total <= SCORE_EACH_MATCH or factors is not None or after is not None:
            if matches.total <= SCORE_EACH_MATCH:
                scores = dict(with_scores(searcher, parsed, positions(matches.all())))
            else:  # every match, scored as the collector scores them unboosted
                results = searcher.search(parsed, filter=matches.filter_set(), limit=None)
                scores = {results.docnum(i): results.score(i) or 0.0 for i in range(results.scored_length())}
            if factors is not None:
                scores = factors.apply(scores)
            if after is not None:
                scores = _after(searcher, scores, after)
            scored = [(doc, scores[doc]) for doc in _best(scores, wanted)]
        else:
            scored = _whoosh_top(searcher, parsed, matches.filter_set(), wanted)
        scored.sort(key=lambda pair: -pair[1])
        if len({score for _doc, score in scored}) < len(scored):  # ties: newest first
            newest = self.orders.newest_key(searcher.reader(), [doc for doc, _ in scored])
            scored.sort(key=lambda pair: (-pair[1], newest(pair[0])))
        return scored[:wanted]

    def page_scores(
        self, searcher: Searcher, parsed: query.Query, postings: Postings, docs: list[int]
    ) -> list[tuple[int, float]]:
        """Relevance scores of a page of documents sorted by a field, as ``_by_relevance``
        scores them: every item scores the same for a match-all query (Whoosh's matcher would
        list every document to say so), and a query made of words is scored a term at a time
        from the postings its match set read, the title-phrase bonus added."""
        if type(parsed) is query.Every:
            return [(doc, float(parsed.boost or 1.0)) for doc in docs]
        words, bonus = split_title_phrase(parsed)
        scores = _word_scores(searcher, words, self.norms, postings, sorted(docs)) if docs else None
        if scores is None:
            return with_scores(searcher, parsed, docs)
        extra = self.phrase_scores(searcher, bonus, postings, sorted(docs)) if bonus is not None else {}
        return [(doc, scores.get(doc, 0.0) + extra.get(doc, 0.0)) for doc in docs]

    def phrase_scores(
        self, searcher: Searcher, phrase: query.Phrase, postings: Postings, docs: list[int]
    ) -> dict[int, float]:
        """docnum -> what Whoosh scores the title-phrase clause, for those of ``docs``
        (ascending) whose title holds the phrase.

        Whoosh's phrase matcher (a ``SpanNear2`` over the words' term matchers) costs most of a
        millisecond to set up, more than a search for a few rare words takes otherwise. Here
        the few items' stored titles are analysed as the index analysed them, the words looked
        for at consecutive positions (slop 1, in order), and the score is Whoosh's: each word's
        BM25 in the title (``bm25_scores``), summed in the order of Whoosh's binary tree of
        intersections, times the clause's boost.
        """
        if not docs:
            return {}
        words = list(phrase.words)
        analyzer = searcher.schema[phrase.fieldname].analyzer
        found = []
        for doc in docs:
            title = searcher.stored_fields(doc).get(phrase.fieldname) or ""
            where, _count = analyzer.positions(title)
            starts = where.get(words[0], ())
            if any(all(start + i in where.get(word, ()) for i, word in enumerate(words)) for start in starts):
                found.append(doc)
        if not found:
            return {}
        per_word = []
        for word in words:
            scored = bm25_scores(searcher, self.norms, postings, phrase.fieldname, word, only=found)
            if scored is None or len(scored[0]) != len(found):
                raise AssertionError("title-phrase words are scored with BM25 in every match")
            per_word.append(scored[1])
        boost = phrase.boost
        return {
            doc: _tree_sum([scores[i] for scores in per_word]) * boost
            if boost != 1.0
            else _tree_sum([scores[i] for scores in per_word])
            for i, doc in enumerate(found)
        }


def _after(searcher: Searcher, scores: dict[int, float], key: Sequence[Any]) -> dict[int, float]:
    """The documents of ``scores`` whose cursor key (-score, undated, -date, id) comes after
    ``key``: lower scores, and of equal scores the older ones (read for ties only)."""
    last = -float(key[0])
    rest = tuple(key[1:])
    return {
        doc: score
        for doc, score in scores.items()
        if score < last or (score == last and newest_of(searcher.reader(), doc) > rest)
    }


def _whoosh_top(
    searcher: Searcher, q: query.Query, allowed: set[int] | None, wanted: int
) -> list[tuple[int, float]]:
    """The best ``wanted`` matches of ``q`` with their scores, and every match that ties
    with the last of them, by Whoosh's collector: a few extra matches are fetched, and if a tie
    could reach past those, every match is scored."""
    fetch = wanted + TIE_MARGIN
    # No "replace": Whoosh's collector swaps the query's matchers for leaner ones as its
    # minimum score rises, and for an OR inside an AND that loses some of the best matches
    # ("(oil OR gas*) AND prices" on Reuters). It still skips blocks that cannot make it.
    collector: Any = TopCollector(limit=fetch, replace=0)
    if allowed is not None:
        collector = FilterCollector(collector, allow=allowed)
    searcher.search_with_collector(q, collector)
    results = collector.results()
    scored = [(results.docnum(i), results.score(i) or 0.0) for i in range(results.scored_length())]
    if len(scored) == fetch and scored[-1][1] >= scored[wanted - 1][1]:
        results = searcher.search(q, filter=allowed, limit=None)
        scored = [(results.docnum(i), results.score(i) or 0.0) for i in range(results.scored_length())]
    return scored


def with_scores(
    searcher: Searcher, parsed: query.Query, docs: list[int], *, matched_only: bool = False
) -> list[tuple[int, float]]:
    """Relevance scores of the given documents (in their order): 0 for those ``parsed`` does
    not match, or, with ``matched_only``, only those it matches."""
    if not docs:
        return []
    # Skip the query's matcher to each document, segment by segment, rather than run a
    # search over every match (a sorted page of a big result set scores 10 documents).
    scores: dict[int, float] = {}
    wanted = sorted(docs)
    context = searcher.context(needs_current=True)
    for subsearcher, offset in searcher.leaf_searchers():
        size = subsearcher.doc_count_all()
        local = [doc - offset for doc in wanted if offset <= doc < offset + size]
        if not local:
            continue
        matcher = parsed.matcher(subsearcher, context)
        for doc in local:
            if not matcher.is_active():
                break
            if matcher.id() < doc:
                matcher.skip_to(doc)
                if not matcher.is_active():
                    break
            if matcher.id() == doc:
                scores[doc + offset] = float(matcher.score() or 0.0)
    if matched_only:
        return [(doc, scores[doc]) for doc in docs if doc in scores]
    return [(doc, scores.get(doc, 0.0)) for doc in docs]


def _best(scores: dict[int, float], wanted: int) -> list[int]:
    """The documents with the ``wanted`` highest scores, and every one that ties with the last
    of them."""
    if len(scores) <= wanted:
        return list(scores)
    cutoff = heapq.nlargest(wanted, scores.values())[-1]
    return [doc for doc, score in scores.items() if score >= cutoff]


def _word_scores(
    searcher: Searcher, q: query.Query, norms: Norms, postings: Postings, only: Sequence[int] | None = None
) -> dict[int, float] | None:
    """docnum -> score of every match of a query made of words (terms under ORs and ANDs, as
    the parser makes of free text), read a term at a time (searchkit/postings.py); None for
    other queries. With ``only`` (ascending), the scores of those documents only.

    For one term the scores are Whoosh's own, to the bit. Whoosh sums the terms of an OR or
    AND in an order of its own (a tree by estimated size, per segment); here they are summed
    in the query's order, the same for every document, so a sum may differ from Whoosh's in
    its last bit.
    """
    kind = type(q)
    if kind is query.Term:
        found = bm25_scores(searcher, norms, postings, q.fieldname, q.text, q.boost, only)
        return None if found is None else dict(zip(*found, strict=True))
    if q.boost != 1.0 or kind not in (query.Or, query.And) or not q.subqueries:
        return None
    if kind is query.Or and (q.minmatch or q.scale):
        return None
    combined: dict[int, float] | None = None
    for sub in q.subqueries:
        scores = _word_scores(searcher, sub, norms, postings, only)
        if scores is None:
            return None
        if combined is None:
            combined = scores
        elif kind is query.Or:
            get = combined.get
            for doc, score in scores.items():
                combined[doc] = get(doc, 0.0) + score
        else:
            combined = {doc: score + scores[doc] for doc, score in combined.items() if doc in scores}
    return combined


def _tree_sum(values: list[float]) -> float:
    """The sum of ``values`` in the order Whoosh adds the scores of an intersection's matchers
    (``whoosh.util.make_binary_tree``: halves, recursively), so that it is the same to the bit."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _tree_sum(values[:half]) + _tree_sum(values[half:])
