"""Checksums of index files: recorded with every commit, verified cheaply on open, fully on demand.

Whoosh keeps no checksums: one flipped bit in a column gives a wrong answer (an item dated 2091
sorted first), one in a postings or stored-fields file a zlib, unpickling or decoding error from
deep inside the library. Lucene writes a CRC-32 footer into every index file, checks the small
files and every file's length when it opens a segment, verifies whole files when it merges them
and everything on demand (``CheckIndex``). searchkit does the same around Whoosh's files:

- **Recorded with the commit.** Whoosh commits by renaming a new table of contents
  ``_MAIN_<n>.toc`` into place. Just before that rename, ``record`` writes ``_MAIN_<n>.sums``:
  the size and CRC-32 of the TOC and of every segment file, made durable (and the folder
  fsynced, so that every file the TOC names has its entry on disk before the TOC does). A
  segment's files never change once written, so the entries of files the previous commit had
  are carried over, and a commit computes the checksums of its new files only.
- **Verified cheaply on open** (readers and writers): every file of the commit exists with its
  recorded size (a truncated file is caught here), and every file of at most ``CHEAP_LIMIT``
  bytes is verified whole: the TOC and the per-document columns (dates, numbers, ids, field
  lengths), whose damage would give wrong answers rather than errors. The large files (postings,
  terms, stored items) are verified by a full check.
- **Verified fully** by ``searchkit check`` (``SearchIndex.check()``), before a segment is merged
  into a new one (an update never copies damage into a file with a fresh checksum), and when a
  read fails inside Whoosh: the failure is then reported as ``IndexCorruptError`` naming the
  damaged file (``damage_error``).

An index written before checksums existed has no ``.sums`` files and no ``"checksums"`` mark in
its ``searchkit.json``; it is read as before, and ``check`` says that ``--rebuild`` adds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IndexCorruptError
from .models import CheckReport, DamagedFile

if TYPE_CHECKING:
    from .store import IndexLocation

#: Whoosh's name for the one index in a generation folder.
INDEX_NAME = "MAIN"

#: Files up to this size are verified whole whenever an index is opened.
CHEAP_LIMIT = 1 << 20

#: The mark a generation's ``searchkit.json`` carries when each of its commits has checksums.
META_KEY = "checksums"

_TOC = re.compile(rf"_{INDEX_NAME}_(\d+)\.toc")
_SUMS = re.compile(rf"_{INDEX_NAME}_(\d+)\.sums")
_COMPANION = re.compile(rf"_{INDEX_NAME}_(\d+)\.([a-z]+)")
_SEGMENT_FILE = re.compile(rf"({INDEX_NAME}_[0-9a-z]+)\.[A-Za-z0-9_.]+")
_CHUNK = 1 << 20

#: name -> (size, CRC-32)
Table = dict[str, tuple[int, int]]


def toc_generation(name: str) -> int | None:
    """The commit number of a TOC file name (``_MAIN_7.toc`` -> 7), None for other names."""
    match = _TOC.fullmatch(name)
    return int(match.group(1)) if match else None


def toc_name(generation: int) -> str:
    return f"_{INDEX_NAME}_{generation}.toc"


def sums_name(generation: int) -> str:
    return f"_{INDEX_NAME}_{generation}.sums"


def companion_name(generation: int, suffix: str) -> str:
    """A file kept with commit ``generation`` beside its TOC (``_MAIN_7.stories``)."""
    return f"_{INDEX_NAME}_{generation}.{suffix}"


def _companions(folder: Path, generation: int) -> list[str]:
    names = []
    for name in os.listdir(folder):
        match = _COMPANION.fullmatch(name)
        if match and int(match.group(1)) == generation and match.group(2) not in ("toc", "sums"):
            names.append(name)
    return names


def crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


# -- recording --------------------------------------------------------------------------------


def write_companions(folder: Path, generation: int, files: dict[str, bytes]) -> None:
    """Write the files commit ``generation`` keeps beside its TOC (suffix -> content), each
    durably; a file the previous commit kept and this one is not given is carried over."""
    from .store import write_atomic_bytes  # store imports this module

    previous = max((n for n in _numbers(folder, _TOC) if n < generation), default=None)
    if previous is not None:
        for name in _companions(folder, previous):
            suffix = name.rsplit(".", 1)[1]
            if suffix not in files:
                files = {**files, suffix: (folder / name).read_bytes()}
    for suffix, data in files.items():
        write_atomic_bytes(folder / companion_name(generation, suffix), data)


def record(folder: Path, generation: int, toc_temp: str) -> None:
    """Write the checksums of commit ``generation``, whose TOC is still at ``toc_temp``: called
    just before the TOC is renamed into place. Leaves the folder fsynced."""
    from .store import write_atomic  # store imports this module

    previous = _latest_table(folder, below=generation)
    table: Table = {}
    for entry in os.scandir(folder):
        if not _SEGMENT_FILE.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        size = entry.stat(follow_symlinks=False).st_size
        known = previous.get(entry.name)
        if known is None or known[0] != size:
            known = (size, crc32_file(Path(entry.path)))
        table[entry.name] = known
    toc = folder / toc_temp
    table[toc_name(generation)] = (toc.stat().st_size, crc32_file(toc))
    for name in _companions(folder, generation):
        path = folder / name
        table[name] = (path.stat().st_size, crc32_file(path))
    text = json.dumps({"generation": generation, "files": table}, sort_keys=True)
    write_atomic(folder / sums_name(generation), text)
    # write_atomic fsynced the folder: the segment files' entries are durable before the TOC's.
    _remove_stale(folder, keep_from=generation - 1)


def _latest_table(folder: Path, *, below: int) -> Table:
    numbers = [n for n in _numbers(folder, _SUMS) if n < below]
    if not numbers:
        return {}
    return read_table(folder, max(numbers)) or {}


def _numbers(folder: Path, pattern: re.Pattern[str]) -> list[int]:
    found = []
    for name in os.listdir(folder):
        match = pattern.fullmatch(name)
        if match:
            found.append(int(match.group(1)))
    return found


def _remove_stale(folder: Path, *, keep_from: int) -> None:
    """Remove the tables of commits before ``keep_from``. The previous commit's stays: a
    reader that read its TOC just before this commit still verifies against it."""
    for number in _numbers(folder, _SUMS):
        if number < keep_from:
            with contextlib.suppress(FileNotFoundError):
                (folder / sums_name(number)).unlink()
    for name in os.listdir(folder):
        match = _COMPANION.fullmatch(name)
        if match and int(match.group(1)) < keep_from and match.group(2) not in ("toc", "sums"):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()


def read_table(folder: Path, generation: int) -> Table | None:
    """The checksums recorded with commit ``generation``; None when it has none. A table that
    cannot be read is damage."""
    path = folder / sums_name(generation)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        files = raw["files"]
        return {str(name): (int(size), int(crc)) for name, (size, crc) in files.items()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(
            f"index file {path} is damaged ({exc}); run `searchkit index --rebuild`"
        ) from exc


# -- verifying --------------------------------------------------------------------------------


def commit_of(reader: Any, ix: Any) -> tuple[int, list[str]]:
    """The commit a Whoosh reader reads: its number and its segments' ids (``MAIN_<segid>``)."""
    generation = reader.generation()
    if generation is None or generation < 0:
        generation = ix.latest_generation()
    # An empty index's reader is its own leaf, with no segment.
    found = (leaf.segment() for leaf, _offset in reader.leaf_readers())
    segments = [segment.segment_id() for segment in found if segment is not None]
    return int(generation), segments


