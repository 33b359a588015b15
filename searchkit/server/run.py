"""Running the server: uvicorn worker processes on one address (each with a listening socket
of its own where the system allows, see ``listen``), and, with ``watch``, one writer process
beside them that keeps the index in line with the corpus.

The workers only read; the watcher is the index's one writer (searchkit/watch.py), and every
worker's ``SearchIndex`` follows its commits. Each worker is started by uvicorn's supervisor,
which restarts a worker that dies; the index directory reaches it in ``$SEARCHKIT_INDEX``.
SIGINT (Ctrl-C) and SIGTERM stop the workers gracefully (answers in flight are finished),
then the watcher between two updates.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import IndexReport, SearchIndex, SearchkitError
from .answers import CACHE_SIZE
from .app import CACHE_ENV, INDEX_ENV, TIMEOUT_ENV

#: Seconds the workers get to finish the answers in flight when stopped.
GRACEFUL_SECONDS = 10

#: Connections waiting to be accepted, per listening socket.
BACKLOG = 2048


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (port 0: any free port). Raises OSError, also
    when another program holds the address (even one that allows sharing it).

    The workers all accept from it. One listening socket lets the first worker to wake accept
    every connection waiting (16 clients that connected at once all went to one of two workers,
    and the other stayed idle), so where the system has ``SO_REUSEPORT`` (Linux, the BSDs,
    macOS) each worker also listens on a socket of its own on the same address
    (``OwnSocket``), and the kernel spreads new connections over all of them: each worker gets
    a share of its own. This one listens from the start, so that connections made while the
    workers start wait for them.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not hasattr(socket, "SO_REUSEPORT"):
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # no sharing: fails if held
        probe.bind((host, port))
        address = probe.getsockname()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        _reusable(sock).bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


class OwnSocket(socket.socket):
    """Stands for a worker's own socket on ``address``: each worker process it is handed to
    (pickled, as uvicorn hands its sockets over) gets a new socket bound to the address with
    ``SO_REUSEPORT``, which uvicorn then listens on."""

    def __init__(self, address: Any, family: socket.AddressFamily) -> None:
        super().__init__(family, socket.SOCK_STREAM)
        self.address = address

    def __reduce__(self) -> tuple[Any, ...]:
        return (_worker_socket, (self.family, self.address))


def _worker_socket(family: socket.AddressFamily, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    _reusable(sock).bind(address)
    return sock


def _reusable(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    sock: socket.socket,
    index_dir: Path,
    *,
    workers: int = 1,
    query_timeout: float,
    cache_size: int = CACHE_SIZE,
    root_path: str = "",
    access_log: bool = False,
    watch: tuple[Path, float, Callable[[IndexReport], None]] | None = None,
) -> None:
    """Serve the index at ``index_dir`` on ``sock`` until SIGINT or SIGTERM; with ``watch``
    (corpus, poll interval, what to do with each batch's report), keep it up to date. Each
    worker keeps ``cache_size`` slots of search answers (searchkit/server/answers.py)."""
    import uvicorn

    os.environ[INDEX_ENV] = str(index_dir.resolve())
    os.environ[TIMEOUT_ENV] = repr(query_timeout)
    os.environ[CACHE_ENV] = str(cache_size)
    config = uvicorn.Config(
        "searchkit.server.app:app_from_environment",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=access_log,
        root_path=root_path,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        server_header=False,
    )
    # Each worker's own socket on the address, where the system allows (see listen).
    own = OwnSocket(sock.getsockname(), sock.family) if hasattr(socket, "SO_REUSEPORT") else None
    stop = multiprocessing.get_context("spawn").Event()
    watcher = None
    if watch is not None:
        corpus, interval, on_batch = watch
        watcher = multiprocessing.get_context("spawn").Process(
            target=_watch,
            args=(str(index_dir), str(corpus), interval, on_batch, stop, os.getpid()),
            name="searchkit-watch",
        )
        watcher.start()
    try:
        # The supervisor, even for one worker: it restarts a worker that dies, and it turns
        # SIGINT and SIGTERM into a graceful stop of every worker.
        _supervisor(config, sock, own).run()
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=60)  # an update in progress is finished and committed
            if watcher.is_alive():
                watcher.terminate()
                watcher.join()
        sock.close()
        if own is not None:
            own.close()


def _supervisor(config: Any, sock: socket.socket, own: socket.socket | None) -> Any:
    """uvicorn's supervisor of the worker processes (older uvicorn releases take the target too)."""
    import inspect

    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    sockets = [sock] if own is None else [sock, own]
    if "target" in inspect.signature(Multiprocess).parameters:
        return Multiprocess(config, target=Server(config).run, sockets=sockets)  # type: ignore[call-arg]
    return Multiprocess(config, sockets=sockets)


def _watch(
    index_dir: str,
    corpus: str,
    interval: float,
    on_batch: Callable[[IndexReport], None],
    stop: Any,
    parent: int,
) -> None:
    """The watcher process: ``searchkit watch`` until the server stops (or dies)."""
    from ..watch import watch

    # Ctrl-C reaches every process of the terminal's group; the server stops this one itself,
    # between two updates.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    def orphaned() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    stopping = threading.Event()

    def follow() -> None:
        stop.wait()
        stopping.set()

    threading.Thread(target=follow, daemon=True).start()
    try:
        with SearchIndex(index_dir) as index:
            watch(index, corpus, interval=interval, on_batch=on_batch, stop=stopping)
    except SearchkitError as exc:  # the server goes on answering from the index as it is
        sys.stderr.write(f"Watching stopped: {exc}\n")
        sys.exit(1)
