"""Trending (searchkit/trending.py): values far more frequent in a window than before it.

The corpus is written here, with topics, providers and words spread so that every score has a
non-trivial ranking: values new in the window, values more and less frequent than before,
ties, numbers and rare words (left out), items on each boundary of the window and of its
background, items before the background, after the window and undated (in neither set).
What each test expects is computed from this table: the two sets from the items' dates, the
counts from their fields, and the scores from the definitions (chi-square as Pearson's sum
over the four cells, not the closed form the code uses).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import build_index, run_cli, text_of, when, write_corpus, write_item

from searchkit import QueryError, SearchIndex, TrendingResults, TrendingValue
from searchkit.schema import make_analyzer
from searchkit.trending import TrendingCache

UTC = timezone.utc
AS_OF = "2024-03-10"  # a date: the window is that whole day
SINCE = datetime(2024, 3, 10, tzinfo=UTC)
UNTIL = datetime(2024, 3, 11, tzinfo=UTC)
BACKGROUND_SINCE = SINCE - timedelta(days=30)  # 2024-02-09

Item = dict[str, Any]


def news(
    ident: str,
    published: str | None,
    title: str,
    excerpt: str,
    topics: list[str],
    provider: str,
    quality: int = 60,
) -> Item:
    item: Item = {
        "id": f"{ident}.md",
        "title": title,
        "excerpt": excerpt,
        "topics": topics,
        "provider": {"name": provider, "domain": provider.lower().replace(" ", "") + ".example"},
        "quality": quality,
    }
    if published is not None:
        item["publishedDateTime"] = published
    return item


# (id, time on 2024-03-10, title, excerpt, topics, provider, quality)
# fmt: off
WINDOW_ITEMS = [news(ident, f"2024-03-10T{time}Z", *rest) for ident, time, *rest in [
    # On the window's first instant: in the window.
    ("w01", "00:00:00", "Volcano erupts near harbour town", "Ash fell on the harbour.",
     ["Volcano", "Science", "World"], "Island Wire", 80),
    ("w02", "02:00:00", "Volcano ash closes airport", "Flights stopped in 2024 as the volcano erupted.",
     ["Volcano", "Travel", "World"], "Island Wire", 70),
    ("w03", "03:00:00", "VOLCANO WATCH: lava reaches the sea", "Scientists watch the volcano in 2024.",
     ["volcano", "Science", "World"], "Island Wire", 40),
    ("w04", "04:00:00", "Election results delayed", "Counting of the election continues in 2024.",
     ["Elections", "World"], "Daily Ledger", 75),
    ("w05", "05:00:00", "Election turnout hits record", "Voters queued for hours at the harbour.",
     ["Elections", "World"], "Daily Ledger", 65),
    ("w06", "06:00:00", "Elections: the harbour vote", "The harbour district voted early.",
     ["Elections", "Politics", "World"], "Island Wire", 55),
    ("w07", "07:00:00", "Markets rally on rate hopes", "Shares rose across the board.",
     ["Markets", "World"], "Money Times", 50),
    ("w08", "08:00:00", "Markets slip at the close", "Shares did not hold on the 1st day.",
     ["Markets"], "Money Times", 45),
    ("w09", "09:00:00", "Climate talks resume", "Delegates did not agree on the 1st point.",
     ["Climate"], "Green Post", 70),
    ("w10", "10:00:00", "Grid strained by heat", "It was not a record for the 1st time.",
     ["Energy"], "Green Post", 60),
    ("w11", "11:00:00", "Markets steady before the vote", "Traders waited for the results.",
     ["Markets", "Politics"], "Money Times", 58),
    # On the window's last second.
    ("w12", "23:59:59", "Science prize awarded", "A volcano study won the prize.",
     ["Science", "Politics"], "Daily Ledger", 90),
]]
# fmt: on

_BACKGROUND_TOPICS = (
    [["Markets"]] * 10
    + [["Markets", "Energy"]] * 2
    + [["Climate"]] * 6
    + [["Energy"]] * 3
    + [["Science"]] * 3
    + [["Elections"]] * 2
    + [["Travel"]] * 2
    + [["Politics"]] * 2
)
_BACKGROUND_PROVIDERS = (
    ["Money Times"] * 12 + ["Green Post"] * 11 + ["Daily Ledger"] * 5 + ["Island Wire"] * 2
)
_BACKGROUND_WORDS = {
    "Markets": ("Markets report", "Shares moved in quiet trading."),
    "Climate": ("Climate report", "Emissions data were published."),
    "Energy": ("Energy report", "The grid met demand."),
    "Science": ("Science report", "A study was published."),
    "Elections": ("Election campaign opens", "Candidates spoke at the harbour."),
    "Travel": ("Travel report", "Flights ran on time."),
    "Politics": ("Politics report", "The vote was close."),
}
BACKGROUND_ITEMS = [
    news(
        f"b{n:02d}",
        # One on the background's first instant (in it), the rest spread over 30 days.
        "2024-02-09T00:00:00Z" if n == 0 else (BACKGROUND_SINCE + timedelta(hours=23 * n + 1)).isoformat(),
        _BACKGROUND_WORDS[topics[0]][0],
        _BACKGROUND_WORDS[topics[0]][1],
        topics + (["World"] if n < 9 else []),
        provider,
        40 + n,
    )
    for n, (topics, provider) in enumerate(zip(_BACKGROUND_TOPICS, _BACKGROUND_PROVIDERS, strict=True))
]

# fmt: off
OUTSIDE_ITEMS = [news(*row) for row in [
    # Just before the background, after the window, undated: in neither set.
    ("o1", "2024-02-08T23:59:59Z", "Volcano report", "The volcano slept.", ["Volcano"], "Island Wire"),
    ("o2", "2024-01-05T10:00:00Z", "Volcano report", "The volcano slept.", ["Volcano"], "Island Wire"),
    ("o3", "2024-03-11T00:00:00Z", "Volcano erupts again", "The volcano woke.", ["Volcano"], "Island Wire"),
    ("o4", "2024-03-12T00:00:00Z", "Election recount", "The election goes on.", ["Elections"], "Island Wire"),
    ("o5", None, "Undated volcano note", "A volcano, undated.", ["Volcano"], "Island Wire"),
]]
# fmt: on

TABLE = WINDOW_ITEMS + BACKGROUND_ITEMS + OUTSIDE_ITEMS


# -- what the tests expect, from the table --------------------------------------------------------

ANALYZER = make_analyzer()


def words(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(word as the index analyses it, as written) for the words of title and excerpt."""
    text = f"{item['title']}\n{item.get('excerpt', '')}"
    return [(token.text, token.original) for token in ANALYZER(text, keeporiginal=True)]


