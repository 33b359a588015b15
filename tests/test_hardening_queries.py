"""Queries and option values never end in a traceback, a hang or a run-away search: a value
searchkit cannot use is one ``QueryError`` (one ``Error: ...`` line from the CLI), and the work
of one query is bounded by the documented limits of searchkit/limits.py, searchkit/suggest.py
and searchkit/options.py. Property tests feed the parser and the option parsing arbitrary
values: they succeed or raise ``QueryError``, nothing else."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, CliRun, run_cli, text_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import QueryError, SearchIndex
from searchkit import limits as limits_module
from searchkit.limits import (
    MAX_EXPANDING_TERMS,
    MAX_FUZZY_DISTANCE,
    MAX_FUZZY_WORD_LENGTH,
    MAX_PLAIN_WORDS,
    MAX_QUERY_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_QUERY_TERMS,
    expand_terms,
)
from searchkit.options import (
    FILTER_PARAMS,
    MAX_LIMIT,
    MAX_PAGE,
    NUMBER_RANGE,
    Filters,
    check_page,
    parse_time_bound,
)
from searchkit.schema import F, make_schema
from searchkit.suggest import MAX_CORRECTED_WORD_LENGTH, MAX_CORRECTED_WORDS

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def one_error_line(result: CliRun) -> str:
    """The CLI run failed with searchkit's one ``Error: ...`` line, and printed nothing else."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# -- values a search cannot use: one QueryError, one error line -------------------------------

FIELD_VALUES = [
    ('date:"x y"', "cannot parse query 'date:\"x y\"': 'x y' is not a date (published_at)"),
    ('date:"2021 2022"', "cannot parse query 'date:\"2021 2022\"': '2021 2022' is not a date (published_at)"),
    ('published_at:"a"~3', "cannot parse query 'published_at:\"a\"~3': 'a' is not a date (published_at)"),
    ('quality:"1 2"', "cannot parse query 'quality:\"1 2\"': '1 2' is not a number (quality)"),
]


