"""The Stories evaluation (benchmarks/stories.py): its metrics on small cases computed by hand,
the part-1 rules and the part-2 generator on items written here, and a whole build on a tiny
corpus. None of it needs ../shared."""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from searchkit.documents import parse_bytes

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "stories.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_stories", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stories = load_script()


def approx(value: Fraction | float) -> Any:
    return pytest.approx(float(value), abs=1e-12)


# -- pairwise precision and recall ----------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "true", "options", "expected"),
    [
        # predicted pairs ab ac bc, true pairs ab cd: one of three right, one of two found
        ([["a", "b", "c"]], [["a", "b"], ["c", "d"]], {}, (Fraction(1, 3), Fraction(1, 2))),
        # scored over a, b, c only: cd leaves the truth
        ([["a", "b", "c"]], [["a", "b"], ["c", "d"]], {"items": "abc"}, (Fraction(1, 3), 1)),
        # an ignored pair counts on neither side, in either order
        (
            [["a", "b", "c"]],
            [["a", "b"], ["c", "d"]],
            {"ignore": [("c", "a")]},
            (Fraction(1, 2), Fraction(1, 2)),
        ),
        # nothing predicted: precision 1 by convention, recall 0
        ([], [["a", "b"]], {}, (1, 0)),
        # nothing true, nothing predicted
        ([], [], {}, (1, 1)),
        # order and repeats inside a group do not matter
        ([["b", "a", "a"]], [["a", "b"]], {}, (1, 1)),
        # two groups of three against one group of six: 6 of 15 true pairs found
        ([["a", "b", "c"], ["d", "e", "f"]], [list("abcdef")], {}, (1, Fraction(6, 15))),
    ],
)
def test_pairwise_precision_recall(
    predicted: list[list[str]], true: list[list[str]], options: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    scores = stories.pairwise_precision_recall(predicted, true, **options)
    assert (scores.precision, scores.recall) == (approx(expected[0]), approx(expected[1]))


def test_pairwise_counts() -> None:
    scores = stories.pairwise_precision_recall([["a", "b", "c"]], [["a", "b"], ["c", "d"]])
    assert (scores.correct, scores.predicted, scores.true) == (1, 3, 2)


def test_groups_from_links_follow_chains() -> None:
    links = {"b": "a", "c": "a", "d": None, "e": "d", "f": "f"}
    assert stories.groups_from_links(links) == [["a", "b", "c"], ["d", "e"]]


# -- B-cubed ---------------------------------------------------------------------------------

TRUTH = {"1": "A", "2": "A", "3": "A", "4": "B", "5": "B"}


@pytest.mark.parametrize(
    ("predicted", "precision", "recall"),
    [
        # {1,2} {3,4,5}: precision per item 1, 1, 1/3, 2/3, 2/3; recall 2/3, 2/3, 1/3, 1, 1
        ({"1": "x", "2": "x", "3": "y", "4": "y", "5": "y"}, Fraction(11, 15), Fraction(11, 15)),
        # one cluster: precision 3/5 for the three A items, 2/5 for the two B items
        (dict.fromkeys(TRUTH, "x"), Fraction(3 * 3 + 2 * 2, 25), 1),
        # all singletons: recall 1/3 for the A items, 1/2 for the B items
        ({i: i for i in TRUTH}, 1, Fraction(2, 5)),
        # the truth itself
        (dict(TRUTH), 1, 1),
        # no prediction at all: every item alone
        ({}, 1, Fraction(2, 5)),
    ],
)
def test_bcubed_by_hand(predicted: dict[str, str], precision: Fraction, recall: Fraction) -> None:
    scores = stories.bcubed(predicted, TRUTH)
    f1 = 2 * Fraction(precision) * Fraction(recall) / (Fraction(precision) + Fraction(recall))
    assert scores == (approx(precision), approx(recall), approx(f1))


def test_bcubed_counts_only_the_labelled_items() -> None:
    """Unlabelled items in a predicted cluster do not count; a labelled item the truth does
    not know is alone in the truth."""
    predicted = {"1": "x", "2": "x", "u1": "x", "u2": "x", "3": "y"}
    truth = {"1": "A", "2": "A", "3": "A"}
    # precision: 1 and 2 see {1, 2} (2/2), 3 sees {3} (1/1); recall: 2/3, 2/3, 1/3
    assert stories.bcubed(predicted, truth) == (approx(1), approx(Fraction(5, 9)), approx(Fraction(10, 14)))
    # "4", labelled by ``items`` but absent from the truth, is a story of its own there
    scores = stories.bcubed({"3": "y", "4": "y"}, {"3": "A"}, items=["3", "4"])
    assert scores.precision == approx(Fraction(1, 2)) and scores.recall == approx(1)


def test_bcubed_needs_items() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        stories.bcubed({}, {})


# The four formal constraints B-cubed satisfies (Amigó, Gonzalo, Artiles and Verdejo 2009, "A
# comparison of extrinsic clustering evaluation metrics based on formal constraints"), each on
# a small case computed by hand.


def test_bcubed_cluster_homogeneity() -> None:
    """Splitting a cluster that mixes two categories into pure ones raises precision."""
    truth = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    mixed = {"a1": 1, "a2": 1, "b1": 1, "b2": 1}
    split = {"a1": 1, "a2": 1, "b1": 2, "b2": 2}
    assert stories.bcubed(mixed, truth).precision == approx(Fraction(1, 2))
    assert stories.bcubed(split, truth).precision == approx(1)


def test_bcubed_cluster_completeness() -> None:
    """Merging two clusters of one category raises recall: 1/2 -> 1."""
    truth = {"a1": "A", "a2": "A", "a3": "A", "a4": "A"}
    apart = {"a1": 1, "a2": 1, "a3": 2, "a4": 2}
    assert stories.bcubed(apart, truth).recall == approx(Fraction(1, 2))
    assert stories.bcubed(dict.fromkeys(truth, 1), truth).recall == approx(1)


def test_bcubed_rag_bag() -> None:
    """An item of a new category does less harm in a cluster of unrelated items (a rag bag)
    than in a clean one: precision 4/7 against 1/2."""
    truth = {"a1": "A", "a2": "A", "a3": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    clean = {"a1": 1, "a2": 1, "a3": 1, "b": 2, "c": 2, "d": 2}
    into_bag = {**clean, "e": 2}  # a's: 1 each; b, c, d, e: 1/4 each -> 4/7
    into_clean = {**clean, "e": 1}  # a's: 3/4 each, e 1/4, b c d 1/3 each -> 1/2
    assert stories.bcubed(into_bag, truth).precision == approx(Fraction(4, 7))
    assert stories.bcubed(into_clean, truth).precision == approx(Fraction(1, 2))


def test_bcubed_size_versus_quantity() -> None:
    """One item split off a big cluster costs less than breaking two small clusters: recall
    (7 * 7/8 + 1/8 + 8) / 16 = 57/64 against (8 + 4 * 1/2 + 4) / 16 = 7/8."""
    truth = {f"a{n}": "A" for n in range(8)} | {f"b{k}{n}": f"B{k}" for k in range(4) for n in range(2)}
    one_off = {i: (i if i == "a7" else truth[i]) for i in truth}
    broken = {i: (i if i[:2] in ("b0", "b1") else truth[i]) for i in truth}
    assert stories.bcubed(one_off, truth).recall == approx(Fraction(57, 64))
    assert stories.bcubed(broken, truth).recall == approx(Fraction(7, 8))


def test_merged_negatives() -> None:
    story = {"a": "s1", "b": "s1", "c": "s2", "d": "s2"}
    pairs = [("a", "b", "x"), stories.NegativePair("a", "c", "y"), ("c", "d"), ("a", "unknown"), ("u", "v")]
    assert stories.merged_negatives(story, pairs) == 2


# -- text helpers and part 1 -----------------------------------------------------------------


def test_similar_pairs_misses_nothing() -> None:
    """The prefix-filtered join finds exactly the pairs a comparison of all pairs finds."""
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(30)]
    for _ in range(20):
        sets = {f"s{n}": set(rng.sample(vocabulary, rng.randint(1, 12))) for n in range(25)}
        for threshold in (0.3, 0.5, 0.7):
            brute = {
                (a, b): stories.jaccard(sets[a], sets[b])
                for a, b in itertools.combinations(sorted(sets), 2)
                if stories.jaccard(sets[a], sets[b]) >= threshold
            }
            found = {
                tuple(sorted(pair)): score for pair, score in stories.similar_pairs(sets, threshold).items()
            }
            assert found == brute


@pytest.mark.parametrize(
    ("a", "b", "changed"),
    [
        ("Shr 16.8 cts vs 12 cts", "Shr 16.6 cts vs 12 cts", True),
        ("arrange two billion dlrs", "arrange 1.5 billion dlrs", True),
        ("sales rose 11 to 20 pct", "sales rose 11 to 20 pct in March", False),  # words added
        ("for the year 1987 ending October 1.", "for the year 1987.", False),  # a part dropped
        ("worth 2,000 dlrs", "worth 2000 dlrs", False),  # formatting only
        ("It rose three pct", "It rose 3 pct", False),
    ],
)
def test_changed_figures(a: str, b: str, changed: bool) -> None:
    assert stories.changed_figures(a, b) is changed


def reuters(number: int, title: str, body: str, when: str, topics: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": f"reuters21578/reuters-{number}.md",
        "title": title,
        "body": body,
        "publishedDateTime": when,
        "provider": {"name": "Reuters", "domain": "reuters.com"},
        "topics": topics or [],
    }


STORY = (
    "The Federal Reserve entered the government securities market to arrange {amount} billion dlrs "
    "of customer repurchase agreements, a Fed spokesman said. Dealers said Federal funds were "
    "trading at {rate} pct when the Fed began its temporary and indirect supply of reserves."
)
LONG = (
    "Westpac Banking Corp in New Zealand said it will increase its indicator lending rate by 1.5 "
    "percentage points to 22.5 pct from April 6. The bank said the rise reflected higher funding "
    "costs in the wholesale money market over recent weeks. Other trading banks are expected to "
    "follow with similar moves later this week, dealers said. The central bank declined to comment "
    "on the move."
)


def test_find_duplicates_applies_the_rules(make_corpus: Callable[..., Path]) -> None:
    table = [
        # a re-send: identical body an hour later, another headline
        reuters(1, "WESTPAC IN N.Z. RAISES INDICATOR LENDING RATE", LONG, "1987-04-02T02:08:19Z"),
        reuters(2, "WESTPAC <WBC> RAISES N.Z. LENDING RATE", LONG, "1987-04-02T03:12:43Z"),
        # a near-copy: a typo fixed and a word dropped
        reuters(
            3,
            "WESTPAC RAISES RATE",
            LONG.replace("dealers", "dealrs").replace(" recent", ""),
            "1987-04-02T05:00:00Z",
        ),
        # a daily report: the same headline on three dates, figures changed
        *[
            reuters(
                10 + n,
                "FED ADDS RESERVES VIA CUSTOMER REPURCHASES",
                STORY.format(amount=a, rate=r),
                f"1987-03-{d}T11:45:00Z",
            )
            for n, (a, r, d) in enumerate(
                [("1.5", "6-1/4", "02"), ("two", "6-3/16", "03"), ("2.5", "6-1/8", "04")]
            )
        ],
        # the same short template from two companies
        reuters(
            20,
            "QUAKER OATS CO <OAT> REGULAR DIVIDEND",
            "Qtly div 20 cts vs 20 cts prior\n\nPay April 15",
            "1987-03-11T12:38:56Z",
        ),
        reuters(
            21,
            "UNIBANCORP INC <UBCP> REGULAR DIVIDEND SET",
            "Qtly div 20 cts vs 20 cts prior\n\nPay April 15",
            "1987-03-11T16:45:59Z",
        ),
    ]
    items = stories.load_items(make_corpus(table))
    labels = stories.find_duplicates(items)
    ids = [f"reuters21578/reuters-{n}.md" for n in (1, 2, 3)]
    assert labels.groups == [ids]
    assert labels.near_pairs == [(ids[0], ids[2]), (ids[1], ids[2])]
    fed = [f"reuters21578/reuters-{n}.md" for n in (10, 11, 12)]
    assert labels.reasons[(fed[0], fed[1])] == "recurring headline, figures changed"
    assert (
        labels.reasons[("reuters21578/reuters-20.md", "reuters21578/reuters-21.md")]
        == "short body, other subject"
    )
    negatives = stories.recurring_negatives(items, labels)
    assert negatives == [(fed[0], fed[1], "recurring-headline"), (fed[1], fed[2], "recurring-headline")]


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("The U.S. Treasury said so. Dealers agreed.", ["The U.S. Treasury said so.", "Dealers agreed."]),
        ('He said: "No." Then he left.', ['He said: "No."', "Then he left."]),
        (
            "Shares of J. Smith Co rose 5.5 pct. It closed higher.",
            ["Shares of J. Smith Co rose 5.5 pct.", "It closed higher."],
        ),
    ],
)
def test_sentences(paragraph: str, expected: list[str]) -> None:
    assert stories.sentences(paragraph) == expected


