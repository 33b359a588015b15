"""News-aware ranking: a relevance score multiplied by the item's recency and source quality.

Elasticsearch does this with ``function_score`` (a ``gauss``/``exp`` decay on the date) and
``rank_feature`` (saturation), Solr with ``recip(ms(NOW,date),...)``, Vespa with
``freshness``; here it is two options of a search:

- **recency** (``recency="3d"``): the score is multiplied by ``0.5 ** (age / half_life)``,
  ``age = max(0, as_of - published_at)``: an item one half-life old counts half as much as one
  published at ``as_of`` (default now). An undated item gets the factor of an item
  ``UNDATED_AGE`` half-lives old (``0.5 ** 10``, about 0.001).
- **quality / heat** (``boost=("quality",)``): the score is multiplied by
  ``1 + v / (v + pivot)``, between 1 and 2, for the item's value ``v`` (``rank_feature``'s
  saturation): ``pivot`` is the median of the field's positive values over the index (shown
  by ``info``), so a median item gets 1.5. A value of 0 or less (missing, heat -1) gives 1.

Filters never change scores, and a field sort (newest, quality...) ignores boosts. The product
is taken in one order (relevance, recency, quality, heat), here and in explanations, so that
an explanation's root equals the hit's score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .cache import IndexCaches
from .errors import QueryError
from .options import parse_span, parse_time_bound, shown
from .ordering import segment_values, undated_values
from .schema import F

#: An undated item is boosted as an item this many half-lives old.
UNDATED_AGE = 10

#: Fields ``boost`` accepts.
BOOST_FIELDS = (F.QUALITY, F.HEAT)

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Boosts:
    """The boosts of one search: a recency half-life (None: no recency factor), the time
    ages are measured from, and the fields whose values multiply the score."""

    half_life: timedelta | None = None
    as_of: datetime | None = None
    fields: tuple[str, ...] = ()

    @classmethod
    def from_arguments(
        cls,
        recency: str | timedelta | None,
        as_of: str | datetime | None,
        boost: str | Sequence[str] | None,
    ) -> Boosts:
        """Check and parse a search's ``recency``, ``as_of`` and ``boost`` arguments; raises
        ``QueryError`` for a half-life that is zero, negative or not a span, an unknown
        field, or a time that is not one."""
        half_life = None if recency is None else parse_half_life(recency)
        when = datetime.now(timezone.utc) if as_of is None else parse_time_bound(as_of, end=False)
        names = (boost,) if isinstance(boost, str) else tuple(boost or ())
        fields: list[str] = []
        for name in names:
            if name not in BOOST_FIELDS:
                raise QueryError(f"invalid boost {shown(name)}: choose {' or '.join(BOOST_FIELDS)}")
            if name not in fields:
                fields.append(name)
        return cls(half_life, when, tuple(f for f in BOOST_FIELDS if f in fields))

    @property
    def active(self) -> bool:
        return self.half_life is not None or bool(self.fields)


def parse_half_life(value: str | timedelta) -> timedelta:
    """A recency half-life: a ``timedelta`` or a span (``90m``, ``12h``, ``3d``, ``2w``),
    more than zero."""
    span = value if isinstance(value, timedelta) else parse_span(str(value))
    if span is None:
        raise QueryError(f"invalid half-life {shown(value)}: use a span like 90m, 12h, 3d or 2w")
    if span <= timedelta(0):
        raise QueryError(f"invalid half-life {shown(value)}: it must be more than zero")
    return span


@dataclass(frozen=True)
class Values:
    """Per document of a reader (reader-wide numbers): publication time in seconds since
    ``datetime.min`` (None: undated), quality and heat; and each boost field's pivot."""

    published: list[float | None]
    numbers: Mapping[str, list[int]]
    pivots: Mapping[str, float | None]


def read_values(reader: Any) -> Values:
    """Read the columns boosts use, for every document of ``reader``."""
    missing = undated_values(reader.schema)
    published: list[float | None] = []
    numbers: dict[str, list[int]] = {name: [] for name in BOOST_FIELDS}
    live: dict[str, list[int]] = {name: [] for name in BOOST_FIELDS}
    for segment, _offset in reader.leaf_readers():
        raw = segment_values(segment, F.PUBLISHED_AT)
        published += [None if value in missing else value / 1e6 for value in raw]
        alive = list(segment.all_doc_ids())
        for name in BOOST_FIELDS:
            # Raw column values are shifted to sort as unsigned numbers; 0 is "none".
            shift = reader.schema[name].to_column_value(0)
            values = [raw - shift if raw else 0 for raw in segment_values(segment, name)]
            numbers[name] += values
            live[name] += [values[doc] for doc in alive if values[doc] > 0]
    pivots = {name: (float(statistics.median(live[name])) if live[name] else None) for name in BOOST_FIELDS}
    return Values(published, numbers, pivots)


