"""The Whoosh schema: which fields an item becomes, how text is analysed, how fields score.

Text is analysed once, the same way for indexing and querying: words (letters and digits,
with inner dots as in ``U.S.``), lower-cased, accents folded (``Zürich`` matches ``zurich``),
English function words dropped (``STOP_WORDS``), and English (Snowball) stemming.

Ranking: items are scored by BM25 over one ``content`` field that holds the title (twice),
the topics, the excerpt and the body, each text once (``content_text``), so each query word
counts once per item with one length normalisation, as in the single-bag-of-words engines that
rank best on our relevance benchmarks (see benchmarks/README.md). A word a query repeats
weighs more (``repeat_weight``). The separate ``title``, ``excerpt``, ``body``, ``topics`` and
``provider`` fields serve ``field:value`` queries and highlighting.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh import fields, scoring
from whoosh.analysis import Analyzer, LowercaseFilter, RegexTokenizer, Token, Tokenizer
from whoosh.columns import VarBytesColumn
from whoosh.lang import stemmer_for_language
from whoosh.support.charset import accent_map

from .cache import Cache
from .models import NewsItem
from .similarity import Fingerprint


class F:
    """The index's field names, each written once: every module names a field through these."""

    ID = "id"
    URL = "url"
    CONTENT = "content"  # what free text searches and ranks: title (repeated), topics, excerpt, body
    TITLE = "title"
    EXCERPT = "excerpt"
    TOPICS = "topics"  # topics as text
    TOPIC = "topic"  # topics as exact values (filter, facet)
    PROVIDER = "provider"  # provider name and domain as text
    PROVIDER_EXACT = "provider_exact"  # provider name as an exact value (filter, facet)
    DOMAIN = "domain"
    CATEGORY = "category"
    TYPE = "type"
    PUBLISHED_AT = "published_at"
    QUALITY = "quality"
    HEAT = "heat"
    PUBLISHED = "published"
    LABELS = "labels"
    RELATED_URL = "related_url"
    SPELL = "spell"
    TITLE_WORDS = "title_words"
    DOC = "doc"
    MANIFEST = "manifest"
    PRINT = "fingerprint"  # similarity.Fingerprint, encoded: what stories compare


#: Bumped whenever the schema or the analysis changes in a way old indexes cannot serve.
#: 4: the longer stop list, and ``content`` holding each text once. 5: fingerprints (stories).
#: 6: fingerprints of version 3 (names), band keys indexed by bucket. 7: band keys kept beside
#: each commit (searchkit/bandtable.py), not as terms.
SCHEMA_VERSION = 7

