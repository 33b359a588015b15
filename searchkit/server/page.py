"""The search page (``GET /``) and an item's page (``GET /item/{id}``), rendered on the server.

The page works without JavaScript: the URL holds the whole state (the API's parameters, so a
search can be bookmarked and shared), the facet values are links that tick or untick one
value, and the form sets the query, sort, recency and dates. JavaScript (static/searchkit.js)
only adds autocompletion and each result's related items on demand.

Item text is data: templates autoescape, and a highlight (escaped text with searchkit's
``<mark>``) is taken apart and escaped again here (``marked``), so that ``<mark>`` is the only
markup around item text whatever the text holds. Links are made of ``http``/``https`` urls
only (``safe_url``).
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .. import Facet, Hit, RelatedHit, SearchResults
from ..models import format_datetime
from ..options import FACETS_BY_NAME, FILTERS, MAX_PAGE, SORTS, FacetKind, Kind
from . import params
from .errors import describe

#: The facets of the sidebar, in order, with their headings.
PAGE_FACETS = {"topics": "Topics", "provider": "Provider", "year": "Year"}

#: The recency choices of the page (any half-life works in the URL).
RECENCY = (("", "off"), ("1d", "1 day"), ("1w", "1 week"), ("30d", "30 days"), ("52w", "1 year"))

#: Parameters the form has a control of its own for (the rest travel as hidden fields).
_CONTROLS = frozenset({"q", "sort", "recency", "since", "until", "page", "after", "collapse"})

_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

_templates = Environment(
    loader=PackageLoader("searchkit.server", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_routes() -> list[Route]:
    return [
        Route("/", search_page, methods=["GET"]),
        Route("/item/{id:path}", item_page, methods=["GET"]),
    ]


def marked(highlight: str) -> Markup:
    """A highlight as markup: its text escaped, its ``<mark>`` kept; nothing else survives."""
    parts: list[Markup] = []
    last = 0
    for match in _MARK.finditer(highlight):
        parts.append(escape(html.unescape(highlight[last : match.start()])))
        parts.append(Markup("<mark>%s</mark>") % html.unescape(match.group(1)))
        last = match.end()
    parts.append(escape(html.unescape(highlight[last:])))
    return Markup("").join(parts)


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute ``http`` or ``https`` url, else None (no link)."""
    text = (url or "").strip()
    if not text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


class PageState:
    """The page's URL: its query parameters in order, and the links that change one of them."""

    def __init__(self, root: str, pairs: Sequence[tuple[str, str]]) -> None:
        self.root = root
        self.pairs = [(name, value) for name, value in pairs if value.strip()]

    def get(self, name: str) -> str:
        return next((value for key, value in self.pairs if key == name), "")

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def href(self, pairs: Iterable[tuple[str, str]] | None = None) -> str:
        query = urlencode(list(self.pairs if pairs is None else pairs))
        return f"{self.root}/" + (f"?{query}" if query else "")

    def with_value(self, name: str, value: str | None, *, keep_page: bool = False) -> str:
        """This page with ``name`` set to ``value`` (None: left out); back to page 1 unless
        ``keep_page``."""
        drop = {name, "after"} | (set() if keep_page else {"page"})
        pairs = [(key, v) for key, v in self.pairs if key not in drop]
        return self.href(pairs + ([(name, value)] if value is not None else []))

    def toggled(self, name: str, value: str) -> str:
        """This page with ``value`` added to the values of ``name``, or removed (ignoring
        case, as the filters match), back to page 1."""
        given = self.values(name)
        pairs = [(key, v) for key, v in self.pairs if key not in ("page", "after")]
        if value.casefold() in {v.casefold() for v in given}:
            pairs = [(key, v) for key, v in pairs if not (key == name and v.casefold() == value.casefold())]
        else:
            pairs.append((name, value))
        return self.href(pairs)

    def years(self, year: int) -> tuple[bool, str]:
        """Whether ``year`` is ticked, and the link that ticks or unticks it: the ticked years
        are a span (``since`` the first one's start ``until`` the last one's end)."""
        first, last = _year_span(self.get("since"), self.get("until"))
        ticked = first is not None and last is not None and first <= year <= last
        if not ticked:
            first, last = (
                (year, year) if first is None or last is None else (min(first, year), max(last, year))
            )
        elif first == last:
            first = last = None
        elif year == first:
            first = year + 1
        elif year == last:
            last = year - 1
        else:
            first = last = year
        pairs = [(k, v) for k, v in self.pairs if k not in ("since", "until", "page", "after")]
        if first is not None and last is not None:
            pairs += [("since", f"{first:04d}-01-01"), ("until", f"{last:04d}-12-31")]
        return ticked, self.href(pairs)