@pytest.mark.parametrize(("query", "message"), FIELD_VALUES)
def test_a_value_its_field_cannot_hold_is_a_query_error(index: SearchIndex, query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        index.search(query)
    assert str(raised.value) == message


@pytest.mark.parametrize(("query", "message"), FIELD_VALUES)
def test_the_cli_says_so_in_one_line(index_dir: Path, query: str, message: str) -> None:
    result = run_cli("search", query, "--index-dir", index_dir)
    assert result.code == 1
    assert one_error_line(result) == f"Error: {message}"


def test_a_quoted_value_its_field_holds_still_matches(index: SearchIndex) -> None:
    expected = {item["id"] for item in ITEMS if item.get("quality") == 80}
    assert {hit.id for hit in index.search('quality:"80"', limit=MAX_LIMIT).hits} == expected


RANGE = f"use a whole number from {NUMBER_RANGE[0]} to {NUMBER_RANGE[1]}"
OUT_OF_DATES = "out of range, use a time from 0001-01-01 to 9999-12-31 UTC"
OPTIONS = [
    ("since", "--since", "99999999d", f"invalid date '99999999d': {OUT_OF_DATES}"),
    (
        "until",
        "--until",
        "0001-01-01T00:00:00+14:00",
        f"invalid date '0001-01-01T00:00:00+14:00': {OUT_OF_DATES}",
    ),
    ("min_quality", "--min-quality", "3000000000", f"invalid min_quality 3000000000: {RANGE}"),
    (
        "min_heat",
        "--min-heat",
        "-99999999999999999999",
        f"invalid min_heat -99999999999999999999: {RANGE}",
    ),
]


@pytest.mark.parametrize(("name", "option", "value", "message"), OPTIONS)
def test_an_option_value_out_of_range_is_a_query_error(
    index: SearchIndex, name: str, option: str, value: str, message: str
) -> None:
    argument: Any = int(value) if name.startswith("min_") else value
    with pytest.raises(QueryError) as raised:
        index.search("climate", **{name: argument})
    assert str(raised.value) == message


@pytest.mark.parametrize(("name", "option", "value", "message"), OPTIONS)
def test_the_cli_refuses_an_option_value_out_of_range_in_one_line(
    index_dir: Path, name: str, option: str, value: str, message: str
) -> None:
    result = run_cli("search", "climate", f"{option}={value}", "--index-dir", index_dir)
    assert result.code == 1
    assert one_error_line(result) == f"Error: {message}"


def test_the_index_range_of_numbers_is_the_schemas() -> None:
    schema = make_schema()
    for field in (F.QUALITY, F.HEAT):
        assert (schema[field].min_value, schema[field].max_value) == NUMBER_RANGE


def test_number_filters_at_the_ends_of_the_range_search(index: SearchIndex) -> None:
    low, high = NUMBER_RANGE
    assert index.search("", min_quality=high).total == 0
    # Items without quality hold none in the index and never match (searchkit/matches.py).
    assert index.search("", min_quality=low, limit=MAX_LIMIT).total == sum(1 for i in ITEMS if "quality" in i)


@pytest.mark.parametrize("value", ["9999-12-31", date.max])
def test_until_the_last_day_python_knows_is_a_time(index: SearchIndex, value: Any) -> None:
    assert index.search("", until=value).total == sum(1 for item in ITEMS if item.get("publishedDateTime"))


def test_a_page_past_the_maximum_is_a_query_error(index: SearchIndex) -> None:
    assert index.search("climate", page=MAX_PAGE).hits == ()
    with pytest.raises(QueryError) as raised:
        index.search("climate", page=99999999999999999999)
    assert (
        str(raised.value) == f"invalid page 99999999999999999999: out of range, the last page is {MAX_PAGE}"
    )


def test_the_cli_refuses_a_page_past_the_maximum_as_a_usage_error(index_dir: Path) -> None:
    result = run_cli("search", "climate", "--page", "99999999999999999999", "--index-dir", index_dir)
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: Invalid value for '--page': 99999999999999999999 is not in the range 1<=x<={MAX_PAGE}."
    ]


# -- the work of one query is bounded ----------------------------------------------------------


def refused(index: SearchIndex, query: str) -> str:
    with pytest.raises(QueryError) as raised:
        index.search(query)
    return str(raised.value)


def test_a_query_longer_than_the_limit_is_refused(index: SearchIndex) -> None:
    index.search("a" * MAX_QUERY_LENGTH)
    assert (
        refused(index, "a" * 100_000) == f"query too long: 100000 characters, the limit is {MAX_QUERY_LENGTH}"
    )


def test_the_cli_refuses_a_long_query_in_one_line(index_dir: Path) -> None:
    result = run_cli("search", "a" * 100_000, "--index-dir", index_dir)
    assert result.code == 1
    assert one_error_line(result) == (
        f"Error: query too long: 100000 characters, the limit is {MAX_QUERY_LENGTH}"
    )


@pytest.mark.parametrize(
    ("joined", "limit"), [(" ", MAX_PLAIN_WORDS), (" AND ", MAX_QUERY_TERMS), (" OR ", MAX_QUERY_TERMS)]
)
def test_a_query_with_more_terms_than_the_limit_is_refused(
    index: SearchIndex, joined: str, limit: int
) -> None:
    # Plain words are ranked from postings at any length: a limit of their own.
    index.search(joined.join(f"q{i:x}" for i in range(limit)))
    too_many = joined.join(f"q{i:x}" for i in range(limit + 1))
    assert refused(index, too_many) == f"query too complex: {limit + 1} terms, the limit is {limit}"


def test_the_words_of_a_phrase_count_as_terms(index: SearchIndex) -> None:
    phrase = '"' + " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 1)) + '"'
    assert "query too complex" in refused(index, phrase)


def test_stop_words_do_not_count(index: SearchIndex) -> None:
    assert index.search(" ".join(["the"] * (MAX_QUERY_TERMS + 1)) + " climate").total > 0


