"""The search options, each defined once: filters, facets, sorts and page limits.

One table each. The query layer builds a filter's query from its entry (``Filters``), the facet
counter counts a facet from its entry (searchkit/facets.py), ``SearchIndex.search`` takes the
filters' parameters as keyword arguments (``FilterArguments``), and the CLI makes an option of
each parameter, with the entry's help text. Adding a filter or a facet is one entry here (and,
for a filter, one line of ``FilterArguments`` beside it, which a test keeps in step).

A facet ignores its "own" filter when it is counted, so that a user interface can offer
OR-selection within a facet (the disjunctive rule): ``topics`` ignores ``--topic``, ``year``
and ``month`` ignore ``--since`` and ``--until``, and so on (``FacetSpec.own_filter``).
"""

from __future__ import annotations

import enum
import inspect
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypedDict

from whoosh import query

from .errors import QueryError
from .models import format_datetime, parse_datetime
from .schema import F, exact_values

#: Largest page size a caller may ask for.
MAX_LIMIT = 1000

#: Largest page number a caller may ask for: a page is ranked with every hit before it, so
#: ``page * limit`` stays at most ten million.
MAX_PAGE = 10_000

#: The values a number filter (``min_quality``, ``min_heat``) takes, inclusive: the index stores
#: quality and heat as signed 32-bit ints (searchkit/schema.py), and Whoosh rejects a bound
#: outside their range only when the search runs.
NUMBER_RANGE = (-(2**31), 2**31 - 1)

#: Accepted values of ``sort``: ``relevance`` (ties to the newest), then the field sorts of
#: searchkit/ordering.py (highest or newest first, ``oldest`` first for ``oldest``).
SORTS = ("relevance", "newest", "oldest", "quality", "heat")

TimeBound = str | date | datetime


class Kind(enum.Enum):
    """How a filter matches, which decides its parameters' types and its query."""

    ANY_OF = "any of"  # one or several exact values, any of them (case-insensitive)
    EQUALS = "equals"  # one exact value (case-insensitive)
    DATE_RANGE = "date range"  # since and/or until, inclusive
    AT_LEAST = "at least"  # an int lower bound, inclusive


@dataclass(frozen=True)
class Param:
    """One argument of a filter: its API keyword, its CLI option and help text."""

    name: str
    option: str
    help: str


@dataclass(frozen=True)
class FilterSpec:
    """A filter: which field it reads, how it matches, and its parameters (two for a range)."""

    name: str
    field: str
    kind: Kind
    params: tuple[Param, ...]

    def parse(self, arguments: Mapping[str, Any]) -> Any:
        """This filter's value from the caller's arguments (None when it is not set):
        a tuple of strings, a string, a (since, until) pair of datetimes, or an int."""
        values = [arguments.get(param.name) for param in self.params]
        if self.kind is Kind.ANY_OF:
            found = _strings(self.params[0], values[0])
            return found or None
        if self.kind is Kind.EQUALS:
            if values[0] is not None and not isinstance(values[0], str):
                raise QueryError(f"invalid {self.params[0].name} {shown(values[0])}: use a string")
            return values[0] or None
        if self.kind is Kind.DATE_RANGE:
            since, until = values
            if since is None and until is None:
                return None
            return (
                None if since is None else parse_time_bound(since),
                None if until is None else parse_time_bound(until, end=True),
            )
        return None if values[0] is None else _whole_number(self.params[0], values[0])

    def query(self, value: Any) -> query.Query | None:
        """The query of this filter for a value ``parse`` gave (None: no restriction)."""
        if self.kind is Kind.ANY_OF:
            wanted = exact_values(value)
            return query.Or([query.Term(self.field, v) for v in wanted]) if wanted else None
        if self.kind is Kind.EQUALS:
            wanted = exact_values([value])
            return query.Term(self.field, wanted[0]) if wanted else None
        if self.kind is Kind.DATE_RANGE:
            since, until = value
            return query.DateRange(self.field, _naive(since), _naive(until))
        return query.NumericRange(self.field, value, None)

    def describe(self, value: Any) -> str:
        """The filter with a parsed value as a user gave it: ``since 2025-01-01T00:00:00Z``,
        ``topics ai, climate``, ``min_quality 50``."""
        if self.kind is Kind.DATE_RANGE:
            bounds = zip((param.name for param in self.params), value, strict=True)
            return " ".join(f"{name} {format_datetime(bound)}" for name, bound in bounds if bound is not None)
        if self.kind is Kind.ANY_OF:
            return f"{self.name} {', '.join(value)}"
        return f"{self.name} {value}"


