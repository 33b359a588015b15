"""The read side: parsing queries, filters and sorting, and turning matches into hits.

One Whoosh searcher is kept open and reused; before each call it is refreshed if a writer has
committed since, and reopened if a rebuild switched the index to a new generation. Calls are
serialised by a lock, which makes one ``Reader`` safe to share between threads.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from whoosh import highlight, query
from whoosh.qparser import (
    FieldAliasPlugin,
    FuzzyTermPlugin,
    GtLtPlugin,
    OrGroup,
    QueryParser,
)
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.searching import Searcher
from whoosh.sorting import FacetType, FieldFacet, ScoreFacet

from .documents import parse_datetime
from .errors import IndexCorruptError, ItemNotFoundError, QueryError
from .indexer import open_whoosh
from .models import Highlights, Hit, IndexInfo, NewsItem, Provider, SearchResults, item_from_dict
from .schema import exact_values, make_weighting
from .store import IndexLocation

#: Accepted values of ``sort``.
SORTS = ("relevance", "newest", "oldest", "quality", "heat")

#: Largest page size a caller may ask for.
MAX_LIMIT = 1000

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HIGHLIGHT_FIELDS = {"content", "title", "excerpt", "body", "topics", "provider"}
_ALIASES = {"published_at": ["date", "published_date"], "provider": ["source"]}


def parse_time_bound(value: str | date | datetime, *, end: bool = False,
                     now: datetime | None = None) -> datetime:
    """Turn a ``--since``/``--until`` value into an aware UTC datetime.

    Accepts a datetime or date, ``YYYY-MM-DD`` (the whole day: its start for ``since``, its
    end for ``until``), a full ISO 8601 time, or a span back from now: ``30m``, ``24h``,
    ``7d``, ``2w``. Raises ``QueryError`` for anything else.
    """
    if isinstance(value, datetime):
        return parse_datetime(value)
    if isinstance(value, date):
        day = datetime.combine(value, time(), tzinfo=timezone.utc)
        return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    text = str(value).strip()
    span = _SPAN.match(text)
    if span:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(**{_SPAN_UNITS[span.group(2).lower()]: int(span.group(1))})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return parse_time_bound(date.fromisoformat(text), end=end)
        except ValueError:
            pass
    else:
        try:
            return parse_datetime(text)
        except ValueError:
            pass
    raise QueryError(f"invalid date {text!r}: use YYYY-MM-DD, an ISO 8601 time, "
                     "or a span like 7d or 24h")


@dataclass(frozen=True)
class Filters:
    """Restrictions that narrow a search without changing scores.

    Several ``topics`` (or ``providers``) match any of them; different filters must all hold.
    Topics, providers, category and type match case-insensitively on the exact value.
    """

    topics: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    category: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_quality: int | None = None
    min_heat: int | None = None

    def to_query(self) -> query.Query | None:
        parts: list[query.Query] = []
        for field, values in (("topic", self.topics), ("provider_exact", self.providers)):
            wanted = exact_values(values)
            if wanted:
                parts.append(query.Or([query.Term(field, v) for v in wanted]))
        for field, value in (("category", self.category), ("type", self.type)):
            wanted = exact_values([value] if value else [])
            if wanted:
                parts.append(query.Term(field, wanted[0]))
        if self.since is not None or self.until is not None:
            parts.append(query.DateRange("published_at", _naive(self.since), _naive(self.until)))
        if self.min_quality is not None:
            parts.append(query.NumericRange("quality", self.min_quality, None))
        if self.min_heat is not None:
            parts.append(query.NumericRange("heat", self.min_heat, None))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _sort_facets(sort: str) -> tuple[list[FacetType], int]:
    """The sort keys for ``sort``, and the position of the score among them.

    Every sort carries the score as a key (a tie-breaker where it is not the first), so each
    hit reports its relevance; the item id comes last and makes the order total.
    """
    newest = FieldFacet("published_at", reverse=True)
    if sort == "relevance":
        return [ScoreFacet(), newest, FieldFacet("id")], 0
    if sort == "newest":
        return [newest, ScoreFacet(), FieldFacet("id")], 1
    if sort == "oldest":
        return [FieldFacet("published_at"), ScoreFacet(), FieldFacet("id")], 1
    if sort in ("quality", "heat"):
        return [FieldFacet(sort, reverse=True), newest, ScoreFacet(), FieldFacet("id")], 2
    raise QueryError(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)}")


class _MarkFormatter(highlight.Formatter):
    """Wraps matched words in <mark>…</mark>; fragments are joined with an ellipsis."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{highlight.get_text(text, token, replace)}</mark>"


