"""Locating and unpacking the shared test data for the benchmark scripts."""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".data"  # ignored by git


def shared_data_dir() -> Path:
    """``$SEARCHKIT_SHARED_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("SEARCHKIT_SHARED_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise SystemExit(f"shared data not found at {path}; set SEARCHKIT_SHARED_DATA")
    return path


def unpacked(archive: str, member: str) -> Path:
    """Unpack ``archive`` (once) into benchmarks/.data and return the path of ``member``."""
    target = CACHE / member
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp, tarfile.open(shared_data_dir() / archive) as tar:
            tar.extractall(tmp, filter="data")
            (Path(tmp) / member).rename(target)
    return target


def reuters_corpus() -> Path:
    """The Reuters corpus in our format, unpacked once."""
    return unpacked("reuters21578-news.tar.gz", "reuters21578")


def reuters_index() -> Path:
    """A searchkit index of the Reuters corpus, built once (an update when it exists)."""
    from searchkit import SearchIndex

    path = CACHE / "reuters-index"
    with SearchIndex.create(path) as index:
        index.update(reuters_corpus())
    return path


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
