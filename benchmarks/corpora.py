"""Benchmark corpora: the shared Reuters and BBC data at scale N, incremental edits of a corpus,
and the fixed, seeded workload (queries, related lookups, completions) drawn from the data.

Scale 1 is both archives as they are (19,043 + 2,225 items). Scale N adds copies 2..N of every
file, rewritten so that each copy is a distinct item with realistic term statistics: the text
is kept as is; the file name, every ``news.example.org`` url (its own and those of its
``related`` entries) and the provider names get the copy number ("Reuters" -> "Reuters 3"), and
every ``publishedDateTime`` moves forward by ``DATE_SHIFT`` per copy. The rewrite works on the
front-matter text, so the files keep the exact YAML layout of the originals.

Corpora are generated once into ``benchmarks/.data/scale-N/corpus`` (ignored by git) and reused.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from _data import CACHE, unpacked

#: The sources of every corpus: (archive, folder it unpacks to).
SOURCES = (("reuters21578-news.tar.gz", "reuters21578"), ("bbc-news.tar.gz", "bbc"))

#: How far each further copy's dates move.
DATE_SHIFT = timedelta(days=365)

#: Sizes of the incremental run: new, changed and deleted files.
INCREMENTAL = 100

_COMPLETE = ".complete.json"

#: Bumped when the generator changes, so that corpora generated before are made again.
GENERATOR_VERSION = 1
_URL = re.compile(r"(https://\S+?)(\.jpg)?([\"']?)$")
_DATE = re.compile(r"^(\s*publishedDateTime:\s*)([\"']?)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)([\"']?)\s*$")
_PROVIDER = re.compile(r"^(\s+name:\s*)(.+?)\s*$")
_WORD = re.compile(r"[a-z]+")
_COPY_NAME = re.compile(r"-c\d+\.md$")

#: Words never used as query words: Whoosh's stop list and searchkit's, with a few more function
#: words, so that both engines are asked about words they both index.
_FUNCTION_WORDS_TEXT = """
a about after against all also an and any are as at be because been before being between both
but by can could did do does during each for from had has have he her here him his how i if in
into is it its may me more most mr mrs ms no not now of off on once only or other our out over
own said same says she should so some such tbd than that the their them then there these they
this those through to too under until up us very was we were what when where which while who
whom why will with would yet you your
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


def scale_dir(scale: int) -> Path:
    return CACHE / f"scale-{scale}"


def source_dirs() -> list[Path]:
    """The unpacked original folders (scale 1's content), unpacked once."""
    return [unpacked(archive, folder) for archive, folder in SOURCES]


def _split(text: str) -> tuple[str, str]:
    """(front matter including both '---' lines, body)."""
    end = text.find("\n---", 3)
    end = text.find("\n", end + 4) if end >= 0 else -1
    if not text.startswith("---") or end < 0:
        return "", text
    return text[: end + 1], text[end + 1 :]


def rewrite_copy(text: str, copy: int) -> str:
    """The text of a file for copy number ``copy`` (1 = unchanged); only front matter changes."""
    if copy == 1:
        return text
    front, body = _split(text)
    shift = DATE_SHIFT * (copy - 1)
    lines = []
    for line in front.split("\n"):
        if "https://" in line:
            line = _URL.sub(lambda m: f"{m.group(1)}-c{copy}{m.group(2) or ''}{m.group(3)}", line)
        elif "publishedDateTime" in line:
            match = _DATE.match(line)
            if match:
                moved = datetime.strptime(match.group(3), "%Y-%m-%dT%H:%M:%SZ") + shift
                line = f"{match.group(1)}{match.group(2)}{moved:%Y-%m-%dT%H:%M:%SZ}{match.group(4)}"
        elif "name:" in line:
            match = _PROVIDER.match(line)
            if match:
                line = f"{match.group(1)}{match.group(2)} {copy}"
        lines.append(line)
    return "\n".join(lines) + body


