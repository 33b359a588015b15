"""Facet counts (``search(facets=...)``, ``searchkit search --facet``) against counts computed here.

Every expectation comes from the raw item tables through the small reference implementation
below (its own filtering, bucketing and spelling choice), never from the program's output.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ITEMS, build_index, mentions, run_cli, when, write_corpus, write_item

from searchkit import QueryError, SearchIndex

Item = Mapping[str, Any]

FACET_NAMES = ("topics", "provider", "category", "type", "year", "month", "quality", "heat")

#: The filter(s) each facet ignores, as the README documents them (search() keyword names).
OWN_FILTERS = {
    "topics": {"topics"},
    "provider": {"providers"},
    "category": {"category"},
    "type": {"type"},
    "year": {"since", "until"},
    "month": {"since", "until"},
    "quality": {"min_quality"},
    "heat": {"min_heat"},
}


def fi(ident: str, title: str, **fields: Any) -> dict[str, Any]:
    """A table row; fields given as None are left out of the front matter altogether."""
    return {"id": ident, "title": title, **{k: v for k, v in fields.items() if v is not None}}


def farm(name: str) -> dict[str, str]:
    return {"name": name, "domain": name.lower().replace(" ", "") + ".example"}


# A corpus shaped for facets: spellings that differ in case (with a clear majority each, and
# "trade" where the majority is lower case), a provider name written three ways, items without
# topics / provider name / category / type / date / quality / heat, qualities and heats on every
# bucket boundary, and dates whose UTC year or month differs from the one written.
FACET_ITEMS: list[dict[str, Any]] = [
    fi(
        "f01.md",
        "Grain harvest starts early",
        topics=["grain", "wheat"],
        provider=farm("Farm Wire"),
        category="news",
        type="article",
        publishedDateTime="2020-07-15T08:00:00Z",
        quality=80,
        heat=120,
    ),
    fi(
        "f02.md",
        "Wheat prices climb after the harvest",
        topics=["Grain", "wheat"],
        provider=farm("Farm Wire"),
        category="markets",
        type="article",
        publishedDateTime="2020-08-01T12:00:00Z",
        quality=79,
        heat=99,
    ),
    # 2021-01-01 01:00 at +02:00 is 2020-12-31 in UTC: year 2020, month 2020-12.
    fi(
        "f03.md",
        "Corn exports slow",
        topics=["grain", "corn", "trade"],
        provider=farm("Market Desk"),
        category="markets",
        type="article",
        publishedDateTime="2021-01-01T01:00:00+02:00",
        quality=60,
        heat=100,
    ),
    fi(
        "f04.md",
        "Rice farmers brace for floods",
        topics=["rice"],
        provider=farm("Asia Ag"),
        category="news",
        type="video",
        publishedDateTime="2021-03-10T10:00:00Z",
        quality=59,
        heat=10,
    ),
    fi(
        "f05.md",
        "Harvest robots tested in fields",
        topics=["AI", "grain"],
        provider=farm("Tech Daily"),
        category="news",
        type="video",
        publishedDateTime="2021-03-22T10:00:00Z",
        quality=40,
        heat=9,
    ),
    fi(
        "f06.md",
        "Chatbots write crop reports",
        topics=["ai"],
        provider=farm("Tech Daily"),
        category="opinion",
        type="article",
        publishedDateTime="2022-05-05T10:00:00Z",
        quality=39,
        heat=0,
    ),
    fi(
        "f07.md",
        "Machine vision sorts coffee beans",
        topics=["AI", "coffee"],
        provider=farm("Tech Daily"),
        category="news",
        type="podcast",
        publishedDateTime="2022-05-20T10:00:00Z",
        quality=20,
        heat=-1,
    ),
    fi(
        "f08.md",
        "Model predicts yields",
        topics=["AI"],
        provider=farm("farm wire"),
        category="analysis",
        type="article",
        publishedDateTime="2022-11-11T10:00:00Z",
        quality=19,
        heat=999,
    ),
    fi(
        "f09.md",
        "Sugar tariffs rise",
        topics=["Trade", "sugar"],
        provider=farm("Market Desk"),
        category="markets",
        type="article",
        publishedDateTime="2023-02-02T10:00:00Z",
        quality=0,
        heat=1000,
    ),
    fi(
        "f10.md",
        "Soy deal signed",
        topics=["trade", "soy"],
        provider=farm("Market Desk"),
        category="markets",
        type="article",
        publishedDateTime="2023-02-14T10:00:00Z",
        quality=100,
        heat=5000,
    ),
    # 2023-06-30 23:30 at -02:00 is 2023-07-01 in UTC: month 2023-07.
    fi(
        "f11.md",
        "Oil price lifts fertiliser costs",
        topics=["Oil", "grain"],
        provider=farm("Market Desk"),
        category="markets",
        type="article",
        publishedDateTime="2023-06-30T23:30:00-02:00",
        quality=55,
        heat=30,
        body="Farmers pay more for fertiliser before the harvest.",
    ),
    fi(
        "f12.md",
        "Pipeline leak shuts terminal",
        topics=["Oil"],
        provider=farm("Energy Post"),
        category="news",
        type="article",
        publishedDateTime="2023-07-04T10:00:00Z",
        quality=70,
    ),
    fi(
        "f13.md",
        "Undated harvest almanac",
        provider=farm("Farm Wire"),
        category="notice",
        type="article",
        body="Tables of harvest dates.",
    ),
    fi("f14.md", "Editorial note", topics=[], publishedDateTime="2021-03-15T10:00:00Z", heat=-1),
    fi(
        "f15.md",
        "Nameless source reports yields",
        topics=["grain"],
        provider={"domain": "nameless.example"},
        category="news",
        type="article",
        excerpt="The harvest looks good.",
        publishedDateTime="2022-01-01T00:00:00Z",
        quality=65,
        heat=50,
    ),
    fi(
        "f16.md",
        "Grain silo fire",
        topics=["grain"],
        provider=farm("Farm Wire"),
        category="news",
        type="video",
        publishedDateTime="2022-01-31T23:59:59Z",
        quality=85,
        heat=250,
    ),
    fi(
        "f17.md",
        "Wheat rust spreads",
        topics=["wheat"],
        provider=farm("Asia Ag"),
        category="news",
        type="article",
        publishedDateTime="2020-07-20T10:00:00Z",
        quality=45,
        heat=15,
        body="The harvest is at risk.",
    ),
    fi(
        "f18.md",
        "Barley market quiet",
        topics=["barley", "grain"],
        provider={"name": "Farm  Wire", "domain": "farmwire.example"},
        category="markets",
        type="article",
        publishedDateTime="2019-12-31T23:00:00Z",
        quality=33,
        heat=70,
    ),
    fi(
        "f19.md",
        "Record coffee harvest",
        topics=["coffee"],
        provider=farm("Asia Ag"),
        category="news",
        type="article",
        publishedDateTime="2024-01-05T10:00:00Z",
        quality=90,
        heat=1500,
    ),
    fi(
        "f20.md",
        "Harvest festival guide",
        topics=["grain"],
        provider=farm("Asia Ag"),
        category="features",
        type="podcast",
        quality=75,
        heat=3,
    ),
]


# -- the reference implementation ------------------------------------------------------------


def norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def spelled(value: str) -> str:
    return " ".join(value.split())


def quality_bucket(quality: int) -> str:
    for label, top in (("0-19", 19), ("20-39", 39), ("40-59", 59), ("60-79", 79)):
        if quality <= top:
            return label
    return "80-100"


def heat_bucket(heat: int) -> str:
    if heat == -1:
        return "none"
    for label, top in (("0-9", 9), ("10-99", 99), ("100-999", 999)):
        if heat <= top:
            return label
    return "1000+"


def raw_values(item: Item, facet: str) -> list[str]:
    """The item's values for ``facet`` as written (before case folding); [] when it has none."""
    if facet == "topics":
        return [spelled(t) for t in item.get("topics") or [] if spelled(t)]
    if facet == "provider":
        name = spelled((item.get("provider") or {}).get("name", ""))
        return [name] if name else []
    if facet in ("category", "type"):
        value = spelled(item.get(facet, ""))
        return [value] if value else []
    if facet in ("year", "month"):
        moment = when(item)
        if moment is None:
            return []
        return [f"{moment.year:04d}" if facet == "year" else f"{moment.year:04d}-{moment.month:02d}"]
    if facet == "quality":
        return [] if item.get("quality") is None else [quality_bucket(item["quality"])]
    if facet == "heat":
        return [heat_bucket(item.get("heat", -1))]
    raise AssertionError(facet)


