"""Fingerprints and the duplicate and story tests (searchkit/similarity.py), on items written
here: copies and small edits of a report, the same news from another provider, a routine
report repeated with new figures, the time window, the encoding."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchkit import similarity
from searchkit.models import NewsItem
from searchkit.similarity import (
    FINGERPRINT_VERSION,
    KEY_SKETCH,
    NAME_KEY,
    NAME_KEYS,
    SHINGLE_KEY,
    SHINGLE_KEYS,
    SHINGLE_SKETCH,
    TITLE_SKETCH,
    WORD_SKETCH,
    Fingerprint,
    band_keys,
    fingerprint,
    is_duplicate,
    same_story,
    share_band_key,
)

WINDOW = 3 * 24 * 3600.0
START = datetime(1987, 3, 10, 14, 0, tzinfo=timezone.utc)

TITLE = "NORTHWIND SHIPPING <NWS> RAISES FLEET SPENDING"
PARAGRAPHS = [
    "Northwind Shipping Corp said it will spend 240 mln dlrs over the next three years to replace 14 "
    "of its oldest bulk carriers with larger vessels.",
    "The company said the new ships, to be built at the Harland yard in Belfast, will carry 82,000 "
    "tonnes each, against 45,000 tonnes for the ships they replace.",
    "Chief executive Margaret Olsen told analysts the programme would be financed from cash flow and "
    "a 90 mln dlr bank facility arranged by Barclays.",
    "Northwind earned 31.2 mln dlrs in 1986 on revenues of 412 mln dlrs, up from 24.8 mln dlrs a "
    "year earlier.",
    "Its shares rose 1-1/4 to 28-3/8 on the news.",
]
BODY = "\n\n".join(PARAGRAPHS)

#: The same news as another provider writes it: other words, the same names and figures.
REWORDED = NewsItem(
    id="planted/global-wire/0001.md",
    title="Northwind Shipping lifts fleet investment to $240 million",
    body="\n\n".join(
        [
            "Northwind Shipping will invest $240 million over three years to replace 14 of its oldest "
            "bulk carriers with bigger vessels, the company said on Tuesday.",
            "The new ships, built by Harland in Belfast, will each carry 82,000 tonnes, compared with "
            "45,000 tonnes for the vessels being retired. Chief executive Margaret Olsen said the "
            "programme would be funded from cash flow and a $90 million bank facility arranged by Barclays.",
        ]
    ),
    published_at=START + timedelta(hours=5),
)

#: A routine report, and the next day's with the same headline and words, new figures.
ROUTINE_TITLE = "DUNMORE GRAIN SHIPS LOADING AND WAITING"
ROUTINE = (
    "The Dunmore harbour board said {0} grain ships were loading and {1} were waiting to load at its "
    "terminals, against {2} loading and {3} waiting a day earlier. Wheat shipments from the port "
    "totalled {4} tonnes in the week and barley shipments {5} tonnes, the board said."
)


def news(
    body: str = BODY, title: str = TITLE, *, ident: str = "reuters/1.md", hours: float | None = 0
) -> NewsItem:
    published = None if hours is None else START + timedelta(hours=hours)
    return NewsItem(id=ident, title=title, body=body, published_at=published)


ORIGINAL = news()


# -- the two tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "copy"),
    [
        ("exact copy", news(ident="reuters/2.md", hours=1)),
        ("re-wrapped", news("\n".join(" ".join(BODY.split()[i : i + 9]) for i in range(0, 200, 9)), hours=2)),
        ("headline changed", news(title="NORTHWIND TO REPLACE 14 BULK CARRIERS", hours=3)),
        (
            "figure corrected, saying so",
            news(
                BODY.replace("82,000", "85,000") + "\n\n(Corrects tonnage of new ships in second paragraph)",
                "CORRECTED - " + TITLE,
                hours=4,
            ),
        ),
        ("sentence dropped", news("\n\n".join(PARAGRAPHS[:-1]), hours=5)),
        ("sentence added", news(BODY + "\n\nNorthwind operates 61 ships from Oslo and Hull.", hours=6)),
        ("a day before", news(hours=-24)),
    ],
)
def test_copies_and_small_edits_are_duplicates(edit: str, copy: NewsItem) -> None:
    a, b = fingerprint(ORIGINAL), fingerprint(copy)
    assert is_duplicate(a, b, window=WINDOW), edit
    assert is_duplicate(b, a, window=WINDOW), edit


def test_a_figure_changed_without_a_correction_is_no_duplicate() -> None:
    changed = fingerprint(news(BODY.replace("82,000", "85,000"), hours=4))
    assert not is_duplicate(fingerprint(ORIGINAL), changed, window=WINDOW)


def test_the_same_news_from_another_provider_is_the_same_story_not_a_duplicate() -> None:
    a, b = fingerprint(ORIGINAL), fingerprint(REWORDED)
    assert same_story(a, b, window=WINDOW) and same_story(b, a, window=WINDOW)
    assert not is_duplicate(a, b, window=WINDOW)


def test_a_routine_report_with_new_figures_is_another_story() -> None:
    monday = news(ROUTINE.format(12, "seven", 10, "nine", "184,000", "62,000"), ROUTINE_TITLE, hours=0)
    tuesday = news(ROUTINE.format(11, "six", 12, "seven", "191,000", "58,000"), ROUTINE_TITLE, hours=24)
    a, b = fingerprint(monday), fingerprint(tuesday)
    assert not is_duplicate(a, b, window=WINDOW)
    assert not same_story(a, b, window=WINDOW)
    again = fingerprint(news(monday.body, ROUTINE_TITLE, ident="reuters/3.md", hours=2))
    assert is_duplicate(a, again, window=WINDOW)  # the same figures: a copy


def test_short_notices_of_two_companies_are_no_duplicates() -> None:
    notice = "Qtly div 20 cts vs 20 cts prior\n\nPay April 15\n\nRecord March 23"
    first = fingerprint(news(notice, "ACME TOOL CORP <ACT> SETS QUARTERLY DIVIDEND"))
    other = fingerprint(news(notice, "BAYSIDE FOODS INC <BAY> SETS QUARTERLY DIVIDEND", hours=1))
    resent = fingerprint(news(notice, "ACME TOOL CORP <ACT> SETS QTLY DIVIDEND", hours=2))
    assert not is_duplicate(first, other, window=WINDOW)
    assert is_duplicate(first, resent, window=WINDOW)


@pytest.mark.parametrize("hours", [73, -73, 24 * 30])
def test_outside_the_window_nothing_links(hours: float) -> None:
    a, b = fingerprint(ORIGINAL), fingerprint(news(hours=hours))
    assert not is_duplicate(a, b, window=WINDOW)
    assert not same_story(a, b, window=WINDOW)
    assert is_duplicate(a, b, window=abs(hours) * 3600)  # a wider window takes them in


def test_undated_items_link_only_with_undated_items() -> None:
    undated = fingerprint(news(hours=None))
    assert undated.published is None
    assert is_duplicate(undated, fingerprint(news(ident="reuters/2.md", hours=None)), window=WINDOW)
    assert not is_duplicate(undated, fingerprint(ORIGINAL), window=WINDOW)
    assert not same_story(fingerprint(ORIGINAL), undated, window=WINDOW)


def test_unrelated_and_empty_items_link_to_nothing() -> None:
    other = news(ROUTINE.format(12, "seven", 10, "nine", "184,000", "62,000"), ROUTINE_TITLE)
    empty = NewsItem(id="empty.md", title="")
    for a, b in [(ORIGINAL, other), (ORIGINAL, empty), (empty, empty)]:
        fa, fb = fingerprint(a), fingerprint(b)
        assert not is_duplicate(fa, fb, window=WINDOW)
        assert not same_story(fa, fb, window=WINDOW)
    assert band_keys(fingerprint(empty)) == []
    assert not is_duplicate(Fingerprint(None), Fingerprint(None), window=WINDOW)


# -- band keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [news(ident="reuters/2.md", hours=1), news("\n\n".join(PARAGRAPHS[:-1]), hours=5), REWORDED],
)
def test_linked_pairs_share_band_keys(other: NewsItem) -> None:
    keys = band_keys(fingerprint(ORIGINAL))
    assert set(keys) & set(band_keys(fingerprint(other)))
    assert 0 < len(keys) <= KEY_SKETCH + SHINGLE_KEYS + NAME_KEYS * (NAME_KEYS - 1) // 2
    # Distinct keys, each below 2 ** 66 (the kind above a 64-bit pair of hashes).
    assert len(set(keys)) == len(keys) and all(0 <= key < 1 << 66 for key in keys)


@given(st.sets(st.integers(0, 60), max_size=40), st.sets(st.integers(0, 60), max_size=40))
def test_the_tests_count_what_the_sets_share(xs: set[int], ys: set[int]) -> None:
    # Hashes 2048 apart fall on one bit of the bitmaps that screen pairs (searchkit/linking.py):
    # the tests themselves count the sets.
    def made(values: set[int]) -> Fingerprint:
        packed = struct.pack(f"<{len(values)}I", *sorted(v // 3 * 2048 + v % 3 for v in values))
        return Fingerprint(0.0, shingles=packed, words=packed)

    shared, union = len(xs & ys), len(xs | ys)
    story = shared >= max(8, 0.5 * min(len(xs), len(ys)), 0.1 * union)
    duplicate = shared > 0 and shared >= 0.6 * (len(xs) + len(ys) - shared)
    assert same_story(made(xs), made(ys), window=WINDOW) == story
    assert is_duplicate(made(xs), made(ys), window=WINDOW) == duplicate


@given(
    st.sets(st.integers(0, 60), max_size=40),
    st.sets(st.integers(0, 60), max_size=40),
    st.integers(0, 60),
    st.integers(0, 60),
)
def test_truncated_sketches_are_compared_below_the_smaller_cut(
    xs: set[int], ys: set[int], cut_x: int, cut_y: int
) -> None:
    # Sketches that keep their smallest hashes up to a cut are compared below the smaller cut.
    def made(values: set[int], cut: int) -> Fingerprint:
        kept = sorted(v for v in values if v <= cut)
        return Fingerprint(0.0, shingles=struct.pack(f"<{len(kept)}I", *kept), shingle_cut=cut)

    low = min(cut_x, cut_y)
    a, b = {v for v in xs if v <= low}, {v for v in ys if v <= low}
    shared = len(a & b)
    duplicate = shared > 0 and shared >= 0.6 * (len(a) + len(b) - shared)
    assert is_duplicate(made(xs, cut_x), made(ys, cut_y), window=WINDOW) == duplicate


_NAMES = ["Valencia", "Madrid", "Turia", "Acme", "Widget", "Lindqvist", "Nordbank", "Olsen", "Harland"]
_WORDS = [
    "rain",
    "port",
    "river",
    "shares",
    "deal",
    "bank",
    "cash",
    "plants",
    "said",
    "the",
    "of",
    "12",
    "4.5",
]


@given(
    st.lists(st.sampled_from(_NAMES + _WORDS), max_size=40),
    st.lists(st.sampled_from(_NAMES + _WORDS), max_size=40),
)
def test_share_band_key_is_a_key_in_common(a_words: list[str], b_words: list[str]) -> None:
    # The check an update makes of what a bucket lookup finds, against the keys themselves:
    # short texts (shingle keys), names inside sentences (name pairs) and word pairs.
    a = fingerprint(news("report " + " ".join(a_words)))
    b = fingerprint(news("report " + " ".join(b_words), ident="other/1.md"))
    assert share_band_key(a, b) == bool(set(band_keys(a)) & set(band_keys(b)))


def test_independently_worded_coverage_shares_a_name_key() -> None:
    # Another provider's report of the same event shares its names, not its word pairs.
    a = news(
        "Heavy rain flooded the centre of Valencia on Tuesday and the Turia river burst its banks, "
        "cutting power to homes in the province, while trains to Madrid were cancelled."
    )
    b = news(
        "Rescuers in Valencia pulled people from stranded cars after the Turia overflowed; rail "
        "services to Madrid were suspended.",
        ident="other/1.md",
        hours=3,
    )
    shared = set(band_keys(fingerprint(a))) & set(band_keys(fingerprint(b)))
    assert shared and all(key >> 64 == NAME_KEY >> 64 for key in shared)
    # Names are capitalised words inside a sentence: a sentence's first word is none, so this
    # text names Madrid only, and one name makes no pair.
    c = news("Valencia and Madrid reported rain. Turia levels rose.", ident="other/2.md")
    assert not [key for key in band_keys(fingerprint(c)) if key >= NAME_KEY]


def test_a_tiny_item_gets_shingle_keys() -> None:
    keys = band_keys(fingerprint(news("Shr 20 cts", "XYZ")))
    assert keys and all(key < NAME_KEY for key in keys)
    assert [key for key in keys if key >= SHINGLE_KEY]


def test_keys_are_crc32_bigrams_of_content_words() -> None:
    """Hashes are CRC-32s (never Python's hash(), salted per process): an item's keys are the
    same in every process and every release of the same fingerprint version."""
    a, b, c = (zlib.crc32(word.encode()) for word in ["wheat", "shipment", "rose"])  # plural made singular
    m1, m2 = 0x9E3779B1, 0x85EBCA77
    bigrams = sorted({(a * m1 + b) & 0xFFFFFFFF, (b * m1 + c) & 0xFFFFFFFF})
    shingle = (a * m1 + b * m2 + c) & 0xFFFFFFFF
    expected = [*bigrams, SHINGLE_KEY | shingle]
    assert band_keys(fingerprint(news("Wheat shipments rose", "WHEAT"))) == expected


def test_fingerprints_do_not_depend_on_the_process() -> None:
    code = (
        "from searchkit.models import NewsItem; from searchkit.similarity import fingerprint; "
        f"print(fingerprint(NewsItem(id='x', title={TITLE!r}, body={BODY!r})).encode().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fingerprint(news(hours=None)).encode().hex()


# -- as the benchmark applies them ----------------------------------------------------------------


def load_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "stories.py"
    spec = importlib.util.spec_from_file_location("benchmarks_stories_similarity", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_predictor_groups_a_small_corpus(make_corpus: Callable[..., Path]) -> None:
    def row(ident: str, item: NewsItem) -> dict[str, str]:
        assert item.published_at is not None
        return {
            "id": ident,
            "title": item.title,
            "body": item.body,
            "publishedDateTime": item.published_at.isoformat(),
        }

    monday = news(ROUTINE.format(12, "seven", 10, "nine", "184,000", "62,000"), ROUTINE_TITLE, hours=-20)
    tuesday = news(ROUTINE.format(11, "six", 12, "seven", "191,000", "58,000"), ROUTINE_TITLE, hours=4)
    corrected = news(
        BODY.replace("82,000", "85,000") + "\n\n(Corrects tonnage)", "CORRECTED - " + TITLE, hours=2
    )
    corpus = make_corpus(
        [
            row("wire/original.md", ORIGINAL),
            row("wire/corrected.md", corrected),
            row("other/reworded.md", REWORDED),
            row("wire/monday.md", monday),
            row("wire/tuesday.md", tuesday),
        ]
    )
    duplicate_of, story = load_benchmark().library_predict(corpus)
    assert duplicate_of == {
        "wire/original.md": None,
        "wire/corrected.md": "wire/original.md",
        "other/reworded.md": None,
        "wire/monday.md": None,
        "wire/tuesday.md": None,
    }
    assert story == {
        "wire/original.md": "wire/original.md",
        "wire/corrected.md": "wire/original.md",
        "other/reworded.md": "wire/original.md",
        "wire/monday.md": "wire/monday.md",
        "wire/tuesday.md": "wire/tuesday.md",
    }


# -- the encoding ------------------------------------------------------------------------------


def test_encode_round_trip_of_real_fingerprints() -> None:
    for item in [ORIGINAL, REWORDED, news(hours=None), NewsItem(id="e.md", title="")]:
        print_ = fingerprint(item)
        raw = print_.encode()
        assert Fingerprint.decode(raw) == print_
        assert Fingerprint.decode(bytearray(raw)) == print_
        assert raw[0] == FINGERPRINT_VERSION


def test_a_long_item_keeps_a_bounded_fingerprint() -> None:
    long = news(" ".join(f"{BODY} Paragraph {n} adds the word w{n}x." for n in range(40)))
    print_ = fingerprint(long)
    assert len(print_.shingles) == 4 * SHINGLE_SKETCH and print_.shingle_cut < 0xFFFFFFFF
    assert len(print_.encode()) < 1600
    assert is_duplicate(print_, fingerprint(news(long.body, hours=1)), window=WINDOW)


def hashes(size: int) -> st.SearchStrategy[bytes]:
    values = st.lists(st.integers(0, 0xFFFFFFFF), max_size=size, unique=True)
    return values.map(lambda v: struct.pack(f"<{len(v)}I", *sorted(v)))


cuts = st.integers(0, 0xFFFFFFFF)
fingerprints = st.builds(
    Fingerprint,
    published=st.none() | st.floats(allow_nan=False),
    shingles=hashes(SHINGLE_SKETCH),
    shingle_cut=cuts,
    words=hashes(WORD_SKETCH),
    word_cut=cuts,
    figures=hashes(64),
    figure_cut=cuts,
    title=hashes(TITLE_SKETCH),
    bigrams=hashes(KEY_SKETCH),
    body_words=st.integers(0, 0xFFFF),
    corrected=st.booleans(),
)


@given(fingerprints)
def test_encode_decode_round_trip(print_: Fingerprint) -> None:
    assert Fingerprint.decode(print_.encode()) == print_


@given(fingerprints, fingerprints)
def test_the_tests_are_symmetric(a: Fingerprint, b: Fingerprint) -> None:
    for window in (WINDOW, float("inf")):
        assert is_duplicate(a, b, window=window) == is_duplicate(b, a, window=window)
        assert same_story(a, b, window=window) == same_story(b, a, window=window)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x02",
        bytes([FINGERPRINT_VERSION + 1]) + fingerprint(ORIGINAL).encode()[1:],
        bytes([FINGERPRINT_VERSION - 1]) + fingerprint(ORIGINAL).encode()[1:],
        fingerprint(ORIGINAL).encode()[:-1],
        fingerprint(ORIGINAL).encode() + b"\x00",
        b"not a fingerprint at all, just some bytes",
    ],
)
def test_decode_refuses_what_encode_did_not_write(raw: bytes) -> None:
    with pytest.raises(ValueError):
        Fingerprint.decode(raw)


@given(st.binary(max_size=200))
def test_decode_raises_only_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError):
        assert isinstance(Fingerprint.decode(raw), Fingerprint)


@given(st.text(alphabet="aZbY ,;:)'-.9\n", max_size=60))
def test_names_are_found_as_the_lookbehind_first_pattern_finds_them(text: str) -> None:
    # similarity._NAME matches the capital before it looks behind (faster); same matches.
    reference = re.compile(r"(?<=[a-z0-9,;:)] )[A-Z][a-z][a-z'-]+")
    assert similarity._NAME.findall(text) == reference.findall(text)


@given(st.text(alphabet="aZ9_.,/:- \n\u00e9\u0130\u00b2\u0663", max_size=60))
def test_tokens_are_what_the_pattern_without_underscores_finds(text: str) -> None:
    # similarity._tokens finds words with \w in text whose underscores are spaces (faster);
    # the same tokens as letters and digits found in the text itself.
    reference = re.compile(r"[^\W_]+(?:[.,/:-][^\W_]+)*")
    assert similarity._tokens(text) == reference.findall(text.lower())
