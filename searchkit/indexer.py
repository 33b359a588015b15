"""The write side: bringing an index in line with a corpus, or with items a program hands in.

Updates are incremental: files are compared with what the index recorded for them (size and
modification time, confirmed by a SHA-256 of the content), and only new and changed files are
parsed. A file that was indexed before and is now broken keeps its last good version in the
index (it is reported, not dropped). Every change of one run is one Whoosh commit, made under the
index's write lock; a rebuild writes a new generation and switches to it when it is complete.
What the index records of each item's source, and when the item entered the index, is its
manifest entry (searchkit/manifest.py), carried forward while its content stays the same.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from whoosh import index as whoosh_index
from whoosh.writing import IndexWriter

from . import stories
from .checksums import damage_error, merge_check, verify_reader
from .corpus import ScannedFile, corpus_root, scan
from .errors import DocumentError, IndexCorruptError, IndexWriteError, SearchkitError
from .manifest import ORIGIN_API, ORIGIN_FILE, Recorded, next_stamp, read_manifest
from .models import FileError, IndexReport, NewsItem, item_from_dict
from .postings import duplicate_urls
from .schema import SCHEMA_VERSION, F, item_document
from .similarity import Fingerprint, fingerprint
from .store import IndexLocation, create_whoosh, open_whoosh
from .whoosh_internals.writers import (
    ParallelWriter,
    Progress,
    open_writer,
    remove_unused_files,
    undone_on_failure,
    verify_before_merge,
)

#: Read, parse and index in writer processes from this many files to read (two batches, one
#: each): an update of 40 files took as long either way, of 300 (200 read) a tenth less.
PARALLEL_THRESHOLD = 64

#: Writer processes for large runs (each builds one segment).
MAX_WRITER_PROCS = 2


@dataclass(frozen=True)
class _Parsed:
    id: str
    item: NewsItem | None
    error: str | None
    recorded: Recorded | None


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_one(ident: str, path: str, mtime_ns: int) -> _Parsed:
    """Read, hash and parse one file (in a writer process for large runs)."""
    from .documents import parse_bytes, read_item_bytes  # here: searches need no YAML machinery

    try:
        data = read_item_bytes(path, ident)
    except DocumentError as exc:
        return _Parsed(ident, None, exc.reason, None)
    recorded = Recorded(len(data), mtime_ns, _hash(data), ORIGIN_FILE)
    try:
        return _Parsed(ident, parse_bytes(data, ident), None, recorded)
    except DocumentError as exc:
        return _Parsed(ident, None, exc.reason, recorded)


Result = TypeVar("Result")
Params = ParamSpec("Params")


def _translating_write_errors(
    method: Callable[Concatenate[Indexer, Params], Result],
) -> Callable[Concatenate[Indexer, Params], Result]:
    """Turn an ``OSError`` of a write (a full disk, a read-only index, a permission) into one
    ``IndexWriteError`` that says what happened, where, and that the last commit is kept."""

    @functools.wraps(method)
    def wrapper(self: Indexer, /, *args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            raise IndexWriteError(write_failure(exc, self.location.path)) from exc

    return wrapper


def write_failure(exc: OSError, where: Path) -> str:
    """A one-line account of a failed write: the file and the system's reason (``No space left
    on device``, ``Read-only file system``, ``Permission denied``), and that nothing is lost."""
    path = exc.filename or where
    return f"cannot write {path}: {exc.strerror or exc}; the index keeps its last commit"


class Indexer:
    """Writes one index directory. Every public method takes the write lock for its duration."""

    def __init__(self, location: IndexLocation, *, lock_timeout: float | None = None) -> None:
        self.location = location
        self.lock_timeout = lock_timeout

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        if self.lock_timeout is None:
            return self.location.lock()
        return self.location.lock(self.lock_timeout)

    # -- public operations ------------------------------------------------------------------

    @_translating_write_errors
    def create(self, *, story_window: float | None = None) -> None:
        """Create an empty index if the directory holds none."""
        self.location.prepare()
        with self._lock():
            if self.location.current() is None:
                self._new_generation(corpus=None, story_window=story_window)

    @_translating_write_errors
    def update(
        self, corpus: str | Path, *, progress: Progress | None = None, story_window: float | None = None
    ) -> IndexReport:
        """Bring the index in line with ``corpus`` (creating the index if needed, its stories
        with ``story_window``; a first build that fails leaves no index, rather than an empty
        one)."""
        root = corpus_root(corpus)
        self.location.prepare()
        with self._lock():
            gen = self.location.current()
            first = gen is None
            if gen is None:
                gen = self._new_generation(corpus=root, story_window=story_window)
            else:
                self.location.require()
                stories.check_window(gen, story_window)
            try:
                # A rebuild killed before its switch leaves a partial generation behind.
                self.location.remove_stale_generations()
                return self._sync(gen, root, progress, fresh=False)
            except BaseException:
                if first:
                    self.location.discard()
                raise

    @_translating_write_errors
    def rebuild(
        self, corpus: str | Path, *, progress: Progress | None = None, story_window: float | None = None
    ) -> IndexReport:
        """Build a fresh index of ``corpus`` in a new generation, then switch readers to it.
        A file that is broken now keeps the version the live index has of it, as in an update.
        Its stories link items within ``story_window`` (default: the live index's window)."""
        root = corpus_root(corpus)
        self.location.prepare(replace_foreign=False)
        with self._lock():
            # A damaged CURRENT is no obstacle: the switch below rewrites it, then clears the rest.
            with contextlib.suppress(IndexCorruptError):
                self.location.remove_stale_generations()
            live = None
            with contextlib.suppress(IndexCorruptError):
                live = self.location.current()
            gen = self.location.new_generation()
            try:
                self.location.write_meta(gen, schema=SCHEMA_VERSION, corpus=str(root))
                create_whoosh(gen, story_window=story_window or stories.window_of(live))
                report = self._sync(gen, root, progress, fresh=True, carry_from=live)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            self.location.switch(gen)
            return report

    @_translating_write_errors
    def add_items(self, items: Iterable[NewsItem]) -> IndexReport:
        """Add or replace items handed in by a program (matched by id); one commit."""
        start = time.perf_counter()
        items = list(items)
        self.location.prepare()
        with self._lock():
            gen = self.location.current() or self._new_generation(corpus=None)
            ix = open_whoosh(gen)
            existing = read_manifest(ix, required=self.location.checksums_required(gen))
            stamp = next_stamp(existing.values())
            fingerprints: dict[str, bytes] = {}
            replaced: list[str] = []
            with undone_on_failure(ix, ix.writer()) as writer, ix.searcher() as searcher:
                for item in items:
                    before = existing.get(item.id)
                    if before is not None:
                        writer.delete_by_term(F.ID, item.id, searcher=searcher)
                        replaced.append(item.id)
                    doc_json = _item_json(item)
                    # The same content keeps its index times (searchkit/manifest.py).
                    recorded = Recorded(0, 0, _hash(doc_json.encode("utf-8")), ORIGIN_API)
                    existing[item.id] = recorded = recorded.carried(before, stamp)
                    fingerprints[item.id] = self._add(writer, item, recorded, doc_json)
                stories.stage(ix, fingerprints, replaced)
                writer.commit()
            updated = len(replaced)
            added = len(items) - updated
            self.location.write_meta(gen)
            return IndexReport(
                corpus="",
                index_dir=str(self.location),
                added=added,
                updated=updated,
                deleted=0,
                unchanged=0,
                skipped=0,
                errors=(),
                documents=ix.doc_count(),
                seconds=time.perf_counter() - start,
            )

    @_translating_write_errors
    def remove(self, ids: Iterable[str]) -> int:
        """Remove items by id; returns how many were in the index."""
        ids = list(ids)
        with self._lock():
            gen = self.location.require()
            ix = open_whoosh(gen)
            with ix.reader() as reader:
                verify_reader(gen, reader, ix, full=False, required=self.location.checksums_required(gen))
            removed = 0
            with undone_on_failure(ix, ix.writer()) as writer, ix.searcher() as searcher:
                for ident in ids:
                    removed += writer.delete_by_term(F.ID, ident, searcher=searcher) or 0
                stories.stage(ix, {}, ids)
                writer.commit()
            self.location.write_meta(gen)
            return removed

    # -- internals --------------------------------------------------------------------------

    def _new_generation(self, corpus: Path | None, story_window: float | None = None) -> Path:
        gen = self.location.new_generation()
        self.location.write_meta(
            gen, schema=SCHEMA_VERSION, corpus=str(corpus) if corpus is not None else None
        )
        create_whoosh(gen, story_window=story_window)
        self.location.switch(gen)
        return gen

    @staticmethod
    def _write(
        ix: whoosh_index.Index,
        writer: IndexWriter,
        jobs: Sequence[_Job],
        gone: list[str],
        kept_files: set[str],
        kept_folders: tuple[str, ...],
        progress: Progress | None,
        carry_from: Path | None,
    ) -> list[_Outcome]:
        """Index ``jobs``, carry over what cannot be read now, delete ``gone`` and the old
        versions of changed items, and commit (or cancel, when nothing changed)."""
        if isinstance(writer, ParallelWriter):
            outcomes = writer.index_files(jobs, progress, batch=JOB_BATCH)
        else:
            outcomes = _index_in_process(writer, jobs, progress)
        replaced = [ident for ident, kind, *_ in outcomes if kind == _CHANGED]
        broken = [ident for ident, kind, *_ in outcomes if kind == _BROKEN] + sorted(kept_files)
        added = {ident: fp for ident, kind, _, fp in outcomes if fp is not None}
        if carry_from is not None and (broken or kept_folders):
            added.update(_carry_over(writer, carry_from, broken, kept_folders))
        if gone or added:
            stories.stage(ix, added, [*gone, *replaced], carry=stories.carry_from(carry_from))
            # New versions sit in new segments, which these deletions cannot touch.
            with ix.searcher() as searcher:
                for ident in gone + replaced:
                    writer.delete_by_term(F.ID, ident, searcher=searcher)
            writer.commit()
        else:  # only touched files: nothing to commit
            writer.cancel()
            remove_unused_files(ix)
        return outcomes

    @staticmethod
    def _add(
        writer: IndexWriter,
        item: NewsItem,
        recorded: Recorded,
        doc_json: str | None = None,
        fp: Fingerprint | None = None,
    ) -> bytes:
        """Add ``item`` (``doc_json``: its JSON, ``fp``: its fingerprint, when already made); its
        fingerprint, encoded."""
        if fp is None:
            fp = fingerprint(item)
        writer.add_document(**item_document(item, doc_json or _item_json(item), recorded.encode(), fp))
        return fp.encode()

    def _sync(
        self, gen: Path, root: Path, progress: Progress | None, *, fresh: bool, carry_from: Path | None = None
    ) -> IndexReport:
        """Bring the index of ``gen`` in line with the corpus ``root`` (``fresh``: ``gen`` is
        empty, nothing is compared). Files broken now keep the version ``carry_from`` (the
        live generation, for a rebuild) has of them."""
        start = time.perf_counter()
        ix = open_whoosh(gen)
        required = self.location.checksums_required(gen)
        recorded = {} if fresh else read_manifest(ix, required=required)
        # What the index had of each item until now, whose index times carry forward (for a
        # rebuild, the live generation's), and the index time of this run.
        before = _manifest_of(carry_from) if fresh else recorded
        stamp = next_stamp(before.values())
        scanned, problems = scan(root)
        # What cannot be read now keeps what the index has of it: a file, or a folder's items.
        kept_files = {problem.path for problem in problems if not problem.folder}
        kept_folders = tuple(problem.path for problem in problems if problem.folder)

        unchanged = 0
        to_read: list[ScannedFile] = []
        for entry in scanned:
            old = recorded.get(entry.id)
            if old is not None and old.size == entry.size and old.mtime_ns == entry.mtime_ns:
                unchanged += 1
            else:
                to_read.append(entry)

        jobs = [(e.id, e.path, e.mtime_ns, before.get(e.id), not fresh, stamp) for e in to_read]
        present = {entry.id for entry in scanned}
        gone = [
            i
            for i, rec in recorded.items()
            if rec.origin == ORIGIN_FILE
            and i not in present
            and i not in kept_files
            and not i.startswith(kept_folders)
        ]

        outcomes: list[_Outcome] = []
        if jobs or gone or (carry_from is not None and problems):
            writer = open_writer(
                ix,
                len(jobs),
                parallel_threshold=PARALLEL_THRESHOLD,
                max_procs=MAX_WRITER_PROCS,
                handle=_index_files,
                segment_memory=SEGMENT_MEMORY,
            )
            verify_before_merge(writer, merge_check(gen, ix.latest_generation(), required=required))
            try:
                with undone_on_failure(ix, writer):
                    outcomes = self._write(
                        ix, writer, jobs, gone, kept_files, kept_folders, progress, carry_from
                    )
            except OSError as exc:  # a full disk, say (a file that cannot be read is in the report)
                raise IndexWriteError(write_failure(exc, gen)) from exc
            except SearchkitError:
                raise
            except Exception as exc:
                damage = damage_error(gen, exc, required=required)
                if damage is not None:  # a read of the index failed inside Whoosh
                    raise damage from exc
                raise
        kinds = Counter(kind for _, kind, *_ in outcomes)
        errors = sorted(
            [
                FileError(ident, reason or "unreadable")
                for ident, kind, reason, _ in outcomes
                if kind == _BROKEN
            ]
            + [FileError(problem.path, problem.reason) for problem in problems],
            key=lambda e: e.path,
        )
        self.location.write_meta(gen, corpus=str(root))
        with ix.reader() as reader:
            documents = reader.doc_count()
            duplicates = duplicate_urls(reader)
        return IndexReport(
            corpus=str(root),
            index_dir=str(self.location),
            added=kinds[_NEW],
            updated=kinds[_CHANGED],
            deleted=len(gone),
            unchanged=unchanged + kinds[_SAME],
            skipped=len(errors),
            errors=tuple(errors),
            documents=documents,
            seconds=time.perf_counter() - start,
            duplicates=duplicates,
        )


#: One file to index: id, path, mtime_ns, what the index recorded for it until now (None for a
#: file new to the index), whether the same content is left as it is (an update; a rebuild
#: adds it again), and the run's index time (searchkit/manifest.py).
_Job = tuple[str, str, int, "Recorded | None", bool, int]

#: What became of one file: id, kind (below), the reason when it could not be parsed, and the
#: fingerprint of what was added (similarity.Fingerprint, encoded).
_Outcome = tuple[str, str, "str | None", "bytes | None"]
_NEW, _CHANGED, _SAME, _BROKEN = "new", "changed", "same", "broken"

#: Files a writer process takes from the queue at a time.
JOB_BATCH = 32

#: A writer process starts a new segment when the postings it holds in memory take about this
#: many bytes (``BlockSegmentWriter.memory``, which overestimates a little): so that the largest
#: corpora build in bounded memory. Reuters items take about 12 KB each at first, less and less
#: as words repeat: one segment holds about 30,000 of them.
SEGMENT_MEMORY = 384 * 1024 * 1024


def _index_files(writer: IndexWriter, jobs: Sequence[_Job]) -> list[_Outcome]:
    """Read, hash and parse the files of ``jobs``, fingerprint their items, and add them to
    ``writer`` (not a file whose content is the one already indexed, nor one that cannot be
    parsed): each step for the whole batch before the next, which keeps each step's code and
    data in the processor's caches (the fingerprints of a full build take a fifth less CPU than
    between parsing and adding each file, the build a tenth less time; benchmarks/README.md).
    The outcomes are in the order of ``jobs``."""
    outcomes: list[_Outcome | None] = []
    adding: list[tuple[int, str, str, NewsItem, Recorded]] = []
    for ident, path, mtime_ns, before, compare, stamp in jobs:
        parsed = _parse_one(ident, path, mtime_ns)
        if (
            compare
            and before is not None
            and parsed.recorded is not None
            and parsed.recorded.sha == before.sha
        ):
            outcomes.append((ident, _SAME, None, None))  # touched, same content
        elif parsed.item is None or parsed.recorded is None:
            outcomes.append((ident, _BROKEN, parsed.error or "unreadable", None))
        else:
            kind = _NEW if before is None or not compare else _CHANGED
            adding.append((len(outcomes), ident, kind, parsed.item, parsed.recorded.carried(before, stamp)))
            outcomes.append(None)
    prints = [fingerprint(item) for *_, item, _ in adding]
    for (n, ident, kind, item, recorded), fp in zip(adding, prints, strict=True):
        outcomes[n] = (ident, kind, None, Indexer._add(writer, item, recorded, fp=fp))
    return [outcome for outcome in outcomes if outcome is not None]


def _index_in_process(writer: IndexWriter, jobs: Sequence[_Job], progress: Progress | None) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    if progress:
        progress(0, len(jobs))
    for start in range(0, len(jobs), JOB_BATCH):
        outcomes.extend(_index_files(writer, jobs[start : start + JOB_BATCH]))
        if progress:
            progress(len(outcomes), len(jobs))
    return outcomes


def _carry_over(
    writer: IndexWriter, previous: Path, idents: list[str], folders: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """Add to ``writer`` the version the index in ``previous`` has of each of ``idents`` and of
    every item under ``folders`` (files and folders that cannot be read now, as it recorded
    them); the fingerprint of each item it had. An index that cannot be read or is damaged
    carries nothing over (the files are reported as broken all the same)."""
    try:
        ix = open_whoosh(previous)
        with ix.reader() as reader:  # fully: what is carried over gets fresh checksums
            verify_reader(previous, reader, ix, full=True, required=False)
        recorded = read_manifest(ix, required=False)
        wanted = [*idents, *(i for i in recorded if folders and i.startswith(folders))]
        carried: dict[str, bytes] = {}
        with ix.searcher() as searcher:
            for ident in wanted:
                old = recorded.get(ident)
                docnum = searcher.document_number(**{F.ID: ident})
                if old is None or docnum is None or old.origin != ORIGIN_FILE:
                    continue
                item = item_from_dict(json.loads(searcher.stored_fields(docnum)[F.DOC]))
                carried[ident] = Indexer._add(writer, item, old)
        return carried
    except (SearchkitError, OSError):
        return {}


def _manifest_of(gen: Path | None) -> dict[str, Recorded]:
    """The manifest of generation ``gen`` (the live one, for a rebuild): empty when there is
    none or it cannot be read."""
    if gen is None:
        return {}
    try:
        return read_manifest(open_whoosh(gen), required=False)
    except (SearchkitError, OSError):
        return {}


def _item_json(item: NewsItem) -> str:
    """The item as the index stores it (``F.DOC``)."""
    return json.dumps(item.to_dict(), ensure_ascii=False, separators=(",", ":"))
