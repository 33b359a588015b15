"""Where a build's time goes: cProfile of one single-process build, searchkit and plain Whoosh.

    python benchmarks/profile_build.py [--items N] [--engine searchkit|baseline|both] [--top K]

Takes the first N files (sorted by name, default 5,000) of the scale-1 corpus (built by
benchmarks/run.py; the Reuters corpus if it is missing), hard-links them into a temporary corpus
and builds an index of them in one process under cProfile: searchkit with its parallel paths
turned off (so the profile sees parsing, analysis and writing in one place) and with the block
segment writer its writer processes use (searchkit/whoosh_internals/segment.py), the baseline as
benchmarks/baseline.py does. Prints the share of the build in each phase and the functions with
the most time of their own.

Phases (by the function that spends the time, own time only):
- parse: reading files, YAML (PyYAML, python-frontmatter), building the item from the mapping;
- analysis: tokenising, stop words, stemming (searchkit.schema, whoosh.analysis, stemmers);
- indexing: the writer's per-document work outside analysis (fields, posting buffers, pools);
- commit: writing the segment (codec, posting blocks, compression, pickling, files);
- other: everything else (json, hashing, the interpreter's own calls).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402
import corpora  # noqa: E402
from _data import reuters_corpus  # noqa: E402

PHASES = (
    (
        "parse",
        (
            "yaml",
            "frontmatter",
            "searchkit/documents.py",
            "searchkit/models.py",
            "baseline.py:67(read_document)",
        ),
    ),
    ("analysis", ("searchkit/schema.py", "whoosh/analysis", "whoosh/lang", "stem")),
    (
        "commit",
        (
            "whoosh/codec",
            "whoosh/filedb",
            "whoosh/system",
            "zlib",
            "pickle",
            "marshal",
            "whoosh/util/numlists",
            "whoosh/idsets",
            "whoosh/columns",
            "<built-in method _io",
            "_struct",
            "'write' of",
            "array.array",
            "dump",
            "compress",
        ),
    ),
    (
        "indexing",
        (
            "whoosh/writing",
            "whoosh/fields",
            "whoosh/formats",
            "whoosh/externalsort",
            "whoosh/util/cache",
            "heapq",
            "whoosh/matching",
            "whoosh/reading",
        ),
    ),
)


#: The block segment writer's functions that write the segment (the rest of it is indexing).
SEGMENT_COMMIT = {"_encode_block", "_flush_segment", "write", "spill", "put", "get", "flush", "add_stats"}


def phase_of(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename.endswith("searchkit/whoosh_internals/segment.py"):
        return "commit" if name in SEGMENT_COMMIT else "indexing"
    text = f"{filename}:{line}({name})"
    for phase, marks in PHASES:
        if any(mark in text for mark in marks):
            return phase
    return "other"


def sample_corpus(items: int, target: Path) -> Path:
    scale1 = corpora.scale_dir(1) / "corpus"
    source = scale1 if scale1.is_dir() else reuters_corpus()
    files = corpora.corpus_files(source)[:items]
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(source / rel, dest)
    return target


def build_searchkit(corpus: Path, index_dir: Path) -> None:
    from searchkit import SearchIndex, indexer

    # One process, so that the profile sees every phase: a run below the threshold writes with
    # the block segment writer, as a writer process of a large run does.
    indexer.PARALLEL_THRESHOLD = 10**9
    with SearchIndex.create(index_dir) as index:
        report = index.update(corpus)
    assert report.ok, report.errors


def build_baseline(corpus: Path, index_dir: Path) -> None:
    baseline.build(corpus, index_dir)


def profile(engine: str, corpus: Path, work: Path, top: int) -> None:
    build = build_searchkit if engine == "searchkit" else build_baseline
    # Import what the build needs first, so that imports do not count.
    import searchkit.documents
    import searchkit.indexer  # noqa: F401

    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    build(corpus, work / f"index-{engine}")
    profiler.disable()
    wall = time.perf_counter() - began
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    phases: dict[str, float] = {}
    for key, entry in raw.items():
        phases[phase_of(key)] = phases.get(phase_of(key), 0.0) + entry[2]
    items = len(corpora.corpus_files(corpus))
    print(
        f"\n## {engine}: {items} items, {wall:.1f} s under the profiler ({items / wall:.0f} items/s profiled)"
    )
    print("\n| phase | s | share |\n|---|---:|---:|")
    for phase in ("parse", "analysis", "indexing", "commit", "other"):
        spent = phases.get(phase, 0.0)
        print(f"| {phase} | {spent:.1f} | {spent / total:.0%} |")
    print(f"\nTop {top} functions by own time:\n")
    print("| function | calls | own s | share |\n|---|---:|---:|---:|")
    ranked = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (filename, line, name), entry in ranked:
        where = filename.split("site-packages/")[-1]
        if where.startswith(str(REPO) + "/"):
            where = where[len(str(REPO)) + 1 :]
        print(f"| `{where}:{line}({name})` | {entry[1]} | {entry[2]:.2f} | {entry[2] / total:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--engine", choices=("searchkit", "baseline", "both"), default="both")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    engines = ("baseline", "searchkit") if args.engine == "both" else (args.engine,)
    with tempfile.TemporaryDirectory(prefix="searchkit-profile-") as tmp:
        corpus = sample_corpus(args.items, Path(tmp) / "corpus")
        for engine in engines:
            profile(engine, corpus, Path(tmp), args.top)


if __name__ == "__main__":
    main()
