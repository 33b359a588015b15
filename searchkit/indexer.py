"""The write side: bringing an index in line with a corpus, or with items a program hands in.

Updates are incremental: files are compared with what the index recorded for them (size and
modification time, confirmed by a SHA-256 of the content), and only new and changed files are
parsed. A file that was indexed before and is now broken keeps its last good version in the
index (it is reported, not dropped). Every change of one run is one Whoosh commit, made under the
index's write lock; a rebuild writes a new generation and switches to it when it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.writing import IndexWriter

from .errors import CorpusError, DocumentError, IndexCorruptError
from .models import Duplicate, FileError, IndexReport, NewsItem
from .schema import SCHEMA_VERSION, item_document
from .store import IndexLocation, create_whoosh, open_whoosh

#: Called with (files done, files to do) while an indexing run reads files.
Progress = Callable[[int, int], None]

#: Parse in worker processes when at least this many files must be read.
PARALLEL_THRESHOLD = 2_000

#: Writer processes for large batches (each builds one segment).
MAX_WRITER_PROCS = 2

ORIGIN_FILE = "file"
ORIGIN_API = "api"


@dataclass(frozen=True)
class _Recorded:
    """What the index holds about one item's source: the manifest column."""

    size: int
    mtime_ns: int
    sha: str
    origin: str

    @classmethod
    def decode(cls, raw: bytes) -> _Recorded:
        size, mtime, sha, origin = raw.decode("utf-8").split(" ")
        return cls(int(size), int(mtime), sha, origin)

    def encode(self) -> str:
        return f"{self.size} {self.mtime_ns} {self.sha} {self.origin}"


@dataclass(frozen=True)
class _Scanned:
    id: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class _Parsed:
    id: str
    item: NewsItem | None
    error: str | None
    recorded: _Recorded | None


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_one(job: tuple[str, str, int, int]) -> _Parsed:
    """Read, hash and parse one file (runs in a worker process for large runs)."""
    from .documents import parse_bytes  # imported here: searches need no YAML machinery

    ident, path, _size, mtime_ns = job
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _Parsed(ident, None, f"cannot read file: {exc.strerror or exc}", None)
    recorded = _Recorded(len(data), mtime_ns, _hash(data), ORIGIN_FILE)
    try:
        return _Parsed(ident, parse_bytes(data, ident), None, recorded)
    except DocumentError as exc:
        return _Parsed(ident, None, exc.reason, recorded)


