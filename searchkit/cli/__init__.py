"""The ``searchkit`` command line: a thin layer over ``SearchIndex``.

This package is the only part of searchkit that imports typer and rich: this module parses
arguments and calls the API, ``output`` prints text or JSON. Every expected error is one
``Error: ...`` line on stderr and exit status 1 (usage errors keep the framework's exit status
2).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..api import SearchIndex
from ..errors import SearchkitError
from ..models import IndexReport, format_datetime
from ..options import MAX_LIMIT, MAX_PAGE
from ..store import LOCK_TIMEOUT
from . import saved as saved_cli
from . import serve as serve_cli
from . import stories as stories_cli
from . import trending as trending_cli
from .options import (
    AsOf,
    Boost,
    Corpus,
    Explain,
    IndexDir,
    Json,
    LockTimeout,
    Recency,
    StoryWindow,
    _choice,
    _with_search_options,
)
from .output import (
    err,
    explanation_lines,
    fail,
    hit_lines,
    out,
    print_facets,
    print_json,
    print_line,
    print_report,
    progress_bar,
    shown,
)

app = typer.Typer(
    name="searchkit",
    help="Full-text search for folders of news items.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX = "index"


def _default_corpus() -> Path:
    """``./corpus`` when it exists, else the sample corpus shipped inside the package."""
    local = Path(DEFAULT_CORPUS)
    if local.is_dir():
        return local
    bundled = resources.files("searchkit") / "sample_corpus"
    if bundled.is_dir():
        return Path(str(bundled))
    return local


def _index_path(index_dir: Path | None) -> Path:
    return index_dir if index_dir is not None else Path(DEFAULT_INDEX)


Answer = TypeVar("Answer")


def _answer(index_dir: Path | None, as_json: bool, ask: Callable[[SearchIndex], Answer]) -> Answer | None:
    """Ask the index at ``index_dir`` and print the answer as JSON if ``as_json``; otherwise
    return it for the command to print as text (None once printed)."""
    with SearchIndex.open(_index_path(index_dir)) as index:
        answer = ask(index)
    if as_json:
        print_json(answer.to_dict())  # type: ignore[attr-defined]
        return None
    return answer


def _corpus_arg(corpus: Path | None) -> Path:
    return corpus if corpus is not None else _default_corpus()


def _run_index(
    index: SearchIndex, corpus: Path, *, rebuild: bool, show_progress: bool, story_window: str | None = None
) -> IndexReport:
    bar, callback = progress_bar(show_progress)
    run = index.rebuild if rebuild else index.update
    if bar is None:
        return run(corpus, story_window=story_window)
    with bar:
        return run(corpus, progress=callback, story_window=story_window)


@app.command("index")
def index_command(
    corpus: Corpus = None,
    index_dir: IndexDir = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help=("Build a fresh index beside the live one and switch to it when complete.")
        ),
    ] = False,
    lock_timeout: LockTimeout = LOCK_TIMEOUT,
    story_window: StoryWindow = None,
    as_json: Json = False,
) -> None:
    """Build or update the index from a folder of news items.

    Exit status: 0 when every file was indexed, 1 when some were skipped (the rest is indexed).
    """
    with SearchIndex(_index_path(index_dir), lock_timeout=lock_timeout) as index:
        report = _run_index(
            index, _corpus_arg(corpus), rebuild=rebuild, show_progress=not as_json, story_window=story_window
        )
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@app.command("watch")
def watch_command(
    corpus: Corpus = None,
    index_dir: IndexDir = None,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between polls when file events are not available.")
    ] = 2.0,
    lock_timeout: LockTimeout = LOCK_TIMEOUT,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts",
            help="After each batch, run every saved search and print a line per new match (batch "
            "lines go to stderr): NAME, added or updated, id, url, title, tab-separated.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per line: per alert with --alerts, else per batch."),
    ] = False,
) -> None:
    """Keep the index up to date while files are added, edited, moved and deleted.

    Prints one line per batch of changes (with --alerts, one per new match of a saved search);
    Ctrl-C stops it cleanly.
    """
    from ..saved import SavedRun
    from ..watch import watch

    folder = _corpus_arg(corpus)
    path = _index_path(index_dir)

    def on_batch(report: IndexReport) -> None:
        if as_json and not alerts:
            print_line(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        line = (
            f"{stamp} {report.added} added, {report.updated} updated, {report.deleted} "
            f"deleted, {report.skipped} skipped in {report.seconds:.2f} s; "
            f"{report.documents} items"
        )
        (err if alerts else out).print(shown(line))
        for error in report.errors:
            err.print(f"  {shown(error.path)}: {shown(error.message)}")

    def on_alert(run: SavedRun) -> None:
        for line in saved_cli.alert_lines(run, as_json=as_json):
            print_line(line)  # a line at a time, flushed: a pipe acts on each at once

    def on_alert_error(exc: SearchkitError) -> None:
        err.print(f"Alerts: {shown(str(exc))}")

    err.print(f"Watching {shown(str(folder))} for changes (index {shown(str(path))}); Ctrl-C to stop.")

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # A service manager stops with SIGTERM: stop as cleanly as on Ctrl-C. SIGINT is set too,
    # since a process started in the background by a shell inherits it as ignored.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    with SearchIndex(path, lock_timeout=lock_timeout) as index:
        try:
            watch(
                index,
                folder,
                interval=interval,
                on_batch=on_batch,
                on_alert=on_alert if alerts else None,
                on_alert_error=on_alert_error,
            )
        except KeyboardInterrupt:
            err.print("Stopped.")


def _open_for_search(index_dir: Path | None) -> SearchIndex:
    """Open the index; a first search with no index at the default place builds it first."""
    path = _index_path(index_dir)
    index = SearchIndex(path)
    if index.exists():
        return index
    if index_dir is None and (not path.exists() or _only_gitignore(path)):
        corpus = _default_corpus()
        err.print(f"No index at {shown(str(path))} yet: building it from {shown(str(corpus))} ...")
        report = _run_index(index, corpus, rebuild=False, show_progress=True)
        err.print(
            f"Indexed {report.documents} items"
            + (f" ({report.skipped} files skipped)" if report.skipped else "")
            + "."
        )
        return index
    return SearchIndex.open(path)


def _only_gitignore(path: Path) -> bool:
    return path.is_dir() and {p.name for p in path.iterdir()} <= {".gitignore"}


def _ranked_by(
    recency: str | None, as_of: str | None, boost: list[Any] | None, filters: dict[str, Any]
) -> dict[str, Any]:
    """The boosts and the given filters of a search command, as ``SearchIndex`` takes them."""
    given = {name: value for name, value in filters.items() if value is not None}
    return {"recency": recency, "as_of": as_of, "boost": [_choice(b) for b in boost or ()], **given}


@app.command("search")
@_with_search_options
def search_command(
    query: Annotated[str, typer.Argument(help="Query in Whoosh syntax; empty or * matches all.")] = "",
    sort: Annotated[
        str | None,
        typer.Option(show_default=False, help="Order [default: relevance with a query, newest without]."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Hits per page.")] = 10,
    page: Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="Page number, from 1.")] = 1,
    facet: Annotated[
        list[str] | None,
        typer.Option("--facet", help="Count matching items per value of this facet (repeatable)."),
    ] = None,
    facet_limit: Annotated[int, typer.Option(min=1, help="Values shown per facet.")] = 10,
    recency: Recency = None,
    as_of: AsOf = None,
    boost: Boost = None,
    explain: Explain = False,
    after: Annotated[
        str | None,
        typer.Option(
            "--after", metavar="CURSOR", show_default=False, help="The page after this cursor (next_cursor)."
        ),
    ] = None,
    collapse: Annotated[
        bool, typer.Option("--collapse", help="One hit per story (its best-ranked item).")
    ] = False,
    index_dir: IndexDir = None,
    as_json: Json = False,
    **filters: Any,
) -> None:
    """Search the index, with filters, sorting, facets and highlighted snippets."""
    arguments = _ranked_by(recency, as_of, boost, filters)
    with _open_for_search(index_dir) as index:
        results = index.search(
            query,
            sort=_choice(sort),
            limit=limit,
            page=page,
            facets=[_choice(f) for f in facet or ()],
            facet_limit=facet_limit,
            explain=explain,
            after=after,
            collapse=collapse,
            **arguments,
        )
    if as_json:
        print_json(results.to_dict())
        return
    lines = []  # printed at once: rich's per-call overhead adds up over a page of hits
    if results.suggestion:
        lines.append(f"Did you mean: [bold]{shown(results.suggestion)}[/]")
    first = (results.page - 1) * results.page_size
    showing = f"{first + 1}-{first + len(results.hits)}" if results.hits else "none"
    if after is not None:
        showing = f"{len(results.hits)} after the cursor"
    stories = f" in {results.stories} stor{'ies' if results.stories != 1 else 'y'}" if collapse else ""
    lines.append(f"{results.total} hit{'s' if results.total != 1 else ''}{stories} (showing {showing})")
    for rank, hit in enumerate(results.hits, start=first + 1):
        lines += hit_lines(hit, rank)
        if hit.explanation is not None:
            lines += explanation_lines(hit.explanation, indent=5)
    out.print("\n".join(lines))
    if results.next_cursor:  # on one line, however long: it is copied whole
        out.print(f"\n[dim]Next page: --after {results.next_cursor}[/]", soft_wrap=True)
    if results.facets:
        print_facets(results)


@app.command("explain")
@_with_search_options
def explain_command(
    query: Annotated[str, typer.Argument(help="Query in Whoosh syntax, as for search.")],
    item: Annotated[str, typer.Argument(help="Item id (path in the corpus) or url.")],
    recency: Recency = None,
    as_of: AsOf = None,
    boost: Boost = None,
    index_dir: IndexDir = None,
    as_json: Json = False,
    **filters: Any,
) -> None:
    """Explain one item's score for a search, or why the search does not find it."""
    with _open_for_search(index_dir) as index:
        explained = index.explain(query, item, **_ranked_by(recency, as_of, boost, filters))
    if as_json:
        print_json(explained.to_dict())
        return
    if explained.matches:
        out.print(f"{shown(explained.id)} matches {shown(explained.query)!r}: score {explained.score:.6g}")
    else:
        out.print(f"{shown(explained.id)} does not match: {shown(explained.reason or '')}")
        if explained.explanation is not None:
            out.print("The query alone would score it:")
    if explained.explanation is not None:
        out.print("\n".join(explanation_lines(explained.explanation, indent=0)))


