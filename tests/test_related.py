"""Related items (``index.related``, ``searchkit related``): listed entries, backlinks, similar items.

What each test expects is worked out from the raw tables (or the sample corpus's files): which
entries point at indexed items, which items list a given url, which items are duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SAMPLE_CORPUS, build_index, run_cli, url_of, when, write_corpus, write_item

from searchkit import ItemNotFoundError, QueryError, RelatedHit, SearchIndex
from searchkit import related as related_module

Item = Mapping[str, Any]

RELATED_KEYS = {
    "id",
    "url",
    "title",
    "provider",
    "published_at",
    "score",
    "reason",
    "in_index",
    "duplicate_of",
}

OUTSIDE = {
    "title": "Rainfall outlook for the plains",
    "webUrl": "https://elsewhere.example/rainfall",
    "provider": {"name": "Weather Net", "domain": "weathernet.example"},
    "publishedDateTime": "2023-06-01T09:00:00Z",
}


def link(ident: str, title: str = "A headline as the feed gave it") -> dict[str, Any]:
    """A ``related`` entry pointing at the table item ``ident``."""
    return {"title": title, "webUrl": url_of(ident)}


def farm(name: str) -> dict[str, str]:
    return {"name": name, "domain": name.lower().replace(" ", "") + ".example"}


DROUGHT_BODY = (
    "Dry soil and a long heatwave shrank wheat yields across the plains. Farmers said the "
    "drought was the worst in a decade and the harvest would be small."
)

RELATED_ITEMS: list[dict[str, Any]] = [
    {
        "id": "base.md",
        "title": "Drought cuts the wheat harvest",
        "topics": ["Wheat", "Drought"],
        "provider": farm("Farm Wire"),
        "publishedDateTime": "2023-06-10T08:00:00Z",
        "excerpt": "Farmers expect the smallest wheat harvest in a decade.",
        "body": DROUGHT_BODY,
        "related": [
            link("listed-in.md"),  # an indexed item
            OUTSIDE,  # outside the corpus
            link("mutual.md"),  # indexed, and it lists base.md back
            link("base.md", "The item itself"),  # itself: left out
            {"title": "An entry without a url"},  # outside, without a url
            link("listed-in.md", "The same item again"),  # already returned: left out
        ],
    },
    {
        "id": "listed-in.md",
        "title": "Wheat exports fall as the drought bites",
        "topics": ["Wheat", "Trade"],
        "provider": farm("Market Desk"),
        "publishedDateTime": "2023-06-11T08:00:00Z",
        "excerpt": "Shippers cut their export forecasts.",
    },
    {
        "id": "mutual.md",
        "title": "Rivers run low in the grain belt",
        "topics": ["Drought"],
        "provider": farm("Farm Wire"),
        "publishedDateTime": "2023-06-09T08:00:00Z",
        "excerpt": "Barges carry half loads.",
        "related": [link("base.md")],
    },
    {
        "id": "backlink-old.md",
        "title": "Bakers brace for dearer flour",
        "topics": ["Food"],
        "provider": farm("City Paper"),
        "publishedDateTime": "2023-06-12T08:00:00Z",
        "excerpt": "Bread may cost more this autumn.",
        "related": [link("base.md"), OUTSIDE],
    },
    {
        "id": "backlink-new.md",
        "title": "Government promises help for farmers",
        "topics": ["Politics"],
        "provider": farm("City Paper"),
        "publishedDateTime": "2023-06-20T08:00:00Z",
        "excerpt": "A relief fund opens next month.",
        "related": [OUTSIDE, link("base.md")],
    },
    {
        "id": "backlink-undated.md",
        "title": "Letters: our dry summer",
        "topics": ["Opinion"],
        "provider": farm("City Paper"),
        "excerpt": "Readers write about water.",
        "related": [link("base.md")],
    },
    {
        "id": "similar-strong.md",
        "title": "Wheat farmers count drought losses",
        "topics": ["Wheat", "Drought"],
        "provider": farm("Grain Times"),
        "publishedDateTime": "2023-06-15T08:00:00Z",
        "excerpt": "The wheat harvest shrank after the drought.",
        "body": DROUGHT_BODY,
    },
    {
        "id": "similar-words.md",
        "title": "Heatwave and drought hit the harvest",
        "topics": ["Weather"],
        "provider": farm("Grain Times"),
        "publishedDateTime": "2022-07-01T08:00:00Z",
        "excerpt": "Dry soil across the plains.",
    },
    {
        "id": "same-title-other-provider.md",
        "title": "Drought cuts the wheat harvest",
        "topics": ["Wheat"],
        "provider": farm("Grain Times"),
        "publishedDateTime": "2023-06-10T09:00:00Z",
        "excerpt": "A poor year for growers.",
    },
    {
        "id": "dup-title.md",
        "title": "drought  cuts the WHEAT harvest",
        "topics": ["Wheat", "Drought"],
        "provider": {"name": "farm wire", "domain": "farmwire.example"},
        "publishedDateTime": "2023-06-10T10:00:00Z",
        "excerpt": "Farmers expect a small wheat harvest.",
        "body": DROUGHT_BODY,
    },
    {
        "id": "weak.md",
        "title": "Football club wins the cup",
        "topics": ["Sport"],
        "provider": farm("City Paper"),
        "publishedDateTime": "2023-06-10T08:00:00Z",
        "excerpt": "Fans celebrated late into the night; farmers lent tractors for the parade.",
    },
    {
        "id": "unrelated.md",
        "title": "Parliament debates the budget",
        "topics": ["Politics"],
        "provider": farm("City Paper"),
        "publishedDateTime": "2023-06-10T08:00:00Z",
        "excerpt": "Ministers defend spending plans.",
    },
]

BY_ID = {item["id"]: item for item in RELATED_ITEMS}


# -- what to expect, from the table ----------------------------------------------------------------


def item_url(item: Item) -> str:
    return str(item.get("webUrl", url_of(item["id"])))


def entry_time(entry: Item) -> datetime | None:
    """An entry's publishedDateTime (a string, or a datetime as YAML reads it) in UTC."""
    raw = entry.get("publishedDateTime")
    if raw is None:
        return None
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def dup_key(title: str, provider: Mapping[str, str] | None) -> tuple[str, str]:
    return (" ".join(title.split()).casefold(), ((provider or {}).get("name") or "").casefold())


