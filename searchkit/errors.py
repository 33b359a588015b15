"""The exceptions searchkit raises to its callers.

Every error searchkit raises on purpose derives from one base class, so that a caller (and the
CLI) can catch them all at once::

    SearchkitError
     ├── DocumentError          a news-item file cannot be read (path + one-line reason)
     ├── CorpusError            the corpus folder is missing or cannot be read
     ├── IndexNotFoundError     no index at the given location
     ├── IndexCorruptError      the location holds something that is not a readable searchkit index
     ├── IndexVersionError      the index was written by an incompatible searchkit version
     ├── IndexLockedError       another writer holds the index lock past the timeout
     ├── IndexWriteError        writing the index failed part-way; nothing of the run is committed
     ├── QueryError             a query string or a filter/sort/facet argument is invalid
     ├── ItemNotFoundError      no indexed item has the given id or url
     ├── SavedSearchError       a saved search's name is invalid, unknown or taken, or its file
     │                          cannot be read
     └── WhooshVersionError     the installed Whoosh is not the release searchkit is written for

Per-file problems met while indexing are not raised: they are collected in the ``IndexReport``.
"""

from __future__ import annotations

from pathlib import Path


class SearchkitError(Exception):
    """Base class of every error searchkit raises on purpose."""


class DocumentError(SearchkitError):
    """Raised when a news-item file cannot be parsed into a ``NewsItem``.

    ``path`` names the file (relative to the corpus root when known) and ``reason`` says what is
    wrong in one line; for YAML errors the reason carries the line number in the file.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class CorpusError(SearchkitError):
    """Raised when the corpus folder does not exist or cannot be listed."""


class IndexNotFoundError(SearchkitError):
    """Raised when opening an index directory that holds no searchkit index."""


class IndexCorruptError(SearchkitError):
    """Raised when the index directory exists but cannot be read as a searchkit index."""


class IndexVersionError(SearchkitError):
    """Raised when the index was written in a format this version of searchkit cannot read."""


class IndexWriteError(SearchkitError):
    """Raised when writing the index fails part-way (a writer process failed or died, the disk
    filled up...); nothing of that run is committed and the index keeps its last commit."""


class IndexLockedError(SearchkitError):
    """Raised when another process holds the index's write lock for longer than the timeout."""


class QueryError(SearchkitError):
    """Raised for a query that cannot be parsed or an invalid filter, sort or facet argument."""


class ItemNotFoundError(SearchkitError):
    """Raised when no indexed item has the requested id or url."""


class SavedSearchError(SearchkitError):
    """Raised for a saved search name that is invalid (empty, too long, unsafe characters),
    unknown, or already taken, and when the index's saved searches cannot be read. A saved
    search whose query or filters no longer work raises ``QueryError`` naming it."""


class WhooshVersionError(SearchkitError):
    """Raised when searchkit is imported with a Whoosh release whose internals differ from the
    one it is written against (``searchkit.whoosh_internals.REQUIRED_WHOOSH``)."""