def keys(item: Item, facet: str) -> set[str]:
    return {norm(v) for v in raw_values(item, facet)}


def spellings(table: Iterable[Item], facet: str) -> dict[str, str]:
    """norm -> the spelling most items of the whole table use (the table avoids ties)."""
    counts: dict[str, Counter[str]] = {}
    for item in table:
        for value in set(raw_values(item, facet)):
            counts.setdefault(norm(value), Counter())[value] += 1
    result = {}
    for key, counter in counts.items():
        [(best, top), *rest] = counter.most_common()
        assert all(n < top for _, n in rest), f"tie between spellings of {key!r}: {counter}"
        result[key] = best
    return result


def day(text: str, *, end: bool = False) -> datetime:
    start = datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
    return start + timedelta(days=1) if end else start


def passes(item: Item, name: str, value: Any) -> bool:
    """Does ``item`` pass the filter ``name=value`` (search() keyword names)?"""
    if name == "topics":
        return bool(keys(item, "topics") & {norm(v) for v in value})
    if name == "providers":
        return bool(keys(item, "provider") & {norm(v) for v in value})
    if name in ("category", "type"):
        return keys(item, name) == {norm(value)}
    if name == "since":
        return when(item) is not None and when(item) >= day(value)
    if name == "until":
        return when(item) is not None and when(item) < day(value, end=True)
    if name == "min_quality":
        return item.get("quality") is not None and item["quality"] >= value
    if name == "min_heat":
        return item.get("heat", -1) >= value
    raise AssertionError(name)