#: Function words dropped from text: Snowball's English stop list (pronouns, auxiliary verbs,
#: articles, conjunctions, prepositions; https://snowballstem.org/algorithms/english/stop.txt),
#: as single words (our words split "don't" in two), less the words that carry meaning in news:
#: names ("who" for WHO, "it" for IT; "us", "may", "will" and "can", which Whoosh's default
#: list drops, are not on it), negations ("no", "not", "nor") and the particles of market and
#: sports reports ("up", "down", "over", "under", "out", "off"). A request written as a
#: sentence ("I would be pleased to receive any papers on ...", "what are the ...") keeps its
#: subject words only. On our relevance benchmarks it gains 0.005-0.006 nDCG@10 over the 36
#: words of earlier releases on two of four collections, the others within 0.001
#: (benchmarks/README.md).
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by cannot could did do does doing during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    its itself me more most my myself of on once only or other ought our ours ourselves own same
    she should so some such than that the their theirs them themselves then there these they this
    those through to too until very was we were what when where which while whom why with
    would you your yours yourself yourselves
    """.split()  # noqa: SIM905  # 113 words: a list literal would take 113 lines
)

#: How many times the title is in ``content``: a title match counts that much more.
TITLE_REPEAT = 2

#: Whether ``content`` holds each text once (``content_text``). False repeats the excerpt and
#: a body's opening title as earlier releases did: kept to measure the difference
#: (benchmarks/relevance.py).
EXCERPT_ONCE = True
TITLE_ONCE = True

#: Extra weight of an item whose title holds all the words of a free-text query, in order.
TITLE_PHRASE_BOOST = 1.0

#: BM25 parameters over the ``content`` field: K1 at the usual 1.2, now that ``content`` no
#: longer repeats texts (term counts ran high and saturated later: earlier releases used 2.0).
#: B below the usual 0.75, chosen on our relevance benchmarks: on the collection of short items
#: (a one-line title and a few sentences) 0.75 loses 0.016 nDCG@10, and 0.5 costs the others
#: at most 0.006 (benchmarks/README.md).
BM25_B = 0.5
BM25_K1 = 1.2

#: Saturation of the weight of a word a query repeats (BM25's k3; ``repeat_weight``). None
#: weighs every word once, as Whoosh's parser does.
QUERY_REPEAT_K3: float | None = 2.0

#: Use the probabilistic idf (see NewsBM25); False gives Whoosh's own, for comparison.
PROBABILISTIC_IDF = True

#: Fields a user may name in a query (``title:vision``), besides their aliases. The body has no
#: field of its own (it would double the postings a build writes): ``body:`` searches
#: ``content``, the whole text.
TEXT_FIELDS = (F.TITLE, F.EXCERPT, F.TOPICS, F.PROVIDER, F.CONTENT)


#: Words: letters and digits, with inner dots (``U.S.``, ``3.5``). The same words as the
#: pattern of earlier releases, ``\w+(?:\.?\w+)*``, whose optional dot made the regex engine
#: backtrack: this one finds them about a fifth faster (tests/test_documents.py compares them).
WORD_PATTERN = r"\w+(?:\.\w+)*"


class NewsAnalyzer(Tokenizer):  # type: ignore[misc]  # Whoosh ships no type hints
    """Tokenize, lower-case, fold accents, drop stop words and stem, in one pass.

    The same result as Whoosh's chain ``RegexTokenizer | LowercaseFilter | CharsetFilter |
    StopFilter | StemFilter`` (Snowball English), but one Python step per token instead of
    five generator layers, and each distinct word is analysed once and cached: analysis was
    about a third of the time of a build (benchmarks/README.md).
    """

    _CACHE_LIMIT = 500_000

    def __init__(self, stoplist: Iterable[str] = STOP_WORDS) -> None:
        self.stoplist = frozenset(stoplist)
        self._cache: Cache[str, str | None] = Cache(self._CACHE_LIMIT)

    def __getstate__(self) -> dict[str, Any]:
        return {"stoplist": self.stoplist}  # the cache is not part of the schema

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stoplist = state["stoplist"]
        self._cache = Cache(self._CACHE_LIMIT)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewsAnalyzer) and other.stoplist == self.stoplist

    def __hash__(self) -> int:
        return hash(self.stoplist)

    def _analyse(self, word: str) -> str | None:
        """The stem of ``word``, or None for a stop word (cached)."""
        folded = word.lower().translate(accent_map)
        return self._cache.put(word, None if folded in self.stoplist else _stem(folded))

    def positions(self, value: str) -> tuple[dict[str, list[int]], int]:
        """Each stem of ``value`` with its positions, and the number of positions: what
        ``__call__`` gives with ``positions=True``, without a token object per word."""
        cache = self._cache
        found: dict[str, list[int]] = {}
        pos = 0
        for word in _WORD.findall(value):
            stem = cache[word] if word in cache else self._analyse(word)
            if stem is None:
                continue
            poses = found.get(stem)
            if poses is None:
                found[stem] = [pos]
            else:
                poses.append(pos)
            pos += 1
        return found, pos

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        cache = self._cache
        pos = start_pos
        matches = _WORD.finditer(value) if tokenize else [_Whole(value)]
        for match in matches:
            word = match.group()
            stem = cache[word] if word in cache else self._analyse(word)
            if stem is None:
                if removestops:
                    continue
                token.stopped = True
                token.text = word.lower().translate(accent_map)
            else:
                token.stopped = False
                token.text = stem
            token.boost = 1.0
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
                if stem is not None:
                    pos += 1
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


class _Whole:
    """A regex-match look-alike for the whole value (``tokenize=False``)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def group(self) -> str:
        return self.value

    def start(self) -> int:
        return 0

    def end(self) -> int:
        return len(self.value)


_WORD = re.compile(WORD_PATTERN)
_stem = stemmer_for_language("en")


def make_analyzer() -> Analyzer:
    """The analysis shared by every full-text field, at index and at query time."""
    return NewsAnalyzer(STOP_WORDS)


def make_word_analyzer() -> Analyzer:
    """Words as written (lower-cased, accents kept, no stemming): spelling and completion."""
    return RegexTokenizer(WORD_PATTERN) | LowercaseFilter()