def verify(
    folder: Path, generation: int, segments: Iterable[str] | None, *, full: bool, required: bool
) -> tuple[list[DamagedFile], int, int]:
    """Verify commit ``generation`` of the Whoosh index in ``folder``: the files of its TOC and
    of ``segments`` (None: every file the table lists that is on disk, for a commit whose TOC
    cannot be read). ``full`` reads every byte; otherwise sizes, and whole files up to
    ``CHEAP_LIMIT``. Returns the damaged files, and how many files and bytes were read whole.

    ``required``: the commit must have checksums (its generation was written with them)."""
    try:
        table = read_table(folder, generation)
    except IndexCorruptError as exc:
        return [DamagedFile(str(folder / sums_name(generation)), str(exc.__cause__ or exc))], 0, 0
    if table is None:
        if required:
            return [DamagedFile(str(folder / sums_name(generation)), "missing")], 0, 0
        return [], 0, 0
    toc = toc_name(generation)
    damaged: list[DamagedFile] = []
    if segments is None:
        names = [name for name in table if name == toc or (folder / name).exists()]
    else:
        prefixes = tuple(f"{segment}." for segment in segments)
        kept = f"_{INDEX_NAME}_{generation}."
        names = [toc, *(name for name in table if name.startswith((*prefixes, kept)) and name != toc)]
        damaged += [
            DamagedFile(str(folder / f"{segment}.*"), "the commit recorded no checksums for this segment")
            for segment in segments
            if not any(name.startswith(f"{segment}.") for name in table)
        ]
        if full:
            strays = [name for name in os.listdir(folder) if name.startswith(prefixes) and name not in table]
            damaged += [DamagedFile(str(folder / name), "not a file of this commit") for name in strays]
    files = size_read = 0
    for name in sorted(names):
        size, crc = table.get(name, (-1, -1))
        path = folder / name
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            damaged.append(DamagedFile(str(path), "missing"))
            continue
        if actual != size:
            damaged.append(DamagedFile(str(path), f"{actual} bytes, the commit recorded {size}"))
        elif full or size <= CHEAP_LIMIT:
            files += 1
            size_read += size
            if crc32_file(path) != crc:
                damaged.append(DamagedFile(str(path), "checksum mismatch"))
    return damaged, files, size_read


