"""Crash states of a directory: record the file operations of a write, then build every state a
crash during it may leave on disk, as ALICE does for databases (Pillai et al., "All File Systems
Are Not Created Equal", OSDI 2014).

Killing a writer at chosen moments finds only the states a timer happens to reach, and never the
states a power loss leaves (writes the kernel had not flushed, renames that reached the disk
before the files they name). Here a write runs once, in this process, under ``record(root)``,
which notes every operation on the files and folders under ``root``; ``crash_states`` then
builds, from the folder as it was before and that trace, the states the crash model below
allows, each distinct state once; ``explore`` writes each into a folder of its own and runs a
check on it.

Recording. ``record`` patches, for its duration, the Python functions the writers call:
``open`` (``builtins.open``, ``io.open``, and so ``os.fdopen`` and ``Path.open``/``write_text``,
which call ``io.open``), ``os.open`` (and so ``Path.touch``), ``os.write``, ``os.fsync``,
``os.fdatasync``, ``os.rename``, ``os.replace``, ``os.remove``, ``os.unlink``, ``os.mkdir`` (and
so ``os.makedirs`` and ``Path.mkdir``, which call it), ``os.rmdir`` and ``shutil.rmtree``
(recorded as one operation: the removal of a folder and everything in it). A file opened for
writing is opened unbuffered underneath and given Python's usual buffer on top, so a write is
recorded when its bytes reach the kernel (a buffer flush), not when the program hands them to
Python: the recorded writes are the ones a kernel could lose or tear. Files are known by an
identity given when they are created (or found by the snapshot), which follows them through
renames; a descriptor is matched to its file by its inode. Not recorded: writes through
``mmap``, ``os.truncate``/``os.ftruncate``, and other processes. An operation the recorder
cannot follow (a rename into the folder from outside it, a call relative to a folder
descriptor other than ``shutil.rmtree``'s own) is an error when the recording ends, not a
silent gap.

The crash model, for a crash after the first ``k`` operations were issued (every ``k`` from 0,
nothing done, to all of them):

* The folder as it was before the recording is on disk.
* Metadata operations (create, mkdir, rename, unlink, rmdir, rmtree) reach the disk in the
  order they were issued, so the first ``k`` of them are there. Besides, one of them whose
  entry is not yet durable may be missing (ALICE's "omit one"); an entry is durable once each
  folder the operation changes (both, for a rename) has been fsynced after it. The operations
  after the missing one on the same path are missing too (a rename of a file whose creation is
  missing cannot happen), and so is everything done inside a missing folder (its files vanish
  with it, even those an fsync of the folder made durable: nothing links the folder). A state
  that needs a same-path operation whose entry is durable to be missing is not built.
* Each file's data operations (writes, truncations) followed by an fsync of the file before the
  crash are on disk. Those after its last fsync (its unsynced writes) are, per file, all there
  (``kept``), all missing (``dropped``: a new file is then empty), or all there but the last
  write, cut short: its first half (``torn-half``), up to the first 4096-byte block boundary
  inside it (``torn-block``), or its bytes zeroes (``zeroed``: the file's size reached the disk,
  its data did not, as after a delayed allocation). A crash in the middle of a run of writes is
  the crash point after each of them.
* Files' variants combine freely: every combination when there are at most
  ``max_combinations``; otherwise, deterministically, every file with the same variant, and
  each file's each variant with every other file kept, then with every other file dropped.
  Files named in ``volatile`` (contents no check reads, such as a lock holder's pid) keep every
  write issued, so that they do not multiply the states.

States are compared by a digest of the whole tree (every path, folder or file, and each file's
bytes) and each distinct one is kept once, with the first crash point and variant that built
it. File metadata other than names and contents (times, modes) is not modelled.

Checking. ``explore`` writes each chosen state into a folder of its own and runs a check on it.
The states are ranked (``RANKS``): every crash point with its unsynced writes all kept and all
dropped comes first and is always checked; then the states where a creation or rename is
missing when a rename (a commit point) has reached the disk, the reordering that leaves a name
pointing at nothing; then torn and mixed writes; then the other omissions. A ``budget`` caps the
states checked after the first rank; a rank that does not fit whole is sampled evenly over its
crash points, the same way on every run of the same trace.
"""

from __future__ import annotations

import bisect
import builtins
import contextlib
import hashlib
import io
import itertools
import math
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A directory tree: relative POSIX path -> a file's bytes, or None for a folder.
Tree = dict[str, "bytes | None"]

# Operation kinds. Metadata operations change names; data operations change a file's bytes.
CREATE, MKDIR, RENAME, UNLINK, RMDIR, RMTREE = "create", "mkdir", "rename", "unlink", "rmdir", "rmtree"
WRITE, TRUNCATE, FSYNC, DIRFSYNC = "write", "truncate", "fsync", "dirfsync"
METADATA = frozenset({CREATE, MKDIR, RENAME, UNLINK, RMDIR, RMTREE})

