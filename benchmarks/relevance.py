"""Ranking quality: nDCG@10 of searchkit on classic IR test collections.

Indexes each collection of ``relevance-dev.tar.gz`` (Cranfield, Medline) with searchkit, runs
every query as plain lower-case words through the Python API (top 100) and reports nDCG@10 with
trec_eval's linear gain over the judged queries (an empty result counts 0).

    python benchmarks/relevance.py            # the shipped defaults
    python benchmarks/relevance.py --sweep    # the alternatives the defaults were chosen from
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import unpacked

from searchkit import SearchIndex, schema

COLLECTIONS = ("cran", "med")
#: Best score measured by a peer engine on this machine (tantivy, SQLite FTS5, bm25s), and plain
#: Whoosh BM25F with a title boost; see ../shared/data/README.md.
BEST_PEER = {"cran": 0.372, "med": 0.719}
PLAIN_WHOOSH = {"cran": 0.372, "med": 0.700}


def load_collection(name: str) -> tuple[Path, dict[str, str], dict[str, dict[str, int]]]:
    base = unpacked("relevance-dev.tar.gz", "relevance-dev") / name
    queries = {}
    for line in (base / "queries.tsv").read_text(encoding="utf-8").splitlines():
        qid, _, text = line.partition("\t")
        queries[qid] = text
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (base / "qrels.txt").read_text(encoding="utf-8").splitlines():
        qid, _, docid, grade = line.split()
        if int(grade) > 0:
            qrels[qid][docid] = int(grade)
    return base / "docs", queries, qrels


def ndcg_at_10(ranked: list[str], judged: dict[str, int]) -> float:
    dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sorted(judged.values(), reverse=True)[:10]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


#: Settings that change the index (the others only change scoring at search time).
INDEX_SETTINGS = ("TITLE_REPEAT", "STOP_WORDS")
_built: dict[tuple[str, str], Path] = {}


def _index_for(name: str, docs: Path, workdir: Path) -> Path:
    """Build (or reuse) the index of collection ``name`` under the current index settings."""
    key = (name, repr([getattr(schema, s) for s in INDEX_SETTINGS]))
    if key not in _built:
        path = workdir / f"ix{len(_built)}"
        with SearchIndex.create(path) as index:
            index.update(docs)
        _built[key] = path
    return _built[key]


def evaluate(name: str, workdir: Path) -> float:
    docs, queries, qrels = load_collection(name)
    with SearchIndex.open(_index_for(name, docs, workdir)) as index:
        scores = []
        for qid, text in queries.items():
            if qid not in qrels:
                continue
            words = " ".join(re.findall(r"\w+", text.lower()))
            hits = index.search(words, limit=100).hits
            ranked = [Path(hit.id).stem.split("-", 1)[1] for hit in hits]
            scores.append(ndcg_at_10(ranked, qrels[qid]))
    return sum(scores) / len(scores)


@contextlib.contextmanager
def variant(**settings: object) -> Iterator[None]:
    """Temporarily change ranking constants of searchkit.schema."""
    saved = {key: getattr(schema, key) for key in settings}
    for key, value in settings.items():
        setattr(schema, key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(schema, key, value)


SWEEP: dict[str, dict[str, object]] = {
    "defaults (title x2, K1=2.0, B=0.7, title phrase 1.0)": {},
    "Whoosh's idf instead of BM25's": {"PROBABILISTIC_IDF": False},
    "K1=1.2 (the textbook value)": {"BM25_K1": 1.2},
    "K1=1.5": {"BM25_K1": 1.5},
    "K1=2.5": {"BM25_K1": 2.5},
    "B=0.6": {"BM25_B": 0.6},
    "B=0.75": {"BM25_B": 0.75},
    "B=0.85": {"BM25_B": 0.85},
    "no title phrase clause": {"TITLE_PHRASE_BOOST": 0.0},
    "title x1": {"TITLE_REPEAT": 1},
    "title x3": {"TITLE_REPEAT": 3},
    "no stop words": {"STOP_WORDS": frozenset()},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also score the alternatives")
    args = parser.parse_args()
    rows = SWEEP if args.sweep else {"defaults": {}}
    print(f"| variant | {' | '.join(COLLECTIONS)} |")
    print(f"|---|{'---|' * len(COLLECTIONS)}")
    print(
        f"| plain Whoosh BM25F, title boost 2 | {' | '.join(f'{PLAIN_WHOOSH[c]:.3f}' for c in COLLECTIONS)} |"
    )
    print(f"| best peer (tantivy, FTS5, bm25s) | {' | '.join(f'{BEST_PEER[c]:.3f}' for c in COLLECTIONS)} |")
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in rows.items():
            with variant(**settings):
                scores = [evaluate(name, Path(tmp)) for name in COLLECTIONS]
                print(f"| searchkit: {label} | {' | '.join(f'{s:.3f}' for s in scores)} |", flush=True)


if __name__ == "__main__":
    main()
