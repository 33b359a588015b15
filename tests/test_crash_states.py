"""Crash consistency: every state a crash during a write may leave opens at the old or the new
commit, answers a fixed set of queries as that commit does, and lets the next run complete.

Each scenario records the file operations of one write on a small corpus (tests/crashsim.py),
builds the crash states its model allows (persistence in order, one metadata operation omitted,
unsynced writes dropped, torn or zeroed; see the module docstring there) and checks them: an
incremental update, a rebuild, a batch of ``watch`` and a commit of ``add_items``. The answers
of the old and the new commit are computed on the folder before the write and on the folder it
left. Run with ``-s`` to see the figures of each scenario. The suite checks every crash point's
all-kept and all-dropped states and a fixed sample of the rest (under a minute);
``SEARCHKIT_CRASH_STATES=all`` checks every distinct state.

The first tests check the builder on hand-made traces and the recorder on small writes, so that
a model that builds too few states, or a recorder that records nothing, cannot pass unseen.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, write_corpus, write_item
from crashsim import (
    CREATE,
    DIRFSYNC,
    FSYNC,
    MKDIR,
    RANKS,
    RENAME,
    RMTREE,
    TRUNCATE,
    UNLINK,
    WRITE,
    CrashState,
    Exploration,
    Op,
    Recording,
    RecordingError,
    crash_states,
    explore,
    read_tree,
    record,
    select,
    tree_digest,
    write_tree,
)

from searchkit import IndexReport, NewsItem, Provider, SearchIndex, SearchkitError
from searchkit.store import write_atomic
from searchkit.watch import watch

# -- the builder on hand-made traces ------------------------------------------------------------


def trace(*ops: Op, base: dict[str, bytes | None] | None = None) -> Recording:
    """A recording of ``ops`` over ``base`` (its files numbered from 100 in path order)."""
    base = base or {}
    files = {path: 100 + n for n, path in enumerate(sorted(p for p, c in base.items() if c is not None))}
    return Recording(dict(base), files, list(ops))


def trees(recording: Recording, **options: Any) -> list[CrashState]:
    return list(crash_states(recording, **options).states)


def test_a_renamed_file_whose_write_was_not_synced_may_be_empty() -> None:
    rec = trace(
        Op(CREATE, "a.tmp", file=1), Op(WRITE, "a.tmp", file=1, data=b"hello"), Op(RENAME, "a.tmp", "a")
    )
    found = {s.tree.get("a") for s in trees(rec) if "a" in s.tree}
    assert found == {b"", b"he", b"\0" * 5, b"hello"}  # dropped, torn, zeroed, kept


def test_a_file_synced_before_the_crash_is_never_torn() -> None:
    rec = trace(
        Op(CREATE, "a.tmp", file=1),
        Op(WRITE, "a.tmp", file=1, data=b"x" * 10_000),
        Op(FSYNC, "a.tmp", file=1),
        Op(RENAME, "a.tmp", "a"),
        Op(CREATE, "b", file=2),
        Op(WRITE, "b", file=2, data=b"y" * 10_000),
    )
    states = trees(rec)
    # After the fsync, the file is whole under one name or the other (or, its creation not
    # being durable, absent), never short.
    after_sync = {s.tree.get("a", s.tree.get("a.tmp")) for s in states if s.point >= 3}
    assert after_sync == {b"x" * 10_000, None}
    # b, never synced, is seen whole, empty, cut in half, cut at the block boundary and zeroed.
    found = {s.tree["b"] for s in states if "b" in s.tree}
    assert found == {b"", b"y" * 5_000, b"y" * 4_096, bytes(10_000), b"y" * 10_000}


def test_a_truncation_is_undone_only_with_the_writes_after_it() -> None:
    rec = trace(
        Op(TRUNCATE, "LOCK", file=100),
        Op(WRITE, "LOCK", file=100, data=b"pid 2\n"),
        base={"LOCK": b"pid 1\n"},
    )
    assert {s.tree["LOCK"] for s in trees(rec)} == {b"pid 1\n", b"", b"pid", bytes(6), b"pid 2\n"}
    # A volatile file keeps its writes: its contents never multiply the states.
    assert {s.tree["LOCK"] for s in trees(rec, volatile=["LOCK"])} == {b"pid 1\n", b"", b"pid 2\n"}


def test_one_unsynced_metadata_operation_may_be_missing() -> None:
    creates = [Op(CREATE, "d/x", file=1), Op(CREATE, "d/y", file=2)]
    names = {frozenset(s.tree) for s in trees(trace(*creates, base={"d": None}))}
    assert frozenset({"d", "d/y"}) in names  # y reached the disk, x did not
    # Once the folder is fsynced, both are there at every later crash point.
    states = trees(trace(*creates, Op(DIRFSYNC, "d"), Op(WRITE, "d/x", file=1, data=b"!"), base={"d": None}))
    assert all({"d/x", "d/y"} <= set(s.tree) for s in states if s.point >= 3)


def test_a_rename_may_reach_the_disk_before_the_folder_it_names() -> None:
    """CURRENT switched to a generation whose own creation is not durable yet."""
    ops = [
        Op(MKDIR, "gen-2"),
        Op(CREATE, "gen-2/data", file=1),
        Op(WRITE, "gen-2/data", file=1, data=b"new"),
        Op(FSYNC, "gen-2/data", file=1),
        Op(DIRFSYNC, "gen-2"),
        Op(CREATE, ".CURRENT.tmp", file=2),
        Op(WRITE, ".CURRENT.tmp", file=2, data=b"gen-2"),
        Op(FSYNC, ".CURRENT.tmp", file=2),
        Op(RENAME, ".CURRENT.tmp", "CURRENT"),
        Op(DIRFSYNC, ""),
    ]
    base: dict[str, bytes | None] = {"CURRENT": b"gen-1", "gen-1": None}
    dangling = [
        s for s in trees(trace(*ops, base=base)) if s.tree["CURRENT"] == b"gen-2" and "gen-2" not in s.tree
    ]
    assert [(s.point, s.omitted) for s in dangling] == [(9, 0)]
    assert "gen-2/data" not in dangling[0].tree  # what the folder held vanished with it
    # An fsync of the parent after the mkdir closes the window.
    fixed = [*ops[:1], Op(DIRFSYNC, ""), *ops[1:]]
    assert not [
        s for s in trees(trace(*fixed, base=base)) if s.tree["CURRENT"] == b"gen-2" and "gen-2" not in s.tree
    ]


def test_operations_that_depend_on_a_missing_one_are_missing_too() -> None:
    ops = [
        Op(CREATE, "t", file=1),
        Op(WRITE, "t", file=1, data=b"v"),
        Op(FSYNC, "t", file=1),
        Op(UNLINK, "z"),
        Op(RENAME, "t", "f"),
    ]
    states = trees(trace(*ops, base={"z": b"z"}))
    # Without the creation there is nothing to rename: neither name exists.
    assert any(s.omitted == 0 and s.tree == {} for s in states)
    assert all(s.tree.get("f", b"v") == b"v" for s in states)
    # Once the folder is fsynced after the rename, the creation cannot be missing.
    states = trees(trace(*ops, Op(DIRFSYNC, ""), base={"z": b"z"}))
    assert all(s.tree == {"f": b"v"} for s in states if s.point == 6)


def test_states_are_distinct_and_their_digest_is_the_trees() -> None:
    ops = [Op(CREATE, f"f{n}", file=n) for n in range(1, 5)]
    ops += [Op(WRITE, f"f{n}", file=n, data=b"abcdef" * 1000) for n in range(1, 5)]
    states = trees(trace(*ops), max_combinations=8)
    assert len({s.digest for s in states}) == len(states)
    assert all(s.digest == tree_digest(s.tree) for s in states)
    # Past the cap (5 variants of 4 files), a selection that holds all kept and all dropped
    # (the latter is the state before the writes, found first).
    last = [s.tree for s in states if s.point == len(ops) and s.omitted is None]
    assert 8 < len(last) < 5**4
    assert dict.fromkeys(("f1", "f2", "f3", "f4"), b"abcdef" * 1000) in last
    assert dict.fromkeys(("f1", "f2", "f3", "f4"), b"") in [s.tree for s in states]


def test_every_crash_point_has_its_all_kept_state_in_rank_0() -> None:
    ops = [
        Op(CREATE, "tmp", file=1),
        Op(UNLINK, "tmp"),
        Op(CREATE, "a", file=2),
        Op(WRITE, "a", file=2, data=b"one"),
        Op(RENAME, "a", "b"),
        Op(DIRFSYNC, ""),
        Op(UNLINK, "b"),
    ]
    first = {s.digest for s in trees(trace(*ops)) if s.rank == 0}
    for point in range(len(ops) + 1):
        assert tree_digest(trace(*ops[:point]).replay()) in first, point


def test_select_keeps_every_rank_0_state_whatever_the_budget() -> None:
    states = [CrashState(n, None, "", n % len(RANKS), str(n), {}) for n in range(40)]
    chosen = select(states, 12)
    assert [s for s in chosen if s.rank == 0] == [s for s in states if s.rank == 0]
    assert len(chosen) == 12 and len({s.digest for s in chosen}) == 12
    assert select(states, 0) == [s for s in states if s.rank == 0]
    assert select(states, None) == sorted(states, key=lambda s: s.rank)


# -- the recorder ---------------------------------------------------------------------------------


def kinds(recording: Recording) -> list[str]:
    return [op.kind for op in recording.ops]


def test_the_recorder_follows_an_atomic_replace(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "CURRENT").write_text("old\n")
    with record(root) as rec:
        write_atomic(root / "CURRENT", "new\n")
    assert [str(op) for op in rec.ops] == [
        "create .CURRENT.tmp",
        "write .CURRENT.tmp [0, 4)",
        "fsync .CURRENT.tmp",
        "rename .CURRENT.tmp -> CURRENT",
        "dirfsync .",
    ]
    assert rec.replay() == read_tree(root) == {"CURRENT": b"new\n"}


def test_the_recorder_follows_descriptors_paths_and_trees(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "old").mkdir()
    (root / "old" / "f").write_bytes(b"1")
    with record(root) as rec:
        fd = os.open(root / "excl", os.O_CREAT | os.O_EXCL | os.O_RDWR)  # as Whoosh's create_file
        with os.fdopen(fd, "wb") as handle:
            for _ in range(5):
                handle.write(b"x" * 3_000)
            handle.seek(2)
            handle.write(b"yy")
            handle.flush()
            os.fsync(handle.fileno())
        (root / "new").mkdir()
        (root / "new" / "t.txt").write_text("text\n", encoding="utf-8")
        with open(root / "new" / "t.txt", "a", encoding="utf-8") as handle:
            handle.write("more\n")
        os.rename(root / "new" / "t.txt", root / "new" / "u.txt")
        shutil.rmtree(root / "old")
        (root / "excl").unlink()
        fd = os.open(root / "raw", os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"raw")
        os.close(fd)
        (outside / "ignored").write_text("not recorded")
    assert kinds(rec) == [
        CREATE,
        WRITE,
        WRITE,
        WRITE,
        WRITE,
        FSYNC,
        MKDIR,
        CREATE,
        WRITE,
        WRITE,
        RENAME,
        RMTREE,
        UNLINK,
        CREATE,
        WRITE,
    ]
    assert rec.replay() == read_tree(root) == {"new": None, "new/u.txt": b"text\nmore\n", "raw": b"raw"}
    # Writes are recorded as they reach the kernel, when Python's buffer is flushed: fewer
    # than the calls.
    assert [(op.offset, len(op.data)) for op in rec.ops if op.kind == WRITE][:4] == [
        (0, 6000),
        (6000, 6000),
        (12000, 3000),  # flushed by the seek
        (2, 2),
    ]


def rename_from_outside(root: Path) -> None:
    (root.parent / "stray").write_text("x")
    os.replace(root.parent / "stray", root / "stray")


def mkdir_at_a_descriptor(root: Path) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir("sub", dir_fd=fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (rename_from_outside, "crosses the recorded root"),
        (mkdir_at_a_descriptor, "relative to a folder descriptor"),
    ],
)
def test_the_recorder_refuses_what_it_cannot_follow(
    tmp_path: Path, write: Callable[[Path], None], message: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(RecordingError, match=message), record(root):
        write(root)


# -- searchkit's writes ---------------------------------------------------------------------------

#: The corpus before a write, the item a write changes, deletes and adds.
BEFORE = ITEMS[:6]
CHANGED = {**ITEMS[1], "title": "Court bans facial recognition in stations"}
DELETED = ITEMS[2]["id"]
ADDED = ITEMS[9]
AFTER = [CHANGED if i["id"] == CHANGED["id"] else i for i in BEFORE if i["id"] != DELETED] + [ADDED]
#: Items the queries look up: changed, deleted, added, unchanged, and one that is never there.
LOOKUPS = (CHANGED["id"], DELETED, ADDED["id"], ITEMS[0]["id"], "api/airship", "never/there.md")

Answers = dict[str, Any]


def answers(path: Path) -> Answers:
    """The answers of a fixed set of queries on the index at ``path``, in plain data: what must
    be the old commit's or the new one's. Scores, sizes, times and the index path are left out
    (they differ between two folders holding the same commit)."""
    found: Answers = {}
    with SearchIndex.open(path) as index:
        queries: list[tuple[str, dict[str, Any]]] = [
            ("", {"limit": 100}),
            ("court OR solar OR election", {"facets": ("topics", "provider", "year")}),
            ("climate", {"topics": ["climate"], "sort": "heat"}),
            ("", {"category": "news", "min_quality": 55, "sort": "quality", "facets": ("type",)}),
            ("recognitoin", {}),  # a spelling suggestion
        ]
        for text, options in queries:
            result = index.search(text, **options)
            found[f"search {text!r} {options}"] = (
                result.total,
                [(hit.id, hit.title) for hit in result.hits],
                {name: (facet.values, facet.other, facet.missing) for name, facet in result.facets.items()},
                result.suggestion,
            )
        info = index.info()
        found["info"] = (info.documents, info.oldest, info.newest, info.corpus)
        for ident in LOOKUPS:
            try:
                found[f"get {ident}"] = index.get(ident).to_dict()
            except SearchkitError as exc:
                found[f"get {ident}"] = type(exc).__name__
        related = index.related(ITEMS[0]["id"], limit=5)
        found["related"] = [(hit.id, hit.reason) for hit in related.related]
        found["suggest"] = index.suggest("re").completions
        # Stories: kept beside each commit's table of contents, never another commit's.
        listed = index.stories(limit=100)
        found["stories"] = (
            listed.total,
            [(s.id, [(i.id, i.duplicate_of) for i in s.items]) for s in listed.stories],
        )
        collapsed = index.search("", limit=100, collapse=True)
        found["collapsed"] = (collapsed.total, collapsed.stories, [hit.id for hit in collapsed.hits])
    return found


def differences(got: Answers, want: Answers) -> str:
    """The first answers that differ, for a failure message."""
    keys = [key for key in want if got.get(key) != want[key]]
    return "; ".join(f"{key}: {got.get(key)!r} instead of {want[key]!r}" for key in keys[:3])


def state_check(
    old: Answers, new: Answers, next_run: Callable[[SearchIndex], object]
) -> Callable[[Path], list[str]]:
    """The check of one crash state: it opens at the old or the new commit and answers as that
    commit does; then the next run completes and leaves the new commit's answers."""

    def check(folder: Path) -> list[str]:
        problems = []
        try:
            got = answers(folder)
        except Exception as exc:  # any error is the finding, IndexCorruptError or Whoosh's own
            problems.append(f"opening or querying raised {type(exc).__name__}: {exc}")
        else:
            if got not in (old, new):
                same_as_old = sum(got[key] == old[key] for key in old)
                nearer, name = (
                    (old, "old") if same_as_old >= sum(got[k] == new[k] for k in new) else (new, "new")
                )
                problems.append(f"answers of neither commit (nearer the {name}: {differences(got, nearer)})")
        try:
            with SearchIndex(folder) as index:
                next_run(index)
            after = answers(folder)
        except Exception as exc:
            problems.append(f"the next run raised {type(exc).__name__}: {exc}")
        else:
            if after != new:
                problems.append(
                    f"after the next run, not the new commit's answers: {differences(after, new)}"
                )
        return problems

    return check


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync does nothing here: what is durable is the model's decision (the recorder notes each
    fsync all the same), and the checks' own writes need no durability. Halves the run time."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    monkeypatch.setattr(os, "fdatasync", lambda fd: None)


