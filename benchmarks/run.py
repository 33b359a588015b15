"""The benchmark suite: searchkit against plain Whoosh (benchmarks/baseline.py), same run, same
machine, same corpora.

    python benchmarks/run.py [--scale N ...] [--repeat R] [--query-repeat Q] [--quick]
                             [--reuse-builds]

For each scale (default 1: the shared Reuters and BBC archives as they are; N: N distinct copies
of them, see corpora.py) it measures, for both engines:

- full build: items/s (parse included), index size on disk, peak memory. Each build runs in a
  fresh child process started by a fresh "measure" process, which reads the build's ``ru_maxrss``
  with ``getrusage(RUSAGE_CHILDREN)`` (the largest single process, searchkit's parse workers
  included). The PSS of the build's whole process tree (all processes together) is sampled in
  one more build of each engine after the timed ones: reading a process's PSS walks its pages
  (about 8 ms for 400 MB), so sampling the 3-5 processes of a build ten times a second takes
  5-20% of a 2-core machine from the build it times, more from the one with more processes;
- an incremental run: 100 new, 100 changed and 100 deleted files in a hard-linked copy of the
  corpus, applied to a copy of the built index (searchkit: ``SearchIndex.update``; baseline: the
  Whoosh docs' recipe), in a fresh child process, timing the update call;
- query latency: a fixed, seeded query set (corpora.make_workload: 1-3 word queries drawn from the
  corpus vocabulary, phrases, filtered queries, queries sorted by heat and by date, match-all),
  top 10 with stored fields; the median over repetitions of each query, then p50/p95 over the set;
  the same queries with topics+provider+year facets; queries drawn from single titles
  (corpora.title_queries: 1-3 rare words, two-word phrases; the baseline joins words with AND,
  its parser's default); related-item lookups; autocompletion
  (searchkit only). All in one fresh child process per engine, after one warm-up pass;
- what stories cost the write side: each repetition also builds the corpus, and runs the same
  incremental edit, with searchkit's stories' work taken out (no fingerprint, no grouping:
  ``stories_cost.without_stories``), right before or after searchkit's own build (in turn);
  the ratio of the builds and each incremental run's share of its full build are issue 14's
  targets (benchmarks/stories_cost.py measures the same in one process, with CPU time);
- the whole-process time of ``searchkit search "<query>" --index-dir ...`` (and of
  ``python benchmarks/baseline.py search``), median over repetitions.

It writes benchmarks/results.json (figures of earlier runs at other scales are kept) and the
section between the results markers of benchmarks/README.md.

Builds take most of the time. On a quiet 2-core machine a plain-Whoosh build of scale 1 takes
about 2 minutes (~177 items/s), so the default run (3 builds of each engine, 5 query passes) takes
about 10-15 minutes, depending on how fast searchkit builds; ``--quick`` (one build each, one
timed query pass) is a smoke run of about a third of that. Larger scales are opt-in and take
much longer (plain Whoosh builds 210k items at ~160 items/s: over 20 minutes per build; consider
``--repeat 1``). Corpora and the last built indexes stay in benchmarks/.data/scale-N/.
``--reuse-builds`` measures only queries and whole-process searches, on the indexes the scale's
last run left there, and keeps that run's build and incremental figures: for a change to the
read side only, which cannot change what a build writes (the README section says so).

Only searchkit's public API is used, so the suite keeps working while the indexer changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import corpora  # noqa: E402
from _data import CACHE, median, percentile  # noqa: E402

RESULTS_JSON = HERE / "results.json"
README = HERE / "README.md"
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"
ENGINES = ("baseline", "searchkit")
#: searchkit with the stories' work taken out: builds and incremental runs only (``stories_cost``).
WITHOUT_STORIES = "searchkit without stories"
FACETS = ("topics", "provider", "year")
WORKLOAD_FILE = CACHE / "workload.json"
_RESULT = "RESULT "


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- engines ----------------------------------------------------------------------------------


class SearchkitEngine:
    """searchkit through its public API only."""

    @staticmethod
    def preload() -> None:
        import searchkit  # noqa: F401

    @staticmethod
    def build(corpus: Path, index_dir: Path) -> int:
        from searchkit import SearchIndex

        with SearchIndex(index_dir) as index:
            return index.rebuild(corpus).documents

    @staticmethod
    def incremental(corpus: Path, index_dir: Path) -> dict[str, int]:
        from searchkit import SearchIndex

        with SearchIndex(index_dir) as index:
            report = index.update(corpus)
        return {
            "added": report.added,
            "updated": report.updated,
            "deleted": report.deleted,
            "documents": report.documents,
        }

    class Session:
        def __init__(self, index_dir: Path) -> None:
            from searchkit import SearchIndex

            self.index = SearchIndex.open(index_dir)

        def search(self, q: corpora.Query, facets: bool) -> int:
            return self.index.search(
                q.text, sort=q.sort, limit=10, facets=FACETS if facets else (), **corpora.filter_arguments(q)
            ).total

        def related(self, ident: str) -> int:
            return len(self.index.related(ident, limit=10).related)

        def suggest(self, prefix: str) -> int | None:
            return len(self.index.suggest(prefix, limit=10).completions)

        def close(self) -> None:
            self.index.close()


class BaselineEngine:
    """Plain Whoosh as its docs teach (benchmarks/baseline.py)."""

    @staticmethod
    def preload() -> None:
        import baseline  # noqa: F401
        import frontmatter  # noqa: F401

    @staticmethod
    def build(corpus: Path, index_dir: Path) -> int:
        import baseline

        return baseline.build(corpus, index_dir)

    @staticmethod
    def incremental(corpus: Path, index_dir: Path) -> dict[str, int]:
        import baseline

        return baseline.incremental(corpus, index_dir)

    class Session:
        def __init__(self, index_dir: Path) -> None:
            import baseline

            self.session = baseline.Session(index_dir)

        def search(self, q: corpora.Query, facets: bool) -> int:
            return int(
                self.session.search(
                    q.text,
                    topic=q.topic,
                    provider=q.provider,
                    min_quality=q.min_quality,
                    since=q.since,
                    until=q.until,
                    sort=q.sort,
                    facets=facets,
                    limit=10,
                    group=q.group,
                )["total"]
            )

        def related(self, ident: str) -> int:
            return len(self.session.related(ident, limit=10))

        def suggest(self, prefix: str) -> int | None:
            return None  # plain Whoosh has no autocompletion to compare with

        def close(self) -> None:
            self.session.close()


def engine(name: str) -> Any:
    return {"searchkit": SearchkitEngine, "baseline": BaselineEngine}[name]


def cli_env() -> dict[str, str]:
    """The environment of the whole-process runs: bytecode cached (as after a normal install),
    in a folder of our own so nothing is written beside the sources."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    return env


