"""The JSON API: one table of endpoints, each a path, its query parameters and the
``SearchIndex`` call it answers with; the routes and the OpenAPI description are built from it.

Adding an endpoint is one entry of ``ENDPOINTS``: its answer is the call's result as the CLI's
``--json`` prints it (``to_dict()``), so the HTTP face and the CLI cannot drift apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import SearchIndex
from . import params
from .answers import cache_key
from .errors import json_error
from .params import Parameter


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the JSON API.

    ``path`` may end in ``{id}``: an item's id or url, percent-encoded, resolved through the
    index only (``SearchIndex.get``), never as a file path. ``ask`` receives the index, then the
    id (when the path has one) and the parsed parameters as keywords; its result's
    ``to_dict()`` is the answer. ``timed`` adds ``took_ms``, the time the answer took (from
    the request's arrival to its answer, also when the answer was kept). ``cached``: answers
    are kept per commit of the index (searchkit/server/answers.py), when the server keeps any.
    """

    path: str
    summary: str
    ask: Callable[..., Any]
    parameters: tuple[Parameter, ...] = ()
    command: str = ""  # the CLI command whose --json this is
    errors: tuple[int, ...] = (400, 503)
    timed: bool = False
    cached: bool = False

    @property
    def item(self) -> bool:
        """Whether the path ends in an item's id."""
        return self.path.endswith("/{id}")

    def route(self) -> Route:
        path = self.path.replace("{id}", "{id:path}")
        return Route(path, self.answer, methods=["GET"], name=self.path)

    async def answer(self, request: Request) -> Response:
        started = time.perf_counter()
        answers = request.app.state.answers
        key = None
        try:
            arguments = params.parse(self.parameters, request.query_params.multi_items())
            if self.item:
                arguments["id"] = request.path_params["id"]
            if self.cached and answers.enabled:
                # Read before the search, which sees this commit or a later one (answers.py).
                commit = request.app.state.asker.index.commit_id()
                key = None if commit is None else cache_key(self.path, commit, arguments)
                body = None if key is None else answers.get(key)
                if body is not None:
                    return self._response(body, started)
            result = await request.app.state.asker(lambda index: self.ask(index, **arguments))
        except Exception as exc:
            return json_error(exc)
        body = _json(result.to_dict())
        if key is not None:
            answers.put(key, body)
        return self._response(body, started)

    def _response(self, body: bytes, started: float) -> Response:
        """The answer, with ``took_ms`` last when timed (the object's closing brace moved)."""
        if self.timed:
            took = round((time.perf_counter() - started) * 1000, 2)
            body = body[:-1] + b',"took_ms":' + repr(took).encode() + b"}"
        return Response(body, media_type="application/json")


def _json(data: dict[str, Any]) -> bytes:
    """``data`` as Starlette's ``JSONResponse`` encodes it."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def _search(index: SearchIndex, **arguments: Any) -> Any:
    return index.search(**arguments)


def _explain(index: SearchIndex, *, id: str, query: str, **arguments: Any) -> Any:
    return index.explain(query, id, **arguments)


#: The JSON API, in the order the README and the OpenAPI description list it.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "/api/search",
        "Search, with filters, sorting, facets and highlighted snippets.",
        _search,
        params.SEARCH,
        command="search",
        timed=True,
        cached=True,
    ),
    Endpoint(
        "/api/items/{id}",
        "One item in full, by id or url.",
        lambda index, *, id: index.show(id),
        command="show",
        errors=(400, 404, 503),
    ),
    Endpoint(
        "/api/stories",
        "Stories (items reporting one event) that match, largest first, then newest.",
        lambda index, **arguments: index.stories(**arguments),
        params.STORIES,
        command="stories",
        timed=True,
    ),
    Endpoint(
        "/api/story/{id}",
        "One story by its id, or the story of an item (id or url).",
        lambda index, *, id: index.story(id),
        command="story",
        errors=(400, 404, 503),
    ),
    Endpoint(
        "/api/trending",
        "Values that occur more often in a recent window than before it.",
        lambda index, **arguments: index.trending(**arguments),
        params.TRENDING,
        command="trending",
        timed=True,
    ),
    Endpoint(
        "/api/related/{id}",
        "Items related to one: its listed links, items linking to it, similar items.",
        lambda index, *, id, **arguments: index.related(id, **arguments),
        (params.LIMIT,),
        command="related",
        errors=(400, 404, 503),
    ),
    Endpoint(
        "/api/suggest",
        "Autocomplete a query from title words and topics, most frequent first.",
        lambda index, **arguments: index.suggest(**arguments),
        params.SUGGEST,
        command="suggest",
    ),
    Endpoint(
        "/api/info",
        "Summary of the index: items, size on disk, date range, last update, corpus.",
        lambda index: index.info(),
        command="info",
    ),
    Endpoint(
        "/api/explain/{id}",
        "Explain one item's score for a search, or why the search does not find it.",
        _explain,
        params.EXPLAIN,
        command="explain",
        errors=(400, 404, 503),
    ),
)
