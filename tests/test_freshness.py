"""Keeping the index fresh: incremental counts, keep-last-good, duplicate urls, searches during
updates and rebuilds, killing the indexer (SIGKILL) at many points, lock contention and stale
locks, watch mode, damaged index directories and durable commits.

After every operation the test opens a fresh ``SearchIndex`` and checks what is on disk. Real
processes (``python -m searchkit``) are started where the behaviour is about processes: being
killed, holding a lock, stopping on a signal. Every wait polls against a deadline.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, run_cli, url_of, write_item

from searchkit import (
    Duplicate,
    IndexLockedError,
    IndexReport,
    ItemNotFoundError,
    NewsItem,
    SearchIndex,
)
from searchkit.indexer import Indexer
from searchkit.store import CURRENT, LOCK, IndexLocation
from searchkit.watch import watch

MakeCorpus = Callable[..., Path]

SEARCHKIT = [sys.executable, "-m", "searchkit"]

#: Longest any single wait in this file may take before the test fails.
DEADLINE = 20.0

COUNT_FIELDS = ("added", "updated", "deleted", "unchanged", "skipped", "documents")


# -- helpers ------------------------------------------------------------------------------------


def counts(report: IndexReport | dict[str, Any]) -> dict[str, int]:
    get = report.get if isinstance(report, dict) else lambda k: getattr(report, k)
    return {k: get(k) for k in COUNT_FIELDS}


def expect(**given: int) -> dict[str, int]:
    return {k: given.get(k, 0) for k in COUNT_FIELDS}


def update(index_dir: Path, corpus: Path) -> IndexReport:
    with SearchIndex(index_dir) as index:
        return index.update(corpus)


def on_disk(path: Path) -> dict[str, NewsItem]:
    """Every item of the index at ``path``, read through a fresh handle."""
    with SearchIndex.open(path) as index:
        hits = index.search("", limit=1000).hits
        return {hit.id: index.get(hit.id) for hit in hits}


def hit_ids(path: Path, query: str) -> set[str]:
    with SearchIndex.open(path) as index:
        return {hit.id for hit in index.search(query, limit=1000).hits}


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-"))


def live_generation(index_dir: Path) -> str:
    return (index_dir / CURRENT).read_text(encoding="utf-8").strip()


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def assert_unlocked(index_dir: Path) -> None:
    """Nobody holds the writers' lock (taking it must not wait)."""
    with IndexLocation(index_dir).lock(timeout=1):
        pass


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEARCHKIT_")}