class Indexer:
    """Writes one index directory. Every public method takes the write lock for its duration."""

    def __init__(self, location: IndexLocation, *, lock_timeout: float | None = None) -> None:
        self.location = location
        self.lock_timeout = lock_timeout

    def _lock(self):  # type: ignore[no-untyped-def]
        if self.lock_timeout is None:
            return self.location.lock()
        return self.location.lock(self.lock_timeout)

    # -- public operations ------------------------------------------------------------------

    def create(self) -> None:
        """Create an empty index if the directory holds none."""
        self.location.prepare()
        with self._lock():
            if self.location.current() is None:
                self._new_generation(corpus=None)

    def update(self, corpus: str | Path, *, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with ``corpus`` (creating the index if needed)."""
        root = _corpus_root(corpus)
        self.location.prepare()
        with self._lock():
            gen = self.location.current()
            if gen is None:
                gen = self._new_generation(corpus=root)
            else:
                self.location.require()
            # A rebuild killed before its switch leaves a partial generation behind.
            self.location.remove_stale_generations()
            return self._sync(gen, root, progress, fresh=False)

    def rebuild(self, corpus: str | Path, *, progress: Progress | None = None) -> IndexReport:
        """Build a fresh index of ``corpus`` in a new generation, then switch readers to it."""
        root = _corpus_root(corpus)
        self.location.prepare(replace_foreign=False)
        with self._lock():
            # A damaged CURRENT is no obstacle: the switch below rewrites it, then clears the rest.
            with contextlib.suppress(IndexCorruptError):
                self.location.remove_stale_generations()
            gen = self.location.new_generation()
            try:
                self.location.write_meta(gen, schema=SCHEMA_VERSION, corpus=str(root))
                create_whoosh(gen)
                report = self._sync(gen, root, progress, fresh=True)
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            self.location.switch(gen)
            return report

    def add_items(self, items: Iterable[NewsItem]) -> IndexReport:
        """Add or replace items handed in by a program (matched by id); one commit."""
        start = time.perf_counter()
        items = list(items)
        self.location.prepare()
        with self._lock():
            gen = self.location.current() or self._new_generation(corpus=None)
            ix = open_whoosh(gen)
            existing = set(self._manifest(ix))
            added = updated = 0
            writer = ix.writer()
            with ix.searcher() as searcher:
                for item in items:
                    if item.id in existing:
                        writer.delete_by_term("id", item.id, searcher=searcher)
                        updated += 1
                    else:
                        added += 1
                    existing.add(item.id)
                    self._add(writer, item, _Recorded(0, 0, "-", ORIGIN_API))
            writer.commit()
            self.location.write_meta(gen)
            return IndexReport(corpus="", index_dir=str(self.location), added=added,
                               updated=updated, deleted=0, unchanged=0, skipped=0, errors=(),
                               documents=ix.doc_count(), seconds=time.perf_counter() - start)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove items by id; returns how many were in the index."""
        ids = list(ids)
        with self._lock():
            gen = self.location.require()
            ix = open_whoosh(gen)
            writer = ix.writer()
            removed = 0
            with ix.searcher() as searcher:
                for ident in ids:
                    removed += writer.delete_by_term("id", ident, searcher=searcher) or 0
            writer.commit()
            self.location.write_meta(gen)
            return removed

    # -- internals --------------------------------------------------------------------------

    def _new_generation(self, corpus: Path | None) -> Path:
        gen = self.location.new_generation()
        self.location.write_meta(gen, schema=SCHEMA_VERSION,
                                 corpus=str(corpus) if corpus is not None else None)
        create_whoosh(gen)
        self.location.switch(gen)
        return gen

    @staticmethod
    def _manifest(ix: whoosh_index.Index) -> dict[str, _Recorded]:
        """id -> what the index recorded about that item's source, read from columns."""
        result: dict[str, _Recorded] = {}
        try:
            with ix.reader() as reader:
                for segment_reader, _offset in reader.leaf_readers():
                    if not segment_reader.has_column("manifest"):
                        continue  # an empty index
                    ids = segment_reader.column_reader("id")
                    manifest = segment_reader.column_reader("manifest")
                    for docnum in segment_reader.all_doc_ids():
                        raw = manifest[docnum]
                        if raw:
                            result[ids[docnum]] = _Recorded.decode(raw)
        except Exception as exc:  # damaged segment files: Whoosh raises EOFError, struct errors...
            raise IndexCorruptError(f"cannot read the index in {ix.storage.folder}: {exc}; "
                                    "run `searchkit index --rebuild`") from exc
        return result

    @staticmethod
    def _add(writer: IndexWriter, item: NewsItem, recorded: _Recorded) -> None:
        doc_json = json.dumps(item.to_dict(), ensure_ascii=False, separators=(",", ":"))
        writer.add_document(**item_document(item, doc_json, recorded.encode()))

    def _sync(self, gen: Path, root: Path, progress: Progress | None, *, fresh: bool) -> IndexReport:
        start = time.perf_counter()
        ix = open_whoosh(gen)
        recorded = {} if fresh else self._manifest(ix)
        scanned = _scan(root)

        unchanged = 0
        to_read: list[_Scanned] = []
        for entry in scanned:
            old = recorded.get(entry.id)
            if old is not None and old.size == entry.size and old.mtime_ns == entry.mtime_ns:
                unchanged += 1
            else:
                to_read.append(entry)

        parsed = _parse_all(to_read, progress)
        errors: list[FileError] = []
        changes: list[tuple[NewsItem, _Recorded, bool]] = []
        for result in parsed:
            old = recorded.get(result.id)
            if old is not None and result.recorded is not None and old.sha == result.recorded.sha:
                unchanged += 1  # touched, same content
                continue
            if result.item is None:
                errors.append(FileError(result.id, result.error or "unreadable"))
                continue
            assert result.recorded is not None
            changes.append((result.item, result.recorded, old is not None))

        present = {entry.id for entry in scanned}
        gone = [i for i, rec in recorded.items() if rec.origin == ORIGIN_FILE and i not in present]

        if changes or gone:
            writer = _writer(ix, len(changes))
            try:
                with ix.searcher() as searcher:
                    for ident in gone:
                        writer.delete_by_term("id", ident, searcher=searcher)
                    for item, rec, existed in changes:
                        if existed:
                            writer.delete_by_term("id", item.id, searcher=searcher)
                        self._add(writer, item, rec)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
        self.location.write_meta(gen, corpus=str(root))
        added = sum(1 for _, _, existed in changes if not existed)
        with ix.reader() as reader:
            documents = reader.doc_count()
            duplicates = _duplicate_urls(reader)
        errors.sort(key=lambda e: e.path)
        return IndexReport(
            corpus=str(root), index_dir=str(self.location), added=added,
            updated=len(changes) - added, deleted=len(gone), unchanged=unchanged,
            skipped=len(errors), errors=tuple(errors), documents=documents,
            seconds=time.perf_counter() - start, duplicates=duplicates,
        )


def _writer(ix: whoosh_index.Index, additions: int) -> IndexWriter:
    """A writer for ``additions`` new documents: for large batches, Whoosh's multiprocessing
    writer, whose worker processes analyse and write one segment each (both cores at work)."""
    procs = min(os.cpu_count() or 1, MAX_WRITER_PROCS)
    if additions >= PARALLEL_THRESHOLD and procs > 1:
        return _MpWriter(ix, procs=procs, multisegment=True, limitmb=128, compound=False)
    return ix.writer(limitmb=256, compound=False)


class _WriterTask(SubWriterTask):  # type: ignore[misc]  # Whoosh ships no type hints
    parent = 0

    def run(self) -> None:
        _exit_with_parent(self.parent)
        super().run()


class _MpWriter(MpWriter):  # type: ignore[misc]
    """Whoosh's multiprocessing writer, whose worker processes exit when the indexer dies."""

    def _new_task(self) -> SubWriterTask:
        task = _WriterTask(self.storage, self.indexname, self.jobqueue, self.resultqueue,
                           self.subargs, self.multisegment)
        task.parent = os.getpid()
        self.tasks.append(task)
        task.start()
        return task


def _duplicate_urls(reader: Any) -> tuple[Duplicate, ...]:
    """Urls that more than one (live) item declares, with those items' ids."""
    if not reader.doc_count_all() or "url" not in reader.indexed_field_names():
        return ()
    found = []
    for raw in reader.lexicon("url"):
        if reader.doc_frequency("url", raw) < 2:
            continue
        docs = list(reader.postings("url", raw).all_ids())
        if len(docs) > 1:
            ids = sorted(reader.stored_fields(doc)["id"] for doc in docs)
            found.append(Duplicate(raw.decode("utf-8"), tuple(ids)))
    return tuple(found)


def _corpus_root(corpus: str | Path) -> Path:
    root = Path(corpus).resolve()
    if not root.exists():
        raise CorpusError(f"corpus folder {corpus} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus {corpus} is not a folder")
    return root


def _scan(root: Path) -> list[_Scanned]:
    from .documents import iter_corpus_files

    scanned = []
    try:
        for path in iter_corpus_files(root):
            try:
                st = path.stat()
            except OSError:
                continue  # vanished while walking
            scanned.append(_Scanned(path.relative_to(root).as_posix(), path, st.st_size,
                                    st.st_mtime_ns))
    except OSError as exc:
        raise CorpusError(f"cannot read corpus folder {root}: {exc.strerror or exc}") from exc
    return scanned


def _exit_with_parent(parent: int) -> None:
    """Make a worker process (parsing, or Whoosh's writing) exit when the indexer dies.

    Forked workers inherit the indexer's open files, the write lock's among them; a worker
    orphaned by a killed indexer would wait for work forever and keep the index locked.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="searchkit-parent-watch", daemon=True).start()


def _parse_all(entries: Sequence[_Scanned], progress: Progress | None) -> list[_Parsed]:
    jobs = [(e.id, str(e.path), e.size, e.mtime_ns) for e in entries]
    total = len(jobs)
    results: list[_Parsed] = []
    if progress:
        progress(0, total)
    workers = min(os.cpu_count() or 1, 4)
    if total >= PARALLEL_THRESHOLD and workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            for result in pool.map(_parse_one, jobs, chunksize=64):
                results.append(result)
                if progress and len(results) % 64 == 0:
                    progress(len(results), total)
    else:
        for job in jobs:
            results.append(_parse_one(job))
            if progress and len(results) % 64 == 0:
                progress(len(results), total)
    if progress:
        progress(total, total)
    return results
