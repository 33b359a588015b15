"""Query building: the parser of user queries, and the rewrites every parsed query goes through.

Free text is parsed in Whoosh's query syntax (fields, phrases, ``AND``/``OR``/``NOT``, ranges,
wildcards, fuzzy terms), words joined by OR and searched in the ``content`` field. Two
plugins are mended (``<``/``>`` in free text, numeric dates); field aliases let a user write
``date:``, ``source:`` or ``body:``. Every parsed query is then rewritten: a word repeated in
a group becomes one clause that weighs more (``_weigh_repeats``), negations exclude what they
name from their group (``_exclude_negations``), and free text gets an optional title-phrase
clause (``_with_title_phrase``).

The work of one query is bounded (searchkit/limits.py): ``Parser.parse`` checks a query's
text and terms against the limits, and the search expands its wildcards, prefixes and fuzzy
terms once, within a budget (``expand_terms``).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from whoosh import query
from whoosh.qparser import (
    FieldAliasPlugin,
    FuzzyTermPlugin,
    GtLtPlugin,
    OrGroup,
    QueryParser,
    syntax,
)
from whoosh.qparser.dateparse import Choice, Combo, DateParserPlugin, English

from . import schema
from .errors import QueryError
from .limits import check_count, check_leaves, check_text, one_line
from .options import shown
from .schema import F
from .whoosh_internals.matching import MendedAndNotMatcher

_ALIASES = {F.PUBLISHED_AT: ["date", "published_date"], F.PROVIDER: ["source"], F.CONTENT: ["body", "text"]}
_DATE_NAMES = "|".join(map(re.escape, [F.PUBLISHED_AT, *_ALIASES[F.PUBLISHED_AT]]))
_DATE_FIELD = re.compile(rf"\b(?:{_DATE_NAMES})\s*:", re.IGNORECASE)


def names_a_date(text: str) -> bool:
    """Whether a query text may search the date field (``date:yesterday``, ``date:[-7 days to
    now]``): such dates count from the time the query is parsed."""
    return _DATE_FIELD.search(text) is not None


def matches_all(text: str) -> bool:
    """Whether a query text matches every item (empty, or ``*``)."""
    return not text.strip() or text.strip() == "*"


class Parser:
    """Parses user queries for one index. Made once per index: its date plugin's regular
    expressions take milliseconds to compile."""

    def __init__(self, index_schema: Any) -> None:
        self._schema = index_schema
        parser = QueryParser(F.CONTENT, index_schema, group=OrGroup)
        parser.add_plugin(FuzzyTermPlugin())
        parser.add_plugin(_GtLtPlugin())
        self._dates = DateParserPlugin(dateparser=_Dates(), free=False)
        parser.add_plugin(self._dates)
        parser.add_plugin(FieldAliasPlugin(_ALIASES))
        self._parser = parser
        self._analyzer = index_schema[F.CONTENT].analyzer

    def parse(self, text: str) -> query.Query:
        """Parse a user query (Whoosh syntax), rewritten (module docstring); empty text or
        ``*`` matches everything. Raises ``QueryError``, also for a query over the limits of
        the module docstring (but ``MAX_EXPANSIONS``, which ``expand_terms`` checks)."""
        check_text(text)
        if matches_all(text):
            return query.Every()
        words = self._plain_words(text)
        if words:  # what Whoosh's parser makes of plain words, without its plugins' passes
            check_count(len(words), plain=True)
            terms = [
                query.Term(F.CONTENT, word, boost=schema.repeat_weight(count))
                for word, count in Counter(words).items()
            ]
            return _with_title_phrase(terms[0] if len(terms) == 1 else query.Or(terms).normalize())
        # An explicit "now": Whoosh's default calls datetime.utcnow(), deprecated in 3.12.
        self._dates.basedate = datetime.now(timezone.utc).replace(tzinfo=None)
        try:
            parsed = self._parser.parse(text, normalize=False)
            parsed = _exclude_negations(_weigh_repeats(parsed).normalize())
        except Exception as exc:  # Whoosh raises assorted errors on odd input
            # Python's own errors from inside Whoosh's parser ("list index out of range") say
            # nothing to a user: what they mean is syntax the parser could not follow.
            internal = isinstance(exc, (IndexError, KeyError, AttributeError, TypeError))
            reason = (
                "the syntax is not valid (an operator without words to apply to?)"
                if internal
                else one_line(exc)
            )
            raise QueryError(f"cannot parse query {shown(text)}: {reason}") from exc
        errors = [q.error for q in parsed.leaves() if getattr(q, "error", None)]
        if isinstance(parsed, query.NullQuery.__class__) and getattr(parsed, "error", None):
            errors.append(parsed.error)
        if errors:
            raise QueryError(f"cannot parse query {shown(text)}: {one_line(errors[0])}")
        check_leaves(parsed, self._schema, text)
        return _with_title_phrase(parsed)

    def _plain_words(self, text: str) -> list[str]:
        """The analysed words of a query made of plain words only (letters and digits separated
        by spaces, no operator), as Whoosh's parser analyses them; [] for any other query, and
        for one whose words are all stop words (the parser's answer stands then). Parsing such
        a query through Whoosh's parser costs about half a millisecond, a good part of a search
        for a few rare words."""
        tokens = text.split()
        if not tokens or not all(_PLAIN.fullmatch(token) and token not in _OPERATORS for token in tokens):
            return []
        words = []
        for token in tokens:
            found = [t.text for t in self._analyzer(token, mode="query")]
            if len(found) > 1:  # not one word after all: leave it to the parser
                return []
            words += found
        return words


#: A plain word: letters and digits only. Operators are Whoosh's, which are upper case.
_PLAIN = re.compile(r"[^\W_]+")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})


class _GtLtPlugin(GtLtPlugin):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's ``field:>value`` plugin, lenient about ``<`` and ``>`` elsewhere in free text.

    Whoosh's own filter fails with an IndexError on a query that starts with the symbol, as the
    Reuters title "<MIRTONE INTERNATIONAL INC> 1ST QTR" does, and leaves the symbol in
    parenthesised groups, where it fails later. Here a symbol that does not follow a field name
    is dropped, at every level of grouping.
    """

    def do_gtlt(self, parser: Any, group: Any) -> Any:
        newgroup = group.empty_copy()
        i = 0
        while i < len(group):
            node = group[i]
            if isinstance(node, self.GtLtNode):
                nextnode = group[i + 1] if i + 1 < len(group) else None
                if (
                    len(newgroup)
                    and isinstance(newgroup[-1], syntax.FieldnameNode)
                    and nextnode is not None
                    and nextnode.has_text
                ):
                    newgroup.append(self.make_range(nextnode, node.rel))
                    i += 1
            elif isinstance(node, syntax.GroupNode):
                newgroup.append(self.do_gtlt(parser, node))
            else:
                newgroup.append(node)
            i += 1
        return newgroup


class _Dates(English):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's English date parser, trying numeric forms (``2023-05-01``) before words.

    Whoosh's order reads ``2023-05-01`` as the year 2023 in a range (``date:[2023-05-01 TO
    2023-09-30]`` matched all of 2023) and rejects it as a single date.
    """

    def setup(self) -> None:
        super().setup()
        self.bundle = Choice((self.plusdate, self.simple, self.datetime), name="bundle")
        self.torange = Combo((self.bundle, "to", self.bundle), name="torange")
        self.all = Choice((self.torange, self.bundle), name="all")


class TitlePhrase(query.Phrase):  # type: ignore[misc]  # Whoosh ships no type hints
    """The optional title-phrase clause ``_with_title_phrase`` adds (ranking treats it apart)."""


def split_title_phrase(q: query.Query) -> tuple[query.Query, query.Phrase | None]:
    """``q`` without the title-phrase clause ``_with_title_phrase`` added, and the clause (None
    when it added none)."""
    if isinstance(q, query.Or) and q.subqueries and isinstance(q.subqueries[-1], TitlePhrase):
        return query.Or(q.subqueries[:-1]), q.subqueries[-1]
    return q, None


def _with_title_phrase(q: query.Query) -> query.Query:
    """Add an optional clause for the query's words as a phrase in the title.

    Only for plain free text (an OR of words): an item whose title holds the words in that
    order, as when a reader pastes a headline, gets ``schema.TITLE_PHRASE_BOOST`` more.
    """
    boost = schema.TITLE_PHRASE_BOOST
    if boost <= 0 or not isinstance(q, query.Or) or len(q.subqueries) < 2:
        return q
    if not all(isinstance(sub, query.Term) and sub.fieldname == F.CONTENT for sub in q.subqueries):
        return q
    words = [sub.text for sub in q.subqueries]
    return query.Or([*q.subqueries, TitlePhrase(F.TITLE, words, boost=boost)])


def _weigh_repeats(q: query.Query) -> query.Query:
    """Make a word given several times in one OR group one clause, weighted by
    ``schema.repeat_weight`` of its count, in ``q`` and its subqueries.

    Whoosh's parser makes a clause of each word, and normalising the query then drops the
    repeated ones: "associative processors, associative stores" weighs "associative" as much
    as "stores". A word repeated in an AND group is left as it is: it must match anyway.
    """
    if isinstance(q, query.Or):
        counts = Counter(_term_key(sub) for sub in q.subqueries if type(sub) is query.Term)
        if any(count > 1 for count in counts.values()):
            subqueries = []
            for sub in q.subqueries:
                if type(sub) is not query.Term:
                    subqueries.append(sub)
                elif count := counts.pop(_term_key(sub), 0):
                    subqueries.append(sub.with_boost(sub.boost * schema.repeat_weight(count)))
            q = copy.copy(q)
            q.subqueries = subqueries
    return q if q.is_leaf() else q.apply(_weigh_repeats)


def _term_key(term: query.Term) -> tuple[str, Any, float]:
    return term.fieldname, term.text, term.boost


def _exclude_negations(q: query.Query) -> query.Query:
    """Make every ``NOT x`` exclude ``x`` from the matches of the group it stands in, as in
    Lucene, through one mended kind of query (``_AndNot``).

    Whoosh's OR grouping turns ``solar NOT battery`` into ``solar OR (NOT battery)``, which
    matches every item without "battery" (and still the ones with both words). Whoosh's other
    forms of negation (``NOT`` inside an AND, a lone ``NOT x``, ``a ANDNOT b``) run through
    matchers that can return excluded or deleted items; they all become ``_AndNot`` too.
    """
    if isinstance(q, query.Not):
        return _AndNot(query.Every(), _exclude_negations(q.query))
    return _group_negations(q)


def _group_negations(q: query.Query) -> query.Query:
    q = q.apply(
        lambda sub: (
            query.Not(_exclude_negations(sub.query))
            if isinstance(sub, query.Not)
            else _exclude_negations(sub)
        )
    )
    if type(q) is query.AndNot:  # `a ANDNOT b` as typed
        return _AndNot(q.a, q.b)
    if isinstance(q, (query.Or, query.And)):
        negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
        if negative:
            positive = copy.copy(q)
            positive.subqueries = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
            return _AndNot(positive if positive.subqueries else query.Every(), query.Or(negative))
    return q


class _AndNot(query.AndNot):  # type: ignore[misc]
    """``a`` without the items ``b`` matches, through the mended matcher."""

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return MendedAndNotMatcher(
            self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context())
        )