def expected_before_similar(table: list[dict[str, Any]], ident: str) -> list[dict[str, Any]]:
    """The listed and backlink hits of ``ident``, as dicts of RelatedHit fields."""
    item = next(i for i in table if i["id"] == ident)
    by_url: dict[str, dict[str, Any]] = {}
    for other in table:
        by_url.setdefault(item_url(other), other)
    seen_ids, seen_urls = {ident}, {item_url(item)}
    found: list[dict[str, Any]] = []

    def take(entry: dict[str, Any]) -> None:
        # The item itself and an entry already taken (same id or url) are not repeated; a
        # headline is no reason to drop an entry (a daily report lists yesterday's).
        if (entry["id"] and entry["id"] in seen_ids) or (entry["url"] and entry["url"] in seen_urls):
            return
        found.append(entry)
        if entry["id"]:
            seen_ids.add(entry["id"])
        if entry["url"]:
            seen_urls.add(entry["url"])

    def indexed(other: Item, reason: str) -> dict[str, Any]:
        return {
            "id": other["id"],
            "url": item_url(other),
            "title": other["title"],
            "provider": other.get("provider") or {},
            "published_at": when(other),
            "score": None,
            "reason": reason,
            "in_index": True,
        }

    for entry in item.get("related", []):
        target = by_url.get(entry.get("webUrl", ""))
        if target is not None:
            take(indexed(target, "listed"))
        else:
            take(
                {
                    "id": None,
                    "url": entry.get("webUrl", ""),
                    "title": entry["title"],
                    "provider": entry.get("provider") or {},
                    "published_at": entry_time(entry),
                    "score": None,
                    "reason": "listed",
                    "in_index": False,
                }
            )
    linking = [
        other for other in table if any(e.get("webUrl") == item_url(item) for e in other.get("related", []))
    ]
    linking.sort(key=newest_first)
    for other in linking:
        take(indexed(other, "backlink"))
    return found


