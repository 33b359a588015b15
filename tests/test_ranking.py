"""Ranking (searchkit/ranking.py): the title-phrase clause is scored without Whoosh's phrase
matcher, and must score exactly what that matcher scores, on the same items."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from searchkit import SearchIndex
from searchkit.ordering import positions
from searchkit.postings import Postings
from searchkit.queries import split_title_phrase
from searchkit.ranking import _tree_sum, with_scores

Case = tuple[str, dict[int, float], dict[int, float]]


def phrase_cases(index: SearchIndex, texts: list[str]) -> list[Case]:
    """(query, searchkit's scores, Whoosh's scores) of the title-phrase clause of each query,
    over every item whose title holds all its words."""
    reader = index._read()
    searcher = reader._refresh()
    cases = []
    for text in texts:
        _words, bonus = split_title_phrase(reader.parse(text))
        if bonus is None:
            continue
        postings = Postings(searcher.reader())
        candidates = -1
        for word in bonus.words:
            candidates &= postings.bits(bonus.fieldname, word)
        docs = positions(candidates)
        mine = reader._ranker.phrase_scores(searcher, bonus, postings, docs)
        whooshs = dict(with_scores(searcher, bonus, docs, matched_only=True))
        cases.append((text, mine, whooshs))
    return cases


def test_titlephrase_scores_are_whooshs(index: SearchIndex) -> None:
    texts = [
        "climate summit",
        "solar power plant",
        "facial recognition",
        "the climate",
        "summit climate",
        "wheat harvest drought",
        "new york",
        "power power plant",
    ]
    cases = phrase_cases(index, texts)
    assert any(mine for _text, mine, _w in cases)  # some titles hold a phrase
    for text, mine, whooshs in cases:
        assert mine == whooshs, text


def test_titlephrase_scores_are_whooshs_on_reuters(reuters_index: Any, reuters_corpus: Path) -> None:
    _report, path = reuters_index
    rng = random.Random(7)
    titles = []
    for file in sorted(reuters_corpus.glob("*.md"))[::40]:
        head = file.read_text(encoding="utf-8").split("\n---", 1)[0]
        found = re.search(r"^title:\s*(.+)$", head, re.MULTILINE)
        if found:
            titles.append(found.group(1).strip().strip("'\""))
    texts = []
    for title in titles:
        words = re.findall(r"[A-Za-z]+", title)
        if len(words) >= 2:
            start = rng.randrange(len(words) - 1)
            texts.append(" ".join(words[start : start + rng.choice((2, 3))]))
    with SearchIndex.open(path) as index:
        cases = phrase_cases(index, texts)
    assert sum(1 for _t, mine, _w in cases if mine) > 100
    for text, mine, whooshs in cases:
        assert mine == whooshs, text


@pytest.mark.parametrize("values", [[1.5], [0.1, 0.2], [0.1, 0.2, 0.3], [1e-3, 7.25, 3.3, 0.7, 9.1]])
def test_tree_sum_adds_in_whooshs_order(values: list[float]) -> None:
    def whoosh_order(items: list[float]) -> float:
        from whoosh.util import make_binary_tree

        return float(make_binary_tree(lambda a, b: a + b, items))

    assert _tree_sum(values) == whoosh_order(values)
