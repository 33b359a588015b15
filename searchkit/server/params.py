"""The HTTP face's query parameters: the CLI's options under the same names, built from the
tables of searchkit/options.py (filters, facets, sorts, page limits) and boosts.BOOST_FIELDS.

A filter parameter of ``options.FILTERS`` is named after its CLI option (``--min-quality`` is
``min_quality``) and passed to ``SearchIndex`` under its keyword (``topic`` -> ``topics``), so
adding a filter there adds it here. Parsing is strict and every problem is a
``ParameterError`` (a 400 answer): an unknown parameter, one given more often than it may be,
a value that is too long, not a whole number, out of range or not one of the choices. An
empty value is the same as leaving the parameter out (what an HTML form sends for an empty
field).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..boosts import BOOST_FIELDS
from ..options import FACET_NAMES, FILTERS, MAX_LIMIT, MAX_PAGE, NUMBER_RANGE, SORTS, Kind
from ..trending import SCORES as TRENDING_SCORES
from ..trending import SOURCES as TRENDING_SOURCES

#: Most parameters (name=value pairs) in one request.
MAX_PARAMETERS = 64
#: Most values of one repeatable parameter (``topic``, ``provider``...).
MAX_REPEAT = 32
#: Longest value of a parameter, in characters. A query has its own, lower limit
#: (``limits.MAX_QUERY_LENGTH``); a cursor of a deep page is a few hundred characters.
MAX_VALUE_LENGTH = 4096
#: Most values per facet (``facet_limit``): the CLI leaves it open, a web answer should not be.
MAX_FACET_LIMIT = 100

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ParameterError(ValueError):
    """A query parameter that is unknown, repeated, malformed or out of range (HTTP 400)."""


@dataclass(frozen=True)
class Parameter:
    """One query parameter: its name, the keyword ``SearchIndex`` takes it as, its type
    (``str``, ``int`` or ``bool``), whether it repeats, its choices or range, its default."""

    name: str
    keyword: str
    help: str
    type: type = str
    repeat: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    default: Any = None
    required: bool = False

    def parse(self, values: list[str]) -> Any:
        """The value(s) given, converted and checked."""
        if self.repeat:
            if len(values) > self.most:
                raise ParameterError(f"too many values of {self.name}: at most {self.most}")
            return tuple(dict.fromkeys(self._one(v) for v in values))  # repeats dropped, in order
        if len(values) > 1:
            raise ParameterError(f"{self.name} is given {len(values)} times: give it once")
        return self._one(values[0])

    @property
    def most(self) -> int:
        """Most values of a repeatable parameter."""
        return len(self.choices) if self.choices else MAX_REPEAT

    def _one(self, value: str) -> Any:
        if self.type is int:
            low, high = self.low, self.high
            try:
                number = int(value.strip())
            except ValueError:
                number = None
            if number is None or (low is not None and number < low) or (high is not None and number > high):
                raise ParameterError(
                    f"invalid {self.name} {_shown(value)}: use a whole number{_range(low, high)}"
                )
            return number
        if self.type is bool:
            lowered = value.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ParameterError(f"invalid {self.name} {_shown(value)}: use true or false")
        if self.choices and value not in self.choices:
            raise ParameterError(
                f"invalid {self.name} {_shown(value)}: choose from {', '.join(self.choices)}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema (OpenAPI)."""
        one: dict[str, Any] = {"type": {str: "string", int: "integer", bool: "boolean"}[self.type]}
        if self.choices:
            one["enum"] = list(self.choices)
        if self.low is not None:
            one["minimum"] = self.low
        if self.high is not None:
            one["maximum"] = self.high
        if self.type is str and not self.choices:
            one["maxLength"] = MAX_VALUE_LENGTH
        if self.repeat:
            return {"type": "array", "items": one, "maxItems": self.most}
        if self.default is not None:
            one["default"] = self.default
        return one