#: The filters, in the order they are documented. Several values of an ``ANY_OF`` filter match
#: any of them; different filters must all hold. Filters never change scores.
FILTERS: tuple[FilterSpec, ...] = (
    FilterSpec(
        "topics",
        F.TOPIC,
        Kind.ANY_OF,
        (Param("topics", "--topic", "Only items with this topic (repeatable: any of them)."),),
    ),
    FilterSpec(
        "providers",
        F.PROVIDER_EXACT,
        Kind.ANY_OF,
        (Param("providers", "--provider", "Only items from this provider (repeatable: any of them)."),),
    ),
    FilterSpec(
        "category",
        F.CATEGORY,
        Kind.EQUALS,
        (Param("category", "--category", "Only items of this category."),),
    ),
    FilterSpec("type", F.TYPE, Kind.EQUALS, (Param("type", "--type", "Only items of this type."),)),
    FilterSpec(
        "dates",
        F.PUBLISHED_AT,
        Kind.DATE_RANGE,
        (
            Param("since", "--since", "Published at or after: YYYY-MM-DD, ISO 8601, or a span like 7d, 24h."),
            Param("until", "--until", "Published at or before (same forms as --since)."),
        ),
    ),
    FilterSpec(
        "min_quality",
        F.QUALITY,
        Kind.AT_LEAST,
        (Param("min_quality", "--min-quality", "Only items with quality >= N."),),
    ),
    FilterSpec(
        "min_heat", F.HEAT, Kind.AT_LEAST, (Param("min_heat", "--min-heat", "Only items with heat >= N."),)
    ),
)


class FilterArguments(TypedDict, total=False):
    """The keyword arguments of the filters (``FILTERS``' parameters), as ``SearchIndex.search``
    takes them. ``since``/``until`` take a date, a datetime, ``YYYY-MM-DD``, an ISO 8601 time
    or a span back from now such as ``7d``."""

    topics: str | Sequence[str] | None
    providers: str | Sequence[str] | None
    category: str | None
    type: str | None
    since: TimeBound | None
    until: TimeBound | None
    min_quality: int | None
    min_heat: int | None


#: Every filter parameter's name -> its filter.
FILTER_PARAMS = {param.name: spec for spec in FILTERS for param in spec.params}


def with_filter_parameters(function: Callable[..., Any]) -> Callable[..., Any]:
    """Show a function that takes the filters as ``**filters`` with one keyword-only parameter
    per filter parameter instead, after its positional ones (what ``inspect.signature`` and
    ``help()`` show of ``SearchIndex.search``), annotated as in ``FilterArguments``."""
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    hints = FilterArguments.__annotations__
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=getattr(hints[name], "__forward_arg__", hints[name]),
        )
        for name in FILTER_PARAMS
    ]
    # After the positional parameters (self, the query, an item's id...).
    after = next((i for i, p in enumerate(params) if p.kind is p.KEYWORD_ONLY), len(params))
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params[:after], *added, *params[after:]]
    )
    return function


class FacetKind(enum.Enum):
    """Where a facet's values come from."""

    TERMS = "terms"  # the exact values of a field (topics, provider...)
    YEAR = "year"  # the year of a date field
    MONTH = "month"  # the year and month of a date field
    BUCKETS = "buckets"  # ranges of a number field


#: A bucket of a number facet: (label, lowest, highest), inclusive; None is open.
Bucket = tuple[str, int | None, int | None]


@dataclass(frozen=True)
class FacetSpec:
    """A facet: the field it counts, how, and the filter it ignores when counted."""

    name: str
    field: str
    kind: FacetKind
    own_filter: str
    buckets: tuple[Bucket, ...] = ()


