"""An unlucky or hostile corpus: folders and files that cannot be read, special files, symlinks,
names that are not UTF-8, numbers and dates out of range, control characters. Nothing already
indexed is lost, one bad file never stops a run, and every problem is reported by path."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_item

from searchkit import SearchIndex
from searchkit import documents as documents_module
from searchkit.documents import MAX_FILE_BYTES, read_item_bytes
from searchkit.errors import DocumentError

ITEMS = [
    {"id": "tech/chips.md", "title": "Chip makers expand", "excerpt": "New fabs open."},
    {"id": "tech/phones.md", "title": "Phone sales slow", "excerpt": "Fewer upgrades."},
    {"id": "world/summit.md", "title": "Leaders meet at the summit", "excerpt": "Talks go on."},
    {"id": "world/rain.md", "title": "Rain returns to the plains", "excerpt": "Farmers relieved."},
]
IDS = {item["id"] for item in ITEMS}
_DROP_OVERRIDE = [
    "setpriv",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
]


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """(corpus, index dir) with ITEMS indexed."""
    corpus = tmp_path / "corpus"
    for item in ITEMS:
        write_item(corpus, item)
    with SearchIndex.create(tmp_path / "index") as index:
        assert index.update(corpus).ok
    return corpus, tmp_path / "index"


def indexed(index_dir: Path) -> set[str]:
    with SearchIndex.open(index_dir) as index:
        return {hit.id for hit in index.search("", limit=1000).hits}


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """Runs ``python -m searchkit ARGS`` (or ``python -c CODE``) as a user whom file permissions
    bind: as root, without the capabilities that override them (``setpriv``)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is not installed: root reads any folder")
        locked = tmp_path / "locked"
        locked.write_text("", encoding="utf-8")
        locked.chmod(0o000)
        probe = subprocess.run([*_DROP_OVERRIDE, "test", "-r", str(locked)], check=False)
        if probe.returncode == 0:
            pytest.skip("setpriv could not drop root's permission override on this machine")
        prefix = _DROP_OVERRIDE
    restore: list[Path] = []

    def run(*args: Any, code: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = ["-c", code] if code is not None else ["-m", "searchkit", *map(str, args)]
        return subprocess.run(
            [*prefix, sys.executable, *argv], capture_output=True, text=True, timeout=120, check=False
        )

    run.restore = restore  # type: ignore[attr-defined]
    yield run
    for path in restore:
        path.chmod(0o755)


def lock_out(run: Any, path: Path, mode: int) -> None:
    path.chmod(mode)
    run.restore.append(path)


def test_an_unreadable_folder_keeps_its_items_and_is_reported(
    built: tuple[Path, Path], unprivileged: Any
) -> None:
    corpus, index_dir = built
    lock_out(unprivileged, corpus / "tech", 0o000)
    done = unprivileged("index", corpus, "--index-dir", index_dir)
    assert done.returncode == 1, done.stderr
    assert "0 deleted" in done.stdout
    assert re.search(r"tech/: cannot read folder: Permission denied", done.stderr)
    assert "Traceback" not in done.stderr
    assert indexed(index_dir) == IDS
    # Readable again, and a file really gone: only then is its item deleted.
    (corpus / "tech").chmod(0o755)
    (corpus / "tech" / "chips.md").unlink()
    with SearchIndex.open(index_dir) as index:
        report = index.update(corpus)
    assert (report.deleted, report.ok) == (1, True)
    assert indexed(index_dir) == IDS - {"tech/chips.md"}


def test_the_api_keeps_an_unreadable_folders_items_too(built: tuple[Path, Path], unprivileged: Any) -> None:
    corpus, index_dir = built
    lock_out(unprivileged, corpus / "world", 0o000)
    code = (
        "import json, searchkit\n"
        f"index = searchkit.SearchIndex.open({str(index_dir)!r})\n"
        f"print(json.dumps(index.update({str(corpus)!r}).to_dict()))\n"
    )
    done = unprivileged(code=code)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["deleted"] == 0
    assert [e["path"] for e in report["errors"]] == ["world/"]
    assert indexed(index_dir) == IDS


def test_a_corpus_root_that_can_be_listed_but_not_entered_deletes_nothing(
    built: tuple[Path, Path], unprivileged: Any
) -> None:
    corpus, index_dir = built
    lock_out(unprivileged, corpus, 0o644)
    done = unprivileged("index", corpus, "--index-dir", index_dir, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["deleted"] == 0 and report["documents"] == len(ITEMS)
    assert {e["path"] for e in report["errors"]} == {"tech/", "world/"}
    assert indexed(index_dir) == IDS


def test_a_corpus_root_that_cannot_be_listed_is_an_error_and_changes_nothing(
    built: tuple[Path, Path], unprivileged: Any
) -> None:
    corpus, index_dir = built
    lock_out(unprivileged, corpus, 0o000)
    done = unprivileged("index", corpus, "--index-dir", index_dir)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: cannot read corpus folder") and "nothing was changed" in line
    assert indexed(index_dir) == IDS


def test_a_rebuild_keeps_an_unreadable_folders_items(built: tuple[Path, Path], unprivileged: Any) -> None:
    corpus, index_dir = built
    lock_out(unprivileged, corpus / "tech", 0o000)
    done = unprivileged("index", corpus, "--index-dir", index_dir, "--rebuild")
    assert done.returncode == 1, done.stderr
    assert indexed(index_dir) == IDS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("heat", "1e308"),
        ("heat", "123456789012345678901234567890"),
        ("quality", "-5000000000"),
        ("quality", "2147483648"),
    ],
)
def test_a_number_out_of_range_is_one_files_error(tmp_path: Path, field: str, value: str) -> None:
    corpus = tmp_path / "corpus"
    for item in ITEMS:
        write_item(corpus, item)
    (corpus / "big.md").write_text(f"---\ntitle: Big numbers\n{field}: {value}\n---\n", encoding="utf-8")
    with SearchIndex.create(tmp_path / "index") as index:
        report = index.update(corpus)
    assert [e.path for e in report.errors] == ["big.md"]
    assert f"field '{field}': expected an integer from -2147483648 to 2147483647" in report.errors[0].message
    assert indexed(tmp_path / "index") == IDS


