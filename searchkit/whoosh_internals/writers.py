"""Writers for an indexing run: the choice of writer, and writer processes that read, parse and
index files themselves, their segments committed with the parent's deletions in one TOC.

Built from the parts of Whoosh's ``MpWriter`` (multisegment mode), whose own processes take
pickled documents from the parent and whose commit runs before the parent knows which items to
delete.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from whoosh.index import clean_files
from whoosh.multiproc import SubWriterTask
from whoosh.writing import SegmentWriter

from ..errors import IndexWriteError
from .segment import BlockSegmentWriter

Job = TypeVar("Job")
Outcome = TypeVar("Outcome")

#: Called with (files done, files to do) while an indexing run reads files.
Progress = Callable[[int, int], None]


def open_writer(
    ix: Any,
    files: int,
    *,
    parallel_threshold: int,
    max_procs: int,
    handle: Callable[[Any, Any], list[Any]],
    segment_memory: int,
) -> Any:
    """A writer for a run that reads ``files`` files: for large runs (``parallel_threshold``
    files or more), a ``ParallelWriter`` that spreads them over writer processes (both cores at
    work); for small ones, a block segment writer in this process. A large run on one core gets
    Whoosh's own writer, whose memory is bounded (it sorts its postings on disk); a block
    segment writer holds a segment's postings until its commit."""
    procs = min(os.cpu_count() or 1, max_procs)
    if files >= parallel_threshold:
        if procs > 1:
            return ParallelWriter(
                ix, procs, handle=handle, segment_memory=segment_memory, limitmb=128, compound=False
            )
        return ix.writer(limitmb=256, compound=False)
    return BlockSegmentWriter(ix, compound=False)


def verify_before_merge(writer: Any, check: Callable[[Any], None]) -> None:
    """Make ``writer`` call ``check(segment)`` on each existing segment before its merge
    policy merges it (Whoosh's policies hand each merged segment to ``add_reader``)."""
    add_reader = writer.add_reader

    def checked(reader: Any) -> None:
        try:
            for leaf, _offset in reader.leaf_readers():
                check(leaf.segment())
        except BaseException:
            reader.close()  # the merge policy closes it only after a merge
            raise
        add_reader(reader)

    writer.add_reader = checked


@contextlib.contextmanager
def undone_on_failure(ix: Any, writer: Any) -> Iterator[Any]:
    """Write with ``writer``; if anything fails (a full disk mid-commit, damage found before a
    merge), cancel it, release its lock and remove the files it made. Whoosh's ``cancel``
    closes the segment first, which fails again after a failed commit and then never releases
    the writer's lock: the next writer in this process would get a raw ``LockError``."""
    try:
        yield writer
    except BaseException:
        if not writer.is_closed:
            # What a failed write left may fail the same way: the first error is the one to report.
            with contextlib.suppress(Exception):
                writer.cancel()
            lock = getattr(writer, "writelock", None)
            if not writer.is_closed and lock is not None:
                with contextlib.suppress(Exception):
                    lock.release()
                writer.is_closed = True
        # Files of this run (segments a writer process finished, a commit's partial files) are
        # in no TOC: remove them, so that a full disk has its room back.
        with contextlib.suppress(OSError):
            remove_unused_files(ix)
        raise


def remove_unused_files(ix: Any) -> None:
    """Remove the files a cancelled or failed writer created (Whoosh removes them at its next
    commit, which may never come on a full disk): segment files in no TOC, and the temporary
    folders writers keep their per-document columns in until they finish."""
    abandon = getattr(ix.storage, "abandon_files", None)
    if abandon is not None:
        abandon()
    toc = ix._read_toc()
    clean_files(ix.storage, ix.indexname, toc.generation, toc.segments)
    folder = getattr(ix.storage, "folder", None)
    if folder is not None:
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if name.endswith(".tmp") and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)


class _FileWriterTask(SubWriterTask):  # type: ignore[misc]  # Whoosh ships no type hints
    """A writer process: handles the batches of jobs the parent hands out (``handle(writer,
    jobs)`` reads, parses and adds a batch of files; their outcomes), writes them as one segment
    (more when they would not fit in ``segment_memory``), and sends back the segments and each
    job's outcome.

    Files, not parsed items, travel between the processes: nothing is pickled twice and the
    parent never holds the corpus in memory.
    """

    parent = 0
    done: Any = None  # a shared counter of jobs handled, for progress
    handle: Callable[[Any, Any], list[Any]]
    segment_memory = 0

    def run(self) -> None:
        quiet_signals()
        _exit_with_parent(self.parent)
        outcomes: list[Any] = []
        try:
            ix = self.storage.open_index(self.indexname)
            segments = []
            writer = BlockSegmentWriter(ix, _lk=False, **self.kwargs)
            while (jobs := self.jobqueue.get()) is not None:
                outcomes.extend(self.handle(writer, jobs))
                with self.done.get_lock():
                    self.done.value += len(jobs)
                if writer.memory() > self.segment_memory:
                    segments.append(writer._finalize_segment())
                    writer = BlockSegmentWriter(ix, _lk=False, **self.kwargs)
            # Not _finish() or cancel(): they would remove the temporary folder all the
            # writers share; the parent removes it when it commits or cancels.
            if writer._added:
                segments.append(writer._finalize_segment())
            else:
                writer._close_segment()
        except OSError as exc:  # a full disk, say: the parent raises it (pickled whole, with
            self.resultqueue.put(("oserror", exc, []))  # its subclass and both file names)
        except BaseException as exc:  # reported to the parent, which raises it
            self.resultqueue.put(("failed", f"{type(exc).__name__}: {exc}", []))
        else:
            self.resultqueue.put(("ok", segments, outcomes))


