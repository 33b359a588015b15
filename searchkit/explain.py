"""Explained scores: why an item scores what it scores, as a tree a reader can follow.

Elasticsearch's ``explain`` gives a tree down to tf, idf and field length; so does this, in the
same shape (``value``, ``description``, ``details``), computed the way the ranking computes the
score (searchkit/ranking.py, postings.py, boosts.py), in the same order of operations, so the
root equals the hit's score:

    score = relevance x recency x quality x heat        (the factors of the boosts asked for)
    relevance = sum over the query's words that occur (each: BM25 of the word in its field)
              + the title-phrase bonus (the title holds the query's words in order)
    BM25 = idf x tf x (K1 + 1) / (tf + K1 x (1 - B + B x length / average length))

Queries that are not made of words (phrases, prefixes, fuzzy terms) are scored by Whoosh; their
node gives that score without a breakdown.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query
from whoosh.searching import Searcher

from . import schema
from .boosts import Factors
from .models import Explanation
from .postings import Postings, bm25_parameters, bm25_scores
from .queries import split_title_phrase
from .ranking import Ranker, with_scores
from .whoosh_internals.postings import field_lengths


@dataclass(frozen=True)
class Explainer:
    """Explains the scores of one search's query over one searcher."""

    searcher: Searcher
    ranker: Ranker
    postings: Postings

    def score(self, parsed: query.Query, doc: int, factors: Factors | None) -> Explanation | None:
        """The explanation of ``doc``'s score for ``parsed`` (boosted by ``factors``); None
        when the query does not match it."""
        relevance = self.relevance(parsed, doc)
        if relevance is None or factors is None:
            return relevance
        applied = factors.explain(doc)
        value = factors.boosted(doc, relevance.value)
        details = (relevance, *(Explanation(f.value, f.description, ()) for f in applied))
        return Explanation(value, "score, the product of:", details)

    def relevance(self, parsed: query.Query, doc: int) -> Explanation | None:
        if type(parsed) is query.Every:
            return Explanation(float(parsed.boost or 1.0), "every item matches an empty query alike", ())
        words, bonus = split_title_phrase(parsed)
        node = self._words(words, doc)
        if node is _NOT_WORDS:
            scored = with_scores(self.searcher, parsed, [doc], matched_only=True)
            if not scored:
                return None
            return Explanation(scored[0][1], f"score of {parsed} (Whoosh's scoring, not broken down)", ())
        extra = self._phrase(bonus, doc) if bonus is not None else None
        if node is None:
            return None
        assert isinstance(node, Explanation)
        if extra is None:
            return node
        return Explanation(node.value + extra.value, "relevance, the sum of:", (node, extra))

    def _words(self, q: query.Query, doc: int) -> Explanation | object | None:
        """A word query's explanation for ``doc`` (None: no match), or ``_NOT_WORDS`` for a
        query ranking.py does not score a term at a time."""
        kind = type(q)
        if kind is query.Term:
            return self.term(q.fieldname, q.text, doc, q.boost)
        if q.boost != 1.0 or kind not in (query.Or, query.And) or not q.subqueries:
            return _NOT_WORDS
        if kind is query.Or and (q.minmatch or q.scale):
            return _NOT_WORDS
        parts = [self._words(sub, doc) for sub in q.subqueries]
        if any(part is _NOT_WORDS for part in parts):
            return _NOT_WORDS
        found = [part for part in parts if isinstance(part, Explanation)]
        if (kind is query.And and len(found) < len(parts)) or not found:
            return None
        if len(found) == 1:
            return found[0]
        total = found[0].value
        for part in found[1:]:  # the order ranking.py sums them in
            total += part.value
        what = "every word must occur" if kind is query.And else "the words that occur"
        return Explanation(total, f"sum over {what}:", tuple(found))

    def term(self, fieldname: str, text: str, doc: int, boost: float = 1.0) -> Explanation | None:
        """BM25 of one word in one field of ``doc``, broken down; None when it does not occur."""
        parameters = bm25_parameters(self.searcher, fieldname)
        if parameters is None:
            return None
        b, k1 = parameters
        found = posting(self.postings, fieldname, text, doc)
        if found is None:
            return None
        segment, local, tf = found
        # The value as the ranking computes it (postings.bm25_scores); the figures beside it.
        scored = bm25_scores(self.searcher, self.ranker.norms, self.postings, fieldname, text, boost, [doc])
        assert scored is not None
        value = scored[1][0]
        raw = self.searcher.schema[fieldname].to_bytes(text)
        idf = self.searcher.idf(fieldname, raw)
        average = self.searcher.avg_field_length(fieldname) or 1
        length = field_lengths(segment, fieldname)[local]
        frequency = self.searcher.doc_frequency(fieldname, raw)
        total = self.searcher.doc_count()
        idf_text = (
            f"idf = log(1 + (N - n + 0.5) / (n + 0.5)): n = {frequency} of N = {total} items hold it"
            if schema.PROBABILISTIC_IDF
            else f"idf = log(N / (n + 1)) + 1: n = {frequency} of N = {total} items hold it"
        )
        details: list[Explanation] = [
            Explanation(idf, idf_text, ()),
            Explanation(float(tf), f"tf: times it occurs in {fieldname}", ()),
            Explanation(
                float(length), f"length of {fieldname} in this item (words, as Whoosh stores it)", ()
            ),
            Explanation(float(average), f"average length of {fieldname}", ()),
            Explanation(k1, "K1: how fast repeated occurrences saturate", ()),
            Explanation(b, "B: how much a long field is discounted", ()),
        ]
        formula = "idf x tf x (K1 + 1) / (tf + K1 x (1 - B + B x length / average))"
        description = f"BM25 of {text!r} in {fieldname}: {formula}"
        if boost != 1.0:
            description += " x the word's weight in the query"
            details.append(
                Explanation(
                    boost, "weight of the word in the query: it repeats the word, or boosts it with ^", ()
                )
            )
        return Explanation(value, description, tuple(details))

    def _phrase(self, phrase: query.Phrase, doc: int) -> Explanation | None:
        """The title-phrase bonus of ``doc`` (None when its title lacks the phrase)."""
        extra = self.ranker.phrase_scores(self.searcher, phrase, self.postings, [doc]).get(doc)
        if extra is None:
            return None
        words: Sequence[str] = list(phrase.words)
        details = [self.term(phrase.fieldname, word, doc) for word in words]
        shown = " ".join(words)
        details_found = tuple(d for d in details if d is not None)
        if phrase.boost != 1.0:
            details_found += (Explanation(phrase.boost, "boost of the title-phrase bonus", ()),)
        return Explanation(
            extra,
            f"title-phrase bonus: the title holds {shown!r} in order (BM25 of each word in the title)",
            details_found,
        )


