"""Cost of faceted search on the Reuters data: searchkit's facets against a plain top-10 search
and against Whoosh's own facets, measured on the same index in the same run.

    python benchmarks/facets.py [--repeat 30]

Each figure is the median over the repetitions, in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import median, reuters_index
from whoosh import query, sorting

from searchkit import SearchIndex

FACETS = ["topics", "provider", "year"]
QUERIES = ["", "oil", "grain exports", "interest rates"]


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches, as a long-lived process has them
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    path = reuters_index()
    rows = []
    with SearchIndex.open(path) as index:
        documents = index.info().documents
        reader = index._read()  # the Whoosh searcher, for the Whoosh-facets baseline
        for text in QUERIES:
            plain = timed(lambda t=text: index.search(t, limit=10), args.repeat)
            faceted = timed(lambda t=text: index.search(t, limit=10, facets=FACETS), args.repeat)
            filtered = timed(
                lambda t=text: index.search(t, limit=10, facets=FACETS, min_quality=50, sort="heat"),
                args.repeat,
            )

            def whoosh_facets(t: str = text) -> None:
                with reader._lock:
                    searcher = reader._refresh()
                    q = reader.parse(t) if t else query.Every()
                    groups = {
                        "topics": sorting.FieldFacet("topic", allow_overlap=True),
                        "provider": sorting.FieldFacet("provider_exact"),
                        "year": sorting.FieldFacet("published_at"),
                    }
                    results = searcher.search(q, limit=10, groupedby=groups)
                    for name in groups:
                        results.groups(name)

            baseline = timed(whoosh_facets, max(3, args.repeat // 5))
            rows.append((text or "(match all)", plain, faceted, filtered, baseline))
    print(f"Reuters ({documents} items), facets {'+'.join(FACETS)}; medians of {args.repeat} runs, ms")
    print(
        "| query | plain top-10 | + facets | + facets, quality>=50, sort by heat | "
        "Whoosh's own facets (same index) | facets / plain |"
    )
    print("|---|---|---|---|---|---|")
    for text, plain, faceted, filtered, baseline in rows:
        print(
            f"| {text} | {plain:.1f} | {faceted:.1f} | {filtered:.1f} | {baseline:.1f} | "
            f"{faceted / plain:.1f}x |"
        )


if __name__ == "__main__":
    main()
