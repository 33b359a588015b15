"""Limits on the work of one query, so that no query runs away.

A wildcard, a fuzzy term or a range of words runs over the index's vocabulary, and Whoosh's
parser and matchers take time that grows with the text and its terms (500 fuzzy terms took
half a minute, 100,000 characters a minute). A query has at most ``MAX_QUERY_LENGTH``
characters, ``MAX_QUERY_DEPTH`` levels of parentheses and ``MAX_QUERY_TERMS`` terms
(``MAX_PLAIN_WORDS`` for plain words, which are ranked from postings at any length), of which
at most ``MAX_EXPANDING_TERMS`` wildcards, prefixes, fuzzy terms, ranges of words or
``field:*``; a fuzzy term is at most ``MAX_FUZZY_DISTANCE`` edits away from a word of at most
``MAX_FUZZY_WORD_LENGTH`` characters and keeps its first ``FUZZY_PREFIX`` letters, and
together they match at most ``MAX_EXPANSIONS`` words of the index (``expand_terms``). A query
over a limit is a ``QueryError`` that says which limit. With these limits, no query of
benchmarks/fuzz_queries.py took longer than about 2.6 s on the Reuters corpus (19,043 items,
2 cores); the slowest match most items and are scored by Whoosh one match at a time.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from whoosh import fields, query
from whoosh.matching import NullMatcher
from whoosh.searching import SearchContext

from .cache import Cache, IndexCaches
from .errors import QueryError
from .options import shown
from .schema import F

#: Longest query, in characters. Whoosh's parser and the did-you-mean correction take time
#: that grows with the text: 100,000 characters took a minute.
MAX_QUERY_LENGTH = 1000

#: Deepest nesting of parentheses in one query. Whoosh's parser and the rewrites here recurse
#: once per level, and ran out of Python's stack at about 500 levels.
MAX_QUERY_DEPTH = 32

#: Most terms in one query (words after stop words are dropped, words of phrases, field
#: values, wildcards...). A query that is not plain words is matched and scored through
#: Whoosh's matchers, one match at a time: on Reuters, 60 frequent words and a prefix took
#: 2.3 s, 31 words 1.8 s.
MAX_QUERY_TERMS = 32

#: Most words in a query of plain words (stop words aside): they are ranked from their
#: postings a term at a time, fast at any length (a pasted paragraph, a long request).
MAX_PLAIN_WORDS = 200

#: Most wildcards, prefixes, fuzzy terms, ranges of words (``title:[a TO c]``) and ``field:*``
#: in one query: each runs over the vocabulary of its field, a wildcard at the start of a word
#: over all of it (0.2 s on Reuters' 44,000 words).
MAX_EXPANDING_TERMS = 4

#: Largest edit distance of a fuzzy term (``word~2``), as in Lucene: Whoosh builds an automaton
#: whose size grows steeply with the distance, and a larger one matches most short words.
MAX_FUZZY_DISTANCE = 2

#: The first letters a fuzzy term keeps: ``wird~`` matches "word", not "bird". Whoosh's
#: ``FuzzyTerm`` keeps one by default, but its parser none, which runs the fuzzy term's
#: automaton over the whole vocabulary (half a second a term on Reuters, 50 times longer).
FUZZY_PREFIX = 1

#: Longest word of a fuzzy term: the automaton grows with the word (300 letters took seconds).
MAX_FUZZY_WORD_LENGTH = 40

#: Most words of the index the wildcards, prefixes, fuzzy terms, ranges of words and
#: ``field:*`` of one query may match in all. Whoosh matches each word on its own: on
#: Reuters, ``co*`` (907 words) took 3.5 s.
MAX_EXPANSIONS = 256


def check_text(text: str) -> None:
    """Raise ``QueryError`` for a query that is not a string, holds more than
    ``MAX_QUERY_LENGTH`` characters or parentheses nested deeper than ``MAX_QUERY_DEPTH``,
    or holds characters that are no text (lone surrogates: what Python makes of bytes that are
    not UTF-8 in a command line)."""
    if not isinstance(text, str):
        raise QueryError(f"invalid query {shown(text)}: a query is a string")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"query too long: {len(text)} characters, the limit is {MAX_QUERY_LENGTH}")
    depth = _depth(text) if "(" in text else 0
    if depth > MAX_QUERY_DEPTH:
        raise QueryError(
            f"query too deeply nested: {depth} levels of parentheses, the limit is {MAX_QUERY_DEPTH}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"invalid query {shown(text)}: it holds bytes that are not UTF-8 text") from None


class Vocabulary:
    """Each field's words, decoded, read once per state of the index (``IndexCaches``): a
    wildcard with a leading ``*``, ``?`` or ``[`` must try every word of its field, and Whoosh
    reads them one merged iterator step at a time (most of a second on Reuters)."""

    def __init__(self, caches: IndexCaches) -> None:
        self._caches = caches
        self._words: Cache[tuple[int, str], list[tuple[str, bytes]]] = caches.cache(4)

    def words(self, reader: Any, fieldname: str) -> list[tuple[str, bytes]]:
        """(word, its bytes) of every word of ``fieldname``, sorted."""
        return self._words.get_or_put(
            (self._caches.generation, fieldname), lambda: _read_words(reader, fieldname)
        )


def _read_words(reader: Any, fieldname: str) -> list[tuple[str, bytes]]:
    # Segment by segment and merged here: Whoosh's multi-segment lexicon merges term by term.
    found: set[bytes] = set()
    for segment, _offset in reader.leaf_readers():
        if fieldname in segment.indexed_field_names():
            found.update(segment.lexicon(fieldname))
    from_bytes = reader.schema[fieldname].from_bytes
    return [(from_bytes(btext), btext) for btext in sorted(found)]


def expand_terms(q: query.Query, reader: Any, vocabulary: Vocabulary | None = None) -> query.Query:
    """``q`` with each wildcard, prefix, fuzzy term and range of words expanded once, here,
    into the words of the index it matches; raises ``QueryError`` when they match more than
    ``MAX_EXPANSIONS`` words in all.

    Whoosh expands such a term each time it is asked for its words: to match it, to estimate
    its size, to score it and to list the words to highlight, four passes over the
    vocabulary. The expanded query matches and scores as the query did, with two changes
    that keep its work bounded: a fuzzy term keeps the first ``FUZZY_PREFIX`` letters of its
    word, and ``*`` among other words of free text matches every item, as ``*`` alone does.
    """
    budget = [MAX_EXPANSIONS]
    leading = _leading_wildcards(q, reader, vocabulary)

    def expand(q: query.Query) -> query.Query:
        if isinstance(q, _Expanded):
            return q
        if isinstance(q, query.Every):
            return _every(q, reader, budget)
        if not isinstance(q, query.MultiTerm):
            return q.apply(expand)
        if isinstance(q, query.FuzzyTerm) and q.prefixlength < FUZZY_PREFIX:
            q = copy.copy(q)
            q.prefixlength = FUZZY_PREFIX
        found = leading.get((q.fieldname, q.text)) if isinstance(q, query.Wildcard) else None
        if found is None:
            found = [text for _field, text in islice(q.expanded_terms(reader), budget[0] + 1)]
        _spend(budget, len(found), q)
        expanded = copy.copy(q)
        expanded.__class__ = _expanded_class(type(q))
        expanded.words = tuple(found)
        return expanded

    return expand(q)


def _leading_wildcards(
    q: query.Query, reader: Any, vocabulary: Vocabulary | None
) -> dict[tuple[str, str], list[bytes]]:
    """The words of each wildcard of ``q`` that starts with ``*``, ``?`` or ``[``, found in one
    pass over each field's vocabulary: Whoosh reads all of it for each such wildcard (0.2 s on
    Reuters), where a wildcard with a literal start reads only the words with that start.
    Stops once they match more words than ``MAX_EXPANSIONS``, which ``expand_terms`` refuses."""
    patterns: dict[str, dict[str, re.Pattern[str]]] = {}
    for leaf in q.leaves():
        if (
            type(leaf) is query.Wildcard
            and leaf.text[:1] in leaf.SPECIAL_CHARS
            and leaf.fieldname in reader.schema
        ):
            patterns.setdefault(leaf.fieldname, {})[leaf.text] = re.compile(fnmatch.translate(leaf.text))
    found: dict[tuple[str, str], list[bytes]] = {}
    for fieldname, by_text in patterns.items():
        words: dict[str, list[bytes]] = {text: [] for text in by_text}
        from_bytes = reader.schema[fieldname].from_bytes
        vocabulary_words = (
            vocabulary.words(reader, fieldname)
            if vocabulary is not None
            else ((from_bytes(btext), btext) for btext in reader.lexicon(fieldname))
        )
        count = 0
        for word, btext in vocabulary_words:
            for text, pattern in by_text.items():
                if pattern.match(word):
                    words[text].append(btext)
                    count += 1
            if count > MAX_EXPANSIONS:
                break
        found.update(((fieldname, text), listed) for text, listed in words.items())
    return found


def _every(q: query.Query, reader: Any, budget: list[int]) -> query.Query:
    """``field:*`` (Whoosh's ``Every`` of a field), which Whoosh matches by reading every word
    of the field: every item for free text, a field of at most the budget's words otherwise."""
    if q.fieldname in (None, "", "*", F.CONTENT):
        return query.Every(boost=q.boost)
    if q.fieldname in reader.schema:
        _spend(budget, sum(1 for _ in islice(reader.lexicon(q.fieldname), budget[0] + 1)), q)
    return q


def _spend(budget: list[int], words: int, q: query.Query) -> None:
    if words > budget[0]:
        raise QueryError(
            f"{_term_shown(q)} matches too many words of the index: the wildcards, prefixes, fuzzy "
            f"terms and ranges of a query may match {MAX_EXPANSIONS} in all; make it more specific"
        )
    budget[0] -= words


class _Expanded:
    """A wildcard, prefix, fuzzy term or range of words whose words are listed once
    (``expand_terms``), mixed into the class of the query it was. Whoosh's ``MultiTerm``
    lists them again in each of these methods; these are Whoosh's, on the list."""

    words: tuple[bytes, ...]
    fieldname: str
    boost: float
    constantscore: bool

    def expanded_terms(self, ixreader: Any, phrases: bool = False) -> Iterator[tuple[str, bytes]]:
        for word in self.words:
            yield self.fieldname, word

    def estimate_size(self, ixreader: Any) -> int:
        return sum(ixreader.doc_frequency(self.fieldname, word) for word in self.words)

    def estimate_min_size(self, ixreader: Any) -> int:
        return min((ixreader.doc_frequency(self.fieldname, word) for word in self.words), default=0)

    def simplify(self, ixreader: Any) -> query.Query:
        field = ixreader.schema[self.fieldname]
        terms = [
            query.Term(self.fieldname, field.from_bytes(w), boost=self.boost) for w in sorted(self.words)
        ]
        if not terms:
            return query.NullQuery
        return terms[0] if len(terms) == 1 else query.Or(terms)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        """Whoosh's ``MultiTerm.matcher``: the words' terms ORed, without their own scores
        when the query scores as a constant."""
        terms = [query.Term(self.fieldname, word) for word in self.words if word]
        if not terms:
            return NullMatcher()
        if len(terms) == 1:
            return terms[0].matcher(searcher, context)
        if self.constantscore:
            context = context.set(weighting=None) if context else SearchContext(weighting=None)
        return query.Or(terms, boost=self.boost).matcher(searcher, context)


_EXPANDED_CLASSES: dict[type, type] = {}


def _expanded_class(kind: type) -> type:
    found = _EXPANDED_CLASSES.get(kind)
    if found is None:
        found = _EXPANDED_CLASSES[kind] = type(kind.__name__, (_Expanded, kind), {})
    return found


def check_fuzzy(term: query.FuzzyTerm) -> None:
    written = shown(f"{term.text}~{term.maxdist}")
    if term.maxdist > MAX_FUZZY_DISTANCE:
        raise QueryError(f"fuzzy term {written} allows too many edits: the limit is {MAX_FUZZY_DISTANCE}")
    if len(term.text) > MAX_FUZZY_WORD_LENGTH:
        raise QueryError(
            f"fuzzy term {written} is too long: {len(term.text)} characters, "
            f"the limit is {MAX_FUZZY_WORD_LENGTH}"
        )


def check_value(field: Any, term: query.Term, text: str) -> None:
    """Raise ``QueryError`` when ``field`` cannot hold the value of ``term``."""
    try:
        field.to_bytes(term.text)
    except Exception:  # Whoosh's date parser raises bare Exception and TimeError
        if isinstance(field, fields.DATETIME):
            what = "a date"
        elif isinstance(field, fields.NUMERIC):
            what = "a number"
        else:
            what = "a value of the field"
        raise QueryError(
            f"cannot parse query {shown(text)}: {shown(term.text)} is not {what} ({term.fieldname})"
        ) from None


def _depth(text: str) -> int:
    """How deep the query's parentheses nest, outside double quotes (in a phrase they are text)."""
    deepest = depth = 0
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    return deepest


def check_count(terms: int, *, plain: bool = False) -> None:
    """Raise ``QueryError`` for a query of more terms than ``MAX_QUERY_TERMS`` (of ``plain``
    words: ``MAX_PLAIN_WORDS``)."""
    limit = MAX_PLAIN_WORDS if plain else MAX_QUERY_TERMS
    if terms > limit:
        raise QueryError(f"query too complex: {terms} terms, the limit is {limit}")


def _term_shown(q: query.Query) -> str:
    """A term quoted in an error message as the user would write it (no default field)."""
    written = str(q)
    if written.startswith(f"{F.CONTENT}:"):
        written = written[len(F.CONTENT) + 1 :]
    return shown(written)


def one_line(message: object) -> str:
    return " ".join(str(message).split())


def check_leaves(parsed: query.Query, schema: Any, text: str) -> None:
    """Raise ``QueryError`` for a query over the limits on its terms, or with a value its
    field cannot hold: Whoosh's parser leaves a quoted value of a date or number field
    as it is (``date:"x y"``), which failed only when the search ran."""
    terms = expanding = 0
    for leaf in parsed.leaves():
        if isinstance(leaf, query.Phrase):
            terms += len(leaf.words)
        elif not isinstance(leaf, query.Every):
            terms += 1
        if isinstance(leaf, query.MultiTerm) or (
            isinstance(leaf, query.Every) and leaf.fieldname not in (None, "", "*", F.CONTENT)
        ):
            expanding += 1
        if isinstance(leaf, query.FuzzyTerm):
            check_fuzzy(leaf)
        if isinstance(leaf, query.Term) and isinstance(leaf.text, str) and leaf.fieldname in schema:
            check_value(schema[leaf.fieldname], leaf, text)
    check_count(terms)
    if expanding > MAX_EXPANDING_TERMS:
        raise QueryError(
            f"query too complex: {expanding} wildcards, prefixes, fuzzy terms or ranges of words, "
            f"the limit is {MAX_EXPANDING_TERMS}"
        )