@app.command("related")
def related_command(
    item: Annotated[str, typer.Argument(help="Item id (path in the corpus) or url.")],
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Most related items to show.")] = 10,
    index_dir: IndexDir = None,
    as_json: Json = False,
) -> None:
    """Items related to one: its listed links, items linking to it, similar items."""
    result = _answer(index_dir, as_json, lambda index: index.related(item, limit=limit))
    if result is None:
        return
    out.print(f"Related to: [bold]{shown(result.item.title)}[/]")
    if not result.related:
        out.print("nothing related found")
    for rank, hit in enumerate(result.related, start=1):
        where = "" if hit.in_index else " [dim](not in the index)[/]"
        meta = [
            hit.reason,
            hit.provider.name or hit.provider.domain or "unknown provider",
            (format_datetime(hit.published_at) or "undated")[:10],
        ]
        out.print(f"[bold]{rank:>3}.[/] {shown(hit.title)}{where}")
        out.print(f"     [dim]{shown(' · '.join(meta))} · {shown(hit.url or hit.id or '')}[/]")


@app.command("suggest")
def suggest_command(
    prefix: Annotated[str, typer.Argument(help="The start of a query; its last word is completed.")],
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Most completions to show.")] = 10,
    index_dir: IndexDir = None,
    as_json: Json = False,
) -> None:
    """Autocomplete a query from title words and topics, most frequent first."""
    result = _answer(index_dir, as_json, lambda index: index.suggest(prefix, limit=limit))
    if result is None:
        return
    for completion in result.completions:
        out.print(shown(completion))