def copy_name(name: str, copy: int) -> str:
    """``reuters-1.md`` -> ``reuters-1-c3.md`` for copy 3."""
    stem, dot, suffix = name.rpartition(".")
    return name if copy == 1 else f"{stem}-c{copy}{dot}{suffix}"


@dataclass(frozen=True)
class CorpusInfo:
    scale: int
    path: str
    items: int
    bytes: int
    by_source: dict[str, int] = field(default_factory=dict)


def ensure_corpus(scale: int, log=print) -> CorpusInfo:  # type: ignore[no-untyped-def]
    """The corpus at ``scale``, generated on first use into benchmarks/.data/scale-N/corpus."""
    base = scale_dir(scale)
    target = base / "corpus"
    marker = base / _COMPLETE
    if marker.exists() and target.is_dir():
        recorded = json.loads(marker.read_text())
        if recorded.pop("generator", None) == GENERATOR_VERSION:
            return CorpusInfo(**recorded)
    log(f"generating the scale-{scale} corpus in {target} ...")
    tmp = base / "corpus.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    by_source: dict[str, int] = {}
    total_bytes = 0
    for source in source_dirs():
        out = tmp / source.name
        out.mkdir(parents=True)
        names = sorted(n for n in os.listdir(source) if n.endswith(".md"))
        for name in names:
            text = (source / name).read_text(encoding="utf-8")
            for copy in range(1, scale + 1):
                data = rewrite_copy(text, copy).encode("utf-8")
                (out / copy_name(name, copy)).write_bytes(data)
                total_bytes += len(data)
        by_source[source.name] = len(names) * scale
    tmp.rename(target)
    info = CorpusInfo(
        scale=scale, path=str(target), items=sum(by_source.values()), bytes=total_bytes, by_source=by_source
    )
    marker.write_text(json.dumps({**asdict(info), "generator": GENERATOR_VERSION}, indent=2))
    return info


def corpus_files(root: Path) -> list[str]:
    """Relative paths (= searchkit ids) of the corpus files, sorted."""
    return sorted(
        f"{d.name}/{n}"
        for d in sorted(root.iterdir())
        if d.is_dir()
        for n in os.listdir(d)
        if n.endswith(".md")
    )


def link_tree(source: Path, target: Path) -> None:
    """A copy of ``source`` made of hard links (same inodes, so same sizes and mtimes)."""
    shutil.rmtree(target, ignore_errors=True)
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        (target / folder.name).mkdir(parents=True)
        for name in os.listdir(folder):
            try:
                os.link(folder / name, target / folder.name / name)
            except OSError:  # another file system: copy, keeping the mtime
                shutil.copy2(folder / name, target / folder.name / name)


@dataclass(frozen=True)
class Edits:
    new: list[str]
    changed: list[str]
    deleted: list[str]


def apply_incremental_edits(work: Path, scale: int, seed: int = 5) -> Edits:
    """Edit the corpus copy ``work`` in place: INCREMENTAL new files (copy ``scale + 1`` of
    originals), INCREMENTAL changed files (a paragraph appended to the body) and INCREMENTAL
    deleted files, chosen with a fixed seed. Files are replaced, never written through, so a
    hard-linked original stays intact."""
    rng = random.Random(seed)
    files = corpus_files(work)
    picked = rng.sample(files, 2 * INCREMENTAL)
    changed, deleted = picked[:INCREMENTAL], picked[INCREMENTAL:]
    originals = [f for f in files if not _COPY_NAME.search(f)]
    new = []
    for rel in rng.sample(originals, INCREMENTAL):
        folder, name = rel.split("/")
        text = (work / rel).read_text(encoding="utf-8")
        new_rel = f"{folder}/{copy_name(name, scale + 1)}"
        (work / new_rel).write_text(rewrite_copy(text, scale + 1), encoding="utf-8")
        new.append(new_rel)
    for rel in changed:
        path = work / rel
        text = path.read_text(encoding="utf-8").rstrip("\n")
        text += (
            "\n\nUpdate: this story was revised after publication; an earlier version "
            "misstated a figure in the fourth paragraph.\n"
        )
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    for rel in deleted:
        (work / rel).unlink()
    return Edits(new=new, changed=changed, deleted=deleted)


