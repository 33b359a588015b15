"""Saved searches (searchkit/saved.py) and the index times they count from (manifest.py):
add, run, list, show, remove through the API and the command line; what counts as new (late
items with old dates, changed items, deletions) and what does not (touched files, broken files
keeping their last good version, rebuilds); marks that survive a process killed mid-write;
names; and ``watch --alerts`` printing each new match once.

After every operation the test reopens a fresh ``SearchIndex`` and checks what is on disk.
Expected items are computed from the tables written, never from the program's output.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import ITEMS, newest_key, run_cli, write_corpus, write_item

import searchkit.indexer as indexer_module
import searchkit.manifest as manifest_module
from searchkit import (
    NewsItem,
    Provider,
    QueryError,
    SavedRun,
    SavedSearchError,
    SearchIndex,
    cli,
)
from searchkit.manifest import EnteredBetween, Recorded
from searchkit.store import SAVED, IndexLocation
from searchkit.watch import watch

README = Path(__file__).resolve().parents[1] / "README.md"
SEARCHKIT = [sys.executable, "-m", "searchkit"]
DEADLINE = 20.0

FIRST = ITEMS[:10]  # indexed before the saved searches are added
LATER = ITEMS[10:]  # enter the index after

#: Items on AI that arrive late: one published long ago, one undated, one recent.
LATE_AI = [
    {
        "id": "late/archive-ai-1998.md",
        "title": "Archive find: a 1998 essay on machine intelligence",
        "excerpt": "An old essay resurfaces.",
        "topics": ["AI"],
        "provider": {"name": "Archive Desk", "domain": "archive.example"},
        "publishedDateTime": "1998-05-01T00:00:00Z",
        "quality": 40,
    },
    {
        "id": "late/undated-ai.md",
        "title": "Robots learn to fold laundry",
        "excerpt": "A lab shows slow progress.",
        "topics": ["ai"],
        "provider": {"name": "Tech Daily", "domain": "techdaily.example"},
    },
    {
        "id": "late/ai-rules-2024.md",
        "title": "New rules for AI in hiring",
        "excerpt": "Employers must explain automated decisions.",
        "topics": ["AI", "Regulation"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "publishedDateTime": "2024-06-01T09:00:00Z",
        "quality": 75,
    },
]


# -- helpers ------------------------------------------------------------------------------------


def with_topic(table: Iterable[Mapping[str, Any]], topic: str) -> list[Mapping[str, Any]]:
    """The items of ``table`` with ``topic`` (case-insensitive, as the filter matches)."""
    return [item for item in table if topic.lower() in (t.lower() for t in item.get("topics", []))]


def newest_first(table: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ids newest first, undated last, ties by id (as ``sort="newest"`` orders them)."""
    return [item["id"] for item in sorted(table, key=lambda item: (newest_key(item), item["id"]))]


def update(index_dir: Path, corpus: Path) -> None:
    with SearchIndex(index_dir) as index:
        report = index.update(corpus)
    assert report.ok, report.errors


def run(index_dir: Path, name: str, **options: Any) -> SavedRun:
    """Run a saved search through a fresh handle."""
    with SearchIndex.open(index_dir) as index:
        return index.saved.run(name, **options)


def new_ids(found: SavedRun) -> dict[str, str]:
    """id -> "added" or "updated", for every hit of a run."""
    return {hit.id: "updated" if hit.id in found.updated_ids else "added" for hit in found.results.hits}


