"""News-aware ranking: recency and quality/heat boosts, and explained scores.

The factors are checked against the formulas computed here (on items with identical text, so
that their relevance is the same), boosted rankings against scoring every match, and every
explanation's root against its hit's score, its leaves against the index's statistics.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, build_index, run_cli, when, write_corpus
from whoosh.searching import Searcher

from searchkit import QueryError, SearchIndex, schema
from searchkit.models import Explanation

AS_OF = datetime(2024, 1, 10, tzinfo=timezone.utc)
SAME_TEXT = {
    "title": "Solar panels power remote villages",
    "excerpt": "Cheap panels bring light to villages far from the grid.",
    "provider": {"name": "Wire", "domain": "wire.example"},
}
#: Items with the same text: relevance alike, dates, quality and heat apart.
TWINS: list[dict[str, Any]] = [
    {"id": "now.md", **SAME_TEXT, "publishedDateTime": "2024-01-10T00:00:00Z", "quality": 10, "heat": 5},
    {
        "id": "three-days.md",
        **SAME_TEXT,
        "publishedDateTime": "2024-01-07T00:00:00Z",
        "quality": 50,
        "heat": -1,
    },
    {
        "id": "six-weeks.md",
        **SAME_TEXT,
        "publishedDateTime": "2023-11-29T00:00:00Z",
        "quality": 90,
        "heat": 300,
    },
    {"id": "undated.md", **SAME_TEXT, "heat": 40},
    {"id": "future.md", **SAME_TEXT, "publishedDateTime": "2024-02-01T00:00:00Z", "quality": 50, "heat": 0},
    {
        "id": "other.md",
        "title": "Wind farms expand offshore",
        "publishedDateTime": "2024-01-01T00:00:00Z",
        "quality": 70,
        "heat": 20,
    },
]


@pytest.fixture
def twins(make_index: Callable[..., Path]) -> SearchIndex:
    return SearchIndex.open(make_index(TWINS, name="twins"))


def pivot(table: list[dict[str, Any]], name: str) -> float:
    return float(statistics.median(item[name] for item in table if (item.get(name) or 0) > 0))


def by_id(results: Any) -> dict[str, float]:
    return {hit.id: hit.score for hit in results.hits}


# -- the factors ---------------------------------------------------------------------------------


def test_recency_multiplies_by_half_per_half_life(twins: SearchIndex) -> None:
    plain = by_id(twins.search("solar villages", limit=10))
    assert len(set(plain.values())) == 1  # identical text: one relevance
    base = plain["now.md"]
    boosted = by_id(twins.search("solar villages", limit=10, recency="3d", as_of=AS_OF))
    assert boosted["now.md"] == pytest.approx(base, rel=1e-12)
    assert boosted["three-days.md"] == pytest.approx(base * 0.5, rel=1e-12)
    assert boosted["six-weeks.md"] == pytest.approx(base * 0.5 ** (42 / 3), rel=1e-12)
    assert boosted["undated.md"] == pytest.approx(base * 0.5**10, rel=1e-12)  # 10 half-lives
    assert boosted["future.md"] == pytest.approx(base, rel=1e-12)  # age is never negative
    # A timedelta is the same half-life, and the order follows the factors (ties: newest).
    again = twins.search("solar villages", limit=10, recency=timedelta(days=3), as_of=AS_OF)
    assert by_id(again) == boosted
    # 14 half-lives old counts less than undated (10).
    assert [h.id for h in again.hits] == [
        "future.md",
        "now.md",
        "three-days.md",
        "undated.md",
        "six-weeks.md",
    ]


def test_quality_and_heat_saturate_around_the_median(twins: SearchIndex) -> None:
    base = by_id(twins.search("solar villages", limit=10))["now.md"]
    quality, heat = pivot(TWINS, "quality"), pivot(TWINS, "heat")
    assert twins.info().pivots == {"quality": quality, "heat": heat}
    boosted = by_id(twins.search("solar villages", limit=10, boost=["quality", "heat"]))
    for item in TWINS[:5]:
        factor = 1.0
        q, h = item.get("quality") or 0, item.get("heat") or 0
        factor *= 1 + q / (q + quality) if q > 0 else 1
        factor *= 1 + h / (h + heat) if h > 0 else 1  # heat -1 and 0: factor 1
        assert boosted[item["id"]] == pytest.approx(base * factor, rel=1e-12), item["id"]
    only_heat = by_id(twins.search("solar villages", limit=10, boost="heat"))
    assert only_heat["three-days.md"] == pytest.approx(base, rel=1e-12)  # heat -1
    assert only_heat["six-weeks.md"] == pytest.approx(base * (1 + 300 / (300 + heat)), rel=1e-12)


def test_recency_and_boosts_combine_as_a_product(twins: SearchIndex) -> None:
    base = by_id(twins.search("solar villages", limit=10))["three-days.md"]
    got = by_id(twins.search("solar villages", limit=10, recency="6d", as_of=AS_OF, boost="quality"))
    quality = pivot(TWINS, "quality")
    assert got["three-days.md"] == pytest.approx(base * 0.5**0.5 * (1 + 50 / (50 + quality)), rel=1e-12)


def test_filters_never_change_boosted_scores(twins: SearchIndex) -> None:
    args: dict[str, Any] = {"recency": "3d", "as_of": AS_OF, "boost": ["quality"]}
    everything = by_id(twins.search("solar villages", limit=10, **args))
    narrowed = by_id(twins.search("solar villages", limit=10, since="2024-01-01", min_quality=20, **args))
    assert set(narrowed) == {"three-days.md", "future.md"}
    assert all(narrowed[i] == everything[i] for i in narrowed)


def test_field_sorts_ignore_boosts(twins: SearchIndex) -> None:
    for sort in ("newest", "oldest", "quality", "heat"):
        plain = twins.search("solar villages", sort=sort, limit=10)
        boosted = twins.search(
            "solar villages", sort=sort, limit=10, recency="1d", boost=["heat"], as_of=AS_OF
        )
        assert [(h.id, h.score) for h in boosted.hits] == [(h.id, h.score) for h in plain.hits]


def test_relevance_ties_under_boosts_go_to_the_newest(make_index: Callable[..., Path]) -> None:
    table = [{**item, "quality": 50, "heat": 5} for item in TWINS[:3]]
    index = SearchIndex.open(make_index(table, name="ties"))
    results = index.search("solar", boost="quality")
    assert len({h.score for h in results.hits}) == 1
    assert [h.id for h in results.hits] == ["now.md", "three-days.md", "six-weeks.md"]


WORDS = "oil gas prices market bank rates trade deficit grain wheat corn gold shares profit loss".split()  # noqa: SIM905


def synthetic_table(count: int = 1500) -> list[dict[str, Any]]:
    """Items of random words, dates over two years (some undated), qualities (some missing)
    and heats (some -1): enough matches for every ranking path (over 1000 for "oil*")."""
    rng = random.Random(21578)
    table = []
    for n in range(count):
        words = rng.choices(WORDS, k=rng.randint(3, 12))
        item: dict[str, Any] = {
            "id": f"s/{n:04d}.md",
            "title": " ".join(words[:4]),
            "excerpt": " ".join(words[4:]),
            "heat": rng.choice([-1, 0, rng.randint(1, 1000)]),
        }
        if n % 17:
            item["publishedDateTime"] = (AS_OF - timedelta(hours=rng.randint(-48, 17_000))).isoformat()
        if n % 5:
            item["quality"] = rng.randint(0, 100)
        table.append(item)
    return table


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], SearchIndex]:
    table = synthetic_table()
    base = tmp_path_factory.mktemp("synthetic")
    return table, SearchIndex.open(build_index(write_corpus(base / "corpus", table), base / "index"))


def factor_of(item: dict[str, Any], half_life: timedelta, pivots: dict[str, float]) -> float:
    moment = when(item)
    age = (AS_OF - moment).total_seconds() if moment is not None else 10 * half_life.total_seconds()
    factor = 0.5 ** (max(0.0, age) / half_life.total_seconds())
    for name in ("quality", "heat"):
        value = item.get(name) or 0
        factor *= 1 + value / (value + pivots[name]) if value > 0 else 1
    return factor


def every_hit(index: SearchIndex, text: str) -> list[Any]:
    hits: list[Any] = []
    page = 1
    while True:
        results = index.search(text, limit=1000, page=page)
        hits += results.hits
        if len(hits) >= results.total:
            return hits
        page += 1


@pytest.mark.parametrize(
    "text", ["oil", "oil gas prices", "oil AND gas", '"gold shares"', "oil*", "g* OR p*"]
)
@pytest.mark.parametrize("boost", [("quality",), ("heat",), ("quality", "heat"), ()])
def test_boosted_top_k_is_the_true_top_k(
    synthetic: tuple[list[dict[str, Any]], SearchIndex], text: str, boost: tuple[str, ...]
) -> None:
    """Boost every match's score here (from the unboosted scores of all matches and the table's
    values) and compare the ranking's top 10 with the best 10 of those."""
    table, index = synthetic
    half_life = timedelta(days=60)
    pivots = {name: pivot(table, name) for name in ("quality", "heat")}
    fields = {name: pivots[name] if name in boost else math.inf for name in pivots}  # inf: factor 1
    by_id_table = {item["id"]: item for item in table}
    every = every_hit(index, text)
    assert len(every) > 10
    expected = sorted(
        ((h.score * factor_of(by_id_table[h.id], half_life, fields), h.id) for h in every), reverse=True
    )
    boosted = index.search(text, limit=10, recency=half_life, as_of=AS_OF, boost=boost)
    assert boosted.total == len(every)
    got = [(hit.score, hit.id) for hit in boosted.hits]
    assert [score for score, _ in got] == pytest.approx([score for score, _ in expected[:10]], rel=1e-9)
    cutoff = expected[9][0]
    assert {i for _, i in got} <= {i for score, i in expected if score >= cutoff * (1 - 1e-9)}


