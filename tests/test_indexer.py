"""The write side through the API: index reports, incremental updates, broken files, rebuilds,
items handed in by programs, and refusing what is not an index or not a corpus.

After every write the test reopens a fresh ``SearchIndex`` and checks what is on disk.
"""

from __future__ import annotations

import os
import random
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ITEMS, REUTERS_DOCUMENTS, write_item

import searchkit.indexer as indexer_module
from searchkit import (
    CorpusError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexReport,
    IndexWriteError,
    ItemNotFoundError,
    NewsItem,
    Provider,
    SearchIndex,
)
from searchkit.store import IndexLocation, open_whoosh

TABLE = ITEMS[:6]
BROKEN = {
    "broken-yaml.md": "---\ntitle: [unclosed\n---\n",
    "no-title.md": "---\nexcerpt: an item without a title\n---\nbody\n",
    "no-front-matter.md": "just some text\n",
    "binary.md": "---\ntitle: x\n---\n\x00\x01\x02",
}

MakeCorpus = Callable[..., Path]


def on_disk(path: Path) -> dict[str, NewsItem]:
    """Every item of the index at ``path``, read through a fresh handle."""
    with SearchIndex.open(path) as index:
        hits = index.search("", limit=1000).hits
        return {hit.id: index.get(hit.id) for hit in hits}


def counts(report: IndexReport) -> dict[str, int]:
    return {
        k: getattr(report, k) for k in ("added", "updated", "deleted", "unchanged", "skipped", "documents")
    }


def expect(
    added: int = 0,
    updated: int = 0,
    deleted: int = 0,
    unchanged: int = 0,
    skipped: int = 0,
    documents: int = 0,
) -> dict[str, int]:
    return {
        "added": added,
        "updated": updated,
        "deleted": deleted,
        "unchanged": unchanged,
        "skipped": skipped,
        "documents": documents,
    }


def skip_without_writer_processes() -> None:
    if min(os.cpu_count() or 1, indexer_module.MAX_WRITER_PROCS) < 2:
        pytest.skip("one core: the indexer never starts writer processes")


