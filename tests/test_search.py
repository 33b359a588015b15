"""The read side: filters, sorting, pagination, query syntax, highlights, ranking, get and info.

Every expectation is computed from the test corpus table (``conftest.ITEMS``), never copied from
the program's output. Scores are never compared with fixed numbers (ranking is tuned
elsewhere); only orderings that any sane ranking gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, ids, mentions, newest_key, url_of, when, write_corpus

from searchkit import ItemNotFoundError, QueryError, SearchIndex

ALL = 1000  # a page size that holds the whole test corpus

Item = dict[str, Any]


def by_id(item_id: str) -> Item:
    return next(item for item in ITEMS if item["id"] == item_id)


def hit_ids(index: SearchIndex, query: str = "", **options: Any) -> list[str]:
    return [hit.id for hit in index.search(query, limit=ALL, **options).hits]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def dated_between(start: str | None, end: str | None) -> Callable[[Item], bool]:
    """Items whose date lies in [start, end] (ISO times, inclusive); undated items never do."""

    def test(item: Item) -> bool:
        moment = when(item)
        if moment is None:
            return False
        return (start is None or moment >= utc(start)) and (end is None or moment <= utc(end))

    return test


def has_topic(*wanted: str) -> Callable[[Item], bool]:
    folded = {w.casefold() for w in wanted}
    return lambda item: any(t.casefold() in folded for t in item.get("topics", []))


def from_provider(*wanted: str) -> Callable[[Item], bool]:
    folded = {w.casefold() for w in wanted}
    return lambda item: item["provider"]["name"].casefold() in folded


# -- filters ------------------------------------------------------------------------------

FILTERS: list[tuple[str, dict[str, Any], Callable[[Item], bool]]] = [
    ("topic exact case", {"topics": "AI"}, has_topic("ai")),
    ("topic other case", {"topics": ["ai"]}, has_topic("ai")),
    ("topic upper case", {"topics": ["CLIMATE"]}, has_topic("climate")),
    ("topic with a space", {"topics": "computer vision"}, has_topic("computer vision")),
    ("topics any of", {"topics": ["Climate", "politics"]}, has_topic("climate", "politics")),
    ("provider", {"providers": "tech daily"}, from_provider("tech daily")),
    (
        "providers any of",
        {"providers": ["WORLD WIRE", "Daily Column"]},
        from_provider("world wire", "daily column"),
    ),
    ("category", {"category": "analysis"}, lambda i: i["category"] == "analysis"),
    ("category any case", {"category": "OPINION"}, lambda i: i["category"] == "opinion"),
    ("type", {"type": "video"}, lambda i: i["type"] == "video"),
    ("type podcast", {"type": "Podcast"}, lambda i: i["type"] == "podcast"),
    ("since a day", {"since": "2022-01-01"}, dated_between("2022-01-01T00:00:00Z", None)),
    # A YYYY-MM-DD `until` includes that whole day (the item at 18:00 on it).
    ("until a day", {"until": "2021-11-13"}, dated_between(None, "2021-11-13T23:59:59.999999Z")),
    (
        "since and until",
        {"since": "2020-03-04", "until": "2022-04-01"},
        dated_between("2020-03-04T00:00:00Z", "2022-04-01T23:59:59.999999Z"),
    ),
    (
        "since an exact time (inclusive)",
        {"since": "2021-08-09T08:58:00Z"},
        dated_between("2021-08-09T08:58:00Z", None),
    ),
    ("since a second later", {"since": "2021-08-09T08:58:01Z"}, dated_between("2021-08-09T08:58:01Z", None)),
    (
        "until a time with an offset",
        {"until": "2022-06-30T10:00:00+02:00"},
        dated_between(None, "2022-06-30T08:00:00Z"),
    ),
    (
        "until a second earlier",
        {"until": "2022-06-30T09:59:59+02:00"},
        dated_between(None, "2022-06-30T07:59:59Z"),
    ),
    ("since a date object", {"since": date(2023, 1, 1)}, dated_between("2023-01-01T00:00:00Z", None)),
    (
        "until a datetime object",
        {"until": datetime(2020, 3, 3, 3, 0, tzinfo=timezone.utc)},
        dated_between(None, "2020-03-03T03:00:00Z"),
    ),
    ("min quality", {"min_quality": 70}, lambda i: i.get("quality") is not None and i["quality"] >= 70),
    ("min quality 0 drops items without quality", {"min_quality": 0}, lambda i: i.get("quality") is not None),
    ("min heat 0 drops heat -1", {"min_heat": 0}, lambda i: i["heat"] >= 0),
    ("min heat 100", {"min_heat": 100}, lambda i: i["heat"] >= 100),
    ("min heat -1 keeps all", {"min_heat": -1}, lambda i: True),
]


@pytest.mark.parametrize(
    ("options", "expected"), [(o, e) for _, o, e in FILTERS], ids=[name for name, _, _ in FILTERS]
)
def test_filter(index: SearchIndex, options: dict[str, Any], expected: Callable[[Item], bool]) -> None:
    wanted = ids(item for item in ITEMS if expected(item))
    assert wanted, "a filter case must select something"
    results = index.search("", limit=ALL, **options)
    assert {hit.id for hit in results.hits} == wanted
    assert results.total == len(wanted)


COMBINED: list[tuple[dict[str, Any], list[Callable[[Item], bool]]]] = [
    (
        {"topics": ["climate", "energy"], "providers": "green post"},
        [has_topic("climate", "energy"), from_provider("green post")],
    ),
    (
        {"topics": ["climate", "energy"], "providers": "green post", "since": "2021-01-01", "min_heat": 100},
        [
            has_topic("climate", "energy"),
            from_provider("green post"),
            dated_between("2021-01-01T00:00:00Z", None),
            lambda i: i["heat"] >= 100,
        ],
    ),
    (
        {"category": "news", "type": "article", "min_quality": 60, "until": "2022-12-31"},
        [
            lambda i: i["category"] == "news",
            lambda i: i["type"] == "article",
            lambda i: (i.get("quality") or -1) >= 60,
            dated_between(None, "2022-12-31T23:59:59Z"),
        ],
    ),
    (
        {"topics": "science", "providers": ["world wire"], "min_heat": 0},
        [has_topic("science"), from_provider("world wire"), lambda i: i["heat"] >= 0],
    ),
]


@pytest.mark.parametrize(("options", "tests"), COMBINED)
def test_filters_combine_with_and(
    index: SearchIndex, options: dict[str, Any], tests: list[Callable[[Item], bool]]
) -> None:
    wanted = ids(item for item in ITEMS if all(test(item) for test in tests))
    assert wanted
    # Each filter alone must select more, or the case proves nothing about AND.
    assert any(len({i["id"] for i in ITEMS if t(i)}) > len(wanted) for t in tests)
    assert set(hit_ids(index, **options)) == wanted


def test_filters_narrow_a_query(index: SearchIndex) -> None:
    wanted = ids(i for i in ITEMS if mentions(i, "solar", "climat") and has_topic("energy")(i))
    assert set(hit_ids(index, "solar climate", topics="energy")) == wanted


RELATIVE_AGES = {
    "age-1h": timedelta(hours=1),
    "age-30h": timedelta(hours=30),
    "age-3d": timedelta(days=3),
    "age-10d": timedelta(days=10),
    "age-400d": timedelta(days=400),
}


@pytest.fixture(scope="module")
def recent_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    """Items dated relative to now, for ``7d``/``24h`` spans."""
    now = datetime.now(timezone.utc)
    table = [
        {
            "id": f"{name}.md",
            "title": f"Item {name}",
            "heat": -1,
            "publishedDateTime": (now - age).isoformat(),
        }
        for name, age in RELATIVE_AGES.items()
    ]
    table.append({"id": "undated.md", "title": "Undated item"})
    root = tmp_path_factory.mktemp("recent")
    with SearchIndex.create(root / "index") as index:
        index.update(write_corpus(root / "corpus", table))
        yield index


@pytest.mark.parametrize(
    ("options", "within"),
    [
        ({"since": "24h"}, lambda age: age <= timedelta(hours=24)),
        ({"since": "90m"}, lambda age: age <= timedelta(minutes=90)),
        ({"since": "7d"}, lambda age: age <= timedelta(days=7)),
        ({"since": "2w"}, lambda age: age <= timedelta(weeks=2)),
        ({"since": "48H"}, lambda age: age <= timedelta(hours=48)),
        ({"until": "7d"}, lambda age: age >= timedelta(days=7)),
        ({"since": "30d", "until": "2d"}, lambda age: timedelta(days=2) <= age <= timedelta(days=30)),
    ],
)
def test_relative_spans(
    recent_index: SearchIndex, options: dict[str, str], within: Callable[[timedelta], bool]
) -> None:
    wanted = {f"{name}.md" for name, age in RELATIVE_AGES.items() if within(age)}
    assert wanted
    assert set(hit_ids(recent_index, **options)) == wanted


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("climate energy solar", {"topics": "energy"}),
        ("climate energy solar", {"providers": "world wire"}),
        ("earthquake volcano", {"min_heat": 0}),
        ("earthquake volcano", {"since": "2020-03-04"}),
        ("faces recognition", {"type": "video", "min_quality": 10}),
    ],
)
def test_filters_do_not_change_scores(index: SearchIndex, query: str, options: dict[str, Any]) -> None:
    unfiltered = {hit.id: hit.score for hit in index.search(query, limit=ALL).hits}
    filtered = index.search(query, limit=ALL, **options).hits
    assert filtered and len(filtered) < len(unfiltered)
    for hit in filtered:
        assert hit.score == unfiltered[hit.id]


# -- sorting ------------------------------------------------------------------------------


def oldest_key(item: Item) -> tuple[int, float]:
    moment = when(item)
    return (1, 0.0) if moment is None else (0, moment.timestamp())


SORT_KEYS: dict[str, Callable[[Item], Any]] = {
    # Ties (the twins' equal quality and heat) go to the newest; undated items come last.
    "newest": lambda i: (newest_key(i), i["id"]),
    "oldest": lambda i: (oldest_key(i), i["id"]),
    "quality": lambda i: (i.get("quality") is None, -(i.get("quality") or 0), newest_key(i), i["id"]),
    "heat": lambda i: (-i["heat"], newest_key(i), i["id"]),
}


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
def test_sort_without_query(index: SearchIndex, sort: str) -> None:
    expected = [i["id"] for i in sorted(ITEMS, key=SORT_KEYS[sort])]
    assert hit_ids(index, sort=sort) == expected


def test_default_sort_without_query_is_newest(index: SearchIndex) -> None:
    expected = [i["id"] for i in sorted(ITEMS, key=SORT_KEYS["newest"])]
    assert hit_ids(index) == expected
    assert hit_ids(index, "*") == expected
    # Relevance without a query: every item scores the same, so the newest come first.
    assert hit_ids(index, sort="relevance") == expected


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
def test_sort_with_query(index: SearchIndex, sort: str) -> None:
    matching = [i for i in ITEMS if mentions(i, "climat", "energ", "solar", "scienc")]
    expected = [i["id"] for i in sorted(matching, key=SORT_KEYS[sort])]
    assert hit_ids(index, "climate energy solar science", sort=sort) == expected


def test_relevance_is_the_default_with_a_query(index: SearchIndex) -> None:
    hits = index.search("solar battery", limit=ALL).hits
    assert hits == index.search("solar battery", limit=ALL, sort="relevance").hits
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_relevance_ties_go_to_the_newest(index: SearchIndex) -> None:
    twins = [i for i in ITEMS if i["id"].startswith("twins/")]
    assert len({(i["title"], i["excerpt"]) for i in twins}) == 1  # the same text
    hits = index.search("earthquake villages", limit=ALL).hits
    assert hits[0].score == hits[1].score
    assert [h.id for h in hits] == [i["id"] for i in sorted(twins, key=newest_key)]


# -- pagination ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "options", "limit"),
    [
        ("", {}, 4),
        ("", {"sort": "heat"}, 5),
        ("", {"sort": "oldest"}, 1),
        ("climate energy solar science", {}, 3),
        ("", {"topics": ["ai", "climate"]}, 2),
    ],
)
def test_pages_partition_the_results(
    index: SearchIndex, query: str, options: dict[str, Any], limit: int
) -> None:
    everything = hit_ids(index, query, **options)
    pages = []
    page = 1
    while True:
        results = index.search(query, limit=limit, page=page, **options)
        assert results.total == len(everything)
        assert (results.page, results.page_size) == (page, limit)
        if not results.hits:
            break
        assert len(results.hits) == min(limit, len(everything) - (page - 1) * limit)
        pages.append([hit.id for hit in results.hits])
        page += 1
    assert len(pages) == -(-len(everything) // limit) > 1
    assert [hit for chunk in pages for hit in chunk] == everything


def test_page_past_the_end_is_empty(index: SearchIndex) -> None:
    results = index.search("", limit=10, page=50)
    assert results.hits == ()
    assert results.total == len(ITEMS)


def test_total_counts_every_match_not_the_page(index: SearchIndex) -> None:
    results = index.search("", limit=3)
    assert len(results.hits) == 3
    assert results.total == len(ITEMS)


@pytest.mark.parametrize("query", ["", "*", "   ", " * "])
def test_empty_query_matches_everything(index: SearchIndex, query: str) -> None:
    assert set(hit_ids(index, query)) == ids(ITEMS)


# -- query syntax -------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def phrase_in(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {' '.join(words(text))} "


def full_text(item: Item) -> str:
    return " ".join([item["title"], " ".join(item["topics"]), item["excerpt"], item.get("body", "")])


SYNTAX: list[tuple[str, Callable[[Item], bool]]] = [
    ("solar", lambda i: mentions(i, "solar")),
    ('"facial recognition"', lambda i: phrase_in(full_text(i), "facial recognition")),
    ('"coastal town"', lambda i: phrase_in(full_text(i), "coastal town")),
    ("solar AND battery", lambda i: mentions(i, "solar") and mentions(i, "batter")),
    ("solar battery", lambda i: mentions(i, "solar", "batter")),
    ("volcano OR earthquake", lambda i: mentions(i, "volcano", "earthquake")),
    ("solar NOT battery", lambda i: mentions(i, "solar") and not mentions(i, "batter")),
    ("solar AND NOT battery", lambda i: mentions(i, "solar") and not mentions(i, "batter")),
    (
        "(volcano OR earthquake) NOT overnight",
        lambda i: mentions(i, "volcano", "earthquake") and not mentions(i, "overnight"),
    ),
    ("NOT solar", lambda i: not mentions(i, "solar")),
    ("title:solar", lambda i: "solar" in words(i["title"])),
    ('title:"coastal town"', lambda i: phrase_in(i["title"], "coastal town")),
    ("title:volcano", lambda i: "volcano" in words(i["title"])),
    ("topics:ai", lambda i: any("ai" in words(t) for t in i["topics"])),
    ("topics:vision", lambda i: any("vision" in words(t) for t in i["topics"])),
    ('topics:"computer vision"', has_topic("computer vision")),
    ("provider:green", lambda i: "green" in words(i["provider"]["name"])),
    ("source:wire", lambda i: "wire" in words(i["provider"]["name"])),
    # The body has no field of its own: body: (and text:) search the whole text.
    ("body:volcano", lambda i: mentions(i, "volcano")),
    ("text:volcano", lambda i: mentions(i, "volcano")),
    ("excerpt:residents", lambda i: "residents" in words(i["excerpt"])),
    ("sol*", lambda i: any(w.startswith("sol") for w in words(full_text(i)))),
    ("elect*", lambda i: any(w.startswith("elect") for w in words(full_text(i)))),
    ("volcanoe~", lambda i: mentions(i, "volcano")),
    ("glaciar~", lambda i: mentions(i, "glacier")),
    ("quality:[70 TO]", lambda i: (i.get("quality") or -1) >= 70),
    ("quality:[50 TO 60]", lambda i: i.get("quality") is not None and 50 <= i["quality"] <= 60),
    ("quality:>=70", lambda i: (i.get("quality") or -1) >= 70),
    ("heat:[100 TO]", lambda i: i["heat"] >= 100),
    ("heat:[-1 TO -1]", lambda i: i["heat"] == -1),
    ("date:[2021 TO 2022]", dated_between("2021-01-01T00:00:00Z", "2022-12-31T23:59:59.999999Z")),
    ("published_at:[2021 TO 2022]", dated_between("2021-01-01T00:00:00Z", "2022-12-31T23:59:59.999999Z")),
    ("date:2023", dated_between("2023-01-01T00:00:00Z", "2023-12-31T23:59:59.999999Z")),
    ("date:[2023-05-01 TO 2023-09-30]", dated_between("2023-05-01T00:00:00Z", "2023-09-30T23:59:59.999999Z")),
    ("date:2023-05-05", dated_between("2023-05-05T00:00:00Z", "2023-05-05T23:59:59.999999Z")),
    ("date:[20200304 TO 20210809]", dated_between("2020-03-04T00:00:00Z", "2021-08-09T23:59:59.999999Z")),
    (
        "solar AND date:[2023-06-01 TO]",
        lambda i: mentions(i, "solar") and dated_between("2023-06-01T00:00:00Z", None)(i),
    ),
    ("category:analysis", lambda i: i["category"] == "analysis"),
]


@pytest.mark.parametrize(("query", "expected"), SYNTAX, ids=[q for q, _ in SYNTAX])
def test_query_syntax(index: SearchIndex, query: str, expected: Callable[[Item], bool]) -> None:
    wanted = ids(i for i in ITEMS if expected(i))
    assert wanted, "a syntax case must match something"
    results = index.search(query, limit=ALL)
    assert {hit.id for hit in results.hits} == wanted
    assert results.total == len(wanted)


@pytest.mark.parametrize(
    "query",
    [
        '"facial recognition',  # a stray quote
        "(solar",
        "solar)",
        "<MIRTONE INTERNATIONAL INC> 1ST QTR",  # a Reuters title: a leading '<'
        "solar (<battery>)",
        "title:",
        "AND",
        "unknownfield:solar",
    ],
)
def test_free_text_is_parsed_leniently(index: SearchIndex, query: str) -> None:
    index.search(query)  # no exception


@pytest.mark.parametrize("query", ["quality:[abc TO]", "heat:[x TO y]", "date:[garbage TO]"])
def test_invalid_query_raises_query_error(index: SearchIndex, query: str) -> None:
    with pytest.raises(QueryError, match="cannot parse query"):
        index.search(query)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sort": "bogus"}, "invalid sort 'bogus'"),
        ({"sort": "Newest"}, "invalid sort"),
        ({"limit": 0}, "invalid limit 0"),
        ({"limit": -5}, "invalid limit"),
        ({"limit": 1001}, "invalid limit 1001"),
        ({"page": 0}, "invalid page 0"),
        ({"since": "garbage"}, "invalid date 'garbage'"),
        ({"until": "2021-13-45"}, "invalid date"),
        ({"since": "7 days ago"}, "invalid date"),
    ],
)
def test_invalid_arguments_raise_query_error(
    index: SearchIndex, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        index.search("solar", **options)


# -- highlights ---------------------------------------------------------------------------

MARK = re.compile(r"<mark>(.*?)</mark>")


def hit_for(index: SearchIndex, query: str, item_id: str):  # type: ignore[no-untyped-def]
    return next(hit for hit in index.search(query, limit=ALL).hits if hit.id == item_id)


def unmarked(text: str) -> str:
    return text.replace("<mark>", "").replace("</mark>", "")


def test_highlights_mark_matched_words_in_title_and_excerpt(index: SearchIndex) -> None:
    item = by_id("tech/solar-battery.md")
    hit = hit_for(index, "solar battery", item["id"])
    assert unmarked(hit.highlights.title) == item["title"]
    assert unmarked(hit.highlights.excerpt) == item["excerpt"]
    assert MARK.findall(hit.highlights.title) == ["Solar", "battery"]
    assert MARK.findall(hit.highlights.excerpt) == ["battery", "solar"]
    # The hit's own fields stay plain.
    assert (hit.title, hit.excerpt) == (item["title"], item["excerpt"])


def test_highlights_mark_stemmed_variants_in_their_own_spelling(index: SearchIndex) -> None:
    # "elections" and "Election" share the English stem "elect".
    night = hit_for(index, "elections", "world/election-night.md")
    assert MARK.findall(night.highlights.title) == ["Election"]
    year = hit_for(index, "elections", "world/elections-record-year.md")
    assert MARK.findall(year.highlights.title) == ["elections"]
    glacier = hit_for(index, "glacier", "world/glacier-drones.md")
    assert MARK.findall(glacier.highlights.title) == ["glaciers"]


def test_porter_stemming_keeps_recognize_and_recognition_apart(index: SearchIndex) -> None:
    # The analyzer is English (Porter) stemming, not lemmatisation: "recognize" -> "recogn",
    # "recognition" -> "recognit". So a search for "recognized" finds and highlights
    # "recognize", and does not touch "recognition".
    found = index.search("recognized", limit=ALL).hits
    assert [hit.id for hit in found] == ["tech/recognize-faces-primer.md"]
    assert MARK.findall(found[0].highlights.title) == ["recognize"]
    assert "recognition" not in " ".join(
        MARK.findall(
            hit_for(index, "recognized facial", "tech/facial-recognition-rules.md").highlights.excerpt
        )
    )


def test_snippet_falls_back_to_the_body(index: SearchIndex) -> None:
    item = by_id("world/glacier-drones.md")
    assert not mentions({**item, "title": "", "topics": [], "body": ""}, "glacier")
    hit = hit_for(index, "glacier", item["id"])
    assert "<mark>glacier</mark>" in hit.highlights.excerpt
    assert "lost two metres of ice" in hit.highlights.excerpt
    body_only = hit_for(index, "volcano", "ranking/volcano-body.md")
    assert "<mark>volcano</mark>" in body_only.highlights.excerpt
    assert body_only.highlights.title == by_id("ranking/volcano-body.md")["title"]


def test_snippet_is_the_plain_excerpt_when_only_the_title_matches(index: SearchIndex) -> None:
    item = by_id("ranking/volcano-title.md")
    hit = hit_for(index, "volcano", item["id"])
    assert hit.highlights.title == f"<mark>Volcano</mark>{item['title'][len('Volcano') :]}"
    assert hit.highlights.excerpt == item["excerpt"]


def test_match_all_highlights_nothing(index: SearchIndex) -> None:
    for hit in index.search("", limit=ALL).hits:
        assert "<mark>" not in hit.highlights.title + hit.highlights.excerpt
        assert hit.highlights.title == hit.title


# -- ranking ------------------------------------------------------------------------------


def test_title_match_outranks_body_only_match(index: SearchIndex) -> None:
    title, body = by_id("ranking/volcano-title.md"), by_id("ranking/volcano-body.md")
    assert "volcano" in words(title["title"]) and "volcano" not in words(body["title"])
    assert "volcano" in words(body["body"])
    hits = index.search("volcano").hits
    assert [hit.id for hit in hits] == [title["id"], body["id"]]
    assert hits[0].score > hits[1].score


@pytest.mark.parametrize(
    ("query", "more", "fewer"),
    [
        ("solar battery", "tech/solar-battery.md", "tech/solar-prices.md"),
        ("solar power peak", "tech/solar-battery.md", "world/heatwave-grid.md"),
        ("earthquake mountain volcano", "twins/quake-b.md", "ranking/volcano-title.md"),
    ],
)
def test_more_query_words_outrank_fewer(index: SearchIndex, query: str, more: str, fewer: str) -> None:
    def matched(item_id: str) -> int:
        return sum(mentions(by_id(item_id), w) for w in query.split())

    assert matched(more) > matched(fewer) > 0
    order = hit_ids(index, query)
    assert more in order
    assert fewer not in order or order.index(more) < order.index(fewer)


def test_sample_corpus_ranks_the_example_item_first(sample_index_dir: Path) -> None:
    with SearchIndex.open(sample_index_dir) as index:
        top = index.search("China's top court specifies rules for facial recognition").hits[0]
    assert top.id == "000_7a2d62335e847ca6.txt"


# -- get and info -------------------------------------------------------------------------


@pytest.mark.parametrize("item", ITEMS, ids=[i["id"] for i in ITEMS])
def test_get_by_id_and_by_url(index: SearchIndex, item: Item) -> None:
    by_path = index.get(item["id"])
    assert by_path == index.get(url_of(item["id"]))
    assert by_path.id == item["id"]
    assert by_path.url == url_of(item["id"])
    assert by_path.title == item["title"]
    assert by_path.excerpt == item["excerpt"]
    assert by_path.body == item.get("body", "")
    assert by_path.topics == tuple(item["topics"])
    assert (by_path.provider.name, by_path.provider.domain) == (
        item["provider"]["name"],
        item["provider"]["domain"],
    )
    assert (by_path.category, by_path.type) == (item["category"], item["type"])
    assert by_path.published_at == when(item)
    assert by_path.quality == item.get("quality")
    assert by_path.heat == item["heat"]


@pytest.mark.parametrize("key", ["nope.md", "tech", "https://news.example.org/nope", ""])
def test_get_unknown_item_raises(index: SearchIndex, key: str) -> None:
    with pytest.raises(ItemNotFoundError, match="no item with id or url"):
        index.get(key)


def test_hits_carry_the_items_fields(index: SearchIndex) -> None:
    for hit in index.search("", limit=ALL).hits:
        item = by_id(hit.id)
        assert hit.url == url_of(item["id"])
        assert hit.topics == tuple(item["topics"])
        assert hit.provider.name == item["provider"]["name"]
        assert hit.published_at == when(item)
        assert (hit.quality, hit.heat) == (item.get("quality"), item["heat"])


def test_info(index: SearchIndex, index_dir: Path, corpus_dir: Path) -> None:
    info = index.info()
    dates = [when(i) for i in ITEMS if when(i) is not None]
    assert len(dates) < len(ITEMS)  # one item has no date and must not disturb the range
    assert info.documents == len(ITEMS)
    assert info.oldest == min(dates)
    assert info.newest == max(dates)
    assert info.corpus == str(corpus_dir.resolve())
    assert info.index_dir == str(index_dir)
    assert info.size_bytes > 0
    assert info.last_update is not None
    assert info.last_update <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_info_on_the_sample_corpus(sample_index_dir: Path) -> None:
    files = [
        p
        for p in Path(__file__).resolve().parents[1].joinpath("corpus").rglob("*")
        if p.suffix in {".md", ".txt", ".markdown"}
    ]
    with SearchIndex.open(sample_index_dir) as index:
        assert index.info().documents == len(files)


# -- match sets -----------------------------------------------------------------------------

WORDS = ["airship", "harbour", "vote", "storm", "market"]


def test_word_match_sets_across_segments_and_deletions(tmp_path: Path) -> None:
    """Totals and hits of word queries (ORs and ANDs of words are read as postings bitmaps; NOT
    goes through a mended Whoosh matcher) are exactly the live items holding the words, over
    several segments, one of them with deletions."""
    from searchkit import NewsItem

    texts = {
        f"n{k}": " ".join(w for bit, w in enumerate(WORDS) if k >> bit & 1) for k in range(1, 2 ** len(WORDS))
    }
    with SearchIndex.create(tmp_path / "index") as index:
        keys = sorted(texts)
        for start in range(0, len(keys), 10):  # one commit (segment) each
            index.add_items(
                [NewsItem(id=key, title=f"item {key}", body=texts[key]) for key in keys[start : start + 10]]
            )
        gone = {key for key in keys[:10] if int(key[1:]) % 3 == 0}
        assert index.remove(sorted(gone)) == len(gone)
        live = {key: set(texts[key].split()) for key in keys if key not in gone}
        for query, wanted in [
            ("airship", lambda words: "airship" in words),
            ("airship harbour", lambda words: bool(words & {"airship", "harbour"})),
            ("vote OR storm OR market", lambda words: bool(words & {"vote", "storm", "market"})),
            ("airship AND harbour", lambda words: {"airship", "harbour"} <= words),
            (
                "vote AND (storm OR market)",
                lambda words: "vote" in words and bool(words & {"storm", "market"}),
            ),
            ("airship NOT vote", lambda words: "airship" in words and "vote" not in words),
            ("airship ANDNOT vote", lambda words: "airship" in words and "vote" not in words),
            ("airship AND NOT vote", lambda words: "airship" in words and "vote" not in words),
            (
                "storm OR market NOT harbour",
                lambda words: bool(words & {"storm", "market"}) and "harbour" not in words,
            ),
            ("NOT vote", lambda words: "vote" not in words),
            ("nothinglikethis", lambda words: False),
        ]:
            expected = {key for key, words in live.items() if wanted(words)}
            results = index.search(query, limit=ALL)
            assert results.total == len(expected), query
            assert {hit.id for hit in results.hits} == expected, query


@pytest.mark.parametrize(
    "text",
    [
        "(oil OR gas) AND prices",
        "opec",
        "grain AND exports",
        "coffee cocoa sugar",
        "title:yen OR title:dollar",
        "(oil OR gas*) AND prices",
        "(oil OR gas) AND price*",
    ],
)
def test_reuters_best_matches_are_the_best_of_every_match(reuters_index: tuple[Any, Path], text: str) -> None:
    """The first page by relevance is the best of every match, as each one scores. Whoosh's
    top-N collector swaps matchers for leaner ones as its minimum score rises, and left some
    of the best items of "(oil OR gas) AND prices" out of the first page. Words are scored a
    term at a time, and queries Whoosh still ranks (prefixes) run without the swapping."""
    _report, path = reuters_index
    with SearchIndex.open(path) as index:
        every = index.search(text, sort="newest", limit=1000)
        assert 10 < every.total <= 1000
        newest = {hit.id: rank for rank, hit in enumerate(every.hits)}
        expected = sorted(every.hits, key=lambda hit: (-hit.score, newest[hit.id]))[:10]
        for page in (1, 2):
            found = index.search(text, limit=5, page=page).hits
            assert [hit.id for hit in found] == [hit.id for hit in expected[5 * page - 5 : 5 * page]]
            assert [hit.score for hit in found] == pytest.approx(
                [hit.score for hit in expected[5 * page - 5 : 5 * page]], rel=1e-12
            )


@pytest.mark.parametrize(
    "query",
    [
        "facial recognition",
        "election",
        "climate OR glaciers",
        "court AND rules",
        "recogni*",
        '"facial recognition"',
    ],
)
@pytest.mark.parametrize("sort", ["newest", "oldest", "quality", "heat"])
def test_a_hit_scores_the_same_whatever_the_order(index: SearchIndex, query: str, sort: str) -> None:
    by_relevance = {hit.id: hit.score for hit in index.search(query, limit=ALL).hits}
    assert by_relevance
    sorted_hits = index.search(query, sort=sort, limit=ALL).hits
    assert {hit.id: hit.score for hit in sorted_hits} == by_relevance
    page = index.search(query, sort=sort, limit=2, page=2).hits
    assert [(hit.id, hit.score) for hit in page] == [(h.id, h.score) for h in sorted_hits[2:4]]
