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
(errors), connections that broke mid-request (dropped), and the CPU used by the client and by
each server process. The client is a small asyncio loop in this process (on uvloop when it is
installed, reading answers with a protocol rather than streams), on the same machine as the
server, so it takes some of the cores the server uses: its CPU share is reported beside the
server's. Each configuration runs with the server's cache of answers and without it
(``--cache-sizes``), and ``--repeat N`` adds N shorter static runs of each (``--repeat-seconds``)
whose medians are reported.

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
from _data import median, percentile, reuters_corpus, reuters_index  # noqa: E402

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


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection of a client, as cheap as a client can be in Python:
    each answer is taken from the bytes as they come (status, Content-Length, body) rather
    than read a line at a time, so that the client takes little of the cores it shares."""

    def __init__(self) -> None:
        self.buffer = b""
        self.answer: asyncio.Future[int] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None or self.answer.done():
            return
        head = self.buffer[:head_end].lower()
        at = head.find(b"\r\ncontent-length:")
        length = int(head[at + 17 : head.find(b"\r\n", at + 17)]) if at >= 0 else 0
        if len(self.buffer) >= head_end + 4 + length:
            self.buffer = self.buffer[head_end + 4 + length :]
            self.answer.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("connection lost"))
        if not self.lost.done():
            self.lost.set_result(None)

    async def ask(self, request: bytes) -> int:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer


async def connect(host: str, port: int) -> Connection:
    _, connection = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return connection


async def one_client(host: str, port: int, paths: list[str], start: int, until: float, stats: Stats) -> None:
    connection = await connect(host, port)
    requests = [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for path in paths]
    i = start
    while time.perf_counter() < until:
        request = requests[i % len(requests)]
        i += 1
        began = time.perf_counter()
        try:
            status = await connection.ask(request)
        except (ConnectionError, ValueError):
            stats.dropped += 1
            if connection.transport is not None:
                connection.transport.close()
            connection = await connect(host, port)
            continue
        stats.latencies.append(time.perf_counter() - began)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status != 200:
            stats.errors += 1
    if connection.transport is not None:
        connection.transport.close()


def run_load(url: str, paths: list[str], clients: int, seconds: float) -> Stats:
    """``load`` on uvloop's event loop when it is installed (a cheaper client), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load(url, paths, clients, seconds))
    return uvloop.run(load(url, paths, clients, seconds))


async def load(url: str, paths: list[str], clients: int, seconds: float) -> Stats:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    assert host == "127.0.0.1", "the benchmark only ever talks to 127.0.0.1"
    stats = Stats()
    until = time.perf_counter() + seconds
    step = max(1, len(paths) // clients)
    await asyncio.gather(*(one_client(host, port, paths, n * step, until, stats) for n in range(clients)))
    return stats


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux: /proc/PID/stat); 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc), by pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


class Server:
    """`searchkit serve` in a child process on a free port of 127.0.0.1."""

    def __init__(
        self, index: Path, workers: int, corpus: Path | None = None, cache_size: int | None = None
    ) -> None:
        argv = [sys.executable, "-m", "searchkit", "serve", "--index-dir", str(index)]
        argv += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
        if cache_size is not None:
            argv += ["--cache-size", str(cache_size)]
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
    index: Path,
    workers: int,
    paths: list[str],
    args: argparse.Namespace,
    corpus: Path | None,
    cache_size: int,
    seconds: float,
) -> dict[str, Any]:
    server = Server(index, workers, corpus, cache_size)
    stop = threading.Event()
    edits = [0]
    editor = None
    try:
        run_load(server.url, paths, args.clients, WARM_UP_SECONDS)
        if corpus is not None:
            editor = threading.Thread(target=edit_stream, args=(corpus, stop, edits))
            editor.start()
        # CPU of this process (the client, and the editor thread of a watch run) and of each of
        # the server's processes (the workers, and the watcher of a watch run), over the run.
        processes = children(server.process.pid)
        server_before = [cpu_seconds(pid) for pid in processes]
        client_before, wall = time.process_time(), time.perf_counter()
        stats = run_load(server.url, paths, args.clients, seconds)
        client_cpu = (time.process_time() - client_before) / (time.perf_counter() - wall)
        elapsed = time.perf_counter() - wall
        server_cpu = [
            (cpu_seconds(pid) - before) / elapsed
            for pid, before in zip(processes, server_before, strict=True)
        ]
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
        "cache": cache_size,
        "seconds": seconds,
        "rps": len(ms) / seconds,
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "errors": stats.errors,
        "dropped": stats.dropped,
        "statuses": stats.statuses,
        "exit_status": status,
        "edits": edits[0],
        "commits": batches,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "load": os.getloadavg()[0],  # of the minute that ends with the run: other work included
    }
    print(
        f"{workers} worker(s), {result['mode']}, cache {cache_size}: {result['rps']:.1f} req/s, "
        f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, {stats.errors} errors, "
        f"{stats.dropped} dropped; CPU: client {client_cpu:.0%}, server "
        + " + ".join(f"{cpu:.0%}" for cpu in server_cpu)
        + f"; load average {result['load']:.2f}"
        + (f", {edits[0]} files changed in {batches} commits" if corpus is not None else ""),
        flush=True,
    )
    return result


def cache_name(size: int) -> str:
    return f"{size:,} slots" if size else "off (`--cache-size 0`)"