def matching(
    table: Iterable[Item], query: str, filters: Mapping[str, Any], ignore: Iterable[str] = ()
) -> list[Item]:
    """Items matching a one-word query (or all, for "") and every filter not in ``ignore``."""
    return [
        item
        for item in table
        if (not query or mentions(item, query))
        and all(passes(item, name, value) for name, value in filters.items() if name not in ignore)
    ]


def expected_facet(
    table: list[dict[str, Any]], query: str, filters: Mapping[str, Any], facet: str
) -> tuple[list[tuple[str, int]], int]:
    """([(value, count)] ordered by count then value, missing) over the items the facet counts."""
    items = matching(table, query, filters, ignore=OWN_FILTERS[facet])
    counts = Counter(key for item in items for key in keys(item, facet))
    labels = spellings(table, facet)
    values = sorted(((labels[key], n) for key, n in counts.items()), key=lambda vc: (-vc[1], vc[0]))
    return values, sum(1 for item in items if not keys(item, facet))


def pairs(facet: Any) -> list[tuple[str, int]]:
    return [(fc.value, fc.count) for fc in facet.values]


@pytest.fixture(scope="module")
def facet_index(tmp_path_factory: pytest.TempPathFactory) -> Iterable[SearchIndex]:
    root = tmp_path_factory.mktemp("facets")
    path = build_index(write_corpus(root / "corpus", FACET_ITEMS), root / "index")
    with SearchIndex.open(path) as index:
        yield index


# -- the reference itself, on a few hand-checked numbers ------------------------------------------


def test_the_table_covers_what_the_facets_must_handle() -> None:
    """Guards the corpus against edits that would make the tests below vacuous."""
    assert spellings(FACET_ITEMS, "topics")["ai"] == "AI"
    assert spellings(FACET_ITEMS, "topics")["trade"] == "trade"
    assert spellings(FACET_ITEMS, "provider")["farm wire"] == "Farm Wire"
    for facet in ("topics", "provider", "category", "type", "year", "month", "quality"):
        assert any(not keys(item, facet) for item in FACET_ITEMS), facet
    qualities = {item.get("quality") for item in FACET_ITEMS}
    assert {0, 19, 20, 39, 40, 59, 60, 79, 80, 100, None} <= qualities
    heats = {item.get("heat") for item in FACET_ITEMS}
    assert {-1, None, 0, 9, 10, 99, 100, 999, 1000} <= heats


# -- every facet, with and without query and filters -----------------------------------------------