_NOT_WORDS = object()


def no_match_reason(searcher: Searcher, parsed: query.Query, doc: int, postings: Postings) -> str:
    """Why a query does not match ``doc``, in words: which of its words are missing."""
    words, _bonus = split_title_phrase(parsed)
    terms = sorted({(fieldname, text) for fieldname, text in _terms(words)})
    if not terms:
        return "the query does not match it"
    present = [text for fieldname, text in terms if posting(postings, fieldname, text, doc) is not None]
    if not present:
        return "none of the query's words occur in it"
    missing = [str(text) for fieldname, text in terms if text not in present]
    needs = "it" if len(missing) == 1 else "them"
    return f"it lacks {', '.join(repr(m) for m in missing)} (the query needs {needs})"


def matches_doc(searcher: Searcher, q: query.Query, doc: int) -> bool:
    """Whether ``q`` (a filter's query) matches ``doc``, without scoring."""
    for sub, offset in searcher.leaf_searchers():
        local = doc - offset
        if 0 <= local < sub.doc_count_all():
            matcher = q.matcher(sub, searcher.context())
            if matcher.is_active() and matcher.id() < local:
                matcher.skip_to(local)
            return bool(matcher.is_active() and matcher.id() == local)
    return False


def posting(postings: Postings, fieldname: str, text: Any, doc: int) -> tuple[Any, int, float] | None:
    """(segment, number in it, term frequency) of ``doc``'s posting of the term; None when
    the document does not hold it."""
    for segment, offset, ids, weights in postings.segments(fieldname, text):
        local = doc - offset
        i = bisect_left(ids, local)
        if i < len(ids) and ids[i] == local:
            return segment, local, weights[i]
    return None


def _terms(q: query.Query) -> list[tuple[str, Any]]:
    try:
        return list(q.iter_all_terms())
    except Exception:  # a query Whoosh cannot list the terms of
        return []