class Reader:
    """Searches one index directory, following its commits and rebuilds."""

    def __init__(self, location: IndexLocation) -> None:
        self.location = location
        self._lock = threading.RLock()
        self._gen: Path | None = None
        self._searcher: Searcher | None = None
        self._refresh()

    # -- searcher management ----------------------------------------------------------------

    def _refresh(self) -> Searcher:
        gen = self.location.require()
        if self._searcher is not None and gen == self._gen:
            if not self._searcher.up_to_date():
                self._searcher = self._searcher.refresh()
            return self._searcher
        ix = open_whoosh(gen)
        try:
            searcher = ix.searcher(weighting=make_weighting())
        except Exception as exc:  # damaged segment files
            raise IndexCorruptError(f"cannot read the index in {gen}: {exc}; "
                                    "run `searchkit index --rebuild`") from exc
        if self._searcher is not None:
            self._searcher.close()
        self._gen, self._searcher, self._ix = gen, searcher, ix
        return searcher

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    # -- queries ----------------------------------------------------------------------------

    def parse(self, text: str) -> query.Query:
        """Parse a user query (Whoosh syntax); empty text or ``*`` matches everything."""
        if not text.strip() or text.strip() == "*":
            return query.Every()
        parser = QueryParser("content", self._ix.schema, group=OrGroup)
        parser.add_plugin(FuzzyTermPlugin())
        parser.add_plugin(GtLtPlugin())
        parser.add_plugin(DateParserPlugin(free=False))
        parser.add_plugin(FieldAliasPlugin(_ALIASES))
        try:
            parsed = parser.parse(text)
        except Exception as exc:  # Whoosh raises assorted errors on odd input
            raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
        errors = [q.error for q in parsed.leaves() if getattr(q, "error", None)]
        if isinstance(parsed, query.NullQuery.__class__) and getattr(parsed, "error", None):
            errors.append(parsed.error)  # type: ignore[attr-defined]
        if errors:
            raise QueryError(f"cannot parse query {text!r}: {errors[0]}")
        return parsed

    def search(self, text: str, *, filters: Filters, sort: str | None, limit: int,
               page: int) -> SearchResults:
        if limit < 1 or limit > MAX_LIMIT:
            raise QueryError(f"invalid limit {limit}: use 1 to {MAX_LIMIT}")
        if page < 1:
            raise QueryError(f"invalid page {page}: pages start at 1")
        matches_all = not text.strip() or text.strip() == "*"
        sort = sort or ("newest" if matches_all else "relevance")
        facets, score_at = _sort_facets(sort)
        with self._lock:
            searcher = self._refresh()
            parsed = self.parse(text)
            results = searcher.search(parsed, filter=filters.to_query(), limit=page * limit,
                                      sortedby=facets)
            total = len(results)
            terms = self._highlight_terms(parsed, searcher)
            hits = tuple(self._hit(results[i], -results.score(i)[score_at], terms)
                         for i in range((page - 1) * limit, min(page * limit, results.scored_length())))
        return SearchResults(query=text, total=total, page=page, page_size=limit, hits=hits)

    def get(self, id_or_url: str) -> NewsItem:
        """The item with this id or url (ids are tried first)."""
        with self._lock:
            searcher = self._refresh()
            for field in ("id", "url"):
                docnum = searcher.document_number(**{field: id_or_url})
                if docnum is not None:
                    return item_from_dict(json.loads(searcher.stored_fields(docnum)["doc"]))
        raise ItemNotFoundError(f"no item with id or url {id_or_url!r} in the index")

    def info(self) -> IndexInfo:
        with self._lock:
            searcher = self._refresh()
            assert self._gen is not None
            meta = self.location.read_meta(self._gen)
            oldest = newest = None
            reader = searcher.reader()
            if reader.doc_count():
                dates = [d for d in _column_values(searcher, "published_at") if d is not None]
                if dates:
                    oldest, newest = min(dates), max(dates)
            size = sum(p.stat().st_size for p in self._gen.iterdir() if p.is_file())
            updated = meta.get("updated")
            return IndexInfo(
                index_dir=str(self.location), documents=reader.doc_count(), size_bytes=size,
                oldest=oldest, newest=newest,
                last_update=parse_datetime(updated) if updated else None,
                corpus=meta.get("corpus"),
            )

    # -- hits -------------------------------------------------------------------------------

    @staticmethod
    def _highlight_terms(parsed: query.Query, searcher: Searcher) -> frozenset[str]:
        try:
            terms = parsed.existing_terms(searcher.reader(), phrases=True, expand=True)
        except Exception:  # a query kind that cannot list its terms: highlight nothing
            return frozenset()
        words = set()
        for field, text in terms:
            if field in _HIGHLIGHT_FIELDS:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return frozenset(words)

    def _hit(self, stored: Any, score: float, terms: frozenset[str]) -> Hit:
        data = json.loads(stored["doc"])
        published = data.get("published_at")
        title = data["title"]
        return Hit(
            id=data["id"],
            url=data.get("url", ""),
            title=title,
            excerpt=data.get("excerpt", ""),
            provider=Provider(**data.get("provider", {})),
            topics=tuple(data.get("topics", ())),
            category=data.get("category", ""),
            type=data.get("type", ""),
            published_at=parse_datetime(published) if published else None,
            quality=data.get("quality"),
            heat=data.get("heat", -1),
            score=float(score),
            highlights=Highlights(
                title=self._mark(title, terms, whole=True) or title,
                excerpt=self._snippet(data.get("excerpt", ""), data.get("body", ""), terms),
            ),
        )

    def _mark(self, text: str, terms: frozenset[str], *, whole: bool) -> str:
        if not text or not terms:
            return ""
        fragmenter = (highlight.WholeFragmenter() if whole
                      else highlight.ContextFragmenter(maxchars=240, surround=80))
        analyzer = self._ix.schema["content"].analyzer
        return str(highlight.highlight(text, terms, analyzer, fragmenter, _MarkFormatter(), top=2))

    def _snippet(self, excerpt: str, body: str, terms: frozenset[str]) -> str:
        marked = self._mark(excerpt, terms, whole=True)
        if marked:
            return marked
        marked = self._mark(body, terms, whole=False)
        if marked:
            return marked
        return excerpt or _shorten(body, 240)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _column_values(searcher: Searcher, field: str) -> list[Any]:
    values: list[Any] = []
    for segment, _offset in searcher.reader().leaf_readers():
        if not segment.has_column(field):
            continue
        column = segment.column_reader(field, translate=True)
        field_obj = searcher.schema[field]
        default = field_obj.default if hasattr(field_obj, "default") else None
        for docnum in segment.all_doc_ids():
            value = column[docnum]
            values.append(None if value is None or value == _translate_default(field_obj, default)
                          else value.replace(tzinfo=timezone.utc) if isinstance(value, datetime)
                          else value)
    return values


def _translate_default(field_obj: Any, default: Any) -> Any:
    try:
        return field_obj.from_column_value(default)
    except Exception:
        return default


def normalize_sequence(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Accept one string or a sequence of strings for a multi-valued filter."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)