def stems(text: str) -> set[str]:
    return {token.text for token in ANALYZER(text)}


#: Snowball's English stop words that the index keeps (for queries): not trending words.
SNOWBALL_KEPT = {"who", "it", "no", "not", "nor", "up", "down", "over", "under", "out", "off"}


def topical(word: str) -> bool:
    """Not a stop word (the analysis drops the rest), not a number (ordinals too)."""
    return word not in SNOWBALL_KEPT and not re.fullmatch(r"[0-9][0-9.,]*(st|nd|rd|th)?", word)


def in_sets(
    table: Iterable[Item],
    since: datetime = SINCE,
    until: datetime = UNTIL,
    background_since: datetime = BACKGROUND_SINCE,
    keep: Callable[[Item], bool] = lambda item: True,
) -> tuple[list[Item], list[Item]]:
    """(window items, background items) among those ``keep`` keeps."""
    window, background = [], []
    for item in table:
        moment = when(item)
        if moment is None or not keep(item):
            continue
        if since <= moment < until:
            window.append(item)
        elif background_since <= moment < since:
            background.append(item)
    return window, background


def topic_keys(item: Item) -> set[str]:
    return {topic.casefold() for topic in item["topics"]}


def provider_keys(item: Item) -> set[str]:
    return {item["provider"]["name"].casefold()}


def spellings(table: Iterable[Item], values: Callable[[Item], Iterable[str]]) -> dict[str, str]:
    """Case-folded value -> the spelling most items use, over the whole table."""
    counted = Counter(value for item in table for value in set(values(item)))
    best: dict[str, str] = {}
    for value, _count in sorted(counted.items(), key=lambda pair: (-pair[1], pair[0])):
        best.setdefault(value.casefold(), value)
    return best