def mark_on_disk(index_dir: Path, name: str) -> datetime | None:
    with SearchIndex.open(index_dir) as index:
        return index.saved.get(name).since


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index) of ``FIRST``, with a saved search ``ai`` (topic AI, newest first)."""
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    index_dir = tmp_path / "index"
    update(index_dir, corpus)
    with SearchIndex.open(index_dir) as index:
        index.saved.add("ai", topics=["AI"], sort="newest")
    return corpus, index_dir


# -- runs: what is new --------------------------------------------------------------------------


@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "writer-processes"])
def test_a_run_returns_what_entered_the_index_since_the_last_run(
    indexed: tuple[Path, Path], processes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index_dir = indexed
    if processes:  # the index times are recorded by the writer processes of large runs, too
        monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)
    with SearchIndex.open(index_dir) as index:
        index.saved.add("all")
        added_at = index.saved.get("all").since
    first = run(index_dir, "ai")
    assert (first.results.total, first.results.hits, first.added, first.updated) == (0, (), 0, 0)
    assert first.since == first.until == added_at is not None

    write_corpus(corpus, [*LATER, *LATE_AI])
    update(index_dir, corpus)
    found = run(index_dir, "ai")
    # Late items count by when they entered the index: the one of 1998 and the undated one too.
    expected = with_topic([*LATER, *LATE_AI], "AI")
    assert [hit.id for hit in found.results.hits] == newest_first(expected)
    assert (found.results.total, found.added, found.updated, found.updated_ids) == (
        len(expected),
        3,
        0,
        set(),
    )
    assert found.since == added_at and found.until is not None and found.until > added_at
    assert not found.peek
    assert mark_on_disk(index_dir, "ai") == found.until

    everything = run(index_dir, "all")  # no query, no filter: every new item
    assert {hit.id for hit in everything.results.hits} == {i["id"] for i in [*LATER, *LATE_AI]}
    assert everything.until == found.until  # the same commit: the same mark

    again = run(index_dir, "ai")
    assert (again.results.total, again.since, again.until) == (0, found.until, found.until)


def test_peek_leaves_the_mark(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    before = mark_on_disk(index_dir, "ai")
    write_corpus(corpus, LATE_AI)
    update(index_dir, corpus)
    peeked = [run(index_dir, "ai", peek=True) for _ in range(2)]
    assert [{hit.id for hit in p.results.hits} for p in peeked] == [{i["id"] for i in LATE_AI}] * 2
    assert all(p.peek and p.since == before for p in peeked)
    assert mark_on_disk(index_dir, "ai") == before
    with SearchIndex.open(index_dir) as index:
        assert index.saved.get("ai").last_run is None
        index.saved.acknowledge([peeked[0]])  # what watch --alerts does once it has printed them
        assert index.saved.get("ai").since == peeked[0].until
        assert index.saved.get("ai").last_run is not None
    assert run(index_dir, "ai").results.total == 0


def test_a_changed_item_counts_again_and_is_flagged_updated(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    chips, facial, streets = with_topic(FIRST, "AI")
    write_item(corpus, {**chips, "title": "Chipmakers race to build AI accelerators, again"})
    write_item(corpus, LATE_AI[0])
    update(index_dir, corpus)
    found = run(index_dir, "ai")
    assert new_ids(found) == {chips["id"]: "updated", LATE_AI[0]["id"]: "added"}
    assert (found.added, found.updated) == (1, 1)
    hits = {hit["id"]: hit for hit in found.to_dict()["hits"]}
    assert hits[chips["id"]]["updated"] is True and hits[LATE_AI[0]["id"]]["updated"] is False
    assert hits[chips["id"]]["title"].endswith("again")

    # Touched, same content: nothing new. Edited twice since the last run: new once.
    os.utime(corpus / facial["id"], (time.time() + 5, time.time() + 5))
    update(index_dir, corpus)
    for title in ("Our streets are not a lab", "Our streets are not a laboratory, revised"):
        write_item(corpus, {**streets, "title": title})
        update(index_dir, corpus)
    assert new_ids(run(index_dir, "ai")) == {streets["id"]: "updated"}
    assert run(index_dir, "ai").results.total == 0


def test_broken_files_and_rebuilds_do_not_make_items_new(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    chips = with_topic(FIRST, "AI")[0]
    path = corpus / chips["id"]
    good = path.read_bytes()
    path.write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")  # keeps its last good version
    with SearchIndex(index_dir) as index:
        assert not index.update(corpus).ok
        assert not index.rebuild(corpus).ok
        assert index.rebuild(corpus).documents == len(FIRST)
    assert run(index_dir, "ai").results.total == 0
    path.write_bytes(good)  # fixed as it was: the content the index has
    update(index_dir, corpus)
    with SearchIndex(index_dir) as index:
        index.rebuild(corpus)
    assert run(index_dir, "ai").results.total == 0
    assert (index_dir / SAVED).is_file()

    # A rebuild that finds a changed file and a new one: those, and nothing else.
    write_item(corpus, {**chips, "excerpt": "Demand keeps growing, says a new survey."})
    write_item(corpus, LATE_AI[2])
    with SearchIndex(index_dir) as index:
        assert index.rebuild(corpus).ok
    assert new_ids(run(index_dir, "ai")) == {chips["id"]: "updated", LATE_AI[2]["id"]: "added"}


def test_deleted_items_are_gone_and_come_back_as_new(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    facial = with_topic(FIRST, "AI")[1]
    write_item(corpus, LATE_AI[2])
    update(index_dir, corpus)
    (corpus / LATE_AI[2]["id"]).unlink()
    (corpus / facial["id"]).unlink()
    update(index_dir, corpus)
    found = run(index_dir, "ai")  # the new item was deleted before the run: nothing to show
    assert found.results.total == 0
    write_item(corpus, facial)  # it enters the index again
    update(index_dir, corpus)
    assert new_ids(run(index_dir, "ai")) == {facial["id"]: "added"}


def news_item(ident: str, title: str, topics: tuple[str, ...] = ("AI",)) -> NewsItem:
    return NewsItem(
        id=ident,
        url=f"https://feed.example/{ident}",
        title=title,
        provider=Provider(name="Feed", domain="feed.example"),
        topics=topics,
    )


def test_items_added_by_programs(indexed: tuple[Path, Path]) -> None:
    _corpus, index_dir = indexed
    with SearchIndex(index_dir) as index:
        index.add_items([news_item("feed/1", "Chatbots in schools"), news_item("feed/2", "Tides", ())])
    assert new_ids(run(index_dir, "ai")) == {"feed/1": "added"}
    with SearchIndex(index_dir) as index:
        index.add_items([news_item("feed/1", "Chatbots in schools")])  # the same content again
    assert run(index_dir, "ai").results.total == 0
    with SearchIndex(index_dir) as index:
        index.add_items([news_item("feed/1", "Chatbots in schools, a year on")])
    assert new_ids(run(index_dir, "ai")) == {"feed/1": "updated"}


def test_a_limit_shows_the_first_and_counts_them_all(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    chips = with_topic(FIRST, "AI")[0]
    write_corpus(corpus, [*LATE_AI, {**chips, "title": "Chipmakers change course"}])
    update(index_dir, corpus)
    expected = newest_first([*LATE_AI, chips])
    found = run(index_dir, "ai", limit=2)
    assert [hit.id for hit in found.results.hits] == expected[:2]
    assert (found.results.total, found.added, found.updated) == (4, 3, 1)
    assert run(index_dir, "ai").results.total == 0  # the mark moved past all of them


def test_index_times_do_not_trust_the_clock(
    indexed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock set back (to 1970) still gives each run an index time after every earlier one."""
    corpus, index_dir = indexed
    monkeypatch.setattr(manifest_module, "time", SimpleNamespace(time_ns=lambda: 1_000))
    write_item(corpus, LATE_AI[0])
    update(index_dir, corpus)
    first = run(index_dir, "ai")
    assert new_ids(first) == {LATE_AI[0]["id"]: "added"}
    write_item(corpus, LATE_AI[1])
    update(index_dir, corpus)
    second = run(index_dir, "ai")
    assert new_ids(second) == {LATE_AI[1]["id"]: "added"}
    assert second.until is not None and first.until is not None and second.until > first.until