@pytest.fixture(params=["in process", "writer processes"])
def writers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: small runs index in the calling process, large ones in writer
    processes that read, parse and index the files themselves (forced here for any size)."""
    if request.param == "writer processes":
        skip_without_writer_processes()
        monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)
    return str(request.param)


@pytest.fixture
def built(make_corpus: MakeCorpus, tmp_path: Path, writers: str) -> tuple[Path, Path]:
    """(corpus, index dir) with TABLE indexed once (each test runs with both kinds of writer)."""
    corpus = make_corpus(TABLE)
    with SearchIndex.create(tmp_path / "index") as index:
        report = index.update(corpus)
    assert counts(report) == expect(added=len(TABLE), documents=len(TABLE))
    return corpus, tmp_path / "index"


def update(index_dir: Path, corpus: Path) -> IndexReport:
    with SearchIndex(index_dir) as index:
        return index.update(corpus)


def test_first_update_adds_every_item(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    items = on_disk(index_dir)
    assert set(items) == {i["id"] for i in TABLE}
    for row in TABLE:
        assert items[row["id"]].title == row["title"]


def test_report_fields(make_corpus: MakeCorpus, tmp_path: Path) -> None:
    corpus = make_corpus(TABLE)
    with SearchIndex.create(tmp_path / "index") as index:
        report = index.update(corpus)
    assert report.corpus == str(corpus.resolve())
    assert report.index_dir == str(tmp_path / "index")
    assert report.errors == ()
    assert report.ok
    assert report.seconds >= 0


def test_update_creates_the_index_when_missing(make_corpus: MakeCorpus, tmp_path: Path) -> None:
    corpus = make_corpus(TABLE)
    report = update(tmp_path / "new" / "index", corpus)
    assert counts(report) == expect(added=len(TABLE), documents=len(TABLE))
    assert set(on_disk(tmp_path / "new" / "index")) == {i["id"] for i in TABLE}


def test_second_update_changes_nothing(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    before = on_disk(index_dir)
    assert counts(update(index_dir, corpus)) == expect(unchanged=len(TABLE), documents=len(TABLE))
    assert on_disk(index_dir) == before


def test_modified_file_is_updated(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    changed = {**TABLE[0], "title": "Chipmakers race to build quantum accelerators"}
    write_item(corpus, changed)
    assert counts(update(index_dir, corpus)) == expect(
        updated=1, unchanged=len(TABLE) - 1, documents=len(TABLE)
    )
    items = on_disk(index_dir)
    assert items[changed["id"]].title == changed["title"]
    with SearchIndex.open(index_dir) as index:
        assert [h.id for h in index.search("quantum").hits] == [changed["id"]]


def test_touched_file_is_unchanged(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    path = corpus / TABLE[1]["id"]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))
    before = on_disk(index_dir)
    files = sorted(p.relative_to(index_dir) for p in index_dir.rglob("*"))
    assert counts(update(index_dir, corpus)) == expect(unchanged=len(TABLE), documents=len(TABLE))
    assert on_disk(index_dir) == before
    # Nothing to commit: no file of the cancelled writer is left behind.
    assert sorted(p.relative_to(index_dir) for p in index_dir.rglob("*")) == files


def test_deleted_file_is_removed(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    gone = TABLE[2]
    (corpus / gone["id"]).unlink()
    assert counts(update(index_dir, corpus)) == expect(
        deleted=1, unchanged=len(TABLE) - 1, documents=len(TABLE) - 1
    )
    assert set(on_disk(index_dir)) == {i["id"] for i in TABLE} - {gone["id"]}
    with SearchIndex.open(index_dir) as index:
        assert gone["id"] not in {h.id for h in index.search(gone["title"], limit=100).hits}
        with pytest.raises(ItemNotFoundError):
            index.get(gone["id"])


def test_new_file_is_added(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    new = ITEMS[len(TABLE)]
    write_item(corpus, new)
    assert counts(update(index_dir, corpus)) == expect(
        added=1, unchanged=len(TABLE), documents=len(TABLE) + 1
    )
    assert on_disk(index_dir)[new["id"]].title == new["title"]


@pytest.mark.parametrize(("name", "content"), sorted(BROKEN.items()))
def test_broken_file_is_skipped_and_reported(built: tuple[Path, Path], name: str, content: str) -> None:
    corpus, index_dir = built
    (corpus / name).write_text(content, encoding="utf-8")
    report = update(index_dir, corpus)
    assert counts(report) == expect(unchanged=len(TABLE), skipped=1, documents=len(TABLE))
    assert not report.ok
    assert [e.path for e in report.errors] == [name]
    message = report.errors[0].message
    assert message and "\n" not in message
    assert set(on_disk(index_dir)) == {i["id"] for i in TABLE}


def test_broken_files_do_not_stop_a_first_build(
    make_corpus: MakeCorpus, tmp_path: Path, writers: str
) -> None:
    corpus = make_corpus(TABLE)
    for name, content in BROKEN.items():
        (corpus / "bad" / name).parent.mkdir(exist_ok=True)
        (corpus / "bad" / name).write_text(content, encoding="utf-8")
    report = update(tmp_path / "index", corpus)
    assert counts(report) == expect(added=len(TABLE), skipped=len(BROKEN), documents=len(TABLE))
    assert [e.path for e in report.errors] == sorted(f"bad/{name}" for name in BROKEN)
    yaml_error = next(e for e in report.errors if e.path == "bad/broken-yaml.md")
    assert "line" in yaml_error.message
    assert "title" in next(e for e in report.errors if e.path == "bad/no-title.md").message
    assert set(on_disk(tmp_path / "index")) == {i["id"] for i in TABLE}


def test_good_file_turned_broken_keeps_its_last_good_version(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    victim = TABLE[3]
    before = on_disk(index_dir)[victim["id"]]
    (corpus / victim["id"]).write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    report = update(index_dir, corpus)
    assert counts(report) == expect(unchanged=len(TABLE) - 1, skipped=1, documents=len(TABLE))
    assert [e.path for e in report.errors] == [victim["id"]]
    assert on_disk(index_dir)[victim["id"]] == before
    with SearchIndex.open(index_dir) as index:
        assert victim["id"] in {h.id for h in index.search(victim["title"]).hits}
    # Still broken: reported again, still kept.
    assert counts(update(index_dir, corpus))["skipped"] == 1
    assert on_disk(index_dir)[victim["id"]] == before
    # Fixed: updated with the new content.
    write_item(corpus, {**victim, "title": "Climate summit ends with a deal"})
    assert counts(update(index_dir, corpus)) == expect(
        updated=1, unchanged=len(TABLE) - 1, documents=len(TABLE)
    )
    assert on_disk(index_dir)[victim["id"]].title == "Climate summit ends with a deal"


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device", "seg.pst"),
        PermissionError(13, "Permission denied", "seg.pst", None, "seg.tmp"),  # a rename's
    ],
    ids=["full disk", "permission"],
)
def test_failing_writer_process_commits_nothing(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    """A writer process that fails (a full disk, say) fails the whole run with a clear error
    naming the file and the reason; the index keeps its last commit, and the next run does the
    work. The system's error, kind and file name, is the cause, from a writer process too."""
    corpus, index_dir = built
    before = on_disk(index_dir)
    new = ITEMS[len(TABLE)]
    write_item(corpus, new)
    write_item(corpus, {**TABLE[0], "title": "Chipmakers race to build quantum accelerators"})
    (corpus / TABLE[2]["id"]).unlink()
    real = indexer_module.item_document

    def failing(item: NewsItem, *args: Any) -> dict[str, Any]:
        if item.id == new["id"]:
            raise error
        return real(item, *args)

    monkeypatch.setattr(indexer_module, "item_document", failing)  # forked processes inherit it
    with pytest.raises(IndexWriteError) as raised:
        update(index_dir, corpus)
    assert str(raised.value) == f"cannot write seg.pst: {error.strerror}; the index keeps its last commit"
    cause = raised.value.__cause__
    assert type(cause) is type(error) and isinstance(cause, OSError)
    assert (cause.errno, cause.filename, cause.filename2) == (error.errno, "seg.pst", error.filename2)
    assert on_disk(index_dir) == before
    monkeypatch.setattr(indexer_module, "item_document", real)
    assert counts(update(index_dir, corpus)) == expect(
        added=1, updated=1, deleted=1, unchanged=len(TABLE) - 2, documents=len(TABLE)
    )
    assert on_disk(index_dir)[TABLE[0]["id"]].title.startswith("Chipmakers")


