"""The web application: the JSON API, the search page and their shared machinery.

``create_app(index_dir)`` builds the Starlette app of one worker process: one ``SearchIndex``
(read only: no route writes to the index or the corpus), whose calls run one at a time on a
thread of their own, so that the event loop keeps accepting and answering while a search
runs, and each within the time limit (``Asker``), and a cache of search answers kept per
commit of the index (searchkit/server/answers.py). ``app_from_environment`` is the factory
uvicorn's worker processes call: the index directory reaches them in ``$SEARCHKIT_INDEX``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import IndexNotFoundError, SearchIndex
from .answers import CACHE_SIZE, AnswerCache
from .errors import QueryTimeoutError, json_error
from .openapi import openapi
from .page import page_routes
from .routes import ENDPOINTS

#: Seconds an answer may take, waiting for its turn included, before it is abandoned with a
#: 503 ``timeout``. searchkit bounds every query's work (searchkit/limits.py: no query of the
#: fuzz set took over 2 s on Reuters), so a search that passes this limit is abandoned
#: rather than interrupted: it runs to its end on the index's thread, and searches queued
#: behind it whose time runs out meanwhile are dropped without being run.
QUERY_TIMEOUT = 2.0

#: The environment variables the worker processes read their settings from.
INDEX_ENV = "SEARCHKIT_INDEX"
TIMEOUT_ENV = "SEARCHKIT_QUERY_TIMEOUT"
CACHE_ENV = "SEARCHKIT_CACHE_SIZE"

#: Headers of every answer. The page loads its script and style from this server only and
#: runs no inline script; an item's link sends no Referer (the search would leak with it).
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

Answer = TypeVar("Answer")


class Asker:
    """One worker's index: its calls run one at a time, in arrival order, on a thread of their
    own (``SearchIndex`` serialises its calls anyway), each within ``timeout`` seconds."""

    def __init__(self, index: SearchIndex, timeout: float) -> None:
        self.index = index
        self.timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searchkit-index")

    async def __call__(self, ask: Callable[[SearchIndex], Answer]) -> Answer:
        future = self._thread.submit(ask, self.index)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            future.cancel()  # one still waiting for its turn is dropped, not run
            raise QueryTimeoutError(self.timeout) from None

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)
        self.index.close()


def create_app(
    index_dir: str | Path, *, query_timeout: float = QUERY_TIMEOUT, cache_size: int = CACHE_SIZE
) -> Starlette:
    """The app serving the index at ``index_dir`` (which need not exist yet: until it does,
    answers are 503 ``no_index``), keeping up to ``cache_size`` slots of search answers (0:
    none, see searchkit/server/answers.py)."""
    asker = Asker(SearchIndex(index_dir), query_timeout)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(asker.close)

    routes: list[BaseRoute] = [endpoint.route() for endpoint in ENDPOINTS]
    routes += [
        Route("/api/openapi.json", _openapi, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        *page_routes(),
        Mount("/static", StaticFiles(packages=[("searchkit.server", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: _error, 405: _error, Exception: _error},
        lifespan=lifespan,
    )
    app.state.asker = asker
    app.state.answers = AnswerCache(cache_size)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> Starlette:
    """The app of a worker process started by uvicorn (``searchkit serve``): the index
    directory in ``$SEARCHKIT_INDEX``, the time limit in ``$SEARCHKIT_QUERY_TIMEOUT``, the
    cache's size in ``$SEARCHKIT_CACHE_SIZE``."""
    return create_app(
        os.environ.get(INDEX_ENV, "index"),
        query_timeout=float(os.environ.get(TIMEOUT_ENV, QUERY_TIMEOUT)),
        cache_size=int(os.environ.get(CACHE_ENV, CACHE_SIZE)),
    )


async def _error(request: Request, exc: Exception) -> Response:
    return json_error(exc)


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi())


async def _healthz(request: Request) -> Response:
    """200 while the index can be opened; checked beside the searches, not behind them."""
    index: SearchIndex = request.app.state.asker.index
    try:
        if not await run_in_threadpool(index.exists):  # raises for a damaged index
            raise IndexNotFoundError(f"no index at {index.path} yet; build one with `searchkit index`")
    except Exception as exc:
        return json_error(exc)
    return JSONResponse({"status": "ok"})


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)
