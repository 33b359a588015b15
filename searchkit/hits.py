"""Hits: what a search returns of each matching item, read from the item's stored JSON, with
its title and a snippet highlighted.

An item is stored as its JSON (``NewsItem.to_dict()``); a hit, a related item and ``get`` are
all read back through the one mapping of searchkit/models.py (``from_json``).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from whoosh import query
from whoosh.searching import Searcher

from .highlight import Highlighter
from .models import Explanation, Highlights, Hit, NewsItem, RelatedHit, from_json, item_from_dict
from .schema import F, make_analyzer

#: Fields whose query terms are highlighted in titles and snippets.
_HIGHLIGHT_FIELDS = {F.CONTENT, F.TITLE, F.EXCERPT, F.TOPICS, F.PROVIDER}

#: Characters of body text shown when neither the excerpt nor the body has a match.
SNIPPET_SIZE = 240


def stored_json(searcher: Searcher, docnum: int) -> dict[str, Any]:
    """The stored JSON of document ``docnum`` (``NewsItem.to_dict()``)."""
    data: dict[str, Any] = json.loads(searcher.stored_fields(docnum)[F.DOC])
    return data


def stored_item(searcher: Searcher, docnum: int) -> NewsItem:
    """The full item of document ``docnum``."""
    return item_from_dict(stored_json(searcher, docnum))


def related_hit(data: dict[str, Any], reason: str, score: float | None) -> RelatedHit:
    """A related item (in the index) from its stored JSON."""
    return from_json(RelatedHit, data, score=score, reason=reason, in_index=True)


class HitBuilder:
    """Builds hits, highlighting with the index's analysis."""

    def __init__(self) -> None:
        self._highlighter = Highlighter(make_analyzer())

    @staticmethod
    def terms(parsed: query.Query, searcher: Searcher) -> frozenset[str]:
        """The query's terms to highlight (of the fields in ``_HIGHLIGHT_FIELDS``)."""
        try:
            terms = parsed.existing_terms(searcher.reader(), phrases=True, expand=True)
        except Exception:  # a query kind that cannot list its terms: highlight nothing
            return frozenset()
        words = set()
        for field, text in terms:
            if field in _HIGHLIGHT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return frozenset(words)

    def hit(
        self,
        data: dict[str, Any],
        score: float,
        terms: frozenset[str],
        explanation: Explanation | None = None,
    ) -> Hit:
        """The hit of an item's stored JSON, its title and excerpt (or a snippet of its body
        around the matches) highlighted, with the explanation of its score if asked for."""
        title = data["title"]
        highlights = Highlights(
            title=self._highlighter.mark(title, terms) or escape(title),
            excerpt=self._snippet(data.get("excerpt", ""), data.get("body", ""), terms),
        )
        return from_json(Hit, data, score=float(score), highlights=highlights, explanation=explanation)

    def _snippet(self, excerpt: str, body: str, terms: frozenset[str]) -> str:
        """The excerpt when it has a match, else a snippet of the body around its matches."""
        return (
            self._highlighter.mark(excerpt, terms)
            or self._highlighter.snippet(body, terms, size=SNIPPET_SIZE)
            or escape(excerpt or _shorten(body, SNIPPET_SIZE))
        )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