def test_the_synthetic_corpus_reaches_every_ranking_path(
    synthetic: tuple[list[dict[str, Any]], SearchIndex],
) -> None:
    _table, index = synthetic
    assert index.search("g* OR p*", limit=1).total > 1000  # Whoosh's collector without boosts


@pytest.mark.parametrize("value", ["0d", "-3d", "soon"])
def test_bad_half_lives_are_usage_errors_in_the_cli(index_dir: Path, value: str) -> None:
    result = run_cli("search", "climate", "--recency", value, "--index-dir", index_dir)
    assert result.code == 2
    assert "Invalid value for '--recency'" in result.stderr and "Traceback" not in result.stderr


def test_bad_boosts_and_times(twins: SearchIndex, index_dir: Path) -> None:
    with pytest.raises(QueryError, match="invalid boost 'fame'"):
        twins.search("solar", boost="fame")
    with pytest.raises(QueryError, match="invalid date"):
        twins.search("solar", recency="1d", as_of="yesterday-ish")
    result = run_cli("search", "climate", "--boost", "fame", "--index-dir", index_dir)
    assert result.code == 2 and "'fame' is not one of 'quality', 'heat'" in result.stderr


def test_boosts_from_the_cli(make_index: Callable[..., Path]) -> None:
    index_dir = make_index(TWINS, name="cli")
    args = [
        "--recency",
        "3d",
        "--as-of",
        "2024-01-10T00:00:00Z",
        "--boost",
        "quality",
        "--json",
        "--limit",
        "10",
    ]
    result = run_cli("search", "solar villages", *args, "--index-dir", index_dir)
    assert result.code == 0, result.stderr
    api = SearchIndex.open(index_dir).search(
        "solar villages", limit=10, recency="3d", as_of=AS_OF, boost="quality"
    )
    assert [(h["id"], h["score"]) for h in result.json["hits"]] == [
        (h.id, round(h.score, 6)) for h in api.hits
    ]


