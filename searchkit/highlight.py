"""Highlighting: matched words wrapped in ``<mark>``…``</mark>``, and snippets around them.

Item text is data, not markup: what the highlighter returns is HTML-escaped (``<`` becomes
``&lt;``, ``&`` ``&amp;``, quotes ``&quot;`` and ``&#x27;``), so that its own ``<mark>`` is
the only markup in it and a page can show it as HTML.

A word matches when it analyses (lower-case, accents folded, stemmed) to one of the query's
terms, so "Recognition" is marked for the query "recognise". Analysed forms are cached per
distinct word, which makes this several times faster than Whoosh's general highlighter on
the short texts a hit shows.
"""

from __future__ import annotations

import re
from html import escape
from itertools import compress, filterfalse
from typing import Any

from .cache import Cache
from .schema import WORD_PATTERN

#: The tokenizer's pattern (see schema.make_analyzer).
_TOKEN = re.compile(WORD_PATTERN)
#: Distinct words whose analysed form is kept.
_CACHE_LIMIT = 200_000


class Highlighter:
    """Marks query terms in text with the index's analyzer."""

    def __init__(self, analyzer: Any) -> None:
        self._analyzer = analyzer
        self._forms: Cache[str, str | None] = Cache(_CACHE_LIMIT)

    def _form(self, word: str) -> str | None:
        form = self._forms.get(word, "")
        if form == "":
            tokens = [t.text for t in self._analyzer(word, mode="index")]
            form = self._forms.put(word, tokens[0] if len(tokens) == 1 else None)
        return form

    def _matches(self, text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
        """The spans of the words of ``text`` that analyse to one of ``terms``.

        Each distinct word is analysed once (and kept); the loops over a text's words run in C
        (a body has hundreds of words, a snippet's matches are few)."""
        forms = self._forms
        words = list(set(_TOKEN.findall(text)))
        matching = set(compress(words, map(terms.__contains__, map(forms.get, words))))
        for word in filterfalse(forms.__contains__, words):
            if self._form(word) in terms:
                matching.add(word)
        spans = []
        for word in matching:  # found in C; kept where they are a whole token
            size = len(word)
            start = text.find(word)
            while start >= 0:
                if _TOKEN_START.match(text, start) and _TOKEN_END.match(text, start + size):
                    spans.append((start, start + size))
                start = text.find(word, start + 1)
        spans.sort()
        return spans

    def mark(self, text: str, terms: frozenset[str]) -> str:
        """The whole text, escaped, with matches marked; "" when nothing matches."""
        if not text or not terms:
            return ""
        spans = self._matches(text, terms)
        return _wrap(text, spans, 0, len(text)) if spans else ""

    def snippet(self, text: str, terms: frozenset[str], *, size: int = 240) -> str:
        """About ``size`` characters of ``text`` around its densest run of matches, escaped and
        marked; "" when nothing matches."""
        if not text or not terms:
            return ""
        spans = self._matches(text, terms)
        if not spans:
            return ""
        # The window of ``size`` characters from a match that holds the most matches.
        best_start, best_count = spans[0][0], 0
        last = 0
        for i, (start, _end) in enumerate(spans):
            last = max(last, i)
            while last + 1 < len(spans) and spans[last + 1][1] <= start + size:
                last += 1
            count = last - i + (spans[last][1] <= start + size)
            if count > best_count:
                best_start, best_count = start, count
        start = max(0, best_start - size // 4)
        if start:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < best_start else start
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > best_start else end
        inside = [(s, e) for s, e in spans if s >= start and e <= end]
        body = " ".join(_wrap(text, inside, start, end).split())
        return f"{'… ' if start else ''}{body}{' …' if end < len(text) else ''}"


def _wrap(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    parts = []
    last = start
    for s, e in spans:
        parts.append(escape(text[last:s]))
        parts.append(f"<mark>{escape(text[s:e])}</mark>")
        last = e
    parts.append(escape(text[last:end]))
    return "".join(parts)


#: Match (empty) where a token (as ``_TOKEN`` splits a text) can start: not after a word
#: character, nor after a dot that follows one (``U.S`` is one token); and where one can end:
#: not before a word character, nor before a dot and a word character.
_TOKEN_START = re.compile(r"(?<!\w)(?<!\w\.)")
_TOKEN_END = re.compile(r"(?!\w)(?!\.\w)")
