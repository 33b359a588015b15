"""Cost of keeping the index fresh on the Reuters data: a full build against incremental runs.

    python benchmarks/incremental.py [--repeat 3]

Copies the Reuters corpus to a scratch folder, builds a fresh index once (timed), then times,
each ``--repeat`` times on that index: a run with no change, a run with 30 changed files, and
a run with 100 new, 100 changed and 100 deleted files (reverted after each repetition).
Reports medians and each run's share of the full build.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import CACHE, median, reuters_corpus

from searchkit import SearchIndex


def touch_content(path: Path, marker: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + f"\n\nUpdate {marker}: figures revised.\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = reuters_corpus()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(source, corpus)
        files = sorted(corpus.glob("*.md"))
        index_dir = Path(tmp) / "index"
        with SearchIndex.create(index_dir) as index:
            start = time.perf_counter()
            full = index.rebuild(corpus)
            full_seconds = time.perf_counter() - start
            rng = random.Random(21578)
            none_runs, thirty_runs, mixed_runs = [], [], []
            for rep in range(args.repeat):
                report = index.update(corpus)
                assert report.added == report.updated == report.deleted == 0
                none_runs.append(report.seconds)

                for path in rng.sample(files, 30):
                    touch_content(path, f"a{rep}")
                report = index.update(corpus)
                assert report.updated == 30, report
                thirty_runs.append(report.seconds)

                changed = rng.sample(files, 200)
                for path in changed[:100]:
                    touch_content(path, f"b{rep}")
                removed = {p: p.read_bytes() for p in changed[100:]}
                for path in removed:
                    path.unlink()
                new = []
                for number, template in enumerate(rng.sample(files, 100)):
                    target = corpus / f"new-{rep}-{number}.md"
                    target.write_bytes(
                        template.read_bytes().replace(
                            b"webUrl: https://", f"webUrl: https://new{rep}.".encode()
                        )
                    )
                    new.append(target)
                report = index.update(corpus)
                assert (report.added, report.updated, report.deleted) == (100, 100, 100), report
                mixed_runs.append(report.seconds)
                for path, data in removed.items():  # back to the corpus as it was
                    path.write_bytes(data)
                for path in new:
                    path.unlink()
                index.update(corpus)
            documents = index.info().documents
    rows = [
        ("no change", median(none_runs)),
        ("30 changed files", median(thirty_runs)),
        ("100 new + 100 changed + 100 deleted", median(mixed_runs)),
    ]
    print(
        f"Reuters, {documents} items; full build {full_seconds:.1f} s "
        f"({full.documents / full_seconds:.0f} items/s); medians of {args.repeat} runs"
    )
    print("| run | seconds | share of the full build |")
    print("|---|---|---|")
    print(f"| full build | {full_seconds:.2f} | 100% |")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {100 * seconds / full_seconds:.1f}% |")


if __name__ == "__main__":
    main()