def parse(parameters: Iterable[Parameter], pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The arguments of a call from a request's query parameters (name, value pairs), keyed
    by ``Parameter.keyword``; parameters left out (or empty) take their defaults, if any."""
    table = {p.name: p for p in parameters}
    given: dict[str, list[str]] = {}
    for count, (name, value) in enumerate(pairs, start=1):
        if count > MAX_PARAMETERS:
            raise ParameterError(f"too many parameters: at most {MAX_PARAMETERS}")
        if name not in table:
            known = ", ".join(table) or "none"
            raise ParameterError(f"unknown parameter {_shown(name)}: this endpoint takes {known}")
        if len(value) > MAX_VALUE_LENGTH:
            raise ParameterError(f"{name} is too long: at most {MAX_VALUE_LENGTH} characters")
        if value.strip():
            given.setdefault(name, []).append(value)
    for p in table.values():
        if p.required and p.name not in given:
            raise ParameterError(f"{p.name} is required")
    arguments = {p.keyword: p.default for p in table.values() if p.default is not None}
    for name, values in given.items():
        arguments[table[name].keyword] = table[name].parse(values)
    return arguments


def filter_parameters() -> tuple[Parameter, ...]:
    """A parameter per filter parameter of ``options.FILTERS``, named after its CLI option."""
    found = []
    for spec in FILTERS:
        for param in spec.params:
            name = param.option.removeprefix("--").replace("-", "_")
            if spec.kind is Kind.ANY_OF:
                found.append(Parameter(name, param.name, param.help, repeat=True))
            elif spec.kind is Kind.AT_LEAST:
                low, high = NUMBER_RANGE
                found.append(Parameter(name, param.name, param.help, int, low=low, high=high))
            else:
                found.append(Parameter(name, param.name, param.help))
    return tuple(found)


QUERY = Parameter("q", "query", "Query in Whoosh syntax; empty or * matches every item.", default="")
RANKING = (
    Parameter(
        "recency",
        "recency",
        "Favour recent items: scores halve every HALF_LIFE of age (90m, 12h, 3d, 2w).",
    ),
    Parameter("as_of", "as_of", "Ages for recency count back from this time [default: now]."),
    Parameter(
        "boost",
        "boost",
        "Favour items with a high quality or heat (repeatable): score x (1 + v / (v + median)).",
        repeat=True,
        choices=BOOST_FIELDS,
    ),
)

#: ``GET /api/search`` and the page: every option of ``searchkit search``.
SEARCH = (
    QUERY,
    *filter_parameters(),
    Parameter("sort", "sort", "Order [default: relevance with a query, newest without].", choices=SORTS),
    Parameter("limit", "limit", "Hits per page.", int, low=1, high=MAX_LIMIT, default=10),
    Parameter("page", "page", "Page number, from 1.", int, low=1, high=MAX_PAGE, default=1),
    Parameter("after", "after", "The page after this cursor (a result's next_cursor)."),
    Parameter(
        "facet",
        "facets",
        "Count matching items per value of this facet (repeatable).",
        repeat=True,
        choices=FACET_NAMES,
    ),
    Parameter("facet_limit", "facet_limit", "Values shown per facet.", int, low=1, high=MAX_FACET_LIMIT),
    *RANKING,
    Parameter("explain", "explain", "Add to each hit how its score is computed.", bool),
    Parameter("collapse", "collapse", "One hit per story (its best-ranked item).", bool),
)

#: ``GET /api/stories``: the options of ``searchkit stories``.
STORIES = (
    QUERY,
    *filter_parameters(),
    Parameter("min_size", "min_size", "Leave out stories with fewer items.", int, low=1, high=MAX_LIMIT),
    Parameter("limit", "limit", "Stories to show.", int, low=1, high=MAX_LIMIT, default=10),
)

#: ``GET /api/trending``: the options of ``searchkit trending``.
TRENDING = (
    QUERY,
    *filter_parameters(),
    Parameter("window", "window", "The span that ends at as_of [default: 24h]."),
    Parameter("as_of", "as_of", "The end of the window [default: now]."),
    Parameter("baseline", "baseline", "The span before the window it is compared with [default: 30d]."),
    Parameter("by", "by", "What to count.", choices=tuple(TRENDING_SOURCES)),
    Parameter("score", "score", "How values are scored [default: jlh].", choices=tuple(TRENDING_SCORES)),
    Parameter("limit", "limit", "Values to show.", int, low=1, high=MAX_LIMIT, default=10),
)

#: ``GET /api/explain/{id}``: the options of ``searchkit explain``.
EXPLAIN = (QUERY, *filter_parameters(), *RANKING)

#: ``GET /api/related/{id}`` and ``/api/suggest``: a list's length.
LIMIT = Parameter("limit", "limit", "Most answers.", int, low=1, high=MAX_LIMIT, default=10)

#: ``GET /api/suggest``.
SUGGEST = (
    Parameter("prefix", "prefix", "The start of a query; its last word is completed.", required=True),
    LIMIT,
)


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    return f" of at least {low}" if low is not None else ""


def _shown(value: str) -> str:
    """A value quoted in a message, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