def run_cli(argv: list[str], env: dict[str, str]) -> float:
    """Seconds of one whole-process search (its output is discarded)."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {done.returncode}):\n{done.stderr}")
    return seconds


def cli_argv(name: str, query: str, index_dir: Path) -> list[str]:
    """The shell command of one search as a whole process."""
    if name == "baseline":
        return [sys.executable, str(HERE / "baseline.py"), "search", "--index-dir", str(index_dir), query]
    script = shutil.which("searchkit", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "searchkit"]
    return [*command, "search", query, "--index-dir", str(index_dir)]


# -- child processes --------------------------------------------------------------------------


def emit(result: dict[str, Any]) -> None:
    print(_RESULT + json.dumps(result), flush=True)


def run_child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``run.py _child kind spec`` and return what it emitted."""
    argv = [sys.executable, str(Path(__file__).resolve()), "_child", kind, json.dumps(spec)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child {kind} failed (exit {done.returncode}):\n{done.stdout}")
    return json.loads(lines[-1][len(_RESULT) :])


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split among their users, so the sum over a tree of
    forked processes counts each page once. Falls back to RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return 0


def child_measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one build in a child of this fresh process, so RUSAGE_CHILDREN is that build's; with
    ``"sample": true``, sample the PSS of its process tree too (which slows the build)."""
    start = time.perf_counter()
    proc = subprocess.Popen(spec["argv"], stdout=subprocess.PIPE, text=True)
    finished = threading.Event()
    peak = [0]

    def sample() -> None:
        while not finished.wait(0.1):
            peak[0] = max(peak[0], sum(_pss_kb(pid) for pid in _process_tree(proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    if spec.get("sample"):
        sampler.start()
    out, _ = proc.communicate()
    finished.set()
    if spec.get("sample"):
        sampler.join()
    wall = time.perf_counter() - start
    lines = [line for line in out.splitlines() if line.startswith(_RESULT)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"build failed (exit {proc.returncode}):\n{out}")
    result = json.loads(lines[-1][len(_RESULT) :])
    result.update(
        process_seconds=wall,
        maxrss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        **({"tree_peak_kb": peak[0]} if spec.get("sample") else {}),
    )
    return result


def stories_setting(spec: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
    """searchkit as it is, or, for ``"stories": false``, with the stories' work taken out (no
    fingerprint, no grouping: benchmarks/stories_cost.py), to measure what stories cost."""
    if spec.get("stories", True):
        return contextlib.nullcontext()
    from stories_cost import without_stories

    return without_stories()


def measured_build(name: str, corpus: Path, index_dir: Path, *, sample: bool) -> dict[str, Any]:
    """Build ``index_dir`` afresh (``name``: an engine or ``WITHOUT_STORIES``) in a fresh
    process, once the files written before are on disk; ``sample``: sample its process tree's
    memory (``child_measure``)."""
    os.sync()
    shutil.rmtree(index_dir, ignore_errors=True)
    spec = child_spec(name, corpus, index_dir)
    build_argv = [sys.executable, str(Path(__file__).resolve()), "_child", "build", json.dumps(spec)]
    result = run_child("measure", {"argv": build_argv, "sample": sample})
    result["index_bytes"] = disk_bytes(index_dir)
    return result


def child_spec(name: str, corpus: Path, index_dir: Path) -> dict[str, Any]:
    """What a build or incremental child process runs: an engine of ``ENGINES``, or
    ``WITHOUT_STORIES`` (searchkit, with ``"stories": false``)."""
    if name == WITHOUT_STORIES:
        return {"engine": "searchkit", "stories": False, "corpus": str(corpus), "index": str(index_dir)}
    return {"engine": name, "corpus": str(corpus), "index": str(index_dir)}


def child_build(spec: dict[str, Any]) -> dict[str, Any]:
    eng = engine(spec["engine"])
    eng.preload()
    with stories_setting(spec):
        start = time.perf_counter()
        items = eng.build(Path(spec["corpus"]), Path(spec["index"]))
        return {"items": items, "seconds": time.perf_counter() - start}


def child_incremental(spec: dict[str, Any]) -> dict[str, Any]:
    eng = engine(spec["engine"])
    eng.preload()
    with stories_setting(spec):
        start = time.perf_counter()
        counts = eng.incremental(Path(spec["corpus"]), Path(spec["index"]))
        return {"seconds": time.perf_counter() - start, **counts}


def _timed(calls: list[Any], repeat: int) -> tuple[list[float], list[Any], list[float]]:
    """One warm-up pass, then ``repeat`` timed passes over all calls: the median per call in ms,
    the warm-up pass's results, and its times in ms (each call's first, caches cold for it)."""
    first, first_ms = [], []
    for call in calls:
        start = time.perf_counter()
        first.append(call())
        first_ms.append((time.perf_counter() - start) * 1000)
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            samples[i].append((time.perf_counter() - start) * 1000)
    return [median(s) for s in samples], first, first_ms


def child_queries(spec: dict[str, Any]) -> dict[str, Any]:
    eng = engine(spec["engine"])
    eng.preload()
    workload = corpora.workload_from_json(Path(spec["workload"]).read_text())
    repeat = spec["repeat"]
    start = time.perf_counter()
    session = eng.Session(Path(spec["index"]))
    opened = time.perf_counter() - start
    try:
        plain, totals, _ = _timed([lambda q=q: session.search(q, False) for q in workload.queries], repeat)
        faceted, faceted_totals, _ = _timed(
            [lambda q=q: session.search(q, True) for q in workload.queries], repeat
        )
        title, title_totals, _ = _timed(
            [lambda q=q: session.search(q, False) for q in workload.title_queries], repeat
        )
        related, related_counts, related_first = _timed(
            [lambda i=i: session.related(i) for i in workload.related_ids], repeat
        )
        suggest = None
        if session.suggest("a") is not None:
            suggest, _, _ = _timed([lambda p=p: session.suggest(p) for p in workload.prefixes], repeat)
        news = None
        if spec["engine"] == "searchkit":  # what the baseline has no counterpart of
            from news_ranking import boost_cost, cursor_depth

            news = {
                "boosts": boost_cost(session.index, workload.queries, repeat),
                "cursor": cursor_depth(session.index, repeat),
            }
    finally:
        session.close()
    return {
        "open_seconds": opened,
        "query_ms": plain,
        "totals": totals,
        "faceted_ms": faceted,
        "faceted_totals": faceted_totals,
        "title_ms": title,
        "title_totals": title_totals,
        "related_ms": related,
        "related_first_ms": related_first,
        "related_counts": related_counts,
        "suggest_ms": suggest,
        "news": news,
    }


CHILDREN = {
    "measure": child_measure,
    "build": child_build,
    "incremental": child_incremental,
    "queries": child_queries,
}


# -- one scale --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    build_repeat: int
    query_repeat: int
    cli_repeat: int
    quick: bool
    reuse_builds: bool = False


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_scale(scale: int, settings: Settings, workload: corpora.Workload) -> dict[str, Any]:
    load_before = os.getloadavg()
    info = corpora.ensure_corpus(scale, log=log)
    base = corpora.scale_dir(scale)
    corpus = Path(info.path)
    log(f"scale {scale}: {info.items:,} items in {corpus}")
    indexes = {name: base / f"index-{name}" for name in ENGINES}
    indexes[WITHOUT_STORIES] = base / "index-searchkit-without-stories"

    builds: dict[str, list[dict[str, Any]]] = {name: [] for name in indexes}
    incremental: dict[str, list[dict[str, Any]]] = {name: [] for name in indexes}
    reused = None
    if settings.reuse_builds:
        reused = _earlier_builds(scale, info, {name: indexes[name] for name in ENGINES})
        for name in ENGINES:
            builds[name] = reused["engines"][name]["build"]["runs"]
            incremental[name] = reused["engines"][name]["incremental"]["runs"]
        runs = (reused.get("stories_cost") or {}).get("runs", ([], []))
        builds[WITHOUT_STORIES], incremental[WITHOUT_STORIES] = runs
        log(
            f"scale {scale}: reusing the builds and incremental runs of "
            f"{reused.get('builds_run_at', reused['run_at'])}"
        )
    for rep in range(0 if reused else settings.build_repeat):
        # Interleaved, so that drift of the machine hits all alike; searchkit with and without
        # stories one after the other, in turn first, each once the last build's files are on disk.
        pair = ("searchkit", WITHOUT_STORIES) if rep % 2 == 0 else (WITHOUT_STORIES, "searchkit")
        for name in ("baseline", *pair):
            result = measured_build(name, corpus, indexes[name], sample=False)
            builds[name].append(result)
            log(
                f"build {rep + 1}/{settings.build_repeat} {name}: {result['items']:,} items in "
                f"{result['seconds']:.1f} s ({result['items'] / result['seconds']:,.0f} items/s), "
                f"{result['index_bytes'] / 1e6:.1f} MB, peak {result['maxrss_kb'] / 1024:.0f} MB"
            )
            if result["items"] != info.items:
                log(f"warning: {name} indexed {result['items']} of {info.items} items")
    tree_peak: dict[str, float] = {}
    for name in ENGINES:
        if reused:
            tree_peak[name] = reused["engines"][name]["build"]["tree_peak_mb"]
            continue
        result = measured_build(name, corpus, indexes[name], sample=True)
        tree_peak[name] = result["tree_peak_kb"] / 1024
        log(f"build {name}, its process tree's memory sampled: peak {tree_peak[name]:.0f} MB")

    queries: dict[str, dict[str, Any]] = {}
    for name in ENGINES:
        log(
            f"queries {name} ({len(workload.queries)} queries x {settings.query_repeat} "
            f"+ warm-up, plain and faceted; related; completion)"
        )
        queries[name] = run_child(
            "queries",
            {
                "engine": name,
                "index": str(indexes[name]),
                "workload": str(WORKLOAD_FILE),
                "repeat": settings.query_repeat,
            },
        )

    work = base / "work"
    shutil.rmtree(work, ignore_errors=True)
    if not reused:
        log("incremental runs: 100 new, 100 changed, 100 deleted files")
        corpora.link_tree(corpus, work / "corpus")
        edits = corpora.apply_incremental_edits(work / "corpus", scale)
    for rep in range(0 if reused else settings.build_repeat):
        for name in indexes:
            copy = work / f"index-{name}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(indexes[name], copy)
            result = run_child("incremental", child_spec(name, work / "corpus", copy))
            incremental[name].append(result)
            log(
                f"incremental {rep + 1}/{settings.build_repeat} {name}: "
                f"{result['seconds']:.2f} s (+{result['added']} ~{result['updated']} "
                f"-{result['deleted']})"
            )
            expected = (len(edits.new), len(edits.changed), len(edits.deleted))
            if (result["added"], result["updated"], result["deleted"]) != expected:
                log(f"warning: {name} reported {result} for edits {expected}")
    shutil.rmtree(work, ignore_errors=True)

    log(f"whole-process search, {settings.cli_repeat} runs each")
    cli: dict[str, list[float]] = {name: [] for name in ENGINES}
    env = cli_env()
    for name in ENGINES:  # warm-up: file cache, .pyc files
        run_cli(cli_argv(name, workload.cli_queries[0], indexes[name]), env)
    for rep in range(settings.cli_repeat):
        text = workload.cli_queries[rep % len(workload.cli_queries)]
        for name in ENGINES:
            cli[name].append(run_cli(cli_argv(name, text, indexes[name]), env))

    return {
        "scale": scale,
        "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"builds_run_at": reused.get("builds_run_at", reused["run_at"])} if reused else {}),
        "settings": {
            **asdict(settings),
            **({"build_repeat": reused["settings"]["build_repeat"]} if reused else {}),
        },
        "corpus": asdict(info),
        # Other work on the machine skews every figure: the 1-minute load average before and
        # after the scale's measurements says how quiet it was.
        "load_average": [load_before[0], os.getloadavg()[0]],
        "engines": {
            name: summarize(
                builds[name], incremental[name], queries[name], cli[name], workload, tree_peak[name]
            )
            for name in ENGINES
        },
        "stories_cost": stories_cost(
            builds["searchkit"],
            incremental["searchkit"],
            builds[WITHOUT_STORIES],
            incremental[WITHOUT_STORIES],
        ),
    }


def stories_cost(
    builds: list[dict[str, Any]],
    incremental: list[dict[str, Any]],
    plain_builds: list[dict[str, Any]],
    plain_incremental: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """What stories cost the write side (issue 14's targets): searchkit's builds and incremental
    runs against the same code with the stories' work taken out, run for run (the two builds of
    a repetition run one after the other)."""
    if not plain_builds or not plain_incremental:
        return None
    with_build, without_build = (
        median([b["seconds"] for b in builds]),
        median([b["seconds"] for b in plain_builds]),
    )
    with_inc = median([r["seconds"] for r in incremental])
    without_inc = median([r["seconds"] for r in plain_incremental])
    return {
        "build_seconds": {"with": with_build, "without": without_build},
        "build_ratio": with_build / without_build,
        "build_ratios": [a["seconds"] / b["seconds"] for a, b in zip(builds, plain_builds, strict=False)],
        "incremental_seconds": {"with": with_inc, "without": without_inc},
        "incremental_percent": {
            "with": 100 * with_inc / with_build,
            "without": 100 * without_inc / without_build,
        },
        "runs": [plain_builds, plain_incremental],
    }


def _earlier_builds(scale: int, info: corpora.CorpusInfo, indexes: dict[str, Path]) -> dict[str, Any]:
    """The results of this scale's last run, whose indexes are still in place (``--reuse-builds``)."""
    try:
        earlier = json.loads(RESULTS_JSON.read_text())["scales"][str(scale)]
    except (OSError, ValueError, KeyError):
        raise SystemExit(f"--reuse-builds: no earlier results for scale {scale} in {RESULTS_JSON}") from None
    if earlier["corpus"]["items"] != info.items or not all(p.is_dir() for p in indexes.values()):
        raise SystemExit(
            f"--reuse-builds: the indexes of scale {scale}'s last run are gone or "
            "were built from another corpus"
        )
    return earlier


