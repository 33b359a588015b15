"""The typed, immutable values searchkit hands to its callers.

Every value is a frozen dataclass holding plain Python data (no Whoosh object ever leaves the
package), so results can be kept, compared and sent to other threads freely. ``to_dict()``
gives the JSON shape the CLI prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any


def parse_datetime(value: Any) -> datetime:
    """Coerce a YAML timestamp, date or ISO 8601 string to an aware UTC datetime.

    Accepts offsets (``+02:00``), ``Z``, a space instead of ``T``, and times without seconds;
    naive values are taken as UTC. Raises ``ValueError`` otherwise.
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
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


@dataclass(frozen=True)
class Provider:
    """Who published an item: a display name and a web domain (either may be empty)."""

    name: str = ""
    domain: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "domain": self.domain}


@dataclass(frozen=True)
class Image:
    """An image attached to an item."""

    url: str
    width: int | None = None
    height: int | None = None
    is_cached: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "width": self.width, "height": self.height,
                "is_cached": self.is_cached}


@dataclass(frozen=True)
class RelatedLink:
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "url": self.url,
            "excerpt": self.excerpt,
            "published_at": format_datetime(self.published_at),
            "type": self.type,
            "provider": self.provider.to_dict(),
            "quality": self.quality,
            "amp_url": self.amp_url,
            "cdn_amp_url": self.cdn_amp_url,
            "images": [image.to_dict() for image in self.images],
        }


@dataclass(frozen=True)
class NewsItem:
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

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (datetimes as ISO 8601 UTC with ``Z``)."""
        return {
            "id": self.id,
            "url": self.url,
            "original_url": self.original_url,
            "amp_url": self.amp_url,
            "cdn_amp_url": self.cdn_amp_url,
            "title": self.title,
            "excerpt": self.excerpt,
            "body": self.body,
            "category": self.category,
            "type": self.type,
            "topics": list(self.topics),
            "provider": self.provider.to_dict(),
            "published_at": format_datetime(self.published_at),
            "quality": self.quality,
            "heat": self.heat,
            "published": self.published,
            "images": [image.to_dict() for image in self.images],
            "related": [link.to_dict() for link in self.related],
        }


@dataclass(frozen=True)
class Highlights:
    """Matched words wrapped in ``<mark>``…``</mark>``; text is not HTML-escaped."""

    title: str
    excerpt: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "excerpt": self.excerpt}


@dataclass(frozen=True)
class Hit:
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
    score: float
    highlights: Highlights

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "excerpt": self.excerpt,
            "provider": self.provider.to_dict(),
            "topics": list(self.topics),
            "category": self.category,
            "type": self.type,
            "published_at": format_datetime(self.published_at),
            "quality": self.quality,
            "heat": self.heat,
            "score": round(self.score, 6),
            "highlights": self.highlights.to_dict(),
        }


@dataclass(frozen=True)
class FacetCount:
    """One value of a facet and how many matching items have it."""

    value: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count}


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "hits": [hit.to_dict() for hit in self.hits],
            "suggestion": self.suggestion,
            "facets": {name: [value.to_dict() for value in facet.values]
                       for name, facet in self.facets.items()},
            "facets_other": {name: facet.other for name, facet in self.facets.items()},
            "facets_missing": {name: facet.missing for name, facet in self.facets.items()},
        }


@dataclass(frozen=True)
class RelatedHit:
    """An item related to another, and why: ``reason`` is ``listed`` (in the item's own
    ``related`` entries), ``backlink`` (an indexed item lists it) or ``similar`` (close in
    content, topics and time). ``in_index`` is False for a listed entry that points outside
    the index; its ``id`` is then None. ``score`` is set for ``similar`` hits only."""

    id: str | None
    url: str
    title: str
    provider: Provider
    published_at: datetime | None
    score: float | None
    reason: str
    in_index: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "provider": self.provider.to_dict(),
            "published_at": format_datetime(self.published_at),
            "score": None if self.score is None else round(self.score, 6),
            "reason": self.reason,
            "in_index": self.in_index,
        }


@dataclass(frozen=True)
class RelatedResults:
    """An item and the items related to it, listed first, then backlinks, then similar."""

    item: Hit
    related: tuple[RelatedHit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.to_dict(), "related": [r.to_dict() for r in self.related]}


@dataclass(frozen=True)
class Completions:
    """Autocompletions of a prefix, most frequent first."""

    prefix: str
    completions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "completions": list(self.completions)}


@dataclass(frozen=True)
class FileError:
    """A corpus file that could not be indexed: its path and a one-line reason."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class Duplicate:
    """Items (ids) in the index that declare the same url; all of them are kept."""

    url: str
    ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ids": list(self.ids)}


@dataclass(frozen=True)
class IndexReport:
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
    seconds: float
    duplicates: tuple[Duplicate, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every file of the corpus was indexed."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "index_dir": self.index_dir,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": [error.to_dict() for error in self.errors],
            "documents": self.documents,
            "seconds": round(self.seconds, 3),
            "duplicates": [duplicate.to_dict() for duplicate in self.duplicates],
        }


@dataclass(frozen=True)
class IndexInfo:
    """A summary of an index: size, date range, when it was last updated and from where."""

    index_dir: str
    documents: int
    size_bytes: int
    oldest: datetime | None
    newest: datetime | None
    last_update: datetime | None
    corpus: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index_dir": self.index_dir,
            "documents": self.documents,
            "size_bytes": self.size_bytes,
            "oldest": format_datetime(self.oldest),
            "newest": format_datetime(self.newest),
            "last_update": format_datetime(self.last_update),
            "corpus": self.corpus,
        }


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _provider(data: Any) -> Provider:
    data = data or {}
    return Provider(name=data.get("name", ""), domain=data.get("domain", ""))


def _images(data: Any) -> tuple[Image, ...]:
    return tuple(Image(url=i["url"], width=i.get("width"), height=i.get("height"),
                       is_cached=i.get("is_cached")) for i in data or ())


def item_from_dict(data: dict[str, Any]) -> NewsItem:
    """Rebuild a ``NewsItem`` from ``NewsItem.to_dict()`` output (as stored in the index)."""
    return NewsItem(
        id=data["id"],
        title=data["title"],
        url=data.get("url", ""),
        original_url=data.get("original_url", ""),
        amp_url=data.get("amp_url", ""),
        cdn_amp_url=data.get("cdn_amp_url", ""),
        excerpt=data.get("excerpt", ""),
        body=data.get("body", ""),
        category=data.get("category", ""),
        type=data.get("type", ""),
        topics=tuple(data.get("topics", ())),
        provider=_provider(data.get("provider")),
        published_at=_parse_time(data.get("published_at")),
        quality=data.get("quality"),
        heat=data.get("heat", -1),
        published=data.get("published", True),
        images=_images(data.get("images")),
        related=tuple(
            RelatedLink(
                title=r["title"], url=r.get("url", ""), excerpt=r.get("excerpt", ""),
                published_at=_parse_time(r.get("published_at")), type=r.get("type", ""),
                provider=_provider(r.get("provider")), quality=r.get("quality"),
                amp_url=r.get("amp_url", ""), cdn_amp_url=r.get("cdn_amp_url", ""),
                images=_images(r.get("images")),
            )
            for r in data.get("related", ())
        ),
    )