def pearson_chi2(f: int, fg: int, b: int, bg: int) -> float:
    """Pearson's chi-square of the 2x2 table (window, background) x (holds, lacks)."""
    observed = [[f, fg - f], [b, bg - b]]
    n = fg + bg
    rows = [fg, bg]
    columns = [f + b, n - f - b]
    if 0 in columns:
        return 0.0
    return sum(
        (observed[i][j] - rows[i] * columns[j] / n) ** 2 / (rows[i] * columns[j] / n)
        for i in range(2)
        for j in range(2)
    )


def expected(
    window: list[Item],
    background: list[Item],
    by: str,
    score: str = "jlh",
    table: list[Item] = TABLE,
) -> list[tuple[str, int, int, float, float]]:
    """(value, count, background count, score, ratio), ranked as the module docstring says."""
    if by == "terms":
        keys: Callable[[Item], set[str]] = lambda item: {stem for stem, _ in words(item)}  # noqa: E731
        forms: dict[str, Counter[str]] = {}
        for item in window:
            for stem, written in words(item):
                forms.setdefault(stem, Counter())[written] += 1
        shown = {
            stem: min(c, key=lambda form: (-c[form], sum(ch.isupper() for ch in form), form))
            for stem, c in forms.items()
        }
    else:
        keys = topic_keys if by == "topics" else provider_keys
        shown = spellings(
            table, lambda item: item["topics"] if by == "topics" else [item["provider"]["name"]]
        )
    fg_size, bg_size = len(window), len(background)
    fg_counts = Counter(key for item in window for key in keys(item))
    bg_counts = Counter(key for item in background for key in keys(item))
    rows = []
    for key, f in fg_counts.items():
        b = bg_counts[key]
        if f < 3 or not topical(key) or not fg_size or not bg_size:
            continue
        fg, bg = Fraction(f, fg_size), Fraction(b + 1, bg_size + 1)
        if fg <= bg:
            continue
        value = {
            "jlh": float((fg - bg) * fg / bg),
            "percentage": f / (b + 1),
            "chi2": pearson_chi2(f, fg_size, b, bg_size),
        }[score]
        rows.append((shown[key], f, b, value, float(fg / bg)))
    rows.sort(key=lambda row: (-row[3], -row[1], row[0]))
    return rows


def as_rows(results: TrendingResults) -> list[tuple[str, int, int]]:
    return [(v.value, v.count, v.background_count) for v in results.trending]


def assert_matches(results: TrendingResults, want: list[tuple[str, int, int, float, float]]) -> None:
    assert as_rows(results) == [row[:3] for row in want]
    for value, row in zip(results.trending, want, strict=True):
        assert value.score == pytest.approx(row[3], rel=1e-9)
        assert value.ratio == pytest.approx(row[4], rel=1e-9)


@pytest.fixture(scope="module")
def trend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trending")
    return build_index(write_corpus(root / "corpus", TABLE), root / "index")


@pytest.fixture(scope="module")
def trend(trend_dir: Path) -> Iterable[SearchIndex]:
    with SearchIndex.open(trend_dir) as index:
        yield index


# -- the sets and the window ------------------------------------------------------------------------


def test_the_table_has_what_the_tests_need() -> None:
    window, background = in_sets(TABLE)
    assert (len(window), len(background)) == (12, 30)
    # Values new in the window, ties, numbers in at least 3 window items, rare words.
    assert not any("volcano" in topic_keys(item) for item in background)
    assert sum("2024" in item["excerpt"] for item in window) == 3
    assert (
        sum("1st" in item["excerpt"] for item in window)
        == sum(" not " in item["excerpt"] for item in window)
        == 3
    )


def test_window_and_background_sizes_and_bounds(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, window="24h", baseline="30d")
    window, background = in_sets(TABLE)
    assert (results.foreground, results.background) == (len(window), len(background))
    assert (results.since, results.until) == (SINCE, UNTIL)


@pytest.mark.parametrize(
    ("as_of", "until"),
    [
        ("2024-03-10", UNTIL),  # a date: the end of that day
        ("2024-03-10T12:00:00Z", datetime(2024, 3, 10, 12, tzinfo=UTC)),
        ("2024-03-10T14:00:00+02:00", datetime(2024, 3, 10, 12, tzinfo=UTC)),
        (datetime(2024, 3, 11, tzinfo=UTC), UNTIL),
    ],
)
def test_as_of_sets_the_end_of_the_window(trend: SearchIndex, as_of: Any, until: datetime) -> None:
    results = trend.trending(as_of=as_of, window="2d", baseline="1w", by="providers")
    since = until - timedelta(days=2)
    window, background = in_sets(TABLE, since, until, since - timedelta(weeks=1))
    assert (results.since, results.until) == (since, until)
    assert (results.foreground, results.background) == (len(window), len(background))
    assert_matches(results, expected(window, background, "providers"))