def write_corpus_as(root: Path, items: Sequence[dict[str, Any]]) -> None:
    """Make the corpus at ``root`` hold exactly ``items``."""
    wanted = {item["id"] for item in items}
    for path in list(root.rglob("*.md")):
        if path.relative_to(root).as_posix() not in wanted:
            path.unlink()
    for item in items:
        write_item(root, item)


def build(tmp_path: Path, commits: int) -> tuple[Path, Path]:
    """(corpus, index) of ``BEFORE``, indexed in ``commits`` commits (the later ones one item
    each, so that each adds a small segment)."""
    first = len(BEFORE) - (commits - 1)
    corpus = write_corpus(tmp_path / "corpus", BEFORE[:first])
    index_dir = tmp_path / "index"
    with SearchIndex.create(index_dir) as index:
        index.update(corpus)
        for item in BEFORE[first:]:
            write_item(corpus, item)
            index.update(corpus)
    return corpus, index_dir


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index) of ``BEFORE`` in two segments."""
    return build(tmp_path, 2)


def run_scenario(
    name: str,
    tmp_path: Path,
    recording: Recording,
    index_dir: Path,
    next_run: Callable[[SearchIndex], object],
    *,
    budget: int,
) -> Exploration:
    """Check the crash states of a recorded write on ``index_dir``; prints the figures."""
    assert recording.replay() == read_tree(index_dir), "the recorder missed an operation"
    old = answers(write_tree(recording.base, tmp_path / "old-commit"))
    new = answers(index_dir)
    assert old != new, "the write changed no answer: the check could not tell the commits apart"
    workdir = tmp_path / "states"
    # SEARCHKIT_CRASH_STATES=all checks every distinct state (minutes, not for the suite).
    limit = None if os.environ.get("SEARCHKIT_CRASH_STATES") == "all" else budget
    result = explore(
        name, recording, workdir, state_check(old, new, next_run), budget=limit, volatile=["LOCK"]
    )
    print("\n" + result.summary())
    return result


def assert_consistent(result: Exploration, floor: int) -> None:
    """No state failed, and enough were checked that a recorder missing operations shows."""
    assert sum(result.checked) >= floor, result.summary()
    if result.failures:
        pytest.fail(result.report(), pytrace=False)


def test_every_crash_state_of_an_update(built: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index_dir = built
    write_corpus_as(corpus, AFTER)
    with record(index_dir) as rec:
        SearchIndex(index_dir).update(corpus)
    result = run_scenario("update", tmp_path, rec, index_dir, lambda index: index.update(corpus), budget=110)
    assert_consistent(result, floor=60)


def test_every_crash_state_of_a_rebuild(built: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index_dir = built
    write_corpus_as(corpus, AFTER)
    with record(index_dir) as rec:
        SearchIndex(index_dir).rebuild(corpus)
    assert RMTREE in kinds(rec)  # the old generation is removed
    result = run_scenario("rebuild", tmp_path, rec, index_dir, lambda index: index.rebuild(corpus), budget=96)
    assert_consistent(result, floor=80)


class _Announcing(SearchIndex):
    """A ``SearchIndex`` that tells when each update has finished: watch reports only updates
    that changed something, and its first one changes nothing here."""

    def __init__(self, path: Path, finished: queue.Queue[IndexReport]) -> None:
        super().__init__(path)
        self.finished = finished

    def update(self, corpus: str | Path, **kwargs: Any) -> IndexReport:
        report = super().update(corpus, **kwargs)
        self.finished.put(report)
        return report


@pytest.fixture
def watching(built: tuple[Path, Path]) -> Iterator[tuple[Path, Path, queue.Queue[IndexReport]]]:
    """``watch`` running on the built index in a thread, once its first update has finished;
    it stops after its first batch that changes something. Yields (corpus, index, finished)."""
    corpus, index_dir = built
    finished: queue.Queue[IndexReport] = queue.Queue()
    stop = threading.Event()
    index = _Announcing(index_dir, finished)
    thread = threading.Thread(
        target=watch,
        args=(index, corpus),
        kwargs={"on_batch": lambda _: stop.set(), "stop": stop, "interval": 0.2},
    )
    thread.start()
    try:
        finished.get(timeout=30)  # the first update: nothing changed
        yield corpus, index_dir, finished
    finally:
        stop.set()
        thread.join(timeout=30)
        index.close()


def wait_for_a_change(finished: queue.Queue[IndexReport]) -> IndexReport:
    """The report of the next update that changed the index. (Where file events are not
    available, watch polls: updates that changed nothing may come first; they are recorded
    too, and are part of the trace like any other operation.)"""
    while True:
        report = finished.get(timeout=30)
        if report.added or report.updated or report.deleted:
            return report


def test_every_crash_state_of_a_watch_batch(
    watching: tuple[Path, Path, queue.Queue[IndexReport]], tmp_path: Path
) -> None:
    corpus, index_dir, finished = watching
    with record(index_dir) as rec:
        write_corpus_as(corpus, AFTER)  # watch notices, waits for quiet, then updates once
        report = wait_for_a_change(finished)
    assert (report.added, report.updated, report.deleted) == (1, 1, 1)
    result = run_scenario(
        "watch batch", tmp_path, rec, index_dir, lambda index: index.update(corpus), budget=66
    )
    assert_consistent(result, floor=40)


def test_every_crash_state_of_a_commit_of_items(built: tuple[Path, Path], tmp_path: Path) -> None:
    _corpus, index_dir = built
    items = [
        NewsItem(
            id="api/airship",
            title="Airships return to carry freight",
            url="https://example.org/api/airship",
            topics=("Airships",),
            provider=Provider("API", "api.example"),
            quality=50,
        ),
        NewsItem(id=ITEMS[0]["id"], title="Chipmakers pause the race", url="https://example.org/chips"),
    ]
    with record(index_dir) as rec:
        SearchIndex(index_dir).add_items(items)
    result = run_scenario(
        "add_items", tmp_path, rec, index_dir, lambda index: index.add_items(items), budget=64
    )
    assert_consistent(result, floor=30)
