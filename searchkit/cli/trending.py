"""``searchkit trending``: the values that occur more often in a window of time than before it
(searchkit/trending.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import QueryError
from ..models import TrendingResults, format_datetime
from ..options import MAX_LIMIT
from ..trending import (
    DEFAULT_BASELINE,
    DEFAULT_BY,
    DEFAULT_SCORE,
    DEFAULT_WINDOW,
    MIN_ITEMS,
    SCORES,
    SOURCES,
    parse_length,
)
from .options import IndexDir, Json, _choice, _choices, _with_search_options
from .output import out, print_json, shown


def _length(name: str) -> Any:
    """A callback that checks a ``--window`` or ``--baseline`` span as the parser checks
    options: a bad one is a usage error."""

    def check(value: str) -> str:
        try:
            parse_length(name, value)
        except QueryError as exc:
            raise typer.BadParameter(str(exc).removeprefix(f"invalid {name} ")) from None
        return value

    return check


Window = Annotated[
    str,
    typer.Option(
        "--window",
        metavar="SPAN",
        callback=_length("window"),
        help="How far back from --as-of the window reaches: 90m, 24h, 2d, 1w.",
    ),
]
Baseline = Annotated[
    str,
    typer.Option(
        "--baseline",
        metavar="SPAN",
        callback=_length("baseline"),
        help="The span before the window the window is compared with.",
    ),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        show_default=False,
        help="The end of the window [default: now]; a date (YYYY-MM-DD) means the end of that day.",
    ),
]
if TYPE_CHECKING:  # a str to the type checker; Typer checks and lists an Enum's values
    ByChoice = str
    ScoreChoice = str
else:
    ByChoice = _choices("TrendingBy", tuple(SOURCES))
    ScoreChoice = _choices("TrendingScore", tuple(SCORES))

By = Annotated[
    ByChoice,
    typer.Option(
        "--by", help="What to count: topics, words of titles and excerpts (terms), providers, or stories."
    ),
]
Score = Annotated[
    ScoreChoice,
    typer.Option("--score", help="How values are ranked: JLH, chi-square or percentage (see the README)."),
]


def register(app: typer.Typer) -> None:
    """Add the ``trending`` command to ``app``."""

    @app.command("trending")
    @_with_search_options
    def trending_command(
        query: Annotated[str, typer.Argument(help="Narrow both sets to this query; empty: all items.")] = "",
        window: Window = DEFAULT_WINDOW,
        as_of: AsOf = None,
        baseline: Baseline = DEFAULT_BASELINE,
        by: By = DEFAULT_BY,
        score: Score = DEFAULT_SCORE,
        limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Most values to show.")] = 10,
        index_dir: IndexDir = None,
        as_json: Json = False,
        **filters: Any,
    ) -> None:
        """Show what is trending: values far more frequent in a window than before it."""
        from . import _open_for_search  # the package's: it has finished loading by now

        given = {name: value for name, value in filters.items() if value is not None}
        with _open_for_search(index_dir) as index:
            results = index.trending(
                query,
                window=window,
                as_of=as_of,
                baseline=baseline,
                by=_choice(by),
                score=_choice(score),
                limit=limit,
                **given,
            )
            # A story's id says little to a reader: its title is shown beside it.
            stories = _choice(by) == "stories" and not as_json
            titles = {v.value: index.story(v.value).title for v in results.trending} if stories else {}
        if as_json:
            print_json(results.to_dict())
            return
        narrowed = bool(query.strip() or given)
        out.print(_summary(results, baseline, narrowed))
        if results.trending:
            out.print()
            out.print(_table(results, titles))


def _summary(results: TrendingResults, baseline: str, narrowed: bool) -> str:
    """The line that says what was compared, or why nothing is listed."""
    matching = "matching " if narrowed else ""
    window = f"{format_datetime(results.since)} .. {format_datetime(results.until)}"
    if not results.foreground and not results.background:
        return (
            f"No {matching}items in the window {window} nor in the {baseline} before it: nothing is "
            "trending. Try another --as-of, or a longer --window or --baseline."
        )
    noun = "item" if results.foreground == 1 else "items"
    sizes = f"{results.foreground} {matching}{noun} in the window {window}, "
    sizes += f"{results.background} in the {baseline} before it"
    if not results.foreground:
        return f"{sizes}: nothing is trending. Try another --as-of or a longer --window."
    if not results.background:
        return f"{sizes}: nothing to compare the window with. Try a longer --baseline."
    if not results.trending:
        return (
            f"{sizes}: nothing in at least {MIN_ITEMS} of the window's items is more frequent there "
            "than before."
        )
    return f"{sizes}."


def _table(results: TrendingResults, titles: dict[str, str]) -> Any:
    from rich.table import Table

    table = Table(box=None, padding=(0, 3, 0, 0), pad_edge=False, show_edge=False)
    table.add_column("value", no_wrap=True)
    for name in ("count", "background", "ratio", "score"):
        table.add_column(name, justify="right", no_wrap=True)
    if titles:
        table.add_column("title")
    for value in results.trending:
        table.add_row(
            shown(value.value),
            str(value.count),
            str(value.background_count),
            f"{value.ratio:.1f}x",
            f"{value.score:.4g}",
            *([shown(titles[value.value])] if titles else []),
        )
    return table