def summarize(
    builds: list[dict[str, Any]],
    incremental: list[dict[str, Any]],
    queries: dict[str, Any],
    cli: list[float],
    workload: corpora.Workload,
    tree_peak_mb: float,
) -> dict[str, Any]:
    build_seconds = median([b["seconds"] for b in builds])
    incremental_seconds = median([r["seconds"] for r in incremental])
    kinds: dict[str, list[int]] = {}
    for i, q in enumerate(workload.queries):
        kinds.setdefault(q.kind, []).append(i)

    title_kinds: dict[str, list[int]] = {}
    for i, q in enumerate(workload.title_queries):
        title_kinds.setdefault(q.kind, []).append(i)

    def latency(values: list[float], by_kind: dict[str, list[int]] = kinds) -> dict[str, Any]:
        return {
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "by_kind_p50_ms": {kind: median([values[i] for i in idx]) for kind, idx in by_kind.items()},
            "per_query_ms": values,
        }

    suggest = queries["suggest_ms"]
    return {
        "build": {
            "items_per_s": median([b["items"] / b["seconds"] for b in builds]),
            "seconds": build_seconds,
            "index_bytes": median([b["index_bytes"] for b in builds]),
            "maxrss_mb": median([b["maxrss_kb"] / 1024 for b in builds]),
            "tree_peak_mb": tree_peak_mb,
            "runs": builds,
        },
        "incremental": {
            "seconds": incremental_seconds,
            "percent_of_build": 100 * incremental_seconds / build_seconds,
            "runs": incremental,
        },
        "open_seconds": queries["open_seconds"],
        "query": {**latency(queries["query_ms"]), "totals": queries["totals"]},
        "faceted": {**latency(queries["faceted_ms"]), "totals": queries["faceted_totals"]},
        "title": (
            {**latency(queries["title_ms"], title_kinds), "totals": queries["title_totals"]}
            if queries.get("title_ms")
            else None
        ),
        "related": {
            "p50_ms": percentile(queries["related_ms"], 50),
            "p95_ms": percentile(queries["related_ms"], 95),
            "first_p50_ms": percentile(queries["related_first_ms"], 50),
            "per_item_ms": queries["related_ms"],
            "first_per_item_ms": queries["related_first_ms"],
        },
        "suggest": None
        if suggest is None
        else {"p50_ms": percentile(suggest, 50), "p95_ms": percentile(suggest, 95), "per_prefix_ms": suggest},
        "cli": {"median_seconds": median(cli), "runs": cli},
        "news": queries.get("news"),
    }