@pytest.mark.parametrize("kind", ["word{0}~", "word{0}~2", "{0}*", "*{0}*", "title:[{0} TO {0}z]"])
def test_more_expanding_terms_than_the_limit_are_refused(index: SearchIndex, kind: str) -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    index.search(" ".join(kind.format(letter) for letter in letters[:MAX_EXPANDING_TERMS]))
    too_many = " ".join(kind.format(letter) for letter in letters[: MAX_EXPANDING_TERMS + 1])
    assert refused(index, too_many) == (
        f"query too complex: {MAX_EXPANDING_TERMS + 1} wildcards, prefixes, fuzzy terms or ranges "
        f"of words, the limit is {MAX_EXPANDING_TERMS}"
    )


def test_a_fuzzy_term_with_more_edits_than_the_limit_is_refused(index: SearchIndex) -> None:
    found = index.search(f"solor~{MAX_FUZZY_DISTANCE}", limit=MAX_LIMIT)
    assert {hit.id for hit in found.hits} >= {
        item["id"] for item in ITEMS if "solar" in item["title"].lower()
    }
    too_far = f"solor~{MAX_FUZZY_DISTANCE + 1}"
    assert refused(index, too_far) == (
        f"fuzzy term {too_far!r} allows too many edits: the limit is {MAX_FUZZY_DISTANCE}"
    )


def title_words(item: dict[str, Any]) -> list[str]:
    return re.findall(r"\w+", item["title"].lower())


def too_many_words(term: str, limit: int) -> str:
    return (
        f"{term!r} matches too many words of the index: the wildcards, prefixes, fuzzy terms and "
        f"ranges of a query may match {limit} in all; make it more specific"
    )