def test_an_index_without_index_times_counts_every_item_as_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manifest entries written before index times were recorded read as "before any mark"."""
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    legacy = lambda self: f"{self.size} {self.mtime_ns} {self.sha} {self.origin}"  # noqa: E731
    with monkeypatch.context() as patched:
        patched.setattr(Recorded, "encode", legacy)
        update(tmp_path / "index", corpus)
    assert Recorded.decode(b"10 20 abc file") == Recorded(10, 20, "abc", "file", 0, 0)
    with SearchIndex.open(tmp_path / "index") as index:
        assert index.saved.add("ai", topics="AI").since is None  # no item has an index time
    chips = with_topic(FIRST, "AI")[0]
    write_item(corpus, {**chips, "title": "Chipmakers, revised"})
    write_item(corpus, LATE_AI[0])
    update(tmp_path / "index", corpus)
    assert new_ids(run(tmp_path / "index", "ai")) == {chips["id"]: "updated", LATE_AI[0]["id"]: "added"}


def test_entered_between_is_equal_by_value() -> None:
    assert EnteredBetween(1, 2) == EnteredBetween(1, 2) != EnteredBetween(1, 2, changed_only=True)
    assert len({EnteredBetween(1, 2), EnteredBetween(1, 2)}) == 1


# -- saved searches: add, list, show, remove --------------------------------------------------


def test_add_stores_the_search_as_search_takes_it(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index:
        saved = index.saved.add(
            "wire",
            "",
            providers="World Wire",
            since=date(2020, 1, 1),
            until=datetime(2030, 1, 2, 3, 4, 5),  # naive: UTC
            min_quality=50,
            sort="oldest",
        )
        index.saved.add("recent", "election", since="7d")
    expected_filters = {
        "providers": "World Wire",
        "since": "2020-01-01",
        "until": "2030-01-02T03:04:05Z",
        "min_quality": 50,
    }
    with SearchIndex.open(index_dir) as index:
        assert index.saved.get("wire") == saved
        assert (saved.query, saved.sort, saved.filters) == ("", "oldest", expected_filters)
        assert index.saved.get("recent").filters == {"since": "7d"}
        assert [s.name for s in index.saved.list()] == ["ai", "recent", "wire"]
    on_disk = json.loads((index_dir / SAVED).read_text(encoding="utf-8"))
    assert on_disk["format"] == 1 and on_disk["searches"]["wire"]["filters"] == expected_filters

    write_corpus(corpus, LATER)
    update(index_dir, corpus)
    expected = [
        item
        for item in LATER
        if item["provider"]["name"] == "World Wire"
        and item.get("quality", 0) >= 50
        and "2020-01-01" <= item.get("publishedDateTime", "0")[:10] <= "2030-01-02"
    ]
    found = run(index_dir, "wire")
    assert [hit.id for hit in found.results.hits] == newest_first(expected)[::-1]


def test_remove(indexed: tuple[Path, Path]) -> None:
    _corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index:
        index.saved.add("other", "climate")
        removed = index.saved.remove("ai")
    assert (removed.name, removed.filters) == ("ai", {"topics": ["AI"]})
    with SearchIndex.open(index_dir) as index:
        assert [s.name for s in index.saved.list()] == ["other"]
        with pytest.raises(SavedSearchError, match="no saved search named 'ai'; `searchkit saved list`"):
            index.saved.run("ai")


def test_run_all_moves_every_mark_at_once(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index:
        index.saved.add("science", topics="Science")
    write_corpus(corpus, [*LATER, *LATE_AI])
    update(index_dir, corpus)
    with SearchIndex.open(index_dir) as index:
        runs = index.saved.run_all()
    assert [r.name for r in runs] == ["ai", "science"]
    assert {hit.id for hit in runs[1].results.hits} == {i["id"] for i in with_topic(LATER, "Science")}
    with SearchIndex.open(index_dir) as index:
        assert all(r.results.total == 0 for r in index.saved.run_all())
        # An older run acknowledged late never moves a mark back.
        index.saved.acknowledge([runs[0]])
        assert index.saved.get("ai").since == runs[0].until


VALID = ["a", "x" * 64, "News.AI-2024_v2", "_private", "-dash"]
INVALID = [
    ("", "a saved search needs a name"),
    ("x" * 65, "is too long (65 characters)"),
    (".hidden", "invalid saved search name '.hidden'"),
    ("a/b", "invalid saved search name 'a/b'"),
    ("../etc", "invalid saved search name '../etc'"),
    ("two words", "invalid saved search name 'two words'"),
    ("nouvelles-é", "invalid saved search name"),
    ("line\nbreak", "invalid saved search name"),
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names(indexed: tuple[Path, Path], name: str) -> None:
    _corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index:
        index.saved.add(name, "climate")
    with SearchIndex.open(index_dir) as index:
        assert index.saved.get(name).name == name
        assert index.saved.run(name).results.total == 0


@pytest.mark.parametrize(("name", "message"), INVALID)
def test_invalid_names_are_refused_with_the_rule(indexed: tuple[Path, Path], name: str, message: str) -> None:
    _corpus, index_dir = indexed
    before = (index_dir / SAVED).read_bytes()
    with SearchIndex.open(index_dir) as index:
        for call in (lambda: index.saved.add(name, "x"), lambda: index.saved.run(name)):
            with pytest.raises(SavedSearchError, match=re.escape(message)) as raised:
                call()
            assert "letters, digits, '-', '_' or '.', not starting with '.'" in str(raised.value)
    assert (index_dir / SAVED).read_bytes() == before


def test_a_taken_name_is_refused(indexed: tuple[Path, Path]) -> None:
    _corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index, pytest.raises(SavedSearchError, match="exists already"):
        index.saved.add("ai", "anything")


@pytest.mark.parametrize(
    ("query", "options", "error", "message"),
    [
        ("x" * 1001, {}, QueryError, "query too long: 1001 characters, the limit is 1000"),
        ("climate", {"sort": "loudest"}, QueryError, "invalid sort 'loudest'"),
        ("climate", {"min_quality": "high"}, QueryError, "invalid min_quality 'high'"),
        ("climate", {"since": "last tuesday"}, QueryError, "invalid date 'last tuesday'"),
        ("climate", {"colour": "red"}, TypeError, "colour"),
    ],
)
def test_a_search_that_does_not_work_is_refused_at_add(
    indexed: tuple[Path, Path], query: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    _corpus, index_dir = indexed
    with SearchIndex.open(index_dir) as index, pytest.raises(error, match=re.escape(message)):
        index.saved.add("bad", query, **options)
    with SearchIndex.open(index_dir) as index:
        assert [s.name for s in index.saved.list()] == ["ai"]


def test_a_saved_query_that_no_longer_runs_names_the_saved_search(tmp_path: Path) -> None:
    """``tok*`` matches a few words when saved; once the index holds 300 more, the wildcard
    matches more words than a query may (searchkit/limits.py)."""
    corpus = tmp_path / "corpus"
    notes = [{"id": f"n{k}.md", "title": f"Note {k}", "body": f"tok{k}"} for k in range(300)]
    write_corpus(corpus, notes[:5])
    update(tmp_path / "index", corpus)
    with SearchIndex.open(tmp_path / "index") as index:
        index.saved.add("toks", "tok*")
    write_corpus(corpus, notes)
    update(tmp_path / "index", corpus)
    with SearchIndex.open(tmp_path / "index") as index:
        with pytest.raises(
            QueryError, match=r"^saved search 'toks' no longer runs: .*256.*saved remove toks"
        ):
            index.saved.run("toks")
        assert index.saved.get("toks").since is not None  # the mark did not move
    result = run_cli("saved", "run", "toks", "--index-dir", tmp_path / "index")
    assert result.code == 1
    assert (
        result.stderr.startswith("Error: saved search 'toks' no longer runs: ")
        and result.stderr.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read the saved searches in"),
        ('{"format": 99, "searches": {}}', "has format 99, this searchkit reads format 1"),
        ('{"format": 1, "searches": []}', "no table of saved searches"),
        ('{"format": 1, "searches": {"a": {"query": 3}}}', "cannot read the saved searches in"),
        ('{"format": 1, "searches": {"../x": {}}}', "invalid saved search name"),
        (
            '{"format": 1, "searches": {"a": {"query": "", "sort": null, "filters": {"colour": "red"}, '
            '"created": "2024-01-01T00:00:00Z", "mark": 0, "last_run": null}}}',
            "or an unknown filter",
        ),
    ],
)
def test_a_damaged_saved_searches_file_is_a_clear_error(
    indexed: tuple[Path, Path], content: str, message: str
) -> None:
    _corpus, index_dir = indexed
    (index_dir / SAVED).write_text(content, encoding="utf-8")
    with SearchIndex.open(index_dir) as index, pytest.raises(SavedSearchError, match=re.escape(message)):
        index.saved.list()
    result = run_cli("saved", "list", "--index-dir", index_dir)
    assert result.code == 1 and result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_saved_searches_need_an_index(tmp_path: Path) -> None:
    result = run_cli("saved", "add", "x", "climate", "--index-dir", tmp_path / "none")
    assert (result.code, result.stderr) == (
        1,
        f"Error: no index at {tmp_path / 'none'}; build one with `searchkit index`\n",
    )


# -- a process killed while it writes --------------------------------------------------------


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEARCHKIT_")}


RUN_FOREVER = """
import sys
from searchkit import SearchIndex
with SearchIndex.open(sys.argv[1]) as index:
    while True:
        index.saved.run("ai")
