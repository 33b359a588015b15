"""What checksums cost: verification when an index is opened, a full ``check``, and recording
them at commit time.

    python benchmarks/verify.py [INDEX_DIR] [--repeat 15]

``INDEX_DIR`` is an index of the Reuters archive (build one with ``searchkit index CORPUS
--index-dir DIR``); without it the repository's sample corpus is indexed into a temporary
folder. Measured, as medians over ``--repeat`` runs, alternating the variants so that the
machine's drift hits both alike (the files are in the page cache: a warm open):

* **open**: ``SearchIndex.open(dir).search("oil")``, a new reader each time, with the cheap
  verification on open (sizes, and the files up to ``CHEAP_LIMIT`` read whole) and with it
  switched off (``verify_reader`` replaced by a no-op): the baseline is the same open without
  verification;
* **check**: ``SearchIndex.check()``, every byte of the live commit;
* **record**: the CRC-32 of every file of the index, which is what a full build's commits add
  (an incremental commit computes the checksums of its new files only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchkit import SearchIndex, checksums, search  # noqa: E402
from searchkit.store import IndexLocation  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def open_and_search(index_dir: Path) -> None:
    with SearchIndex.open(index_dir) as index:
        index.search("oil", limit=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index_dir = args.index_dir
        if index_dir is None:
            index_dir = Path(scratch) / "index"
            SearchIndex.create(index_dir).update(ROOT / "corpus")
        gen = IndexLocation(index_dir).current()
        assert gen is not None
        files = [p for p in gen.iterdir() if p.name.startswith(("MAIN_", "_MAIN_")) and ".sums" not in p.name]
        size = sum(p.stat().st_size for p in files)
        cheap = sum(p.stat().st_size for p in files if p.stat().st_size <= checksums.CHEAP_LIMIT)

        verify = search.verify_reader
        with_check: list[float] = []
        without: list[float] = []
        full: list[float] = []
        record: list[float] = []
        open_and_search(index_dir)  # warm the page cache
        for _ in range(args.repeat):
            with_check.append(timed(lambda: open_and_search(index_dir)))
            search.verify_reader = lambda *a, **k: None  # type: ignore[assignment]
            try:
                without.append(timed(lambda: open_and_search(index_dir)))
            finally:
                search.verify_reader = verify
            full.append(timed(lambda: SearchIndex(index_dir).check()))
            record.append(timed(lambda: [checksums.crc32_file(p) for p in files]))
        report = SearchIndex(index_dir).check()
        assert report.ok, report.damaged

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.1f} ms"

    whole = f"{cheap / 1e6:.2f} MB in files verified whole on open"
    print(f"index: {len(files)} files, {size / 1e6:.1f} MB ({whole})")
    print(f"open + first search, verified:     {ms(with_check)}")
    print(f"open + first search, not verified: {ms(without)}")
    print(f"  verification on open costs {statistics.median(with_check) / statistics.median(without):.2f}x")
    print(f"full check:                        {ms(full)} ({size / statistics.median(full) / 1e6:.0f} MB/s)")
    print(f"CRC-32 of every file (a full build's recording): {ms(record)}")
    print(f"({args.repeat} repetitions, medians)")


if __name__ == "__main__":
    main()
