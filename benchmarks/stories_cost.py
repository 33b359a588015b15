"""What stories cost the write side: a full build and an incremental run, with stories and
without, on the scale-1 corpus (Reuters-21578 and BBC, 21,268 items).

    python benchmarks/stories_cost.py [--repeat 3]

"Without" is the same code with the stories' work taken out (no fingerprint is computed, no
band key indexed, no grouping); everything else is equal. Each repetition builds a fresh
index of a fresh copy of the corpus, then times an update after the benchmark's incremental
edit (100 new, 100 changed and 100 deleted files: benchmarks/corpora.py). The two settings
alternate, and medians are reported with the ratios the issue sets targets for: the full build
with stories at most 1.25x the build without, and the incremental run under 5% of a full build.
"""

from __future__ import annotations

import argparse
import contextlib
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


def run_once(source: Path, work: Path) -> tuple[float, float, int]:
    """(full build s, incremental s, stories of two items or more) on a fresh copy."""
    corpus, index_dir = work / "corpus", work / "index"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    link_tree(source, corpus)
    start = time.perf_counter()
    SearchIndex(index_dir).update(corpus)
    full = time.perf_counter() - start
    apply_incremental_edits(corpus, 1)
    start = time.perf_counter()
    report = SearchIndex(index_dir).update(corpus)
    incremental = time.perf_counter() - start
    assert report.added == 100 and report.updated == 100 and report.deleted == 100, report
    with SearchIndex.open(index_dir) as index:
        grouped = index.stories(min_size=2, limit=1).total
    return full, incremental, grouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    info = ensure_corpus(1)
    source = Path(info.path)
    results: dict[str, list[tuple[float, float, int]]] = {"with": [], "without": []}
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        for n in range(args.repeat):
            for setting in ("with", "without"):
                if setting == "with":
                    figures = run_once(source, Path(tmp) / "run")
                else:
                    with without_stories():
                        figures = run_once(source, Path(tmp) / "run")
                results[setting].append(figures)
                print(f"repetition {n + 1}, {setting} stories: full {figures[0]:.2f} s, "
                      f"incremental {figures[1]:.2f} s", flush=True)  # fmt: skip
    full = {k: median([r[0] for r in v]) for k, v in results.items()}
    incremental = {k: median([r[1] for r in v]) for k, v in results.items()}
    print()
    print("| | without stories | with stories | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| full build, s | {full['without']:.2f} | {full['with']:.2f} | "
        f"{full['with'] / full['without']:.2f}x |"
    )
    print(
        f"| incremental (100 new, 100 changed, 100 deleted), s | {incremental['without']:.2f} | "
        f"{incremental['with']:.2f} | {incremental['with'] / incremental['without']:.2f}x |"
    )
    print(
        f"| incremental, % of a full build | {100 * incremental['without'] / full['without']:.1f}% | "
        f"{100 * incremental['with'] / full['with']:.1f}% | |"
    )
    print(f"\nstories of two items or more: {results['with'][-1][2]}")


if __name__ == "__main__":
    main()