def test_the_limits_themselves_are_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_item(corpus, {"id": "edge.md", "title": "Edges", "heat": -(2**31), "quality": 2**31 - 1})
    with SearchIndex.create(tmp_path / "index") as index:
        assert index.update(corpus).ok
        item = index.get("edge.md")
    assert (item.heat, item.quality) == (-(2**31), 2**31 - 1)


def test_a_file_name_that_is_not_utf8_is_reported_escaped(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    bad = os.path.join(os.fsencode(corpus), b"bad\xff\xfe.md")
    with open(bad, "wb") as handle:
        handle.write(b"---\ntitle: A name of bytes\n---\n")
    result = run_cli("index", corpus, "--index-dir", index_dir, "--json")
    assert result.code == 1
    errors = result.json["errors"]
    assert [e["path"] for e in errors] == ["bad\\xff\\xfe.md"]
    assert "not valid UTF-8" in errors[0]["message"]
    assert indexed(index_dir) == IDS
    text = run_cli("index", corpus, "--index-dir", index_dir)
    assert "bad\\xff\\xfe.md: file name is not valid UTF-8" in text.stderr


def test_special_files_are_never_read(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    os.mkfifo(corpus / "pipe.md")
    (corpus / "zero.md").symlink_to("/dev/zero")
    # In a child process with a time limit: a FIFO opened for reading waits for a writer.
    done = subprocess.run(
        [sys.executable, "-m", "searchkit", "index", str(corpus), "--index-dir", str(index_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    errors = {e["path"]: e["message"] for e in json.loads(done.stdout)["errors"]}
    assert errors["pipe.md"] == "not a regular file (FIFO): not read"
    assert errors["zero.md"].startswith("symlink to a file outside the corpus: not followed")
    assert indexed(index_dir) == IDS


def test_symlinks_follow_a_documented_rule(built: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index_dir = built
    outside = tmp_path / "outside.md"
    outside.write_text("---\ntitle: Outside the corpus\n---\n", encoding="utf-8")
    (corpus / "inside-link.md").symlink_to(corpus / "world" / "rain.md")
    (corpus / "outside-link.md").symlink_to(outside)
    (corpus / "loop-a.md").symlink_to(corpus / "loop-b.md")
    (corpus / "loop-b.md").symlink_to(corpus / "loop-a.md")
    (corpus / "dangling.md").symlink_to(corpus / "missing.md")
    with SearchIndex.open(index_dir) as index:
        report = index.update(corpus)
    errors = {e.path: e.message for e in report.errors}
    assert set(errors) == {"outside-link.md", "loop-a.md", "loop-b.md", "dangling.md"}
    assert errors["loop-a.md"] == "symlink loop: not read"
    assert errors["dangling.md"].startswith("symlink to nothing")
    assert indexed(index_dir) == IDS | {"inside-link.md"}


def test_a_large_file_is_refused_without_being_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.md"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    read: list[int] = []
    real_read = os.read

    def counting(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(documents_module.os, "read", counting)
    with pytest.raises(DocumentError, match="larger than the 5 MiB limit"):
        read_item_bytes(big, "big.md")
    assert sum(read) <= MAX_FILE_BYTES + 1


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00+14:00"])
def test_a_date_out_of_range_after_conversion_says_so(tmp_path: Path, value: str) -> None:
    corpus = tmp_path / "corpus"
    (corpus).mkdir()
    (corpus / "edge.md").write_text(f"---\ntitle: Edge\npublishedDateTime: {value}\n---\n", encoding="utf-8")
    with SearchIndex.create(tmp_path / "index") as index:
        report = index.update(corpus)
    [error] = report.errors
    assert "out of range once converted to UTC" in error.message
    assert "datetime.datetime" not in error.message


def test_the_skip_report_passes_no_control_characters(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil\x1b[2J\x1b]0;owned\x07.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    result = run_cli("index", corpus, "--index-dir", tmp_path / "index")
    assert result.code == 1
    assert "evil" in result.stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stdout + result.stderr)


def test_a_nul_after_the_first_8_kib_never_reaches_the_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "x " * 5000 + "\x00 hidden \x1b[2J"
    (corpus / "nul.md").write_text(f"---\ntitle: Late NUL\n---\n{body}\n", encoding="utf-8")
    assert run_cli("index", corpus, "--index-dir", tmp_path / "index").code == 0
    shown = run_cli("show", "nul.md", "--index-dir", tmp_path / "index")
    assert shown.code == 0 and "hidden" in shown.stdout
    assert "\x00" not in shown.stdout and "\x1b" not in shown.stdout
    data = run_cli("show", "nul.md", "--index-dir", tmp_path / "index", "--json").json
    assert "\x00 hidden" in data["body"]  # JSON keeps the data


# -- disks ----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mounts a tmpfs of a given size (KiB) under ``tmp_path``: a disk that fills up."""
    mounted: list[Path] = []

    def mount(kib: int) -> Path:
        point = tmp_path / f"disk-{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def many_items(corpus: Path, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        write_item(
            corpus,
            {
                "id": f"bulk/item-{n:04d}.md",
                "title": f"Bulk item {n} on markets",
                "excerpt": "Prices moved. " * 20,
                "body": f"Words {n} " * 300,
            },
        )


def test_a_first_build_on_a_full_disk_leaves_no_index(tmp_path: Path, small_disk: Any) -> None:
    corpus = tmp_path / "corpus"
    many_items(corpus, 60)
    index_dir = small_disk(128) / "index"
    result = run_cli("index", corpus, "--index-dir", index_dir)
    assert result.code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: cannot write") and "No space left on device" in line
    assert "Traceback" not in result.stdout + result.stderr
    searched = run_cli("search", "bulk", "--index-dir", index_dir)
    assert searched.code == 1 and "no index at" in searched.stderr
    assert {p.name for p in index_dir.iterdir()} <= {"LOCK"}


def test_an_update_on_a_full_disk_keeps_the_last_commit(tmp_path: Path, small_disk: Any) -> None:
    corpus = tmp_path / "corpus"
    for item in ITEMS:
        write_item(corpus, item)
    index_dir = small_disk(256) / "index"
    assert run_cli("index", corpus, "--index-dir", index_dir).code == 0
    used = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    many_items(corpus, 400)
    result = run_cli("index", corpus, "--index-dir", index_dir, "--json")
    assert result.code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: cannot write") and "No space left on device" in line
    assert indexed(index_dir) == IDS  # the last commit, served
    # The run's partial files are gone: the disk is as full as before it.
    assert sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) <= used * 2
    # With room again (fewer new files), the next run completes.
    for path in sorted((corpus / "bulk").iterdir())[5:]:
        path.unlink()
    assert run_cli("index", corpus, "--index-dir", index_dir).code == 0
    assert len(indexed(index_dir)) == len(ITEMS) + 5


def test_a_read_only_index_gives_one_line_and_still_serves(
    built: tuple[Path, Path], unprivileged: Any
) -> None:
    corpus, index_dir = built
    write_item(corpus, {"id": "new.md", "title": "A new item arrives"})
    for gen in index_dir.glob("gen-*"):
        lock_out(unprivileged, gen, 0o555)
    lock_out(unprivileged, index_dir, 0o555)
    done = unprivileged("index", corpus, "--index-dir", index_dir)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: cannot write") and "Permission denied" in line
    assert "the index keeps its last commit" in line
    searched = unprivileged("search", "summit", "--index-dir", index_dir)
    assert searched.returncode == 0 and "Leaders meet at the summit" in searched.stdout


# -- the writers' lock ----------------------------------------------------------------------


def test_deleting_the_lock_file_under_a_writer_does_not_let_a_second_one_in(built: tuple[Path, Path]) -> None:
    from searchkit.store import LOCK, IndexLocation

    corpus, index_dir = built
    write_item(corpus, {"id": "late.md", "title": "A late item"})
    with IndexLocation(index_dir).lock():
        (index_dir / LOCK).unlink()  # a user tidying up
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "searchkit",
                "index",
                str(corpus),
                "--index-dir",
                str(index_dir),
                "--lock-timeout",
                "0.5",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        [line] = done.stderr.splitlines()
        assert line.startswith("Error: the index is locked by another writer")
        rebuild = subprocess.run(
            [
                sys.executable,
                "-m",
                "searchkit",
                "index",
                str(corpus),
                "--index-dir",
                str(index_dir),
                "--rebuild",
                "--lock-timeout",
                "0.5",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert rebuild.returncode == 1 and "locked by another writer" in rebuild.stderr
        assert "Traceback" not in done.stderr + rebuild.stderr
        # The generation the lock holder works on is still there.
        assert indexed(index_dir) == IDS
    with SearchIndex.open(index_dir) as index:
        assert index.update(corpus).added == 1
