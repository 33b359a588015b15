"""Load on `searchkit serve`: concurrent clients against a server on 127.0.0.1, on Reuters.

    python benchmarks/serve.py [--seconds 30] [--clients 16] [--workers 1 2] [--index DIR --corpus DIR]

For each worker count, two runs of ``--seconds`` each, after a warm-up at the same load:
``static`` (the index does not change) and ``watch`` (the server runs with ``--corpus ...
--watch`` over a copy of the corpus while a stream of edits, additions and deletions goes on:
``EDITS_PER_SECOND`` files, a batch every ``EDIT_INTERVAL`` s). Every client keeps one HTTP/1.1
connection open and sends the next request when the answer has come (a closed loop), walking
the benchmark query mix (``corpora.make_workload().queries``, the 64 queries of run.py: words,
phrases, filters, sorts, match-all) from its own starting point, as ``GET /api/search`` with
the CLI's parameters. Figures: requests per second, p50 and p99 latency, answers other than 200
(errors), and connections that broke mid-request (dropped). The client is a small asyncio
loop in this process, on the same machine as the server, so it takes a little of the cores
the server uses.

Writes the "Serving" section of benchmarks/README.md. Only 127.0.0.1 is ever contacted, and
every run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpora  # noqa: E402
from _data import percentile, reuters_corpus, reuters_index  # noqa: E402

README = HERE / "README.md"
START, END = "<!-- serve:start -->", "<!-- serve:end -->"

#: Files changed per second during the watch run, in batches every EDIT_INTERVAL seconds:
#: half edited, a quarter added, a quarter deleted (the added ones, so the corpus keeps its size).
EDITS_PER_SECOND = 10
EDIT_INTERVAL = 1.0
WARM_UP_SECONDS = 8.0


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    dropped: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def query_paths() -> list[str]:
    """The query mix as /api/search urls."""
    paths = []
    for q in corpora.make_workload().queries:
        parameters: list[tuple[str, Any]] = [("q", q.text)]
        for name, value in (
            ("topic", q.topic),
            ("provider", q.provider),
            ("min_quality", q.min_quality),
            ("since", q.since),
            ("until", q.until),
            ("sort", q.sort),
        ):
            if value is not None:
                parameters.append((name, value))
        paths.append("/api/search?" + urlencode(parameters))
    return paths


async def one_client(host: str, port: int, paths: list[str], start: int, until: float, stats: Stats) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    while time.perf_counter() < until:
        path = paths[i % len(paths)]
        i += 1
        began = time.perf_counter()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            stats.dropped += 1
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            continue
        stats.latencies.append(time.perf_counter() - began)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status != 200:
            stats.errors += 1
    writer.close()


async def load(url: str, paths: list[str], clients: int, seconds: float) -> Stats:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    assert host == "127.0.0.1", "the benchmark only ever talks to 127.0.0.1"
    stats = Stats()
    until = time.perf_counter() + seconds
    step = max(1, len(paths) // clients)
    await asyncio.gather(*(one_client(host, port, paths, n * step, until, stats) for n in range(clients)))
    return stats


class Server:
    """`searchkit serve` in a child process on a free port of 127.0.0.1."""

    def __init__(self, index: Path, workers: int, corpus: Path | None = None) -> None:
        argv = [sys.executable, "-m", "searchkit", "serve", "--index-dir", str(index)]
        argv += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
        if corpus is not None:
            argv += ["--corpus", str(corpus), "--watch"]
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  # read after the server stops
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"http://\S+/", line)
        if not found:
            self.stop()
            raise SystemExit(f"the server did not start: {line}{self.stderr()}")
        self.url = found.group(0)
        self.wait_ready()

    def wait_ready(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "healthz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not answer /healthz within 60 s")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def edit_stream(corpus: Path, stop: threading.Event, done: list[int]) -> None:
    """Edit, add and delete files of ``corpus`` until ``stop``: a batch every EDIT_INTERVAL."""
    rng = random.Random(7)
    files = sorted(p for p in corpus.rglob("*.md"))
    added: list[Path] = []
    per_batch = max(4, round(EDITS_PER_SECOND * EDIT_INTERVAL))
    serial = 0
    while not stop.wait(EDIT_INTERVAL):
        for path in rng.sample(files, per_batch // 2):
            with path.open("a", encoding="utf-8") as handle:
                handle.write(f"\nUpdated {time.time():.3f}: markets moved again.\n")
        for _ in range(per_batch // 4):
            source = rng.choice(files)
            serial += 1
            target = source.with_name(f"zz-bench-{serial}.md")
            text = source.read_text(encoding="utf-8").replace(
                "webUrl: ", f"webUrl: https://bench.example/{serial}?", 1
            )
            target.write_text(text, encoding="utf-8")
            added.append(target)
        for _ in range(min(len(added) - per_batch // 4, per_batch // 4)):
            added.pop(0).unlink()
        done[0] += per_batch


def run(
    index: Path, workers: int, paths: list[str], args: argparse.Namespace, corpus: Path | None
) -> dict[str, Any]:
    server = Server(index, workers, corpus)
    stop = threading.Event()
    edits = [0]
    editor = None
    try:
        asyncio.run(load(server.url, paths, args.clients, WARM_UP_SECONDS))
        if corpus is not None:
            editor = threading.Thread(target=edit_stream, args=(corpus, stop, edits))
            editor.start()
        stats = asyncio.run(load(server.url, paths, args.clients, args.seconds))
    finally:
        stop.set()
        if editor is not None:
            editor.join()
        status = server.stop()
    batches = len(re.findall(r"^\d\d:\d\d:\d\d \d+ added", server.stderr(), re.MULTILINE))
    ms = [s * 1000 for s in stats.latencies]
    result = {
        "workers": workers,
        "mode": "watch" if corpus is not None else "static",
        "requests": len(ms),
        "rps": len(ms) / args.seconds,
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "errors": stats.errors,
        "dropped": stats.dropped,
        "statuses": stats.statuses,
        "exit_status": status,
        "edits": edits[0],
        "commits": batches,
    }
    print(
        f"{workers} worker(s), {result['mode']}: {result['rps']:.1f} req/s, p50 {result['p50']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms, {stats.errors} errors, {stats.dropped} dropped"
        + (f", {edits[0]} files changed in {batches} commits" if corpus is not None else ""),
        flush=True,
    )
    return result


def render(results: list[dict[str, Any]], args: argparse.Namespace, documents: int) -> str:
    by = {(r["workers"], r["mode"]): r for r in results}
    lines = [
        START,
        "## Serving (`benchmarks/serve.py`)",
        "",
        f"`searchkit serve` on 127.0.0.1 with the Reuters index ({documents:,} items), "
        f"{args.clients} clients in a closed loop (each sends its next request when the answer "
        f"has come, over one kept-alive connection) for {args.seconds:g} s after an "
        f"{WARM_UP_SECONDS:g} s warm-up, walking the query mix of run.py (64 queries: words, "
        "phrases, filters, sorts, match-all) as `GET /api/search`. `watch`: the same while the "
        f"server runs with `--watch` and {EDITS_PER_SECOND} files a second are edited, added "
        "or deleted (one writer process beside the workers). The client runs on the same "
        f"machine ({platform.machine()}, {os.cpu_count()} cores, shared). Errors are answers "
        "other than 200; dropped are connections broken mid-request.",
        "",
        "| workers | index | requests/s | p50 ms | p99 ms | errors | dropped | changes (commits) |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        changes = f"{r['edits']} files ({r['commits']} commits)" if r["mode"] == "watch" else ""
        lines.append(
            f"| {r['workers']} | {r['mode']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['errors']} | {r['dropped']} | {changes} |"
        )
    one, two = by.get((1, "static")), by.get((2, "static"))
    lines.append("")
    if one:
        lines.append(
            f"- p99 with one worker at {args.clients} clients: {one['p99']:.1f} ms (target: under 100 ms)."
        )
    if one and two:
        lines.append(
            f"- Two workers against one: {two['rps'] / one['rps']:.2f}x the throughput (target: 1.6x)."
        )
    lines.append(END)
    return "\n".join(lines)


def write_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(END) :]
    else:
        anchor = text.find("<!-- results:start -->")
        anchor = anchor if anchor >= 0 else len(text)
        text = text[:anchor] + section + "\n\n" + text[anchor:]
    README.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--index", type=Path, help="an index of --corpus [default: benchmarks/.data's Reuters]"
    )
    parser.add_argument("--corpus", type=Path, help="the corpus of --index [default: Reuters]")
    parser.add_argument("--no-watch", action="store_true", help="skip the runs with --watch")
    parser.add_argument("--no-readme", action="store_true", help="print the figures only")
    args = parser.parse_args()
    index = args.index or reuters_index()
    corpus = args.corpus or reuters_corpus()
    paths = query_paths()
    results = []
    with tempfile.TemporaryDirectory(prefix="searchkit-serve-") as tmp:
        copy = None
        if not args.no_watch:
            # The watch runs change a copy: the corpus and its index, file times kept, so the
            # watcher's first update finds nothing to do.
            copy = Path(tmp) / "corpus"
            shutil.copytree(corpus, copy)
            shutil.copytree(index, Path(tmp) / "index")
        for workers in args.workers:
            results.append(run(index, workers, paths, args, None))
            if copy is not None:
                results.append(run(Path(tmp) / "index", workers, paths, args, copy))
    from searchkit import SearchIndex

    with SearchIndex.open(index) as opened:
        documents = opened.info().documents
    section = render(results, args, documents)
    print(section)
    if not args.no_readme:
        write_readme(section)


if __name__ == "__main__":
    main()
