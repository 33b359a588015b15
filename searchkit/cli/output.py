"""What the command line prints: text for a terminal (rich), JSON, the one error line.

Item text is data: before it reaches the terminal, control characters are replaced
(``shown``), and highlights, which are HTML-escaped with searchkit's ``<mark>``, are turned
into rich markup (``rich_marks``).
"""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

from ..models import Explanation, Hit, IndexReport, SearchResults, format_datetime

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    err.print(f"Error: {shown(message)}")
    # SystemExit, not typer.Exit: this runs outside the app, where nothing turns Exit into a status.
    raise SystemExit(1) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_line(line: str) -> None:
    """One line on stdout, flushed at once (not rich's: a line for a pipe, as it is)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def progress_bar(enabled: bool) -> tuple[Any, Any]:
    if not enabled or not err.is_terminal:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("indexing", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def print_report(report: IndexReport) -> None:
    out.print(
        f"Indexed {shown(report.corpus)} into {shown(report.index_dir)} "
        f"in {report.seconds:.2f} s: {report.added} added, {report.updated} updated, "
        f"{report.deleted} deleted, {report.unchanged} unchanged; "
        f"{report.documents} items in the index."
    )
    for duplicate in report.duplicates:
        err.print(f"Duplicate url {shown(duplicate.url)} in: {shown(', '.join(duplicate.ids))}")
    if report.errors:
        err.print(f"Skipped {report.skipped} file(s):")
        for error in report.errors:
            err.print(f"  {shown(error.path)}: {shown(error.message)}")


_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)

#: Control characters (C0 but tab and newline, DEL, C1): item text is data, and a terminal would
#: take an escape sequence in a title for a command (clear the screen, set the window title).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(value: str) -> str:
    """Text for the terminal: control characters replaced by U+FFFD, rich markup escaped."""
    return escape(_CONTROL.sub("\ufffd", value))


def rich_marks(text: str) -> str:
    """Turn highlights (HTML-escaped text with <mark>…</mark>) into rich markup."""
    parts = []
    last = 0
    for match in _MARK.finditer(text):
        parts.append(shown(html.unescape(text[last : match.start()])))
        parts.append(f"[bold yellow]{shown(html.unescape(match.group(1)))}[/]")
        last = match.end()
    parts.append(shown(html.unescape(text[last:])))
    return "".join(parts)


def print_facets(results: SearchResults) -> None:
    """Facets as compact columns: one column per facet, "value  count" rows."""
    from rich.table import Table

    table = Table(box=None, padding=(0, 3, 0, 0), show_edge=False)
    columns = []
    for name, facet in results.facets.items():
        rows: list[tuple[str, int | None]] = [(value.value, value.count) for value in facet.values]
        if facet.missing:
            rows.append(("(none)", facet.missing))
        if facet.other:
            rows.append((f"+{facet.other} more", None))
        columns.append(rows)
        table.add_column(name, no_wrap=True)
    for i in range(max((len(rows) for rows in columns), default=0)):
        table.add_row(*[_facet_cell(rows[i]) if i < len(rows) else "" for rows in columns])
    out.print()
    out.print(table)


def _facet_cell(row: tuple[str, int | None]) -> str:
    value, count = row
    return shown(value) if count is None else f"{shown(value)} [dim]{count}[/]"


def explanation_lines(node: Explanation, *, indent: int) -> list[str]:
    """An explanation as an indented tree, a node per line: its value, then what it is."""
    lines = [f"{' ' * indent}[cyan]{node.value:>10.4g}[/]  {shown(node.description)}"]
    for child in node.details:
        lines += explanation_lines(child, indent=indent + 2)
    return lines


def hit_lines(hit: Hit, rank: int, *, notes: tuple[str, ...] = ()) -> list[str]:
    """One hit as text (rich markup), after an empty line: its rank and highlighted title, a
    line of provider, date, topics, story and ``notes``, the highlighted snippet, the url."""
    meta = [
        hit.provider.name or hit.provider.domain or "unknown provider",
        (format_datetime(hit.published_at) or "undated")[:10],
    ]
    if hit.topics:
        meta.append(", ".join(hit.topics))
    if hit.story is not None and hit.story.size > 1:
        meta.append(f"story of {hit.story.size} ({hit.story.id})")
    if hit.duplicate_of:
        meta.append(f"duplicate of {hit.duplicate_of}")
    lines = ["", f"[bold]{rank:>3}.[/] {rich_marks(hit.highlights.title)}"]
    lines.append(f"     [dim]{shown(' · '.join([*meta, *notes]))}[/]")
    if hit.highlights.excerpt:
        lines.append(f"     {rich_marks(hit.highlights.excerpt)}")
    lines.append(f"     [dim]{shown(hit.url or hit.id)}[/]")
    return lines


#: Every control character, tab and newline included: a field of a tab-separated line.
_FIELD_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain_field(value: str) -> str:
    """Item text as one field of a tab-separated line, printed without rich: every control
    character (tabs and newlines too) becomes a space."""
    return _FIELD_CONTROL.sub(" ", value)