def newest_first(item: Item) -> tuple[bool, float, str]:
    moment = when(item)
    return (moment is None, -moment.timestamp() if moment else 0.0, item["id"])


def as_dict(hit: RelatedHit) -> dict[str, Any]:
    provider = {"name": hit.provider.name, "domain": hit.provider.domain}
    return {
        "id": hit.id,
        "url": hit.url,
        "title": hit.title,
        "provider": {k: v for k, v in provider.items() if v},
        "published_at": hit.published_at,
        "score": hit.score,
        "reason": hit.reason,
        "in_index": hit.in_index,
    }


def provider_of(entry: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in (entry.get("provider") or {}).items() if v}


@pytest.fixture(scope="module")
def related_index(tmp_path_factory: pytest.TempPathFactory) -> Iterable[SearchIndex]:
    root = tmp_path_factory.mktemp("related")
    with SearchIndex.open(build_index(write_corpus(root / "corpus", RELATED_ITEMS), root / "index")) as index:
        yield index


# -- the three sources -------------------------------------------------------------------------------


def test_listed_then_backlinks_then_similar(related_index: SearchIndex) -> None:
    result = related_index.related("base.md", limit=100)
    assert result.item.id == "base.md" and result.item.title == BY_ID["base.md"]["title"]
    head = expected_before_similar(RELATED_ITEMS, "base.md")
    # The hand-made table gives what the rule says: three listed (one outside, one without a url)
    # after dropping the item itself and a repeat, then the backlinks newest first, undated last,
    # without mutual.md, which is listed already.
    assert [(e["id"], e["reason"]) for e in head] == [
        ("listed-in.md", "listed"),
        (None, "listed"),
        ("mutual.md", "listed"),
        (None, "listed"),
        ("backlink-new.md", "backlink"),
        ("backlink-old.md", "backlink"),
        ("backlink-undated.md", "backlink"),
    ]
    got = [as_dict(hit) for hit in result.related]
    for entry in head:
        entry["provider"] = {k: v for k, v in entry["provider"].items() if v}
    assert got[: len(head)] == head
    rest = result.related[len(head) :]
    # Then the item's story (its copies and other coverage), then similar items.
    reasons = [hit.reason for hit in rest]
    assert "similar" in reasons and reasons == sorted(reasons, key=["same_story", "similar"].index)


def test_listed_entries(related_index: SearchIndex) -> None:
    listed = [hit for hit in related_index.related("base.md").related if hit.reason == "listed"]
    inside, outside, mutual, no_url = listed
    # An entry pointing at an indexed item is that item, with the item's own title.
    target = BY_ID["listed-in.md"]
    assert (inside.id, inside.in_index, inside.url, inside.title) == (
        "listed-in.md",
        True,
        url_of("listed-in.md"),
        target["title"],
    )
    assert inside.published_at == when(target)
    assert inside.provider.name == target["provider"]["name"]
    # An entry pointing outside comes from the front matter.
    assert (outside.id, outside.in_index, outside.url, outside.title) == (
        None,
        False,
        OUTSIDE["webUrl"],
        OUTSIDE["title"],
    )
    assert (outside.provider.name, outside.provider.domain) == (
        OUTSIDE["provider"]["name"],
        OUTSIDE["provider"]["domain"],
    )
    assert outside.published_at == entry_time(OUTSIDE)
    assert outside.score is None
    assert (mutual.id, mutual.in_index) == ("mutual.md", True)
    assert (no_url.id, no_url.url, no_url.title, no_url.in_index) == (
        None,
        "",
        "An entry without a url",
        False,
    )


