"""The public Python API: its surface, lifecycle, following other writers, threads, errors."""

from __future__ import annotations

import builtins
import inspect
import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, write_corpus, write_item

import searchkit
from searchkit import (
    CorpusError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    ItemNotFoundError,
    NewsItem,
    QueryError,
    SearchIndex,
    SearchkitError,
)
from searchkit.ordering import raw_values
from searchkit.store import IndexLocation

PUBLIC_NAMES = sorted(
    name
    for name, value in vars(searchkit).items()
    if not name.startswith("_") and not inspect.ismodule(value)
)


def test_all_is_sorted_and_lists_every_public_name() -> None:
    assert searchkit.__all__ == sorted(searchkit.__all__)
    assert set(searchkit.__all__) == set(PUBLIC_NAMES)
    assert len(searchkit.__all__) == len(set(searchkit.__all__))


@pytest.mark.parametrize("name", searchkit.__all__)
def test_public_names_have_docstrings(name: str) -> None:
    assert inspect.getdoc(getattr(searchkit, name)), name


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, v in vars(SearchIndex).items()
        if not n.startswith("_") and (callable(v) or isinstance(v, (classmethod, property)))
    ],
)
def test_search_index_methods_have_docstrings(name: str) -> None:
    assert inspect.getdoc(getattr(SearchIndex, name)), name


def test_search_takes_keyword_only_options() -> None:
    parameters = inspect.signature(SearchIndex.search).parameters
    kinds = {name: p.kind for name, p in parameters.items()}
    assert kinds["query"] == inspect.Parameter.POSITIONAL_OR_KEYWORD
    for name in (
        "topics",
        "providers",
        "category",
        "type",
        "since",
        "until",
        "min_quality",
        "min_heat",
        "sort",
        "limit",
        "page",
    ):
        assert kinds[name] == inspect.Parameter.KEYWORD_ONLY, name


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in searchkit.__all__
        if isinstance(getattr(searchkit, n), type) and issubclass(getattr(searchkit, n), Exception)
    ],
)
def test_every_exception_derives_from_searchkit_error(name: str) -> None:
    assert issubclass(getattr(searchkit, name), SearchkitError)
    assert not hasattr(builtins, name)  # never shadow a builtin such as IndexError


# -- lifecycle ----------------------------------------------------------------------------


def test_open_create_close_and_context_manager(index_dir: Path, tmp_path: Path) -> None:
    index = SearchIndex.open(index_dir)
    assert index.path == index_dir
    assert index.exists()
    assert index.search("").total == len(ITEMS)
    index.close()
    index.close()  # closing twice is harmless
    assert index.search("").total == len(ITEMS)  # and using it again reopens it
    index.close()

    with SearchIndex.create(tmp_path / "fresh") as fresh:
        assert fresh.exists()
        assert fresh.search("").total == 0
    with SearchIndex.create(index_dir) as existing:  # create on an index opens it as is
        assert existing.search("").total == len(ITEMS)


def test_context_manager_closes_on_error(index_dir: Path) -> None:
    with pytest.raises(QueryError), SearchIndex.open(index_dir) as index:
        index.search("quality:[abc TO]")
    assert index._reader is None


# -- following other writers --------------------------------------------------------------


def test_sees_commits_made_by_another_object(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:5])
    with SearchIndex.create(tmp_path / "index") as writer:
        writer.update(corpus)
    reader = SearchIndex.open(tmp_path / "index")
    try:
        assert reader.search("").total == 5
        with SearchIndex.open(tmp_path / "index") as writer:
            writer.add_items([NewsItem(id="api/x", title="Airship sighted")])
        assert [h.id for h in reader.search("airship").hits] == ["api/x"]
        assert reader.search("").total == 6

        write_item(corpus, ITEMS[5])
        (corpus / ITEMS[0]["id"]).unlink()
        with SearchIndex.open(tmp_path / "index") as writer:
            writer.update(corpus)
        assert reader.search("").total == 6
        with pytest.raises(ItemNotFoundError):
            reader.get(ITEMS[0]["id"])

        # A rebuild switches to a new generation: the reader follows it too.
        write_item(corpus, ITEMS[6])
        with SearchIndex.open(tmp_path / "index") as writer:
            writer.rebuild(corpus)
        assert {h.id for h in reader.search("", limit=100).hits} == {i["id"] for i in ITEMS[1:7]}
        assert reader.info().documents == 6
    finally:
        reader.close()