def test_terms_that_match_more_words_than_the_limit_are_refused(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {item["id"] for item in ITEMS if any(word.startswith("c") for word in title_words(item))}
    assert {hit.id for hit in index.search("title:c*", limit=MAX_LIMIT).hits} == expected
    c_words = {word for item in ITEMS for word in title_words(item) if word.startswith("c")}
    v_words = {word for item in ITEMS for word in title_words(item) if word.startswith("v")}
    assert len(c_words) > 3 and 1 <= len(v_words) <= 2  # computed from the table
    monkeypatch.setattr(limits_module, "MAX_EXPANSIONS", 3)
    assert refused(index, "c*") == too_many_words("c*", 3)
    assert refused(index, "title:c*") == too_many_words("title:c*", 3)
    assert index.search("title:v*").total > 0
    # The limit holds for all the terms of a query together.
    monkeypatch.setattr(limits_module, "MAX_EXPANSIONS", len(v_words))
    assert index.search("title:v*").total > 0
    assert refused(index, "title:v* title:c*") == too_many_words("title:c*", len(v_words))
    assert refused(index, "title:v* title:*o*") == too_many_words("title:*o*", len(v_words))
    assert refused(index, "climate title:*") == too_many_words("title:*", len(v_words))


def test_a_star_among_words_matches_every_item(index: SearchIndex) -> None:
    assert index.search("volcano *").total == len(ITEMS)
    assert index.search("* -").total == len(ITEMS)


def test_a_fuzzy_term_keeps_its_first_letter(index: SearchIndex) -> None:
    # "colcano" is one edit away from "volcano", but does not start with its "v".
    volcano = {item["id"] for item in ITEMS if "volcano" in text_of(item).lower()}
    assert {hit.id for hit in index.search("volcanoes~", limit=MAX_LIMIT).hits} == volcano
    assert index.search("colcano~").total == 0


def test_a_fuzzy_word_longer_than_the_limit_is_refused(index: SearchIndex) -> None:
    index.search("v" * MAX_FUZZY_WORD_LENGTH + "~2")
    word = "v" * (MAX_FUZZY_WORD_LENGTH + 1)
    assert refused(index, word + "~2") == (
        f"fuzzy term '{word}~2' is too long: {MAX_FUZZY_WORD_LENGTH + 1} characters, "
        f"the limit is {MAX_FUZZY_WORD_LENGTH}"
    )


@pytest.mark.parametrize(
    # Fuzzy terms with a prefix: Whoosh's parser keeps none, expand_terms keeps FUZZY_PREFIX.
    "query",
    [
        "sol*",
        "*ar",
        "*o?a*",
        "*a* *e*",
        "title:[a TO d]",
        "volcanoes~1/1",
        "elections~2/1",
        "(clim* OR sol*) ANDNOT panels",
    ],
)
def test_expanded_terms_match_and_score_as_whooshs_own(index: SearchIndex, query: str) -> None:
    reader = index._read()
    searcher = reader._refresh()
    parsed = reader.parse(query)
    expanded = expand_terms(parsed, searcher.reader())
    assert expanded is not parsed
    ours = [(hit.docnum, hit.score) for hit in searcher.search(expanded, limit=None)]
    whooshs = [(hit.docnum, hit.score) for hit in searcher.search(parsed, limit=None)]
    assert ours == whooshs
    assert ours


def test_parentheses_nested_deeper_than_the_limit_are_refused(index: SearchIndex) -> None:
    depth = MAX_QUERY_DEPTH
    assert index.search("(" * depth + "climate" + ")" * depth).total > 0
    assert refused(index, "(" * 499 + "a" + ")" * 499) == (
        f"query too deeply nested: 499 levels of parentheses, the limit is {MAX_QUERY_DEPTH}"
    )
    assert index.search('"' + "(" * 100 + '" climate').total > 0  # in a phrase they are text


@pytest.mark.parametrize("query", ["\udcff", "climate \ud800"])
def test_a_query_that_is_no_text_is_refused(index: SearchIndex, query: str) -> None:
    assert "it holds bytes that are not UTF-8 text" in refused(index, query)


# -- did-you-mean looks up a bounded number of words of a bounded length -----------------------


def correction_items(words: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}.md",
            "title": f"Report on {word}",
            "topics": ["Test"],
            "publishedDateTime": "2024-01-01T00:00:00Z",
        }
        for i, word in enumerate(words)
    ]


def typo(word: str) -> str:
    """One edit away: the third letter doubled."""
    return word[:3] + word[2] + word[3:]


def test_only_words_up_to_the_length_limit_are_corrected(make_index: Any) -> None:
    fits = "h" + "a" * (MAX_CORRECTED_WORD_LENGTH - 3) + "x"
    too_long = "k" + "e" * (MAX_CORRECTED_WORD_LENGTH - 2) + "z"
    assert (len(typo(fits)), len(typo(too_long))) == (
        MAX_CORRECTED_WORD_LENGTH,
        MAX_CORRECTED_WORD_LENGTH + 1,
    )
    with SearchIndex.open(make_index(correction_items([fits, too_long]), name="long")) as index:
        assert index.search(typo(fits)).suggestion == fits
        assert index.search(typo(too_long)).suggestion is None


def test_only_the_first_unknown_words_are_corrected(make_index: Any) -> None:
    words = [
        "alpine",
        "barley",
        "cobalt",
        "dragon",
        "ember",
        "falcon",
        "garnet",
        "harbor",
        "island",
        "jasper",
    ]
    with SearchIndex.open(make_index(correction_items(words), name="many")) as index:
        typed = [typo(word) for word in words]
        expected = words[:MAX_CORRECTED_WORDS] + typed[MAX_CORRECTED_WORDS:]
        assert len(words) > MAX_CORRECTED_WORDS
        assert index.search(" ".join(typed)).suggestion == " ".join(expected)


# -- property tests: success or QueryError, nothing else ---------------------------------------