def test_wire_style_spelled_out() -> None:
    provider = stories.PROVIDERS[1]  # "per cent"
    text = stories.swap_words(
        "The U.S. lost 200 mln dlrs, 5 pct of 1ST QTR revs.", {}, random.Random(1), 0, provider
    )
    assert text == "The US lost 200 million dollars, 5 per cent of FIRST QUARTER revenues."
    assert stories.money_style("lost 1.5 billion dlrs and 200 mln stg") == "lost $1.5 billion and £200 mln"


def test_recase_keeps_proper_nouns() -> None:
    body = "Japan raised its rates. The Bank of Japan said rates in Japan would rise."
    assert stories.recase("BANK OF JAPAN RAISES RATES", body, "sentence") == "Bank of Japan raises rates"
    assert stories.recase("BANK OF JAPAN RAISES RATES", body, "title") == "Bank of Japan Raises Rates"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Boeing Co said the order is worth one billion dlrs.",
            "The order is worth one billion dlrs, Boeing Co said.",
        ),
        (
            "The order is worth one billion dlrs, the company said.",
            "The company said the order is worth one billion dlrs.",
        ),
        ("Boeing said in a statement that it won.", "Boeing said in a statement that it won."),  # left alone
    ],
)
def test_flip_attribution(sentence: str, expected: str) -> None:
    forms = stories.word_forms("the order and the company")
    assert stories.flip_attribution(sentence, forms) == expected