def _year_span(since: str, until: str) -> tuple[int | None, int | None]:
    """The years of a span of whole years (``YYYY-01-01`` to ``YYYY-12-31``), else (None, None)."""
    if re.fullmatch(r"\d{4}-01-01", since) and re.fullmatch(r"\d{4}-12-31", until):
        first, last = int(since[:4]), int(until[:4])
        if first <= last:
            return first, last
    return None, None


async def search_page(request: Request) -> Response:
    state = PageState(request.scope.get("root_path", ""), request.query_params.multi_items())
    started = time.perf_counter()
    results: SearchResults | None = None
    error = None
    status = 200
    try:
        arguments = params.parse(params.SEARCH, state.pairs)
        arguments["facets"] = tuple(dict.fromkeys((*arguments.get("facets", ()), *PAGE_FACETS)))
        results = await request.app.state.asker(lambda index: index.search(**arguments))
    except Exception as exc:
        status, _, error = describe(exc)
    took_ms = (time.perf_counter() - started) * 1000
    context = {
        "root": state.root,
        "q": state.get("q"),
        "error": error,
        "form": _form(state),
        "facets": _facets(state, results) if results else [],
        "results": None if results is None else _results(state, results, took_ms),
    }
    return _render("search.html", context, status)


async def item_page(request: Request) -> Response:
    """One item and its related items: what the related panel shows without JavaScript."""
    root = request.scope.get("root_path", "")
    item_id = request.path_params["id"]
    try:
        related = await request.app.state.asker(lambda index: index.related(item_id, limit=10))
    except Exception as exc:
        status, _, message = describe(exc)
        return _render("item.html", {"root": root, "error": message, "item": None, "related": []}, status)
    return _render(
        "item.html",
        {"root": root, "error": None, "item": _hit(root, related.item), "related": _related(related.related)},
        200,
    )


def _render(name: str, context: dict[str, Any], status: int) -> Response:
    return HTMLResponse(_templates.get_template(name).render(context), status_code=status)


def _form(state: PageState) -> dict[str, Any]:
    sort, recency = state.get("sort"), state.get("recency")
    recency_choices = list(RECENCY)
    if recency and recency not in dict(RECENCY):
        recency_choices.append((recency, recency))
    return {
        "sort": sort,
        "sorts": [("", "default"), *((value, value) for value in SORTS)],
        "recency": recency,
        "recencies": recency_choices,
        "collapse": state.get("collapse").strip().lower() in ("1", "true", "yes", "on"),
        "dates": [
            _date_input(name, label, state.get(name)) for name, label in (("since", "From"), ("until", "to"))
        ],
        "hidden": [(name, value) for name, value in state.pairs if name not in _CONTROLS],
    }


def _date_input(name: str, label: str, value: str) -> tuple[str, str, str, str]:
    """A date field: a date picker for ``YYYY-MM-DD`` or nothing, text for a span (``7d``)."""
    return name, label, value, "date" if not value or _DAY.fullmatch(value) else "text"