PIECES = [
    "climate", "solar", "the", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO", "(", ")", '"', "'",
    "*", "?", "~", "~2", "~9", "^", "^2", ":", "[", "]", "{", "}", "<", ">", "-", "+", "\\",
    "title:", "date:", "published_at:", "quality:", "heat:", "topic:", "source:", "nofield:",
    "2021", "2021-05-01", "-1", "99999999999", "x y", "*a*", "sol*", "yesterday", "\udcff",
]  # fmt: skip
FIELDS = ["", "title:", "date:", "published_at:", "quality:", "heat:", "topic:", "nofield:"]
# A field's value in quotes, as a phrase: `date:"2021 x"`, `heat:"-1"~3`.
QUOTED = st.tuples(
    st.sampled_from(FIELDS),
    st.lists(st.sampled_from(PIECES), max_size=3).map(" ".join),
    st.sampled_from(["", "", "~3", "^2"]),
).map(lambda parts: f'{parts[0]}"{parts[1]}"{parts[2]}')
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
SYNTAX = st.lists(
    st.tuples(st.one_of(st.sampled_from(PIECES), QUOTED), st.sampled_from(["", " ", " "])).map("".join),
    max_size=25,
).map("".join)


@PROPERTY
@given(text=st.one_of(ANY_TEXT, SYNTAX))
def test_any_query_searches_or_raises_query_error(index: SearchIndex, text: str) -> None:
    try:
        results = index.search(text)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 <= results.total <= len(ITEMS)


SPANS = st.tuples(st.integers(min_value=0, max_value=10**30), st.sampled_from("mhdwMHDW")).map(
    lambda pair: f"{pair[0]}{pair[1]}"
)
OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
TIME_BOUNDS = st.one_of(
    st.text(max_size=40),
    SPANS,
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=OFFSETS.map(timezone)),
    st.datetimes(timezones=OFFSETS.map(timezone)).map(datetime.isoformat),
    st.dates().map(date.isoformat),
    st.integers(),
    st.none(),
)


@PROPERTY
@given(value=TIME_BOUNDS, end=st.booleans())
def test_any_time_bound_parses_or_raises_query_error(value: Any, end: bool) -> None:
    if value is None:
        return
    try:
        parsed = parse_time_bound(value, end=end)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert parsed.utcoffset() == timedelta(0)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=5),
    st.lists(st.one_of(st.text(max_size=10), st.integers(), st.none()), max_size=3),
    TIME_BOUNDS,
)


@PROPERTY
@given(arguments=st.fixed_dictionaries({}, optional={name: ANY_VALUE for name in FILTER_PARAMS}))
def test_any_filter_values_search_or_raise_query_error(index: SearchIndex, arguments: dict[str, Any]) -> None:
    try:
        Filters.from_arguments(arguments)
        results = index.search("", **arguments)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 <= results.total <= len(ITEMS)


@PROPERTY
@given(limit=ANY_VALUE, page=ANY_VALUE)
def test_any_page_and_limit_check_or_raise_query_error(limit: Any, page: Any) -> None:
    try:
        check_page(limit, page)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert type(limit) is int and 1 <= limit <= MAX_LIMIT
        assert page is None or (type(page) is int and 1 <= page <= MAX_PAGE)


def test_the_fuzz_script_runs_clean_on_the_sample_corpus() -> None:
    """benchmarks/fuzz_queries.py, the longer run of these checks, imports searchkit's limits:
    run a short round of it, so that it cannot rot unseen."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_queries.py"
    done = subprocess.run(
        [sys.executable, str(script), "--random", "20", "--budget", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "none raised anything but searchkit's own errors" in done.stdout


def test_syntax_whooshs_parser_trips_on_is_explained_in_words(index: SearchIndex) -> None:
    """Whoosh's parser fails on some operator sequences with Python's own errors ("list index
    out of range"); the user reads what is wrong with the query instead."""
    with pytest.raises(QueryError) as caught:
        index.search("NOT NOT NOT x")
    assert str(caught.value) == (
        "cannot parse query 'NOT NOT NOT x': the syntax is not valid (an operator without words to apply to?)"
    )