# -- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        whoosh_version = version("whoosh")
    except Exception:  # reporting only
        whoosh_version = "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "whoosh": whoosh_version,
    }


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "int":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"
    if unit == "s":
        return f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    if unit == "pct":
        return f"{value:.1f}%"
    return f"{value:,.1f}"


def _ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None or theirs is None or theirs == 0:
        return "n/a"
    return f"{mine / theirs:.2f}x"


def _rows(result: dict[str, Any]) -> list[tuple[str, str, float | None, float | None]]:
    """(label, unit, baseline, searchkit) for every figure of one scale."""
    b, s = result["engines"]["baseline"], result["engines"]["searchkit"]
    n = len(b["query"]["per_query_ms"])

    def both(get: Any) -> tuple[float | None, float | None]:
        return get(b), get(s)

    return [
        ("full build, items/s (parse included)", "int", *both(lambda e: e["build"]["items_per_s"])),
        ("full build, s", "s", *both(lambda e: e["build"]["seconds"])),
        ("index size on disk, MB", "mb", *both(lambda e: e["build"]["index_bytes"] / 1e6)),
        (
            "build peak memory, MB: largest process (ru_maxrss)",
            "mb",
            *both(lambda e: e["build"]["maxrss_mb"]),
        ),
        (
            "build peak memory, MB: whole process tree (PSS sampled in one more build)",
            "mb",
            *both(lambda e: e["build"]["tree_peak_mb"]),
        ),
        (
            "incremental: 100 new + 100 changed + 100 deleted, s",
            "s",
            *both(lambda e: e["incremental"]["seconds"]),
        ),
        ("incremental, % of a full build", "pct", *both(lambda e: e["incremental"]["percent_of_build"])),
        (f"query p50, ms ({n} queries, top 10)", "ms", *both(lambda e: e["query"]["p50_ms"])),
        ("query p95, ms", "ms", *both(lambda e: e["query"]["p95_ms"])),
        ("same + topics/provider/year facets, p50, ms", "ms", *both(lambda e: e["faceted"]["p50_ms"])),
        ("same + facets, p95, ms", "ms", *both(lambda e: e["faceted"]["p95_ms"])),
        (
            "queries from single titles (300 of 1-3 rare words, 50 phrases; baseline: AND), p50, ms",
            "ms",
            *both(lambda e: e["title"]["p50_ms"] if e.get("title") else None),
        ),
        (
            "queries from single titles, p95, ms",
            "ms",
            *both(lambda e: e["title"]["p95_ms"] if e.get("title") else None),
        ),
        (
            "match-all + facets (newest; heat with quality>=50), p50, ms",
            "ms",
            *both(lambda e: e["faceted"]["by_kind_p50_ms"]["match all"]),
        ),
        ("related items (top 10), p50, ms", "ms", *both(lambda e: e["related"]["p50_ms"])),
        (
            "related items, each item's first lookup, p50, ms",
            "ms",
            *both(lambda e: e["related"].get("first_p50_ms")),
        ),
        ("autocomplete, p50, ms", "ms", *both(lambda e: e["suggest"]["p50_ms"] if e["suggest"] else None)),
        (
            "relevance queries with --recency 30d --boost quality --boost heat, p50, ms",
            "ms",
            *both(lambda e: e["news"]["boosts"]["boosted_p50_ms"] if e.get("news") else None),
        ),
        (
            "match-all by newest: page 500 by cursor, ms",
            "ms",
            *both(lambda e: e["news"]["cursor"]["cursor_ms"] if e.get("news") else None),
        ),
        ("open index + searcher (first use), s", "s", *both(lambda e: e["open_seconds"])),
        ("`search` as a whole process, median, s", "s", *both(lambda e: e["cli"]["median_seconds"])),
    ]