def make_schema() -> fields.Schema:
    """Build the schema of a searchkit index."""
    text = make_analyzer()
    published_at = fields.DATETIME()
    # Whoosh's default column value is the largest number, which would sort an undated item as
    # the newest; 0 (the earliest representable time) sorts it last under "newest". The column
    # takes its default when it is made, hence set_sortable after setting it.
    published_at.default = 0
    published_at.set_sortable(True)
    return fields.Schema(
        **{
            F.ID: fields.ID(stored=True, unique=True, sortable=True),
            F.URL: fields.ID(stored=True),
            F.CONTENT: fields.TEXT(analyzer=text, phrase=True),
            F.TITLE: fields.TEXT(analyzer=text, phrase=True, stored=True),
            F.EXCERPT: fields.TEXT(analyzer=text, phrase=True),
            F.TOPICS: fields.TEXT(analyzer=text, phrase=True),
            F.TOPIC: fields.KEYWORD(commas=True, lowercase=True, scorable=False),
            F.PROVIDER: fields.TEXT(analyzer=text, phrase=True),
            F.PROVIDER_EXACT: fields.ID(),
            F.DOMAIN: fields.ID(),
            F.CATEGORY: fields.ID(),
            F.TYPE: fields.ID(),
            F.PUBLISHED_AT: published_at,
            # A column default is stored as is, in the column's unsigned form: 0 is the smallest
            # value, so an item without quality sorts last under "quality".
            # Quality and heat are indexed at 4 precisions (Whoosh's default is 8): their few
            # distinct values need no more for range queries, and each item writes 8 postings less.
            F.QUALITY: fields.NUMERIC(int, bits=32, signed=True, sortable=True, default=0, shift_step=8),
            F.HEAT: fields.NUMERIC(int, bits=32, signed=True, sortable=True, default=0, shift_step=8),
            F.PUBLISHED: fields.BOOLEAN(),
            # Facet labels as written, "<kind>:<value>" (kinds in FACET_LABEL_KINDS): facets count
            # on the case-folded fields above and show the most common spelling from here.
            F.LABELS: fields.KEYWORD(commas=True, lowercase=False, scorable=False),
            # Urls of the item's `related` entries: finds the items that link to a given item.
            F.RELATED_URL: fields.KEYWORD(scorable=False),
            # Unstemmed words of title, topics and excerpt: the vocabulary of "did you mean".
            F.SPELL: fields.TEXT(analyzer=make_word_analyzer(), phrase=False),
            # Unstemmed title words: the vocabulary of autocompletion.
            F.TITLE_WORDS: fields.TEXT(analyzer=make_word_analyzer(), phrase=False),
            # The whole item as JSON (models.item_to_json), so a hit or `show` never reopens its file.
            F.DOC: fields.STORED(),
            # "size mtime_ns sha256 origin first changed" per item: what incremental updates
            # compare against, and when the item entered the index (searchkit/manifest.py).
            F.MANIFEST: fields.COLUMN(VarBytesColumn()),
            # Stories (searchkit/stories.py): each item's fingerprint.
            F.PRINT: fields.COLUMN(VarBytesColumn()),
        }
    )


class NewsBM25(scoring.BM25F):  # type: ignore[misc]
    """Whoosh's BM25F with the probabilistic (Robertson/Lucene) inverse document frequency.

    Whoosh's own idf, ``log(N / (n + 1)) + 1``, never falls below about 1, so very common
    words ("what", "must", "new") weigh in a long natural-language query almost as much as
    rare ones; ``log(1 + (N - n + 0.5) / (n + 0.5))`` goes to zero for them, as in Lucene,
    tantivy and SQLite FTS5.
    """

    def idf(self, searcher: Any, fieldname: str, text: Any) -> float:
        if not PROBABILISTIC_IDF:
            return float(super().idf(searcher, fieldname, text))
        parent = searcher.get_parent()
        return probabilistic_idf(parent.doc_count(), parent.doc_frequency(fieldname, text))


def probabilistic_idf(total: int, frequency: int) -> float:
    """``log(1 + (N - n + 0.5) / (n + 0.5))`` for a term in ``frequency`` of ``total`` items."""
    return math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))


def repeat_weight(count: int) -> float:
    """The weight of a word a query gives ``count`` times: BM25's query-term factor
    ``(k3 + 1) * n / (k3 + n)`` with ``k3 = QUERY_REPEAT_K3``: 1 for a word given once, 1.5
    twice, 1.8 three times, at most 3.

    A long request often names its subject more than once ("... associative stores or
    memories and associative processors. Associative processors, associative stores"): Whoosh's
    parser keeps one clause per word, so the subject weighs no more than a word said in
    passing. Saturating keeps a word repeated many times from outweighing the rest. On our
    relevance benchmarks the collection of long requests gains 0.07 nDCG@10 and the others
    stay within 0.001 (benchmarks/README.md).
    """
    if QUERY_REPEAT_K3 is None or count == 1:
        return 1.0
    return (QUERY_REPEAT_K3 + 1) * count / (QUERY_REPEAT_K3 + count)


