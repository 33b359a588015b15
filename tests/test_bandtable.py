"""The band-key table kept beside each commit (searchkit/bandtable.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import SearchIndex
from searchkit.bandtable import MAX_RUNS, TABLE_SUFFIX, BandTable, load_table
from searchkit.checksums import companion_name
from searchkit.errors import IndexCorruptError
from searchkit.store import open_whoosh


def found(
    table: BandTable, hashes: list[int], published: float | None = None, window: float = 0.0
) -> set[str]:
    return {ident for n in table.lookup(hashes, published, window) if (ident := table.ids[n]) is not None}


def test_lookup_finds_the_items_of_a_hash_within_the_window_and_round_trips() -> None:
    day = 24 * 3600.0
    table = BandTable().updated(
        {"a": (10 * day, [1, 5, 7]), "b": (None, [5, 9]), "c": (13 * day, [2, 5])}, []
    )
    assert found(table, [5], 11 * day, 3 * day) == {"a", "c"}
    assert found(table, [5], 9 * day, 3 * day) == {"a"}
    assert found(table, [5]) == {"b"}  # an undated item finds undated ones only
    assert found(table, [7, 2], 11.5 * day, day / 4) == set()
    assert found(table, [7, 2], 12 * day, day) == {"c"}  # the window's end is within
    assert found(table, [3, 1 << 31], 10 * day, 30 * day) == set()
    again = BandTable.decode(table.encode())
    assert again.ids == table.ids == ["a", "c", "b"]  # in the order of time, undated last
    assert [list(entries) for *_span, entries in again.runs] == [
        list(entries) for *_span, entries in table.runs
    ]
    assert list(again.times) == [10 * day, 13 * day, math.inf]


def test_a_new_version_replaces_its_keys_and_removed_items_are_dropped() -> None:
    table = BandTable().updated({"a": (1.0, [1, 2]), "b": (2.0, [2]), "c": (3.0, [3])}, [])
    table = table.updated({"a": (1.5, [4])}, ["b"])
    window = 10.0
    assert found(table, [2], 1.0, window) == set() and found(table, [1], 1.0, window) == set()
    assert found(table, [4], 1.0, window) == {"a"} and found(table, [3], 1.0, window) == {"c"}
    # Once gone items are a quarter of the list, their positions are dropped: one run is left.
    assert table.ids == ["a", "c"]
    assert table.times.tolist() == [1.5, 3.0] and len(table.runs) == 1


def test_runs_beyond_the_limit_are_merged_into_one() -> None:
    table = BandTable().updated({f"base{n}": (float(n), [n % 7]) for n in range(100)}, [])
    for n in range(MAX_RUNS + 2):
        table = table.updated({f"new{n}": (float(n), [n % 7, 50])}, [])
    assert len(table.runs) <= MAX_RUNS
    held = {f"base{n}" for n in range(100)} | {f"new{n}" for n in range(MAX_RUNS + 2)}
    assert {i for i in table.ids if i is not None} == held
    assert found(table, [50], 0.0, 1e9) == {f"new{n}" for n in range(MAX_RUNS + 2)}
    assert found(table, [3], 0.0, 1e9) == {f"base{n}" for n in range(3, 100, 7)} | {"new3"}


@pytest.mark.parametrize(
    "raw",
    [b"", b"SKBT", b"XXXX" + bytes(13), BandTable().updated({"a": (1.0, [1])}, []).encode()[:-1]],
)
def test_a_damaged_table_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        BandTable.decode(raw)


changes = st.lists(
    st.tuples(
        st.dictionaries(
            st.sampled_from("abcdefgh"),
            st.tuples(st.none() | st.integers(0, 20), st.lists(st.integers(0, 12), max_size=4)),
            max_size=4,
        ),
        st.lists(st.sampled_from("abcdefgh"), max_size=3),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(changes, st.none() | st.integers(0, 20), st.integers(0, 8))
def test_updates_find_what_a_table_of_the_held_items_finds(
    steps: list[tuple[dict[str, tuple[int | None, list[int]]], list[str]]], when: int | None, window: int
) -> None:
    table, held = BandTable(), {}
    for added, removed in steps:
        change = {i: (None if t is None else float(t), sorted(set(h))) for i, (t, h) in added.items()}
        table = BandTable.decode(table.updated(change, removed).encode())
        for ident in removed:
            held.pop(ident, None)
        held.update({i: (t, set(h)) for i, (t, h) in added.items()})
    assert len(table.runs) <= MAX_RUNS

    def near(t: int | None) -> bool:  # a second more each way (BandTable.lookup)
        return t is None if when is None else t is not None and abs(t - when) <= window + 1

    at = None if when is None else float(when)
    for h in range(13):
        assert found(table, [h], at, float(window)) == {
            i for i, (t, hs) in held.items() if h in hs and near(t)
        }
    for _start, _end, entries in table.runs:
        assert sorted(entries) == list(entries)


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
    hashes = [e >> 32 for *_span, entries in table.runs for e in entries]
    assert found(table, hashes) == {"b.md"}
    # A damaged table is reported, with what to do.
    (gen / companion_name(ix.latest_generation(), TABLE_SUFFIX)).write_bytes(b"SKBT broken")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_table(gen, ix.latest_generation())