def _load_note(result: dict[str, Any]) -> str:
    load = result.get("load_average")
    if not load:
        return ""
    return f"; load average {load[0]:.1f} before, {load[1]:.1f} after"


#: Figures shown in the growth table (labels of ``_rows``).
GROWTH = (
    "full build, items/s",
    "index size",
    "whole process tree",
    "incremental: ",
    "query p50",
    "query p95",
    "facets, p50",
    "facets, p95",
    "match-all",
    "related",
    "autocomplete",
    "as a whole process",
)


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    out = [
        "## Results",
        "",
        f"Written by `python benchmarks/run.py` (last run {data['updated_at']}). Machine: "
        f"{m['cores']} cores (`os.cpu_count()`){', ' + m['cpu'] if m['cpu'] else ''}; "
        f"Python {m['python']}; Whoosh {m['whoosh']}; {m['platform']}.",
        "",
        "Baseline: plain Whoosh as its docs teach, same fields (benchmarks/baseline.py). "
        "Ratio = searchkit / baseline: above 1 is better for items/s, below 1 is better for "
        "everything else. Latencies: each query's median over the repetitions, then p50/p95 "
        "over the query set; hits are top 10 with stored fields (searchkit also highlights). "
        'The whole-process row runs `searchkit search "<query>" --index-dir ...` against '
        '`python benchmarks/baseline.py search --index-dir ... "<query>"`. See the '
        "docstring of benchmarks/run.py for how each figure is taken. The baseline's year facet is "
        "Whoosh's `DateRangeFacet` (the docs' way to facet a DATETIME field): one range query "
        "per calendar year from the first to the last year in the index, on every search, a "
        "large part of its faceted time. Hit counts of the two engines differ a little: "
        'different stop words and stemming (Whoosh\'s stemmer makes "news" "new"), and '
        "searchkit also matches topics. The machine may be shared: each scale notes the load "
        "average around its run.",
        "",
    ]
    scales = sorted(data["scales"].values(), key=lambda r: r["scale"])
    for result in scales:
        corpus, st = result["corpus"], result["settings"]
        sources = " + ".join(f"{name} {count:,}" for name, count in corpus["by_source"].items())
        out += [
            f"### Scale {result['scale']}: {corpus['items']:,} items ({sources}), "
            f"{corpus['bytes'] / 1e6:.1f} MB of files",
            "",
            f"Run {result['run_at']}"
            f"{_reuse_note(result)}; builds and incremental runs: median of "
            f"{st['build_repeat']}; queries: median of {st['query_repeat']} after a warm-up "
            f"pass; whole process: median of {st['cli_repeat']}"
            f"{'; `--quick` (a smoke run: few repetitions, noisy)' if st['quick'] else ''}"
            f"{_load_note(result)}.",
            "",
            "| | plain Whoosh (baseline) | searchkit | searchkit / baseline |",
            "|---|---:|---:|---:|",
        ]
        for label, unit, base, mine in _rows(result):
            out.append(f"| {label} | {_num(base, unit)} | {_num(mine, unit)} | {_ratio(mine, base)} |")
        b, s = result["engines"]["baseline"], result["engines"]["searchkit"]
        out += _stories_rows(result.get("stories_cost"))
        out += [
            "",
            "Query p50 by kind of query, ms:",
            "",
            "| kind | plain: baseline | plain: searchkit | ratio | faceted: baseline | "
            "faceted: searchkit | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind in b["query"]["by_kind_p50_ms"]:
            pb, ps = b["query"]["by_kind_p50_ms"][kind], s["query"]["by_kind_p50_ms"][kind]
            fb, fs = b["faceted"]["by_kind_p50_ms"][kind], s["faceted"]["by_kind_p50_ms"][kind]
            out.append(
                f"| {kind} | {_num(pb, 'ms')} | {_num(ps, 'ms')} | {_ratio(ps, pb)} | "
                f"{_num(fb, 'ms')} | {_num(fs, 'ms')} | {_ratio(fs, fb)} |"
            )
        if b.get("title") and s.get("title"):
            for kind, pb in b["title"]["by_kind_p50_ms"].items():
                ps = s["title"]["by_kind_p50_ms"][kind]
                out.append(f"| {kind} | {_num(pb, 'ms')} | {_num(ps, 'ms')} | {_ratio(ps, pb)} | | | |")
        out.append("")
    if len(scales) > 1:
        first = scales[0]
        out += [
            f"### Growth with the corpus (factor against scale {first['scale']})",
            "",
            "Scales may come from different runs (see each scale's run time).",
            "",
            "| figure | engine | " + " | ".join(f"scale {r['scale']}" for r in scales) + " |",
            "|---|---|" + "---:|" * len(scales),
        ]
        rows = [_rows(r) for r in scales]
        for i, (label, unit, _, _) in enumerate(rows[0]):
            if not any(key in label for key in GROWTH):
                continue
            for position, engine_name in ((2, "baseline"), (3, "searchkit")):
                values = [row[i][position] for row in rows]
                if values[0] is None:
                    continue
                cells = [_num(values[0], unit)] + [
                    f"{_num(v, unit)} ({v / values[0]:.1f}x)"
                    if v is not None and values[0]
                    else _num(v, unit)
                    for v in values[1:]
                ]
                out.append(f"| {label} | {engine_name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _stories_rows(cost: dict[str, Any] | None) -> list[str]:
    """What stories cost, searchkit against itself with the stories' work taken out."""
    if not cost:
        return []
    ratios = cost["build_ratios"]
    builds, inc, pct = cost["build_seconds"], cost["incremental_seconds"], cost["incremental_percent"]
    return [
        "",
        "What stories cost the write side: searchkit against the same code with no fingerprint "
        "and no grouping (each repetition builds the two one after the other; the targets: a "
        "full build at most 1.25x, the incremental run under 5% of a full build):",
        "",
        "| | without stories | with stories | with / without |",
        "|---|---:|---:|---:|",
        f"| full build, s | {_num(builds['without'], 's')} | {_num(builds['with'], 's')} | "
        f"{_ratio(builds['with'], builds['without'])} (repetitions: "
        f"{', '.join(f'{r:.2f}x' for r in ratios)}) |",
        f"| incremental: 100 new + 100 changed + 100 deleted, s | {_num(inc['without'], 's')} | "
        f"{_num(inc['with'], 's')} | {_ratio(inc['with'], inc['without'])} |",
        f"| incremental, % of a full build | {_num(pct['without'], 'pct')} | {_num(pct['with'], 'pct')} | |",
    ]


def _reuse_note(result: dict[str, Any]) -> str:
    if "builds_run_at" not in result:
        return ""
    return (
        f" (queries and whole-process searches; builds and incremental runs from the run "
        f"of {result['builds_run_at']}, whose indexes were searched)"
    )


def write_readme(section: str) -> None:
    block = f"{START_MARK}\n{section.rstrip()}\n{END_MARK}"
    if README.exists():
        text = README.read_text(encoding="utf-8")
        start, end = text.find(START_MARK), text.find(END_MARK)
        if start >= 0 and end > start:
            text = text[:start] + block + text[end + len(END_MARK) :]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = (
            "# Benchmarks\n\nScripts that measure searchkit; run them from the repository "
            "root with the package installed. `python benchmarks/run.py` is the suite "
            "(searchkit against plain Whoosh, see its docstring); its figures land in the "
            "section below and in `results.json`.\n\n" + block + "\n"
        )
    README.write_text(text, encoding="utf-8")


def save(results: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {"scales": {}}
    if RESULTS_JSON.exists():
        try:
            data = json.loads(RESULTS_JSON.read_text())
        except ValueError:
            data = {"scales": {}}
    data.setdefault("scales", {})
    for result in results:
        data["scales"][str(result["scale"])] = result
    data["machine"] = machine()
    data["updated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Paths relative to the repository: the results name no folder of the measuring machine.
    text = json.dumps(data, indent=1).replace(str(HERE.parent) + "/", "")
    RESULTS_JSON.write_text(text + "\n")
    write_readme(render(data))
    return data


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "_child":
        emit(CHILDREN[sys.argv[2]](json.loads(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--scale",
        type=int,
        nargs="+",
        default=[1],
        help="corpus scales to measure (1 = the shared data as it is)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions of builds and incremental runs (default 3, quick 1)",
    )
    parser.add_argument(
        "--query-repeat", type=int, default=None, help="timed passes over the query set (default 5, quick 1)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: one build each, one timed query pass"
    )
    parser.add_argument(
        "--reuse-builds",
        action="store_true",
        help="measure queries and whole-process searches on the indexes the "
        "scale's last run built, keeping that run's build and incremental "
        "figures (for changes to the read side only)",
    )
    args = parser.parse_args()
    if any(scale < 1 for scale in args.scale):
        parser.error("scales start at 1")
    settings = Settings(
        build_repeat=args.repeat or (1 if args.quick else 3),
        query_repeat=args.query_repeat or (1 if args.quick else 5),
        cli_repeat=3 if args.quick else 2 * (args.repeat or 3) + 1,
        quick=args.quick,
        reuse_builds=args.reuse_builds,
    )
    workload = corpora.make_workload()
    WORKLOAD_FILE.parent.mkdir(parents=True, exist_ok=True)
    WORKLOAD_FILE.write_text(corpora.workload_to_json(workload))
    started = time.perf_counter()
    results = []
    for scale in sorted(set(args.scale)):
        results.append(run_scale(scale, settings, workload))
        data = save(results)  # keep what is measured even if a later scale fails
    log(f"done in {time.perf_counter() - started:.0f} s: wrote {RESULTS_JSON} and {README}")
    print(render({**data, "scales": {str(r["scale"]): r for r in results}}))


if __name__ == "__main__":
    main()