"""


def test_killing_runs_anywhere_leaves_the_old_mark_or_the_new(indexed: tuple[Path, Path]) -> None:
    """SIGKILL at random moments of processes that run a saved search over and over (each run
    rewrites the file): the file always reads, and the mark is the one before or after."""
    corpus, index_dir = indexed
    rng = random.Random(7)
    for k in range(12):
        old = mark_on_disk(index_dir, "ai")
        write_item(corpus, {**LATE_AI[0], "id": f"late/{k}.md", "title": f"Late item {k}"})
        update(index_dir, corpus)
        new = run(index_dir, "ai", peek=True).until
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_FOREVER, str(index_dir)], env=subprocess_env(), stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.2, 1.5))
        proc.kill()
        _out, err = proc.communicate()
        assert b"Traceback" not in err, err
        mark = mark_on_disk(index_dir, "ai")  # the file reads
        assert mark in (old, new)
        if mark == old:
            run(index_dir, "ai")


DIE_BEFORE_RENAME = """
import os, signal, sys
from searchkit import SearchIndex
real = os.replace
def dying(src, dst, **kwargs):
    if str(dst).endswith("saved.json"):  # the new file is written and fsynced, not renamed yet
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, **kwargs)
os.replace = dying
with SearchIndex.open(sys.argv[1]) as index:
    index.saved.run("ai")
