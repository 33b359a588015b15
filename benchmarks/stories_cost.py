"""What stories cost the write side: a full build and an incremental run, with stories and
without, on the scale-1 corpus (Reuters-21578 and BBC, 21,268 items).

    python benchmarks/stories_cost.py [--repeat 3]

"Without" is the same code with the stories' work taken out (no fingerprint is computed, no
band key indexed, no grouping); everything else is equal. Each repetition builds a fresh
index of a fresh copy of the corpus, then times an update after the benchmark's incremental
edit (100 new, 100 changed and 100 deleted files: benchmarks/corpora.py). The two settings
alternate, each repetition starting with the one the last ended with, and each timed run starts
once the files written before it are on disk (``os.sync``: the last build's writeback does not
slow the next). Medians are reported with the ratios the issue sets targets for: the full build
with stories at most 1.25x the build without, and the incremental run under 5% of a full build.

Wall time is what a user waits for, and what the targets are judged on. On a shared machine it
swings from run to run, so the CPU time of each build (this process and the processes it
forked: writers, link spans) is reported beside it: the work done, which other tenants' load
touches less. Each repetition's ratio is printed as well as the ratio of the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import CACHE, median
from corpora import apply_incremental_edits, ensure_corpus, link_tree

from searchkit import SearchIndex, indexer, similarity, stories


@contextlib.contextmanager
def without_stories() -> Iterator[None]:
    """The indexer with the stories' work taken out (writer processes fork: they inherit it)."""
    saved = (indexer.fingerprint, stories.stage)

    def no_print(item: Any) -> similarity.Fingerprint:
        return similarity.Fingerprint(None)

    def no_stage(*args: Any, **kwargs: Any) -> None:
        return None

    indexer.fingerprint, stories.stage = no_print, no_stage
    try:
        yield
    finally:
        indexer.fingerprint, stories.stage = saved


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (writers, link spans)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(source: Path, work: Path) -> tuple[float, float, int, float, float]:
    """(full build s, incremental s, stories of two items or more, full build CPU s,
    incremental CPU s) on a fresh copy."""
    corpus, index_dir = work / "corpus", work / "index"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    link_tree(source, corpus)
    os.sync()
    start, cpu = time.perf_counter(), cpu_seconds()
    SearchIndex(index_dir).update(corpus)
    full, full_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    apply_incremental_edits(corpus, 1)
    os.sync()
    start, cpu = time.perf_counter(), cpu_seconds()
    report = SearchIndex(index_dir).update(corpus)
    incremental, incremental_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert report.added == 100 and report.updated == 100 and report.deleted == 100, report
    with SearchIndex.open(index_dir) as index:
        grouped = index.stories(min_size=2, limit=1).total
    return full, incremental, grouped, full_cpu, incremental_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    info = ensure_corpus(1)
    source = Path(info.path)
    results: dict[str, list[tuple[float, float, int, float, float]]] = {"with": [], "without": []}
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        for n in range(args.repeat):
            for setting in ("with", "without") if n % 2 == 0 else ("without", "with"):
                if setting == "with":
                    figures = run_once(source, Path(tmp) / "run")
                else:
                    with without_stories():
                        figures = run_once(source, Path(tmp) / "run")
                results[setting].append(figures)
                full, step, _, full_cpu, step_cpu = figures
                print(f"repetition {n + 1}, {setting} stories: full {full:.2f} s ({full_cpu:.2f} s CPU), "
                      f"incremental {step:.2f} s ({step_cpu:.2f} s CPU)", flush=True)  # fmt: skip
            (wall, _, _, cpu, _), (wall_without, _, _, cpu_without, _) = (
                results["with"][-1],
                results["without"][-1],
            )
            print(f"repetition {n + 1}: full build {wall / wall_without:.2f}x, CPU {cpu / cpu_without:.2f}x")

    def med(setting: str, field: int) -> float:
        return median([r[field] for r in results[setting]])

    print()
    print("| | without stories | with stories | ratio |")
    print("|---|---:|---:|---:|")
    for label, field in (("full build, s", 0), ("full build, CPU s", 3)):
        print(f"| {label} | {med('without', field):.2f} | {med('with', field):.2f} | "
              f"{med('with', field) / med('without', field):.2f}x |")  # fmt: skip
    for label, field in (
        ("incremental (100 new, 100 changed, 100 deleted), s", 1),
        ("incremental, CPU s", 4),
    ):
        print(f"| {label} | {med('without', field):.2f} | {med('with', field):.2f} | "
              f"{med('with', field) / med('without', field):.2f}x |")  # fmt: skip
    print(
        f"| incremental, % of a full build | {100 * med('without', 1) / med('without', 0):.1f}% | "
        f"{100 * med('with', 1) / med('with', 0):.1f}% | |"
    )
    ratios = sorted(w[0] / wo[0] for w, wo in zip(results["with"], results["without"], strict=True))
    shares = sorted(100 * w[1] / w[0] for w in results["with"])
    # A repetition's two builds run one after the other: their ratio is less exposed to the
    # machine's drift than the ratio of medians taken over the whole run.
    spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}x"
    print(f"\nfull build, repetition by repetition: {spread}, median {median(ratios):.2f}x")
    print(f"incremental with stories, % of its repetition's full build: {shares[0]:.1f}-{shares[-1]:.1f}%, "
          f"median {median(shares):.1f}%")  # fmt: skip
    print(f"\nstories of two items or more: {results['with'][-1][2]}")


if __name__ == "__main__":
    main()