CASES: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("harvest", {}),
    ("", {"topics": ["grain"]}),
    ("", {"topics": ["GRAIN", "Wheat"]}),
    ("harvest", {"topics": ["grain"]}),
    ("", {"providers": ["farm wire"]}),
    ("", {"providers": ["Market Desk", "Asia Ag"]}),
    ("", {"category": "markets"}),
    ("harvest", {"category": "News"}),
    ("", {"type": "video"}),
    ("", {"since": "2021-01-01", "until": "2022-06-30"}),
    ("", {"since": "2023-07-01"}),
    ("harvest", {"until": "2020-12-31"}),
    ("", {"min_quality": 40}),
    ("", {"min_quality": 0}),
    ("", {"min_heat": 0}),
    ("", {"min_heat": 100}),
    ("harvest", {"topics": ["grain"], "providers": ["Farm Wire"], "since": "2020-01-01", "min_quality": 20}),
    (
        "",
        {
            "topics": ["grain", "ai"],
            "providers": ["Farm Wire", "Tech Daily"],
            "category": "news",
            "type": "article",
            "since": "2020-01-01",
            "until": "2022-12-31",
            "min_quality": 40,
            "min_heat": 10,
        },
    ),
    ("", {"topics": ["rice"], "providers": ["Tech Daily"]}),  # nothing matches both
    ("xylophonist", {}),
]


def case_id(case: tuple[str, dict[str, Any]]) -> str:
    query, filters = case
    return f"{query or '*'}|{','.join(f'{k}={v}' for k, v in filters.items())}"


@pytest.mark.parametrize(("query", "filters"), CASES, ids=[case_id(c) for c in CASES])
def test_every_facet_counts_exactly(facet_index: SearchIndex, query: str, filters: dict[str, Any]) -> None:
    results = facet_index.search(query, **filters, facets=FACET_NAMES, facet_limit=100, limit=100)
    assert results.total == len(matching(FACET_ITEMS, query, filters))
    assert list(results.facets) == list(FACET_NAMES)
    for name in FACET_NAMES:
        values, missing = expected_facet(FACET_ITEMS, query, filters, name)
        facet = results.facets[name]
        assert facet.name == name
        assert (pairs(facet), facet.missing, facet.other) == (values, missing, 0), name


@pytest.mark.parametrize("query", ["", "climate", "recognition OR facial", "energy"])
def test_facets_on_the_shared_corpus(index: SearchIndex, query: str) -> None:
    """The shared test corpus, whose case variants of a topic tie ("Climate"/"climate"/"CLIMATE"):
    counts are compared case-insensitively, the shown spelling must be one of the item's."""
    results = index.search(query, facets=FACET_NAMES, facet_limit=100, limit=100)
    hits = {hit.id for hit in results.hits}
    words = [w for w in re.findall(r"\w+", query) if w != "OR"]
    stems = {"recognition": "recognition", "facial": "facial", "climate": "climat", "energy": "energ"}
    wanted = [i for i in ITEMS if not words or any(mentions(i, stems[w]) for w in words)]
    assert hits == {i["id"] for i in wanted}
    for name in FACET_NAMES:
        counts = Counter(key for item in wanted for key in keys(item, name))
        facet = results.facets[name]
        assert {norm(fc.value): fc.count for fc in facet.values} == counts, name
        assert facet.missing == sum(1 for item in wanted if not keys(item, name)), name
        written = {v for item in ITEMS for v in raw_values(item, name)}
        assert {fc.value for fc in facet.values} <= written, name
        assert [fc.count for fc in facet.values] == sorted((fc.count for fc in facet.values), reverse=True)


# -- the disjunctive rule, spelled out --------------------------------------------------------------


def test_a_facet_ignores_its_own_filter_only(facet_index: SearchIndex) -> None:
    plain = facet_index.search(facets=FACET_NAMES, facet_limit=100)
    grain = facet_index.search(topics=["grain"], facets=FACET_NAMES, facet_limit=100)
    assert grain.total == sum(1 for i in FACET_ITEMS if "grain" in keys(i, "topics")) < plain.total
    # The topics facet is the same as without the filter: what each other topic would add ...
    assert grain.facets["topics"] == plain.facets["topics"]
    # ... while the others count the grain items only.
    grain_items = [i for i in FACET_ITEMS if "grain" in keys(i, "topics")]
    for name in ("provider", "year"):
        counts = Counter(key for item in grain_items for key in keys(item, name))
        assert {norm(fc.value): fc.count for fc in grain.facets[name].values} == counts
        assert grain.facets[name] != plain.facets[name]


