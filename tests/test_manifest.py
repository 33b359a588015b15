"""The manifest (searchkit/manifest.py): entries decoded as they were written, and read back for
every live item of an index whose segments hold deleted and replaced items."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from pathlib import Path

import pytest
from conftest import write_item

from searchkit import SearchIndex
from searchkit.manifest import ORIGIN_FILE, Recorded, read_manifest
from searchkit.store import IndexLocation, open_whoosh

SHA = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    "record",
    [
        Recorded(10, 20, SHA, "file", 30, 40),
        Recorded(0, 0, SHA, "api", 1, 1),
        Recorded(2**40, 2**62, "abc", "file", 0, 0),
    ],
)
def test_a_decoded_entry_is_the_entry_encoded(record: Recorded) -> None:
    decoded = Recorded.decode(record.encode().encode("utf-8"))
    assert decoded == record
    assert repr(decoded) == repr(record)
    assert hash(decoded) == hash(record)
    assert vars(decoded) == vars(record) and list(vars(decoded)) == list(vars(record))
    assert type(decoded) is Recorded
    assert pickle.loads(pickle.dumps(decoded)) == record
    assert dataclasses.replace(decoded, first=5) == dataclasses.replace(record, first=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.size = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"10 20 abc file", Recorded(10, 20, "abc", "file", 0, 0)),  # before index times
        (b"10 20 abc file 5", Recorded(10, 20, "abc", "file", 0, 0)),
        (b"10 20 abc file 5 6 7", Recorded(10, 20, "abc", "file", 0, 0)),
        (b"10 20 abc file 5 6", Recorded(10, 20, "abc", "file", 5, 6)),
    ],
)
def test_entries_of_other_shapes_read_as_they_always_have(raw: bytes, expected: Recorded) -> None:
    assert Recorded.decode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"10 20 abc", "not enough values to unpack (expected at least 4, got 3)"),
        (b"ten 20 abc file 5 6", "invalid literal for int() with base 10: 'ten'"),
        (b"10 20 abc file five 6", "invalid literal for int() with base 10: 'five'"),
        (b"ten 20 abc file five 6", "invalid literal for int() with base 10: 'five'"),  # times first
        (b"10 20 abc file \xff 6", "'utf-8' codec can't decode byte 0xff in position 15: invalid start byte"),
    ],
)
def test_a_damaged_entry_raises_what_it_always_raised(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError) as caught:  # read_manifest: "the index is damaged"
        Recorded.decode(raw)
    assert str(caught.value) == message


def test_the_manifest_holds_each_live_item_after_deletes_and_changes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    index_dir = tmp_path / "index"
    for n in range(12):
        write_item(corpus, {"id": f"first/{n}.md", "title": f"Item {n}"})
    assert SearchIndex(index_dir).update(corpus).ok
    for n in range(6):
        write_item(corpus, {"id": f"second/{n}.md", "title": f"Second {n}"})
    (corpus / "first" / "3.md").unlink()
    write_item(corpus, {"id": "first/4.md", "title": "Item 4, changed"})
    assert SearchIndex(index_dir).update(corpus).ok
    (corpus / "second" / "1.md").unlink()
    write_item(corpus, {"id": "first/5.md", "title": "Item 5, changed"})
    write_item(corpus, {"id": "second/2.md", "title": "Second 2, changed"})
    assert SearchIndex(index_dir).update(corpus).ok

    gen = IndexLocation(index_dir).current()
    assert gen is not None
    ix = open_whoosh(gen)
    with ix.reader() as reader:  # the case at hand: segments with deleted documents
        assert sum(segment.has_deletions() for segment, _ in reader.leaf_readers()) >= 2
        # Whoosh's own reading, a document at a time.
        whooshs = {}
        for segment, _offset in reader.leaf_readers():
            ids, manifest = segment.column_reader("id"), segment.column_reader("manifest")
            for doc in segment.all_doc_ids():
                whooshs[ids[doc]] = Recorded.decode(manifest[doc])
    found = read_manifest(ix, required=True)
    assert found == whooshs

    files = sorted(p for p in corpus.rglob("*.md"))
    assert sorted(found) == sorted(p.relative_to(corpus).as_posix() for p in files)
    for path in files:
        record = found[path.relative_to(corpus).as_posix()]
        info = os.stat(path)
        assert (record.size, record.mtime_ns, record.sha, record.origin) == (
            info.st_size,
            info.st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
            ORIGIN_FILE,
        )
        assert 0 < record.first <= record.changed