class ParallelWriter(SegmentWriter):  # type: ignore[misc]  # Whoosh ships no type hints
    """The parent of the writer processes: hands out the jobs, collects the processes' segments
    and outcomes, and commits them, with its own deletions and documents, in one TOC."""

    def __init__(
        self,
        ix: Any,
        procs: int,
        *,
        handle: Callable[[Any, Any], list[Any]],
        segment_memory: int,
        **kwargs: Any,
    ) -> None:
        import multiprocessing

        super().__init__(ix, **kwargs)
        self.jobqueue: Any = multiprocessing.Queue(procs * 2)
        self.resultqueue: Any = multiprocessing.Queue()
        self.done: Any = multiprocessing.Value("q", 0)
        self.tasks: list[_FileWriterTask] = []
        for _ in range(procs):
            task = _FileWriterTask(
                self.storage, self.indexname, self.jobqueue, self.resultqueue, kwargs, True
            )
            task.parent = os.getpid()
            task.done = self.done
            task.handle = handle
            task.segment_memory = segment_memory
            task.start()
            self.tasks.append(task)
        self.segments_written: list[Any] = []

    def index_files(self, jobs: Sequence[Job], progress: Progress | None, *, batch: int) -> list[Any]:
        """Handle ``jobs`` in the writer processes, ``batch`` at a time; each job's outcome, in
        no set order."""
        total = len(jobs)
        if progress:
            progress(0, total)
        for start in range(0, total, batch):
            self._put(list(jobs[start : start + batch]), progress, total)
        for _ in self.tasks:
            self._put(None, progress, total)
        outcomes: list[Any] = []
        for _ in self.tasks:
            status, payload, done = self._get(progress, total)
            if status == "oserror":
                raise payload
            if status != "ok":
                raise IndexWriteError(
                    f"a writer process failed: {payload}; nothing of this run was committed"
                )
            outcomes.extend(done)
            self.segments_written.extend(payload)
        for task in self.tasks:
            task.join()
        if progress:
            progress(total, total)
        return outcomes

    def _report(self, progress: Progress | None, total: int) -> None:
        if progress:
            progress(min(self.done.value, total), total)

    def _put(self, jobs: list[Any] | None, progress: Progress | None, total: int) -> None:
        while True:
            try:
                self.jobqueue.put(jobs, timeout=0.2)
                return
            except queue.Full:
                self._report(progress, total)
                self._check_alive()

    def _get(self, progress: Progress | None, total: int) -> Any:
        while True:
            try:
                return self.resultqueue.get(timeout=0.2)
            except queue.Empty:
                self._report(progress, total)
                if not any(task.is_alive() for task in self.tasks):
                    try:  # a process that ended after sending has its result in the pipe
                        return self.resultqueue.get(timeout=1)
                    except queue.Empty:
                        self._check_alive()
                        raise IndexWriteError(
                            "a writer process ended without its result; nothing of this run was committed"
                        ) from None

    def _check_alive(self) -> None:
        for task in self.tasks:
            if task.exitcode not in (None, 0):
                raise IndexWriteError(
                    f"a writer process died (exit code {task.exitcode}); nothing of this run was committed"
                )

    def commit(self) -> None:
        final = self._merge_segments(None, None, None) + self.segments_written
        if self._added:  # small segments merged into this writer
            final.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(final)
        self._finish()

    def cancel(self) -> None:
        for task in self.tasks:
            if task.is_alive():
                task.terminate()
        for task in self.tasks:
            task.join()
        super().cancel()


def quiet_signals() -> None:
    """In a forked worker: leave Ctrl-C to the parent (a terminal sends it to every process of
    the group), and let the parent's SIGTERM (``terminate``, when it cancels) end the worker at
    once. A worker would otherwise run the handlers it inherited (``searchkit watch`` raises
    KeyboardInterrupt on both) and print a traceback as it stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _exit_with_parent(parent: int) -> None:
    """Make a writer process exit when the indexer dies.

    Forked workers inherit the indexer's open files, the write lock's among them; a worker
    orphaned by a killed indexer would wait for work forever and keep the index locked.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="searchkit-parent-watch", daemon=True).start()