# -- the workload -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One query of the workload, in engine-neutral terms."""

    kind: str
    text: str = ""
    topic: str | None = None
    provider: str | None = None
    min_quality: int | None = None
    since: str | None = None  # YYYY-MM-DD
    until: str | None = None  # YYYY-MM-DD, inclusive
    sort: str | None = None  # None (relevance, or newest for match-all), "heat", "newest"
    #: How the baseline joins the words: "or" (as for the main set) or "and" (the default of
    #: Whoosh's QueryParser, as its docs teach; the set of queries drawn from single titles).
    group: str = "or"


@dataclass(frozen=True)
class Workload:
    queries: list[Query]
    related_ids: list[str]
    prefixes: list[str]
    cli_queries: list[str]
    #: Queries a person types to find one story: 1-3 of the rarest words of a single Reuters
    #: title, and two-word phrases of titles (see ``title_queries``).
    title_queries: list[Query] = field(default_factory=list)


def filter_arguments(q: Query) -> dict[str, Any]:
    """A query's filters as ``SearchIndex.search`` takes them."""
    return {
        "topics": q.topic,
        "providers": q.provider,
        "min_quality": q.min_quality,
        "since": q.since,
        "until": q.until,
    }


def _front_and_body(path: Path) -> tuple[str, str]:
    front, body = _split(path.read_text(encoding="utf-8"))
    title = ""
    for line in front.split("\n"):
        if line.startswith("title:"):
            title = line[6:].strip().strip("\"'")
            break
    return title, body


def make_workload(seed: int = 20240501) -> Workload:
    """The fixed query set, drawn with a fixed seed from the original (scale-1) files, so that
    every scale runs the very same workload (copy 1 of every scale is the original data)."""
    rng = random.Random(seed)
    titles: list[tuple[str, list[str]]] = []
    counts: Counter[str] = Counter()
    for source in source_dirs():
        for name in sorted(os.listdir(source)):
            if not name.endswith(".md"):
                continue
            title, body = _front_and_body(source / name)
            words = _WORD.findall(title.lower())
            titles.append((f"{source.name}/{name}", words))
            counts.update(set(_WORD.findall(f"{title} {body}".lower())))
    vocab = sorted(w for w, c in counts.items() if c >= 5 and len(w) >= 3 and w not in FUNCTION_WORDS)
    # Words as likely as the items that hold them: frequent words, big result sets, as people
    # search; rare words still come up.
    cum_weights = list(accumulate(counts[w] for w in vocab))

    def words(n: int) -> str:
        chosen: list[str] = []
        while len(chosen) < n:
            word = rng.choices(vocab, cum_weights=cum_weights)[0]
            if word not in chosen:
                chosen.append(word)
        return " ".join(chosen)

    def phrase() -> str:
        while True:
            _, title_words = rng.choice(titles)
            content = [w for w in title_words if w not in FUNCTION_WORDS and len(w) >= 3]
            pairs = [(a, b) for a, b in pairwise(title_words) if a in content and b in content]
            if pairs:
                a, b = rng.choice(pairs)
                return f'"{a} {b}"'

    topics = ["earn", "acq", "crude", "grain", "trade", "money-fx", "business", "sport", "tech"]
    queries: list[Query] = []
    queries += [Query("1 word", words(1)) for _ in range(12)]
    queries += [Query("2 words", words(2)) for _ in range(12)]
    queries += [Query("3 words", words(3)) for _ in range(8)]
    queries += [Query("phrase", phrase()) for _ in range(8)]
    for i in range(10):
        variant = i % 5
        if variant == 0:
            queries.append(Query("filtered", words(rng.choice((1, 2))), topic=rng.choice(topics)))
        elif variant == 1:
            queries.append(Query("filtered", words(rng.choice((1, 2))), min_quality=50))
        elif variant == 2:
            queries.append(
                Query("filtered", words(rng.choice((1, 2))), since="1987-03-01", until="1987-04-30")
            )
        elif variant == 3:
            queries.append(Query("filtered", words(rng.choice((1, 2))), provider="Reuters", min_quality=50))
        else:
            queries.append(Query("filtered", words(2), topic=rng.choice(topics), min_quality=50))
    queries += [
        Query("sorted by heat", words(rng.choice((1, 2))), sort="heat", min_quality=50 if i % 2 else None)
        for i in range(6)
    ]
    queries += [
        Query(
            "sorted by date",
            words(rng.choice((1, 2))),
            sort="newest",
            topic=rng.choice(topics) if i % 3 == 2 else None,
        )
        for i in range(6)
    ]
    queries += [Query("match all", "", sort="newest"), Query("match all", "", sort="heat", min_quality=50)]

    ids = sorted(t[0] for t in titles)
    related_ids = rng.sample(ids, 30)
    prefixes = []
    for i in range(30):
        word = rng.choices(vocab, cum_weights=cum_weights)[0]
        stem = word[: rng.choice((2, 3, 4))]
        prefixes.append(f"{words(1)} {stem}" if i % 3 == 2 else stem)
    cli_queries = [q.text for q in queries if q.kind == "2 words"][:3]
    return Workload(
        queries=queries,
        related_ids=related_ids,
        prefixes=prefixes,
        cli_queries=cli_queries,
        title_queries=title_queries(rng, titles, counts),
    )