def test_the_window_defaults_to_the_last_day_before_now(trend: SearchIndex) -> None:
    before = datetime.now(UTC)
    results = trend.trending()
    assert before <= results.until <= datetime.now(UTC)
    assert results.until - results.since == timedelta(hours=24)
    assert (results.foreground, results.background, results.trending) == (0, 0, ())


# -- each source and score --------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["jlh", "chi2", "percentage"])
@pytest.mark.parametrize("by", ["topics", "terms", "providers"])
def test_ranking_for_each_source_and_score(trend: SearchIndex, by: str, score: str) -> None:
    results = trend.trending(as_of=AS_OF, by=by, score=score, limit=100)
    want = expected(*in_sets(TABLE), by, score)
    assert want, "the table should give every source something to rank"
    assert_matches(results, want)


def test_jlh_is_the_default_and_limit_cuts_the_list(trend: SearchIndex) -> None:
    full = trend.trending(as_of=AS_OF, by="terms", limit=100)
    assert full == trend.trending(as_of=AS_OF, by="terms", score="jlh", limit=100)
    assert trend.trending(as_of=AS_OF, by="terms", limit=2).trending == full.trending[:2]


def test_a_value_new_in_the_window_is_smoothed_by_add_one(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, by="topics")
    volcano = next(value for value in results.trending if value.value == "Volcano")
    # 3 of the 12 window items (one spelled "volcano"), none of the 30 before: the background
    # counts one more item, which has it.
    assert (volcano.count, volcano.background_count) == (3, 0)
    assert volcano.ratio == pytest.approx((3 / 12) / (1 / 31))
    assert volcano.score == pytest.approx((3 / 12 - 1 / 31) * (3 / 12) / (1 / 31))


def test_terms_leave_out_numbers_stop_words_and_rare_words(trend: SearchIndex) -> None:
    shown = {value.value.casefold() for value in trend.trending(as_of=AS_OF, by="terms", limit=1000).trending}
    assert "2024" not in shown  # a number, in 3 window items
    assert "1st" not in shown  # an ordinal, in 3 window items
    assert not shown & {"the", "at", "in", "not"}  # stop words ("not" in 3 window items)
    assert "airport" not in shown  # in 1 window item
    assert {"volcano", "harbour"} <= shown


def test_terms_are_shown_in_their_most_frequent_form(trend: SearchIndex) -> None:
    values = {v.value: v for v in trend.trending(as_of=AS_OF, by="terms", limit=1000).trending}
    # "volcano" 3 times, "Volcano" twice, "VOLCANO" once (in 4 items); "Election" twice,
    # "election" and "Elections" once (in 3 items): one word each as the index analyses them.
    assert "volcano" in values and values["volcano"].count == 4
    assert "Election" in values and values["Election"].count == 3


def test_ties_go_to_the_larger_count_then_the_value(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, by="terms", limit=1000).trending
    keys = [(-value.score, -value.count, value.value) for value in results]
    assert keys == sorted(keys)
    scores = Counter(round(value.score, 12) for value in results)
    assert max(scores.values()) > 1, "the table should have tied scores"


def test_only_values_more_frequent_than_before_are_listed(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, by="topics", limit=100)
    for value in results.trending:
        assert value.ratio > 1 and value.score > 0
    # Markets: 4 of 12 in the window, 12 of 30 before: less frequent, not listed.
    assert "Markets" not in {value.value for value in results.trending}


# -- the best values are found without counting every one -------------------------------------------

#: Words of a larger corpus drawn at random, each with its own rate in the window and before it.
_WORDS = (
    "harbour volcano election market climate energy grid vote court budget strike rally tariff "
    "merger bank rates drought harvest wheat copper gold oil shipping airline rail bridge storm "
    "flood school hospital vaccine trial police border summit treaty"
)
_VOCABULARY = _WORDS.split()