@app.command("show")
def show_command(
    item: Annotated[str, typer.Argument(help="Item id (path in the corpus) or url.")],
    index_dir: IndexDir = None,
    as_json: Json = False,
) -> None:
    """Show one item in full, with its story."""
    shown_item = _answer(index_dir, as_json, lambda index: index.show(item))
    if shown_item is None:
        return
    news, story = shown_item.item, shown_item.story
    data = {**news.to_dict(), "duplicate_of": shown_item.duplicate_of}
    out.print(f"[bold]{shown(news.title)}[/]")
    for key in (
        "id",
        "url",
        "original_url",
        "amp_url",
        "cdn_amp_url",
        "category",
        "type",
        "published_at",
        "quality",
        "heat",
        "published",
        "duplicate_of",
    ):
        if data[key] not in ("", None):
            out.print(f"{key}: {shown(str(data[key]))}")
    out.print(f"provider: {shown(news.provider.name)} ({shown(news.provider.domain)})")
    out.print(f"story: {shown(story.id)} ({story.size} item{'s' if story.size != 1 else ''})")
    if news.topics:
        out.print(f"topics: {shown(', '.join(news.topics))}")
    for image in news.images:
        out.print(f"image: {shown(image.url)}")
    for link in news.related:
        out.print(f"related: {shown(link.title)} <{shown(link.url)}>")
    if news.excerpt:
        out.print()
        out.print(shown(news.excerpt))
    if news.body:
        out.print()
        out.print(shown(news.body))


