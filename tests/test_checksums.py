"""Corruption is detected, not served: checksums recorded with each commit, verified on open,
by ``searchkit check``, before merges, and when a read fails inside Whoosh.

Each test damages one file of an index the way a bad disk or a stray write would (a flipped
bit, a zeroed block, a truncation, a deleted file) and asserts what a user sees: an error
naming the damaged file and saying how to repair it, never a library traceback or a wrong
answer; and that ``--rebuild`` repairs it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ITEMS, build_index, write_corpus, write_item

from searchkit import IndexCorruptError, SearchIndex, checksums, cli
from searchkit.store import IndexLocation


def live_generation(index_dir: Path) -> Path:
    gen = IndexLocation(index_dir).current()
    assert gen is not None
    return gen


def index_file(index_dir: Path, suffix: str) -> Path:
    """The live commit's one file whose name ends with ``suffix``."""
    found = sorted(p for p in live_generation(index_dir).iterdir() if p.name.endswith(suffix))
    assert len(found) == 1, found
    return found[0]


def flip_bit(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x10
    path.write_bytes(bytes(data))


def zero_block(path: Path, start: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    data[start : start + length] = bytes(min(length, len(data) - start))
    path.write_bytes(bytes(data))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", ITEMS)


@pytest.fixture
def fresh_index(corpus: Path, tmp_path: Path) -> Path:
    return build_index(corpus, tmp_path / "index")


def run_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """The console script as a user runs it (``main`` turns searchkit's errors into one line)."""
    monkeypatch.setattr("sys.argv", ["searchkit", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- recording and a sound index --------------------------------------------------------------


def test_every_commit_records_the_size_and_crc_of_each_of_its_files(fresh_index: Path) -> None:
    gen = live_generation(fresh_index)
    tocs = sorted(gen.glob("_MAIN_*.toc"))
    assert len(tocs) == 1
    generation = checksums.toc_generation(tocs[0].name)
    assert generation is not None
    table = json.loads((gen / checksums.sums_name(generation)).read_text())["files"]
    segment_files = {p.name for p in gen.iterdir() if p.name.startswith("MAIN_") and "." in p.name}
    # With the stories and the band keys kept beside the TOC (searchkit/stories.py).
    kept = {checksums.companion_name(generation, suffix) for suffix in ("stories", "bands")}
    assert set(table) == segment_files | {tocs[0].name} | kept
    for name, (size, crc) in table.items():
        assert (gen / name).stat().st_size == size
        assert checksums.crc32_file(gen / name) == crc
    assert json.loads((gen / "searchkit.json").read_text())["checksums"] is True


def test_check_of_a_sound_index_passes(
    fresh_index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = SearchIndex(fresh_index).check()
    assert report.ok and report.damaged == ()
    # Segment files, the TOC and the stories and band keys kept with it.
    assert report.files == len(list(live_generation(fresh_index).glob("MAIN_*.*"))) + 3
    assert report.bytes > 0 and report.commit >= 1
    code, out, err = run_main(capsys, monkeypatch, "check", "--index-dir", str(fresh_index))
    assert code == 0, err
    assert "OK: every file matches" in out
    code, out, _ = run_main(capsys, monkeypatch, "check", "--index-dir", str(fresh_index), "--json")
    assert code == 0 and json.loads(out)["damaged"] == []


def test_tables_of_old_commits_are_removed(fresh_index: Path, corpus: Path) -> None:
    for n in range(3):
        write_item(corpus, {"id": f"extra/{n}.md", "title": f"Extra item {n}"})
        SearchIndex(fresh_index).update(corpus)
    gen = live_generation(fresh_index)
    commits = sorted(checksums.toc_generation(p.name) or 0 for p in gen.glob("_MAIN_*.toc"))
    sums = sorted(int(p.name.split("_")[2].split(".")[0]) for p in gen.glob("_MAIN_*.sums"))
    # The live commit's table and the previous one's (a reader may be verifying against it).
    assert sums == [commits[-1] - 1, commits[-1]]
    assert SearchIndex(fresh_index).check().ok


# -- damage found on open -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix",
    [
        ".published_at.col",
        ".quality.col",
        ".id.col",
        "._stored.col",
        ".pst",
        ".trm",
        ".manifest.col",
        "._title_len.col",
    ],
)
def test_a_flipped_bit_in_any_file_is_found_by_check_and_on_open(
    fresh_index: Path, suffix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = index_file(fresh_index, suffix)
    flip_bit(damaged, damaged.stat().st_size // 2)

    report = SearchIndex(fresh_index).check()
    assert not report.ok
    assert [d.path for d in report.damaged] == [str(damaged)]
    assert report.damaged[0].problem == "checksum mismatch"
    code, out, err = run_main(capsys, monkeypatch, "check", "--index-dir", str(fresh_index))
    assert code == 1
    assert f"damaged:  {damaged}: checksum mismatch" in out
    assert err.strip() == "Error: the index is damaged (1 problem); run `searchkit index --rebuild`"

    # Every file of the test index is small, so opening it verifies it whole: no wrong answer.
    for args in (["search", "climate"], ["search", "climate", "--sort", "newest"], ["show", ITEMS[0]["id"]]):
        code, out, err = run_main(capsys, monkeypatch, *args, "--index-dir", str(fresh_index))
        assert code == 1, (args, out)
        assert err.strip() == (
            f"Error: index file {damaged} is damaged (checksum mismatch); run `searchkit index --rebuild`"
        )
        assert out == ""


def test_the_issues_flipped_date_no_longer_gives_wrong_answers(fresh_index: Path) -> None:
    """A flipped bit in published_at.col sorted a 2020 item first under --sort newest, matched
    --since 2025-01-01 and made the year facet show 2091."""
    damaged = index_file(fresh_index, ".published_at.col")
    flip_bit(damaged, 7)
    with pytest.raises(IndexCorruptError, match=r"published_at\.col is damaged \(checksum mismatch\)"):
        SearchIndex.open(fresh_index).search("", sort="newest", since="2025-01-01", facets=["year"])


def test_a_truncated_file_is_found_on_open_by_its_size(fresh_index: Path, corpus: Path) -> None:
    damaged = index_file(fresh_index, ".pst")
    size = damaged.stat().st_size
    with open(damaged, "r+b") as handle:
        handle.truncate(size - 100)
    message = rf"\.pst is damaged \({size - 100} bytes, the commit recorded {size}\)"
    with pytest.raises(IndexCorruptError, match=message):
        SearchIndex.open(fresh_index).search('"facial recognition"')
    # The next update refuses too, and changes nothing.
    before = sorted(p.name for p in live_generation(fresh_index).iterdir())
    with pytest.raises(IndexCorruptError, match=message):
        SearchIndex(fresh_index).update(corpus)
    assert sorted(p.name for p in live_generation(fresh_index).iterdir()) == before


@pytest.mark.parametrize("victim", ["segment", "table", "toc"])
def test_a_missing_file_is_damage(fresh_index: Path, victim: str) -> None:
    gen = live_generation(fresh_index)
    toc = max(gen.glob("_MAIN_*.toc"))
    generation = checksums.toc_generation(toc.name)
    assert generation is not None
    path = {
        "segment": index_file(fresh_index, ".heat.col"),
        "table": gen / checksums.sums_name(generation),
        "toc": toc,
    }[victim]
    path.unlink()
    report = SearchIndex(fresh_index).check()
    assert not report.ok
    assert any(d.path == str(path) or (victim == "toc" and "_MAIN_" in d.path) for d in report.damaged), (
        report
    )
    with pytest.raises(IndexCorruptError):
        SearchIndex.open(fresh_index).search("climate")


def test_a_damaged_table_of_checksums_is_damage(fresh_index: Path) -> None:
    gen = live_generation(fresh_index)
    table = max(gen.glob("_MAIN_*.sums"))
    table.write_text('{"files": ')
    with pytest.raises(IndexCorruptError, match=r"\.sums is damaged"):
        SearchIndex.open(fresh_index).search("climate")
    assert not SearchIndex(fresh_index).check().ok


def test_damaged_current_is_reported_by_check(fresh_index: Path) -> None:
    (fresh_index / "CURRENT").write_text("gen-999999\n")
    report = SearchIndex(fresh_index).check()
    assert not report.ok and "missing generation" in report.damaged[0].problem


# -- damage found by a read ---------------------------------------------------------------------


def test_a_read_that_fails_inside_whoosh_names_the_damaged_file(
    fresh_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files (postings, terms, stored items of a real archive) are verified by size on
    open; damage inside them surfaces on the read that trips on it, as searchkit's error."""
    monkeypatch.setattr(checksums, "CHEAP_LIMIT", 0)  # every file counts as large
    stored = index_file(fresh_index, "._stored.col")
    zero_block(stored, 0, stored.stat().st_size - 64)
    index = SearchIndex.open(fresh_index)  # opens: sizes are right
    with pytest.raises(IndexCorruptError, match=r"_stored\.col is damaged \(checksum mismatch\)"):
        for item in ITEMS:
            index.get(item["id"])
    with pytest.raises(IndexCorruptError, match=r"_stored\.col is damaged"):
        index.search("climate")


def test_a_read_failure_that_is_not_damage_is_not_blamed_on_a_file(
    fresh_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = SearchIndex.open(fresh_index)

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug, not damage")

    monkeypatch.setattr("searchkit.search.stored_item", broken)
    with pytest.raises(ZeroDivisionError):
        index.get(ITEMS[0]["id"])


# -- writers -------------------------------------------------------------------------------------


def segments_of(index_dir: Path) -> set[str]:
    return {p.name.split(".")[0] for p in live_generation(index_dir).glob("MAIN_*.*")}


def test_an_update_never_merges_a_damaged_segment_into_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lucene verifies whole files before merging them; so does searchkit. Without it the
    damage would be copied into a new segment with fresh checksums and never found again."""
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:1])
    index_dir = build_index(corpus, tmp_path / "index")
    for n in range(12):  # small segments, until the next commit merges them (MERGE_SMALL)
        write_item(corpus, {"id": f"extra/{n}.md", "title": f"Extra item {n}"})
        probe = tmp_path / f"probe{n}"
        shutil.copytree(index_dir, probe)
        before = segments_of(probe)
        SearchIndex(probe).update(corpus)
        if not before <= segments_of(probe):
            break  # the update about to run on index_dir merges segments
        SearchIndex(index_dir).update(corpus)
    else:
        pytest.fail("precondition: no update merged segments")

    monkeypatch.setattr(checksums, "CHEAP_LIMIT", 0)  # not seen on open: only by the merge
    for stored in live_generation(index_dir).glob("MAIN_*._stored.col"):
        flip_bit(stored, stored.stat().st_size // 2)
    names = sorted(p.name for p in live_generation(index_dir).iterdir())
    with pytest.raises(IndexCorruptError, match=r"_stored\.col is damaged \(checksum mismatch\)"):
        SearchIndex(index_dir).update(corpus)
    assert sorted(p.name for p in live_generation(index_dir).iterdir()) == names


def test_rebuild_repairs_a_damaged_index(
    fresh_index: Path, corpus: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = index_file(fresh_index, ".pst")
    zero_block(damaged, 0, 4096)
    code, _, err = run_main(capsys, monkeypatch, "index", str(corpus), "--index-dir", str(fresh_index))
    assert code == 1 and "is damaged" in err
    code, _, err = run_main(
        capsys, monkeypatch, "index", str(corpus), "--rebuild", "--index-dir", str(fresh_index)
    )
    assert code == 0, err
    assert SearchIndex(fresh_index).check().ok
    results = SearchIndex.open(fresh_index).search("", limit=100)
    assert results.total == len(ITEMS)


def test_rebuild_with_a_broken_file_carries_nothing_from_a_damaged_index(
    fresh_index: Path, corpus: Path
) -> None:
    """A broken file keeps its last good version through a rebuild, but not from an index
    whose files are damaged: the file is reported as broken, and the new index is sound."""
    (corpus / ITEMS[0]["id"]).write_text("---\ntitle: [unclosed\n---\n")
    flip_bit(index_file(fresh_index, "._stored.col"), 10)
    report = SearchIndex(fresh_index).rebuild(corpus)
    assert [e.path for e in report.errors] == [ITEMS[0]["id"]]
    assert report.documents == len(ITEMS) - 1
    assert SearchIndex(fresh_index).check().ok


def test_an_index_written_before_checksums_is_read_and_check_says_so(fresh_index: Path) -> None:
    gen = live_generation(fresh_index)
    for table in gen.glob("_MAIN_*.sums"):
        table.unlink()
    meta = json.loads((gen / "searchkit.json").read_text())
    del meta["checksums"]
    (gen / "searchkit.json").write_text(json.dumps(meta))
    assert SearchIndex.open(fresh_index).search("climate").total > 0
    report = SearchIndex(fresh_index).check()
    assert not report.ok
    assert "records no checksums" in report.damaged[0].problem


def test_check_of_a_missing_index_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_main(capsys, monkeypatch, "check", "--index-dir", str(tmp_path / "nothing"))
    assert code == 1 and out == ""
    assert err.startswith("Error: no index at") and err.count("\n") == 1


def test_check_names_damage_in_a_large_file_of_the_reuters_index(
    reuters_index: tuple[object, Path], tmp_path: Path
) -> None:
    _report, source = reuters_index
    copy = tmp_path / "index"
    shutil.copytree(source, copy)
    postings = max(live_generation(copy).glob("MAIN_*.pst"), key=lambda p: p.stat().st_size)
    assert postings.stat().st_size > checksums.CHEAP_LIMIT
    flip_bit(postings, postings.stat().st_size // 3)
    report = SearchIndex(copy).check()
    assert [d.path for d in report.damaged] == [str(postings)]
    # Every file of the commit: its TOC, segment files, stories and band keys (the previous
    # commit's left).
    kept = {checksums.toc_name(report.commit)}
    kept |= {checksums.companion_name(report.commit, suffix) for suffix in ("stories", "bands")}
    assert report.bytes == sum(
        p.stat().st_size
        for p in live_generation(copy).glob("*MAIN_*.*")
        if p.name.startswith("MAIN_") or p.name in kept
    )