# -- part 2: the generator -------------------------------------------------------------------

ORIGINALS = [
    reuters(
        101,
        "JAPAN SAYS IT WILL CUT TARIFFS ON 200 FARM GOODS",
        "Japan said it will cut tariffs on 200 farm products from April, the Finance Ministry said.\n\n"
        "The cuts are worth about 1.5 billion dlrs a year to exporters, officials said.\n\n"
        "The U.S. has pressed Tokyo for months to open its farm market further. Trade Minister Hajime "
        "Tamura said the government expected the move to ease tension with Washington.\n\n"
        "Farm groups said they would oppose any further cuts next year.",
        "1987-03-13T02:12:51Z",
        ["trade"],
    ),
    {
        "id": "bbc/bbc-business-001.md",
        "title": "Ad sales boost Time Warner profit",
        "body": "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the three months "
        "to December. The firm said it would buy out its partner in the cable venture.\n\n"
        "Time Warner said fourth quarter sales rose 2% to $11.1bn from $10.9bn. Its profits were "
        "buoyed by one-off gains which offset a profit dip at Warner Bros.\n\n"
        "Analysts said the results were better than expected. The shares rose 3% in early trading.",
        "publishedDateTime": "2005-12-14T23:32:46Z",
        "provider": {"name": "BBC News", "domain": "bbc.co.uk"},
        "topics": ["business"],
        "category": "business",
    },
]