@pytest.mark.parametrize(
    ("facet", "filters"),
    [
        ("topics", {"topics": ["coffee"]}),
        ("provider", {"providers": ["Asia Ag"]}),
        ("category", {"category": "opinion"}),
        ("type", {"type": "podcast"}),
        ("year", {"since": "2023-01-01"}),
        ("month", {"until": "2020-12-31"}),
        ("quality", {"min_quality": 80}),
        ("heat", {"min_heat": 1000}),
    ],
)
def test_own_filter_leaves_its_facet_unchanged(
    facet_index: SearchIndex, facet: str, filters: dict[str, Any]
) -> None:
    for query in ("", "harvest"):
        filtered = facet_index.search(query, **filters, facets=[facet], facet_limit=100)
        unfiltered = facet_index.search(query, facets=[facet], facet_limit=100)
        assert filtered.total < unfiltered.total
        assert filtered.facets[facet] == unfiltered.facets[facet]
        # With a second filter the facet follows that one but still not its own.
        other = {"min_heat": 0} if facet != "heat" else {"min_quality": 40}
        both = facet_index.search(query, **filters, **other, facets=[facet], facet_limit=100)
        values, missing = expected_facet(FACET_ITEMS, query, {**filters, **other}, facet)
        assert (pairs(both.facets[facet]), both.facets[facet].missing) == (values, missing)


# -- ordering, limits, missing values, buckets -------------------------------------------------------


def test_values_are_ordered_by_count_then_value(facet_index: SearchIndex) -> None:
    topics = facet_index.search(facets=["topics"], facet_limit=100).facets["topics"]
    counts = Counter(key for item in FACET_ITEMS for key in keys(item, "topics"))
    assert [fc.count for fc in topics.values] == sorted(counts.values(), reverse=True)
    for a, b in zip(topics.values, topics.values[1:], strict=False):
        assert (-a.count, a.value) < (-b.count, b.value)
    singles = [fc.value for fc in topics.values if fc.count == 1]
    assert singles == sorted(singles) and len(singles) >= 3


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 11, 12, 13, 100])
@pytest.mark.parametrize("query", ["", "harvest"])
def test_facet_limit_caps_each_list_and_counts_the_rest(
    facet_index: SearchIndex, limit: int, query: str
) -> None:
    results = facet_index.search(query, facets=FACET_NAMES, facet_limit=limit)
    for name in FACET_NAMES:
        values, missing = expected_facet(FACET_ITEMS, query, {}, name)
        facet = results.facets[name]
        assert pairs(facet) == values[:limit], name
        assert facet.other == max(len(values) - limit, 0), name
        assert facet.missing == missing, name


def test_default_facet_limit_is_ten(facet_index: SearchIndex) -> None:
    topics = facet_index.search(facets=["topics"]).facets["topics"]
    values, _ = expected_facet(FACET_ITEMS, "", {}, "topics")
    assert len(values) > 10
    assert (pairs(topics), topics.other) == (values[:10], len(values) - 10)


@pytest.mark.parametrize(
    ("facet", "wanted"),
    [
        # Items with no value, counted by hand from the table above.
        ("topics", {"f13.md", "f14.md"}),  # no topics field; topics: []
        ("provider", {"f14.md", "f15.md"}),  # no provider; a provider with a domain only
        ("category", {"f14.md"}),
        ("type", {"f14.md"}),
        ("year", {"f13.md", "f20.md"}),
        ("month", {"f13.md", "f20.md"}),
        ("quality", {"f13.md", "f14.md"}),
        ("heat", set()),  # no heat is the bucket "none", not missing
    ],
)
def test_missing_counts_items_without_a_value(facet_index: SearchIndex, facet: str, wanted: set[str]) -> None:
    assert {i["id"] for i in FACET_ITEMS if not keys(i, facet)} == wanted
    assert facet_index.search(facets=[facet]).facets[facet].missing == len(wanted)
    harvest = {i["id"] for i in FACET_ITEMS if mentions(i, "harvest")}
    assert facet_index.search("harvest", facets=[facet]).facets[facet].missing == len(wanted & harvest)


def test_no_heat_is_the_none_bucket(facet_index: SearchIndex) -> None:
    heat = facet_index.search(facets=["heat"]).facets["heat"]
    no_heat = [i for i in FACET_ITEMS if i.get("heat", -1) == -1]
    assert len(no_heat) >= 3 and any("heat" not in i for i in no_heat)
    assert dict(pairs(heat))["none"] == len(no_heat)
    assert heat.missing == 0