# -- explanations ----------------------------------------------------------------------------------


def walk(node: Explanation) -> list[Explanation]:
    return [node, *(n for child in node.details for n in walk(child))]


def leaves_match_the_index(node: Explanation, searcher: Searcher) -> int:
    """Check each BM25 node's figures against the index's statistics; returns how many."""
    checked = 0
    for bm25 in (n for n in walk(node) if n.description.startswith("BM25 of ")):
        word = bm25.description.split("'")[1]
        field = bm25.description.split(" in ")[1].split(":")[0]
        idf, tf, length, average, k1, b = (d.value for d in bm25.details[:6])
        frequency = searcher.doc_frequency(field, word)
        total = searcher.doc_count()
        assert f"n = {frequency} of N = {total} items" in bm25.details[0].description
        assert idf == pytest.approx(math.log(1 + (total - frequency + 0.5) / (frequency + 0.5)), rel=1e-12)
        assert average == pytest.approx(searcher.avg_field_length(field), rel=1e-12)
        assert (k1, b) == (schema.BM25_K1, schema.BM25_B)
        assert tf >= 1 and length >= tf
        value = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        assert bm25.value == pytest.approx(value, rel=1e-9)
        checked += 1
    return checked


EXPLAINED: list[tuple[str, dict[str, Any]]] = [
    ("climate", {}),
    ("court recognition", {}),
    ("facial recognition", {}),  # the title-phrase bonus
    ("climate AND change", {"boost": ["quality"]}),
    ('"facial recognition"', {}),
    ("clim*", {"recency": "90d", "as_of": AS_OF}),
    ("summit OR budget", {"recency": "2w", "as_of": AS_OF, "boost": ["quality", "heat"]}),
    ("climate", {"sort": "newest"}),
    ("", {}),
    ("climate", {"topics": ["Climate"], "recency": "30d", "as_of": AS_OF}),
]


