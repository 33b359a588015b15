"""Ranking quality: nDCG@10, MAP and recall@100 of searchkit on classic IR test collections.

Indexes each collection of ``relevance-dev.tar.gz`` (Cranfield, Medline, LISA, NPL) with
searchkit, runs every query as plain lower-case words through the Python API (top 100) and
reports, over the judged queries (an empty result counts 0): nDCG@10 with trec_eval's linear
gain, MAP over the top 100, and recall@100; then, per collection, whether nDCG@10 is at or
above the best of the peer engines measured on the same data.

    python benchmarks/relevance.py               # the shipped defaults
    python benchmarks/relevance.py --ablations   # the variants the defaults were chosen from

Each collection is indexed once per combination of the settings that change the index
(``INDEX_SETTINGS``); the other variants re-score the same index.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import unpacked

from searchkit import SearchIndex, schema

COLLECTIONS = ("cran", "med", "lisa", "npl")

#: nDCG@10 of the peer engines on these collections, measured on this machine with the same
#: queries (plain lower-case words, OR, top 100) and the same metric: the table at the end of
#: ../shared/data/README.md ("relevance-dev.tar.gz"), copied here as published there.
PEERS: dict[str, dict[str, float]] = {
    "plain Whoosh BM25F (title boost 2)": {"cran": 0.372, "med": 0.700, "lisa": 0.422, "npl": 0.401},
    "tantivy BM25": {"cran": 0.361, "med": 0.706, "lisa": 0.407, "npl": 0.395},
    "SQLite FTS5 bm25": {"cran": 0.357, "med": 0.719, "lisa": 0.362, "npl": 0.442},
    "bm25s (stop words + stemmer)": {"cran": 0.368, "med": 0.716, "lisa": 0.385, "npl": 0.458},
}


def best_peer(collection: str) -> tuple[str, float]:
    """The peer with the highest nDCG@10 on ``collection``, and that figure."""
    name = max(PEERS, key=lambda peer: PEERS[peer][collection])
    return name, PEERS[name][collection]


@dataclass(frozen=True)
class Scores:
    """Means over a collection's judged queries."""

    ndcg10: float
    map100: float
    recall100: float


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
    """trec_eval's ndcg_cut_10: linear gain, log2 discount."""
    dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sorted(judged.values(), reverse=True)[:10]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def average_precision(ranked: list[str], judged: dict[str, int]) -> float:
    """trec_eval's map over the ranking given (here the top 100): precision at each relevant
    item found, over the number of relevant items."""
    found, total = 0, 0.0
    for rank, doc in enumerate(ranked, 1):
        if doc in judged:
            found += 1
            total += found / rank
    return total / len(judged)


def recall(ranked: list[str], judged: dict[str, int]) -> float:
    return sum(1 for doc in ranked if doc in judged) / len(judged)


#: Settings of searchkit.schema that change the index (the others only change scoring at
#: search time): a variant that changes one of these is indexed anew.
INDEX_SETTINGS = ("TITLE_REPEAT", "STOP_WORDS", "EXCERPT_ONCE", "TITLE_ONCE")
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


def evaluate(name: str, workdir: Path) -> Scores:
    docs, queries, qrels = load_collection(name)
    ndcg, ap, rec = [], [], []
    with SearchIndex.open(_index_for(name, docs, workdir)) as index:
        for qid, text in queries.items():
            if qid not in qrels:
                continue
            words = " ".join(re.findall(r"\w+", text.lower()))
            hits = index.search(words, limit=100).hits
            ranked = [Path(hit.id).stem.split("-", 1)[1] for hit in hits]
            ndcg.append(ndcg_at_10(ranked, qrels[qid]))
            ap.append(average_precision(ranked, qrels[qid]))
            rec.append(recall(ranked, qrels[qid]))
    return Scores(sum(ndcg) / len(ndcg), sum(ap) / len(ap), sum(rec) / len(rec))


