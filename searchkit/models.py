"""The typed, immutable values searchkit hands to its callers.

Every value is a frozen dataclass holding plain Python data (no Whoosh object ever leaves the
package), so results can be kept, compared and sent to other threads freely. ``to_dict()``
gives the JSON shape the CLI prints; ``from_json`` reads it back. That one mapping is how an
item is stored in the index (``NewsItem.to_dict()`` as JSON) and how hits and related items
are built from what is stored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timezone
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints


def parse_datetime(value: Any) -> datetime:
    """Coerce a YAML timestamp, date or ISO 8601 string to an aware UTC datetime.

    Accepts offsets (``+02:00``), ``Z``, a space instead of ``T``, and times without seconds;
    naive values are taken as UTC. Raises ``ValueError`` otherwise.
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str) and len(value) == 20 and value[10] == "T" and value[19] == "Z":
        # The form searchkit writes (format_datetime), read back for every hit: no rewriting.
        result = datetime.fromisoformat(value[:19]).replace(tzinfo=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # 3.10's fromisoformat wants HH:MM:SS; pad "HH:MM" before an offset or the end.
        text = re.sub(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})(?=$|[+-]\d{2}:?\d{2}$)", r"\1:00", text)
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text) if re.search(r"[T ]\d", text) else text
        result = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a date: {value!r}")
    if result.tzinfo is None:
        return result.replace(tzinfo=timezone.utc)
    return result.astimezone(timezone.utc)