def test_writer_processes_leave_signals_to_the_indexer(
    make_corpus: MakeCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer process ignores Ctrl-C (the terminal sends it to the whole process group) and
    dies quietly of the SIGTERM the indexer sends when it cancels, whatever handlers the
    indexer set (`searchkit watch` raises KeyboardInterrupt on both): no traceback of its own."""
    skip_without_writer_processes()
    corpus = make_corpus(TABLE)
    monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    def report(item: NewsItem, *args: Any) -> dict[str, Any]:
        raise RuntimeError(
            f"SIGINT {signal.getsignal(signal.SIGINT)!r} SIGTERM {signal.getsignal(signal.SIGTERM)!r}"
        )

    monkeypatch.setattr(indexer_module, "item_document", report)
    saved = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SearchIndex.create(tmp_path / "index") as index, pytest.raises(IndexWriteError) as raised:
            index.update(corpus)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert f"SIGINT {signal.SIG_IGN!r} SIGTERM {signal.SIG_DFL!r}" in str(raised.value)


def die_indexing(monkeypatch: pytest.MonkeyPatch, ident: str) -> Any:
    """Make the process that indexes item ``ident`` exit with code 3; the real
    ``item_document``, to put back."""
    real = indexer_module.item_document

    def dying(item: NewsItem, *args: Any) -> dict[str, Any]:
        if item.id == ident:
            os._exit(3)
        return real(item, *args)

    monkeypatch.setattr(indexer_module, "item_document", dying)
    return real


def test_writer_process_that_dies_fails_the_run(
    make_corpus: MakeCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer process killed mid-run (out of memory, say) is noticed: the run fails with a
    clear error instead of waiting for it, and commits nothing."""
    skip_without_writer_processes()
    corpus = make_corpus(TABLE)
    monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)
    real = die_indexing(monkeypatch, TABLE[-1]["id"])
    with SearchIndex.create(tmp_path / "index") as index, pytest.raises(IndexWriteError, match="exit code 3"):
        index.update(corpus)
    assert on_disk(tmp_path / "index") == {}
    monkeypatch.setattr(indexer_module, "item_document", real)
    progress: list[tuple[int, int]] = []
    with SearchIndex(tmp_path / "index") as index:
        report = index.update(corpus, progress=lambda done, total: progress.append((done, total)))
    assert counts(report) == expect(added=len(TABLE), documents=len(TABLE))
    assert progress[0] == (0, len(TABLE)) and progress[-1] == (len(TABLE), len(TABLE))