def _facets(state: PageState, results: SearchResults) -> list[dict[str, Any]]:
    """The sidebar: per facet, its values with counts and the links that tick them. A facet
    whose own filter takes several values (topics, provider) ticks values into that filter's
    parameter; the year facet ticks a span of years."""
    by_filter = {spec.name: spec for spec in FILTERS}
    found = []
    for name, heading in PAGE_FACETS.items():
        facet = results.facets.get(name)
        if facet is None:
            continue
        spec = FACETS_BY_NAME[name]
        own = by_filter[spec.own_filter]
        if own.kind is Kind.ANY_OF:
            entries = _ticked_values(state, own.params[0].option.removeprefix("--").replace("-", "_"), facet)
        elif spec.kind is FacetKind.YEAR:
            entries = _ticked_years(state, facet)
        else:
            continue
        found.append({"name": name, "title": heading, "entries": entries, "other": facet.other})
    return found


def _ticked_values(state: PageState, parameter: str, facet: Facet) -> list[dict[str, Any]]:
    given = state.values(parameter)
    listed = {count.value.casefold() for count in facet.values}
    # A ticked value the counts leave out is still shown, ticked, to be unticked.
    counts: list[tuple[str, int | None]] = [
        (value, None) for value in given if value.casefold() not in listed
    ]
    counts += [(count.value, count.count) for count in facet.values]
    ticked = {value.casefold() for value in given}
    return [
        {
            "value": value,
            "count": count,
            "selected": value.casefold() in ticked,
            "href": state.toggled(parameter, value),
        }
        for value, count in counts
    ]


def _ticked_years(state: PageState, facet: Facet) -> list[dict[str, Any]]:
    entries = []
    for year in sorted(facet.values, key=lambda count: count.value, reverse=True):
        selected, href = state.years(int(year.value))
        entries.append({"value": year.value, "count": year.count, "selected": selected, "href": href})
    return entries


def _results(state: PageState, results: SearchResults, took_ms: float) -> dict[str, Any]:
    page, size = results.page, results.page_size
    shown = results.total if results.stories is None else results.stories  # collapsed: stories
    last = max(1, min(MAX_PAGE, math.ceil(shown / size)))
    window = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    return {
        "total": results.total,
        "stories": results.stories,
        "took_ms": f"{took_ms:.0f}",
        "suggestion": results.suggestion,
        "suggestion_href": state.with_value("q", results.suggestion) if results.suggestion else None,
        "first": (page - 1) * size + 1,
        "hits": [_hit(state.root, hit) for hit in results.hits],
        "pages": [
            {"number": n, "href": state.with_value("page", str(n), keep_page=True), "current": n == page}
            for n in window
        ]
        if last > 1
        else [],
        "previous": state.with_value("page", str(page - 1), keep_page=True) if page > 1 else None,
        "next": state.with_value("page", str(page + 1), keep_page=True) if page < last else None,
    }


def _hit(root: str, hit: Hit) -> dict[str, Any]:
    excerpt = hit.excerpt if len(hit.excerpt) <= 300 else hit.excerpt[:300].rsplit(" ", 1)[0] + " …"
    return {
        "id": hit.id,
        "title": marked(hit.highlights.title) if hit.highlights.title else hit.title,
        "snippet": marked(hit.highlights.excerpt) if hit.highlights.excerpt else excerpt,
        "link": safe_url(hit.url),
        "url": hit.url,
        "provider": hit.provider.name or hit.provider.domain,
        "date": _day(hit.published_at),
        "topics": hit.topics,
        "item_href": f"{root}/item/{quote(hit.id, safe='')}",
        "story_size": hit.story.size if hit.story is not None else 1,
        "providers": len(hit.story.providers) if hit.story is not None else 1,
        "duplicates": hit.duplicates,
        "duplicate_of": hit.duplicate_of,
    }


def _related(related: Sequence[RelatedHit]) -> list[dict[str, Any]]:
    return [
        {
            "title": hit.title,
            "link": safe_url(hit.url),
            "reason": hit.reason,
            "provider": hit.provider.name or hit.provider.domain,
            "date": _day(hit.published_at),
            "in_index": hit.in_index,
        }
        for hit in related
    ]


def _day(moment: datetime | None) -> str:
    return (format_datetime(moment) or "")[:10]