BOUNDARIES = [
    ("quality", 0, "0-19"),
    ("quality", 19, "0-19"),
    ("quality", 20, "20-39"),
    ("quality", 39, "20-39"),
    ("quality", 40, "40-59"),
    ("quality", 59, "40-59"),
    ("quality", 60, "60-79"),
    ("quality", 79, "60-79"),
    ("quality", 80, "80-100"),
    ("quality", 100, "80-100"),
    ("heat", -1, "none"),
    ("heat", 0, "0-9"),
    ("heat", 9, "0-9"),
    ("heat", 10, "10-99"),
    ("heat", 99, "10-99"),
    ("heat", 100, "100-999"),
    ("heat", 999, "100-999"),
    ("heat", 1000, "1000+"),
    ("heat", 250000, "1000+"),
]


@pytest.fixture(scope="module")
def boundary_index(tmp_path_factory: pytest.TempPathFactory) -> Iterable[SearchIndex]:
    """One item per boundary value, found by a word of its own (``q19``, ``hminus1``...)."""
    root = tmp_path_factory.mktemp("boundaries")
    table = [
        fi(f"{facet}-{value}.md", f"{boundary_word(facet, value)} item", **{facet: value})
        for facet, value, _ in BOUNDARIES
    ]
    with SearchIndex.open(build_index(write_corpus(root / "corpus", table), root / "index")) as index:
        yield index


def boundary_word(facet: str, value: int) -> str:
    return f"{facet[0]}{value}".replace("-", "minus")


@pytest.mark.parametrize(("facet", "value", "bucket"), BOUNDARIES)
def test_bucket_boundaries(boundary_index: SearchIndex, facet: str, value: int, bucket: str) -> None:
    results = boundary_index.search(boundary_word(facet, value), facets=[facet])
    assert results.total == 1
    assert pairs(results.facets[facet]) == [(bucket, 1)]
    assert results.facets[facet].missing == 0
    # The reference above agrees with the table.
    assert (quality_bucket if facet == "quality" else heat_bucket)(value) == bucket


def test_case_variants_count_together_in_the_most_common_spelling(facet_index: SearchIndex) -> None:
    topics = dict(pairs(facet_index.search(facets=["topics"], facet_limit=100).facets["topics"]))
    ai = [i for i in FACET_ITEMS if "ai" in keys(i, "topics")]
    assert {t for i in ai for t in i["topics"] if norm(t) == "ai"} == {"AI", "ai"}
    assert topics["AI"] == len(ai) and "ai" not in topics
    assert topics["trade"] == sum(1 for i in FACET_ITEMS if "trade" in keys(i, "topics"))
    assert "Trade" not in topics
    providers = dict(pairs(facet_index.search(facets=["provider"]).facets["provider"]))
    assert providers["Farm Wire"] == sum(1 for i in FACET_ITEMS if "farm wire" in keys(i, "provider"))
    assert not {"farm wire", "Farm  Wire"} & set(providers)


def test_facets_count_the_whole_result_set_not_the_page(facet_index: SearchIndex) -> None:
    whole = facet_index.search("harvest", facets=FACET_NAMES, facet_limit=100, limit=100)
    assert whole.total > 2
    for limit, page in ((1, 1), (1, 2), (2, 2), (1, 1000)):
        paged = facet_index.search("harvest", facets=FACET_NAMES, facet_limit=100, limit=limit, page=page)
        assert len(paged.hits) <= limit
        assert paged.facets == whole.facets


