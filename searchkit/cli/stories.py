"""The ``stories`` and ``story`` commands (searchkit/stories.py says what a story is)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..models import format_datetime
from ..options import MAX_LIMIT
from ..storyview import Story
from .options import IndexDir, Json, _with_search_options
from .output import out, print_json, shown


def register(app: typer.Typer, open_index: Any) -> None:
    """Add the commands to ``app``; ``open_index(index_dir)`` opens an index to search."""

    @app.command("stories")
    @_with_search_options
    def stories_command(
        query: Annotated[str, typer.Argument(help="Query in Whoosh syntax; empty or * matches all.")] = "",
        min_size: Annotated[int, typer.Option(min=1, help="Leave out stories with fewer items.")] = 1,
        limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Stories to show.")] = 10,
        index_dir: IndexDir = None,
        as_json: Json = False,
        **filters: Any,
    ) -> None:
        """Stories (items reporting one event) that match, largest first, then newest."""
        given = {name: value for name, value in filters.items() if value is not None}
        with open_index(index_dir) as index:
            found = index.stories(query, min_size=min_size, limit=limit, **given)
        if as_json:
            print_json(found.to_dict())
            return
        out.print(f"{found.total} stor{'ies' if found.total != 1 else 'y'} (showing {len(found.stories)})")
        for rank, story in enumerate(found.stories, start=1):
            out.print()
            print_story(story, rank=rank)

    @app.command("story")
    def story_command(
        story: Annotated[str, typer.Argument(help="Story id, or an item's id or url: its story.")],
        index_dir: IndexDir = None,
        as_json: Json = False,
    ) -> None:
        """Show one story: its items from every provider, oldest first."""
        with open_index(index_dir) as index:
            found = index.story(story)
        if as_json:
            print_json(found.to_dict())
            return
        print_story(found)


def print_story(story: Story, *, rank: int | None = None) -> None:
    """A story as text: its title and summary, then one line per item."""
    first, last = (format_datetime(t) or "undated" for t in (story.first_published, story.last_published))
    number = f"[bold]{rank:>3}.[/] " if rank is not None else ""
    out.print(f"{number}[bold]{shown(story.title)}[/]")
    providers = ", ".join(story.providers) or "unknown provider"
    summary = f"{story.id} · {story.size} item{'s' if story.size != 1 else ''} · {providers}"
    out.print(f"     [dim]{shown(summary)} · {first[:16]} to {last[:16]}[/]")
    for item in story.items:
        copy = f" (duplicate of {item.duplicate_of})" if item.duplicate_of else ""
        when = (format_datetime(item.published_at) or "undated")[:16]
        out.print(f"     - {shown(when)} {shown(item.provider or '?')}: {shown(item.title)}{shown(copy)}")
        out.print(f"       [dim]{shown(item.url or item.id)}[/]")