def test_threads_searching_one_index_agree(index: SearchIndex) -> None:
    queries: list[tuple[str, dict[str, Any]]] = [
        ("climate energy", {}),
        ("", {"sort": "heat"}),
        ("solar", {"topics": "energy"}),
        ("facial recognition", {"limit": 2, "page": 1}),
        ("", {"since": "2022-01-01", "sort": "oldest"}),
        ("volcano OR earthquake", {"min_heat": -1}),
    ]
    expected = [index.search(q, **o) for q, o in queries]
    results: list[list[Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            mine = []
            for _round in range(5):
                mine.extend(index.search(q, **o) for q, o in queries)
                mine.append(index.get(ITEMS[0]["id"]))
            results.append(mine)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 8
    one_round = [*expected, index.get(ITEMS[0]["id"])]
    for mine in results:
        assert mine == one_round * 5


# -- errors -------------------------------------------------------------------------------


def _locked(path: Path, corpus: Path) -> None:
    location = IndexLocation(path)
    with location.lock():
        SearchIndex(path, lock_timeout=0.2).update(corpus)


def _wrong_version(path: Path, corpus: Path) -> None:
    gen = IndexLocation(path).current()
    assert gen is not None
    meta_path = gen / "searchkit.json"
    meta = json.loads(meta_path.read_text())
    meta["schema"] = 999
    meta_path.write_text(json.dumps(meta))
    SearchIndex.open(path)


def _bad_current(path: Path, corpus: Path) -> None:
    (path / "CURRENT").write_text("gen-999999\n")
    SearchIndex.open(path)


ERRORS: list[tuple[str, Callable[[Path, Path], Any], type[SearchkitError]]] = [
    ("no index", lambda p, c: SearchIndex.open(p.parent / "missing"), IndexNotFoundError),
    ("missing corpus", lambda p, c: SearchIndex(p).update(c / "missing"), CorpusError),
    ("foreign dir", lambda p, c: SearchIndex.create(c), IndexCorruptError),
    ("damaged CURRENT", _bad_current, IndexCorruptError),
    ("wrong version", _wrong_version, IndexVersionError),
    ("locked", _locked, IndexLockedError),
    ("bad query", lambda p, c: SearchIndex.open(p).search("quality:[abc TO]"), QueryError),
    ("bad sort", lambda p, c: SearchIndex.open(p).search("", sort="size"), QueryError),
    ("bad date", lambda p, c: SearchIndex.open(p).search("", since="soon"), QueryError),
    ("unknown item", lambda p, c: SearchIndex.open(p).get("nope"), ItemNotFoundError),
]


@pytest.mark.parametrize(
    ("action", "error"), [(a, e) for _, a, e in ERRORS], ids=[name for name, _, _ in ERRORS]
)
def test_errors_are_searchkit_errors(
    tmp_path: Path, action: Callable[[Path, Path], Any], error: type[SearchkitError]
) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:3])
    path = tmp_path / "index"
    with SearchIndex.create(path) as index:
        index.update(corpus)
    with pytest.raises(SearchkitError) as caught:
        action(path, corpus)
    assert type(caught.value) is error
    message = str(caught.value)
    assert message and "\n" not in message


def test_small_segments_without_dates_or_quality(tmp_path: Path) -> None:
    """Items added one at a time land in small segments of their own, and where none of a
    segment's items has a date or a quality, Whoosh writes no column for it. Ties, sorting and
    range filters still place every item right."""
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:5])  # dated, quality 59 to 88
    with SearchIndex.create(tmp_path / "index") as index:
        index.update(corpus)
        index.add_items(
            [
                NewsItem(
                    id="api/dated",
                    title="Airship sighted",
                    quality=90,
                    published_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
                )
            ]
        )
        for k in range(3):
            index.add_items([NewsItem(id=f"api/{k}", title="Airship sighted")])
        reader = index._read()._refresh().reader()
        leaves = [segment for segment, _offset in reader.leaf_readers()]
        assert any(not s.has_column("published_at") for s in leaves), "no segment lacks dates"

        # The same score for all four: the dated one first (newest), then the others by id.
        assert [h.id for h in index.search("airship").hits] == ["api/dated", "api/0", "api/1", "api/2"]
        assert [h.id for h in index.search("", since="2029-01-01", limit=50).hits] == ["api/dated"]
        assert [h.id for h in index.search("", min_quality=89, limit=50).hits] == ["api/dated"]
        assert index.search("", until="2100-01-01").total == 6
        assert index.search("", min_quality=0).total == 6
        assert [h.id for h in index.search("", sort="newest", limit=50).hits][-3:] == [
            "api/0",
            "api/1",
            "api/2",
        ]
        # Reading a few documents' dates (as ordering a few ties does) finds each one's own.
        docs = range(reader.doc_count_all())
        dates = raw_values(reader, "published_at", docs)
        ids = {doc: reader.stored_fields(doc)["id"] for doc in docs}
        assert {ids[doc] for doc in docs if dates[doc] == 0} == {"api/0", "api/1", "api/2"}