"""


def test_a_process_killed_between_write_and_rename_leaves_the_old_mark(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    old = mark_on_disk(index_dir, "ai")
    before = (index_dir / SAVED).read_bytes()
    write_item(corpus, LATE_AI[0])
    update(index_dir, corpus)
    done = subprocess.run(
        [sys.executable, "-c", DIE_BEFORE_RENAME, str(index_dir)], env=subprocess_env(), check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert (index_dir / f".{SAVED}.tmp").is_file()  # what it left
    assert (index_dir / SAVED).read_bytes() == before
    assert mark_on_disk(index_dir, "ai") == old
    assert IndexLocation(index_dir).foreign_entries() == []  # still an index, not somebody's folder
    assert new_ids(run(index_dir, "ai")) == {LATE_AI[0]["id"]: "added"}
    assert not (index_dir / f".{SAVED}.tmp").exists()
    update(index_dir, corpus)


# -- the command line ---------------------------------------------------------------------------


def test_cli_add_list_show_run_remove(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    at = ["--index-dir", index_dir]
    result = run_cli("saved", "add", "climate-news", "climate", "--topic", "Climate", "--sort", "newest", *at)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Saved climate-news: climate --topic Climate --sort newest",
        "`searchkit saved run climate-news` lists the matching items that enter the index from now on.",
    ]
    listed = run_cli("saved", "list", "--json", *at).json["saved"]
    assert [entry["name"] for entry in listed] == ["ai", "climate-news"]
    assert set(listed[1]) == {"name", "query", "sort", "filters", "created", "since", "last_run"}
    assert listed[1]["filters"] == {"topics": ["Climate"]}
    text = run_cli("saved", "list", *at).stdout.splitlines()
    assert text[0].split() == ["name", "search", "new", "since"]
    assert text[2].split()[:5] == ["climate-news", "climate", "--topic", "Climate", "--sort"]
    shown = run_cli("saved", "show", "climate-news", *at).stdout
    assert "search:   climate --topic Climate --sort newest" in shown and "last run: never" in shown

    nothing = run_cli("saved", "run", "climate-news", *at)
    assert nothing.stdout == f"climate-news: nothing new since {listed[1]['since']}\n"

    heatwave = next(item for item in LATER if item["id"] == "world/heatwave-grid.md")
    summit = next(item for item in FIRST if item["id"] == "world/climate-summit.md")
    write_corpus(corpus, [heatwave, {**summit, "excerpt": "Delegates agreed to phase down coal, at last."}])
    update(index_dir, corpus)
    peeked = run_cli("saved", "run", "climate-news", "--peek", "--json", *at).json
    assert peeked["saved"] == "climate-news" and peeked["peek"] is True
    assert peeked["since"] == listed[1]["since"] and peeked["until"] > peeked["since"]
    assert peeked["new"] == {"added": 1, "updated": 1} and peeked["total"] == 2
    assert [(hit["id"], hit["updated"]) for hit in peeked["hits"]] == [
        (heatwave["id"], False),
        (summit["id"], True),
    ]
    text = run_cli("saved", "run", "climate-news", "--limit", "1", *at).stdout.splitlines()
    assert text[0] == f"climate-news: 2 new since {listed[1]['since']} (1 added, 1 updated, showing 1)"
    assert text[2].strip().startswith("1. Heatwave pushes power grid")
    assert len([line for line in text if re.match(r"\s+\d+\. ", line)]) == 1
    assert run_cli("saved", "run", "climate-news", "--json", *at).json["total"] == 0

    removed = run_cli("saved", "remove", "climate-news", *at)
    assert removed.stdout == "Removed climate-news: climate --topic Climate --sort newest\n"
    assert [entry["name"] for entry in run_cli("saved", "list", "--json", *at).json["saved"]] == ["ai"]


def test_cli_run_marks_updated_hits(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    chips = with_topic(FIRST, "AI")[0]
    write_item(corpus, {**chips, "title": "Chipmakers race on"})
    update(index_dir, corpus)
    lines = run_cli("saved", "run", "ai", "--index-dir", index_dir).stdout.splitlines()
    assert lines[0].endswith("(0 added, 1 updated)")
    assert lines[2].strip() == "1. Chipmakers race on"
    assert lines[3].strip().endswith("· updated")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["saved", "run", "missing"],
            1,
            "Error: no saved search named 'missing'; `searchkit saved list` lists them",
        ),
        (["saved", "show", ".x"], 1, "Error: invalid saved search name '.x': use 1 to 64"),
        (["saved", "add", "ai", "x"], 1, "Error: a saved search named 'ai' exists already"),
        (["saved", "add", "q", "x", "--sort", "loudest"], 2, "Invalid value for '--sort'"),
        (["saved", "run", "ai", "--limit", "0"], 2, "Invalid value for '--limit'"),
    ],
)
def test_cli_errors(indexed: tuple[Path, Path], args: list[str], code: int, message: str) -> None:
    _corpus, index_dir = indexed
    result = run_cli(*args, "--index-dir", index_dir)
    assert result.code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if code == 1:
        assert result.stderr.count("\n") == 1


def saved_group() -> Any:
    return next(group for group in cli.app.registered_groups if group.typer_instance.info.name == "saved")


@pytest.mark.parametrize("command", ["add", "list", "show", "remove", "run"])
def test_every_saved_command_has_help_and_appears_in_the_readme(command: str) -> None:
    registered = {c.name: c for c in saved_group().typer_instance.registered_commands}
    assert sorted(registered) == ["add", "list", "remove", "run", "show"]
    doc = (registered[command].callback.__doc__ or "").strip()
    assert doc
    result = run_cli("saved", command, "--help")
    assert result.code == 0
    assert doc.splitlines()[0] in " ".join(result.stdout.split())
    assert f"searchkit saved {command}" in result.stdout
    assert f"searchkit saved {command}" in README.read_text(encoding="utf-8")


# -- watch --alerts -----------------------------------------------------------------------------


def note(k: int, *, revised: bool = False) -> dict[str, Any]:
    return {"id": f"n{k:04d}.md", "title": f"Note {k}" + (" revised" if revised else ""), "body": f"tok{k}"}


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return value


def notes_index(tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index) of ten notes, with saved searches ``all`` (every item) and ``revised``."""
    corpus = write_corpus(tmp_path / "corpus", [note(k) for k in range(10)])
    index_dir = tmp_path / "index"
    update(index_dir, corpus)
    with SearchIndex.open(index_dir) as index:
        index.saved.add("all")
        index.saved.add("revised", "revised")
    return corpus, index_dir