class ValuesCache:
    """``read_values`` once per state of the index."""

    def __init__(self, caches: IndexCaches) -> None:
        self._caches = caches
        self._values = caches.cache(2)

    def get(self, reader: Any) -> Values:
        values: Values = self._values.get_or_put((self._caches.generation,), lambda: read_values(reader))
        return values


@dataclass(frozen=True)
class Factor:
    """One factor applied to an item's score, with what it was computed from (explanations)."""

    name: str
    value: float
    description: str


class Factors:
    """The boosts of one search over one reader's values."""

    def __init__(self, boosts: Boosts, values: Values) -> None:
        self.boosts = boosts
        self.values = values
        assert boosts.as_of is not None
        self._now = (boosts.as_of - _EPOCH).total_seconds()
        self._half_life = boosts.half_life.total_seconds() if boosts.half_life is not None else None

    def apply(self, scores: dict[int, float]) -> dict[int, float]:
        """The boosted score of every document of ``scores`` (a search may boost every item
        of the index: the factors are computed a factor at a time over all of them)."""
        result = dict(scores)
        for factor in self._factors(list(result)):
            for doc, value in factor.items():
                result[doc] *= value
        return result

    def boosted(self, doc: int, score: float) -> float:
        for factor in self._values(doc):
            score *= factor
        return score

    def _values(self, doc: int) -> list[float]:
        """Each factor of ``doc``, in the order they are applied."""
        return [factor.get(doc, 1.0) for factor in self._factors([doc])]

    def _factors(self, docs: list[int]) -> list[dict[int, float]]:
        """Each factor (recency, then each field's) of each of ``docs`` that it changes, in the
        order they are applied: the one place their formulas are."""
        found = []
        if self._half_life is not None:
            half_life, now, published = self._half_life, self._now, self.values.published
            undated = 0.5**UNDATED_AGE
            recency = {}
            for doc in docs:
                moment = published[doc]
                if moment is None:
                    recency[doc] = undated
                else:
                    age = now - moment
                    recency[doc] = 0.5 ** ((age if age > 0.0 else 0.0) / half_life)
            found.append(recency)
        for name in self.boosts.fields:
            pivot, numbers = self.values.pivots[name], self.values.numbers[name]
            saturation = {}
            if pivot is not None:  # no item has a value: factor 1 for all
                for doc in docs:
                    value = numbers[doc]
                    if value > 0:
                        saturation[doc] = 1.0 + value / (value + pivot)
            found.append(saturation)
        return found

    def _age(self, doc: int) -> float:
        assert self._half_life is not None
        published = self.values.published[doc]
        if published is None:
            return UNDATED_AGE * self._half_life
        return max(0.0, self._now - published)

    def explain(self, doc: int) -> list[Factor]:
        """Each factor of ``doc``'s score, in the order they are applied, described."""
        found = []
        values = self._values(doc)
        if self._half_life is not None:
            value = values.pop(0)
            half_life = _span_text(self._half_life)
            if self.values.published[doc] is None:
                text = f"recency: undated, counted as {UNDATED_AGE} half-lives old ({half_life} each)"
            else:
                age = _span_text(self._age(doc))
                text = f"recency: 0.5 ^ (age / half-life), age {age}, half-life {half_life}"
            found.append(Factor("recency", value, text))
        for name, value in zip(self.boosts.fields, values, strict=True):
            raw, pivot = self.values.numbers[name][doc], self.values.pivots[name]
            if raw <= 0 or pivot is None:
                text = f"{name}: no positive value ({raw}), factor 1"
            else:
                text = f"{name}: 1 + v / (v + pivot), v = {raw}, pivot {pivot:g} (the index's median {name})"
            found.append(Factor(name, value, text))
        return found


def _span_text(seconds: float) -> str:
    """A span as a person reads it: ``3.5 days``, ``5 hours``, ``12 minutes``."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            amount = seconds / size
            return f"{amount:.3g} {unit}" if not math.isclose(amount, 1) else f"1 {unit[:-1]}"
    return f"{seconds:.3g} seconds"
