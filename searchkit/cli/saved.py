"""``searchkit saved``: searches kept under a name, and what entered the index since each last
ran (searchkit/saved.py); and the alert lines ``searchkit watch --alerts`` prints."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ..api import SearchIndex
from ..models import format_datetime
from ..options import FILTERS, MAX_LIMIT
from ..saved import SavedRun, SavedSearch
from ..store import LOCK_TIMEOUT
from .options import IndexDir, Json, LockTimeout, _choice, _with_search_options
from .output import hit_lines, out, plain_field, print_json, shown

#: Each filter parameter's option (``since`` -> ``--since``).
_OPTIONS = {param.name: param.option for spec in FILTERS for param in spec.params}

Name = Annotated[str, typer.Argument(help="The saved search's name.", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add the ``saved`` command and its subcommands to ``app``."""
    saved = typer.Typer(
        name="saved",
        help="Save searches, and list what entered the index since each last ran.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    app.add_typer(saved)

    def opened(index_dir: Path | None, lock_timeout: float = LOCK_TIMEOUT) -> SearchIndex:
        from . import _index_path  # the package's: it has finished loading by now

        return SearchIndex.open(_index_path(index_dir), lock_timeout=lock_timeout)

    @saved.command("add")
    @_with_search_options
    def add_command(
        name: Annotated[
            str,
            typer.Argument(help="1 to 64 letters, digits, '-', '_' or '.' (not first).", show_default=False),
        ],
        query: Annotated[str, typer.Argument(help="Query in Whoosh syntax; empty or * matches all.")] = "",
        sort: Annotated[
            str | None,
            typer.Option(show_default=False, help="Order [default: relevance with a query, newest without]."),
        ] = None,
        lock_timeout: LockTimeout = LOCK_TIMEOUT,
        index_dir: IndexDir = None,
        as_json: Json = False,
        **filters: Any,
    ) -> None:
        """Save a search: its runs list the matching items that enter the index from now on."""
        given = {key: value for key, value in filters.items() if value is not None}
        with opened(index_dir, lock_timeout) as index:
            added = index.saved.add(name, query, sort=_choice(sort), **given)
        if as_json:
            print_json(added.to_dict())
            return
        out.print(f"Saved {shown(added.name)}: {shown(_command_line(added))}")
        run = f"searchkit saved run {shown(added.name)}"
        out.print(f"`{run}` lists the matching items that enter the index from now on.")

    @saved.command("list")
    def list_command(index_dir: IndexDir = None, as_json: Json = False) -> None:
        """List the saved searches, with the mark each next run counts from."""
        with opened(index_dir) as index:
            searches = index.saved.list()
        if as_json:
            print_json({"saved": [search.to_dict() for search in searches]})
            return
        if not searches:
            out.print("No saved searches; `searchkit saved add NAME QUERY` saves one.")
            return
        from rich.table import Table

        table = Table(box=None, padding=(0, 3, 0, 0), pad_edge=False, show_edge=False)
        for column in ("name", "search", "new since"):
            table.add_column(column, no_wrap=column != "search")
        for search in searches:
            table.add_row(shown(search.name), shown(_command_line(search)), _since(search.since))
        out.print(table)

    @saved.command("show")
    def show_command(name: Name, index_dir: IndexDir = None, as_json: Json = False) -> None:
        """Show one saved search: its query, filters and sort, and its mark."""
        with opened(index_dir) as index:
            search = index.saved.get(name)
        if as_json:
            print_json(search.to_dict())
            return
        out.print(f"name:     {shown(search.name)}")
        out.print(f"search:   {shown(_command_line(search))}")
        out.print(f"created:  {format_datetime(search.created)}")
        out.print(f"since:    {_since(search.since)} (its next run lists what entered the index after this)")
        out.print(f"last run: {format_datetime(search.last_run) or 'never'}")

    @saved.command("remove")
    def remove_command(
        name: Name,
        lock_timeout: LockTimeout = LOCK_TIMEOUT,
        index_dir: IndexDir = None,
        as_json: Json = False,
    ) -> None:
        """Remove a saved search."""
        with opened(index_dir, lock_timeout) as index:
            removed = index.saved.remove(name)
        if as_json:
            print_json(removed.to_dict())
            return
        out.print(f"Removed {shown(removed.name)}: {shown(_command_line(removed))}")

    @saved.command("run")
    def run_command(
        name: Name,
        peek: Annotated[
            bool,
            typer.Option("--peek", help="Leave the mark where it is: the next run lists these items again."),
        ] = False,
        limit: Annotated[
            int | None,
            typer.Option(
                min=1,
                max=MAX_LIMIT,
                show_default=False,
                help="Show the first N [default: all]; the mark moves past all.",
            ),
        ] = None,
        lock_timeout: LockTimeout = LOCK_TIMEOUT,
        index_dir: IndexDir = None,
        as_json: Json = False,
    ) -> None:
        """List the matching items that entered the index since the last run, then move the mark."""
        with opened(index_dir, lock_timeout) as index:
            run = index.saved.run(name, peek=peek, limit=limit)
        if as_json:
            print_json(run.to_dict())
            return
        lines = [_run_summary(run)]
        for rank, hit in enumerate(run.results.hits, start=1):
            lines += hit_lines(hit, rank, notes=("updated",) if hit.id in run.updated_ids else ())
        out.print("\n".join(lines))


def _run_summary(run: SavedRun) -> str:
    """The first line of a run's text: how many items are new, since when, and of what kind."""
    since = f"since {_since(run.since)}"
    peek = "; peeked: the mark stays" if run.peek else ""
    total = run.results.total
    if not total:
        return f"{shown(run.name)}: nothing new {since}{peek}"
    kinds = f"{run.added} added, {run.updated} updated"
    shown_count = len(run.results.hits)
    showing = f", showing {shown_count}" if shown_count < total else ""
    return f"{shown(run.name)}: {total} new {since} ({kinds}{showing}){peek}"


def _since(moment: datetime | None) -> str:
    return format_datetime(moment) or "the start of the index"


def _command_line(search: SavedSearch) -> str:
    """A saved search as the options of ``searchkit search`` that give its results."""
    words = [shlex.quote(search.query)] if search.query else []
    for key, value in search.filters.items():
        for one in value if isinstance(value, list) else [value]:
            words += [_OPTIONS[key], shlex.quote(str(one))]
    if search.sort:
        words += ["--sort", search.sort]
    return " ".join(words) or "(every item)"


def alert_lines(run: SavedRun, *, as_json: bool) -> list[str]:
    """One line per item of ``run``, for ``watch --alerts``: ``NAME<TAB>added|updated<TAB>ID
    <TAB>URL<TAB>TITLE`` (control characters, tabs and newlines of item text become spaces),
    or, ``as_json``, one JSON object: ``{"saved", "updated", ...the hit}``."""
    lines = []
    for hit in run.results.hits:
        updated = hit.id in run.updated_ids
        if as_json:
            lines.append(
                json.dumps({"saved": run.name, "updated": updated, **hit.to_dict()}, ensure_ascii=False)
            )
        else:
            fields = (run.name, "updated" if updated else "added", hit.id, hit.url, hit.title)
            lines.append("\t".join(plain_field(value) for value in fields))
    return lines