def test_rebuild_gives_the_same_documents(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    before = on_disk(index_dir)
    with SearchIndex.open(index_dir) as index:
        report = index.rebuild(corpus)
    assert counts(report) == expect(added=len(TABLE), documents=len(TABLE))
    assert on_disk(index_dir) == before
    # A rebuild leaves one generation behind, not two.
    assert len([p for p in index_dir.iterdir() if p.name.startswith("gen-")]) == 1


def test_rebuild_follows_the_corpus(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    (corpus / TABLE[0]["id"]).unlink()
    write_item(corpus, ITEMS[-1])
    with SearchIndex.open(index_dir) as index:
        index.rebuild(corpus)
    assert set(on_disk(index_dir)) == {i["id"] for i in TABLE[1:]} | {ITEMS[-1]["id"]}


def test_rebuild_keeps_the_last_good_version_of_a_broken_file(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    victim = TABLE[3]
    before = on_disk(index_dir)[victim["id"]]
    (corpus / victim["id"]).write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    with SearchIndex.open(index_dir) as index:
        report = index.rebuild(corpus)
    # Reported as an update reports it, and kept as it was.
    assert counts(report) == expect(added=len(TABLE) - 1, skipped=1, documents=len(TABLE))
    assert [e.path for e in report.errors] == [victim["id"]]
    assert "line" in report.errors[0].message
    assert on_disk(index_dir)[victim["id"]] == before
    with SearchIndex.open(index_dir) as index:
        assert victim["id"] in {h.id for h in index.search(victim["title"]).hits}
    # The next update still finds it broken and keeps it; once fixed, it is updated.
    assert counts(update(index_dir, corpus)) == expect(
        unchanged=len(TABLE) - 1, skipped=1, documents=len(TABLE)
    )
    assert on_disk(index_dir)[victim["id"]] == before
    write_item(corpus, {**victim, "title": "Climate summit ends with a deal"})
    assert counts(update(index_dir, corpus))["updated"] == 1
    assert on_disk(index_dir)[victim["id"]].title == "Climate summit ends with a deal"


def test_rebuild_does_not_invent_a_broken_file_it_never_had(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    (corpus / "new-and-broken.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    with SearchIndex.open(index_dir) as index:
        report = index.rebuild(corpus)
    assert [e.path for e in report.errors] == ["new-and-broken.md"]
    assert set(on_disk(index_dir)) == {i["id"] for i in TABLE}


def programmatic(item_id: str, title: str) -> NewsItem:
    return NewsItem(
        id=item_id,
        title=title,
        url=f"https://example.org/{item_id}",
        excerpt="Handed in by a program.",
        topics=("Airships",),
        provider=Provider("API", "api.example"),
        quality=50,
        heat=3,
    )


def test_add_items_and_remove(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    item = programmatic("api/zeppelin", "Zeppelins return to the skies")
    with SearchIndex.open(index_dir) as index:
        report = index.add_items([item, programmatic("api/blimp", "A blimp over the stadium")])
    assert (report.added, report.updated, report.documents) == (2, 0, len(TABLE) + 2)
    items = on_disk(index_dir)
    assert items["api/zeppelin"] == item
    with SearchIndex.open(index_dir) as index:
        assert [h.id for h in index.search("zeppelins").hits] == ["api/zeppelin"]
        assert index.get("https://example.org/api/zeppelin") == item

    # Updating from the corpus leaves items that do not come from files alone.
    assert counts(update(index_dir, corpus)) == expect(unchanged=len(TABLE), documents=len(TABLE) + 2)
    assert "api/zeppelin" in on_disk(index_dir)

    # Same id again: replaced, not duplicated.
    replaced = programmatic("api/zeppelin", "Zeppelins grounded again")
    with SearchIndex.open(index_dir) as index:
        report = index.add_items([replaced])
    assert (report.added, report.updated, report.documents) == (0, 1, len(TABLE) + 2)
    assert on_disk(index_dir)["api/zeppelin"].title == "Zeppelins grounded again"

    with SearchIndex.open(index_dir) as index:
        assert index.remove(["api/zeppelin", "api/never-there", TABLE[0]["id"]]) == 2
    items = on_disk(index_dir)
    assert set(items) == {i["id"] for i in TABLE[1:]} | {"api/blimp"}


def test_add_items_creates_an_index(tmp_path: Path) -> None:
    with SearchIndex.create(tmp_path / "index") as index:
        index.add_items([programmatic("api/one", "One item")])
    assert set(on_disk(tmp_path / "index")) == {"api/one"}


def test_create_makes_an_empty_index(tmp_path: Path) -> None:
    SearchIndex.create(tmp_path / "index").close()
    with SearchIndex.open(tmp_path / "index") as index:
        assert index.search("").total == 0
        assert index.info().documents == 0
        assert index.info().oldest is None


def test_index_dir_with_only_a_gitignore_is_usable(make_corpus: MakeCorpus, tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / ".gitignore").write_text("*\n!.gitignore\n")
    assert update(tmp_path / "index", make_corpus(TABLE)).documents == len(TABLE)
    assert (tmp_path / "index" / ".gitignore").read_text() == "*\n!.gitignore\n"


@pytest.mark.parametrize(
    "action",
    [
        lambda path, corpus: SearchIndex.create(path),
        lambda path, corpus: SearchIndex(path).update(corpus),
        lambda path, corpus: SearchIndex(path).rebuild(corpus),
        lambda path, corpus: SearchIndex.open(path),
    ],
    ids=["create", "update", "rebuild", "open"],
)
def test_index_dir_holding_foreign_files_is_refused(
    make_corpus: MakeCorpus, tmp_path: Path, action: Callable[[Path, Path], Any]
) -> None:
    corpus = make_corpus(TABLE)
    foreign = tmp_path / "stuff"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(IndexCorruptError, match="stuff"):
        action(foreign, corpus)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    assert (foreign / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize(
    "make_path",
    [
        lambda tmp: tmp / "no-such-folder",
        lambda tmp: (tmp / "file.md").write_text("---\ntitle: x\n---\n") and tmp / "file.md",
    ],
    ids=["missing", "a file"],
)
def test_missing_corpus_raises_corpus_error(tmp_path: Path, make_path: Callable[[Path], Path]) -> None:
    corpus = make_path(tmp_path)
    with pytest.raises(CorpusError, match=str(corpus.name)):
        SearchIndex(tmp_path / "index").update(corpus)
    with pytest.raises(CorpusError):
        SearchIndex(tmp_path / "index").rebuild(corpus)


@pytest.mark.parametrize(
    "make_path",
    [
        lambda tmp: tmp / "nothing-here",
        lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
    ],
    ids=["missing dir", "empty dir"],
)
def test_opening_without_an_index_says_how_to_build_one(
    tmp_path: Path, make_path: Callable[[Path], Path]
) -> None:
    path = make_path(tmp_path)
    with pytest.raises(IndexNotFoundError, match="`searchkit index`"):
        SearchIndex.open(path)
    assert not SearchIndex(path).exists()


def test_hidden_files_and_other_suffixes_are_ignored(make_corpus: MakeCorpus, tmp_path: Path) -> None:
    corpus = make_corpus(TABLE)
    write_item(corpus, {**TABLE[0], "id": ".hidden.md"})
    write_item(corpus, {**TABLE[0], "id": ".git/inside.md"})
    write_item(corpus, {**TABLE[0], "id": "notes.json"})
    write_item(corpus, {**TABLE[0], "id": "deep/er/item.markdown"})
    report = update(tmp_path / "index", corpus)
    assert report.ok
    assert set(on_disk(tmp_path / "index")) == {i["id"] for i in TABLE} | {"deep/er/item.markdown"}


# -- Reuters ------------------------------------------------------------------------------

KNOWN_ITEMS = 20


def test_reuters_builds_without_skipping(
    reuters_index: tuple[IndexReport, Path], reuters_corpus: Path
) -> None:
    report, path = reuters_index
    files = list(reuters_corpus.glob("*.md"))
    assert len(files) == REUTERS_DOCUMENTS
    assert report.errors == ()
    assert report.skipped == 0
    assert report.added == report.documents == REUTERS_DOCUMENTS
    with SearchIndex.open(path) as index:
        assert index.info().documents == REUTERS_DOCUMENTS
        assert index.search("").total == REUTERS_DOCUMENTS


def reuters_title(path: Path) -> str:
    front = path.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
    return str(yaml.safe_load(front)["title"])


def test_reuters_known_item(reuters_index: tuple[IndexReport, Path], reuters_corpus: Path) -> None:
    """Searching an item's exact title puts that item first; when Reuters holds another item with
    the very same title (a re-sent story), that one may come first instead."""
    _report, path = reuters_index
    names = sorted(p.name for p in reuters_corpus.glob("*.md"))
    sample = random.Random(21578).sample(names, KNOWN_ITEMS)
    misses, same_title = [], []
    with SearchIndex.open(path) as index:
        for name in sample:
            title = reuters_title(reuters_corpus / name)
            top = index.search(title, limit=1).hits[0]
            if top.id == name:
                continue
            if top.title == title:
                same_title.append(name)
            else:
                misses.append((name, title, top.id, top.title))
    assert misses == []
    assert len(same_title) <= KNOWN_ITEMS // 4, same_title


def test_writer_processes_start_new_segments_when_memory_is_full(
    make_corpus: MakeCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer process whose postings outgrow ``SEGMENT_MEMORY`` writes a segment and starts
    another: the index holds every item once, as an index built in one segment does."""
    skip_without_writer_processes()
    corpus = make_corpus(ITEMS)
    with SearchIndex.create(tmp_path / "one") as index:
        index.update(corpus)
    monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(indexer_module, "JOB_BATCH", 2)
    monkeypatch.setattr(indexer_module, "SEGMENT_MEMORY", 1)
    with SearchIndex.create(tmp_path / "split") as index:
        report = index.update(corpus)
    assert counts(report) == expect(added=len(ITEMS), documents=len(ITEMS))
    gen = IndexLocation(tmp_path / "split").require()
    assert len(open_whoosh(gen)._segments()) > 2  # each batch of 2 files made a segment
    assert on_disk(tmp_path / "split") == on_disk(tmp_path / "one")
    for text in ("rates", "climate OR energy", '"central bank"'):
        with SearchIndex.open(tmp_path / "one") as one, SearchIndex.open(tmp_path / "split") as split:
            expected = [(hit.id, round(hit.score or 0, 6)) for hit in one.search(text).hits]
            assert expected == [(hit.id, round(hit.score or 0, 6)) for hit in split.search(text).hits]


def test_failed_run_leaves_no_segment_files(
    make_corpus: MakeCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments that writer processes finished before one of them died are in no TOC: the
    failed run removes their files."""
    skip_without_writer_processes()
    corpus = make_corpus(ITEMS)
    monkeypatch.setattr(indexer_module, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(indexer_module, "JOB_BATCH", 1)
    monkeypatch.setattr(indexer_module, "SEGMENT_MEMORY", 1)  # a segment per file
    die_indexing(monkeypatch, ITEMS[-1]["id"])
    with SearchIndex.create(tmp_path / "index") as index, pytest.raises(IndexWriteError, match="exit code 3"):
        index.update(corpus)
    gen = IndexLocation(tmp_path / "index").require()
    assert [name for name in os.listdir(gen) if re.match(r"MAIN_\w+\.", name)] == []
    assert on_disk(tmp_path / "index") == {}
