"""The block segment writer writes what Whoosh's own segment writer writes.

Both writers index the same documents into two indexes; every per-document file (stored
fields, field lengths, columns) must be byte-identical, and every term must have the same
statistics and the same postings (document, weight, encoded positions) in the same blocks.
With compression of every block and no shared position values (Whoosh's own choices), the
postings and term files are byte-identical too.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from searchkit.documents import parse_bytes
from searchkit.models import NewsItem
from searchkit.schema import item_document, make_schema
from searchkit.similarity import fingerprint
from searchkit.whoosh_internals import segment as segment_module
from searchkit.whoosh_internals.segment import BLOCK_LIMIT, BlockSegmentWriter

REPO = Path(__file__).resolve().parent.parent

WORDS = [
    "market",
    "markets",
    "oil",
    "prices",
    "the",
    "and",
    "bank",
    "rates",
    "İstanbul",
    "Zürich",
    "café",
    "U.S.",
    "3.5",
    "naïve",
    "crude",
    "exports",
    "of",
    "in",
    "growth",
]


def synthetic_items(count: int, seed: int = 7) -> list[NewsItem]:
    """Items whose common words fill several blocks, with long bodies (positions past the
    writer's cache of encoded positions), accents, stop words, and missing fields."""
    rng = random.Random(seed)
    items = []
    for n in range(count):
        body_words = [rng.choice(WORDS) for _ in range(rng.choice([0, 5, 40, 5000]))]
        front = {
            "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))),
            "excerpt": " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 20))),
            "webUrl": f"https://news.example.org/{n}",
            "topics": rng.sample(["Energy", "Banks", "Trade", "Café society"], rng.randint(0, 3)),
            "provider": {
                "name": rng.choice(["Reuters", "BBC News"]),
                "domain": rng.choice(["reuters.com", "bbc.co.uk"]),
            },
            "quality": rng.choice([None, 0, 55, 90]),
            "heat": rng.choice([-1, 0, 12, 400]),
        }
        if n % 3:
            front["publishedDateTime"] = f"2024-0{1 + n % 9}-1{n % 10}T10:00:00Z"
        front = {key: value for key, value in front.items() if value is not None}
        text = "---\n" + json.dumps(front, ensure_ascii=False) + "\n---\n" + " ".join(body_words)
        items.append(parse_bytes(text.encode("utf-8"), f"synthetic/{n:04d}.md"))
    return items


def corpus_items() -> list[NewsItem]:
    """The bundled corpus."""
    paths = sorted(p for p in (REPO / "corpus").iterdir() if p.is_file())
    return [parse_bytes(p.read_bytes(), p.name) for p in paths]


def documents(items: list[NewsItem]) -> list[dict[str, Any]]:
    return [
        item_document(
            item, json.dumps(item.to_dict(), ensure_ascii=False), f"1 1 {n:064x} file", fingerprint(item)
        )
        for n, item in enumerate(items)
    ]


def write(path: Path, docs: list[dict[str, Any]], writer_class: Any, **kwargs: Any) -> Any:
    """A one-segment index of ``docs`` written by ``writer_class``; its open index."""
    path.mkdir()
    ix = whoosh_index.create_in(str(path), make_schema())
    writer = writer_class(ix, compound=False, **kwargs)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return whoosh_index.open_dir(str(path))


def segment_files(path: Path) -> dict[str, bytes]:
    """The segment's files by extension (the segment id left out)."""
    files = {}
    for name in os.listdir(path):
        if name.startswith("MAIN_") and "." in name and not name.endswith(".toc"):
            files[name.split(".", 1)[1]] = (path / name).read_bytes()
    return files


def postings_of(ix: Any) -> dict[tuple[str, bytes], Any]:
    """Every term's statistics and its postings, block by block."""
    terms = {}
    with ix.reader() as reader:
        for fieldname, btext in reader.all_terms():
            info = reader.term_info(fieldname, btext)
            stats = (
                info.weight(),
                info.doc_frequency(),
                info.min_length(),
                info.max_length(),
                info.max_weight(),
                info.min_id(),
                info.max_id(),
            )
            matcher = reader.postings(fieldname, btext)
            blocks = []
            while matcher.is_active():
                size = matcher._blocklength  # W3 matcher: postings in the current block
                header = (
                    size,
                    matcher.block_min_length(),
                    matcher.block_max_length(),
                    matcher.block_max_weight(),
                )
                block = []
                for _ in range(size):
                    block.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                blocks.append((header, block))
            terms[(fieldname, btext)] = (stats, blocks)
    return terms


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return documents(corpus_items() + synthetic_items(3 * BLOCK_LIMIT + 17))


def test_same_postings_and_per_document_files_as_whoosh(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    whoosh_ix = write(tmp_path / "whoosh", docs, SegmentWriter)
    block_ix = write(tmp_path / "block", docs, BlockSegmentWriter)
    expected = postings_of(whoosh_ix)
    got = postings_of(block_ix)
    assert set(got) == set(expected)
    assert any(len(blocks) > 2 for _stats, blocks in expected.values())  # several blocks
    for term, value in expected.items():
        assert got[term] == value, term
    whoosh_files = segment_files(tmp_path / "whoosh")
    block_files = segment_files(tmp_path / "block")
    assert set(block_files) == set(whoosh_files)
    for ext, data in whoosh_files.items():
        if ext not in ("pst", "trm"):
            assert block_files[ext] == data, ext
    # By default short blocks are left uncompressed and equal position values pickled once,
    # so the postings differ in their bytes (and are the same postings, above).
    assert block_files["pst"] != whoosh_files["pst"]


def test_byte_identical_with_whoosh_choices(
    docs: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compressing every block and encoding each position value afresh, as Whoosh does,
    gives Whoosh's files byte for byte."""
    monkeypatch.setattr(segment_module, "_CACHED_POSITIONS", 0)
    write(tmp_path / "whoosh", docs, SegmentWriter)
    write(tmp_path / "block", docs, BlockSegmentWriter, min_compress=0)
    assert segment_files(tmp_path / "block") == segment_files(tmp_path / "whoosh")


def test_searches_see_the_same_index(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    from whoosh import qparser

    whoosh_ix = write(tmp_path / "whoosh", docs, SegmentWriter)
    block_ix = write(tmp_path / "block", docs, BlockSegmentWriter)
    for text in (
        "oil prices",
        '"crude exports"',
        "istanbul OR zurich",
        "title:market*",
        "quality:[50 TO]",
        "topic:energy",
        "growth -banks",
    ):
        results = []
        for ix in (whoosh_ix, block_ix):
            with ix.searcher() as searcher:
                query = qparser.QueryParser("content", ix.schema).parse(text)
                results.append(
                    [(hit["id"], round(hit.score, 9)) for hit in searcher.search(query, limit=None)]
                )
        assert results[0] == results[1], text
        assert results[0], text


def test_merges_as_whoosh_does(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    """Two segments (one with deleted documents) merged into a new one with new documents:
    the same merged segment as Whoosh's writer makes."""
    first, second, third = docs[:150], docs[150:300], docs[300:]
    results = {}
    for name, writer_class in (("whoosh", SegmentWriter), ("block", BlockSegmentWriter)):
        path = tmp_path / name
        path.mkdir()
        ix = whoosh_index.create_in(str(path), make_schema())
        for part in (first, second):
            writer = SegmentWriter(ix, compound=False)
            for doc in part:
                writer.add_document(**doc)
            writer.commit(merge=False)
        writer = SegmentWriter(ix, compound=False)
        for doc in first[::7]:
            writer.delete_by_term("id", doc["id"])
        writer.commit(merge=False)
        writer = writer_class(ix, compound=False)
        for doc in third:
            writer.add_document(**doc)
        writer.commit(optimize=True)  # merges every segment into the new one
        ix = whoosh_index.open_dir(str(path))
        assert len(ix._segments()) == 1
        assert ix.doc_count() == len(docs) - len(first[::7])
        results[name] = (postings_of(ix), segment_files(path))
    (whoosh_postings, whoosh_files), (block_postings, block_files) = results.values()
    assert block_postings == whoosh_postings
    assert {ext: data for ext, data in block_files.items() if ext not in ("pst", "trm")} == {
        ext: data for ext, data in whoosh_files.items() if ext not in ("pst", "trm")
    }