def test_facet_names_keep_their_order_and_repeats_collapse(facet_index: SearchIndex) -> None:
    results = facet_index.search(facets=["year", "topics", "year"])
    assert list(results.facets) == ["year", "topics"]
    assert facet_index.search().facets == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"facets": ["topic"]}, "invalid facet 'topic'"),
        ({"facets": ["topics", "Provider"]}, "invalid facet 'Provider'"),
        ({"facets": ["published_at"]}, "invalid facet 'published_at'"),
        ({"facets": ["topics"], "facet_limit": 0}, "invalid facet limit 0"),
    ],
)
def test_invalid_facet_arguments_are_query_errors(
    facet_index: SearchIndex, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        facet_index.search("harvest", **options)


# -- after updates -----------------------------------------------------------------------------------


def test_facets_follow_updates(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FACET_ITEMS)
    path = build_index(corpus, tmp_path / "index")
    with SearchIndex.open(path) as before:
        # A long-lived handle, its caches warm before the update.
        first = before.search(facets=FACET_NAMES, facet_limit=100)
        assert pairs(first.facets["topics"]) == expected_facet(FACET_ITEMS, "", {}, "topics")[0]

        # Delete two items (leaving "Trade" the only spelling of trade), change one, add two.
        table = [dict(i) for i in FACET_ITEMS if i["id"] not in ("f03.md", "f10.md")]
        for ident in ("f03.md", "f10.md"):
            (corpus / ident).unlink()
        changed = next(i for i in table if i["id"] == "f16.md")
        changed.update(topics=["Oats"], quality=5, heat=-1, publishedDateTime="2025-02-02T00:00:00Z")
        write_item(corpus, changed)
        added = [
            fi(
                "new/g1.md",
                "Lentil harvest doubles",
                topics=["lentils", "ai"],
                provider=farm("Pulse Post"),
                category="news",
                type="article",
                publishedDateTime="2025-02-03T00:00:00Z",
                quality=99,
                heat=100,
            ),
            fi(
                "new/g2.md",
                "Oats and lentils",
                topics=["lentils", "Oats"],
                provider=farm("Pulse Post"),
                category="news",
                type="video",
            ),
        ]
        for item in added:
            write_item(corpus, item)
        table += added
        with SearchIndex.open(path) as writer:
            report = writer.update(corpus)
        assert (report.added, report.updated, report.deleted) == (2, 1, 2)

        assert spellings(table, "topics")["trade"] == "Trade"
        with SearchIndex.open(path) as fresh:
            for handle in (fresh, before):
                for query, filters in (("", {}), ("harvest", {}), ("", {"topics": ["oats"]})):
                    results = handle.search(query, **filters, facets=FACET_NAMES, facet_limit=100)
                    assert results.total == len(matching(table, query, filters))
                    for name in FACET_NAMES:
                        values, missing = expected_facet(table, query, filters, name)
                        assert (pairs(results.facets[name]), results.facets[name].missing) == (
                            values,
                            missing,
                        ), (handle is fresh, query, name)


def test_spelling_follows_deletions(tmp_path: Path) -> None:
    """Deleting items (no new segment) changes the most common spelling on a warm handle too."""
    path = build_index(write_corpus(tmp_path / "corpus", FACET_ITEMS), tmp_path / "index")
    with SearchIndex.open(path) as index:
        assert "trade" in dict(pairs(index.search(facets=["topics"], facet_limit=100).facets["topics"]))
        assert index.remove(["f03.md", "f10.md"]) == 2
        table = [i for i in FACET_ITEMS if i["id"] not in ("f03.md", "f10.md")]
        for handle in (index, SearchIndex.open(path)):
            with handle:
                topics = handle.search(facets=["topics"], facet_limit=100).facets["topics"]
                assert pairs(topics) == expected_facet(table, "", {}, "topics")[0]
                assert dict(pairs(topics))["Trade"] == 1


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def facet_index_dir(facet_index: SearchIndex) -> Path:
    return facet_index.path


def test_cli_facet_json(facet_index_dir: Path) -> None:
    result = run_cli(
        "search",
        "harvest",
        "--topic",
        "grain",
        "--facet",
        "topics",
        "--facet",
        "year",
        "--facet",
        "quality",
        "--facet-limit",
        "2",
        "--limit",
        "1",
        "--json",
        "--index-dir",
        facet_index_dir,
    )
    assert result.code == 0, result.stderr
    data = result.json
    filters = {"topics": ["grain"]}
    assert data["total"] == len(matching(FACET_ITEMS, "harvest", filters))
    assert len(data["hits"]) == 1
    assert (
        list(data["facets"])
        == list(data["facets_other"])
        == list(data["facets_missing"])
        == ["topics", "year", "quality"]
    )
    for name in ("topics", "year", "quality"):
        values, missing = expected_facet(FACET_ITEMS, "harvest", filters, name)
        assert data["facets"][name] == [{"value": v, "count": n} for v, n in values[:2]]
        assert data["facets_other"][name] == max(len(values) - 2, 0)
        assert data["facets_missing"][name] == missing
    assert data["facets_other"]["topics"] > 0 and data["facets_missing"]["year"] > 0


def test_cli_json_without_facets(facet_index_dir: Path) -> None:
    data = run_cli("search", "harvest", "--json", "--index-dir", facet_index_dir).json
    assert (data["facets"], data["facets_other"], data["facets_missing"]) == ({}, {}, {})


def test_cli_facet_columns_after_the_hits(facet_index_dir: Path) -> None:
    result = run_cli(
        "search",
        "harvest",
        "--facet",
        "topics",
        "--facet",
        "year",
        "--facet-limit",
        "3",
        "--index-dir",
        facet_index_dir,
    )
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split() == ["topics", "year"])
    last_hit = max(n for n, line in enumerate(lines) if re.match(r"^\s+\d+\. ", line))
    assert header > last_hit
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[header + 1 :] if line.strip()]
    topics, topics_missing = expected_facet(FACET_ITEMS, "harvest", {}, "topics")
    years, years_missing = expected_facet(FACET_ITEMS, "harvest", {}, "year")

    def column(values: list[tuple[str, int]], missing: int) -> list[str]:
        cells = [f"{v} {n}" for v, n in values[:3]]
        if missing:
            cells.append(f"(none) {missing}")
        if len(values) > 3:
            cells.append(f"+{len(values) - 3} more")
        return cells

    want_topics, want_years = column(topics, topics_missing), column(years, years_missing)
    assert "(none)" in " ".join(want_topics + want_years) and "more" in " ".join(want_topics + want_years)
    assert len(rows) == max(len(want_topics), len(want_years))
    cells = [cell for row in rows for cell in row]
    for cell in want_topics + want_years:
        assert cell in cells
    # Columns: the i-th row starts with the i-th topics cell.
    assert [row[0] for row in rows[: len(want_topics)]] == want_topics


