"""Cursors for deep paging: walks by ``next_cursor`` against offset pages and against the set
the test computes, for every sort, and with items added and removed between pages."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, build_index, ids, mentions, run_cli, write_corpus, write_item

from searchkit import QueryError, SearchIndex

SORTS = ["relevance", "newest", "oldest", "quality", "heat"]


def walk(index: SearchIndex, text: str, *, limit: int, **options: Any) -> list[tuple[str, float]]:
    """Every hit of a search, page after page by cursor."""
    seen: list[tuple[str, float]] = []
    results = index.search(text, limit=limit, **options)
    pages = 0
    while True:
        seen += [(hit.id, hit.score) for hit in results.hits]
        pages += 1
        assert pages < 1000
        if results.next_cursor is None:
            assert len(seen) == results.total or not results.hits
            return seen
        assert len(results.hits) == limit
        results = index.search(text, limit=limit, after=results.next_cursor, **options)


def offset_pages(index: SearchIndex, text: str, *, limit: int, **options: Any) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    page = 1
    while True:
        results = index.search(text, limit=limit, page=page, **options)
        seen += [(hit.id, hit.score) for hit in results.hits]
        if page * limit >= results.total:
            assert results.next_cursor is None
            return seen
        assert results.next_cursor is not None
        page += 1


CASES: list[tuple[str, dict[str, Any]]] = [
    ("climate OR summit OR court OR ai", {}),
    ("clim* OR rec*", {}),  # scored by Whoosh
    ("", {}),
    ("", {"topics": ["ai", "climate"]}),
    ("climate OR ai", {"recency": "300d", "as_of": "2024-01-01", "boost": ["quality"]}),
]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize(("text", "options"), CASES)
@pytest.mark.parametrize("limit", [1, 3])
def test_a_cursor_walk_is_the_offset_pages(
    index: SearchIndex, sort: str, text: str, options: dict[str, Any], limit: int
) -> None:
    by_cursor = walk(index, text, limit=limit, sort=sort, **options)
    by_offset = offset_pages(index, text, limit=limit, sort=sort, **options)
    assert by_cursor == by_offset
    assert len({i for i, _ in by_cursor}) == len(by_cursor)


def test_a_walk_returns_the_set_the_test_computes(index: SearchIndex) -> None:
    expected = ids(i for i in ITEMS if mentions(i, "climat", "summit"))
    for sort in SORTS:
        assert {i for i, _ in walk(index, "climate OR summit", limit=2, sort=sort)} == expected
    topical = ids(i for i in ITEMS if {"ai"} & {t.casefold() for t in i.get("topics", [])})
    assert {i for i, _ in walk(index, "", limit=2, topics=["AI"], sort="quality")} == topical


def test_the_last_page_has_no_cursor(index: SearchIndex) -> None:
    total = index.search("climate").total
    assert index.search("climate", limit=total).next_cursor is None
    assert index.search("climate", limit=total - 1).next_cursor is not None
    assert index.search("zzzzunknown").next_cursor is None


# -- the index changes between pages -----------------------------------------------------------


WORDS = "oil gas prices market bank rates trade deficit grain wheat corn gold".split()  # noqa: SIM905
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def random_item(rng: random.Random, name: str) -> dict[str, Any]:
    words = rng.choices(WORDS, k=rng.randint(2, 9))
    item: dict[str, Any] = {
        "id": name,
        "title": " ".join(words[:3]),
        "excerpt": " ".join(words[3:]),
        "heat": rng.randint(-1, 500),
        "publishedDateTime": (NOW - timedelta(hours=rng.randint(0, 5000))).isoformat(),
    }
    if rng.random() < 0.8:
        item["quality"] = rng.randint(1, 100)
    return item


@pytest.mark.parametrize(
    ("sort", "options"),
    [
        ("relevance", {}),
        ("relevance", {"recency": "30d", "boost": ["quality", "heat"]}),  # as_of: now, frozen
        ("newest", {}),
        ("quality", {}),
        ("heat", {"min_quality": 20}),
    ],
)
def test_items_that_stay_are_neither_skipped_nor_repeated(
    tmp_path: Path, sort: str, options: dict[str, Any]
) -> None:
    """Between pages, items are added (some rank before the cursor, some after) and removed
    (some already shown, some not yet): every item in the index from the first page to the
    last is returned exactly once, and nothing is returned twice."""
    rng = random.Random(f"{sort}{sorted(options)}")
    corpus = write_corpus(tmp_path / "corpus", [random_item(rng, f"a/{n:03d}.md") for n in range(120)])
    index = SearchIndex.open(build_index(corpus, tmp_path / "index"))
    text = "oil OR gold OR wheat"
    results = index.search(text, sort=sort, limit=7, **options)
    seen: list[str] = [hit.id for hit in results.hits]
    removed: set[str] = set()
    step = 0
    while results.next_cursor is not None:
        step += 1
        for n in range(3):  # new items, anywhere in the order
            write_item(corpus, random_item(rng, f"b/{step:03d}-{n}.md"))
        present = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md"))
        for victim in rng.sample([p for p in present if p.startswith("a/")], 2):
            (corpus / victim).unlink()
            removed.add(victim)
        index.update(corpus)
        results = index.search(text, sort=sort, limit=7, after=results.next_cursor, **options)
        seen += [hit.id for hit in results.hits]
    assert len(seen) == len(set(seen)), "an item was returned twice"
    final = SearchIndex.open(tmp_path / "index")
    stayed = {i for i, _ in walk(final, text, limit=1000, sort=sort, **options) if i.startswith("a/")}
    assert stayed - set(seen) == set(), "an item that stayed in the index was skipped"
    assert step > 3  # the walk crossed several updates


# -- bad cursors ---------------------------------------------------------------------------------


def test_bad_cursors_are_query_errors(index: SearchIndex) -> None:
    cursor = index.search("climate", limit=1).next_cursor
    assert cursor is not None
    for other in [
        {"query": "summit"},
        {"query": "climate", "sort": "newest"},
        {"query": "climate", "topics": ["ai"]},
        {"query": "climate", "boost": ["quality"]},
    ]:
        with pytest.raises(QueryError, match="it belongs to another search"):
            index.search(limit=1, after=cursor, **other)
    for broken in ["", "xyz", cursor[:-5], cursor[5:], "A" * 40, cursor + "!"]:
        with pytest.raises(QueryError, match="invalid cursor"):
            index.search("climate", limit=1, after=broken)
    with pytest.raises(QueryError, match="either a page or a cursor"):
        index.search("climate", limit=1, page=2, after=cursor)


def test_cursors_from_the_cli(index_dir: Path, index: SearchIndex) -> None:
    first = run_cli("search", "climate", "--limit", "1", "--json", "--index-dir", index_dir).json
    cursor = first["next_cursor"]
    second = run_cli(
        "search", "climate", "--limit", "1", "--after", cursor, "--json", "--index-dir", index_dir
    ).json
    assert [h["id"] for h in second["hits"]] == [h.id for h in index.search("climate", limit=1, page=2).hits]
    text = run_cli("search", "climate", "--limit", "1", "--index-dir", index_dir)
    assert f"Next page: --after {cursor}" in text.stdout
    bad = run_cli("search", "climate", "--after", "garbage", "--index-dir", index_dir)
    assert bad.code == 1
    assert bad.stderr == "Error: invalid cursor: pass `after` the next_cursor of a search, unchanged\n"