#: The facets, in the order they are documented. For ``heat``, the feed's -1 ("no heat") is
#: the bucket "none"; an item without a value is counted as ``missing``.
FACETS: tuple[FacetSpec, ...] = (
    FacetSpec("topics", F.TOPIC, FacetKind.TERMS, "topics"),
    FacetSpec("provider", F.PROVIDER_EXACT, FacetKind.TERMS, "providers"),
    FacetSpec("category", F.CATEGORY, FacetKind.TERMS, "category"),
    FacetSpec("type", F.TYPE, FacetKind.TERMS, "type"),
    FacetSpec("year", F.PUBLISHED_AT, FacetKind.YEAR, "dates"),
    FacetSpec("month", F.PUBLISHED_AT, FacetKind.MONTH, "dates"),
    FacetSpec(
        "quality",
        F.QUALITY,
        FacetKind.BUCKETS,
        "min_quality",
        buckets=(
            ("0-19", None, 19),
            ("20-39", 20, 39),
            ("40-59", 40, 59),
            ("60-79", 60, 79),
            ("80-100", 80, None),
        ),
    ),
    FacetSpec(
        "heat",
        F.HEAT,
        FacetKind.BUCKETS,
        "min_heat",
        buckets=(
            ("none", None, -1),
            ("0-9", 0, 9),
            ("10-99", 10, 99),
            ("100-999", 100, 999),
            ("1000+", 1000, None),
        ),
    ),
)

#: Facet name -> its entry.
FACETS_BY_NAME = {spec.name: spec for spec in FACETS}

FACET_NAMES = tuple(spec.name for spec in FACETS)


def check_facet_names(names: Iterable[str]) -> tuple[FacetSpec, ...]:
    """The facets named, validated, in their order, repeats dropped."""
    result: list[FacetSpec] = []
    for name in names:
        spec = FACETS_BY_NAME.get(name)
        if spec is None:
            raise QueryError(f"invalid facet {name!r}: choose from {', '.join(FACET_NAMES)}")
        if spec not in result:
            result.append(spec)
    return tuple(result)


def check_page(limit: int, page: int | None = None) -> None:
    """Raise ``QueryError`` for a page size out of 1 to ``MAX_LIMIT``, or a page number out
    of 1 to ``MAX_PAGE``."""
    if _as_int(limit) is None or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"invalid limit {limit!r}: use 1 to {MAX_LIMIT}")
    if page is not None:
        if _as_int(page) is None:
            raise QueryError(f"invalid page {page!r}: use a page number from 1 to {MAX_PAGE}")
        if page < 1:
            raise QueryError(f"invalid page {page}: pages start at 1")
        if page > MAX_PAGE:
            raise QueryError(f"invalid page {page}: out of range, the last page is {MAX_PAGE}")


@dataclass(frozen=True)
class Filters:
    """The filters a search sets: filter name -> parsed value (see ``FilterSpec.parse``); and
    restrictions that are no filter of the table, set by the package itself (what a saved
    search's run adds: the items new since its mark, searchkit/saved.py), name -> query."""

    values: tuple[tuple[str, Any], ...] = ()
    restrictions: tuple[tuple[str, query.Query], ...] = ()

    def restricted(self, name: str, restriction: query.Query) -> Filters:
        """These filters, and ``restriction`` applied as a filter is (``name``: how
        explanations name it)."""
        return Filters(self.values, (*self.restrictions, (name, restriction)))

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> Filters:
        """Parse the filter keyword arguments of a search (``FilterArguments``); raises
        ``TypeError`` for a keyword that is not a filter's, ``QueryError`` for a bad value."""
        unknown = sorted(set(arguments) - set(FILTER_PARAMS))
        if unknown:
            raise TypeError(f"search() got an unexpected keyword argument {unknown[0]!r}")
        values = []
        for spec in FILTERS:
            value = spec.parse(arguments)
            if value is not None:
                values.append((spec.name, value))
        return cls(tuple(values))

    def describe(self) -> dict[str, str]:
        """Each active filter as a user gave it (``FilterSpec.describe``), keyed by name."""
        described = {name: _FILTERS_BY_NAME[name].describe(value) for name, value in self.values}
        return described | {name: name for name, _ in self.restrictions}

    def parts(self) -> dict[str, query.Query]:
        """One query per active filter, keyed by the filter's name (a facet's ``own_filter``),
        then the restrictions."""
        parts = {}
        for name, value in self.values:
            part = _FILTERS_BY_NAME[name].query(value)
            if part is not None:
                parts[name] = part
        return parts | dict(self.restrictions)

    def to_query(self) -> query.Query | None:
        """All active filters as one query (None when there is none)."""
        parts = list(self.parts().values())
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)