@pytest.fixture(scope="module")
def random_table() -> list[Item]:
    """300 items: 60 in the window, 240 in the 30 days before, words and topics drawn with
    rates of their own in each set, so that many values are candidates and few are listed."""
    rng = random.Random(1987)
    window_rate = {word: rng.random() ** 3 for word in _VOCABULARY}
    background_rate = {word: rng.random() ** 3 for word in _VOCABULARY}
    topics = [word.title() for word in _VOCABULARY[:15]]
    table = []
    for n in range(300):
        in_window = n < 60
        moment = SINCE + timedelta(minutes=20 * n) if in_window else SINCE - timedelta(hours=3 * (n - 59))
        rates = window_rate if in_window else background_rate
        picked = [word for word in _VOCABULARY if rng.random() < rates[word]] or ["note"]
        title = " ".join(picked[:5]).capitalize()
        excerpt = " ".join(word.upper() if rng.random() < 0.2 else word for word in picked[5:]) + "."
        chosen = [topic for topic in topics if rng.random() < rates[topic.lower()]]
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        table.append(news(f"r{n:03d}", stamp, title, excerpt, chosen, rng.choice(["A", "B", "C", "D"])))
    return table


@pytest.fixture(scope="module")
def random_dir(random_table: list[Item], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("random")
    return build_index(write_corpus(root / "corpus", random_table), root / "index")


@pytest.mark.parametrize("by", ["topics", "terms"])
@pytest.mark.parametrize("score", ["jlh", "chi2", "percentage"])
def test_the_best_values_are_exact_at_any_limit(
    random_table: list[Item], random_dir: Path, monkeypatch: pytest.MonkeyPatch, by: str, score: str
) -> None:
    window, background = in_sets(random_table)
    assert (len(window), len(background)) == (60, 240)
    want = expected(window, background, by, score, random_table)
    assert len(want) > 5
    read: set[str] = set()
    word_docs = TrendingCache.word_docs

    def counting(self: TrendingCache, segment: Any, word: str) -> Any:
        read.add(word)
        return word_docs(self, segment, word)

    monkeypatch.setattr(TrendingCache, "word_docs", counting)
    with SearchIndex.open(random_dir) as index:  # a fresh handle: nothing counted yet
        for limit in (1, 3, 10, 1000):
            assert_matches(index.trending(as_of=AS_OF, by=by, score=score, limit=limit), want[:limit])
            if limit == 1 and by == "terms":
                # Not every candidate's background was counted to find the best one.
                candidates = Counter(stem for item in window for stem in {s for s, _ in words(item)})
                assert len(read) < sum(n >= 3 and topical(w) for w, n in candidates.items())


# -- query and filters narrow both sets ------------------------------------------------------------


@pytest.mark.parametrize("by", ["topics", "terms"])
def test_a_query_narrows_both_sets(trend: SearchIndex, by: str) -> None:
    query = "harbour vote volcano election"
    wanted = stems(query)
    window, background = in_sets(TABLE, keep=lambda item: bool(stems(text_of(item)) & wanted))
    results = trend.trending(query, as_of=AS_OF, by=by, limit=100)
    assert (results.foreground, results.background) == (len(window), len(background))
    assert_matches(results, expected(window, background, by))


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        (
            {"providers": ["island wire", "Daily Ledger"]},
            lambda item: item["provider"]["name"] in {"Island Wire", "Daily Ledger"},
        ),
        ({"min_quality": 55}, lambda item: item["quality"] >= 55),
        ({"topics": "politics"}, lambda item: "politics" in topic_keys(item)),
    ],
)
def test_filters_narrow_both_sets(
    trend: SearchIndex, filters: dict[str, Any], keep: Callable[[Item], bool]
) -> None:
    for by in ("topics", "terms", "providers"):
        results = trend.trending(as_of=AS_OF, by=by, limit=100, **filters)
        window, background = in_sets(TABLE, keep=keep)
        assert (results.foreground, results.background) == (len(window), len(background))
        assert_matches(results, expected(window, background, by))


def test_since_and_until_narrow_the_window_and_the_background(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, since="2024-02-25", until="2024-03-10T06:00:00Z", by="topics")
    window, background = in_sets(
        TABLE,
        keep=lambda item: (
            datetime(2024, 2, 25, tzinfo=UTC) <= when(item) <= datetime(2024, 3, 10, 6, tzinfo=UTC)
        ),  # type: ignore[operator]
    )
    assert (results.foreground, results.background) == (len(window), len(background))
    assert 0 < len(window) < 12 and 0 < len(background) < 30
    assert_matches(results, expected(window, background, "topics"))


