"""``searchkit serve``: the HTTP JSON API and the search page (searchkit/server/).

The server's modules are imported when the command runs, so that other commands do not pay
for loading Starlette and uvicorn.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ..models import IndexReport
from .options import IndexDir
from .output import err, fail, out, shown


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve_command)


def serve_command(
    index_dir: IndexDir = None,
    host: Annotated[
        str, typer.Option(envvar="SEARCHKIT_HOST", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(envvar="SEARCHKIT_PORT", min=0, max=65535, help="Port to listen on (0: any free port)."),
    ] = 8080,
    workers: Annotated[
        int,
        typer.Option(envvar="SEARCHKIT_WORKERS", min=1, max=64, help="Worker processes answering requests."),
    ] = 1,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            envvar="SEARCHKIT_CORPUS",
            show_default=False,
            help="Corpus folder for --watch [default: ./corpus, else the bundled sample corpus].",
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep the index up to date with the corpus while serving.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(min=0.1, help="With --watch: seconds between polls when file events are not available."),
    ] = 2.0,
    query_timeout: Annotated[
        float,
        typer.Option(
            envvar="SEARCHKIT_QUERY_TIMEOUT",
            min=0.01,
            help="Seconds an answer may take before it is abandoned with a 503 error.",
        ),
    ] = 2.0,
    cache_size: Annotated[
        int,
        typer.Option(
            envvar="SEARCHKIT_CACHE_SIZE",
            min=0,
            help="Search answers each worker keeps until the index changes, in slots of 16 KB (0: none).",
        ),
    ] = 1024,
    root_path: Annotated[
        str, typer.Option(help="The path the server is reached under behind a reverse proxy (e.g. /news).")
    ] = "",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request on stderr.")] = False,
) -> None:
    """Serve the index over HTTP: a JSON API and a search page.

    Binds to 127.0.0.1 unless told otherwise; Ctrl-C or SIGTERM stops it cleanly.
    """
    from ..api import SearchIndex
    from ..server.run import listen, serve, url_of
    from . import _default_corpus, _index_path, _open_for_search

    if corpus is not None and not watch:
        raise typer.BadParameter("--corpus is read only with --watch", param_hint="--corpus")
    path = _index_path(index_dir)
    if not watch:
        if index_dir is None:
            _open_for_search(index_dir).close()  # builds ./index from the default corpus if need be
        elif not SearchIndex(path).exists():
            err.print(f"No index at {shown(str(path))} yet: answers are 503 until one is built.")
    try:
        sock = listen(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}")
    plural = "s" if workers > 1 else ""
    watching = f", watching {shown(str(corpus or _default_corpus()))}" if watch else ""
    out.print(
        f"Serving {shown(str(path))} on {url_of(sock)} ({workers} worker{plural}{watching}); Ctrl-C to stop."
    )
    out.file.flush()
    serve(
        sock,
        path,
        workers=workers,
        query_timeout=query_timeout,
        cache_size=cache_size,
        root_path=root_path.rstrip("/"),
        access_log=access_log,
        watch=(corpus or _default_corpus(), interval, print_batch) if watch else None,
    )
    err.print("Stopped.")


def print_batch(report: IndexReport) -> None:
    """One line per batch of changes the watcher indexed (as ``searchkit watch`` prints)."""
    stamp = datetime.now().strftime("%H:%M:%S")
    err.print(
        f"{stamp} {report.added} added, {report.updated} updated, {report.deleted} deleted, "
        f"{report.skipped} skipped in {report.seconds:.2f} s; {report.documents} items"
    )
    for error in report.errors:
        err.print(f"  {shown(error.path)}: {shown(error.message)}")
