"""Stories and duplicates (searchkit/stories.py, searchkit/storyview.py): what the index
assigns, how it follows updates, and what search, ``stories``, ``story`` and ``related`` show."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_corpus, write_item

from searchkit import SearchIndex, linking, similarity, stories
from searchkit.errors import IndexCorruptError
from searchkit.models import NewsItem
from searchkit.stories import default_story_id

MERGER = [
    "Acme Industries agreed on Monday to buy Widget Holdings for 2.5 billion dollars in cash, "
    "the largest takeover in the packaging industry this year.",
    "Acme chief executive Maria Lindqvist said the deal would create the biggest maker of "
    "cardboard packaging in northern Europe, with plants in Sweden, Finland and Norway.",
    "Widget Holdings shareholders will receive 41 dollars a share, a premium of 28 percent over "
    "Friday's closing price in Stockholm.",
    "The companies expect the purchase to close in the third quarter after approval by "
    "competition regulators in Brussels.",
    "Analysts at Nordbank said the price was high but the savings of 180 million dollars a year "
    "from combining the packaging plants justified it.",
]

FLOOD = [
    "Heavy rain flooded the centre of Valencia on Tuesday, cutting power to 60,000 homes and "
    "closing the port, the regional government said.",
    "Emergency services rescued 300 people from cars and ground floor flats as the Turia river "
    "burst its banks after 200 litres of rain fell in six hours.",
    "Schools across the province will stay closed on Wednesday and trains to Madrid were "
    "cancelled while engineers inspect the tracks.",
    "Forecasters expect the storm to move north towards Catalonia overnight, bringing more "
    "rain and gale force winds to the coast.",
]


#: Another provider's report of the merger: the same facts in other words.
MERGER_COVERAGE = (
    "Swedish packaging group Acme Industries will pay 2.5 billion dollars for rival Widget Holdings, "
    "creating northern Europe's largest cardboard packaging maker. Chief executive Maria Lindqvist "
    "told reporters the combined company would run plants in Sweden, Finland and Norway. Widget "
    "investors are being offered 41 dollars for each share, 28 percent above the last close in "
    "Stockholm. Nordbank analysts called the price steep but said 180 million dollars of yearly "
    "savings made the takeover worthwhile."
)

FLOOD_COVERAGE = (
    "Rescuers pulled 300 people from stranded cars and flooded flats in Valencia after the Turia "
    "river overflowed following a downpour of 200 litres in six hours. About 60,000 homes lost "
    "power and the port was shut, officials said. Provincial schools will remain closed on "
    "Wednesday, and rail services to Madrid were suspended pending track inspections."
)

EARLY = (
    "Acme Industries is in advanced talks to acquire Widget Holdings, people familiar with the "
    "matter said on Sunday, in a deal that could value the cardboard packaging maker at about 2.5 "
    "billion dollars. Acme chief executive Maria Lindqvist has long sought to expand its plants in "
    "Finland and Norway. An announcement could come as soon as Monday, the people said."
)


def reserves(figure: str) -> str:
    return (
        f"The Federal Reserve entered the government securities market to add {figure} billion "
        f"dollars of temporary reserves via customer repurchase agreements, a Fed spokesman said. "
        f"Dealers said Federal funds were trading at {figure[0]}-3/8 pct when the Fed began its "
        f"temporary and indirect supply of reserves to the banking system."
    )


def item(
    ident: str, title: str, body: str, when: str, provider: str = "Wire", **extra: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "title": title,
        "body": body,
        "publishedDateTime": when,
        "provider": {"name": provider, "domain": f"{provider.lower().replace(' ', '')}.example.com"},
        "topics": extra.pop("topics", ["Business"]),
        **extra,
    }


def corpus_items() -> list[dict[str, Any]]:
    merger = " ".join(MERGER)
    corrected = merger.replace("41 dollars a share", "42 dollars a share")
    return [
        item("merger.md", "Acme to buy Widget Holdings for $2.5 billion", merger, "2024-03-04T08:00:00Z"),
        # An exact copy, republished by another provider two hours later.
        item(
            "copy.md",
            "Acme to buy Widget Holdings for $2.5 billion",
            merger,
            "2024-03-04T10:00:00Z",
            "Syndicate",
        ),
        # The same text re-wrapped, with another headline.
        item(
            "rewrapped.md",
            "Acme agrees Widget takeover",
            "\n\n".join(MERGER),
            "2024-03-04T09:00:00Z",
            "Business Daily",
        ),
        # A corrected figure, said to be a correction.
        item(
            "corrected.md",
            "CORRECTED - Acme to buy Widget Holdings for $2.5 billion",
            corrected,
            "2024-03-04T12:00:00Z",
        ),
        # Another provider's coverage: reordered, a sentence dropped, another headline.
        item(
            "coverage.md",
            "Packaging giant in the making as Acme bids for Widget",
            MERGER_COVERAGE,
            "2024-03-05T07:30:00Z",
            "Nordic Times",
        ),
        # The same text ten days later: outside the window.
        item("late-repeat.md", "Acme to buy Widget Holdings", merger, "2024-03-15T08:00:00Z", "Archive"),
        # A daily report: the same headline, other figures, on three days.
        item(
            "fed-1.md", "FED ADDS RESERVES VIA CUSTOMER REPURCHASES", reserves("1.5"), "2024-03-04T15:45:00Z"
        ),
        item(
            "fed-2.md", "FED ADDS RESERVES VIA CUSTOMER REPURCHASES", reserves("2.0"), "2024-03-05T15:45:00Z"
        ),
        item(
            "fed-3.md", "FED ADDS RESERVES VIA CUSTOMER REPURCHASES", reserves("3.5"), "2024-03-06T15:45:00Z"
        ),
        # Another event of the same days.
        item(
            "flood.md",
            "Floods close Valencia port",
            " ".join(FLOOD),
            "2024-03-05T18:00:00Z",
            "Iberia News",
            topics=["Weather"],
        ),
        item(
            "flood-2.md",
            "Valencia floods: 300 rescued, schools shut",
            FLOOD_COVERAGE,
            "2024-03-05T21:00:00Z",
            "Euro Wire",
            topics=["Weather"],
        ),
    ]


ITEMS = corpus_items()
MERGER_STORY = {"merger.md", "copy.md", "rewrapped.md", "corrected.md", "coverage.md"}
MERGER_DUPLICATES = {"copy.md", "rewrapped.md", "corrected.md"}
FLOOD_STORY = {"flood.md", "flood-2.md"}


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    index_dir = tmp_path / "index"
    SearchIndex(index_dir).update(corpus)
    return corpus, index_dir


def groups(index: SearchIndex) -> tuple[dict[str, str], dict[str, str | None]]:
    """item id -> story id, item id -> duplicate_of, read through search."""
    results = index.search("", limit=100)
    return (
        {hit.id: hit.story.id for hit in results.hits if hit.story is not None},
        {hit.id: hit.duplicate_of for hit in results.hits},
    )


def partition(story_of: dict[str, str]) -> set[frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for ident, story in story_of.items():
        found[story].add(ident)
    return {frozenset(members) for members in found.values()}


def test_duplicates_and_stories_are_assigned(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    with SearchIndex.open(index_dir) as index:
        story_of, duplicate_of = groups(index)
    assert partition(story_of) == {
        frozenset(MERGER_STORY),
        frozenset({"late-repeat.md"}),
        frozenset({"fed-1.md"}),
        frozenset({"fed-2.md"}),
        frozenset({"fed-3.md"}),
        frozenset(FLOOD_STORY),
    }
    # Copies point at the earliest item of their group; the reworded coverage is no copy.
    assert {i: d for i, d in duplicate_of.items() if d} == dict.fromkeys(MERGER_DUPLICATES, "merger.md")
    # A story is named after its earliest item.
    assert story_of["coverage.md"] == default_story_id("merger.md")
    assert story_of["flood-2.md"] == default_story_id("flood.md")


def test_collapsed_search_counts_items_and_stories_exactly(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    with SearchIndex.open(index_dir) as index:
        plain = index.search("acme OR reserves OR valencia", limit=100, facets=["provider"])
        story_of, _ = groups(index)
        collapsed = index.search(
            "acme OR reserves OR valencia", limit=100, facets=["provider"], collapse=True
        )
    matched = {hit.id for hit in plain.hits}
    assert collapsed.total == plain.total == len(matched)
    assert collapsed.stories == len({story_of[i] for i in matched})
    # One hit per story, the best ranked of each, in the plain order.
    expected: list[str] = []
    seen: set[str] = set()
    for hit in plain.hits:
        if story_of[hit.id] not in seen:
            seen.add(story_of[hit.id])
            expected.append(hit.id)
    assert [hit.id for hit in collapsed.hits] == expected
    # Facets count items, collapsed or not.
    assert collapsed.facets == plain.facets
    first = next(hit for hit in collapsed.hits if hit.story is not None and hit.story.size == 5)
    assert first.story is not None
    assert set(first.story.providers) == {"Wire", "Syndicate", "Business Daily", "Nordic Times"}
    assert first.story.providers[0] == "Wire"  # two items
    assert first.duplicates == (3 if first.id == "merger.md" else 0)
    assert plain.stories is None and "stories" not in plain.to_dict()
    assert all("duplicates" not in hit for hit in plain.to_dict()["hits"])


def test_collapsed_pages_and_cursors_walk_each_story_once(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    with SearchIndex.open(index_dir) as index:
        whole = index.search("", limit=100, collapse=True)
        paged = [
            hit.id for page in (1, 2, 3) for hit in index.search("", limit=2, page=page, collapse=True).hits
        ]
        walked: list[str] = []
        cursor = None
        while True:
            results = index.search("", limit=2, after=cursor, collapse=True)
            walked += [hit.id for hit in results.hits]
            cursor = results.next_cursor
            if cursor is None:
                break
        plain_cursor = index.search("", limit=2).next_cursor
        assert plain_cursor is not None
        with pytest.raises(Exception, match="collapse"):
            index.search("", limit=2, after=plain_cursor, collapse=True)
    assert whole.stories == 6 and len(whole.hits) == 6
    assert paged == [hit.id for hit in whole.hits]
    assert walked == [hit.id for hit in whole.hits]


def test_stories_largest_first_then_newest(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    with SearchIndex.open(index_dir) as index:
        found = index.stories()
        big = index.stories(min_size=2)
        weather = index.stories(topics=["Weather"])
        by_provider = index.stories(providers=["Syndicate"])
        query = index.stories("reserves")
    assert found.total == 6
    assert [len(s.items) for s in found.stories] == [5, 2, 1, 1, 1, 1]
    # Lone items: newest first.
    assert [s.items[0].id for s in found.stories[2:]] == [
        "late-repeat.md",
        "fed-3.md",
        "fed-2.md",
        "fed-1.md",
    ]
    merger = found.stories[0]
    assert merger.id == default_story_id("merger.md")
    assert merger.title == ITEMS[0]["title"]  # the earliest item that is no copy
    assert [i.id for i in merger.items] == [
        "merger.md",
        "rewrapped.md",
        "copy.md",
        "corrected.md",
        "coverage.md",
    ]
    assert {i.id: i.duplicate_of for i in merger.items}["copy.md"] == "merger.md"
    assert (
        merger.first_published is not None
        and merger.first_published.isoformat() == "2024-03-04T08:00:00+00:00"
    )
    assert merger.topics == ("Business",)
    assert big.total == 2 and {s.id for s in big.stories} == {merger.id, default_story_id("flood.md")}
    assert [s.id for s in weather.stories] == [default_story_id("flood.md")]
    # A story matches when one of its items does, and is shown whole.
    assert [s.size for s in by_provider.stories] == [5]
    assert query.total == 3


def test_incremental_updates_keep_story_ids(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    story = default_story_id("merger.md")
    # A late item, published before every other, joins the story: the id stays.
    early = item("early.md", "Acme in talks to buy Widget Holdings", EARLY, "2024-03-03T20:00:00Z")
    write_item(corpus, early)
    SearchIndex(index_dir).update(corpus)
    with SearchIndex.open(index_dir) as index:
        story_of, duplicate_of = groups(index)
    assert story_of["early.md"] == story == story_of["coverage.md"]
    # Removing the item the id was made from changes no other item's story.
    (corpus / "merger.md").unlink()
    SearchIndex(index_dir).update(corpus)
    with SearchIndex.open(index_dir) as index:
        after_removal, duplicate_of = groups(index)
        assert index.story(story).size == 5
    assert {i for i, s in after_removal.items() if s == story} == (MERGER_STORY | {"early.md"}) - {
        "merger.md"
    }
    # The copies now point at the earliest copy left.
    assert duplicate_of["copy.md"] == "rewrapped.md" == duplicate_of["corrected.md"]
    # A rebuild gives the same groups and ids.
    SearchIndex(index_dir).rebuild(corpus)
    with SearchIndex.open(index_dir) as index:
        assert groups(index) == (after_removal, duplicate_of)
    # And a fresh build of the same corpus the same groups.
    fresh = index_dir.parent / "fresh"
    SearchIndex(fresh).update(corpus)
    with SearchIndex.open(fresh) as index:
        assert partition(groups(index)[0]) == partition(after_removal)


@pytest.mark.parametrize("buckets", [1, 1 << 32])
def test_items_added_one_at_a_time_group_as_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buckets: int
) -> None:
    # With one bucket every held item is found by every lookup: only pairs that share a band
    # key itself may be compared, or an update would link what a build does not.
    monkeypatch.setattr(similarity, "BAND_BUCKETS", buckets)
    # Two items with the same words in opposite orders: the story test holds for them, but they
    # share no band key (no word pair, no name), so a build never compares them.
    words = "harvest orchard apple grower cooperative drought irrigation subsidy ministry export market"
    reversed_words = " ".join(reversed(words.split()))
    pair = [
        item("forward.md", "Orchard report", words, "2024-03-06T08:00:00Z"),
        item("backward.md", "Growers report", reversed_words, "2024-03-06T09:00:00Z", "Farm Wire"),
    ]
    fa, fb = (similarity.fingerprint(NewsItem(id=e["id"], title=e["title"], body=e["body"])) for e in pair)
    assert similarity.same_story(fa, fb, window=1.0)
    assert not set(similarity.band_keys(fa)) & set(similarity.band_keys(fb))
    corpus = tmp_path / "corpus"
    one_by_one = tmp_path / "index"
    for entry in [*ITEMS, *pair]:
        write_item(corpus, entry)
        SearchIndex(one_by_one).update(corpus)
    fresh = tmp_path / "fresh"
    SearchIndex(fresh).update(corpus)
    with SearchIndex.open(one_by_one) as a, SearchIndex.open(fresh) as b:
        (stories_a, duplicates_a), (stories_b, duplicates_b) = groups(a), groups(b)
    expected = groups_expected() | {"forward.md": "forward.md", "backward.md": "backward.md"}
    assert partition(stories_a) == partition(stories_b) == partition(expected)
    assert duplicates_a == duplicates_b


def groups_expected() -> dict[str, str]:
    """The stories of ITEMS (test_duplicates_and_stories_are_assigned), as a mapping."""
    expected = {i: "merger" for i in MERGER_STORY} | {i: "flood" for i in FLOOD_STORY}
    return expected | {entry["id"]: entry["id"] for entry in ITEMS if entry["id"] not in expected}


def test_a_bridging_item_merges_stories_and_the_old_id_resolves(tmp_path: Path) -> None:
    left = item("left.md", "Floods close Valencia port", " ".join(FLOOD[:2]), "2024-03-05T18:00:00Z", "A")
    right = item("right.md", "Valencia schools shut", " ".join(FLOOD[2:]), "2024-03-05T20:00:00Z", "B")
    corpus = write_corpus(tmp_path / "corpus", [left, right])
    index_dir = tmp_path / "index"
    SearchIndex(index_dir).update(corpus)
    with SearchIndex.open(index_dir) as index:
        story_of, _ = groups(index)
    assert story_of["left.md"] != story_of["right.md"]
    write_item(corpus, item("whole.md", "Valencia floods", " ".join(FLOOD), "2024-03-05T22:00:00Z", "C"))
    SearchIndex(index_dir).update(corpus)
    with SearchIndex.open(index_dir) as index:
        merged, _ = groups(index)
        assert len(set(merged.values())) == 1
        assert merged["right.md"] == default_story_id("left.md")
        assert index.story(default_story_id("right.md")).id == default_story_id("left.md")


def test_add_items_and_remove_follow_stories(tmp_path: Path) -> None:
    from searchkit.documents import parse_text

    index_dir = tmp_path / "index"
    index = SearchIndex(index_dir)

    def news(ident: str, body: str, when: str) -> Any:
        return parse_text(f"---\ntitle: Valencia floods\npublishedDateTime: '{when}'\n---\n{body}\n", ident)

    index.add_items([news("a", " ".join(FLOOD), "2024-03-05T18:00:00Z")])
    index.add_items([news("b", " ".join(FLOOD), "2024-03-05T19:00:00Z")])
    with SearchIndex.open(index_dir) as reader:
        story_of, duplicate_of = groups(reader)
    assert story_of["a"] == story_of["b"] == default_story_id("a") and duplicate_of["b"] == "a"
    index.remove(["a"])
    with SearchIndex.open(index_dir) as reader:
        story_of, duplicate_of = groups(reader)
    assert story_of == {"b": default_story_id("a")} and duplicate_of == {"b": None}


def test_related_gives_same_story_between_backlinks_and_similar(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    with SearchIndex.open(index_dir) as index:
        related = index.related("coverage.md", limit=20).related
    reasons = [hit.reason for hit in related]
    same = [hit for hit in related if hit.reason == "same_story"]
    assert {hit.id for hit in same} == MERGER_STORY - {"coverage.md"}
    # Newest first.
    assert [hit.id for hit in same] == ["corrected.md", "copy.md", "rewrapped.md", "merger.md"]
    assert {hit.id: hit.duplicate_of for hit in same}["copy.md"] == "merger.md"
    assert reasons == sorted(reasons, key=["listed", "backlink", "same_story", "similar"].index)
    assert not {hit.id for hit in related if hit.reason == "similar"} & MERGER_STORY


def test_listed_duplicates_are_kept_and_flagged(tmp_path: Path) -> None:
    table = [dict(entry) for entry in ITEMS]
    table[4] = {
        **table[4],
        "related": [
            {"title": "the copy", "webUrl": "https://news.example.org/copy"},
            {"title": "elsewhere", "webUrl": "https://elsewhere.example.com/x"},
        ],
    }
    corpus = write_corpus(tmp_path / "corpus", table)
    SearchIndex(tmp_path / "index").update(corpus)
    with SearchIndex.open(tmp_path / "index") as index:
        related = index.related("coverage.md", limit=20).related
    assert [(h.id, h.reason, h.duplicate_of) for h in related[:2]] == [
        ("copy.md", "listed", "merger.md"),
        (None, "listed", None),
    ]
    assert "copy.md" not in {h.id for h in related[2:]}


def test_cli_search_collapse_stories_story_and_show(built: tuple[Path, Path]) -> None:
    _corpus, index_dir = built
    where = ["--index-dir", str(index_dir)]
    result = run_cli("search", "acme", "--collapse", "--json", *where)
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"] == 6 and data["stories"] == 2
    assert set(data["hits"][0]["story"]) == {"id", "size", "providers", "first_published", "last_published"}
    assert all("duplicates" in hit and "duplicate_of" in hit for hit in data["hits"])

    result = run_cli("stories", "--min-size", "2", "--json", *where)
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"] == 2
    assert set(data["stories"][0]) == {
        "id", "size", "title", "providers", "topics", "first_published", "last_published", "items",
    }  # fmt: skip
    assert set(data["stories"][0]["items"][0]) == {
        "id",
        "title",
        "provider",
        "published_at",
        "url",
        "duplicate_of",
    }

    result = run_cli("story", default_story_id("flood.md"), *where)
    assert result.code == 0, result.stderr
    assert "Floods close Valencia port" in result.stdout and "2 items" in result.stdout
    result = run_cli("story", "s000000000000", *where)
    assert result.code == 1
    assert result.stderr.strip() == "Error: no story, item id or url 's000000000000' in the index"

    result = run_cli("show", "copy.md", "--json", *where)
    data = json.loads(result.stdout)
    assert data["duplicate_of"] == "merger.md" and data["story"]["size"] == 5
    result = run_cli("show", "copy.md", *where)
    assert "duplicate_of: merger.md" in result.stdout
    assert f"story: {default_story_id('merger.md')} (5 items)" in result.stdout

    result = run_cli("stories", "--min-size", "0", *where)
    assert result.code == 2


def test_story_window_is_set_at_creation(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    index_dir = tmp_path / "index"
    result = run_cli("index", str(corpus), "--index-dir", str(index_dir), "--story-window", "30d")
    assert result.code == 0, result.stderr
    with SearchIndex.open(index_dir) as index:
        story_of, _ = groups(index)
    # Within 30 days the repeat ten days later is a copy of the same story.
    assert story_of["late-repeat.md"] == story_of["merger.md"]
    result = run_cli("index", str(corpus), "--index-dir", str(index_dir), "--story-window", "3d")
    assert result.code == 1
    assert "set when it was created" in result.stderr
    result = run_cli("index", str(corpus), "--index-dir", str(index_dir), "--story-window", "soon")
    assert result.code == 2
    # A rebuild keeps the window unless told otherwise.
    result = run_cli("index", str(corpus), "--index-dir", str(index_dir), "--rebuild")
    assert result.code == 0
    with SearchIndex.open(index_dir) as index:
        assert groups(index)[0]["late-repeat.md"] == groups(index)[0]["merger.md"]


def test_the_stories_file_goes_with_its_commit(built: tuple[Path, Path]) -> None:
    """Each commit keeps its own stories beside its table of contents, under its checksums."""
    corpus, index_dir = built
    (corpus / "flood-2.md").unlink()
    SearchIndex(index_dir).update(corpus)
    gen = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    kept = sorted(p.name for p in gen.glob("_MAIN_*.stories"))
    assert len(kept) == 2  # this commit's and the previous one's, for readers still on it
    latest = max(kept, key=lambda name: int(name.split("_")[2].split(".")[0]))
    sums = json.loads((gen / latest.replace(".stories", ".sums")).read_text())
    assert latest in sums["files"]
    # Damage to it is found by `check`.
    path = gen / latest
    path.write_bytes(path.read_bytes().replace(b"merger", b"merges"))
    index = SearchIndex(index_dir)
    assert not index.check().ok
    with pytest.raises(IndexCorruptError, match=r"_MAIN_\d+\.stories is damaged"):
        index.search("acme")
    shutil.rmtree(index_dir)


def test_a_build_shared_out_between_processes_groups_as_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full build of many items finds its pairs and band-key table in arrays and tests the
    # pairs in forked processes (searchkit/bulk.py, linking.py): the same groups and the same
    # table as linking pair by pair makes.
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    SearchIndex(tmp_path / "one").update(corpus)
    monkeypatch.setattr(linking, "PARALLEL_LINKS", 2)
    monkeypatch.setattr(stories, "PARALLEL_LINKS", 2)
    SearchIndex(tmp_path / "shared").update(corpus)
    tables = []
    for name in ("one", "shared"):
        with SearchIndex.open(tmp_path / name) as index:
            tables.append((groups(index), sorted((tmp_path / name).glob("gen-*/_MAIN_*.bands"))))
    (groups_one, [table_one]), (groups_shared, [table_shared]) = tables
    assert groups_one == groups_shared
    assert partition(groups_one[0]) == partition(groups_expected())
    assert table_one.read_bytes() == table_shared.read_bytes()
