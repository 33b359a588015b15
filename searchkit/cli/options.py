"""The command line's option types and the tables its search options are built from."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..boosts import BOOST_FIELDS, parse_half_life
from ..errors import QueryError
from ..options import FACET_NAMES, FILTERS, SORTS, Kind, parse_story_window

IndexDir = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        envvar="SEARCHKIT_INDEX",
        show_default=False,
        help="Index directory [default: ./index].",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _choices(name: str, values: Sequence[str]) -> Any:
    """A str Enum of ``values``: Typer lists an Enum's values in the help and checks them."""
    return Enum(name, [(value, value) for value in values], type=str)


def _choice(value: Any) -> Any:
    """The value Typer gives for an option of ``_choices`` (an Enum member) as a plain str."""
    return None if value is None else str(getattr(value, "value", value))


def _half_life(value: str | None) -> str | None:
    """Check ``--recency`` as the parser checks options: a bad half-life is a usage error."""
    if value is not None:
        try:
            parse_half_life(value)
        except QueryError as exc:
            raise typer.BadParameter(str(exc).removeprefix("invalid half-life ")) from None
    return value


def _story_window(value: str | None) -> str | None:
    """Check ``--story-window`` as the parser checks options."""
    try:
        parse_story_window(value)
    except QueryError as exc:
        raise typer.BadParameter(str(exc).removeprefix("invalid story window ")) from None
    return value


StoryWindow = Annotated[
    str | None,
    typer.Option(
        "--story-window",
        metavar="SPAN",
        show_default=False,
        callback=_story_window,
        help="Items of one story are published within SPAN of each other (default 3d); set when "
        "the index is created or rebuilt.",
    ),
]

Recency = Annotated[
    str | None,
    typer.Option(
        "--recency",
        metavar="HALF_LIFE",
        show_default=False,
        callback=_half_life,
        help="Favour recent items: scores halve every HALF_LIFE of age (90m, 12h, 3d, 2w).",
    ),
]

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        show_default=False,
        help="Ages for --recency count back from TIME [default: now].",
    ),
]

Boost = Annotated[
    list[str] | None,  # choices from BOOST_FIELDS (_with_search_options)
    typer.Option(
        "--boost",
        show_default=False,
        help="Favour items with a high quality or heat (repeatable): score x (1 + v / (v + median)).",
    ),
]

Explain = Annotated[bool, typer.Option("--explain", help="Show how each hit's score is computed.")]

Corpus = Annotated[
    Path | None,
    typer.Argument(
        envvar="SEARCHKIT_CORPUS",
        show_default=False,
        # searchkit checks the folder itself: a folder it cannot read is its own error, which
        # says that nothing was changed.
        readable=False,
        help="Corpus folder [default: ./corpus, else the bundled sample corpus].",
    ),
]

LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        envvar="SEARCHKIT_LOCK_TIMEOUT",
        min=0,
        help="Seconds to wait for another writer to finish before giving up.",
    ),
]


def _with_search_options(command: Callable[..., None]) -> Callable[..., None]:
    """Build a search command's options from the tables of searchkit/options.py: ``--sort``,
    ``--facet`` and ``--boost`` take their choices from ``SORTS``, ``FACETS`` and
    ``boosts.BOOST_FIELDS``, and every filter
    parameter of ``FILTERS`` becomes an option after the first argument, which the command
    receives in ``**filters`` keyed as ``SearchIndex.search`` takes them."""
    signature = inspect.signature(command, eval_str=True)
    first, *rest = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    added = []
    for spec in FILTERS:
        for param in spec.params:
            kind: Any = {Kind.ANY_OF: list[str] | None, Kind.AT_LEAST: int | None}.get(spec.kind, str | None)
            added.append(
                inspect.Parameter(
                    param.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[
                        kind, typer.Option(param.option, help=param.help, show_default=False)
                    ],
                )
            )
    choices = {
        "sort": _choices("Sort", SORTS) | None,
        "facet": list[_choices("Facet", FACET_NAMES)] | None,  # type: ignore[misc]
        "boost": list[_choices("Boost", BOOST_FIELDS)] | None,  # type: ignore[misc]
    }
    rest = [
        p.replace(
            kind=inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[(choices[p.name], *p.annotation.__metadata__)]
            if p.name in choices
            else p.annotation,
        )
        for p in rest
    ]
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[first, *added, *rest]
    )
    command.__annotations__ = {**command.__annotations__, **{p.name: p.annotation for p in [*added, *rest]}}
    return command