@contextlib.contextmanager
def variant(**settings: object) -> Iterator[None]:
    """Temporarily change ranking settings of searchkit.schema."""
    saved = {key: getattr(schema, key) for key in settings}
    for key, value in settings.items():
        setattr(schema, key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(schema, key, value)


#: The stop list of schema version 3 (36 words), for the ablations.
PREVIOUS_STOP_WORDS = frozenset(
    """
    a an and are as at be been by for from has had have he her his i in is its of on or she that
    the their there they this to was were which with
    """.split()  # noqa: SIM905  # as schema.STOP_WORDS is written
)
#: The ranking settings of schema version 3.
PREVIOUS = {
    "EXCERPT_ONCE": False,
    "TITLE_ONCE": False,
    "QUERY_REPEAT_K3": None,
    "STOP_WORDS": PREVIOUS_STOP_WORDS,
    "BM25_K1": 2.0,
    "BM25_B": 0.7,
}


def _previous_but(*changed: str) -> dict[str, object]:
    """The previous defaults, but today's for the ``changed`` settings."""
    return {key: value for key, value in PREVIOUS.items() if key not in changed}


#: The variants ``--ablations`` scores: the previous defaults, each change made on the way to
#: today's (cumulative), then today's defaults less one change or with another value.
ABLATIONS: dict[str, dict[str, object]] = {
    "previous defaults (schema 3: title x2, excerpt and opening title repeated, 36 stop words, "
    "K1=2.0, B=0.7)": PREVIOUS,
    "+ excerpt left out when the body holds it": _previous_but("EXCERPT_ONCE"),
    "+ title left out of a body that opens with it": _previous_but("EXCERPT_ONCE", "TITLE_ONCE"),
    "+ query words weighed by repeats (k3=2)": _previous_but("EXCERPT_ONCE", "TITLE_ONCE", "QUERY_REPEAT_K3"),
    "+ Snowball stop list, news words kept": _previous_but(
        "EXCERPT_ONCE", "TITLE_ONCE", "QUERY_REPEAT_K3", "STOP_WORDS"
    ),
    "+ K1=1.2, B=0.5: today's defaults": {},
    "defaults, excerpt repeated": {"EXCERPT_ONCE": False},
    "defaults, title repeated in a body that opens with it": {"TITLE_ONCE": False},
    "defaults, repeated query words weigh once": {"QUERY_REPEAT_K3": None},
    "defaults, repeats weigh k3=1": {"QUERY_REPEAT_K3": 1.0},
    "defaults, repeats weigh k3=1000 (nearly their count)": {"QUERY_REPEAT_K3": 1000.0},
    "defaults, previous stop list": {"STOP_WORDS": PREVIOUS_STOP_WORDS},
    "defaults, all of Snowball's stop list": {
        "STOP_WORDS": schema.STOP_WORDS
        | {"who", "it", "no", "not", "nor", "up", "down", "over", "under", "out", "off"}
    },
    "defaults, title x1": {"TITLE_REPEAT": 1},
    "defaults, title x3": {"TITLE_REPEAT": 3},
    "defaults, K1=2.0, B=0.7 (previous)": {"BM25_K1": 2.0, "BM25_B": 0.7},
    "defaults, K1=2.0": {"BM25_K1": 2.0},
    "defaults, K1=1.5": {"BM25_K1": 1.5},
    "defaults, K1=0.9, B=0.4 (Anserini's)": {"BM25_K1": 0.9, "BM25_B": 0.4},
    "defaults, B=0.75 (the textbook value)": {"BM25_B": 0.75},
    "defaults, B=0.4": {"BM25_B": 0.4},
    "defaults, B=0.6": {"BM25_B": 0.6},
    "defaults, Whoosh's idf instead of BM25's": {"PROBABILISTIC_IDF": False},
    "defaults, no title phrase clause": {"TITLE_PHRASE_BOOST": 0.0},
}


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | {' | '.join(cells)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ablations", "--sweep", action="store_true", help="also score the variants (nDCG@10 only)"
    )
    args = parser.parse_args()
    names = COLLECTIONS
    print(_row("peer (../shared/data/README.md), nDCG@10", list(names)))
    print(f"|---|{'---|' * len(names)}")
    for peer, figures in PEERS.items():
        print(_row(peer, [f"{figures[c]:.3f}" for c in names]))
    print()
    print(_row("searchkit, nDCG@10", list(names)))
    print(f"|---|{'---|' * len(names)}")
    rows = ABLATIONS if args.ablations else {"defaults": {}}
    results: dict[str, dict[str, Scores]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in rows.items():
            started = time.perf_counter()
            with variant(**settings):
                results[label] = {name: evaluate(name, Path(tmp)) for name in names}
            cells = [f"{results[label][c].ndcg10:.3f}" for c in names]
            print(_row(label, cells) + f" ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print(_row("searchkit", ["nDCG@10", "MAP@100", "R@100", "best peer's nDCG@10", "nDCG@10 against it"]))
    print("|---|---|---|---|---|---|")
    for label, settings in rows.items():
        if settings and settings is not PREVIOUS:
            continue
        for name in names:
            score = results[label][name]
            peer, figure = best_peer(name)
            verdict = "at/above" if round(score.ndcg10, 3) >= figure else "BELOW"
            print(
                _row(
                    f"{name}, {'previous defaults' if settings else 'defaults'}",
                    [
                        f"{score.ndcg10:.3f}",
                        f"{score.map100:.3f}",
                        f"{score.recall100:.3f}",
                        f"{figure:.3f} ({peer})",
                        f"{verdict} ({score.ndcg10 - figure:+.3f})",
                    ],
                )
            )


if __name__ == "__main__":
    main()