def searchkit(*args: Any, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m searchkit ARGS`` to completion."""
    return subprocess.run(
        [*SEARCHKIT, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=subprocess_env(),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m searchkit ARGS`` (or any argv given as a list) in its own process group;
    whatever is still running at the end of the test is killed."""
    started: list[subprocess.Popen[str]] = []

    def run(*args: Any, argv: list[str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv or [*SEARCHKIT, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=subprocess_env(),
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield run
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group: workers it may have left behind
        proc.communicate()


# Small generated items ("notes"): cheap to write by the thousand, each with searchable words of
# its own (``tokN``), and "revised" in the title of a revised version.


def note_name(k: int) -> str:
    return f"n{k:05d}.md"


def write_note(root: Path, k: int, *, revised: bool = False, name: str | None = None) -> Path:
    title = f"Note {k} revised" if revised else f"Note {k}"
    path = root / (name or note_name(k))
    path.write_text(
        f"---\ntitle: {title}\nwebUrl: https://notes.example/{k}\n---\ntok{k}\n", encoding="utf-8"
    )
    return path


def write_notes(root: Path, numbers: range, *, revised: range = range(0)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k in numbers:
        write_note(root, k, revised=k in revised)
    return root


# -- 1. counts ----------------------------------------------------------------------------------


def test_mixed_run_counts_each_kind_of_change_exactly(
    make_corpus: MakeCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = ITEMS[:8]
    corpus = make_corpus(table)
    index_dir = tmp_path / "index"
    assert counts(update(index_dir, corpus)) == expect(added=len(table), documents=len(table))
    before = on_disk(index_dir)

    indexed: list[str] = []  # ids handed to Whoosh, i.e. (re-)indexed
    original_add = Indexer._add

    def spy(writer: Any, item: NewsItem, recorded: Any, *args: Any, **kwargs: Any) -> bytes:
        indexed.append(item.id)
        return original_add(writer, item, recorded, *args, **kwargs)

    monkeypatch.setattr(Indexer, "_add", staticmethod(spy))

    # A run with no change: everything unchanged, nothing indexed, no segment written.
    gen = index_dir / live_generation(index_dir)
    files_before = {p.name: p.stat().st_mtime_ns for p in gen.iterdir() if p.name != "searchkit.json"}
    assert counts(update(index_dir, corpus)) == expect(unchanged=len(table), documents=len(table))
    assert indexed == []
    assert {p.name: p.stat().st_mtime_ns for p in gen.iterdir() if p.name != "searchkit.json"} == files_before
    assert on_disk(index_dir) == before

    new = ITEMS[8:10]
    modified = [
        {**table[0], "title": "Chipmakers race to build quantum accelerators"},
        {**table[1], "excerpt": "Judges limit how drones may use facial recognition."},
    ]
    deleted = table[2]
    moved = table[3]
    moved_to = f"moved/{Path(moved['id']).name}"
    touched = table[4]
    for item in new + modified:
        write_item(corpus, item)
    (corpus / deleted["id"]).unlink()
    (corpus / "moved").mkdir()
    (corpus / moved["id"]).rename(corpus / moved_to)
    touched_path = corpus / touched["id"]
    content = touched_path.read_bytes()
    stat = touched_path.stat()
    os.utime(touched_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))
    assert touched_path.read_bytes() == content
    (corpus / "bad.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")

    old_ids = {i["id"] for i in table}
    new_ids = (old_ids - {deleted["id"], moved["id"]}) | {i["id"] for i in new} | {moved_to}
    added_ids = new_ids - old_ids
    deleted_ids = old_ids - new_ids
    updated_ids = {i["id"] for i in modified}
    unchanged_ids = (old_ids & new_ids) - updated_ids
    assert (len(added_ids), len(deleted_ids), len(updated_ids)) == (3, 2, 2)  # the table is right

    report = update(index_dir, corpus)
    assert counts(report) == expect(
        added=len(added_ids),
        updated=len(updated_ids),
        deleted=len(deleted_ids),
        unchanged=len(unchanged_ids),
        skipped=1,
        documents=len(new_ids),
    )
    assert [e.path for e in report.errors] == ["bad.md"]
    assert sorted(indexed) == sorted(added_ids | updated_ids)  # the touched file was not re-indexed

    items = on_disk(index_dir)
    assert set(items) == new_ids
    for row in modified:
        assert items[row["id"]].title == row["title"]
        assert items[row["id"]].excerpt == row["excerpt"]
    assert items[touched["id"]] == before[touched["id"]]
    for ident in unchanged_ids:
        assert items[ident] == before[ident]
    # The move: a deletion plus an addition under the new path, same content.
    assert items[moved_to].title == moved["title"]
    assert hit_ids(index_dir, f'"{moved["title"]}"') == {moved_to}
    with SearchIndex.open(index_dir) as index:
        for gone in deleted_ids:
            with pytest.raises(ItemNotFoundError):
                index.get(gone)
        assert index.search("quantum").total == 1
        assert {h.id for h in index.search("drones").hits} >= {modified[1]["id"]}

    # And again nothing to do: the broken file is reported again, nothing is re-indexed.
    indexed.clear()
    report = update(index_dir, corpus)
    assert counts(report) == expect(unchanged=len(new_ids), skipped=1, documents=len(new_ids))
    assert indexed == []
    assert on_disk(index_dir) == items


# -- 2. keep-last-good --------------------------------------------------------------------------


def test_broken_file_keeps_its_last_good_version_until_fixed_then_deleted(
    make_corpus: MakeCorpus, tmp_path: Path
) -> None:
    table = ITEMS[:5]
    victim = table[3]  # "Climate summit ends with coal compromise"
    corpus = make_corpus(table)
    index_dir = tmp_path / "index"
    update(index_dir, corpus)
    before = on_disk(index_dir)[victim["id"]]

    lines = ["---", "title: Climate summit ends", "excerpt: one: two", "---", ""]
    bad_line = lines.index("excerpt: one: two") + 1
    (corpus / victim["id"]).write_text("\n".join(lines), encoding="utf-8")
    report = update(index_dir, corpus)
    assert counts(report) == expect(unchanged=len(table) - 1, skipped=1, documents=len(table))
    assert [e.path for e in report.errors] == [victim["id"]]
    assert f"line {bad_line}" in report.errors[0].message
    assert on_disk(index_dir)[victim["id"]] == before
    assert victim["id"] in hit_ids(index_dir, "coal compromise")  # searchable by its old text

    # The command line reports it too, with exit status 1, and keeps the item.
    result = run_cli("index", corpus, "--index-dir", index_dir, "--json")
    assert result.code == 1
    assert result.json["errors"] == [{"path": victim["id"], "message": report.errors[0].message}]
    assert result.json["documents"] == len(table)
    assert victim["id"] in hit_ids(index_dir, "coal")

    # Fixed: the new version replaces the old one.
    write_item(
        corpus,
        {**victim, "title": "Climate summit ends with a treaty", "excerpt": "Delegates signed a treaty."},
    )
    assert counts(update(index_dir, corpus)) == expect(
        updated=1, unchanged=len(table) - 1, documents=len(table)
    )
    assert on_disk(index_dir)[victim["id"]].title == "Climate summit ends with a treaty"
    assert hit_ids(index_dir, "treaty") == {victim["id"]}
    assert victim["id"] not in hit_ids(index_dir, "coal")

    # Broken again, then deleted: gone.
    (corpus / victim["id"]).write_text("\n".join(lines), encoding="utf-8")
    assert counts(update(index_dir, corpus))["skipped"] == 1
    assert hit_ids(index_dir, "treaty") == {victim["id"]}
    (corpus / victim["id"]).unlink()
    assert counts(update(index_dir, corpus)) == expect(
        deleted=1, unchanged=len(table) - 1, documents=len(table) - 1
    )
    assert victim["id"] not in on_disk(index_dir)
    assert hit_ids(index_dir, "treaty") == set()


# -- 3. duplicate urls --------------------------------------------------------------------------


def test_duplicate_urls_are_kept_and_reported(make_corpus: MakeCorpus, tmp_path: Path) -> None:
    table = ITEMS[:4]
    shared = url_of(table[0]["id"])
    copy = {**table[1], "id": "copies/chips-again.md", "webUrl": shared, "title": "Chipmakers race again"}
    corpus = make_corpus([*table, copy])
    index_dir = tmp_path / "index"
    report = update(index_dir, corpus)
    assert report.ok
    assert report.documents == len(table) + 1
    assert report.duplicates == (Duplicate(shared, tuple(sorted([table[0]["id"], copy["id"]]))),)
    items = on_disk(index_dir)
    assert items[table[0]["id"]].url == items[copy["id"]].url == shared

    result = run_cli("index", corpus, "--index-dir", index_dir, "--json")
    assert result.code == 0
    assert result.json["duplicates"] == [{"url": shared, "ids": sorted([table[0]["id"], copy["id"]])}]
    text = run_cli("index", corpus, "--index-dir", index_dir)
    assert f"Duplicate url {shared} in: {', '.join(sorted([table[0]['id'], copy['id']]))}" in text.stderr

    # Once one of them is gone, the url is no longer a duplicate.
    (corpus / copy["id"]).unlink()
    assert update(index_dir, corpus).duplicates == ()


# -- 4. searches during rebuilds and updates ----------------------------------------------------


class SearchLoop:
    """Search a long-lived ``SearchIndex`` in a loop in a thread, recording every answer as
    (query number, total) for the queries ``""`` (everything) and ``"revised"``."""

    QUERIES = ("", "revised")

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.answers: list[tuple[int, int]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for number, query in enumerate(self.QUERIES):
                try:
                    total = self.index.search(query, limit=3).total
                except BaseException as exc:  # anything at all is a failure
                    self.errors.append(exc)
                    return
                self.answers.append((number, total))

    def settled(self, state: tuple[int, int]) -> bool:
        """True once a whole round of searches, started after now, answered ``state``."""
        mark = len(self.answers)
        wait_for(lambda: self.errors or len(self.answers) >= mark + 2 * len(self.QUERIES), "more searches")
        return not self.errors and all(
            total == state[number] for number, total in self.answers[-len(self.QUERIES) :]
        )

    def consistent(self, states: list[tuple[int, int]]) -> bool:
        """Every answer is that of one of ``states`` (the index's states in commit order), and
        the answers never go back to an earlier state."""
        earliest = 0
        for number, total in self.answers:
            possible = [i for i in range(earliest, len(states)) if states[i][number] == total]
            if not possible:
                return False
            earliest = possible[0]
        return True

    def __enter__(self) -> SearchLoop:
        self._thread.start()
        wait_for(lambda: len(self.answers) >= 2 or self.errors, "a first search")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=DEADLINE)


def test_rebuild_switches_a_long_lived_reader_without_errors(tmp_path: Path) -> None:
    corpus = write_notes(tmp_path / "corpus", range(300))
    index_dir = tmp_path / "index"
    update(index_dir, corpus)
    old_gen = live_generation(index_dir)
    # The new corpus: 60 notes gone, 100 more, 30 revised.
    for k in range(60):
        (corpus / note_name(k)).unlink()
    write_notes(corpus, range(300, 400))
    write_notes(corpus, range(100, 130), revised=range(100, 130))
    old, new = (300, 0), (340, 30)  # (items, items with "revised")

    lived = SearchIndex.open(index_dir)
    try:
        with SearchLoop(lived) as loop:
            seen_before = len(loop.answers)
            with SearchIndex(index_dir) as writer:
                report = writer.rebuild(corpus)
            during = len(loop.answers) - seen_before
            assert loop.settled(new)  # the same object sees the new index, without reopening
        assert loop.errors == []
        assert loop.answers[:2] == [(0, old[0]), (1, old[1])]
        assert loop.consistent([old, new]), loop.answers
        assert during > 0, "no search ran while the rebuild ran"
        assert report.documents == 340
        assert lived.search("tok0").total == 0
        assert lived.search("tok399").total == 1
    finally:
        lived.close()
    new_gen = live_generation(index_dir)
    assert new_gen != old_gen
    assert generations(index_dir) == [new_gen]
    assert not (index_dir / old_gen).exists()
    with SearchIndex.open(index_dir) as fresh:
        assert (fresh.search("").total, fresh.search("revised").total) == new


def test_updates_do_not_disturb_a_long_lived_reader(tmp_path: Path) -> None:
    corpus = write_notes(tmp_path / "corpus", range(200))
    index_dir = tmp_path / "index"
    update(index_dir, corpus)

    def add() -> None:
        write_notes(corpus, range(200, 320))

    def delete() -> None:
        for k in range(0, 150, 2):
            (corpus / note_name(k)).unlink()

    def revise() -> None:
        write_notes(corpus, range(151, 200, 2), revised=range(151, 200, 2))

    def more() -> None:
        write_notes(corpus, range(320, 330))

    # The states the index goes through, one per commit: (items, items with "revised").
    states = [(200, 0), (320, 0), (245, 0), (245, 25), (255, 25)]
    lived = SearchIndex.open(index_dir)
    try:
        with SearchLoop(lived) as loop, SearchIndex(index_dir) as writer:
            for change, state in zip([add, delete, revise, more], states[1:], strict=True):
                change()
                report = writer.update(corpus)
                assert report.documents == state[0]
                assert loop.settled(state), (state, loop.answers[-4:], loop.errors)
        assert loop.errors == []
        assert loop.consistent(states), loop.answers  # every commit seen whole and in order
        assert lived.search("").total == states[-1][0]
    finally:
        lived.close()
    with SearchIndex.open(index_dir) as fresh:
        assert (fresh.search("").total, fresh.search("revised").total) == states[-1]


# -- 5. kill -9 ---------------------------------------------------------------------------------

# Before: notes 0-299 indexed. After: notes 50-2299: 50 deleted, 20 revised, 230 unchanged and
# 2,000 added, enough that a run takes seconds, parses and writes in worker processes.
BEFORE = range(300)
AFTER = range(50, 2300)
REVISED = range(50, 70)


def signature(index: SearchIndex) -> tuple[int, int, int, int]:
    """What a search answers: (items, items "revised", hits of a deleted note, of an added one)."""
    return (
        index.search("").total,
        index.search("revised").total,
        index.search("tok0").total,
        index.search(f"tok{AFTER[-1]}").total,
    )


STATE_BEFORE = (len(BEFORE), 0, 1, 0)
STATE_AFTER = (len(AFTER), len(REVISED), 0, 1)
FULL_RUN = expect(
    added=len(set(AFTER) - set(BEFORE)),
    updated=len(REVISED),
    deleted=len(set(BEFORE) - set(AFTER)),
    unchanged=len(set(BEFORE) & set(AFTER)) - len(REVISED),
    documents=len(AFTER),
)


@pytest.fixture(scope="module")
def kill_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(index of the "before" notes, corpus of the "after" notes); copy, do not change."""
    root = tmp_path_factory.mktemp("kill")
    index_dir = root / "before-index"
    assert update(index_dir, write_notes(root / "before", BEFORE)).documents == len(BEFORE)
    return index_dir, write_notes(root / "after", AFTER, revised=REVISED)


def seen_whole(answer: tuple[int, ...], old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    """``answer`` (a signature taken while a commit may land) is ``old`` answered up to some
    search and ``new`` from then on: each search sees one whole commit, never going back."""
    return any(answer == old[:k] + new[k:] for k in range(len(old) + 1))


# Where to kill: at fractions of the time a whole run takes on this machine (measured first, so
# that the points fall inside the run however fast the machine is), or as soon as a new file
# matching a pattern appears in the index directory, to hit the commit phase: segment files
# being written, then the table of contents (or, for a rebuild, CURRENT) being replaced.
TIME_POINTS = [0.1, 0.3, 0.5, 0.7, 0.85]
UPDATE_PATTERNS = ["gen-*/MAIN_*.pst", "gen-*/_MAIN_*.toc.*"]
REBUILD_PATTERNS = [f".{CURRENT}.tmp", "gen-*/MAIN_*.pst", "gen-*/_MAIN_*.toc.*"]
SEARCH_AT = 0.5  # a CLI search starts at this fraction of the run, during the run at this point


@pytest.mark.parametrize("mode", ["update", "rebuild"])
def test_killing_the_indexer_anywhere_leaves_the_last_commit(
    mode: str, kill_data: tuple[Path, Path], tmp_path: Path, start: Callable[..., subprocess.Popen[str]]
) -> None:
    before_index, corpus = kill_data
    extra = ["--rebuild"] if mode == "rebuild" else []

    def index_run(index_dir: Path) -> subprocess.Popen[str]:
        return start("index", corpus, "--index-dir", index_dir, "--lock-timeout", 1, "--json", *extra)

    # How long a whole run takes here, from the "before" state: the shorter of two (the first
    # may pay for a cold disk cache, and a run that ends before SEARCH_AT never sees a search).
    runs = []
    for n in range(2):
        calibration = tmp_path / f"calibration-{n}"
        shutil.copytree(before_index, calibration)
        began = time.monotonic()
        out, err = index_run(calibration).communicate(timeout=120)
        runs.append(time.monotonic() - began)
        assert json.loads(out)["documents"] == len(AFTER), err
    whole_run = min(runs)
    points: list[float | str] = [f * whole_run for f in TIME_POINTS]
    points += REBUILD_PATTERNS if mode == "rebuild" else UPDATE_PATTERNS

    landed: list[str] = []  # where each kill landed, for the failure messages
    killed = 0
    leftovers = 0  # partial generations left by killed rebuilds
    cli_search: subprocess.Popen[str] | None = None
    rounds = 0

    # A round: a copy of the "before" index, killed runs one after the other until one of them
    # lands the commit (or the points run out), then an ordinary run that completes the work.
    pending = list(points)
    while pending:
        rounds += 1
        index_dir = tmp_path / f"index-{rounds}"
        shutil.copytree(before_index, index_dir)
        lived = SearchIndex.open(index_dir)  # a long-lived reader, searching during the runs
        state = STATE_BEFORE
        try:
            while pending and state == STATE_BEFORE:
                point = pending.pop(0)
                known = files_of(index_dir)
                proc = index_run(index_dir)
                began = time.monotonic()
                last_search = 0.0
                while proc.poll() is None:
                    now = time.monotonic() - began
                    assert now < 60, f"the indexer ran for a minute ({point})"
                    if isinstance(point, float):
                        if now >= point:
                            break
                        if time.monotonic() - last_search > 0.1:  # readers keep working
                            assert seen_whole(signature(lived), state, STATE_AFTER)
                            last_search = time.monotonic()
                        if cli_search is None and now >= SEARCH_AT * whole_run:
                            cli_search = start("search", "--index-dir", index_dir, "--json", "--limit", 1)
                    elif appeared(index_dir, point, known):
                        break
                    time.sleep(0.003)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                landed.append(
                    f"{point if isinstance(point, str) else round(point, 2)}: "
                    f"{'killed' if proc.returncode < 0 else 'finished'} after "
                    f"{time.monotonic() - began:.2f} s"
                )
                # No lock is left behind (nor worker processes holding it, or the pipes).
                assert_unlocked(index_dir)
                try:
                    out, err = proc.communicate(timeout=DEADLINE)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"processes of the killed indexer live on ({landed})")
                if proc.returncode == -signal.SIGKILL:
                    killed += 1
                else:  # finished before the kill: it must have succeeded
                    assert proc.returncode == 0, err
                    assert json.loads(out)["documents"] == len(AFTER)

                # The index opens and answers with the last completed commit, nothing between.
                with SearchIndex.open(index_dir) as fresh:
                    now_state = signature(fresh)
                landed[-1] += " -> before" if now_state == STATE_BEFORE else " -> after"
                assert now_state in (STATE_BEFORE, STATE_AFTER), (landed, now_state)
                assert signature(lived) == now_state
                state = now_state
                assert (index_dir / live_generation(index_dir)).is_dir()
                leftovers += len(generations(index_dir)) - 1

            # The next run (an ordinary incremental one, lock timeout 1 s) completes the work.
            result = searchkit(
                "index", corpus, "--index-dir", index_dir, "--lock-timeout", 1, "--json", cwd=tmp_path
            )
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            if state == STATE_BEFORE:
                assert counts(report) == FULL_RUN, landed
            else:
                assert counts(report) == expect(unchanged=len(AFTER), documents=len(AFTER))
            with SearchIndex.open(index_dir) as fresh:
                assert signature(fresh) == STATE_AFTER
            assert signature(lived) == STATE_AFTER
        finally:
            lived.close()
        # Partial generations left by killed rebuilds are gone, and so is the lock.
        assert generations(index_dir) == [live_generation(index_dir)]
        assert_unlocked(index_dir)
    print(f"whole run {whole_run:.2f} s; " + "; ".join(landed))

    # Most points killed a run in progress (a point misses when a run goes faster than the
    # measured one, or the commit ends before the poll sees its file).
    assert killed >= len(points) // 2, landed
    if mode == "rebuild":
        assert leftovers, f"no kill left a partial generation behind ({landed})"
    # A CLI search started during a run answered with one of the two states.
    assert cli_search is not None, f"no run lasted {SEARCH_AT} of the measured time ({landed})"
    out, err = cli_search.communicate(timeout=DEADLINE)
    assert cli_search.returncode == 0, err
    assert json.loads(out)["total"] in (len(BEFORE), len(AFTER))


def files_of(index_dir: Path) -> dict[Path, tuple[int, int]]:
    found = {}
    for path in index_dir.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            found[path] = (stat.st_ino, stat.st_mtime_ns)
    return found


def appeared(index_dir: Path, pattern: str, known: dict[Path, tuple[int, int]]) -> bool:
    """A file matching ``pattern`` that was not in ``known`` (or has changed) is there."""
    for path in index_dir.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            if known.get(path) != (stat.st_ino, stat.st_mtime_ns):
                return True
    return False


# -- 6. lock contention and stale locks ---------------------------------------------------------


@pytest.fixture
def small_index(make_corpus: MakeCorpus, tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index dir) with a few items indexed."""
    corpus = make_corpus(ITEMS[:4])
    index_dir = tmp_path / "index"
    update(index_dir, corpus)
    return corpus, index_dir


def test_a_second_writer_gives_up_naming_the_lock(small_index: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index_dir = small_index
    lock_file = index_dir / LOCK
    with IndexLocation(index_dir).lock():
        result = searchkit("index", corpus, "--index-dir", index_dir, "--lock-timeout", 0.5, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        lines = error_lines(result.stderr)
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("Error: ")
        assert str(lock_file) in lines[0]
        assert f"pid {os.getpid()}" in lines[0]

        # watch is a writer too.
        result = searchkit("watch", corpus, "--index-dir", index_dir, "--lock-timeout", 0.5, cwd=tmp_path)
        assert result.returncode == 1
        lines = error_lines(result.stderr)
        assert lines[-1].startswith("Error: ") and str(lock_file) in lines[-1], result.stderr
        assert "Traceback" not in result.stderr

        for action in (
            lambda ix: ix.update(corpus),
            lambda ix: ix.rebuild(corpus),
            lambda ix: ix.add_items([NewsItem(id="api/x", title="X")]),
            lambda ix: ix.remove([ITEMS[0]["id"]]),
        ):
            started = time.monotonic()
            with (
                pytest.raises(IndexLockedError, match=re.escape(str(lock_file))),
                SearchIndex(index_dir, lock_timeout=0.3) as index,
            ):
                action(index)
            assert time.monotonic() - started >= 0.3
        # Searching needs no lock.
        with SearchIndex.open(index_dir) as index:
            assert index.search("").total == 4
    assert set(on_disk(index_dir)) == {i["id"] for i in ITEMS[:4]}


def test_a_writer_waits_for_the_lock_to_be_released(small_index: tuple[Path, Path]) -> None:
    corpus, index_dir = small_index
    write_item(corpus, ITEMS[4])
    held = threading.Event()

    def hold() -> None:
        with IndexLocation(index_dir).lock():
            held.set()
            time.sleep(0.6)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(DEADLINE)
    started = time.monotonic()
    with SearchIndex(index_dir, lock_timeout=DEADLINE) as index:
        report = index.update(corpus)
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.3
    assert report.added == 1
    assert set(on_disk(index_dir)) == {i["id"] for i in ITEMS[:5]}


def test_a_lock_left_by_a_killed_process_is_no_obstacle(
    small_index: tuple[Path, Path], start: Callable[..., subprocess.Popen[str]]
) -> None:
    corpus, index_dir = small_index
    code = (
        "import sys, time\nfrom searchkit.store import IndexLocation\n"
        "with IndexLocation(sys.argv[1]).lock():\n"
        "    print('locked', flush=True)\n    time.sleep(120)\n"
    )
    holder = start(argv=[sys.executable, "-c", code, str(index_dir)])
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(IndexLockedError, match="pid"):
        IndexLocation(index_dir).lock(timeout=0).__enter__()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (index_dir / LOCK).read_text().strip() == f"pid {holder.pid}"  # left behind...
    write_item(corpus, ITEMS[4])
    started = time.monotonic()
    with SearchIndex(index_dir, lock_timeout=0) as index:  # ...but no obstacle
        assert index.update(corpus).added == 1
    assert time.monotonic() - started < 5
    assert set(on_disk(index_dir)) == {i["id"] for i in ITEMS[:5]}


# -- 7. watch mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("use_events", [True, False], ids=["events", "polling"])
def test_watch_takes_a_burst_of_changes_in_few_batches(tmp_path: Path, use_events: bool) -> None:
    corpus = write_notes(tmp_path / "corpus", range(10))
    index_dir = tmp_path / "index"
    batches: list[IndexReport] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def on_batch(report: IndexReport) -> None:
        batches.append(report)
        if len(batches) == 1:
            # A file written while the first update finishes, before the loop starts: not missed.
            write_note(corpus, 500)

    def run() -> None:
        try:
            with SearchIndex(index_dir) as index:
                watch(index, corpus, interval=0.2, on_batch=on_batch, stop=stop, use_events=use_events)
        except BaseException as exc:
            errors.append(exc)

    def state() -> dict[str, str]:
        if not (index_dir / CURRENT).exists():
            return {}
        with SearchIndex.open(index_dir) as index:
            return {hit.id: hit.title for hit in index.search("", limit=1000).hits}

    def title(k: int) -> str:
        return f"Note {k} revised" if k in (1, 2, 3) and burst_done else f"Note {k}"

    burst_done = False
    want = {note_name(k): title(k) for k in [*range(10), 500]}

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        # (The report reaches on_batch just after the commit is visible: wait for both.)
        wait_for(
            lambda: errors or (state() == want and sum(b.added for b in batches) == 11), "the first updates"
        )
        assert not errors
        assert batches[0].added == 10
        first = len(batches)

        # The burst: 20 new files, 3 modified, 2 deleted, 1 moved into a new folder.
        write_notes(corpus, range(100, 120))
        for k in (1, 2, 3):
            write_note(corpus, k, revised=True)
        for k in (4, 5):
            (corpus / note_name(k)).unlink()
        (corpus / "moved").mkdir()
        (corpus / note_name(6)).rename(corpus / "moved" / note_name(6))
        changes = 20 + 3 + 2 + 1
        burst_done = True
        want = {note_name(k): title(k) for k in [*range(10), 500, *range(100, 120)] if k not in (4, 5, 6)}
        want["moved/" + note_name(6)] = title(6)

        wait_for(
            lambda: errors or (state() == want and batches[-1].documents == len(want)),
            "the burst to be indexed",
            interval=0.2,
        )
        time.sleep(0.5)  # room for a stray extra batch, which would be counted below
    finally:
        stop.set()
        thread.join(timeout=DEADLINE)
    assert not thread.is_alive()
    assert not errors
    assert state() == want
    burst = batches[first:]
    assert 1 <= len(burst) <= 5 < changes, [counts(b) for b in burst]
    assert (sum(b.added for b in burst), sum(b.deleted for b in burst), sum(b.updated for b in burst)) == (
        21,
        3,
        3,
    ), [counts(b) for b in burst]
    assert burst[-1].documents == len(want)
    assert hit_ids(index_dir, "revised") == {note_name(k) for k in (1, 2, 3)}
    assert_unlocked(index_dir)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_watch_command_stops_cleanly_on_a_signal(
    tmp_path: Path, signum: int, start: Callable[..., subprocess.Popen[str]]
) -> None:
    corpus = write_notes(tmp_path / "corpus", range(5))
    index_dir = tmp_path / "index"
    proc = start("watch", corpus, "--index-dir", index_dir, "--interval", 0.2)

    def items() -> int:
        assert proc.poll() is None, proc.communicate()
        if not (index_dir / CURRENT).exists():
            return -1
        with SearchIndex.open(index_dir) as index:
            return index.search("").total

    wait_for(lambda: items() == 5, "the first update")
    write_note(corpus, 77)
    wait_for(lambda: hit_ids(index_dir, "tok77") == {note_name(77)}, "the new file to be searchable")
    # Stop it while it may be busy with a bigger batch.
    write_notes(corpus, range(1000, 1300))
    time.sleep(0.4)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    assert err.splitlines()[-1] == "Stopped.", err
    assert "Traceback" not in err
    assert re.search(
        r"^\d\d:\d\d:\d\d 1 added, 0 updated, 0 deleted, 0 skipped in [\d.]+ s; 6 items$", out, re.M
    ), out

    # No lock is left and the index opens; the next run completes the work.
    result = searchkit("index", corpus, "--index-dir", index_dir, "--lock-timeout", 1, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == 306
    assert len(on_disk(index_dir)) == 306


# -- 8. damaged and foreign index directories ---------------------------------------------------


def assert_one_error(result: Any, *needles: str) -> str:
    assert result.code == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "command", [["search", "x"], ["info"], ["show", "x"], ["index"], ["index", "--rebuild"]]
)
def test_a_foreign_directory_is_refused_and_left_alone(
    make_corpus: MakeCorpus, tmp_path: Path, command: list[str]
) -> None:
    corpus = make_corpus(ITEMS[:3])
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("precious")
    (junk / "data.bin").write_bytes(bytes(range(256)))
    if command[0] == "index":
        command = [command[0], str(corpus), *command[1:]]
    assert_one_error(run_cli(*command, "--index-dir", junk), str(junk))
    assert sorted(p.name for p in junk.iterdir()) == ["data.bin", "notes.txt"]
    assert (junk / "notes.txt").read_text() == "precious"


def damage_current(index_dir: Path) -> None:
    (index_dir / CURRENT).write_text("gen-000099\n")


def truncate_toc(index_dir: Path) -> None:
    toc = next((index_dir / live_generation(index_dir)).glob("_MAIN_*.toc"))
    toc.write_bytes(toc.read_bytes()[:20])


def garbage_toc(index_dir: Path) -> None:
    toc = next((index_dir / live_generation(index_dir)).glob("_MAIN_*.toc"))
    toc.write_bytes(bytes(range(256)) * 2)


# A segment is a set of files "MAIN_<segment id>.<part>": terms (.trm), postings (.pst),
# stored fields and other columns (.col).


def truncate_segment(index_dir: Path) -> None:
    for part in ("*.trm", "*.pst"):
        seg = next((index_dir / live_generation(index_dir)).glob(part))
        seg.write_bytes(seg.read_bytes()[:100])


def remove_segment(index_dir: Path) -> None:
    next((index_dir / live_generation(index_dir)).glob("*.trm")).unlink()


# Whoosh leaves a file open when it fails halfway through reading a damaged one (third-party).
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
@pytest.mark.parametrize(
    "damage", [damage_current, truncate_toc, garbage_toc, truncate_segment, remove_segment]
)
def test_a_damaged_index_says_rebuild_and_rebuild_repairs_it(
    small_index: tuple[Path, Path], damage: Callable[[Path], None]
) -> None:
    corpus, index_dir = small_index
    damage(index_dir)
    for command in (["search", "climate"], ["info"], ["index", str(corpus)]):
        assert_one_error(run_cli(*command, "--index-dir", index_dir), "--rebuild")
    result = run_cli("index", corpus, "--index-dir", index_dir, "--rebuild", "--json")
    assert result.code == 0, result.stderr
    assert counts(result.json) == expect(added=4, documents=4)
    assert generations(index_dir) == [live_generation(index_dir)]
    assert set(on_disk(index_dir)) == {i["id"] for i in ITEMS[:4]}
    assert run_cli("search", "climate", "--index-dir", index_dir).code == 0
    gc.collect()  # the files Whoosh left open are closed here, where their warning is expected


# -- 9. durable commits -------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fsynced files")
@pytest.mark.parametrize("operation", ["update", "rebuild"])
def test_commits_are_fsynced_before_the_rename(
    small_index: tuple[Path, Path], operation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index_dir = small_index
    write_item(corpus, ITEMS[5])
    events: list[tuple[str, str]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        events.append(("rename", f"{os.path.realpath(src)} -> {os.path.realpath(dst)}"))
        real_rename(src, dst, *args, **kwargs)

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        events.append(("rename", f"{os.path.realpath(src)} -> {os.path.realpath(dst)}"))
        real_replace(src, dst, *args, **kwargs)

    old_segments = set((index_dir / live_generation(index_dir)).resolve().glob("MAIN_*.*"))
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    with SearchIndex(index_dir) as index:
        getattr(index, operation)(corpus)
    monkeypatch.undo()
    assert len(on_disk(index_dir)) == 5

    gen = (index_dir / live_generation(index_dir)).resolve()
    synced = [i for i, (kind, _) in enumerate(events) if kind == "fsync"]

    def fsynced(path: Path, before: int | None = None, after: int = -1) -> bool:
        return any(events[i][1] == str(path) and after < i < (before or len(events)) for i in synced)

    def rename_of(dst: Path) -> int:
        found = [
            i for i, (kind, what) in enumerate(events) if kind == "rename" and what.endswith(f" -> {dst}")
        ]
        assert found, (dst, events)
        return found[-1]

    # The table of contents: fsynced under its temporary name, renamed, then the folder fsynced.
    toc = max(gen.glob("_MAIN_*.toc"), key=lambda p: int(p.stem.split("_")[-1]))
    toc_rename = rename_of(toc)
    temp_toc = Path(events[toc_rename][1].split(" -> ")[0])
    assert temp_toc.name.startswith(toc.name + ".")
    assert fsynced(temp_toc, before=toc_rename)
    assert fsynced(gen, after=toc_rename)
    # Every segment file the new TOC can name was fsynced before the rename.
    new_segments = sorted(set(gen.glob("MAIN_*.*")) - old_segments)
    assert new_segments, "the commit wrote no new segment"
    for seg in new_segments:
        assert fsynced(seg, before=toc_rename), seg
    # The metadata (and, for a rebuild, CURRENT) are replaced the same way.
    meta_rename = rename_of(gen / "searchkit.json")
    assert fsynced(gen / ".searchkit.json.tmp", before=meta_rename)
    assert fsynced(gen, after=meta_rename)
    if operation == "rebuild":
        root = index_dir.resolve()
        current_rename = rename_of(root / CURRENT)
        assert current_rename > toc_rename
        assert fsynced(root / f".{CURRENT}.tmp", before=current_rename)
        assert fsynced(root, after=current_rename)
