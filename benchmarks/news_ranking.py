"""What news-aware ranking costs: boosted searches against plain ones, and deep pages by cursor
against page 1.

    python benchmarks/news_ranking.py INDEX_DIR [--repeat 5]

``INDEX_DIR`` is an index of the Reuters archive (``searchkit index CORPUS --index-dir DIR``).
Measured in one process with a warm searcher, medians over ``--repeat`` passes, the variants
alternated so that the machine's drift hits both alike:

* **boosts**: the relevance queries of the benchmark query set (``corpora.make_workload``, as
  benchmarks/run.py runs them, top 10) plain, and with ``recency="30d"`` (``as_of`` the newest
  item) and ``boost=("quality", "heat")``: p50 and p95 over the set, and the ratio (the issue
  asks for at most 1.5x);
* **cursor depth**: a match-all search sorted by newest, 10 per page: page 1, page 500 reached
  by cursor (the cursor of page 499, taken once), and page 500 by offset for comparison.

benchmarks/run.py calls the same functions (``boost_cost``, ``cursor_depth``) for searchkit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpora  # noqa: E402
from _data import percentile  # noqa: E402

from searchkit import SearchIndex  # noqa: E402


def _ms(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def boost_cost(index: SearchIndex, queries: list[corpora.Query], repeat: int) -> dict[str, Any]:
    """Per query medians, plain and boosted, over the relevance queries of ``queries``."""
    newest = index.info().newest
    wanted = [q for q in queries if q.text and q.sort in (None, "relevance")]
    boosts: dict[str, Any] = {"recency": "30d", "as_of": newest, "boost": ("quality", "heat")}

    def run(q: corpora.Query, boosted: bool) -> None:
        index.search(q.text, limit=10, **corpora.filter_arguments(q), **(boosts if boosted else {}))

    plain: list[list[float]] = [[] for _ in wanted]
    boosted: list[list[float]] = [[] for _ in wanted]
    for q in wanted:  # warm-up
        run(q, False)
        run(q, True)
    for _ in range(repeat):
        for i, q in enumerate(wanted):
            plain[i].append(_ms(lambda q=q: run(q, False)))
            boosted[i].append(_ms(lambda q=q: run(q, True)))
    plain_ms = [statistics.median(s) for s in plain]
    boosted_ms = [statistics.median(s) for s in boosted]
    return {
        "queries": len(wanted),
        "plain_p50_ms": percentile(plain_ms, 50),
        "plain_p95_ms": percentile(plain_ms, 95),
        "boosted_p50_ms": percentile(boosted_ms, 50),
        "boosted_p95_ms": percentile(boosted_ms, 95),
        "ratio_p50": percentile(boosted_ms, 50) / percentile(plain_ms, 50),
        "ratio_p95": percentile(boosted_ms, 95) / percentile(plain_ms, 95),
    }


def cursor_depth(index: SearchIndex, repeat: int, depth: int = 500) -> dict[str, Any]:
    """Page 1 and page ``depth`` of match-all by newest (the last page, in a smaller index): by
    cursor and by offset."""
    first_page = index.search("", sort="newest", limit=10)
    depth = max(2, min(depth, (first_page.total + 9) // 10))
    cursor = first_page.next_cursor
    for _ in range(depth - 2):  # the cursor of page depth - 1
        cursor = index.search("", sort="newest", limit=10, after=cursor).next_cursor
    assert cursor is not None
    first, deep, offset = [], [], []
    for _ in range(repeat + 1):
        first.append(_ms(lambda: index.search("", sort="newest", limit=10)))
        deep.append(_ms(lambda: index.search("", sort="newest", limit=10, after=cursor)))
        offset.append(_ms(lambda: index.search("", sort="newest", limit=10, page=depth)))
    first, deep, offset = first[1:], deep[1:], offset[1:]  # the first pass warms the caches
    return {
        "depth": depth,
        "page1_ms": statistics.median(first),
        "cursor_ms": statistics.median(deep),
        "offset_ms": statistics.median(offset),
        "cursor_ratio": statistics.median(deep) / statistics.median(first),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workload = corpora.make_workload()
    with SearchIndex.open(args.index_dir) as index:
        boosts = boost_cost(index, workload.queries, args.repeat)
        depth = cursor_depth(index, args.repeat * 3)
    print(f"boosts: {boosts['queries']} relevance queries of the benchmark set, top 10")
    print(f"  plain   p50 {boosts['plain_p50_ms']:.2f} ms, p95 {boosts['plain_p95_ms']:.2f} ms")
    print(f"  boosted p50 {boosts['boosted_p50_ms']:.2f} ms, p95 {boosts['boosted_p95_ms']:.2f} ms")
    print(f"  ratio   p50 {boosts['ratio_p50']:.2f}x, p95 {boosts['ratio_p95']:.2f}x")
    print(f"cursor depth: match-all by newest, 10 per page, page {depth['depth']}")
    by_cursor = f"{depth['cursor_ms']:.2f} ms ({depth['cursor_ratio']:.2f}x)"
    print(f"  page 1 {depth['page1_ms']:.2f} ms; by cursor {by_cursor}")
    print(f"  by offset (page={depth['depth']}) {depth['offset_ms']:.2f} ms")
    print(f"({args.repeat} repetitions, medians)")


if __name__ == "__main__":
    main()
