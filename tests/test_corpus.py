"""Walking the corpus (searchkit/corpus.py): which files a scan finds, in which order, with which
size and time, and every problem it reports, on one folder holding each kind of entry."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from searchkit import corpus as corpus_module
from searchkit.corpus import CorpusProblem, ScannedFile, corpus_files, scan
from searchkit.errors import CorpusError

OUTSIDE = "symlink to a file outside the corpus: not followed (copy the file into the corpus)"


def make_tree(tmp_path: Path) -> Path:
    """A corpus of regular files, symlinks of every kind, special files, hidden entries, names
    that are not UTF-8 and nested folders, created in an order unlike the walk's."""
    root = tmp_path / "corpus"
    for name in ["zz/last.md", "sub/deeper/note.TXT", "sub/item.md", "dir.md/inner.md", "a_dir/x.markdown"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
    for name, text in [
        ("z.md", "zzz"),
        ("b.md", "b"),
        ("A.MD", "capital"),
        ("a.txt", "a text"),
        ("c.Markdown", "mixed case"),
        ("x.md.bak", "not an item"),
        ("notes.rst", "not an item"),
        ("README", "not an item"),
        ("markdown", "not an item"),
        (".hidden.md", "hidden"),
        ("sub/item.md", "sub item"),
        ("sub/.draft.md", "hidden"),
        ("sub/deeper/note.TXT", "deeper"),
        ("zz/last.md", "last"),
        ("dir.md/inner.md", "a folder named like a file"),
        ("a_dir/x.markdown", "x"),
    ]:
        (root / name).write_text(text, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.md").write_text("hidden folder", encoding="utf-8")
    outside = tmp_path / "outside.md"
    outside.write_text("outside", encoding="utf-8")
    (root / "link-in.md").symlink_to(root / "sub" / "item.md")
    (root / "link-out.md").symlink_to(outside)
    (root / "loop-a.md").symlink_to(root / "loop-b.md")
    (root / "loop-b.md").symlink_to(root / "loop-a.md")
    (root / "dangling.md").symlink_to(root / "missing.md")
    (root / "folder-link.md").symlink_to(root / "sub", target_is_directory=True)
    (root / "alias").symlink_to(root / "sub", target_is_directory=True)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    os.mkfifo(root / "pipe.md")
    os.mkfifo(root / "pipe.rst")
    with open(os.path.join(os.fsencode(root), b"bad\xff.md"), "wb") as handle:
        handle.write(b"bytes")
    os.mkdir(os.path.join(os.fsencode(root), b"folder\xfe"))
    with open(os.path.join(os.fsencode(root), b"folder\xfe", b"in.md"), "wb") as handle:
        handle.write(b"in a folder of bytes")
    return root


def scanned(root: Path, ident: str) -> ScannedFile:
    info = os.stat(root / ident)
    return ScannedFile(ident, str(root / ident), info.st_size, info.st_mtime_ns)


def test_a_scan_finds_each_item_file_in_walk_order_and_reports_the_rest(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    files, problems = scan(root)
    # Written down independently: each folder's files in code-point order, then its folders.
    order = [
        "A.MD",
        "a.txt",
        "b.md",
        "c.Markdown",
        "z.md",
        "a_dir/x.markdown",
        "dir.md/inner.md",
        "sub/item.md",
        "sub/deeper/note.TXT",
        "zz/last.md",
    ]
    expected = [scanned(root, ident) for ident in order]
    expected.insert(4, ScannedFile("link-in.md", str(root / "link-in.md"), *stat_of(root / "sub/item.md")))
    assert files == expected
    assert problems == [
        CorpusProblem("bad\\xff.md", "file name is not valid UTF-8; rename the file"),
        CorpusProblem("dangling.md", "symlink to nothing (its target does not exist): not read"),
        CorpusProblem("folder-link.md", "symlink to a folder: not read"),
        CorpusProblem("folder\\xfe/", "folder name is not valid UTF-8; rename it to index its files", True),
        CorpusProblem("link-out.md", OUTSIDE),
        CorpusProblem("loop-a.md", "symlink loop: not read"),
        CorpusProblem("loop-b.md", "symlink loop: not read"),
        CorpusProblem("pipe.md", "not a regular file (FIFO): not read"),
    ]
    assert list(corpus_files(root)) == [(file.id, file.path) for file in files]
    assert scan(root) == (files, problems)  # stable across calls


def stat_of(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def test_a_socket_is_reported_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "item.md").write_text("item", encoding="utf-8")
    monkeypatch.chdir(root)  # a socket's path must be short: bound by its name
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock.md")
        files, problems = scan(root)
    assert [file.id for file in files] == ["item.md"]
    assert problems == [CorpusProblem("sock.md", "not a regular file (socket): not read")]


def test_a_folder_that_cannot_be_listed_is_reported_after_the_files_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "c"
    for name in ["a/item.md", "b/item.md", "c/item.md", "top.md"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name, encoding="utf-8")
    os.mkfifo(root / "c" / "pipe.md")
    listing = os.scandir
    locked = str(root / "b")

    def scandir(path: str) -> object:
        if path == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return listing(path)

    monkeypatch.setattr(corpus_module.os, "scandir", scandir)
    files, problems = scan(root)
    assert [file.id for file in files] == ["top.md", "a/item.md", "c/item.md"]
    assert problems == [
        CorpusProblem(
            "b/",
            "cannot read folder: Permission denied; the items indexed from it are kept as they were",
            folder=True,
        ),
        CorpusProblem("c/pipe.md", "not a regular file (FIFO): not read"),
    ]
    locked = str(root)
    with pytest.raises(CorpusError) as caught:
        scan(root)
    assert str(caught.value) == f"cannot read corpus folder {root}: Permission denied; nothing was changed"


def test_an_empty_corpus_has_no_files_and_no_problems(tmp_path: Path) -> None:
    assert scan(tmp_path) == ([], [])
