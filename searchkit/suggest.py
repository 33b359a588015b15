"""Query suggestions: "did you mean" corrections and prefix autocompletion.

Corrections come from the index's own vocabulary (the unstemmed words of titles, topics and
excerpts, field ``spell``), most frequent first, through Whoosh's reader corrector. A word
that occurs anywhere in the index is never corrected, and a correction is only offered when
the corrected query finds more items than the query as typed (which, for a word the index does
not know, means the query found few or none of the items it was after). Completions come from the words of
titles (field ``title_words``) and from topic values, most frequent first.

The correction's work is bounded: Whoosh's corrector builds an automaton for each word, in
time that grows with the word's length (a word of 100,000 letters took a minute). Only words of
at most ``MAX_CORRECTED_WORD_LENGTH`` letters are corrected, and only the first
``MAX_CORRECTED_WORDS`` unknown words of a query are looked up. A word's correction depends
on the index alone, so it is looked up once per state of the index and kept (the
``corrections`` cache of ``did_you_mean``: a lookup takes up to 100 ms on Reuters).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .cache import Cache
from .errors import QueryError
from .schema import F

_WORD = re.compile(r"(?<![\w:.])(\w+:)?([^\W\d_][\w'’-]*)(?![\w:~*?])")  # noqa: RUF001
_OPERATORS = {"AND", "OR", "NOT", "TO", "ANDNOT", "ANDMAYBE"}

#: Longest word a correction is looked for (longer ones are left as typed).
MAX_CORRECTED_WORD_LENGTH = 30

#: Most unknown words of one query a correction is looked for (the rest are left as typed).
MAX_CORRECTED_WORDS = 8

#: Corrections kept (per word and state of the index, see ``did_you_mean``).
CORRECTIONS_CACHE_SIZE = 4096


def did_you_mean(
    searcher: Any,
    text: str,
    total: int,
    count: Callable[[str], int],
    corrections: Cache[tuple[int, str], str] | None = None,
    generation: int = 0,
) -> str | None:
    """``text`` corrected (``correct_query``) when the correction matches more items than
    ``total``, the matches of ``text``; ``count`` counts the matches of a query text as the
    search does (Whoosh's collector would score each of them: seconds for a query with a
    wildcard on Reuters) and raises ``QueryError`` for one it refuses. ``corrections`` keeps
    the words' corrections, scoped by the reader ``generation`` (searchkit/cache.py)."""
    corrected = correct_query(searcher, text, corrections, generation)
    if corrected is None:
        return None
    try:
        return corrected if count(corrected) > total else None
    except QueryError:
        return None


def correct_query(
    searcher: Any, text: str, corrections: Cache[tuple[int, str], str] | None = None, generation: int = 0
) -> str | None:
    """``text`` with each unknown plain word replaced by its most frequent close spelling.

    Returns None when no word needs (or has) a correction. Field values (``title:word``),
    operators and words inside quotes are left alone, and so are words longer than
    ``MAX_CORRECTED_WORD_LENGTH`` and the unknown words after the first
    ``MAX_CORRECTED_WORDS``.
    """
    analyzer = searcher.schema[F.CONTENT].analyzer
    reader = searcher.reader()
    corrector = searcher.corrector(F.SPELL)
    quoted = _quoted_spans(text)
    pieces: list[str] = []
    last = 0
    changed = False
    looked_up = 0
    for match in _WORD.finditer(text):
        word = match.group(2)
        if match.group(1) or word in _OPERATORS or any(a <= match.start() < b for a, b in quoted):
            continue
        if len(word) > MAX_CORRECTED_WORD_LENGTH:
            continue
        stems = [token.text for token in analyzer(word, mode="query")]
        if not stems or all(live_frequency(reader, F.CONTENT, stem) for stem in stems):
            continue  # a stop word, or a word the index knows: never corrected
        if looked_up == MAX_CORRECTED_WORDS:
            break
        looked_up += 1
        lower = word.lower()
        if corrections is None:
            correction = _best_correction(reader, corrector, lower)
        else:  # "" for a word without a correction: None is what a cache lacks
            found = corrections.get((generation, lower))
            if found is None:
                found = corrections.put((generation, lower), _best_correction(reader, corrector, lower) or "")
            correction = found or None
        if correction is None:
            continue
        pieces.append(text[last : match.start(2)])
        pieces.append(correction)
        last = match.end(2)
        changed = True
    if not changed:
        return None
    pieces.append(text[last:])
    return "".join(pieces)


def complete(searcher: Any, prefix: str, topic_labels: dict[str, str], *, limit: int) -> tuple[str, ...]:
    """Completions of the last word of ``prefix`` (the words before it are kept).

    Candidates are title words (ranked by the number of items whose title has them) and topic
    values (by the number of items with that topic); most frequent first, then alphabetical.
    """
    head, _, last = prefix.rpartition(" ")
    stem = last.lower()
    if not stem.strip():
        return ()
    reader = searcher.reader()
    scored: dict[str, int] = {}
    if reader.doc_count_all():
        for raw in reader.expand_prefix(F.TITLE_WORDS, stem):
            word = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            count = live_frequency(reader, F.TITLE_WORDS, word)
            if count:
                scored[word] = max(scored.get(word, 0), count)
        for norm, label in topic_labels.items():
            if norm.startswith(stem.casefold()):
                count = live_frequency(reader, F.TOPIC, norm)
                if count:
                    scored[label] = max(scored.get(label, 0), count)
    ranked = sorted(scored.items(), key=lambda pair: (-pair[1], pair[0].casefold()))
    seen: set[str] = set()
    result: list[str] = []
    for word, _count in ranked:
        full = f"{head} {word}" if head else word
        if full.casefold() not in seen:
            seen.add(full.casefold())
            result.append(full)
        if len(result) == limit:
            break
    return tuple(result)


def _best_correction(reader: Any, corrector: Any, word: str) -> str | None:
    """The closest known spelling of ``word``, the most frequent among equally close ones.

    One edit away is tried before two (two only for words of five letters or more); Whoosh's
    reader corrector lists the candidates within a distance, and the frequencies are counted
    here on live items (Whoosh's include deleted ones).
    """
    for maxdist in (1, 2) if len(word) > 4 else (1,):
        candidates = [s for s in corrector.suggest(word, limit=20, maxdist=maxdist, prefix=1) if s != word]
        counted = [(live_frequency(reader, F.SPELL, s), s) for s in candidates]
        counted = [(count, s) for count, s in counted if count]
        if counted:
            return str(min(counted, key=lambda pair: (-pair[0], pair[1]))[1])
    return None


def live_frequency(reader: Any, field: str, text: str) -> int:
    """How many items (not deleted) have ``text`` in ``field``.

    Whoosh's ``doc_frequency`` also counts deleted items until their segment is merged, which
    offered completions and corrections that no item in the index has any more.
    """
    if not reader.has_deletions():
        return int(reader.doc_frequency(field, text))
    if (field, text) not in reader:
        return 0
    return sum(1 for _ in reader.postings(field, text).all_ids())


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r'"[^"]*"?', text)]