KEPT, DROPPED, TORN_HALF, TORN_BLOCK, ZEROED = "kept", "dropped", "torn-half", "torn-block", "zeroed"
VARIANTS = (KEPT, DROPPED, TORN_HALF, TORN_BLOCK, ZEROED)
BLOCK = 4096
_FOLDER = b"d\0"


class RecordingError(Exception):
    """The recorder met an operation it cannot follow (the trace would be incomplete)."""


@dataclass(frozen=True)
class Op:
    """One recorded file-system operation. ``path`` is relative to the recorded root (for data
    operations and fsyncs, the file's path when the operation was issued); ``file`` identifies
    the file (create, write, truncate, fsync); ``offset`` is where a write starts, or the size
    a truncation leaves."""

    kind: str
    path: str
    dest: str = ""
    file: int = 0
    offset: int = 0
    data: bytes = b""

    def __str__(self) -> str:
        if self.kind == RENAME:
            return f"rename {self.path} -> {self.dest}"
        if self.kind == WRITE:
            return f"write {self.path} [{self.offset}, {self.offset + len(self.data)})"
        if self.kind == TRUNCATE:
            return f"truncate {self.path} to {self.offset}"
        return f"{self.kind} {self.path or '.'}"

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths a metadata operation changes."""
        return (self.path, self.dest) if self.kind == RENAME else (self.path,)


@dataclass
class Recording:
    """The folder before a write (``base``, its files' identities in ``base_files``) and the
    operations the write issued, in order."""

    base: Tree
    base_files: dict[str, int]
    ops: list[Op] = field(default_factory=list)

    def replay(self) -> Tree:
        """The tree once every operation has reached the disk: what the write left."""
        builder = _Builder(self)
        names = builder.names(len(self.ops), None)
        assert names is not None
        return builder.tree(*names, len(self.ops), {})

    def around(self, point: int, *, before: int = 4, after: int = 2) -> str:
        """The operations around a crash point, numbered, with a mark at the crash."""
        lines = []
        for index in range(max(0, point - before), min(len(self.ops), point + after)):
            if index == point:
                lines.append("      --- crash ---")
            lines.append(f"  {index:4d} {self.ops[index]}")
        if point >= len(self.ops):
            lines.append("      --- crash (after the last operation) ---")
        return "\n".join(lines)


# -- trees --------------------------------------------------------------------------------------


def read_tree(root: Path) -> Tree:
    """Every folder and file under ``root`` (not ``root`` itself), with the files' bytes."""
    tree: Tree = {}
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in dirs:
            tree[prefix + name] = None
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                tree[prefix + name] = handle.read()
    return dict(sorted(tree.items()))


def write_tree(tree: Tree, dest: Path) -> Path:
    """Create ``dest`` holding ``tree``; returns ``dest``."""
    dest.mkdir(parents=True)
    for path, content in sorted(tree.items()):
        if content is None:
            (dest / path).mkdir(parents=True, exist_ok=True)
        else:
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            (dest / path).write_bytes(content)
    return dest


def tree_digest(tree: Tree) -> str:
    """A digest of a tree's paths, kinds and file bytes."""
    digest = hashlib.sha256()
    for path, content in sorted(tree.items()):
        digest.update(
            path.encode() + b"\0" + (_FOLDER if content is None else hashlib.sha256(content).digest())
        )
    return digest.hexdigest()


def outline(tree: Tree) -> str:
    """A one-line account of a tree's top level: small files with their bytes, folders with
    how many files they hold."""
    parts = []
    for path, content in tree.items():
        if "/" in path:
            continue
        if content is None:
            count = sum(1 for p, c in tree.items() if c is not None and p.startswith(path + "/"))
            parts.append(f"{path}/ ({count} files)")
        elif len(content) <= 32:
            parts.append(f"{path}={content!r}")
        else:
            parts.append(f"{path} ({len(content)} bytes)")
    return ", ".join(parts) or "nothing"


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _within(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or inside it."""
    return path == folder or folder == "" or path.startswith(folder + "/")


# -- recording ----------------------------------------------------------------------------------


class _RecordingRaw(io.RawIOBase):
    """An unbuffered file under the recorded root that reports each write as it reaches the
    kernel. Python's buffered and text layers go on top of it, as ``open`` puts them on top of
    a ``FileIO``."""

    def __init__(self, inner: io.FileIO, recorder: _Recorder, file: int) -> None:
        super().__init__()
        self._inner = inner
        self._recorder = recorder
        self._file = file

    @property
    def name(self) -> Any:
        return self._inner.name

    @property
    def mode(self) -> str:
        return self._inner.mode

    def readable(self) -> bool:
        return self._inner.readable()

    def writable(self) -> bool:
        return self._inner.writable()

    def seekable(self) -> bool:
        return self._inner.seekable()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int | None:
        return self._inner.readinto(buffer)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def write(self, data: Any) -> int | None:
        offset = self._inner.tell()
        written = self._inner.write(data)
        if written:
            self._recorder.wrote(self._file, offset, bytes(memoryview(data).cast("B")[:written]))
        return written

    def truncate(self, size: int | None = None) -> int:
        size = self._inner.truncate(size)
        self._recorder.truncated(self._file, size)
        return size

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class _Recorder:
    """Patches the file functions while a write runs, and turns the calls that touch the
    recorded root into ``Op`` entries."""

    def __init__(self, root: Path) -> None:
        self.roots = sorted({os.path.abspath(root), os.path.realpath(root)})
        self.base = read_tree(root)
        self.base_files: dict[str, int] = {}
        self.ops: list[Op] = []
        self.problems: list[str] = []
        self._lock = threading.RLock()
        self._paused = 0
        self._next_file = 0
        self._names: dict[str, int] = {}  # path -> file identity, as the recording goes
        self._inodes: dict[tuple[int, int], int] = {}  # (device, inode) -> file identity
        self._dir_inodes: dict[tuple[int, int], str] = {}  # (device, inode) -> folder path
        self._dir_inodes[self._inode(self.roots[-1])] = ""
        for path, content in self.base.items():
            full = os.path.join(self.roots[-1], path)
            if content is None:
                self._dir_inodes[self._inode(full)] = path
            else:
                ident = self._new_file(path)
                self.base_files[path] = ident
                self._inodes[self._inode(full)] = ident
        self._real: dict[tuple[Any, str], Any] = {}

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _inode(path: str) -> tuple[int, int]:
        info = os.stat(path)
        return info.st_dev, info.st_ino

    def _new_file(self, path: str) -> int:
        self._next_file += 1
        self._names[path] = self._next_file
        return self._next_file

    def _rel(self, path: Any) -> str | None:
        """``path`` relative to the root (POSIX separators), or None outside it."""
        if isinstance(path, int):
            return None
        full = os.path.abspath(os.fsdecode(os.fspath(path)))
        for root in self.roots:
            if full == root:
                return ""
            if full.startswith(root + os.sep):
                return full[len(root) + 1 :].replace(os.sep, "/")
        return None

    def _rel_at(self, name: str, path: Any, dir_fd: int | None) -> str | None:
        """``_rel(path)`` for a call that may be relative to a folder descriptor. Such a call
        inside the root is an error when the recording ends (shutil.rmtree's own calls, made
        while the recorder is paused, are not)."""
        if self._paused:
            return None
        if dir_fd is None:
            return self._rel(path)
        info = os.fstat(dir_fd)
        if (info.st_dev, info.st_ino) in self._dir_inodes:
            self.problems.append(f"{name} {path} relative to a folder descriptor is not followed")
        return None

    def _path_of(self, file: int) -> str:
        return next((p for p, f in self._names.items() if f == file), f"<file {file}, removed>")

    def _add(self, op: Op) -> None:
        self.ops.append(op)

    def _move(self, src: str, dest: str) -> None:
        """Follow a rename in the recorder's own view of the names."""
        if src in self._names:
            self._names.pop(dest, None)
            self._names[dest] = self._names.pop(src)
            return
        for path in [p for p in self._names if _within(p, src)]:
            self._names[dest + path[len(src) :]] = self._names.pop(path)
        for key, path in list(self._dir_inodes.items()):
            if _within(path, src):
                self._dir_inodes[key] = dest + path[len(src) :]

    def _drop(self, folder: str) -> None:
        for path in [p for p in self._names if _within(p, folder)]:
            del self._names[path]
        for key, path in list(self._dir_inodes.items()):
            if _within(path, folder):
                del self._dir_inodes[key]

    def _opened(self, rel: str, fd: int, existed: bool, truncates: bool) -> int:
        """The identity of a file just opened for writing; notes its creation or truncation."""
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        if not existed:
            ident = self._new_file(rel)
            self._inodes[key] = ident
            self._add(Op(CREATE, rel, file=ident))
            return ident
        ident = self._inodes.get(key)
        if ident is None:
            self.problems.append(f"{rel} appeared under the root without a recorded creation")
            ident = self._new_file(rel)
            self._inodes[key] = ident
        if truncates:
            self._add(Op(TRUNCATE, rel, file=ident, offset=0))
        return ident

    # -- callbacks from the file layer ---------------------------------------------------

    def wrote(self, file: int, offset: int, data: bytes) -> None:
        with self._lock:
            self._add(Op(WRITE, self._path_of(file), file=file, offset=offset, data=data))

    def truncated(self, file: int, size: int) -> None:
        with self._lock:
            self._add(Op(TRUNCATE, self._path_of(file), file=file, offset=size))

    def _file_at(self, fd: int) -> int | None:
        """The identity of the file a descriptor is open on, if it is one under the root."""
        info = os.fstat(fd)
        return self._inodes.get((info.st_dev, info.st_ino))

    # -- the patched functions ----------------------------------------------------------

    def open(
        self,
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> Any:
        """``open``: a file under the root opened for writing gets a recording layer."""
        real = self._real[(builtins, "open")]
        with self._lock:
            writing = any(flag in mode for flag in "wax+") and not self._paused
            if isinstance(file, int):  # os.fdopen of a descriptor os.open gave: known until closed
                rel, known = None, self._file_at(file) if writing else None
            else:
                rel, known = self._rel(file) if writing else None, None
            if rel is None and known is None:
                return real(file, mode, buffering, encoding, errors, newline, closefd, opener)
            existed = rel is not None and os.path.lexists(file)
            raw = real(file, _binary(mode), buffering=0, closefd=closefd, opener=opener)
            ident = known if rel is None else self._opened(rel, raw.fileno(), existed, "w" in mode)
        assert ident is not None
        recorded = _RecordingRaw(raw, self, ident)
        if buffering == 0:
            return recorded
        size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
        buffered: Any = (
            io.BufferedRandom(recorded, size) if "+" in mode else io.BufferedWriter(recorded, size)
        )
        if "b" in mode:
            return buffered
        text = io.TextIOWrapper(buffered, encoding, errors, newline, line_buffering=buffering == 1)
        text.mode = mode  # type: ignore[misc]  # what open() sets
        return text

    def os_open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        real = self._real[(os, "open")]
        with self._lock:
            rel = self._rel_at("open", path, dir_fd)
            if rel is None:
                return int(real(path, flags, mode, dir_fd=dir_fd))
            existed = os.path.lexists(path)
            fd = int(real(path, flags, mode))
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                return fd
            writes = flags & (os.O_WRONLY | os.O_RDWR)
            self._opened(rel, fd, existed, bool(flags & os.O_TRUNC and writes))
            return fd

    def os_write(self, fd: int, data: Any) -> int:
        real = self._real[(os, "write")]
        with self._lock:
            ident = None if self._paused else self._file_at(fd)
            offset = os.lseek(fd, 0, os.SEEK_CUR) if ident is not None else 0
            written = int(real(fd, data))
            if ident is not None and written:
                self.wrote(ident, offset, bytes(memoryview(data).cast("B")[:written]))
            return written

    def _synced(self, fd: int) -> None:
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        if stat.S_ISDIR(info.st_mode):
            if key in self._dir_inodes:
                self._add(Op(DIRFSYNC, self._dir_inodes[key]))
        elif key in self._inodes:
            ident = self._inodes[key]
            self._add(Op(FSYNC, self._path_of(ident), file=ident))

    def os_fsync(self, fd: Any) -> None:
        with self._lock:
            self._real[(os, "fsync")](fd)
            if not self._paused:
                self._synced(fd if isinstance(fd, int) else fd.fileno())

    def os_fdatasync(self, fd: Any) -> None:
        with self._lock:
            self._real[(os, "fdatasync")](fd)
            if not self._paused:
                self._synced(fd if isinstance(fd, int) else fd.fileno())

    def _renamer(self, name: str) -> Callable[..., None]:
        def rename(
            src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
        ) -> None:
            real = self._real[(os, name)]
            with self._lock:
                old, new = self._rel_at(name, src, src_dir_fd), self._rel_at(name, dst, dst_dir_fd)
                real(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
                if old is None and new is None:
                    return
                if old is None or new is None:
                    self.problems.append(f"{name} {src} -> {dst} crosses the recorded root")
                    return
                self._add(Op(RENAME, old, dest=new))
                self._move(old, new)

        return rename

    def _remover(self, name: str) -> Callable[..., None]:
        def remove(path: Any, *, dir_fd: int | None = None) -> None:
            real = self._real[(os, name)]
            with self._lock:
                rel = self._rel_at(name, path, dir_fd)
                real(path, dir_fd=dir_fd)
                if rel is not None:
                    self._add(Op(UNLINK, rel))
                    self._names.pop(rel, None)

        return remove

    def os_mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real = self._real[(os, "mkdir")]
        with self._lock:
            rel = self._rel_at("mkdir", path, dir_fd)
            real(path, mode, dir_fd=dir_fd)
            if rel is not None:
                self._add(Op(MKDIR, rel))
                self._dir_inodes[self._inode(os.fspath(path))] = rel

    def os_rmdir(self, path: Any, *, dir_fd: int | None = None) -> None:
        real = self._real[(os, "rmdir")]
        with self._lock:
            rel = self._rel_at("rmdir", path, dir_fd)
            real(path, dir_fd=dir_fd)
            if rel is not None:
                self._add(Op(RMDIR, rel))
                self._drop(rel)

    def rmtree(self, path: Any, *args: Any, **kwargs: Any) -> None:
        real = self._real[(shutil, "rmtree")]
        with self._lock:
            rel = None if self._paused else self._rel(path)
            existed = rel is not None and os.path.isdir(path)
            self._paused += 1  # rmtree's own unlinks and rmdirs are this one operation
            try:
                real(path, *args, **kwargs)
            finally:
                self._paused -= 1
            if rel is None or not existed:
                return
            if os.path.lexists(path):
                self.problems.append(f"rmtree left {rel} behind (a partial removal is not modelled)")
            self._add(Op(RMTREE, rel))
            self._drop(rel)

    # -- installing ---------------------------------------------------------------------

    def patches(self) -> list[tuple[Any, str, Any]]:
        return [
            (builtins, "open", self.open),
            (io, "open", self.open),
            (os, "open", self.os_open),
            (os, "write", self.os_write),
            (os, "fsync", self.os_fsync),
            (os, "fdatasync", self.os_fdatasync),
            (os, "rename", self._renamer("rename")),
            (os, "replace", self._renamer("replace")),
            (os, "remove", self._remover("remove")),
            (os, "unlink", self._remover("unlink")),
            (os, "mkdir", self.os_mkdir),
            (os, "rmdir", self.os_rmdir),
            (shutil, "rmtree", self.rmtree),
        ]

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        patches = self.patches()
        for owner, name, _ in patches:
            self._real[(owner, name)] = getattr(owner, name)
        # builtins.open and io.open are one function: both patched, one original.
        self._real[(io, "open")] = self._real[(builtins, "open")]
        try:
            for owner, name, replacement in patches:
                setattr(owner, name, replacement)
            yield
        finally:
            for owner, name, _ in patches:
                setattr(owner, name, self._real[(owner, name)])


def _binary(mode: str) -> str:
    """The unbuffered binary mode for a file opened with ``mode``."""
    return mode.replace("t", "").replace("b", "") + "b"


@contextlib.contextmanager
def record(root: Path) -> Iterator[Recording]:
    """Record the file operations under ``root`` while the block runs (in this process, any
    thread). The snapshot of ``root`` taken on entry is the state assumed on disk."""
    recorder = _Recorder(root)
    recording = Recording(recorder.base, recorder.base_files, recorder.ops)
    with recorder.installed():
        yield recording
    if recorder.problems:
        raise RecordingError("; ".join(recorder.problems))


# -- building crash states ----------------------------------------------------------------------

#: What each rank of crash states holds; ``explore`` checks the ranks in this order, every state
#: of rank 0 and as many of the others as its budget allows.
RANKS = (
    "no operation missing; unsynced writes all kept or all dropped",
    "a creation or rename missing at a crash just after a rename; writes all kept or dropped",
    "no operation missing; unsynced writes torn, zeroed or mixed",
    "another operation missing at a crash just after a rename or removal; all kept or dropped",
    "one operation missing: other crash points and variants",
)


@dataclass(frozen=True)
class CrashState:
    """One state a crash may leave: after the first ``point`` operations were issued, with the
    metadata operation ``omitted`` (an index into the trace) missing or None, and unsynced
    writes treated as ``variant`` says; ``rank`` indexes ``RANKS``."""

    point: int
    omitted: int | None
    variant: str
    rank: int
    digest: str
    tree: Tree = field(repr=False, compare=False)

    def describe(self, recording: Recording) -> str:
        """Where the crash happened and what reached the disk, for a failure message."""
        lines = [f"crash point {self.point} of {len(recording.ops)}; unsynced writes: {self.variant}"]
        if self.omitted is not None:
            lines.append(f"missing (omit-one): op {self.omitted}, {recording.ops[self.omitted]}")
        lines.append(recording.around(self.point))
        lines.append(f"on disk: {outline(self.tree)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class StateSpace:
    """The distinct crash states of a recording (each with the first crash point and variant
    that built it under its highest rank), and how many states were built to find them."""

    states: tuple[CrashState, ...]
    points: int
    built: int


class _Builder:
    """Builds trees from a recording; each file's contents are built once per variant."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.ops = recording.ops
        self._data: dict[int, list[int]] = {}  # file -> indexes of its writes and truncations
        self._fsyncs: dict[int, list[int]] = {}  # file -> indexes of its fsyncs
        self._dirsyncs: dict[str, list[int]] = {}  # folder -> indexes of its fsyncs
        for index, op in enumerate(self.ops):
            if op.kind in (WRITE, TRUNCATE):
                self._data.setdefault(op.file, []).append(index)
            elif op.kind == FSYNC:
                self._fsyncs.setdefault(op.file, []).append(index)
            elif op.kind == DIRFSYNC:
                self._dirsyncs.setdefault(op.path, []).append(index)
        self._base_content = {ident: recording.base[path] for path, ident in recording.base_files.items()}
        self._prefixes: dict[tuple[int, int], bytes] = {}
        self._contents: dict[tuple[int, int, str], bytes] = {}
        self._digests: dict[tuple[int, int, str], bytes] = {}

    def synced(self, index: int, point: int) -> bool:
        """True when metadata operation ``index`` has its entry on disk at a crash after
        ``point`` operations: each folder it changes was fsynced after it."""
        for folder in {_parent(path) for path in self.ops[index].paths}:
            syncs = self._dirsyncs.get(folder, [])
            after = bisect.bisect_right(syncs, index)
            if after == len(syncs) or syncs[after] >= point:
                return False
        return True

    def names(self, point: int, omitted: int | None) -> tuple[dict[str, int], set[str]] | None:
        """Files (path -> identity) and folders after the metadata operations before ``point``,
        without ``omitted`` and the operations that depend on it: those on the same path (a
        rename of a file whose creation is missing) and those inside it (files in a folder whose
        creation is missing, which vanish with it). None when the state is impossible: an
        operation on the same path was made durable by an fsync of its folder."""
        files = dict(self.recording.base_files)
        folders = {path for path, content in self.recording.base.items() if content is None}
        gone: list[str] = []
        for index in range(point):
            op = self.ops[index]
            if op.kind not in METADATA:
                continue
            if index == omitted or any(_within(path, g) for path in op.paths for g in gone):
                inside = any(_within(path, g) and path != g for path in op.paths for g in gone)
                if index != omitted and not inside and self.synced(index, point):
                    return None
                gone.extend(op.paths)
                continue
            _apply_names(op, files, folders)
        return files, folders

    def _prefix(self, file: int, count: int) -> bytes:
        """The file's bytes after its first ``count`` data operations."""
        key = (file, count)
        if key not in self._prefixes:
            if count == 0:
                content = self._base_content.get(file) or b""
            else:
                content = _apply_data(self._prefix(file, count - 1), self.ops[self._data[file][count - 1]])
            self._prefixes[key] = content
        return self._prefixes[key]

    def content(self, file: int, count: int, tail: str) -> bytes:
        """The file's bytes after ``count`` data operations and, unless ``tail`` is ``kept``,
        the next one cut short as ``tail`` says."""
        key = (file, count, tail)
        if key not in self._contents:
            content = self._prefix(file, count)
            if tail != KEPT:
                torn = _torn(self.ops[self._data[file][count]], tail)
                assert torn is not None
                content = _apply_data(content, torn)
            self._contents[key] = content
        return self._contents[key]

    def variants(self, file: int, point: int) -> dict[str, tuple[int, str]]:
        """The file's variants at a crash point: name -> (data operations kept whole, tail)."""
        data = self._data.get(file, [])
        issued = bisect.bisect_left(data, point)
        syncs = self._fsyncs.get(file, [])
        last_sync = bisect.bisect_left(syncs, point) - 1
        durable = bisect.bisect_left(data, syncs[last_sync]) if last_sync >= 0 else 0
        found = {KEPT: (issued, KEPT)}
        if issued == durable:
            return found
        found[DROPPED] = (durable, KEPT)
        last = self.ops[data[issued - 1]]
        for tail in (TORN_HALF, TORN_BLOCK, ZEROED):
            if _torn(last, tail) is not None:
                found[tail] = (issued - 1, tail)
        return found

    def _chosen(self, ident: int, point: int, chosen: dict[int, str]) -> tuple[int, str]:
        return self.variants(ident, point)[chosen.get(ident, KEPT)]

    def tree(self, files: dict[str, int], folders: set[str], point: int, chosen: dict[int, str]) -> Tree:
        """The tree of a crash state (``chosen``: file -> variant name; the others kept)."""
        tree: Tree = dict.fromkeys(folders)
        for path, ident in files.items():
            tree[path] = self.content(ident, *self._chosen(ident, point, chosen))
        return dict(sorted(tree.items()))

    def digest(self, files: dict[str, int], folders: set[str], point: int, chosen: dict[int, str]) -> str:
        """``tree_digest`` of a crash state, from the files' digests (each computed once)."""
        entries: list[tuple[str, bytes]] = [(path, _FOLDER) for path in folders]
        for path, ident in files.items():
            key = (ident, *self._chosen(ident, point, chosen))
            if key not in self._digests:
                self._digests[key] = hashlib.sha256(self.content(*key)).digest()
            entries.append((path, self._digests[key]))
        digest = hashlib.sha256()
        for path, value in sorted(entries):
            digest.update(path.encode() + b"\0" + value)
        return digest.hexdigest()


def _apply_names(op: Op, files: dict[str, int], folders: set[str]) -> None:
    """Apply one metadata operation to a view of the names."""
    if op.kind == CREATE:
        files[op.path] = op.file
    elif op.kind == MKDIR:
        folders.add(op.path)
    elif op.kind == UNLINK:
        files.pop(op.path, None)
    elif op.kind in (RMDIR, RMTREE):
        for path in [p for p in files if _within(p, op.path)]:
            del files[path]
        folders.difference_update([p for p in folders if _within(p, op.path)])
    elif op.kind == RENAME:
        if op.path in files:
            files.pop(op.dest, None)
            files[op.dest] = files.pop(op.path)
            return
        moved = [p for p in folders if _within(p, op.path)]
        folders.difference_update(moved)
        folders.update(op.dest + p[len(op.path) :] for p in moved)
        for path in [p for p in files if _within(p, op.path)]:
            files[op.dest + path[len(op.path) :]] = files.pop(path)


def _apply_data(content: bytes, op: Op) -> bytes:
    """A file's bytes after one write or truncation (a gap before a write reads as zeroes)."""
    if op.kind == TRUNCATE:
        return content[: op.offset] + b"\0" * max(0, op.offset - len(content))
    start, end = op.offset, op.offset + len(op.data)
    padded = content + b"\0" * max(0, start - len(content))
    return padded[:start] + op.data + padded[end:]


def _torn(op: Op, tail: str) -> Op | None:
    """What reaches the disk of a write in a torn variant, or None where the variant does not
    apply (a truncation, a write too short to cut, no block boundary inside the write, or one
    that cuts where torn-half does)."""
    size = len(op.data)
    if op.kind != WRITE or size < 2:
        return None
    if tail == ZEROED:
        return Op(WRITE, op.path, file=op.file, offset=op.offset, data=bytes(size))
    cut = size // 2
    if tail == TORN_BLOCK:
        cut = (op.offset // BLOCK + 1) * BLOCK - op.offset
        if not 0 < cut < size or cut == size // 2:
            return None
    return Op(WRITE, op.path, file=op.file, offset=op.offset, data=op.data[:cut])


def _combinations(options: dict[int, list[str]], cap: int) -> list[dict[int, str]]:
    """Variant choices for the files with unsynced writes (file -> its variants, ``kept``
    first): every combination, or when there are more than ``cap`` a deterministic selection:
    every file with the same variant, then each file's each variant with every other file
    kept, then with every other file dropped."""
    files = sorted(options)
    if math.prod(len(names) for names in options.values()) <= cap:
        return [
            dict(zip(files, combo, strict=True)) for combo in itertools.product(*(options[f] for f in files))
        ]
    chosen = [{f: kind if kind in options[f] else KEPT for f in files} for kind in VARIANTS]
    for base in (KEPT, DROPPED):
        for f in files:
            chosen += [
                {g: kind if g == f else base if base in options[g] else KEPT for g in files}
                for kind in options[f]
            ]
    unique: dict[tuple[str, ...], dict[int, str]] = {}
    for combo in chosen:
        unique.setdefault(tuple(combo[f] for f in files), combo)
    return list(unique.values())


def crash_states(
    recording: Recording, *, volatile: Sequence[str] = (), max_combinations: int = 16
) -> StateSpace:
    """Every distinct state a crash during the recorded write may leave (the module docstring
    gives the model), in the order first built: by crash point, and at each the states without
    an omitted operation first, all kept before the other variants."""
    builder = _Builder(recording)
    ops = recording.ops
    seen: dict[str, CrashState] = {}
    built = 0
    for point in range(len(ops) + 1):
        last = ops[point - 1].kind if point else None
        omissions: list[int | None] = [None]
        omissions += [i for i in range(point) if ops[i].kind in METADATA and not builder.synced(i, point)]
        for omitted in omissions:
            names = builder.names(point, omitted)
            if names is None:
                continue
            files, folders = names
            options = {
                ident: list(found)
                for path, ident in files.items()
                if path not in volatile and len(found := builder.variants(ident, point)) > 1
            }
            for chosen in _combinations(options, max_combinations):
                built += 1
                digest = builder.digest(files, folders, point, chosen)
                uniform = set(chosen.values()) <= {KEPT} or set(chosen.values()) == {DROPPED}
                if omitted is None:
                    rank = 0 if uniform else 2
                elif uniform and last == RENAME and ops[omitted].kind in (CREATE, MKDIR, RENAME):
                    rank = 1  # the reordering that breaks references: a name published first
                elif uniform and last in (RENAME, UNLINK, RMDIR, RMTREE):
                    rank = 3
                else:
                    rank = 4
                # A state seen before keeps its place, under its highest rank (so that the
                # all-kept state of every crash point is rank 0, however it was first built).
                if digest in seen and seen[digest].rank <= rank:
                    continue
                variant = _describe_variant(chosen, files)
                tree = builder.tree(files, folders, point, chosen)
                seen[digest] = CrashState(point, omitted, variant, rank, digest, tree)
    return StateSpace(tuple(seen.values()), len(ops) + 1, built)


def _describe_variant(chosen: dict[int, str], files: dict[str, int]) -> str:
    if not chosen:
        return "none unsynced"
    kinds = set(chosen.values())
    if len(kinds) == 1:
        return f"all {kinds.pop()}"
    paths = {ident: path for path, ident in files.items()}
    return ", ".join(f"{paths[f]} {kind}" for f, kind in sorted(chosen.items(), key=lambda e: paths[e[0]]))


# -- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A crash state a check refused, why, and the folder it is left in for a closer look."""

    state: CrashState
    problems: tuple[str, ...]
    folder: Path

    def report(self, recording: Recording) -> str:
        problems = "\n".join(f"  - {p}" for p in self.problems)
        return f"{self.state.describe(recording)}\n{problems}\n  (the state is left in {self.folder})"


@dataclass(frozen=True)
class Exploration:
    """What ``explore`` did: the trace's size, the states built and checked per rank, the
    failures (with the recording, to describe them)."""

    name: str
    recording: Recording = field(repr=False)
    points: int
    built: int
    distinct: tuple[int, ...]  # distinct states per rank
    checked: tuple[int, ...]  # states checked per rank
    failures: tuple[Failure, ...]

    def summary(self) -> str:
        ranks = "; ".join(
            f"rank {rank}: {checked}/{distinct}"
            for rank, (checked, distinct) in enumerate(zip(self.checked, self.distinct, strict=True))
        )
        return (
            f"{self.name}: {len(self.recording.ops)} operations, {self.points} crash points, "
            f"{self.built} states built, {sum(self.distinct)} distinct, {sum(self.checked)} checked "
            f"({ranks}), {len(self.failures)} failed"
        )

    def report(self, limit: int = 5) -> str:
        """The summary and the first ``limit`` failures, described."""
        parts = [self.summary(), *(f.report(self.recording) for f in self.failures[:limit])]
        if len(self.failures) > limit:
            parts.append(f"... and {len(self.failures) - limit} more failed states")
        return "\n\n".join(parts)


def select(states: Sequence[CrashState], budget: int | None) -> list[CrashState]:
    """The states to check: every state of rank 0, then rank by rank while ``budget`` lasts
    (None: no limit); of a rank that does not fit whole, states spread evenly over it."""
    chosen: list[CrashState] = []
    for rank in range(len(RANKS)):
        group = [state for state in states if state.rank == rank]
        room = len(group) if budget is None or rank == 0 else max(0, budget - len(chosen))
        if room >= len(group):
            chosen += group
        else:
            chosen += [group[i * len(group) // room] for i in range(room)]
    return chosen


def explore(
    name: str,
    recording: Recording,
    workdir: Path,
    check: Callable[[Path], Sequence[str]],
    *,
    budget: int | None = None,
    volatile: Sequence[str] = (),
    max_combinations: int = 16,
) -> Exploration:
    """Build the crash states of ``recording``, write each chosen one (``select``) into a
    folder under ``workdir`` and run ``check`` on it: the problems it finds, none when the
    state is good. An exception from ``check`` counts as a problem. A failed state is written
    again, as the crash left it, for a closer look; the folders of good states are removed."""
    space = crash_states(recording, volatile=volatile, max_combinations=max_combinations)
    chosen = select(space.states, budget)
    failures = []
    for number, state in enumerate(chosen):
        folder = write_tree(state.tree, workdir / f"state-{number:05d}")
        try:
            problems = list(check(folder))
        except Exception as exc:  # the check's own failure is this state's failure
            problems = [f"the check raised {type(exc).__name__}: {exc}"]
        shutil.rmtree(folder, ignore_errors=True)
        if problems:
            failures.append(Failure(state, tuple(problems), write_tree(state.tree, folder)))
    count = [0] * len(RANKS)
    for state in space.states:
        count[state.rank] += 1
    checked = [0] * len(RANKS)
    for state in chosen:
        checked[state.rank] += 1
    return Exploration(
        name, recording, space.points, space.built, tuple(count), tuple(checked), tuple(failures)
    )
