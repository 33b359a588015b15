"""Query suggestions: "did you mean" (``SearchResults.suggestion``) and autocompletion
(``index.suggest``, ``searchkit suggest``), checked against what the item table says."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import build_index, mentions, run_cli, write_corpus

from searchkit import QueryError, SearchIndex

Item = Mapping[str, Any]


def si(ident: str, title: str, topics: list[str], **fields: Any) -> dict[str, Any]:
    return {"id": ident, "title": title, "topics": topics, **fields}


# "climate" is in many titles (and topics); "clmate" is a typo that occurs in one body only;
# words starting with "cl" and "c" have a spread of frequencies for completion.
SUGGEST_ITEMS: list[dict[str, Any]] = [
    si("s01.md", "Climate summit opens in Glasgow", ["Climate", "Politics"]),
    si("s02.md", "Climate talks stall over coal", ["Climate", "Energy"]),
    si("s03.md", "Climate strikes fill city streets", ["climate"]),
    si("s04.md", "Cities publish climate plans", ["Climate", "Cities"]),
    si("s05.md", "Climate change and the harvest", ["Climate", "Farming"]),
    si("s06.md", "Why climate models disagree", ["Science"]),
    si("s07.md", "Climbers return from Everest", ["Sport", "Mountains"]),
    si("s08.md", "Cloud computing costs fall", ["Cloud Computing", "Tech"]),
    si("s09.md", "Clinics face staff shortages", ["Health"]),
    si("s10.md", "Summit on trade ends early", ["Trade", "Politics"]),
    si("s11.md", "Coal plants close", ["Energy", "Climate"]),
    si(
        "s12.md",
        "Carbon markets rally",
        ["Carbon Markets", "Climate"],
        body="Traders said the clmate for deals had improved.",
    ),
    si("s13.md", "Glacier melt speeds up", ["Climate", "Science"], excerpt="Alpine glaciers shrink."),
    si("s14.md", "Cleaner air in cities", ["Health", "Cities"]),
]


@pytest.fixture(scope="module")
def suggest_index(tmp_path_factory: pytest.TempPathFactory) -> Iterable[SearchIndex]:
    root = tmp_path_factory.mktemp("suggest")
    with SearchIndex.open(build_index(write_corpus(root / "corpus", SUGGEST_ITEMS), root / "index")) as index:
        yield index


@pytest.fixture(scope="module")
def suggest_index_dir(suggest_index: SearchIndex) -> Path:
    return suggest_index.path


def count(table: Iterable[Item], *prefixes: str) -> int:
    """Items whose text has a word starting with one of ``prefixes``."""
    return sum(1 for item in table if mentions(item, *prefixes))


# -- did you mean --------------------------------------------------------------------------------


def test_a_misspelled_frequent_word_is_corrected(suggest_index: SearchIndex) -> None:
    typo = suggest_index.search("climte")
    assert typo.total == count(SUGGEST_ITEMS, "climte") == 0
    assert typo.suggestion == "climate"
    corrected = suggest_index.search(typo.suggestion)
    assert corrected.total == count(SUGGEST_ITEMS, "climate") > typo.total
    assert corrected.suggestion is None


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("climte summit", "climate summit"),
        ("summit climte", "summit climate"),
        ("climte OR clinics", "climate OR clinics"),
        ("climte AND summit", "climate AND summit"),
        ("the climte", "the climate"),
        ("Climte", "climate"),
    ],
)
def test_one_typo_among_other_words(suggest_index: SearchIndex, query: str, suggestion: str) -> None:
    typo = suggest_index.search(query)
    assert typo.suggestion == suggestion
    assert suggest_index.search(suggestion).total > typo.total


@pytest.mark.parametrize(
    "query",
    [
        "climate",  # a correct word
        "summit",
        "climate summit",
        "clmate",  # a typo, but one that occurs in the index (in a body only)
        "clmate summit",
        "title:climte",  # field values are left alone
        "topics:climte",
        '"climte summit"',  # so are phrases
        '"climte"',
        "",  # match-all
        "*",
        "xqzvv",  # nothing close
    ],
)
def test_no_suggestion(suggest_index: SearchIndex, query: str) -> None:
    assert suggest_index.search(query).suggestion is None


def test_a_word_only_in_a_body_is_known(suggest_index: SearchIndex) -> None:
    """ "clmate" is one edit from "climate", which would find far more; it is still not corrected."""
    assert [i["id"] for i in SUGGEST_ITEMS if "clmate" in i.get("body", "")] == ["s12.md"]
    assert not any(
        "clmate" in " ".join([i["title"], *i["topics"], i.get("excerpt", "")]).lower() for i in SUGGEST_ITEMS
    )
    results = suggest_index.search("clmate")
    assert (results.total, results.suggestion) == (1, None)
    assert suggest_index.search("climate").total > 1


def test_a_correction_that_finds_nothing_more_is_not_offered(suggest_index: SearchIndex) -> None:
    # Under the Health filter "climate" finds nothing either.
    health = [i for i in SUGGEST_ITEMS if "Health" in i["topics"]]
    assert count(health, "climate") == 0
    assert suggest_index.search("climte", topics=["Health"]).suggestion is None
    assert suggest_index.search("climte", topics=["Politics"]).suggestion == "climate"


@pytest.mark.parametrize(("grain", "green", "wanted"), [(5, 1, "grain"), (1, 5, "green"), (2, 3, "green")])
def test_the_most_frequent_correction_wins(
    make_index: Callable[..., Path], grain: int, green: int, wanted: str
) -> None:
    """ "grein" is one edit from both "grain" and "green"."""
    table = [si(f"grain{n}.md", f"Grain report {n}", []) for n in range(grain)] + [
        si(f"green{n}.md", f"Green report {n}", []) for n in range(green)
    ]
    with SearchIndex.open(make_index(table)) as index:
        results = index.search("grein")
        assert results.suggestion == wanted
        assert index.search(wanted).total == (grain if wanted == "grain" else green)


def test_corrections_follow_deletions(make_index: Callable[..., Path]) -> None:
    table = [si(f"grain{n}.md", f"Grain report {n}", []) for n in range(5)] + [
        si("green.md", "Green report", [])
    ]
    with SearchIndex.open(make_index(table)) as index:
        assert index.search("grein").suggestion == "grain"
        assert index.remove([f"grain{n}.md" for n in range(5)]) == 5
        assert index.search("grain").total == 0
        assert index.search("grein").suggestion == "green"
        # A word whose items are all gone is unknown again, so it is corrected.
        assert index.search("grain").suggestion == "green"


def test_a_correction_is_looked_up_once_per_state_of_the_index(
    make_index: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from searchkit import suggest

    looked_up: list[str] = []
    best = suggest._best_correction

    def counted(reader: Any, corrector: Any, word: str) -> str | None:
        looked_up.append(word)
        return best(reader, corrector, word)

    monkeypatch.setattr(suggest, "_best_correction", counted)
    table = [si(f"grain{n}.md", f"Grain report {n}", []) for n in range(3)]
    with SearchIndex.open(make_index(table)) as index:
        assert [index.search("grein").suggestion for _ in range(3)] == ["grain"] * 3
        assert [index.search("zzyzx").suggestion for _ in range(2)] == [None] * 2  # none, kept
        assert looked_up == ["grein", "zzyzx"]
        assert index.remove(["grain0.md"]) == 1  # a commit: looked up again
        assert index.search("grein").suggestion == "grain"
        assert looked_up == ["grein", "zzyzx", "grein"]


def test_cli_did_you_mean(suggest_index_dir: Path) -> None:
    text = run_cli("search", "climte summit", "--index-dir", suggest_index_dir)
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    total = count(SUGGEST_ITEMS, "summit")
    assert lines[:2] == ["Did you mean: climate summit", f"{total} hits (showing 1-{total})"]
    data = run_cli("search", "climte summit", "--json", "--index-dir", suggest_index_dir).json
    assert (data["suggestion"], data["total"]) == ("climate summit", total)
    right = run_cli("search", "climate", "--index-dir", suggest_index_dir).stdout
    assert "Did you mean" not in right
    assert run_cli("search", "climate", "--json", "--index-dir", suggest_index_dir).json["suggestion"] is None


# -- autocomplete ---------------------------------------------------------------------------------


def norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def expected_completions(table: list[dict[str, Any]], prefix: str, limit: int) -> list[str]:
    """Completions, case-folded: the last word completed from title words (ranked by the items
    whose title has the word) and topics (by the items with the topic), most first, then A-Z."""
    head, _, last = prefix.rpartition(" ")
    last = last.casefold()
    if not last.strip():
        return []
    counts: Counter[str] = Counter()
    for item in table:
        for word in set(re.findall(r"\w+", item["title"].casefold())):
            if word.startswith(last):
                counts[word] += 1
    topics = Counter(t for item in table for t in {norm(t) for t in item["topics"]})
    for topic, n in topics.items():
        if topic.startswith(last):
            counts[topic] = max(counts[topic], n)
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    return [norm(f"{head} {word}" if head else word) for word, _ in ranked]


PREFIXES = [
    "cl",
    "cli",
    "clim",
    "c",
    "ci",
    "s",
    "gla",
    "carbon",
    "carbon m",
    "why climate m",
    "he",
    "pol",
    "z",
    "cloud c",
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("limit", [1, 3, 10, 100])
def test_completions(suggest_index: SearchIndex, prefix: str, limit: int) -> None:
    result = suggest_index.suggest(prefix, limit=limit)
    assert result.prefix == prefix
    assert [norm(c) for c in result.completions] == expected_completions(SUGGEST_ITEMS, prefix, limit)


def test_completions_by_frequency(suggest_index: SearchIndex) -> None:
    """Spelled out for "cl": climate (the topic of 8 items, in 6 titles) before the words of one."""
    climate_topic = sum(1 for i in SUGGEST_ITEMS if "climate" in {t.casefold() for t in i["topics"]})
    climate_title = sum(1 for i in SUGGEST_ITEMS if "climate" in i["title"].casefold().split())
    assert (climate_topic, climate_title) == (8, 6)
    completions = suggest_index.suggest("cl").completions
    assert [c.casefold() for c in completions] == [
        "climate",
        "cleaner",
        "climbers",
        "clinics",
        "close",
        "cloud",
        "cloud computing",
    ]


def test_topics_complete_in_their_most_common_spelling(suggest_index: SearchIndex) -> None:
    assert "Cloud Computing" in suggest_index.suggest("clo").completions
    assert "Carbon Markets" in suggest_index.suggest("carb").completions
    # "Climate" (7 items) over "climate" (1).
    assert suggest_index.suggest("climate").completions[0] == "Climate"


def test_the_words_before_the_last_are_kept(suggest_index: SearchIndex) -> None:
    completions = suggest_index.suggest("Coal cli", limit=3).completions
    assert [c.casefold() for c in completions] == expected_completions(SUGGEST_ITEMS, "coal cli", 3)
    assert all(c.startswith("Coal ") for c in completions)


@pytest.mark.parametrize("prefix", ["CL", "Cl", "cL", "CLIM", "Carbon M"])
def test_case_does_not_matter(suggest_index: SearchIndex, prefix: str) -> None:
    upper = suggest_index.suggest(prefix).completions
    lower = suggest_index.suggest(prefix.lower()).completions
    head = prefix.rpartition(" ")[0]
    assert upper and [c.casefold() for c in upper] == [c.casefold() for c in lower]
    assert all(c.startswith(head) for c in upper)


@pytest.mark.parametrize("prefix", ["", " ", "   ", "cl ", "xqz"])
def test_no_completions(suggest_index: SearchIndex, prefix: str) -> None:
    assert suggest_index.suggest(prefix).completions == ()


@pytest.mark.parametrize("limit", [0, -3, 1001])
def test_invalid_limit(suggest_index: SearchIndex, limit: int) -> None:
    with pytest.raises(QueryError, match=f"invalid limit {limit}"):
        suggest_index.suggest("cl", limit=limit)


def test_completions_follow_deletions(make_index: Callable[..., Path]) -> None:
    table = [
        si("a.md", "Volcano erupts", ["Volcanoes"]),
        si("b.md", "Town evacuated", ["Volcanoes"], body="The volcano woke up."),
        si("c.md", "Volunteers help", ["Aid"]),
        si("d.md", "Volunteers return", ["Aid"]),
    ]
    with SearchIndex.open(make_index(table)) as index:
        assert [c.casefold() for c in index.suggest("vol").completions] == expected_completions(
            table, "vol", 10
        )
        index.remove(["a.md", "c.md"])
        rest = [i for i in table if i["id"] not in ("a.md", "c.md")]
        assert (
            [c.casefold() for c in index.suggest("vol").completions]
            == expected_completions(rest, "vol", 10)
            == ["volcanoes", "volunteers"]
        )


def test_cli_suggest(suggest_index_dir: Path, suggest_index: SearchIndex) -> None:
    text = run_cli("suggest", "cl", "--limit", "4", "--index-dir", suggest_index_dir)
    assert text.code == 0, text.stderr
    wanted = list(suggest_index.suggest("cl", limit=4).completions)
    assert [norm(c) for c in wanted] == expected_completions(SUGGEST_ITEMS, "cl", 4)
    assert text.stdout.splitlines() == wanted
    data = run_cli("suggest", "Coal cl", "--json", "--index-dir", suggest_index_dir).json
    assert set(data) == {"prefix", "completions"}
    assert data["prefix"] == "Coal cl"
    assert [norm(c) for c in data["completions"]] == expected_completions(SUGGEST_ITEMS, "Coal cl", 10)
    empty = run_cli("suggest", "xqz", "--json", "--index-dir", suggest_index_dir)
    assert empty.json == {"prefix": "xqz", "completions": []}
    assert run_cli("suggest", "xqz", "--index-dir", suggest_index_dir).stdout == ""


@pytest.mark.parametrize(("args", "code"), [(["suggest"], 2), (["suggest", "cl", "--limit", "0"], 2)])
def test_cli_suggest_usage_errors(suggest_index_dir: Path, args: list[str], code: int) -> None:
    result = run_cli(*args, "--index-dir", suggest_index_dir)
    assert result.code == code
    assert "Traceback" not in result.stdout + result.stderr