def verify_reader(folder: Path, reader: Any, ix: Any, *, full: bool, required: bool) -> None:
    """Verify the commit ``reader`` reads; raise ``IndexCorruptError`` naming a damaged file."""
    generation, segments = commit_of(reader, ix)
    damaged, _files, _size = verify(folder, generation, segments, full=full, required=required)
    if damaged:
        raise corrupt(damaged)


def merge_check(folder: Path, generation: int, *, required: bool) -> Callable[[Any], None]:
    """What a writer runs on each segment before merging it: a full verification, so that
    damage is reported rather than copied into a new segment with fresh checksums."""

    def check(segment: Any) -> None:
        damaged, _files, _size = verify(
            folder, generation, [segment.segment_id()], full=True, required=required
        )
        if damaged:
            raise corrupt(damaged)

    return check


def corrupt(damaged: list[DamagedFile]) -> IndexCorruptError:
    first = damaged[0]
    more = f" (and {len(damaged) - 1} more file(s))" if len(damaged) > 1 else ""
    return IndexCorruptError(
        f"index file {first.path} is damaged ({first.problem}){more}; run `searchkit index --rebuild`"
    )


def check_folder(folder: Path, *, required: bool) -> tuple[int, list[DamagedFile], int, int]:
    """A full check of the latest commit in a generation folder, whatever state it is in:
    returns the commit number, the damaged files, and the files and bytes verified."""
    numbers = _numbers(folder, _TOC)
    if not numbers:
        return -1, [DamagedFile(str(folder / toc_name(0)), "no table of contents")], 0, 0
    generation = max(numbers)
    segments = _segments(folder, generation)
    if segments is None:  # the TOC cannot be read: verify what the table lists
        damaged, files, size = verify(folder, generation, None, full=True, required=required)
        if not damaged:
            damaged = [DamagedFile(str(folder / toc_name(generation)), "cannot be read")]
        return generation, damaged, files, size
    damaged, files, size = verify(folder, generation, segments, full=True, required=required)
    return generation, damaged, files, size


def _segments(folder: Path, generation: int) -> list[str] | None:
    """The segment ids of commit ``generation``, read from its TOC; None if it cannot be read."""
    from .store import DurableStorage  # store imports this module

    try:
        ix = DurableStorage(str(folder)).open_index()
        with ix.reader() as reader:
            found, segments = commit_of(reader, ix)
    except Exception:  # any damage in the TOC: Whoosh raises unpickling, EOF, struct errors...
        return None
    return segments if found == generation else None


def damage_error(folder: Path, exc: BaseException, *, required: bool) -> IndexCorruptError | None:
    """After a read inside Whoosh failed with ``exc``: check the index fully and return the
    error naming the damaged file, or None when every file is sound (the failure is not
    damage, and is raised as it is)."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
        return None
    try:
        _generation, damaged, _files, _size = check_folder(folder, required=required)
    except OSError:
        return None
    return corrupt(damaged) if damaged else None


def check_report(index_dir: str, folder: Path, *, required: bool) -> CheckReport:
    """``searchkit check``: every byte of the live commit, timed."""
    start = time.perf_counter()
    generation, found, files, size = check_folder(folder, required=required)
    problems = list(found)
    if not required and read_table(folder, generation) is None:
        problems.append(
            DamagedFile(
                str(folder),
                "this index records no checksums (written by an earlier searchkit); "
                "`searchkit index --rebuild` adds them",
            )
        )
    return CheckReport(
        index_dir=index_dir,
        generation=folder.name,
        commit=generation,
        files=files,
        bytes=size,
        damaged=tuple(problems),
        seconds=time.perf_counter() - start,
    )


def check_location(location: IndexLocation) -> CheckReport:
    """``searchkit check`` of an index directory: its live commit, every byte. A ``CURRENT`` or
    ``searchkit.json`` that cannot be read is reported as damage too."""
    try:
        gen = location.require()
        required = location.checksums_required(gen)
    except IndexCorruptError as exc:
        return CheckReport(
            index_dir=str(location),
            generation="",
            commit=-1,
            files=0,
            bytes=0,
            damaged=(DamagedFile(str(location.path), str(exc)),),
        )
    return check_report(str(location), gen, required=required)
