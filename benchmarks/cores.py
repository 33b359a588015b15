"""Do two CPU-bound Python processes run as fast as one? (median of 5 rounds)

    python benchmarks/cores.py

What a build with two writer processes can hope for on this machine: prints the throughput
of two processes running a pure-Python loop at once, relative to one.
"""

from __future__ import annotations

import statistics
import time
from multiprocessing import Pool

N = 6_000_000


def work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def timed(pool: Pool, jobs: list[int]) -> float:  # type: ignore[valid-type]
    start = time.perf_counter()
    pool.map(work, jobs, chunksize=1)
    return time.perf_counter() - start


def main() -> None:
    with Pool(2) as pool:
        pool.map(work, [1000, 1000])
        one, two = [], []
        for _ in range(5):
            one.append(timed(pool, [N]))
            two.append(timed(pool, [N, N]))
    a, b = statistics.median(one), statistics.median(two)
    print(f"one process {a:.2f} s, two at once {b:.2f} s: throughput x{2 * a / b:.2f} with two")


if __name__ == "__main__":
    main()