def format_datetime(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (``2021-08-09T08:58:00Z``), or None."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


class JsonModel:
    """A model whose JSON shape is its fields, in order, under their own names (``to_dict``);
    the one mapping between a model and its JSON, both ways (``from_json``)."""

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: datetimes as ISO 8601 UTC with ``Z``, nested models as
        dicts, tuples as lists; a field may round its value (``metadata["json"]``)."""
        return _to_json(self)  # type: ignore[no-any-return]


def _to_json(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):  # most values: at once
        return value
    if isinstance(value, JsonModel):
        result = {}
        for name, convert in _encoders(cast(Hashable, type(value))):
            item = getattr(value, name)
            result[name] = _to_json(convert(item) if convert and item is not None else item)
        return result
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (tuple, list)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


#: Rounds a score in JSON (to 6 decimals).
_ROUNDED: dict[str, Any] = {"json": lambda value: round(value, 6)}

Model = TypeVar("Model", bound=JsonModel)


def from_json(cls: type[Model], data: dict[str, Any], **given: Any) -> Model:
    """Rebuild a model from its JSON (``to_dict`` output); ``given`` sets fields directly.

    Keys the model has no field for are ignored (a ``Hit`` is built from a stored item's
    JSON); a field missing from ``data`` takes its default.
    """
    kwargs = dict(given)
    for name, convert in _decoders(cast(Hashable, cls)):
        if name not in kwargs and name in data:
            value = data[name]
            kwargs[name] = convert(value) if convert is not None else value
    return cls(**kwargs)


def item_from_dict(data: dict[str, Any]) -> NewsItem:
    """Rebuild a ``NewsItem`` from ``NewsItem.to_dict()`` output (as stored in the index)."""
    return from_json(NewsItem, data)


@functools.cache
def _encoders(cls: Any) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    return tuple((spec.name, spec.metadata.get("json")) for spec in fields(cls))


@functools.cache
def _decoders(cls: Any) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """(field name, how to turn its JSON value back into the field's type) of a model."""
    hints = get_type_hints(cls)
    return tuple((spec.name, _decoder(hints[spec.name])) for spec in fields(cls))


def _decoder(hint: Any) -> Callable[[Any], Any] | None:
    args = [arg for arg in get_args(hint) if arg is not type(None)]
    if hint is datetime or (args == [datetime]):
        return lambda value: parse_datetime(value) if value else None
    if isinstance(hint, type) and issubclass(hint, JsonModel):
        return lambda value: from_json(hint, value or {})
    if get_origin(hint) is tuple:
        inner = args[0] if args else Any
        if isinstance(inner, type) and issubclass(inner, JsonModel):
            return lambda value: tuple(from_json(inner, item) for item in value or ())
        return lambda value: tuple(value or ())
    return None


@dataclass(frozen=True)
class Provider(JsonModel):
    """Who published an item: a display name and a web domain (either may be empty)."""

    name: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Image(JsonModel):
    """An image attached to an item."""

    url: str
    width: int | None = None
    height: int | None = None
    is_cached: bool | None = None


@dataclass(frozen=True)
class RelatedLink(JsonModel):
    """One entry of an item's ``related`` list: a small news item of its own, as the feed gave it.

    It may point at an item of the corpus (same ``url``) or outside it.
    """

    title: str
    url: str = ""
    excerpt: str = ""
    published_at: datetime | None = None
    type: str = ""
    provider: Provider = field(default_factory=Provider)
    quality: int | None = None
    amp_url: str = ""
    cdn_amp_url: str = ""
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class NewsItem(JsonModel):
    """One news item, parsed from a corpus file or handed in by a program.

    ``id`` is the file's path relative to the corpus root with POSIX separators; ``url`` is the
    feed's ``webUrl``, which identifies the article. ``heat`` is -1 when the feed has no heat;
    ``quality`` is None when the feed gave none. The feed's ``secured`` blob is never kept.
    """

    id: str
    title: str
    url: str = ""
    original_url: str = ""
    amp_url: str = ""
    cdn_amp_url: str = ""
    excerpt: str = ""
    body: str = ""
    category: str = ""
    type: str = ""
    topics: tuple[str, ...] = ()
    provider: Provider = field(default_factory=Provider)
    published_at: datetime | None = None
    quality: int | None = None
    heat: int = -1
    published: bool = True
    images: tuple[Image, ...] = ()
    related: tuple[RelatedLink, ...] = ()


@dataclass(frozen=True)
class Highlights(JsonModel):
    """Matched words wrapped in ``<mark>``…``</mark>``; text is not HTML-escaped."""

    title: str
    excerpt: str


@dataclass(frozen=True)
class Explanation(JsonModel):
    """Why a score is what it is: a value, what it is, and the values it is computed from
    (searchkit/explain.py). The root of a hit's explanation equals its score."""

    value: float
    description: str
    details: tuple[Explanation, ...] = ()


@dataclass(frozen=True)
class Hit(JsonModel):
    """One search result: the item's display fields, its score and its highlights.

    ``score`` is the relevance score (the same for every hit of a match-all query).
    """

    id: str
    url: str
    title: str
    excerpt: str
    provider: Provider
    topics: tuple[str, ...]
    category: str
    type: str
    published_at: datetime | None
    quality: int | None
    heat: int
    score: float = field(metadata=_ROUNDED)
    highlights: Highlights
    #: Why the score is what it is (``explain=True``); left out of the JSON when not asked for.
    explanation: Explanation | None = None
    #: The story the item is part of (searchkit/stories.py).
    story: StoryRef | None = None
    #: The earliest item of the item's duplicate group, when it is a copy of it.
    duplicate_of: str | None = None
    #: With ``collapse``: how many items are duplicates of this one (left out otherwise).
    duplicates: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        for optional in ("explanation", "duplicates"):
            if data[optional] is None:
                del data[optional]
        return data


@dataclass(frozen=True)
class StoryRef(JsonModel):
    """A story as a hit shows it: its id, how many items it has, their providers (most items
    first) and the times of its first and last item."""

    id: str
    size: int
    providers: tuple[str, ...]
    first_published: datetime | None
    last_published: datetime | None


@dataclass(frozen=True)
class Explained(JsonModel):
    """``explain``: whether one item matches a search, its score and why; or why not
    (``reason``: the filters that exclude it, the query's words it lacks). ``explanation`` is
    given whenever the query matches the item, also when a filter excludes it."""

    query: str
    id: str
    matches: bool
    score: float | None
    explanation: Explanation | None
    reason: str | None


@dataclass(frozen=True)
class FacetCount(JsonModel):
    """One value of a facet and how many matching items have it."""

    value: str
    count: int


@dataclass(frozen=True)
class Facet:
    """The counts of one facet: the top values, and what the list leaves out.

    ``values`` is ordered by count, then value. ``other`` counts the values cut by the limit
    (values, not items); ``missing`` counts matching items that have no value for the facet
    (for ``heat``, a heat of -1 is the value "none" instead).
    """

    name: str
    values: tuple[FacetCount, ...]
    other: int
    missing: int


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; ``total`` counts every matching item, not only this page.

    ``facets`` maps each requested facet name to its counts over all matching items.
    ``suggestion`` is a corrected query when the query found few or no hits and the
    correction finds more (None otherwise).
    """

    query: str
    total: int
    page: int
    page_size: int
    hits: tuple[Hit, ...]
    facets: dict[str, Facet] = field(default_factory=dict)
    suggestion: str | None = None
    #: Pass it as ``after`` for the next page (None on the last page): searchkit/cursors.py.
    next_cursor: str | None = None
    #: With ``collapse``: how many stories match (hits are one per story); None otherwise.
    stories: int | None = None

    def to_dict(self) -> dict[str, Any]:
        collapsed = {} if self.stories is None else {"stories": self.stories}
        return {
            "query": self.query,
            "total": self.total,
            **collapsed,
            "page": self.page,
            "page_size": self.page_size,
            "hits": [hit.to_dict() for hit in self.hits],
            "suggestion": self.suggestion,
            "next_cursor": self.next_cursor,
            "facets": {
                name: [value.to_dict() for value in facet.values] for name, facet in self.facets.items()
            },
            "facets_other": {name: facet.other for name, facet in self.facets.items()},
            "facets_missing": {name: facet.missing for name, facet in self.facets.items()},
        }


@dataclass(frozen=True)
class RelatedHit(JsonModel):
    """An item related to another, and why: ``reason`` is ``listed`` (in the item's own
    ``related`` entries), ``backlink`` (an indexed item lists it), ``same_story`` (other
    coverage of the item's story) or ``similar`` (close in content, topics and time).
    ``in_index`` is False for a listed entry that points outside the index; its ``id`` is then
    None. ``score`` is set for ``similar`` hits only."""

    id: str | None
    url: str
    title: str
    provider: Provider
    published_at: datetime | None
    score: float | None = field(metadata=_ROUNDED)
    reason: str
    in_index: bool
    #: The earliest item of its duplicate group, when the item is a copy of it.
    duplicate_of: str | None = None


@dataclass(frozen=True)
class RelatedResults(JsonModel):
    """An item and the items related to it, listed first, then backlinks, then similar."""

    item: Hit
    related: tuple[RelatedHit, ...]


@dataclass(frozen=True)
class TrendingValue(JsonModel):
    """A value more frequent in the window than before it (searchkit/trending.py): ``count``
    items of the window and ``background_count`` of the background have it; ``score`` ranks
    it (``jlh``, ``chi2`` or ``percentage``) and ``ratio`` says how many times more often than
    usual it occurs: (count / window items) / ((background_count + 1) / (background items + 1))."""

    value: str
    count: int
    background_count: int
    score: float = field(metadata=_ROUNDED)
    ratio: float = field(metadata=_ROUNDED)


@dataclass(frozen=True)
class TrendingResults:
    """``trending``: the window (``since`` inclusive to ``until`` exclusive), how many items
    the window (``foreground``) and the background before it hold, and the values trending in
    the window, best first (none when either set is empty)."""

    since: datetime
    until: datetime
    foreground: int
    background: int
    trending: tuple[TrendingValue, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": {"since": format_datetime(self.since), "until": format_datetime(self.until)},
            "foreground": self.foreground,
            "background": self.background,
            "trending": [value.to_dict() for value in self.trending],
        }


@dataclass(frozen=True)
class Completions(JsonModel):
    """Autocompletions of a prefix, most frequent first."""

    prefix: str
    completions: tuple[str, ...]


@dataclass(frozen=True)
class FileError(JsonModel):
    """A corpus file that could not be indexed: its path and a one-line reason."""

    path: str
    message: str


@dataclass(frozen=True)
class Duplicate(JsonModel):
    """Items (ids) in the index that declare the same url; all of them are kept."""

    url: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class IndexReport(JsonModel):
    """What one indexing run did.

    ``added``/``updated``/``deleted``/``unchanged`` count items; ``skipped`` counts files that
    could not be read (each in ``errors``); ``documents`` is the number of items in the index
    after the run; ``duplicates`` lists urls that several items declare.
    """

    corpus: str
    index_dir: str
    added: int
    updated: int
    deleted: int
    unchanged: int
    skipped: int
    errors: tuple[FileError, ...]
    documents: int
    seconds: float = field(metadata={"json": lambda v: round(v, 3)})
    duplicates: tuple[Duplicate, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every file of the corpus was indexed."""
        return not self.errors


@dataclass(frozen=True)
class IndexInfo(JsonModel):
    """A summary of an index: size, date range, when it was last updated and from where."""

    index_dir: str
    documents: int
    size_bytes: int
    oldest: datetime | None
    newest: datetime | None
    last_update: datetime | None
    corpus: str | None
    #: The pivots of ``boost`` (searchkit/boosts.py): each field's median positive value.
    pivots: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class DamagedFile(JsonModel):
    """A file of the index that failed verification, and how (``missing``, ``checksum
    mismatch``, a size other than the one recorded...)."""

    path: str
    problem: str


@dataclass(frozen=True)
class CheckReport(JsonModel):
    """What ``searchkit check`` found: the live generation and commit, how many files and
    bytes were verified, and the damaged files (none when the index is sound)."""

    index_dir: str
    generation: str
    commit: int
    files: int
    bytes: int
    damaged: tuple[DamagedFile, ...]
    seconds: float = field(default=0.0, metadata=_ROUNDED)

    @property
    def ok(self) -> bool:
        return not self.damaged
