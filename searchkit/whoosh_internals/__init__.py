"""searchkit's adapter to Whoosh's storage and matcher internals, pinned to one Whoosh release.

Where speed needs what Whoosh keeps private (its W3 codec's postings blocks and term infos,
column files, the segment writer's commit steps, a matcher's skipping logic), the code lives in
this package and nowhere else: the rest of searchkit uses Whoosh's public API (query classes,
``Schema``, searchers, readers) or the functions here. A test fails when a private Whoosh name
is used outside this package (tests/test_whoosh_internals.py).

Each private name relied on is listed in ``PRIVATE_NAMES`` and checked when the package is
imported: if one is missing, the installed Whoosh is not the release this code is written
against and ``WhooshVersionError`` says which release was found and which one is required
(pyproject.toml pins it).

Modules: ``postings`` (reading postings, field lengths and columns in bulk), ``segment`` (a
segment writer that writes whole blocks), ``writers`` (writer processes committed as one run),
``matching`` (a mended ``AndNotMatcher``); ``latest_generation`` here names an index's latest
commit from its file names.
"""

from __future__ import annotations

import importlib
from types import FunctionType

from ..errors import WhooshVersionError

#: The Whoosh release this package is written against (pyproject.toml pins it).
REQUIRED_WHOOSH = "2.7.4"

#: Every private Whoosh name used in this package, by the module or class that defines it. A
#: class's name counts as defined when the class (or a base) has it as an attribute or one of
#: its methods sets or reads it (instance attributes such as a matcher's block state).
PRIVATE_NAMES: dict[str, tuple[str, ...]] = {
    "whoosh.codec.whoosh3": ("_lenfield",),
    "whoosh.codec.whoosh3.W3LeafMatcher": (
        "_ids",
        "_weights",
        "_data",
        "_byteids",
        "_read_data",
        "_read_ids",
        "_read_weights",
        "_next_block",
    ),
    "whoosh.codec.whoosh3.W3TermInfo": (
        "_weight",
        "_df",
        "_minlength",
        "_maxlength",
        "_maxweight",
        "_minid",
        "_maxid",
    ),
    "whoosh.codec.whoosh3.W3FieldWriter": ("_fieldid", "_postfile", "_tindex"),
    "whoosh.codec.whoosh3.W3PerDocReader": ("_cached_reader",),
    "whoosh.reading.SegmentReader": ("_perdoc",),
    "whoosh.codec.whoosh3.W3TermsReader": ("_tindex", "_dbfile", "_codec", "_postfile", "_keycoder"),
    "whoosh.matching.wrappers.FilterMatcher": ("_exclude", "_ids"),
    "whoosh.matching.binary.AndNotMatcher": ("_find_first", "_find_next"),
    "whoosh.columns.NumericColumn.Reader": (
        "_count",
        "_typecode",
        "_dbfile",
        "_basepos",
        "_fixedlen",
        "_default",
    ),
    "whoosh.columns.VarBytesColumn.Reader": (
        "_dbfile",
        "_basepos",
        "_length",
        "_offsets",
        "_lengths",
    ),
    "whoosh.scoring.BM25F": ("_field_B",),
    "whoosh.writing.SegmentWriter": (
        "_check_state",
        "_check_fields",
        "_added",
        "_close_segment",
        "_finalize_segment",
        "_merge_segments",
        "_commit_toc",
        "_finish",
        "_lk",
    ),
    "whoosh.index.FileIndex": ("_read_toc",),
    "whoosh.index": ("_DEF_INDEX_NAME",),
    "whoosh.index.TOC": ("_latest_generation",),
}


def latest_generation(folder: str) -> int:
    """The number of the latest commit (table of contents) of the Whoosh index in ``folder``,
    -1 when there is none: read from the file names alone, without opening the index."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import _DEF_INDEX_NAME, TOC

    return int(TOC._latest_generation(FileStorage(folder), _DEF_INDEX_NAME))


def _resolve(path: str) -> object:
    """The module or class named by a dotted path."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            owner: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            owner = getattr(owner, attribute)
        return owner
    raise ImportError(path)


def _names_used_by(cls: type) -> set[str]:
    """Names that the methods of ``cls`` and its bases read or set, and their parameters."""
    names: set[str] = set()
    for klass in cls.__mro__:
        for value in vars(klass).values():
            function = getattr(value, "__func__", value)
            if isinstance(function, FunctionType):
                code = function.__code__
                names.update(code.co_names, code.co_varnames)
    return names


def missing_names() -> list[str]:
    """The entries of ``PRIVATE_NAMES`` that the installed Whoosh lacks (``owner.name``)."""
    missing = []
    for path, names in PRIVATE_NAMES.items():
        try:
            owner = _resolve(path)
        except (ImportError, AttributeError):
            missing += [f"{path}.{name}" for name in names]
            continue
        used = _names_used_by(owner) if isinstance(owner, type) else set()
        missing += [f"{path}.{name}" for name in names if not hasattr(owner, name) and name not in used]
    return missing


def check_whoosh() -> None:
    """Raise ``WhooshVersionError`` unless every private name searchkit relies on exists."""
    missing = missing_names()
    if missing:
        try:
            from importlib.metadata import version

            found = version("whoosh")
        except Exception:  # the version is only for the message
            found = "unknown"
        raise WhooshVersionError(
            f"searchkit needs Whoosh {REQUIRED_WHOOSH}, found Whoosh {found}, which lacks "
            f"{', '.join(missing[:3])}{' and more' if len(missing) > 3 else ''}; "
            f"run `pip install whoosh=={REQUIRED_WHOOSH}`"
        )


check_whoosh()
