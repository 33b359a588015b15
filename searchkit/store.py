"""The on-disk layout of an index directory, its write lock and its metadata.

An index directory holds::

    CURRENT          the name of the live generation (replaced atomically)
    LOCK             who holds the writers' lock (an advisory ``flock`` on the directory itself)
    saved.json       the saved searches (searchkit/saved.py): beside the generations, so that
                     rebuilds keep them
    gen-000001/      a generation: a Whoosh index plus ``searchkit.json`` (version, corpus, times),
                     and the checksums of each commit (``_MAIN_<n>.sums``, searchkit/checksums.py)
    .gitignore       optional, left alone

Readers follow ``CURRENT``; a rebuild writes a new generation beside the live one and only then
switches ``CURRENT`` to it, so a reader never sees a partial index. Everything else that may sit
in the directory (``.gitignore``) is ignored; a directory holding anything else is refused as
foreign rather than written into.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from . import checksums
from .errors import IndexCorruptError, IndexLockedError, IndexNotFoundError, IndexVersionError
from .schema import SCHEMA_VERSION, make_schema
from .stories import BOOK_SUFFIX, StoryBook
from .whoosh_internals import latest_generation

#: How long a writer waits for another writer's lock before giving up, in seconds.
LOCK_TIMEOUT = 30.0

CURRENT = "CURRENT"
LOCK = "LOCK"
SAVED = "saved.json"
META = "searchkit.json"
_GEN_PREFIX = "gen-"
_OWN_NAMES = {CURRENT, LOCK, SAVED, ".gitignore"}


def fsync_path(path: Path, *, directory: bool = False) -> None:
    """Flush a file (or a directory's entries) to stable storage."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str) -> None:
    """Replace ``path`` with ``data`` durably: write a temp file, fsync, rename, fsync the dir."""
    write_atomic_bytes(path, data.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """``write_atomic`` of bytes."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a full disk gets its room back
            tmp.unlink()
        raise
    fsync_path(path.parent, directory=True)


class IndexLocation:
    """An index directory: which generation is live, its metadata, the writers' lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    # -- reading ----------------------------------------------------------------------------

    def current(self) -> Path | None:
        """The live generation's folder, or None when the directory holds no index yet."""
        try:
            name = (self.path / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(
                f"cannot read {self.path / CURRENT}: {exc}; run `searchkit index --rebuild`"
            ) from exc
        gen = self.path / name
        if not name.startswith(_GEN_PREFIX) or "/" in name or not gen.is_dir():
            raise IndexCorruptError(
                f"{self.path} is damaged: {CURRENT} names a missing generation "
                f"{name!r}; run `searchkit index --rebuild`"
            )
        return gen

    def commit(self) -> str | None:
        """Names the latest commit of the live index: its generation folder and the number of
        its latest Whoosh commit (``gen-000002/7``), from file names only; None when there is no
        index. Every update, removal and rebuild names a new commit."""
        gen = self.current()
        return None if gen is None else f"{gen.name}/{latest_generation(str(gen))}"

    def require(self) -> Path:
        """The live generation, checked; raises when there is no usable index."""
        if not self.path.exists():
            raise IndexNotFoundError(f"no index at {self.path}; build one with `searchkit index`")
        if not self.path.is_dir():
            raise IndexCorruptError(f"{self.path} is not a directory; give another --index-dir")
        gen = self.current()
        if gen is None:
            foreign = self.foreign_entries()
            if foreign:
                # Not --rebuild: that refuses, rightly, to write into somebody else's files.
                raise IndexCorruptError(
                    f"{self.path} is not a searchkit index (found "
                    f"{', '.join(foreign[:3])}); give an empty or new "
                    "--index-dir"
                )
            raise IndexNotFoundError(f"no index at {self.path}; build one with `searchkit index`")
        meta = self.read_meta(gen)
        version = meta.get("schema")
        if version != SCHEMA_VERSION:
            raise IndexVersionError(
                f"the index at {self.path} has format {version}, this searchkit "
                f"reads format {SCHEMA_VERSION}; run `searchkit index --rebuild`"
            )
        return gen

    def read_meta(self, gen: Path) -> dict[str, Any]:
        try:
            meta = json.loads((gen / META).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{gen} has no {META}; run `searchkit index --rebuild`") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read {gen / META}: {exc}; run `searchkit index --rebuild`"
            ) from exc
        if not isinstance(meta, dict):
            raise IndexCorruptError(f"{gen / META} is damaged; run `searchkit index --rebuild`")
        return meta

    def checksums_required(self, gen: Path) -> bool:
        """Whether every commit of ``gen`` has checksums (it was written by a searchkit that
        records them): then a missing table is damage."""
        return bool(self.read_meta(gen).get(checksums.META_KEY))

    def foreign_entries(self) -> list[str]:
        """Names in the directory that searchkit did not put there."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(
            n
            for n in names
            if n not in _OWN_NAMES
            and not n.startswith(_GEN_PREFIX)
            # write_atomic's temporary files, left by a process killed while it wrote one
            and not n.startswith((f".{CURRENT}.", f".{SAVED}."))
        )

    # -- writing ----------------------------------------------------------------------------

    def prepare(self, *, replace_foreign: bool = False) -> None:
        """Create the directory if needed; refuse one that holds somebody else's files."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexCorruptError(
                f"cannot create index directory {self.path}: {exc.strerror or exc}"
            ) from exc
        if not self.path.is_dir():
            raise IndexCorruptError(f"{self.path} is not a directory; give another --index-dir")
        foreign = self.foreign_entries()
        if foreign and self.current() is None and not replace_foreign:
            raise IndexCorruptError(
                f"{self.path} is not empty and holds no searchkit index "
                f"(found {', '.join(foreign[:3])}); choose an empty directory"
            )

    def new_generation(self) -> Path:
        """Create and return a fresh, empty generation folder."""
        numbers = [
            int(n[len(_GEN_PREFIX) :])
            for n in os.listdir(self.path)
            if n.startswith(_GEN_PREFIX) and n[len(_GEN_PREFIX) :].isdigit()
        ]
        gen = self.path / f"{_GEN_PREFIX}{max(numbers, default=0) + 1:06d}"
        gen.mkdir()
        # Durable before CURRENT can name it: the switch's rename may reach the disk before an
        # unsynced mkdir (found by tests/test_crash_states.py).
        fsync_path(self.path, directory=True)
        return gen

    def write_meta(self, gen: Path, **changes: Any) -> None:
        try:
            meta = self.read_meta(gen)
        except IndexCorruptError:
            # A new generation: each of its commits records checksums.
            meta = {"schema": SCHEMA_VERSION, "created": _now(), checksums.META_KEY: True}
        meta.update(changes)
        meta["updated"] = _now()
        write_atomic(gen / META, json.dumps(meta, indent=2, sort_keys=True))

    def switch(self, gen: Path) -> None:
        """Make ``gen`` the live generation (one atomic rename), then drop unused generations."""
        write_atomic(self.path / CURRENT, gen.name + "\n")
        self.remove_stale_generations()

    def discard(self) -> None:
        """Remove the index (``CURRENT`` and every generation), leaving the directory and its
        lock: what a first build that failed leaves, so that no empty index is served."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / CURRENT).unlink()
        for name in os.listdir(self.path):
            if name.startswith(_GEN_PREFIX):
                shutil.rmtree(self.path / name, ignore_errors=True)

    def remove_stale_generations(self) -> None:
        """Delete every generation but the live one (left by a replaced or interrupted build)."""
        live = self.current()
        for name in os.listdir(self.path):
            if name.startswith(_GEN_PREFIX) and (live is None or name != live.name):
                shutil.rmtree(self.path / name, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the writers' lock. Waits up to ``timeout`` seconds, then raises IndexLockedError.

        The lock is an advisory ``flock`` on the index directory itself, which nobody can
        delete while it holds the index (a lock on the ``LOCK`` file was lost when a user
        deleted the file under a running writer: the next writer made a new one and went
        ahead). The kernel drops it when its holder exits, however it exits, so a killed writer
        never leaves a stale lock behind. ``LOCK`` only says who holds it (``pid N``).
        """
        path = self.path / LOCK
        folder = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = _read_holder(path)
                        raise IndexLockedError(
                            f"the index is locked by another writer ({path}{holder}); "
                            f"waited {timeout:g} s, try again when it has finished"
                        ) from None
                    time.sleep(0.1)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f"pid {os.getpid()}\n")
            yield
        finally:
            os.close(folder)


def _read_holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f", held by {text}" if text else ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class DurableStorage(FileStorage):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's file storage, made durable: a commit that returned is on disk.

    Whoosh writes a commit's segment files and a new table of contents, then renames the TOC
    into place, but never calls fsync, so after a power loss a commit can be half on disk
    (whoosh-community/whoosh#323). Here every file Whoosh creates is flushed and fsynced when
    it is closed, before the TOC is renamed, and the folder is fsynced after each rename. A
    commit's checksums are written (and the folder fsynced) just before its TOC is renamed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writing: set[Any] = set()  # files created and not closed yet
        #: Files the next commit writes beside its TOC (``_MAIN_<n>.<suffix>``), by suffix. A
        #: commit that is given none keeps the previous commit's (checksums.write_companions).
        self.companions: dict[str, bytes] = {}

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> Any:
        handle = super().create_file(name, excl=excl, mode=mode, **kwargs)
        previous = handle.onclose

        def onclose(sfile: Any) -> None:
            if previous is not None:
                previous(sfile)
            sfile.file.flush()
            os.fsync(sfile.file.fileno())
            self._writing.discard(sfile)

        handle.onclose = onclose
        self._writing.add(handle)
        return handle

    def temp_storage(self, name: str | None = None) -> Any:
        """Whoosh's temporary storage (per-document columns while a segment is written),
        its files followed as this storage's are (``abandon_files``)."""
        return _TempStorage(super().temp_storage(name).folder, self._writing).create()

    def abandon_files(self) -> None:
        """Close every file this storage created and nobody closed, without flushing: what a
        write that failed part-way (a full disk) leaves open. Then they can be removed, and a
        full disk gets its room back."""
        for handle in list(self._writing):
            with contextlib.suppress(Exception):
                handle.file.close()
        self._writing.clear()

    def rename_file(self, oldname: str, newname: str, safe: bool = False) -> None:
        generation = checksums.toc_generation(newname)
        if generation is not None:  # a commit: its files and checksums go to disk before its TOC
            pending, self.companions = self.companions, {}
            checksums.write_companions(Path(self.folder), generation, pending)
            checksums.record(Path(self.folder), generation, oldname)
        super().rename_file(oldname, newname, safe=safe)
        fsync_path(Path(self.folder), directory=True)


def create_whoosh(gen: Path, *, story_window: float | None = None) -> whoosh_index.Index:
    """Create an empty Whoosh index with searchkit's schema in a generation folder; its stories
    link items published within ``story_window`` seconds (default ``stories.DEFAULT_WINDOW``)."""
    storage = DurableStorage(str(gen))
    book = StoryBook() if story_window is None else StoryBook(window=story_window)
    storage.companions[BOOK_SUFFIX] = book.encode()
    return storage.create_index(make_schema())


def open_whoosh(gen: Path) -> whoosh_index.Index:
    """Open the Whoosh index of a generation folder, translating Whoosh's errors."""
    try:
        return DurableStorage(str(gen)).open_index()
    except Exception as exc:  # Whoosh raises bare Exceptions, EmptyIndexError, pickling errors...
        raise IndexCorruptError(
            f"cannot open the index in {gen}: {exc}; run `searchkit index --rebuild`"
        ) from exc


class _TempStorage(FileStorage):  # type: ignore[misc]  # Whoosh ships no type hints
    """A temporary storage whose open files a ``DurableStorage`` knows about (no fsync: its
    files are thrown away once the segment is written)."""

    def __init__(self, folder: str, writing: set[Any]) -> None:
        super().__init__(folder)
        self._writing = writing

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> Any:
        handle = super().create_file(name, excl=excl, mode=mode, **kwargs)
        previous = handle.onclose
        writing = self._writing

        def onclose(sfile: Any) -> None:
            if previous is not None:
                previous(sfile)
            writing.discard(sfile)

        handle.onclose = onclose
        writing.add(handle)
        return handle