# -- empty sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "until", "window", "baseline", "keep"),
    [
        # Long before the corpus: both empty.
        (
            {"as_of": "2023-06-01"},
            datetime(2023, 6, 2, tzinfo=UTC),
            timedelta(hours=24),
            timedelta(days=30),
            None,
        ),
        # No items in the window, some before it.
        (
            {"as_of": "2024-03-20", "window": "2d"},
            datetime(2024, 3, 21, tzinfo=UTC),
            timedelta(days=2),
            timedelta(days=30),
            None,
        ),
        # Nothing in the hour before the window.
        ({"as_of": AS_OF, "baseline": "1h"}, UNTIL, timedelta(hours=24), timedelta(hours=1), None),
        # A topic new in the window.
        ({"as_of": AS_OF, "topics": ["Volcano"]}, UNTIL, timedelta(hours=24), timedelta(days=30), "volcano"),
    ],
)
def test_an_empty_window_or_background_lists_nothing(
    trend: SearchIndex,
    arguments: dict[str, Any],
    until: datetime,
    window: timedelta,
    baseline: timedelta,
    keep: str | None,
) -> None:
    results = trend.trending(**arguments)
    since = until - window
    sets = in_sets(
        TABLE, since, until, since - baseline, lambda item: keep is None or keep in topic_keys(item)
    )
    assert (results.foreground, results.background) == (len(sets[0]), len(sets[1]))
    assert 0 in (results.foreground, results.background)
    assert results.trending == ()


# -- results and errors --------------------------------------------------------------------------


def test_results_are_frozen_and_their_json_has_the_documented_shape(trend: SearchIndex) -> None:
    results = trend.trending(as_of=AS_OF, by="topics", limit=1)
    assert isinstance(results.trending[0], TrendingValue)
    with pytest.raises(AttributeError):
        results.foreground = 0  # type: ignore[misc]
    data = results.to_dict()
    assert data == {
        "window": {"since": "2024-03-10T00:00:00Z", "until": "2024-03-11T00:00:00Z"},
        "foreground": 12,
        "background": 30,
        "trending": [
            {
                "value": results.trending[0].value,
                "count": results.trending[0].count,
                "background_count": results.trending[0].background_count,
                "score": round(results.trending[0].score, 6),
                "ratio": round(results.trending[0].ratio, 6),
            }
        ],
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"window": "0d"}, "invalid window '0d': it must be more than zero"),
        ({"window": "soon"}, "invalid window 'soon': use a span like 24h, 2d or 4w"),
        ({"window": timedelta(hours=-1)}, "invalid window"),
        ({"baseline": "30"}, "invalid baseline '30': use a span like 24h, 2d or 4w"),
        ({"by": "words"}, "invalid by 'words': choose one of topics, terms, providers"),
        ({"score": "gnd"}, "invalid score 'gnd': choose one of jlh, chi2, percentage"),
        ({"limit": 0}, "invalid limit 0"),
        ({"as_of": "yesterday-ish"}, "invalid date 'yesterday-ish'"),
        ({"as_of": "0001-01-02", "window": "3d"}, "invalid window '3d': the window or its baseline leaves"),
        (
            {"as_of": "0001-01-02", "window": "2d"},
            "invalid baseline '30d': the window or its baseline leaves",
        ),
        ({"as_of": "9999-12-31"}, "invalid as_of '9999-12-31': the window or its baseline leaves"),
        ({"min_heat": "hot"}, "invalid min_heat"),
    ],
)
def test_bad_arguments_are_query_errors(trend: SearchIndex, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError) as raised:
        trend.trending(**arguments)
    assert str(raised.value).startswith(message)


def test_an_unknown_keyword_is_a_type_error(trend: SearchIndex) -> None:
    with pytest.raises(TypeError):
        trend.trending(facets=["topics"])  # type: ignore[call-arg]


# -- a changing index ------------------------------------------------------------------------------


