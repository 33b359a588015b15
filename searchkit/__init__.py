"""searchkit: full-text search for folders of news items, built on Whoosh."""

from . import _whoosh_import  # noqa: F401  # first: Whoosh without its HTTP import
from .api import SearchIndex
from .errors import (
    CorpusError,
    DocumentError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    IndexWriteError,
    ItemNotFoundError,
    QueryError,
    SearchkitError,
    WhooshVersionError,
)
from .models import (
    Completions,
    Duplicate,
    Facet,
    FacetCount,
    FileError,
    Highlights,
    Hit,
    Image,
    IndexInfo,
    IndexReport,
    NewsItem,
    Provider,
    RelatedHit,
    RelatedLink,
    RelatedResults,
    SearchResults,
)

__version__ = "0.1.0"

__all__ = [
    "Completions",
    "CorpusError",
    "DocumentError",
    "Duplicate",
    "Facet",
    "FacetCount",
    "FileError",
    "Highlights",
    "Hit",
    "Image",
    "IndexCorruptError",
    "IndexInfo",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexReport",
    "IndexVersionError",
    "IndexWriteError",
    "ItemNotFoundError",
    "NewsItem",
    "Provider",
    "QueryError",
    "RelatedHit",
    "RelatedLink",
    "RelatedResults",
    "SearchIndex",
    "SearchResults",
    "SearchkitError",
    "WhooshVersionError",
]