def burst(corpus: Path) -> Counter[tuple[str, str, str]]:
    """Write 20 new notes, revise 3 and delete 2; the alerts they must give, each once:
    (saved search, id, added or updated)."""
    write_corpus(corpus, [note(k) for k in range(100, 120)])
    write_corpus(corpus, [note(k, revised=True) for k in (1, 2, 3)])
    for k in (4, 5):
        (corpus / note(k)["id"]).unlink()
    expected = [("all", note(k)["id"], "added") for k in range(100, 120)]
    expected += [(name, note(k)["id"], "updated") for k in (1, 2, 3) for name in ("all", "revised")]
    return Counter(expected)


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "polling"])
def test_watch_alerts_each_new_match_of_a_burst_once(tmp_path: Path, use_events: bool) -> None:
    corpus, index_dir = notes_index(tmp_path)
    alerts: Counter[tuple[str, str, str]] = Counter()
    errors: list[BaseException] = []
    stop = threading.Event()

    def on_alert(found: SavedRun) -> None:
        for ident, kind in new_ids(found).items():
            alerts[(found.name, ident, kind)] += 1

    def work() -> None:
        try:
            with SearchIndex(index_dir) as index:
                watch(index, corpus, interval=0.2, stop=stop, use_events=use_events, on_alert=on_alert)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # its first update: nothing new since the searches were saved
        assert not alerts and not errors
        expected = burst(corpus)
        wait_for(lambda: errors or sum(alerts.values()) >= sum(expected.values()), "the alerts")
        time.sleep(1.0)  # room for a stray batch, which would repeat alerts
    finally:
        stop.set()
        thread.join(timeout=DEADLINE)
    assert not errors
    assert alerts == expected
    assert run(index_dir, "all").results.total == 0  # the marks moved