@app.command("info")
def info_command(
    index_dir: IndexDir = None,
    as_json: Json = False,
) -> None:
    """Summarise the index: items, size on disk, date range, last update, corpus."""
    info = _answer(index_dir, as_json, lambda index: index.info())
    if info is None:
        return
    out.print(f"index:       {shown(info.index_dir)}")
    out.print(f"items:       {info.documents}")
    out.print(f"size:        {info.size_bytes / 1024:.1f} KiB")
    out.print(f"date range:  {format_datetime(info.oldest) or '-'} .. {format_datetime(info.newest) or '-'}")
    out.print(f"last update: {format_datetime(info.last_update) or '-'}")
    out.print(f"corpus:      {shown(info.corpus or '-')}")
    pivots = ", ".join(f"{name} {value:g}" for name, value in info.pivots.items() if value is not None)
    out.print(f"boost pivots: {pivots or '-'} (medians, for --boost)")


@app.command("check")
def check_command(
    index_dir: IndexDir = None,
    as_json: Json = False,
) -> None:
    """Verify every file of the index against the checksums recorded with its commit."""
    report = SearchIndex(_index_path(index_dir)).check()
    if as_json:
        print_json(report.to_dict())
    else:
        where = f" ({report.generation}, commit {report.commit})" if report.generation else ""
        out.print(f"index:    {shown(report.index_dir)}{where}")
        out.print(f"verified: {report.files} files, {report.bytes / 1024:.1f} KiB in {report.seconds:.2f} s")
        for damaged in report.damaged:
            out.print(f"damaged:  {shown(damaged.path)}: {shown(damaged.problem)}")
        if report.ok:
            out.print("OK: every file matches the checksums recorded with its commit")
    if not report.ok:
        problems = f"{len(report.damaged)} problem{'s' if len(report.damaged) > 1 else ''}"
        fail(f"the index is damaged ({problems}); run `searchkit index --rebuild`")


stories_cli.register(app, _open_for_search)
trending_cli.register(app)
saved_cli.register(app)
serve_cli.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SearchkitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise SystemExit(130) from None
