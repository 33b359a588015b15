"""Watch mode: keep an index in line with its corpus folder while files change.

File events come from the ``watchdog`` library (inotify and its peers); where it cannot watch
(no such support, a network file system, too many watches), the folder is polled instead. A
burst of events is batched: the update runs once the folder has been quiet for a moment, so
one commit takes many changes. Every update is an ordinary incremental ``update``, so a batch
that races with more changes is simply followed by another. With alerts, every saved search
runs after each update, and each new match is handed on once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .api import SearchIndex
from .corpus import SUFFIXES
from .errors import SearchkitError
from .models import IndexReport
from .saved import SavedRun

#: watchdog event types that mean a change ("closed" is a close after writing).
_WRITE_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed"})

#: Seconds without new events before a batch is indexed.
QUIET_SECONDS = 0.3
#: A batch is indexed after at most this long, even if events keep coming.
MAX_BATCH_SECONDS = 5.0


def watch(
    index: SearchIndex,
    corpus: str | Path,
    *,
    interval: float = 2.0,
    on_batch: Callable[[IndexReport], None] | None = None,
    stop: threading.Event | None = None,
    use_events: bool = True,
    on_alert: Callable[[SavedRun], None] | None = None,
    on_alert_error: Callable[[SearchkitError], None] | None = None,
) -> None:
    """Update ``index`` from ``corpus`` now, then whenever files change, until ``stop`` is set
    (or KeyboardInterrupt). ``on_batch`` receives the report of every update that changed
    something. Without file events the folder is polled every ``interval`` seconds.

    With ``on_alert``, every saved search runs after each update (searchkit/saved.py), and
    ``on_alert`` receives each run that found new items; the marks move once it has returned,
    so a watcher stopped in between alerts again rather than never. A saved search that fails
    goes to ``on_alert_error`` and the others run (without it, the error is raised)."""
    stop = stop or threading.Event()
    root = Path(corpus)
    changed = threading.Event()
    # Watch before the first update, so that files changed while it runs are not missed.
    observer = _start_observer(root, changed) if use_events else None
    try:
        report = index.update(root)
        if on_batch is not None and _changed(report):
            on_batch(report)
        if on_alert is not None:  # what entered the index while nobody watched, too
            _alert(index, on_alert, on_alert_error)
        while not stop.is_set():
            if observer is None:
                stop.wait(interval)
            else:
                if not changed.wait(interval):
                    continue  # with events, a quiet folder costs nothing
                _settle(changed, stop)
            if stop.is_set():
                break
            report = index.update(root)
            if on_batch is not None and _changed(report):
                on_batch(report)
            if on_alert is not None:  # another writer may have committed, too
                _alert(index, on_alert, on_alert_error)
    finally:
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)


def _settle(changed: threading.Event, stop: threading.Event) -> None:
    """Wait until events stop coming for QUIET_SECONDS (at most MAX_BATCH_SECONDS)."""
    deadline = time.monotonic() + MAX_BATCH_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        changed.clear()
        if not changed.wait(QUIET_SECONDS):
            return


def _alert(
    index: SearchIndex,
    on_alert: Callable[[SavedRun], None],
    on_error: Callable[[SearchkitError], None] | None,
) -> None:
    """Run every saved search without moving its mark, hand each run that found something to
    ``on_alert``, then move the marks of those that have new items (one write)."""
    runs = []
    try:
        for saved in index.saved.list():
            try:
                runs.append(index.saved.run(saved.name, peek=True))
            except SearchkitError as exc:  # a query that no longer works, say: the others run
                if on_error is None:
                    raise
                on_error(exc)
        for run in runs:
            if run.results.hits:
                on_alert(run)
        index.saved.acknowledge(run for run in runs if run.until != run.since)
    except SearchkitError as exc:  # the saved searches cannot be read, or the lock is held
        if on_error is None:
            raise
        on_error(exc)


def _changed(report: IndexReport) -> bool:
    return bool(report.added or report.updated or report.deleted or report.errors)


def _start_observer(root: Path, changed: threading.Event) -> Any:
    """A running watchdog observer that sets ``changed`` on relevant events, or None."""
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:
        return None

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: Any) -> None:
            if event.event_type not in _WRITE_EVENTS:
                return  # opening and reading files (the indexer does) is not a change
            paths = [getattr(event, "src_path", ""), getattr(event, "dest_path", "")]
            if event.is_directory or any(Path(str(p)).suffix.lower() in SUFFIXES for p in paths if p):
                changed.set()

    observer = Observer()
    try:
        observer.schedule(Handler(), str(root), recursive=True)
        observer.start()
    except Exception:  # no inotify, too many watches, an unsupported file system: poll instead
        return None
    return observer