@pytest.fixture
def originals(make_corpus: Callable[..., Path]) -> dict[str, Any]:
    return stories.load_items(make_corpus(ORIGINALS))


def test_rewrites_are_other_providers_texts_within_a_day(originals: dict[str, Any]) -> None:
    for seed, (ident, item) in itertools.product(range(5), originals.items()):
        for provider in stories.PROVIDERS:
            made = stories.rewrite(item, random.Random(f"{seed}/{provider.name}"), provider)
            assert made.original == ident and made.id.startswith("planted/") and made.id.endswith(".md")
            assert made.provider.name != item.provider.name and made.provider.domain.endswith(".example")
            assert timedelta(minutes=30) <= abs(made.published_at - item.published_at) <= timedelta(days=1)
            assert stories.normalised(made.body) != stories.normalised(item.body)
            assert stories.words(made.title) != stories.words(item.title)
            # still about the same thing: many of its content words are the original's
            assert stories.jaccard(stories.content_words(item), stories.content_words(made)) > 0.2


def test_a_rewrite_file_reads_back(originals: dict[str, Any]) -> None:
    item = originals["reuters21578/reuters-101.md"]
    made = stories.rewrite(item, random.Random(3), stories.PROVIDERS[0])
    parsed = parse_bytes(made.text().encode(), made.id)
    assert (parsed.title, parsed.published_at, parsed.topics) == (made.title, made.published_at, ("trade",))
    assert (parsed.provider.name, parsed.provider.domain) == ("Global Wire", "globalwire.example")
    assert (
        parsed.body == made.body
        and parsed.excerpt
        and parsed.url.startswith("https://www.globalwire.example/")
    )
    assert "reuters" not in made.id  # the id says nothing of the original