def test_a_handle_follows_added_and_removed_items(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", TABLE)
    index_dir = build_index(corpus, tmp_path / "index")
    with SearchIndex.open(index_dir) as index:
        before = index.trending(as_of=AS_OF, by="terms", limit=100)  # fills the words' cache
        assert before.foreground == 12
        added = [
            news(
                f"n{n}",
                f"2024-03-10T1{n}:30:00Z",
                "Harbour volcano drill",
                "A drill at the harbour.",
                ["Volcano"],
                "Island Wire",
            )
            for n in range(3)
        ]
        for item in added:
            write_item(corpus, item)
        (corpus / "w01.md").unlink()
        index.update(corpus)
        table = [item for item in TABLE if item["id"] != "w01.md"] + added
        for by in ("terms", "topics"):
            results = index.trending(as_of=AS_OF, by=by, limit=100)
            assert_matches(results, expected(*in_sets(table), by))
    with SearchIndex.open(index_dir) as fresh:  # what is on disk
        assert_matches(fresh.trending(as_of=AS_OF, by="terms", limit=100), expected(*in_sets(table), "terms"))


# -- the command line ----------------------------------------------------------------------------


def test_cli_json_is_the_api_json(trend_dir: Path, trend: SearchIndex) -> None:
    result = run_cli(
        "trending", "--as-of", AS_OF, "--by", "terms", "--score", "chi2", "--index-dir", trend_dir, "--json"
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == trend.trending(as_of=AS_OF, by="terms", score="chi2").to_dict()


def test_cli_text_shows_the_sets_and_a_table(trend_dir: Path) -> None:
    result = run_cli("trending", "--as-of", AS_OF, "--limit", "3", "--index-dir", trend_dir)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "12 items in the window 2024-03-10T00:00:00Z .. 2024-03-11T00:00:00Z, 30 in the 30d before it."
    )
    want = expected(*in_sets(TABLE), "topics")[:3]
    assert lines[2].split() == ["value", "count", "background", "ratio", "score"]
    for line, (value, count, background, score, ratio) in zip(lines[3:], want, strict=True):
        assert line.split() == [value, str(count), str(background), f"{ratio:.1f}x", f"{score:.4g}"]


def test_cli_filters_and_query(trend_dir: Path, trend: SearchIndex) -> None:
    result = run_cli(
        "trending",
        "volcano OR harbour",
        "--as-of",
        AS_OF,
        "--provider",
        "Island Wire",
        "--by",
        "providers",
        "--index-dir",
        trend_dir,
        "--json",
    )
    assert result.code == 0, result.stderr
    assert (
        result.json
        == trend.trending(
            "volcano OR harbour", as_of=AS_OF, providers="Island Wire", by="providers"
        ).to_dict()
    )


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["--as-of", "2023-06-01"],
            "No items in the window 2023-06-01T00:00:00Z .. 2023-06-02T00:00:00Z nor in the 30d before it: "
            "nothing is trending. Try another --as-of, or a longer --window or --baseline.",
        ),
        (
            ["--as-of", "2024-03-20", "--window", "2d"],
            "0 items in the window 2024-03-19T00:00:00Z .. 2024-03-21T00:00:00Z, 34 in the 30d before it: "
            "nothing is trending. Try another --as-of or a longer --window.",
        ),
        (
            ["--as-of", "2024-03-10", "--baseline", "1h"],
            "12 items in the window 2024-03-10T00:00:00Z .. 2024-03-11T00:00:00Z, 0 in the 1h before it: "
            "nothing to compare the window with. Try a longer --baseline.",
        ),
        (
            ["--as-of", "2024-03-10", "--topic", "volcano"],
            "3 matching items in the window 2024-03-10T00:00:00Z .. 2024-03-11T00:00:00Z, 0 in the 30d "
            "before it: nothing to compare the window with. Try a longer --baseline.",
        ),
        (
            ["--as-of", "2024-03-10", "--window", "1h"],
            "1 item in the window 2024-03-10T23:00:00Z .. 2024-03-11T00:00:00Z, 40 in the 30d before it: "
            "nothing in at least 3 of the window's items is more frequent there than before.",
        ),
        (
            ["--as-of", "2024-03-10", "--by", "providers", "--topic", "markets"],
            "3 matching items in the window 2024-03-10T00:00:00Z .. 2024-03-11T00:00:00Z, 12 in the 30d "
            "before it: nothing in at least 3 of the window's items is more frequent there than before.",
        ),
    ],
)
def test_cli_explains_an_empty_answer(trend_dir: Path, arguments: list[str], line: str) -> None:
    result = run_cli("trending", *arguments, "--index-dir", trend_dir)
    assert result.code == 0, result.stderr
    assert result.stdout == line + "\n"
    assert "value" not in result.stdout  # no table


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--window", "0d", "Error: Invalid value for '--window': '0d': it must be more than zero"),
        ("--window", "soon", "Error: Invalid value for '--window': 'soon': use a span like 24h, 2d or 4w"),
        ("--baseline", "30", "Error: Invalid value for '--baseline': '30': use a span like 24h, 2d or 4w"),
        (
            "--by",
            "words",
            "Error: Invalid value for '--by': 'words' is not one of "
            "'topics', 'terms', 'providers', 'stories'.",
        ),
        (
            "--score",
            "gnd",
            "Error: Invalid value for '--score': 'gnd' is not one of 'jlh', 'chi2', 'percentage'.",
        ),
        ("--limit", "0", "Error: Invalid value for '--limit': 0 is not in the range 1<=x<=1000."),
    ],
)
def test_cli_bad_options_are_usage_errors(trend_dir: Path, option: str, value: str, error: str) -> None:
    result = run_cli("trending", option, value, "--index-dir", trend_dir)
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == [error]