@pytest.mark.parametrize(("text", "options"), EXPLAINED)
def test_every_hits_explanation_adds_up_to_its_score(
    index: SearchIndex, text: str, options: dict[str, Any]
) -> None:
    results = index.search(text, limit=50, explain=True, **options)
    assert results.hits
    reader = index._read()
    searcher = reader._refresh()
    for hit in results.hits:
        assert hit.explanation is not None
        assert hit.explanation.value == pytest.approx(hit.score, rel=1e-6), (text, hit.id)
        if text and not text.startswith('"') and "*" not in text:
            assert leaves_match_the_index(hit.explanation, searcher) >= 1
        assert hit.to_dict()["explanation"]["value"] == hit.explanation.value
    assert "explanation" not in index.search(text, limit=1).hits[0].to_dict()


def test_explanations_name_the_bonus_and_each_factor(index: SearchIndex) -> None:
    hit = index.search(
        "facial recognition", limit=1, explain=True, recency="30d", as_of=AS_OF, boost="quality"
    ).hits[0]
    assert hit.explanation is not None
    texts = [n.description for n in walk(hit.explanation)]
    # The words as the index holds them (stems).
    assert any(t.startswith("title-phrase bonus: the title holds 'facial recognit' in order") for t in texts)
    assert any(
        t.startswith("recency: 0.5 ^ (age / half-life), age ") and "half-life 30 days" in t for t in texts
    )
    assert any(t.startswith("quality: 1 + v / (v + pivot)") and "pivot" in t for t in texts)


def test_explain_one_item_off_the_first_page(index: SearchIndex) -> None:
    every = index.search("climate", limit=100)
    last = every.hits[-1]
    explained = index.explain("climate", last.id)
    assert explained.matches and explained.reason is None
    assert explained.score == pytest.approx(last.score, rel=1e-12)
    assert explained.explanation is not None and explained.explanation.value == explained.score
    by_url = index.explain("climate", next(i for i in ITEMS if i["id"] == last.id).get("webUrl") or last.url)
    assert by_url.id == last.id


def test_explain_says_why_an_item_does_not_match(index: SearchIndex) -> None:
    climate = index.search("climate", limit=100).hits
    dated = next(h for h in climate if h.published_at is not None and h.published_at.year < 2024)
    filtered = index.explain("climate", dated.id, since="2024-01-01")
    assert not filtered.matches and filtered.score is None
    assert filtered.reason == "excluded by the filter since 2024-01-01T00:00:00Z"
    assert filtered.explanation is not None  # what the query alone scores
    nothing = next(
        i["id"]
        for i in ITEMS
        if "climat" not in (i["title"] + i.get("excerpt", "")).lower()
        and "climat" not in i.get("body", "").lower()
        and "climat" not in " ".join(i.get("topics", [])).lower()
    )
    missing = index.explain("climate", nothing)
    assert not missing.matches and missing.reason == "none of the query's words occur in it"
    partly = index.explain("climate AND zebra", dated.id)
    assert partly.reason == "it lacks 'zebra' (the query needs it)"


def test_explain_from_the_cli(index_dir: Path, index: SearchIndex) -> None:
    hit = index.search("climate", limit=1).hits[0]
    result = run_cli("explain", "climate", hit.id, "--index-dir", index_dir)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{hit.id} matches 'climate': score {hit.score:.6g}"
    assert "BM25 of 'climat' in content" in result.stdout
    data = run_cli("explain", "climate", hit.id, "--json", "--index-dir", index_dir).json
    assert data["matches"] is True and data["explanation"]["value"] == pytest.approx(hit.score)
    result = run_cli("search", "climate", "--explain", "--limit", "2", "--index-dir", index_dir)
    assert result.stdout.count("BM25 of 'climat' in content") >= 2
    missing = run_cli("explain", "climate", "no/such.md", "--index-dir", index_dir)
    assert missing.code == 1 and missing.stderr.startswith("Error: no item with id or url")