def test_plant_is_deterministic_and_uses_distinct_providers(originals: dict[str, Any]) -> None:
    ids = sorted(originals)
    first = stories.plant(originals, ids, random.Random("s"))
    again = stories.plant(originals, ids, random.Random("s"))
    other = stories.plant(originals, ids, random.Random("t"))
    assert first == again and first != other
    rewrites, groups = first
    assert [g[0] for g in groups] == ids
    by_id = {r.id: r for r in rewrites}
    assert len(by_id) == len(rewrites) == sum(len(g) - 1 for g in groups)
    for group in groups:
        assert 1 <= len(group) - 1 <= 4
        providers = [by_id[i].provider.name for i in group[1:]]
        assert len(set(providers)) == len(providers)


# -- a whole build on a tiny corpus ----------------------------------------------------------


def prose(seed: int, subject: str) -> str:
    """Six sentences of made-up words, different for each seed, about ``subject``."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ter", "vun", "sa", "dre", "po", "ql", "zu", "ben", "tor"]

    def word() -> str:
        return "".join(rng.sample(syllables, 3))

    return "\n\n".join(
        f"{subject} said {' '.join(word() for _ in range(12))} {k + 2} pct of {word()}." for k in range(6)
    )


def test_build_and_evaluate_end_to_end(tmp_path: Path, make_corpus: Callable[..., Path]) -> None:
    subjects = ["Brazil", "Mexico", "Canada", "Norway", "Kenya", "Chile"]
    table = [
        reuters(
            n, f"{s.upper()} PLANS NEW SPENDING", prose(n, s), f"1987-03-{2 + 5 * n:02d}T10:00:00Z", ["trade"]
        )
        for n, s in enumerate(subjects)
    ]
    table.append(
        reuters(50, "BRAZIL PLANS NEW SPENDING", prose(0, "Brazil"), "1987-03-02T11:00:00Z", ["trade"])
    )
    table += [
        {
            "id": f"bbc/bbc-tech-{n:03d}.md",
            "title": f"Gadget show number {n} opens",
            "body": prose(n, f"Organiser{n}"),
            "publishedDateTime": f"2004-0{n}-10T09:00:00Z",
            "topics": ["tech"],
            "category": "tech",
            "provider": {"name": "BBC News", "domain": "bbc.co.uk"},
        }
        for n in range(1, 4)
    ]
    source = make_corpus(table, name="sources")
    out = tmp_path / "evaluation"
    built = stories.build_evaluation(
        out, seed=1, sources=[source / "reuters21578", source / "bbc"], originals=(3, 2), same_day=5
    )
    assert built.duplicate_groups == [["reuters21578/reuters-0.md", "reuters21578/reuters-50.md"]]
    assert [len(g) >= 2 for g in built.story_groups] == [True] * 5
    assert built.counts["planted"] == sum(len(g) - 1 for g in built.story_groups)
    loaded = stories.Evaluation.load(out)
    assert (loaded.story_groups, loaded.duplicate_groups, loaded.corpus_dir) == (
        built.story_groups,
        built.duplicate_groups,
        out / "corpus",
    )
    again = stories.build_evaluation(
        tmp_path / "again",
        seed=1,
        sources=[source / "reuters21578", source / "bbc"],
        originals=(3, 2),
        same_day=5,
    )
    assert again.story_groups == built.story_groups

    def oracle(corpus: Path) -> tuple[dict[str, str | None], dict[str, str]]:
        every = [ident for ident, _path in stories.corpus_files(corpus)]
        duplicate_of: dict[str, str | None] = dict.fromkeys(every)
        story = {i: i for i in every}
        for group in built.duplicate_groups:
            for ident in group[1:]:
                duplicate_of[ident] = group[0]
        for group in built.story_groups:
            for ident in group:
                story[ident] = group[0]
        return duplicate_of, story

    perfect = stories.evaluate(out, oracle)
    assert perfect["duplicates"]["precision"] == perfect["duplicates"]["recall"] == 1
    assert perfect["stories"] == {"precision": 1, "recall": 1, "f1": 1}
    assert sum(perfect["negatives_merged"].values()) == 0
    assert stories.evaluate(out / "corpus", oracle)["stories"] == perfect["stories"]
    naive = stories.evaluate(built, stories.naive_predict)
    assert naive["duplicates"]["recall"] == 1 and naive["stories"]["precision"] == 1
    assert 0 < naive["stories"]["recall"] < 1  # the rewrites' headlines differ
    assert stories.evaluate(built, stories.minhash_predict)["duplicates"]["recall"] == 1
