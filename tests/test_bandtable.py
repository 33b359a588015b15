"""The band-key table kept beside each commit (searchkit/bandtable.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import SearchIndex
from searchkit.bandtable import TABLE_SUFFIX, BandTable, load_table
from searchkit.checksums import companion_name
from searchkit.errors import IndexCorruptError
from searchkit.store import open_whoosh


def found(table: BandTable, hashes: list[int]) -> set[str]:
    return {ident for n in table.lookup(hashes) if (ident := table.ids[n]) is not None}


def test_lookup_finds_the_items_of_a_hash_and_round_trips() -> None:
    table = BandTable().updated({"a": (10.0, [1, 5, 7]), "b": (None, [5, 9]), "c": (30.0, [2])}, [])
    assert found(table, [5]) == {"a", "b"}
    assert found(table, [7, 2]) == {"a", "c"}
    assert found(table, [3, 1 << 31]) == set()
    again = BandTable.decode(table.encode())
    assert again.ids == table.ids and list(again.entries) == list(table.entries)
    assert again.times[0] == 10.0 and math.isnan(again.times[1])


def test_a_new_version_replaces_its_keys_and_removed_items_are_dropped() -> None:
    table = BandTable().updated({"a": (1.0, [1, 2]), "b": (2.0, [2]), "c": (3.0, [3])}, [])
    table = table.updated({"a": (1.5, [4])}, ["b"])
    assert found(table, [2]) == set() and found(table, [1]) == set()
    assert found(table, [4]) == {"a"} and found(table, [3]) == {"c"}
    # Once gone items are a quarter of the list, their positions are dropped.
    assert table.ids == ["c", "a"]
    assert table.times.tolist() == [3.0, 1.5]


@pytest.mark.parametrize(
    "raw",
    [b"", b"SKBT", b"XXXX" + bytes(13), BandTable().updated({"a": (1.0, [1])}, []).encode()[:-1]],
)
def test_a_damaged_table_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        BandTable.decode(raw)


changes = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from("abcdefgh"), st.lists(st.integers(0, 12), max_size=4), max_size=4),
        st.lists(st.sampled_from("abcdefgh"), max_size=3),
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(changes)
def test_updates_find_what_a_table_of_the_held_items_finds(
    steps: list[tuple[dict[str, list[int]], list[str]]],
) -> None:
    table, held = BandTable(), {}
    for added, removed in steps:
        table = BandTable.decode(
            table.updated({i: (None, sorted(set(h))) for i, h in added.items()}, removed).encode()
        )
        for ident in removed:
            held.pop(ident, None)
        held.update({i: set(h) for i, h in added.items()})
    for h in range(13):
        assert found(table, [h]) == {i for i, hashes in held.items() if h in hashes}
    assert sorted(table.entries) == list(table.entries)


def test_each_commit_keeps_a_table_of_its_items(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a", "b"):
        (corpus / f"{name}.md").write_text(
            f"---\ntitle: Harbour {name} reopens\n---\nThe Valencia harbour reopened after floods.\n"
        )
    index_dir = tmp_path / "index"
    SearchIndex(index_dir).update(corpus)
    (corpus / "a.md").unlink()
    SearchIndex(index_dir).update(corpus)
    gen = next(index_dir.glob("gen-*"))
    ix = open_whoosh(gen)
    table = load_table(gen, ix.latest_generation())
    assert [i for i in table.ids if i is not None] == ["b.md"]
    assert found(table, [e >> 32 for e in table.entries]) == {"b.md"}
    # A damaged table is reported, with what to do.
    (gen / companion_name(ix.latest_generation(), TABLE_SUFFIX)).write_bytes(b"SKBT broken")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_table(gen, ix.latest_generation())
