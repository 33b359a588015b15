"""The corpus folder: walking it for news-item files, and what it holds that cannot be read.

A corpus is a folder searched recursively for ``*.md``, ``*.markdown`` and ``*.txt`` files.
Only regular files are read, and symlinks to regular files inside the corpus; what cannot be
read, or is not allowed, is reported as a ``CorpusProblem`` rather than dropped, so that an
update never mistakes a file it cannot see for a file that is gone.
"""

from __future__ import annotations

import errno
import operator
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

#: File name suffixes that hold news items.
SUFFIXES = frozenset({".md", ".markdown", ".txt"})


def iter_corpus_files(root: str | Path) -> Iterator[Path]:
    """Yield the news-item files under ``root`` in a stable order (sorted within each folder).

    Hidden files and folders (name starting with a dot) are skipped, and so are symlinked
    folders, which could loop. See ``corpus_files`` for what else is left out, and why.
    """
    for _ident, path in corpus_files(root):
        yield Path(path)


@dataclass(frozen=True)
class CorpusProblem:
    """A file or folder of the corpus that cannot be indexed as it is, and why.

    ``path`` is relative to the corpus root (a folder's ends with ``/``), with any byte that
    is not UTF-8 shown escaped (``\\xff``). For a ``folder`` that cannot be read, the items
    indexed from it before are kept as they were.
    """

    path: str
    reason: str
    folder: bool = False


@dataclass(frozen=True)
class ScannedFile:
    """A news-item file of the corpus as the scan found it (id, path, size, mtime)."""

    id: str
    path: str
    size: int
    mtime_ns: int


def corpus_files(root: str | Path, problems: list[CorpusProblem] | None = None) -> Iterator[tuple[str, str]]:
    """(item id, path) of each news-item file under ``root``, as strings (the id as ``item_id``
    makes it), sorted within each folder.

    Only regular files are read, and symlinks to them inside the corpus; hidden files and
    folders and symlinked folders are skipped. What cannot be read or is not allowed is added
    to ``problems`` (and not yielded): a folder that cannot be listed, a file name that is not
    valid UTF-8, a special file (FIFO, device, socket), a symlink that leads out of the corpus,
    loops or leads nowhere. Raises ``OSError`` when ``root`` itself cannot be listed.
    """
    for files in _folders(root, problems if problems is not None else []):
        for file in files:
            yield file.id, file.path


def _folders(root: str | Path, problems: list[CorpusProblem]) -> Iterator[list[ScannedFile]]:
    """The news-item files under ``root`` (``corpus_files``) with their size and mtime (of the
    target, for a symlink), which the walk looks at anyway, a folder at a time: each folder's
    files, then its folders', depth first, as os.walk goes."""
    base = os.path.realpath(root)
    pending = [(str(root), "")]
    while pending:
        folder, rel = pending.pop()
        files, folders = _folder(folder, rel, base, problems)
        yield files
        pending.extend(reversed(folders))


def _folder(
    folder: str, rel: str, base: str, problems: list[CorpusProblem]
) -> tuple[list[ScannedFile], list[tuple[str, str]]]:
    """One folder's files and its folders to walk (path, id prefix), both in name order; what
    is not read is added to ``problems``."""
    files: list[ScannedFile] = []
    folders: list[tuple[str, str]] = []
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=_NAME)
    except OSError as exc:
        if not rel:
            raise
        problems.append(
            CorpusProblem(
                _shown(rel),
                f"cannot read folder: {exc.strerror or exc}; the items indexed from it are kept as they were",
                folder=True,
            )
        )
        return files, folders
    # Once per file of the corpus: a regular file (its type known from the listing) takes one
    # question to its entry and a stat.
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        ident = rel + name
        try:
            if entry.is_file(follow_symlinks=False):
                is_link = False
            else:
                is_link = entry.is_symlink()
                if not is_link and entry.is_dir(follow_symlinks=False):
                    if name.isascii() or _valid_name(name):
                        folders.append((entry.path, ident + "/"))
                    else:
                        problems.append(
                            CorpusProblem(
                                _shown(ident) + "/",
                                "folder name is not valid UTF-8; rename it to index its files",
                                folder=True,
                            )
                        )
                    continue
        except OSError as exc:
            problems.append(CorpusProblem(_shown(ident), f"cannot read: {exc.strerror or exc}"))
            continue
        # The suffix os.path.splitext finds (the name of a hidden file has none), lowered; most
        # names have it in lower case already.
        if not name.endswith(_LOWER_SUFFIXES) and name[name.rfind(".") :].lower() not in SUFFIXES:
            continue
        if not (name.isascii() or _valid_name(name)):
            problems.append(CorpusProblem(_shown(ident), "file name is not valid UTF-8; rename the file"))
            continue
        path = entry.path
        reason, info = _link_problem(path, base) if is_link else _kind_problem(path)
        if reason is not None:
            problems.append(CorpusProblem(ident, reason))
        elif info is not None:  # None: gone while listing, as if never listed
            files.append(ScannedFile(ident, path, info.st_size, info.st_mtime_ns))
    return files, folders


_NAME = operator.attrgetter("name")
_LOWER_SUFFIXES = tuple(SUFFIXES)


def _valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, carried as surrogates
        return False
    return True


def _shown(rel: str) -> str:
    """A path of the corpus for messages: bytes that are not UTF-8 escaped (``\\xff``)."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _kind_problem(path: str) -> tuple[str | None, os.stat_result | None]:
    """Why a listed file that is not a symlink is not read (None: a regular file), and its
    stat: what its entry's ``stat(follow_symlinks=False)`` gives, without the entry keeping it
    (a folder's entries are kept until its files are done: tens of thousands of them)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None  # gone while listing
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}", None
    if stat.S_ISREG(info.st_mode):
        return None, info
    return f"not a regular file ({file_kind(info.st_mode)}): not read", None


def _link_problem(path: str, base: str) -> tuple[str | None, os.stat_result | None]:
    """Why a symlinked file is not read (None: it leads to a regular file inside the corpus),
    and its target's stat."""
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: not read", None
        return "symlink to nothing (its target does not exist): not read", None
    if os.path.commonpath([base, target]) != base:
        return "symlink to a file outside the corpus: not followed (copy the file into the corpus)", None
    try:
        info = os.stat(target)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}", None
    if stat.S_ISREG(info.st_mode):
        return None, info
    return f"symlink to a {file_kind(info.st_mode)}: not read", None


def file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return kind
    return "special file"


def corpus_root(corpus: str | Path) -> Path:
    root = Path(corpus).resolve()
    if not root.exists():
        raise CorpusError(f"corpus folder {corpus} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus {corpus} is not a folder")
    return root


def scan(root: Path) -> tuple[list[ScannedFile], list[CorpusProblem]]:
    """The corpus's news-item files, and what cannot be indexed as it is (``corpus_files``; a
    file that cannot be looked at is one of those, one that vanished while walking is gone)."""
    scanned: list[ScannedFile] = []
    problems: list[CorpusProblem] = []
    try:
        for files in _folders(root, problems):
            scanned += files
    except OSError as exc:
        raise CorpusError(
            f"cannot read corpus folder {root}: {exc.strerror or exc}; nothing was changed"
        ) from exc
    return scanned, problems