def test_backlinks_are_items_listing_this_one(related_index: SearchIndex) -> None:
    backlinks = [hit for hit in related_index.related("base.md").related if hit.reason == "backlink"]
    linking = {
        i["id"]
        for i in RELATED_ITEMS
        if any(e.get("webUrl") == url_of("base.md") for e in i.get("related", []))
    }
    assert {hit.id for hit in backlinks} == linking - {"base.md", "mutual.md"}
    assert all(hit.in_index and hit.score is None for hit in backlinks)
    # mutual.md, listed by base.md, has base.md as a listed item and no backlinks of its own
    # besides base.md, which it lists already.
    mutual = related_index.related("mutual.md").related
    assert [(hit.id, hit.reason) for hit in mutual][:1] == [("base.md", "listed")]
    assert "backlink" not in {hit.reason for hit in mutual}
    # listed-in.md is listed by base.md: base.md is its backlink.
    listed_in = related_index.related("listed-in.md").related
    assert [(hit.id, hit.reason) for hit in listed_in][:1] == [("base.md", "backlink")]


def test_similar_items(related_index: SearchIndex) -> None:
    result = related_index.related("base.md", limit=100)
    before = {hit.id for hit in result.related if hit.reason != "similar"}
    similar = [hit for hit in result.related if hit.reason == "similar"]
    ids = [hit.id for hit in similar]
    assert len(ids) == len(set(ids))
    assert "base.md" not in ids
    # Same title and provider (in other case and spacing): a duplicate. Same title, other
    # provider: not one.
    assert "dup-title.md" not in ids
    assert "same-title-other-provider.md" in ids
    assert not before & set(ids)
    assert all(hit.in_index and hit.id in BY_ID and isinstance(hit.score, float) for hit in similar)
    scores = [hit.score for hit in similar]
    assert scores == sorted(scores, reverse=True)
    # Sharing topics and words ranks above sharing words only, and well above sharing one word.
    assert ids.index("similar-strong.md") < ids.index("similar-words.md")
    assert "unrelated.md" not in ids
    # One shared word and nothing else: after every item that shares a topic, if there at all.
    if "weak.md" in ids:
        sharing = [
            i["id"] for i in RELATED_ITEMS if {"wheat", "drought"} & {t.casefold() for t in i["topics"]}
        ]
        assert all(ids.index(other) < ids.index("weak.md") for other in sharing if other in ids)


def test_duplicates_by_url_are_left_out(tmp_path: Path) -> None:
    table = [
        dict(item)
        for item in RELATED_ITEMS
        if item["id"] in ("base.md", "similar-strong.md", "similar-words.md")
    ]
    table.append(
        {
            **BY_ID["similar-strong.md"],
            "id": "dup-url.md",
            "webUrl": url_of("base.md"),
            "title": "Drought cuts the wheat harvest (updated)",
        }
    )
    table.append(
        {
            **BY_ID["similar-strong.md"],
            "id": "dup-url-of-similar.md",
            "webUrl": url_of("similar-strong.md"),
            "title": "Another headline",
        }
    )
    path = build_index(write_corpus(tmp_path / "corpus", table), tmp_path / "index")
    with SearchIndex.open(path) as index:
        similar = [hit.id for hit in index.related("base.md").related if hit.reason == "similar"]
    assert "dup-url.md" not in similar
    assert "similar-strong.md" in similar or "dup-url-of-similar.md" in similar
    assert not {"similar-strong.md", "dup-url-of-similar.md"} <= set(similar)


@pytest.mark.parametrize("ident", ["base.md", "similar-strong.md", "listed-in.md"])
def test_limit_keeps_the_first_items(related_index: SearchIndex, ident: str) -> None:
    full = related_index.related(ident, limit=100).related
    assert len(full) > 3
    for limit in range(1, len(full) + 2):
        assert related_index.related(ident, limit=limit).related == full[:limit]
    assert related_index.related(ident).related == full[:10]


@pytest.mark.parametrize("ident", ["similar-strong.md", "backlink-new.md", "listed-in.md"])
def test_lookup_by_id_or_url(related_index: SearchIndex, ident: str) -> None:
    by_id = related_index.related(ident, limit=20)
    by_url = related_index.related(url_of(ident), limit=20)
    assert by_id == by_url
    assert by_id.item.id == ident