_FILTERS_BY_NAME = {spec.name: spec for spec in FILTERS}

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_span(text: str) -> timedelta | None:
    """A span (``90m``, ``12h``, ``3d``, ``2w``) as a ``timedelta``; None for text that is not
    one. Raises ``QueryError`` for a span too long to represent."""
    span = _SPAN.match(text)
    if not span:
        return None
    try:
        return timedelta(**{_SPAN_UNITS[span.group(2).lower()]: int(span.group(1))})
    except (ValueError, OverflowError):
        raise QueryError(f"invalid span {shown(text)}: out of range") from None


def counts_from_now(value: TimeBound | None) -> bool:
    """Whether a time bound is a span back from now (``7d``): what it means changes by the clock."""
    return isinstance(value, str) and _SPAN.match(value) is not None


def parse_time_bound(value: TimeBound, *, end: bool = False, now: datetime | None = None) -> datetime:
    """Turn a ``--since``/``--until`` value into an aware UTC datetime.

    Accepts a datetime or date, ``YYYY-MM-DD`` (the whole day: its start for ``since``, its
    end for ``until``), a full ISO 8601 time, or a span back from now: ``30m``, ``24h``,
    ``7d``, ``2w``. The time, in UTC, must fall in the years 1 to 9999 (Python's dates).
    Raises ``QueryError`` for anything else.
    """
    try:
        return _time_bound(value, end=end, now=now)
    except OverflowError:  # a span back past the year 1, an offset that leaves 1-9999 in UTC
        raise QueryError(
            f"invalid date {shown(value)}: out of range, use a time from 0001-01-01 to 9999-12-31 UTC"
        ) from None


def _time_bound(value: TimeBound, *, end: bool, now: datetime | None) -> datetime:
    if isinstance(value, datetime):
        return parse_datetime(value)
    if isinstance(value, date):
        day = datetime.combine(value, time(), tzinfo=timezone.utc)
        # One step: the end of 9999-12-31 is a datetime, the start of the day after is not.
        return day + (timedelta(days=1) - timedelta(microseconds=1)) if end else day
    text = str(value).strip()
    span = _SPAN.match(text)
    if span:
        now = now or datetime.now(timezone.utc)
        try:
            amount = int(span.group(1))
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise OverflowError(text) from None
        return now - timedelta(**{_SPAN_UNITS[span.group(2).lower()]: amount})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return _time_bound(date.fromisoformat(text), end=end, now=now)
        except ValueError:
            pass
    else:
        try:
            return parse_datetime(text)
        except ValueError:
            pass
    raise QueryError(
        f"invalid date {shown(text)}: use YYYY-MM-DD, an ISO 8601 time, or a span like 7d or 24h"
    )


def normalize_sequence(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Accept one string or a sequence of strings for a multi-valued filter."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _strings(param: Param, values: Any) -> tuple[str, ...]:
    """The values of a multi-valued filter (``normalize_sequence``), checked to be strings."""
    try:
        found: tuple[str, ...] | None = normalize_sequence(values)
    except TypeError:  # not a sequence at all
        found = None
    if found is None or not all(isinstance(value, str) for value in found):
        raise QueryError(f"invalid {param.name} {shown(values)}: use a string or a list of strings")
    return found


def _whole_number(param: Param, value: Any) -> int:
    """The value of a number filter, checked to be an int in ``NUMBER_RANGE``."""
    number = _as_int(value)
    low, high = NUMBER_RANGE
    if number is None or not low <= number <= high:
        raise QueryError(f"invalid {param.name} {shown(value)}: use a whole number from {low} to {high}")
    return number


def _as_int(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (not a bool, not a float), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def shown(value: Any) -> str:
    """A value quoted in an error message: its repr, shortened to one readable line."""
    try:
        shown = repr(value)
    except Exception:  # an object whose repr fails: say what it is instead
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def parse_story_window(value: str | timedelta | None) -> float | None:
    """A story window in seconds (``"3d"`` or a ``timedelta``; None: the default); raises
    ``QueryError``."""
    if value is None:
        return None
    span = parse_span(value) if isinstance(value, str) else value
    if span is None or span.total_seconds() <= 0:
        raise QueryError(f"invalid story window {value!r}: use a span such as 36h or 3d")
    return span.total_seconds()


def format_span(seconds: float) -> str:
    """``3d``, ``36h``, ``90m`` or ``45s``: the shortest exact form."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
