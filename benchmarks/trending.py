"""What trending costs, and what it returns, on the Reuters archive.

    python benchmarks/trending.py INDEX_DIR [--repeat 7] [--limit 8]

``INDEX_DIR`` is an index of the Reuters archive (``searchkit index CORPUS --index-dir DIR``);
the archive covers February to October 1987, densely in March, April, June and October.

* **cost**: ``SearchIndex.trending`` over a 2-day window against the 30 days before it, by
  topics, terms and providers, on the two windows whose background is the largest (ending
  1987-03-19 and 1987-04-08): the first call in a fresh process (a child opens the index and
  times one call, median of 5 children: what ``searchkit trending`` pays), the median of
  ``--repeat`` calls in one process after it (a long-lived ``SearchIndex``), and the whole
  ``searchkit trending`` process (wall time, median of 5).
* **windows**: what trending returns (topics and terms, JLH) on a few windows of the archive,
  as a Markdown table for benchmarks/README.md. A window whose 30 days before hold nothing
  (June and October follow gaps in the archive) is compared with a longer baseline, said in
  the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchkit import SearchIndex  # noqa: E402

#: (as_of, window, baseline) of the cost measurement: a 2-day window, 30 days before it.
COST_WINDOWS = [("1987-03-19", "2d", "30d"), ("1987-04-08", "2d", "30d")]
SOURCES = ("topics", "terms", "providers")

#: (as_of, window, baseline, query, filters) of the windows shown: the dense days.
WINDOWS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("1987-03-19", "2d", "30d", "", {}),
    ("1987-04-08", "2d", "30d", "", {}),
    ("1987-04-13", "24h", "30d", "", {}),
    ("1987-06-02", "2d", "30d", "", {}),  # nothing in May: the table says so
    ("1987-06-02", "2d", "8w", "", {}),
    ("1987-06-19", "2d", "8w", "", {}),
    ("1987-10-20", "2d", "30d", "", {}),  # nothing from July to mid-October
    ("1987-10-20", "2d", "20w", "", {}),
    ("1987-10-20", "2d", "20w", "", {"topics": "money-fx"}),
    ("1987-10-20", "2d", "20w", "stock OR stocks OR market", {}),
]

_CHILD = """
import json, sys, time
from searchkit import SearchIndex
index_dir, as_of, window, baseline, by = sys.argv[1:]
with SearchIndex.open(index_dir) as index:
    start = time.perf_counter()
    index.trending(as_of=as_of, window=window, baseline=baseline, by=by)
    print(json.dumps(time.perf_counter() - start))
"""


def first_call(index_dir: Path, as_of: str, window: str, baseline: str, by: str) -> float:
    """Seconds of one call in a fresh process (the index opened first, outside the timing)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(index_dir), as_of, window, baseline, by],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout))


def whole_process(index_dir: Path, as_of: str, window: str, baseline: str, by: str) -> float:
    """Wall seconds of ``searchkit trending`` as a whole process."""
    command = [sys.executable, "-m", "searchkit", "trending", "--index-dir", str(index_dir)]
    command += ["--as-of", as_of, "--window", window, "--baseline", baseline, "--by", by]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start


def cost(index_dir: Path, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for as_of, window, baseline in COST_WINDOWS:
        for by in SOURCES:
            first = statistics.median(first_call(index_dir, as_of, window, baseline, by) for _ in range(5))
            with SearchIndex.open(index_dir) as index:
                results = index.trending(as_of=as_of, window=window, baseline=baseline, by=by)
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    index.trending(as_of=as_of, window=window, baseline=baseline, by=by)
                    times.append(time.perf_counter() - start)
            process = statistics.median(
                whole_process(index_dir, as_of, window, baseline, by) for _ in range(5)
            )
            rows.append(
                {
                    "as_of": as_of,
                    "by": by,
                    "window": results.foreground,
                    "background": results.background,
                    "first_s": first,
                    "repeated_s": statistics.median(times),
                    "process_s": process,
                }
            )
    return rows


def cell(
    index: SearchIndex,
    by: str,
    limit: int,
    as_of: str,
    window: str,
    baseline: str,
    query: str,
    **filters: Any,
) -> str:
    results = index.trending(
        query, as_of=as_of, window=window, baseline=baseline, by=by, limit=limit, **filters
    )
    if not results.background:
        return "(nothing before the window)"
    if not results.trending:
        return "(nothing)"
    return ", ".join(
        f"{value.value} {value.count}/{value.background_count} ({value.ratio:.0f}x)"
        for value in results.trending
    )


def windows(index_dir: Path, limit: int) -> list[str]:
    lines = [
        "| window (to the end of) | baseline | narrowed by | items: window / baseline | topics | terms |",
        "|---|---|---|---|---|---|",
    ]
    with SearchIndex.open(index_dir) as index:
        for as_of, window, baseline, query, filters in WINDOWS:
            sizes = index.trending(query, as_of=as_of, window=window, baseline=baseline, **filters)
            topics = cell(index, "topics", limit, as_of, window, baseline, query, **filters)
            terms = cell(index, "terms", limit, as_of, window, baseline, query, **filters)
            narrowed = " ".join([f"`{query}`" if query else ""] + [f"{k}={v}" for k, v in filters.items()])
            lines.append(
                f"| {window} to {as_of} | {baseline} | {narrowed.strip()} "
                f"| {sizes.foreground} / {sizes.background} | {topics} | {terms} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args()
    print(
        "| window | by | items: window / background | first call in a process | repeated (median) "
        "| `searchkit trending` process |"
    )
    print("|---|---|---|---:|---:|---:|")
    for row in cost(args.index_dir, args.repeat):
        print(
            f"| 2d to {row['as_of']} | {row['by']} | {row['window']} / {row['background']} "
            f"| {row['first_s'] * 1000:.0f} ms | {row['repeated_s'] * 1000:.0f} ms "
            f"| {row['process_s']:.2f} s |"
        )
    print()
    print("Values: count in the window / in the baseline (ratio: times more often than before); JLH order.")
    print()
    print("\n".join(windows(args.index_dir, args.limit)))


if __name__ == "__main__":
    main()