def make_weighting() -> scoring.WeightingModel:
    """BM25 as tuned with benchmarks/relevance.py."""
    return NewsBM25(B=BM25_B, K1=BM25_K1)


def clean_value(value: str) -> str:
    """An exact value (topic, provider, category, type) with whitespace (and commas) collapsed."""
    return " ".join(value.replace(",", " ").split())


def normalize_value(value: str) -> str:
    """How exact-value fields (topic, provider, category, type) are stored and matched."""
    return clean_value(value).casefold()


def content_text(item: NewsItem) -> str:
    """The text scored for a free-text query: title (repeated), topics, excerpt and body, each
    text once.

    Most excerpts are the lead of the body, and some bodies open with the title: counted again,
    the lead's words would weigh twice as much as the rest of the body and the title one more
    time in some items than in others. So the excerpt is left out when the body holds its
    words in the same order, and a body that opens with the title's words starts after them.
    On our relevance benchmarks this gains 0.035-0.05 nDCG@10 on the collection whose excerpts
    are a small part of the body, and all four lose when the excerpt is repeated
    (benchmarks/README.md).
    """
    parts = [item.title] * TITLE_REPEAT
    parts.append(" ".join(item.topics))
    body = item.body
    if TITLE_ONCE:
        body = _without_opening(body, item.title)
    if not (EXCERPT_ONCE and _holds(body, item.excerpt)):
        parts.append(item.excerpt)
    parts.append(body)
    return "\n".join(parts)


def _words(text: str) -> str:
    """The words of ``text``, case-folded, one space apart (and around)."""
    return f" {' '.join(_WORD.findall(text)).casefold()} "


def _holds(text: str, part: str) -> bool:
    """Whether ``part`` has words and ``text`` holds them, in order and together."""
    words = _words(part)
    return words != "  " and words in _words(text)


def _without_opening(text: str, opening: str) -> str:
    """``text`` after its first words when they are the words of ``opening``."""
    count = len(_WORD.findall(opening))
    found = list(itertools.islice(_WORD.finditer(text), count))
    if not count or len(found) < count or _words(" ".join(m.group() for m in found)) != _words(opening):
        return text
    return text[found[-1].end() :]


def item_document(item: NewsItem, doc_json: str, manifest: str, fingerprint: Fingerprint) -> dict[str, Any]:
    """The Whoosh document (field name -> value) for one item."""
    document: dict[str, Any] = {
        F.ID: item.id,
        F.URL: item.url,
        F.CONTENT: content_text(item),
        F.TITLE: item.title,
        F.EXCERPT: item.excerpt,
        F.TOPICS: " ".join(item.topics),
        F.TOPIC: ",".join(normalize_value(t) for t in item.topics),
        F.PROVIDER: f"{item.provider.name} {item.provider.domain}",
        F.PROVIDER_EXACT: normalize_value(item.provider.name),
        F.DOMAIN: item.provider.domain.lower(),
        F.CATEGORY: normalize_value(item.category),
        F.TYPE: normalize_value(item.type),
        F.HEAT: item.heat,
        F.PUBLISHED: item.published,
        F.LABELS: ",".join(_labels(item)),
        F.RELATED_URL: " ".join(link.url for link in item.related if link.url and " " not in link.url),
        F.SPELL: "\n".join((item.title, " ".join(item.topics), item.excerpt)),
        F.TITLE_WORDS: item.title,
        F.DOC: doc_json,
        F.MANIFEST: manifest.encode("utf-8"),
        F.PRINT: fingerprint.encode(),
    }
    if item.published_at is not None:
        document[F.PUBLISHED_AT] = item.published_at.replace(tzinfo=None)
    if item.quality is not None:
        document[F.QUALITY] = item.quality
    return {key: value for key, value in document.items() if value != "" or key == F.ID}


#: Kinds of facet label: topic, provider name, category, type.
FACET_LABEL_KINDS = {F.TOPIC: "t", F.PROVIDER_EXACT: "p", F.CATEGORY: "c", F.TYPE: "y"}


def _labels(item: NewsItem) -> list[str]:
    kinds = FACET_LABEL_KINDS
    values = [(kinds[F.TOPIC], topic) for topic in item.topics]
    values += [
        (kinds[F.PROVIDER_EXACT], item.provider.name),
        (kinds[F.CATEGORY], item.category),
        (kinds[F.TYPE], item.type),
    ]
    return [f"{kind}:{clean_value(value)}" for kind, value in values if clean_value(value)]


def exact_values(values: Iterable[str]) -> list[str]:
    """Normalise filter values for the exact-value fields, dropping empty ones."""
    return [v for v in (normalize_value(value) for value in values) if v]