@pytest.mark.parametrize("key", ["nope.md", "https://elsewhere.example/rainfall", "", "BASE.MD"])
def test_unknown_item(related_index: SearchIndex, key: str) -> None:
    with pytest.raises(ItemNotFoundError, match=re.escape(repr(key))):
        related_index.related(key)


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_invalid_limit(related_index: SearchIndex, limit: int) -> None:
    with pytest.raises(QueryError, match=f"invalid limit {limit}"):
        related_index.related("base.md", limit=limit)


def test_an_item_with_nothing_related(tmp_path: Path) -> None:
    table = [
        {"id": "alone.md", "title": "Xylophone recital", "excerpt": "Mallets"},
        {"id": "other.md", "title": "Tax forms", "excerpt": "Deadlines"},
    ]
    path = build_index(write_corpus(tmp_path / "corpus", table), tmp_path / "index")
    with SearchIndex.open(path) as index:
        assert index.related("alone.md").related == ()
    result = run_cli("related", "alone.md", "--index-dir", path)
    assert result.stdout.splitlines() == ["Related to: Xylophone recital", "nothing related found"]


# -- similar items across segments and index states ---------------------------------------------


def build_in_commits(root: Path, table: list[dict[str, Any]], first: int) -> Path:
    """An index of ``table`` (in id order, as a build reads a corpus): its first ``first`` items
    in one commit, then one commit per item, which leaves more than one segment."""
    ordered = sorted(table, key=lambda item: item["id"])
    corpus = write_corpus(root / "corpus", ordered[:first])
    path = build_index(corpus, root / "index")
    with SearchIndex.open(path) as index:
        for item in ordered[first:]:
            write_item(corpus, item)
            assert index.update(corpus).ok
        assert len(index._read()._refresh().reader().leaf_readers()) > 1
    return path


@pytest.mark.parametrize("candidates", [1, related_module.CANDIDATES])
def test_similar_items_do_not_depend_on_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, candidates: int
) -> None:
    # Key-term scores are read segment by segment (postings, field lengths) with whole-index
    # statistics (idf, average length): an index in several segments answers as one built in
    # one commit, also when so few candidates are kept that those scores decide which.
    monkeypatch.setattr(related_module, "CANDIDATES", candidates)
    one = build_index(write_corpus(tmp_path / "one-corpus", RELATED_ITEMS), tmp_path / "one-index")
    several = build_in_commits(tmp_path / "several", RELATED_ITEMS, first=4)
    with SearchIndex.open(one) as whole, SearchIndex.open(several) as split:
        for ident in BY_ID:
            for limit in (3, 8, 100):
                assert split.related(ident, limit=limit) == whole.related(ident, limit=limit)


