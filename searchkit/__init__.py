"""searchkit: full-text search for folders of news items, built on Whoosh."""

from .api import SearchIndex
from .errors import (
    CorpusError,
    DocumentError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    ItemNotFoundError,
    QueryError,
    SearchkitError,
)
from .models import (
    FileError,
    Highlights,
    Hit,
    Image,
    IndexInfo,
    IndexReport,
    NewsItem,
    Provider,
    RelatedLink,
    SearchResults,
)

__version__ = "0.1.0"

__all__ = [
    "CorpusError",
    "DocumentError",
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
    "ItemNotFoundError",
    "NewsItem",
    "Provider",
    "QueryError",
    "RelatedLink",
    "SearchIndex",
    "SearchResults",
    "SearchkitError",
]
