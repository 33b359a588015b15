"""Related-item quality on the Reuters data: searchkit's ``similar`` items against plain Whoosh
``more_like``, measured on the same index in the same run.

    python benchmarks/related.py [--sample 100] [--seed 21578] [--top 5]

A fixed-seed sample of Reuters items that have at least one topic (topics read from the files
with ``searchkit.documents.read_file``). For each sampled item:

* baseline: Whoosh's ``more_like`` as Whoosh's documentation teaches it: a searcher of the
  same index with Whoosh's default weighting (BM25F), and
  ``searcher.more_like(docnum, "content", text=item.body, top=5)`` (the index's text field,
  title, topics, excerpt and body; the item's body is passed as the text, since the field is
  not stored; ``more_like`` leaves the item itself out);
* searchkit: ``index.related(item.id, limit=...)``, keeping the first 5 hits whose reason is
  ``similar`` (``listed`` and ``backlink`` hits are left out of the similar list by design, so
  the limit is their number plus 5).

Reported, for each method:

* topic share (the issue's quality bar): among all the top-5 results of all sampled items, the
  share that has at least one topic in common with its source item;
* mean cosine (textual closeness): the mean cosine similarity between a source and each of its
  top-5 results, over TF-IDF vectors of the analysed words (``searchkit.schema.make_analyzer``)
  of title, excerpt and body; tf is ``1 + log(count)``, idf ``log(N / df)`` over the whole
  Reuters corpus, computed here;
* p50 ms: the median latency of one lookup (``index.related`` or ``more_like``); for
  searchkit, of a repeated lookup of each item (an untimed one before counts its listed and
  backlinked hits), and, printed below the table, of each item's first lookup (top 25):
  searchkit keeps what it computed for recently ranked items, so a repeated lookup is cheaper.

Two things to keep in mind when reading the numbers. searchkit leaves out an item's duplicates
(same url, or same title and provider) by design, while ``more_like`` returns them, with a
cosine near 1: the script says how many of the baseline's results are such duplicates and the
baseline's cosine without them. And searchkit's second stage ranks candidates by a tf-idf
cosine of the same kind as the one measured here (idf from the index, see
``searchkit.related.similar``), so the cosine shows that the topic boost did not give up
textual closeness, not that the words were matched by an independent judge.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import median, reuters_corpus, reuters_index

from searchkit import SearchIndex
from searchkit.corpus import iter_corpus_files
from searchkit.documents import read_file
from searchkit.models import NewsItem
from searchkit.schema import make_analyzer

Vector = dict[str, float]


def topic_set(topics: tuple[str, ...] | list[str]) -> set[str]:
    return {t.strip().casefold() for t in topics if t.strip()}


def tfidf_vectors(items: dict[str, NewsItem]) -> dict[str, Vector]:
    """Unit-length TF-IDF vectors of every item, idf over all of ``items``."""
    analyzer = make_analyzer()
    counts: dict[str, Counter[str]] = {}
    df: Counter[str] = Counter()
    for ident, item in items.items():
        text = "\n".join((item.title, item.excerpt, item.body))
        words = Counter(token.text for token in analyzer(text))
        counts[ident] = words
        df.update(words.keys())
    total = len(items)
    idf = {word: math.log(total / n) for word, n in df.items()}
    vectors = {}
    for ident, words in counts.items():
        vector = {w: (1 + math.log(c)) * idf[w] for w, c in words.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        vectors[ident] = {w: v / norm for w, v in vector.items()}
    return vectors


def dup_key(item: NewsItem) -> tuple[str, str]:
    """What makes two items duplicates besides their url (as searchkit.related decides)."""
    return (" ".join(item.title.split()).casefold(), item.provider.name.casefold())


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


class Tally:
    """Topic overlap, cosine and latency of one method over the sample."""

    def __init__(self) -> None:
        self.results = 0
        self.sharing = 0
        self.cosines: list[float] = []
        self.millis: list[float] = []
        self.short = 0  # sampled items with fewer than `top` results
        self.duplicates: list[bool] = []  # per result: a duplicate of its source

    def add(
        self,
        source: NewsItem,
        found: list[str],
        items: dict[str, NewsItem],
        vectors: dict[str, Vector],
        top: int,
        ms: float,
    ) -> None:
        self.millis.append(ms)
        self.short += len(found) < top
        wanted = topic_set(source.topics)
        for ident in found:
            self.results += 1
            self.sharing += bool(wanted & topic_set(items[ident].topics))
            self.cosines.append(cosine(vectors[source.id], vectors[ident]))
            other = items[ident]
            self.duplicates.append(
                bool(source.url and other.url == source.url) or dup_key(other) == dup_key(source)
            )

    def cosine_without_duplicates(self) -> float:
        kept = [c for c, dup in zip(self.cosines, self.duplicates, strict=True) if not dup]
        return sum(kept) / len(kept) if kept else 0.0

    def row(self, name: str) -> str:
        share = self.sharing / self.results if self.results else 0.0
        mean_cos = sum(self.cosines) / len(self.cosines) if self.cosines else 0.0
        return f"| {name} | {share:.3f} | {mean_cos:.3f} | {median(self.millis):.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="items sampled (default 100)")
    parser.add_argument("--seed", type=int, default=21578, help="sampling seed (default 21578)")
    parser.add_argument("--top", type=int, default=5, help="results judged per item (default 5)")
    args = parser.parse_args()

    corpus = reuters_corpus()
    path = reuters_index()
    items = {item.id: item for item in (read_file(f, corpus) for f in iter_corpus_files(corpus))}
    with_topics = sorted(ident for ident, item in items.items() if topic_set(item.topics))
    sample = random.Random(args.seed).sample(with_topics, args.sample)
    vectors = tfidf_vectors(items)

    baseline, ours = Tally(), Tally()
    first_ms: list[float] = []  # searchkit: the first lookup of each item
    with SearchIndex.open(path) as index:
        reader = index._read()  # the same index's Whoosh index, for the baseline
        with reader._lock:
            reader._refresh()
            whoosh_searcher = reader._ix.searcher()  # Whoosh's default weighting: BM25F
        try:
            # warm caches, as a long-lived process has them
            index.related(sample[0], limit=args.top)
            whoosh_searcher.more_like(
                whoosh_searcher.document_number(id=sample[0]),
                "content",
                text=items[sample[0]].body,
                top=args.top,
            )
            for ident in sample:
                item = items[ident]

                docnum = whoosh_searcher.document_number(id=ident)
                start = time.perf_counter()
                results = whoosh_searcher.more_like(docnum, "content", text=item.body, top=args.top)
                found = [hit["id"] for hit in results]
                ms = (time.perf_counter() - start) * 1000
                baseline.add(item, found, items, vectors, args.top, ms)

                # listed and backlink hits come first and are never similar: ask for that
                # many more (counted with a first call, not timed)
                start = time.perf_counter()  # the item's first lookup, as a reader asks
                index.related(ident, limit=args.top + 20)
                first_ms.append((time.perf_counter() - start) * 1000)
                probe = index.related(ident, limit=1000)
                others = sum(hit.reason != "similar" for hit in probe.related)
                start = time.perf_counter()
                related = index.related(ident, limit=others + args.top)
                ms = (time.perf_counter() - start) * 1000
                found = [hit.id for hit in related.related if hit.reason == "similar"][: args.top]
                ours.add(item, [f for f in found if f is not None], items, vectors, args.top, ms)
        finally:
            whoosh_searcher.close()

    print(
        f"Reuters ({len(items)} items, {len(with_topics)} with topics); "
        f"sample of {args.sample} items with topics, seed {args.seed}; top {args.top} "
        f"similar results each"
    )
    print()
    print("| method | topic share | mean cosine | p50 ms |")
    print("|---|---|---|---|")
    print(baseline.row(f"Whoosh more_like on content (BM25F, top={args.top})"))
    print(ours.row("searchkit index.related (similar)"))
    print()
    print(f"searchkit, first lookup of each item: p50 {median(first_ms):.1f} ms")
    print(
        f"results judged: baseline {baseline.results}, searchkit {ours.results} "
        f"(items with fewer than {args.top}: baseline {baseline.short}, "
        f"searchkit {ours.short})"
    )
    print(
        f"duplicates of the source among the results (same url, or same title and provider): "
        f"baseline {sum(baseline.duplicates)}, searchkit {sum(ours.duplicates)}; baseline mean "
        f"cosine without them {baseline.cosine_without_duplicates():.3f}"
    )


if __name__ == "__main__":
    main()
