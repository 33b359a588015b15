"""The cost of one `/api/search` request inside the server process, without HTTP or a client.

    python benchmarks/profile_serve.py [--passes 5] [--cache-size 0] [--profile [--sort tottime]]

Builds the app of one worker (``create_app``) over the Reuters index and calls it as uvicorn
does (the ASGI interface), one request at a time, over the query mix of benchmarks/serve.py,
after a first pass that fills the caches. Prints the mean, p50, p99 and slowest request time of
the later passes; the first pass's time is printed apart (every cache of the index cold). With
``--profile``, the later passes run under cProfile (the searches, which run on the worker's
index thread, are then called on the event loop's thread so that the profile sees them).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _data import percentile, reuters_index  # noqa: E402
from serve import query_paths  # noqa: E402


async def call(app: Any, path: str) -> int:
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


class OnThisThread:
    """The worker's ``Asker`` without its thread, so that cProfile sees the searches."""

    def __init__(self, asker: Any) -> None:
        self.index = asker.index
        self._asker = asker

    async def __call__(self, ask: Any) -> Any:
        return ask(self.index)

    def close(self) -> None:
        self._asker.close()


async def main(args: argparse.Namespace) -> None:
    from searchkit.server import create_app

    app = create_app(args.index or reuters_index(), cache_size=args.cache_size)
    if args.profile:
        app.state.asker = OnThisThread(app.state.asker)
    paths = query_paths()
    started = time.perf_counter()
    assert all([await call(app, path) == 200 for path in paths])
    first = time.perf_counter() - started
    profiler = cProfile.Profile() if args.profile else None
    times = []
    if profiler is not None:
        profiler.enable()
    for _ in range(args.passes):
        for path in paths:
            began = time.perf_counter()
            await call(app, path)
            times.append((time.perf_counter() - began) * 1000)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
    mean = sum(times) / len(times)
    print(
        f"cache size {args.cache_size}: first pass {first * 1000 / len(paths):.2f} ms a request; "
        f"then {len(times)} requests: mean {mean:.2f} ms, p50 {percentile(times, 50):.2f}, "
        f"p99 {percentile(times, 99):.2f}, slowest {max(times):.2f}"
    )
    await asyncio.to_thread(app.state.asker.close)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument(
        "--cache-size", type=int, default=0, help="the answer cache's slots [default: 0, off]"
    )
    parser.add_argument("--index", type=Path, help="an index [default: benchmarks/.data's Reuters]")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (pstats keys)")
    asyncio.run(main(parser.parse_args()))