@contextlib.contextmanager
def started(args: list[Any], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*SEARCHKIT, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=subprocess_env(),
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_watch_command_prints_alerts_for_a_pipe(tmp_path: Path, as_json: bool) -> None:
    corpus, index_dir = notes_index(tmp_path)
    args = ["watch", corpus, "--index-dir", index_dir, "--interval", 0.2, "--alerts"]
    lines: list[str] = []
    with started([*args, "--json"] if as_json else args, tmp_path) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
        reader.start()
        wait_for(lambda: "Watching" in (proc.stderr.readline() or "Watching"), "the watcher to start")
        time.sleep(1.0)
        expected = burst(corpus)
        wait_for(lambda: len(lines) >= sum(expected.values()), "the alert lines")
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=DEADLINE)
        reader.join(timeout=DEADLINE)
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert err.splitlines()[-1] == "Stopped." and "Traceback" not in err
    if as_json:
        objects = [json.loads(line) for line in lines]
        got = Counter((o["saved"], o["id"], "updated" if o["updated"] else "added") for o in objects)
        assert all(o["title"].startswith("Note ") for o in objects)
    else:
        fields = [line.rstrip("\n").split("\t") for line in lines]
        assert all(len(f) == 5 and f[4].startswith("Note ") for f in fields), lines
        got = Counter((name, ident, kind) for name, kind, ident, _url, _title in fields)
    assert got == expected
    # Batch lines go to stderr with --alerts: stdout holds alerts only.
    assert re.search(r"^\d\d:\d\d:\d\d \d+ added", err, re.M)


def test_alert_lines_hold_no_control_characters(indexed: tuple[Path, Path]) -> None:
    corpus, index_dir = indexed
    write_item(corpus, {**LATE_AI[2], "title": "Tab\there, escape \x1b[2J and\nnewline"})
    update(index_dir, corpus)
    found = run(index_dir, "ai", peek=True)
    [line] = cli.saved.alert_lines(found, as_json=False)
    name, kind, ident, url, title = line.split("\t")
    assert (name, kind, ident) == ("ai", "added", LATE_AI[2]["id"])
    assert url == "https://news.example.org/late/ai-rules-2024"
    assert title == "Tab here, escape  [2J and newline"
    [data] = cli.saved.alert_lines(found, as_json=True)
    assert json.loads(data)["title"] == "Tab\there, escape \x1b[2J and\nnewline"