def cpu_text(r: dict[str, Any]) -> str:
    return f"{r['client_cpu']:.0%} / " + " + ".join(f"{cpu:.0%}" for cpu in r["server_cpu"])


def render(
    results: list[dict[str, Any]], repeats: list[dict[str, Any]], args: argparse.Namespace, documents: int
) -> str:
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
        "or deleted (one writer process beside the workers). Each configuration runs with the "
        "cache of answers (the default) and without it (`--cache-size 0`). The client runs on "
        f"the same machine ({platform.machine()}, {os.cpu_count()} cores, shared). Errors are "
        "answers other than 200; dropped are connections broken mid-request. CPU: the share of "
        "a core used by the client (this process, and in a watch run its editing thread) and "
        "by each process of the server, in the order they started: a helper of Python's "
        "multiprocessing (0%), the watcher in a watch run, then the workers. Load: the "
        "machine's one-minute load average at the end of the run, other users' work included.",
        "",
        "| cache | workers | index | requests/s | p50 ms | p99 ms | errors | dropped | changes (commits) "
        "| CPU: client / server | load |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in results:
        changes = f"{r['edits']} files ({r['commits']} commits)" if r["mode"] == "watch" else ""
        lines.append(
            f"| {cache_name(r['cache'])} | {r['workers']} | {r['mode']} | {r['rps']:.1f} | {r['p50']:.1f} "
            f"| {r['p99']:.1f} | {r['errors']} | {r['dropped']} | {changes} | {cpu_text(r)} "
            f"| {r['load']:.2f} |"
        )
    summary = summarise(repeats or [r for r in results if r["mode"] == "static"])
    if repeats:
        seconds = repeats[0]["seconds"]
        runs = len(repeats) // max(1, len(summary))
        lines += [
            "",
            f"Repetitions of the static runs ({runs} of {seconds:g} s each, interleaved): the "
            "median of each figure, then the lowest and highest.",
            "",
            "| cache | workers | requests/s | p50 ms | p99 ms | errors | dropped |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for (cache, workers), m in summary.items():
            lines.append(
                f"| {cache_name(cache)} | {workers} | {m['rps']} | {m['p50']} | {m['p99']} "
                f"| {m['errors']} | {m['dropped']} |"
            )
    lines.append("")
    source = "the medians of the repetitions" if repeats else "the runs above"
    for cache in dict.fromkeys(cache for cache, _ in summary):
        one, two = summary.get((cache, 1)), summary.get((cache, 2))
        text = f"- Cache {cache_name(cache)}, by {source}:"
        if one:
            text += f" p99 with one worker at {args.clients} clients {one['p99_median']:.1f} ms"
            text += " (target: under 100 ms)"
        if one and two:
            ratio = two["rps_median"] / one["rps_median"]
            text += f"; two workers {ratio:.2f}x the throughput of one (target: 1.6x)"
        lines.append(text + ".")
    lines.append(END)
    return "\n".join(lines)


def summarise(runs: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, Any]]:
    """Per (cache, workers): each figure's median over the runs, shown with its range."""
    grouped: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in runs:
        grouped.setdefault((r["cache"], r["workers"]), []).append(r)
    summary = {}
    for key, group in grouped.items():
        figures: dict[str, Any] = {}
        for name in ("rps", "p50", "p99"):
            values = [r[name] for r in group]
            figures[f"{name}_median"] = median(values)
            figures[name] = (
                f"{median(values):.1f} ({min(values):.1f}-{max(values):.1f})"
                if len(values) > 1
                else f"{values[0]:.1f}"
            )
        figures["errors"] = sum(r["errors"] for r in group)
        figures["dropped"] = sum(r["dropped"] for r in group)
        summary[key] = figures
    return summary


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
    parser.add_argument(
        "--cache-sizes",
        type=int,
        nargs="+",
        default=[1024, 0],
        help="the servers' --cache-size: each configuration runs with each [default: 1024 0]",
    )
    parser.add_argument(
        "--repeat", type=int, default=0, help="then this many more static runs of each configuration"
    )
    parser.add_argument("--repeat-seconds", type=float, default=15, help="the length of each repetition")
    parser.add_argument("--no-readme", action="store_true", help="print the figures only")
    args = parser.parse_args()
    index = args.index or reuters_index()
    corpus = args.corpus or reuters_corpus()
    paths = query_paths()
    results = []
    repeats = []
    with tempfile.TemporaryDirectory(prefix="searchkit-serve-") as tmp:
        copy = None
        if not args.no_watch:
            # The watch runs change a copy: the corpus and its index, file times kept, so the
            # watcher's first update finds nothing to do.
            copy = Path(tmp) / "corpus"
            shutil.copytree(corpus, copy)
            shutil.copytree(index, Path(tmp) / "index")
        for cache in args.cache_sizes:
            for workers in args.workers:
                results.append(run(index, workers, paths, args, None, cache, args.seconds))
                if copy is not None:
                    results.append(run(Path(tmp) / "index", workers, paths, args, copy, cache, args.seconds))
        for _ in range(args.repeat):
            for cache in args.cache_sizes:
                for workers in args.workers:
                    repeats.append(run(index, workers, paths, args, None, cache, args.repeat_seconds))
    from searchkit import SearchIndex

    with SearchIndex.open(index) as opened:
        documents = opened.info().documents
    section = render(results, repeats, args, documents)
    print(section)
    if not args.no_readme:
        write_readme(section)


if __name__ == "__main__":
    main()
