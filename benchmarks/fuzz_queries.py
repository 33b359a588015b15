"""Hostile queries and option values against an index: none may raise anything but searchkit's
own errors, and none may run longer than a budget.

    python benchmarks/fuzz_queries.py [INDEX_DIR] [--seed 21578] [--random 200] [--budget 2.0]

Without ``INDEX_DIR``, an index of the repository's ``corpus/`` folder is built in a temporary
folder. The cases, all through ``SearchIndex.search`` (what the CLI and the server call):

* long queries (a word of 100,000 letters, thousands of words), random unicode of every plane
  (control characters, combining marks, right-to-left text, lone surrogates);
* many fuzzy terms (``word~ word2~ ...``), fuzzy terms with large distances or long words,
  wildcards and prefixes (``*a*``, ``?``, ``*?*?*``), ranges of words;
* deeply nested and unbalanced parentheses, operators without operands;
* odd field syntax (``date:"x y"``, ``quality:>``, ``published_at:"a"~3``, unknown fields);
* a fixed-seed sample of random queries made of those pieces (``--random`` of them);
* option values out of range: ``since``/``until`` (huge spans, years 1 and 9999 with offsets),
  ``min_quality``/``min_heat`` past 32 bits, pages and limits, values of the wrong type.

Reported: how many cases ran, how many ended in which searchkit error, the slowest cases, and
every case that raised anything else or took longer than ``--budget`` seconds (the exit status
is 1 then).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchkit import SearchIndex, SearchkitError  # noqa: E402
from searchkit.limits import (  # noqa: E402
    MAX_EXPANDING_TERMS,
    MAX_QUERY_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_QUERY_TERMS,
)

Case = tuple[str, str, dict[str, Any]]  # (label, query, options)

WORDS = ["climate", "oil", "election", "ai", "privacy", "solar", "zurich", "market", "the", "a"]
PIECES = [
    *WORDS,
    "AND",
    "OR",
    "NOT",
    "ANDNOT",
    "ANDMAYBE",
    "TO",
    "(",
    ")",
    '"',
    "'",
    "*",
    "?",
    "~",
    "~2",
    "~9",
    "^",
    "^2",
    ":",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "=",
    "-",
    "+",
    "\\",
    "/",
    "title:",
    "date:",
    "published_at:",
    "quality:",
    "heat:",
    "topic:",
    "source:",
    "body:",
    "id:",
    "url:",
    "nofield:",
    "2021",
    "2021-05-01",
    "-1",
    "99999999999",
    "x y",
    "*a*",
    "clim*",
    "yesterday",
]


def query_cases(rng: random.Random, count: int) -> Iterator[Case]:
    long_cases = {
        "a x 100,000": "a" * 100_000,
        "a x the length limit": "a" * MAX_QUERY_LENGTH,
        "a x the length limit + 1": "a" * (MAX_QUERY_LENGTH + 1),
        "climate x 20,000": "climate " * 20_000,
        "200 distinct words": " ".join(f"w{i}" for i in range(200)),
        "distinct words at the limit": " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS)),
        "distinct words past the limit": " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 1)),
        "frequent words and a wildcard": " ".join(WORDS * 4)[: MAX_QUERY_LENGTH - 2] + " ?",
        "frequent words and a phrase": " ".join(WORDS * 3) + ' "said it"',
        "phrase of 300 words": '"' + " ".join(WORDS * 30) + '"',
        "500 fuzzy terms": " ".join(f"word{i}~" for i in range(500)),
        "fuzzy terms ~2 at the limit": " ".join(f"wor{c}~2" for c in "dkmnlst"[:MAX_EXPANDING_TERMS]),
        "fuzzy terms ~2 past the limit": " ".join(f"wor{c}~2" for c in "dkmnlst"[: MAX_EXPANDING_TERMS + 1]),
        "short fuzzy terms ~2": " ".join(f"{c}~2" for c in "aeio"[:MAX_EXPANDING_TERMS]),
        "wildcards *a* at the limit": " ".join(["*a*"] * MAX_EXPANDING_TERMS),
        "leading wildcards that match nothing": " ".join(f"*zq{i}*" for i in range(MAX_EXPANDING_TERMS)),
        "leading ? wildcards": " ".join(f"?{c}*" for c in "etao"[:MAX_EXPANDING_TERMS]),
        "prefixes at the limit": " ".join(f"{c}*" for c in "etaoinsr"[:MAX_EXPANDING_TERMS]),
        "two-letter prefixes": " ".join(f"{p}*" for p in ["co", "re", "pr", "st"][:MAX_EXPANDING_TERMS]),
        "ranges of words": " ".join(f"title:[{c} TO z]" for c in "abcdefgh"[:MAX_EXPANDING_TERMS]),
        "field:* at the limit": " ".join(["topic:*", "source:*", "title:*", "id:*"][:MAX_EXPANDING_TERMS]),
        "* among words": "climate * oil",
        "long fuzzy word ~2": "a" * 300 + "~2",
        "fuzzy word of 40 ~2": "abcdefghij" * 4 + "~2",
        "fuzzy ~9": "climate~9",
        "long wildcard": "*a" * 400 + "*",
        "500 stars": "*" * 500,
        "nested at the limit": "(" * MAX_QUERY_DEPTH + "climate" + ")" * MAX_QUERY_DEPTH,
        "nested past the limit": "(" * (MAX_QUERY_DEPTH + 1) + "climate" + ")" * (MAX_QUERY_DEPTH + 1),
        "nested 499": "(" * 499 + "a" + ")" * 499,
        "nested OR 160": "(a OR " * 160 + "b" + ")" * 160,
        "nested NOT 150": "NOT (" * 150 + "a" + ")" * 150,
        "unbalanced open": "(" * 999,
        "unbalanced close": ")" * 999,
    }
    for label, text in long_cases.items():
        yield label, text, {}
    odd = [
        'date:"x y"',
        'date:"2021 2022"',
        'published_at:"a"~3',
        'quality:"1 2"',
        'heat:"x"',
        "date:",
        ":",
        "::",
        "title:",
        "nofield:x",
        "quality:>",
        "heat:<",
        "heat:>-99999999999",
        "quality:99999999999",
        "quality:[1 TO 0]",
        "quality:[abc TO]",
        "date:[TO]",
        "date:[x TO]",
        "date:[0001-01-01 TO 9999-12-31]",
        "date:99999",
        "date:0000-00-00",
        "date:-1",
        "date:yesterday",
        "date:20*",
        "date:x*",
        "date:x~",
        "date:2021~2",
        "quality:5~",
        "quality:1*",
        "quality:*",
        "heat:-1",
        "id:*",
        "url:http://x",
        "topic:*",
        "title:(a OR b)",
        "title:[a TO z]",
        "title:{a TO}",
        "content:[* TO *]",
        '"unterminated',
        "'single quoted",
        "a^999999",
        "a^-1",
        "a^x",
        "a^",
        "NOT",
        "AND",
        "OR OR OR",
        "NOT NOT NOT climate",
        "a ANDNOT",
        "ANDMAYBE b",
        "<MIRTONE INTERNATIONAL INC> 1ST QTR",
        "(<a>)",
        "*a*",
        "?",
        "*?*?*",
        "a*b*c*d*e*f*g*h*",
        "\x00",
        "\x00climate\x00",
        "\udcff",
        "climate \ud800",
        "\u202eclimate",
        "e\u0301" * 100,
        "\U0001f600" * 50,
        "\n\t\r",
        "climate\nOR\noil",
    ]
    for text in odd:
        yield "odd syntax", text, {}
    alphabets = [
        (0x20, 0x7E),
        (0x00, 0x1F),
        (0xA0, 0x2FFF),
        (0x3000, 0x9FFF),
        (0xD800, 0xDFFF),
        (0x10000, 0x10FFFF),
    ]
    for i in range(40):
        low, high = alphabets[i % len(alphabets)]
        length = rng.choice([1, 10, 100, 1000, 5000, 100_000 if i % 10 == 0 else 500])
        text = "".join(chr(rng.randint(low, high)) for _ in range(length))
        yield f"random unicode {low:#x}-{high:#x} x {length}", text, {}
    for _ in range(count):
        size = rng.randint(1, 30)
        text = "".join(
            rng.choice(PIECES) + rng.choice(["", " ", " ", " ", "  "]) for _ in range(size)
        ).strip()
        yield "random pieces", text, {}


def option_cases() -> Iterator[Case]:
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    values: dict[str, list[Any]] = {
        "since": [
            "99999999d",
            "9" * 5000 + "d",
            "999999999999w",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01",
            "9999-12-31",
            "9999-12-31T23:59:59-14:00",
            "2021-13-45",
            "garbage",
            "",
            "\x00",
            "7d",
            "٣d",
            date.min,
            date.max,
            datetime.min,
            datetime.max,
            datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
            base,
            12345,
            None,
        ],
        "min_quality": [
            3_000_000_000,
            -3_000_000_000,
            2**31 - 1,
            -(2**31),
            10**30,
            -1,
            0,
            50,
            1.5,
            "50",
            True,
        ],
        "min_heat": [-99999999999999999999, 2**31, -1, 1000, "x", None],
        "page": [99999999999999999999, 10_000, 10_001, 0, -1, 1, 2**63, "2", 1.0],
        "limit": [0, 1, 1000, 1001, 10**20, -5, "10"],
        "facet_limit": [0, 1, 10**20],
        "topics": [["Energy"], "Energy", [1, 2], 5, [None], ["\udcff"], [""], ["x" * 10_000]],
        "providers": [["World Wire"], [b"bytes"], {"a": 1}],
        "category": ["news", "", 5, ["news"]],
        "type": ["video", "\x00"],
        "sort": ["newest", "bogus", "", None],
        "facets": [["year", "heat"], ["nope"], "year", [5]],
    }
    for name, options in values.items():
        for value in options:
            yield f"option {name}", "climate", {name: value}
    yield "option until", "climate", {"until": "0001-01-01T00:00:00+14:00"}
    yield "option until", "", {"until": date.max}
    yield "option until", "", {"until": "9999-12-31"}
    yield "every facet, page 10000", "*", {"page": 10_000, "limit": 1000, "facets": ["year", "topics"]}


def run(index: SearchIndex, cases: list[Case], budget: float) -> int:
    outcomes: Counter[str] = Counter()
    timings: list[tuple[float, str, str]] = []
    failures: list[str] = []
    for label, text, options in cases:
        started = time.perf_counter()
        try:
            index.search(text, **options)
            outcome = "ok"
        except SearchkitError as exc:
            outcome = type(exc).__name__
            if "\n" in str(exc):
                failures.append(f"{label}: a {outcome} of several lines: {str(exc)[:200]!r}")
        except Exception as exc:
            outcome = f"FAILED {type(exc).__name__}"
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{label}: {type(exc).__name__}: {str(exc)[:200]} "
                f"(at {Path(where.filename).name}:{where.lineno}) for {_shown(text)} {options!r}"[:400]
            )
        elapsed = time.perf_counter() - started
        outcomes[outcome] += 1
        timings.append((elapsed, label, f"{_shown(text)} {_shown(options) if options else ''}".strip()))
        if elapsed > budget:
            failures.append(f"{label}: {elapsed:.2f} s, over the budget of {budget} s: {_shown(text)}")
    timings.sort(reverse=True)
    print(f"{len(cases)} cases ran in {sum(t for t, _, _ in timings):.1f} s")
    for outcome, number in sorted(outcomes.items()):
        print(f"  {outcome}: {number}")
    print("slowest:")
    for elapsed, label, shown in timings[:5]:
        print(f"  {elapsed * 1000:8.1f} ms  {label}: {shown}")
    print(f"median: {timings[len(timings) // 2][0] * 1000:.1f} ms")
    if failures:
        print(f"{len(failures)} failures:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print(f"none raised anything but searchkit's own errors; none took longer than {budget} s")
    return 0


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 70 else f"{shown[:60]}... ({len(shown)} chars)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", nargs="?", type=Path, help="index to query [default: one of corpus/]")
    parser.add_argument("--seed", type=int, default=21578)
    parser.add_argument("--random", type=int, default=200, help="random queries made of syntax pieces")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds one case may take")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = [*query_cases(rng, args.random), *option_cases()]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir
        if index_dir is None:
            index_dir = Path(tmp) / "index"
            with SearchIndex.create(index_dir) as index:
                report = index.update(ROOT / "corpus")
            print(f"built an index of {ROOT / 'corpus'}: {report.documents} items")
        with SearchIndex.open(index_dir) as index:
            print(f"index {index_dir}: {index.info().documents} items")
            index.search("warm up")
            return run(index, cases, args.budget)


if __name__ == "__main__":
    raise SystemExit(main())