def test_cli_without_facets_prints_no_columns(facet_index_dir: Path) -> None:
    plain = run_cli("search", "harvest", "--index-dir", facet_index_dir).stdout
    assert "(none)" not in plain and not re.search(r"^\s*topics\b", plain, re.MULTILINE)


@pytest.mark.parametrize("args", [["--facet", "topic"], ["--facet", "Topics"], ["--facet-limit", "0"]])
def test_cli_invalid_facet_is_a_usage_error(facet_index_dir: Path, args: list[str]) -> None:
    result = run_cli("search", "harvest", *args, "--index-dir", facet_index_dir)
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "Invalid value" in line]
    assert len(errors) == 1 and args[0] in errors[0], result.stderr


# -- Reuters ------------------------------------------------------------------------------------


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    _, head, _ = text.split("---\n", 2)
    loaded: dict[str, Any] = yaml.load(head, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return loaded


def test_reuters_facets_match_the_raw_files(reuters_index: tuple[Any, Path], reuters_corpus: Path) -> None:
    _report, path = reuters_index
    raw = [front_matter(p) for p in sorted(reuters_corpus.glob("*.md"))]
    topics = Counter(t.casefold() for meta in raw for t in {str(t) for t in meta.get("topics") or []})
    untagged = sum(1 for meta in raw if not meta.get("topics"))
    months = Counter(when(meta).strftime("%Y-%m") for meta in raw if meta.get("publishedDateTime"))

    with SearchIndex.open(path) as index:
        everything = index.search(facets=["topics", "month"], facet_limit=1000)
        assert everything.total == len(raw)
        facet = everything.facets["topics"]
        assert {fc.value.casefold(): fc.count for fc in facet.values} == topics
        assert (facet.other, facet.missing) == (0, untagged)
        assert [fc.count for fc in facet.values] == sorted(topics.values(), reverse=True)
        assert {fc.value: fc.count for fc in everything.facets["month"].values} == months

        # "oil": the facet equals a brute-force count over every hit, fetched page by page.
        oil = index.search("oil", facets=["topics", "provider"], facet_limit=1000, limit=1000)
        hits = list(oil.hits)
        page = 1
        while len(hits) < oil.total:
            page += 1
            more = index.search("oil", limit=1000, page=page).hits
            assert more
            hits += more
        assert len({hit.id for hit in hits}) == oil.total > 500
        counted = Counter(t.casefold() for hit in hits for t in set(hit.topics))
        assert {fc.value.casefold(): fc.count for fc in oil.facets["topics"].values} == counted
        assert oil.facets["topics"].missing == sum(1 for hit in hits if not hit.topics)
        assert counted["crude"] > 0
        providers = Counter(hit.provider.name for hit in hits if hit.provider.name)
        assert {fc.value: fc.count for fc in oil.facets["provider"].values} == providers