#: Sizes of the set of queries drawn from single titles: word queries and two-word phrases.
TITLE_WORD_QUERIES = 300
TITLE_PHRASE_QUERIES = 50


def title_queries(
    rng: random.Random, titles: list[tuple[str, list[str]]], counts: Counter[str]
) -> list[Query]:
    """Queries to find one story, as a person types them: for each of ``TITLE_WORD_QUERIES``
    Reuters titles drawn at random, 1 to 3 of its rarest content words (in title order); then
    ``TITLE_PHRASE_QUERIES`` two adjacent content words of a title, as a phrase. Few items
    match them, so a search's fixed cost (hits, snippets, spelling check) is most of its time.
    The baseline joins the words with AND, its parser's default."""
    reuters = [words for name, words in titles if name.startswith("reuters")]
    queries: list[Query] = []
    while len(queries) < TITLE_WORD_QUERIES:
        words = rng.choice(reuters)
        content = list(dict.fromkeys(w for w in words if w not in FUNCTION_WORDS and len(w) >= 3))
        if not content:
            continue
        rarest = sorted(content, key=lambda w: (counts[w], w))[: rng.choice((1, 2, 3))]
        chosen = [w for w in content if w in rarest]
        queries.append(
            Query(f"title {len(chosen)} word{'s' if len(chosen) > 1 else ''}", " ".join(chosen), group="and")
        )
    while len(queries) < TITLE_WORD_QUERIES + TITLE_PHRASE_QUERIES:
        words = rng.choice(reuters)
        pairs = [
            (a, b) for a, b in pairwise(words) if all(w not in FUNCTION_WORDS and len(w) >= 3 for w in (a, b))
        ]
        if pairs:
            a, b = rng.choice(pairs)
            queries.append(Query("title phrase", f'"{a} {b}"', group="and"))
    return queries


def workload_to_json(workload: Workload) -> str:
    return json.dumps(asdict(workload))


def workload_from_json(text: str) -> Workload:
    data = json.loads(text)
    return Workload(
        queries=[Query(**q) for q in data["queries"]],
        related_ids=data["related_ids"],
        prefixes=data["prefixes"],
        cli_queries=data["cli_queries"],
        title_queries=[Query(**q) for q in data.get("title_queries", ())],
    )
