"""Query building (searchkit/queries.py): plain words take a path of their own past Whoosh's
parser, which must give exactly what the parser gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import SearchIndex
from searchkit.queries import Parser

WORDS = [
    "oil",
    "prices",
    "Oil",
    "PRICES",
    "the",
    "and",
    "a",
    "of",
    "AND",
    "OR",
    "NOT",
    "TO",
    "not",
    "or",
    "Zürich",
    "café",
    "3",
    "1987",
    "x2",
    "straße",
    "ÉTÉ",
    "news",
    "running",
    "runs",
    "U",
    "S",
    "vs",
    "mid",
    "ﬁne",
    "Ⅻ",
    "٣",
    "日本",
]
SEPARATORS = [" ", "  ", "\t", " \n "]


@pytest.fixture(scope="module")
def parsers(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> tuple[Parser, Parser]:
    """(searchkit's parser, the same parser always going through Whoosh's)."""
    path = tmp_path_factory.mktemp("queries") / "index"
    with SearchIndex.create(path) as index:
        index.update(corpus_dir)
        reader = index._read()
        schema = reader._refresh().schema
    fast = Parser(schema)
    slow = Parser(schema)
    slow._plain_words = lambda text: []  # type: ignore[method-assign]
    return fast, slow


def assert_same(fast: Parser, slow: Parser, text: str) -> None:
    """Both parse ``text`` to equal queries, or both raise the same error."""
    try:
        expected = slow.parse(text)
    except Exception as exc:  # the parser's own QueryError: the fast path must raise it too
        with pytest.raises(type(exc)):
            fast.parse(text)
        return
    assert fast.parse(text) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=6, max_size=6),
)
def test_plain_words_parse_as_whooshs_parser_parses_them(
    parsers: tuple[Parser, Parser], words: list[str], separators: list[str]
) -> None:
    fast, slow = parsers
    text = "".join(word + sep for word, sep in zip(words, separators, strict=False)).strip()
    assert_same(fast, slow, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
def test_any_text_parses_as_whooshs_parser_parses_it(parsers: tuple[Parser, Parser], text: str) -> None:
    fast, slow = parsers
    assert_same(fast, slow, text)


@pytest.mark.parametrize("text", ["oil prices", "the oil", "oil oil", "Zürich bank 3", "café"])
def test_plain_words_skip_whooshs_parser(parsers: tuple[Parser, Parser], text: str) -> None:
    fast, _slow = parsers
    assert fast._plain_words(text)


@pytest.mark.parametrize(
    "text", ["oil AND gas", "title:oil", '"oil prices"', "oil*", "oil~", "U.S.", "e-mail", "the and", "x_y"]
)
def test_other_queries_go_through_whooshs_parser(parsers: tuple[Parser, Parser], text: str) -> None:
    fast, _slow = parsers
    assert fast._plain_words(text) == []