def test_similar_items_do_not_depend_on_what_is_cached(
    related_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a reader keeps between calls (terms' scores, items' vectors) only saves time: with
    # room for one entry of each, every call evicts, and the answers stay the same.
    expected = {ident: related_index.related(ident, limit=100) for ident in BY_ID}
    monkeypatch.setattr(related_module, "SCORE_CACHE_SIZE", 1)
    monkeypatch.setattr(related_module, "VECTOR_CACHE_SIZE", 1)
    with SearchIndex.open(related_index.path) as index:
        for _ in range(2):
            for ident, want in expected.items():
                assert index.related(ident, limit=100) == want


def test_similar_items_follow_index_changes(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", RELATED_ITEMS)
    path = build_index(corpus, tmp_path / "index")
    with SearchIndex.open(path) as index:
        before = [hit.id for hit in index.related("base.md", limit=100).related if hit.reason == "similar"]
        assert {"similar-strong.md", "similar-words.md"} <= set(before)
        # A new item with base.md's words and topics, one rewritten to share none, one removed.
        write_item(
            corpus,
            {
                **BY_ID["similar-strong.md"],
                "id": "late-copy.md",
                "title": "Growers tally a dry season",
                "provider": farm("Late Wire"),
            },
        )
        write_item(
            corpus,
            {
                "id": "similar-words.md",
                "title": "Orchestra tours the coast",
                "topics": ["Music"],
                "provider": farm("Grain Times"),
                "publishedDateTime": "2022-07-01T08:00:00Z",
                "excerpt": "Violins and cellos on stage.",
            },
        )
        (corpus / "similar-strong.md").unlink()
        assert index.update(corpus).ok
        after = index.related("base.md", limit=100)
        # An index that stayed open (and kept what it read before) answers as a fresh one.
        with SearchIndex.open(path) as fresh:
            assert fresh.related("base.md", limit=100) == after
    similar = [hit.id for hit in after.related if hit.reason == "similar"]
    assert similar[0] == "late-copy.md"
    assert "similar-strong.md" not in similar and "similar-words.md" not in similar


# -- the sample corpus ------------------------------------------------------------------------------


def front_matter(path: Path) -> dict[str, Any]:
    _, head, _ = path.read_text(encoding="utf-8").split("---\n", 2)
    loaded: dict[str, Any] = yaml.safe_load(head)
    return loaded


EXAMPLE = "000_7a2d62335e847ca6.txt"


def test_sample_corpus_example_item(sample_index_dir: Path) -> None:
    raw = {
        p.relative_to(SAMPLE_CORPUS).as_posix(): front_matter(p)
        for p in SAMPLE_CORPUS.rglob("*")
        if p.is_file() and p.suffix in (".md", ".txt")
    }
    example = raw[EXAMPLE]
    urls = {meta.get("webUrl"): ident for ident, meta in raw.items()}
    entries = example["related"]
    assert all(entry["webUrl"] not in urls for entry in entries)  # every one dangles
    linking = sorted(
        (
            ident
            for ident, meta in raw.items()
            if any(e.get("webUrl") == example["webUrl"] for e in meta.get("related") or [])
        ),
        key=lambda ident: -entry_time(raw[ident]).timestamp(),
    )  # type: ignore[union-attr]
    assert set(linking) == {
        "world/021-facial-recognition-railway-stations.md",
        "world/025-kyiv-metro-video-analytics.md",
    }

    with SearchIndex.open(sample_index_dir) as index:
        result = index.related(EXAMPLE, limit=10)
    assert result.item.id == EXAMPLE
    hits = list(result.related)
    listed = hits[: len(entries)]
    for hit, entry in zip(listed, entries, strict=False):
        assert (hit.reason, hit.id, hit.in_index, hit.url, hit.title) == (
            "listed",
            None,
            False,
            entry["webUrl"],
            entry["title"],
        )
        assert hit.provider.name == entry["provider"]["name"]
        assert hit.published_at == entry_time(entry)
    backlinks = hits[len(entries) : len(entries) + len(linking)]
    assert [(hit.reason, hit.id) for hit in backlinks] == [("backlink", ident) for ident in linking]
    similar = hits[len(entries) + len(linking) :]
    assert similar and all(hit.reason == "similar" and hit.in_index for hit in similar)
    assert len(hits) == 10
    assert not {EXAMPLE, *linking} & {hit.id for hit in similar}
    # The closest items share a topic with the example (Computer Vision, AI).
    topics = {t.casefold() for t in example["topics"]}
    top = similar[:3]
    assert all(topics & {str(t).casefold() for t in raw[hit.id or ""].get("topics") or []} for hit in top)


# -- the command line ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def related_index_dir(related_index: SearchIndex) -> Path:
    return related_index.path


def test_cli_related_json(related_index_dir: Path, related_index: SearchIndex) -> None:
    result = run_cli("related", "base.md", "--limit", "9", "--json", "--index-dir", related_index_dir)
    assert result.code == 0, result.stderr
    data = result.json
    assert set(data) == {"item", "related"}
    assert data["item"]["id"] == "base.md" and data["item"]["title"] == BY_ID["base.md"]["title"]
    assert len(data["related"]) == 9
    for entry in data["related"]:
        assert set(entry) == RELATED_KEYS
        assert set(entry["provider"]) == {"name", "domain"}
        assert (entry["score"] is None) == (entry["reason"] != "similar")
        assert entry["reason"] in ("listed", "backlink", "same_story", "similar")
    head = expected_before_similar(RELATED_ITEMS, "base.md")
    for entry, want in zip(data["related"], head, strict=False):
        assert (entry["id"], entry["url"], entry["title"], entry["reason"], entry["in_index"]) == (
            want["id"],
            want["url"],
            want["title"],
            want["reason"],
            want["in_index"],
        )
        moment = want["published_at"]
        assert entry["published_at"] == (None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert {k: v for k, v in entry["provider"].items() if v} == provider_of(want)
    outside = data["related"][1]
    assert (outside["id"], outside["in_index"], outside["title"]) == (None, False, OUTSIDE["title"])
    # The same as the API, hit for hit.
    api = related_index.related("base.md", limit=9)
    assert data == api.to_dict()


def test_cli_related_text(related_index_dir: Path) -> None:
    result = run_cli("related", url_of("base.md"), "--limit", "5", "--index-dir", related_index_dir)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    head = expected_before_similar(RELATED_ITEMS, "base.md")[:5]
    assert lines[0] == f"Related to: {BY_ID['base.md']['title']}"
    assert len(lines) == 1 + 2 * len(head)
    pairs = zip(lines[1::2], lines[2::2], strict=False)
    for rank, (entry, (title_line, meta_line)) in enumerate(zip(head, pairs, strict=False), 1):
        outside = "" if entry["in_index"] else " (not in the index)"
        assert title_line == f"{rank:>3}. {entry['title']}{outside}"
        moment = entry["published_at"]
        provider = entry["provider"].get("name") or entry["provider"].get("domain") or "unknown provider"
        parts = [entry["reason"], provider, moment.date().isoformat() if moment else "undated"]
        assert meta_line == "     " + " · ".join(parts) + " · " + (entry["url"] or entry["id"] or "")


def test_cli_unknown_item(related_index_dir: Path) -> None:
    result = run_cli("related", "nope.md", "--index-dir", related_index_dir)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["Error: no item with id or url 'nope.md' in the index"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_cli_bad_limit_is_a_usage_error(related_index_dir: Path, limit: str) -> None:
    result = run_cli("related", "base.md", "--limit", limit, "--index-dir", related_index_dir)
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "--limit" in result.stderr


def test_cli_related_without_an_index(tmp_path: Path) -> None:
    result = run_cli("related", "base.md", "--index-dir", tmp_path / "none")
    assert result.code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")


def test_a_key_term_brings_the_items_where_it_scores_highest(
    related_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each key term counts for its TERM_CANDIDATES best items only (the cost of a lookup
    # would grow with the corpus otherwise): those are the items where its BM25 score is
    # highest, and they are all of them when fewer hold it.
    from searchkit.cache import IndexCaches
    from searchkit.postings import Norms, Postings, bm25_scores

    monkeypatch.setattr(related_module, "TERM_CANDIDATES", 2)
    searcher = related_index._read()._refresh()
    cache = related_module.RelatedCache(IndexCaches())
    cut = 0
    for term in ("wheat", "drought", "farmer", "soil", "yield"):
        every = bm25_scores(searcher, Norms(), Postings(searcher.reader()), "content", term)
        assert every is not None and len(every[0]) > 0
        scores = dict(zip(*every, strict=True))
        docs, kept = cache.term_scores(searcher, term)
        assert list(docs) == sorted(docs)
        assert len(docs) == min(2, len(scores))
        assert [scores[doc] for doc in docs] == list(kept)
        left_out = [score for doc, score in scores.items() if doc not in set(docs)]
        assert all(score <= min(kept) for score in left_out)
        cut += bool(left_out)
    assert cut >= 2  # the test corpus has terms in more items than are kept


# -- what a user listed is never dropped for its headline ----------------------------------------

RATES_TITLE = "CENTRAL BANK SETS LIRA/DOLLAR, DM RATES"
RATES = [  # one headline every day, each day's figures and words its own
    {
        "id": f"rates-{day}.md",
        "title": RATES_TITLE,
        "provider": {"name": "Reuters", "domain": "reuters.com"},
        "topics": ["money-fx"],
        "publishedDateTime": f"1987-03-{day:02d}T10:00:00Z",
        "excerpt": f"The central bank set the lira at {1290 + day} to the dollar.",
        "body": f"{words} The previous rate was {1280 + day}.",
        "related": related,
    }
    for day, words, related in [
        (
            2,
            "Dealers said demand for marks was steady in thin trading.",
            [link("rates-3.md"), link("rates-4.md")],
        ),
        (3, "Importers bought dollars early after a weak opening in Milan.", []),
        (4, "Exporters sold marks as the treasury auction drew bids.", [link("rates-2.md")]),
        (5, "Banks held back ahead of the weekend and the budget vote.", [link("rates-2.md")]),
    ]
]


def test_listed_entries_and_backlinks_with_the_items_headline_are_kept(tmp_path: Path) -> None:
    path = build_index(write_corpus(tmp_path / "corpus", RATES), tmp_path / "index")
    with SearchIndex.open(path) as index:
        result = index.related("rates-2.md", limit=100)
    head = [(hit.id, hit.reason) for hit in result.related if hit.reason != "similar"]
    # Both listed reports in their order, then rates-5 (rates-4 links back but is listed).
    assert head == [("rates-3.md", "listed"), ("rates-4.md", "listed"), ("rates-5.md", "backlink")]
    assert all(hit.title == RATES_TITLE for hit in result.related)


def test_similar_items_leave_out_copies_by_content_not_by_headline(tmp_path: Path) -> None:
    copy = {
        **RATES[1],
        "id": "rates-3-resent.md",
        "title": "CORRECTED - " + RATES_TITLE,
        "publishedDateTime": "1987-03-03T11:00:00Z",
        "related": [],
    }  # the same report re-sent an hour later under another headline
    items = [{**item, "related": []} for item in RATES] + [copy]
    path = build_index(write_corpus(tmp_path / "corpus", items), tmp_path / "index")
    with SearchIndex.open(path) as index:
        related = index.related("rates-3.md", limit=100).related
    similar = [hit.id for hit in related if hit.reason == "similar"]
    # The other days' reports share the headline but not the text: similar, and kept.
    assert {"rates-2.md", "rates-4.md", "rates-5.md"} <= set(similar)
    # The copy is the same story, flagged as a copy, and not "similar".
    assert [(h.id, h.duplicate_of) for h in related if h.reason == "same_story"] == [
        ("rates-3-resent.md", "rates-3.md")
    ]


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(
        text.split("\n---", 1)[0].removeprefix("---"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )
    return data


def test_reuters_listed_entries_come_back_whole_and_in_order(
    reuters_index: Any, reuters_corpus: Path
) -> None:
    _report, path = reuters_index
    files = {p.name: _front_matter(p) for p in sorted(reuters_corpus.glob("*.md"))}
    url_to_id = {meta["webUrl"]: name for name, meta in files.items()}
    linking: dict[str, list[str]] = {}
    for name, meta in files.items():
        for entry in meta.get("related") or []:
            target = url_to_id.get(entry.get("webUrl", ""))
            if target is not None:
                linking.setdefault(target, []).append(name)
    # Items whose listed entries or backlinks share the item's headline are the ones the old rule
    # cut short; take them all, then a fixed sample of the rest.
    same_headline = [
        name
        for name, meta in files.items()
        if any(
            files[url_to_id[e["webUrl"]]]["title"] == meta["title"]
            for e in meta.get("related") or []
            if e.get("webUrl") in url_to_id
        )
        or any(files[other]["title"] == meta["title"] for other in linking.get(name, ()))
    ]
    assert len(same_headline) >= 5
    sample = same_headline[:: max(1, len(same_headline) // 60)] + sorted(files)[::1000]
    with SearchIndex.open(path) as index:
        for name in sample:
            meta = files[name]
            listed = []
            for entry in meta.get("related") or []:
                url = entry.get("webUrl", "")
                if url != meta["webUrl"] and url not in listed:
                    listed.append(url)
            # Room for every listed entry and backlink (and a similar item or so after them).
            found = index.related(name, limit=len(listed) + len(linking.get(name, ())) + 1).related
            assert [hit.url for hit in found if hit.reason == "listed"] == listed, name
            backlinks = {url_to_id.get(hit.url) for hit in found if hit.reason == "backlink"}
            listed_ids = {url_to_id.get(url) for url in listed}
            assert backlinks == set(linking.get(name, ())) - listed_ids, name