def test_cli_bad_time_is_one_error_line(trend_dir: Path) -> None:
    result = run_cli("trending", "--as-of", "soonish", "--index-dir", trend_dir)
    assert result.code == 1
    assert result.stderr.startswith("Error: invalid date 'soonish'") and len(result.stderr.splitlines()) == 1


# -- stories ------------------------------------------------------------------------------------------

STORY_TEXT = (
    "Heavy rain flooded the centre of Valencia on Tuesday, cutting power to 60,000 homes and closing the "
    "port. Emergency services rescued 300 people from cars and flats as the Turia river burst its banks "
    "after 200 litres of rain fell in six hours. Schools across the province will stay closed."
)
OTHER_TEXT = (
    "Acme Industries agreed to buy Widget Holdings for 2.5 billion dollars in cash, the largest takeover "
    "in the packaging industry this year. Chief executive Maria Lindqvist said the deal would create the "
    "biggest maker of cardboard packaging in northern Europe, with plants in Sweden and Finland."
)


def test_stories_rank_by_their_growth_in_the_window(tmp_path: Path) -> None:
    def item(ident: str, body: str, when: str) -> dict[str, Any]:
        return {"id": ident, "title": ident, "body": body, "publishedDateTime": when}

    filler = [
        item(f"filler-{n}.md", f"Filler report number {n} about {word} and nothing else at all.", when)
        for n, (word, when) in enumerate(
            [
                ("wheat", "2024-02-01T08:00:00Z"),
                ("steel", "2024-02-10T08:00:00Z"),
                ("tin", "2024-02-20T08:00:00Z"),
            ]
        )
    ]
    table = [
        item("flood-0.md", STORY_TEXT, "2024-03-03T20:00:00Z"),  # before the window, same story
        *(item(f"flood-{n}.md", STORY_TEXT, f"2024-03-04T1{n}:00:00Z") for n in range(1, 5)),
        *(item(f"deal-{n}.md", OTHER_TEXT, f"2024-03-04T0{n}:00:00Z") for n in range(1, 4)),
        *filler,
    ]
    path = build_index(write_corpus(tmp_path / "corpus", table), tmp_path / "index")
    with SearchIndex.open(path) as index:
        story_of = {hit.id: hit.story.id for hit in index.search("", limit=100).hits if hit.story}
        results = index.trending(as_of="2024-03-04", window="24h", baseline="60d", by="stories", limit=10)
    window = [i["id"] for i in table if i["publishedDateTime"].startswith("2024-03-04")]
    background = [i["id"] for i in table if i["id"] not in window]
    assert (results.foreground, results.background) == (len(window), len(background))
    fg_counts = Counter(story_of[i] for i in window)
    bg_counts = Counter(story_of[i] for i in background)
    want = []
    for story, f in fg_counts.items():
        fg = Fraction(f, len(window))
        bg = Fraction(bg_counts[story] + 1, len(background) + 1)
        if f >= 3 and fg > bg:
            want.append((story, f, bg_counts[story], float((fg - bg) * fg / bg), float(fg / bg)))
    want.sort(key=lambda row: (-row[3], -row[1], row[0]))
    assert [row[0] for row in want] == [story_of["deal-1.md"], story_of["flood-1.md"]]
    assert_matches(results, want)
