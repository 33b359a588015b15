"""Shared fixtures: corpora written from Python tables, and read-only indexes built once a session.

The test corpus (``ITEMS``) is small but shaped so that every filter, sort and page has a
non-trivial answer: topics overlap and are spelled in several cases ("AI"/"ai",
"Climate"/"climate"/"CLIMATE"), several providers, categories and types, dates over six years
plus one undated item, one item without quality, heat values including -1, two items with the
same text (a relevance tie) and pairs built for ranking checks. Tests compute what they expect
from this table with the helpers below, never from the program's output.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from searchkit import SearchIndex, cli

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SAMPLE_CORPUS = REPO / "corpus"
REUTERS_ARCHIVE = REPO.parent / "shared" / "data" / "reuters21578-news.tar.gz"
REUTERS_DOCUMENTS = 19_043

# (id, front matter, body). The id is the file's path in the corpus.
ITEMS: list[dict[str, Any]] = [
    {
        "id": "tech/ai-chips.md",
        "title": "Chipmakers race to build AI accelerators",
        "excerpt": "Demand for machine learning hardware keeps growing.",
        "topics": ["AI", "Hardware"],
        "provider": {"name": "Tech Daily", "domain": "techdaily.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2023-03-14T09:30:00Z",
        "quality": 80,
        "heat": 120,
    },
    {
        "id": "tech/facial-recognition-rules.md",
        "title": "Court sets rules for facial recognition",
        "excerpt": "Judges limit how police may use facial recognition cameras.",
        "topics": ["ai", "Privacy", "Computer Vision"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2021-08-09T08:58:00Z",
        "quality": 59,
        "heat": -1,
    },
    {
        "id": "tech/recognize-faces-primer.md",
        "title": "How software learns to recognize faces",
        "excerpt": "A primer on the networks that power face matching.",
        "body": "Systems that recognize faces compare measurements between the eyes, nose and mouth.",
        "topics": ["Computer Vision"],
        "provider": {"name": "Tech Daily", "domain": "techdaily.example"},
        "category": "analysis",
        "type": "video",
        "publishedDateTime": "2022-02-01T12:00:00Z",
        "quality": 72,
        "heat": 15,
    },
    {
        "id": "world/climate-summit.md",
        "title": "Climate summit ends with coal compromise",
        "excerpt": "Delegates agreed to phase down coal after long talks.",
        "topics": ["Climate", "Energy"],
        "provider": {"name": "Green Post", "domain": "greenpost.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2021-11-13T18:00:00Z",
        "quality": 88,
        "heat": 300,
    },
    {
        "id": "world/glacier-drones.md",
        "title": "Drones monitor retreating glaciers",
        "excerpt": "Researchers map ice loss from the air.",
        "body": "The glacier lost two metres of ice this summer, the monitoring team said.",
        "topics": ["climate", "Science"],
        "provider": {"name": "Green Post", "domain": "greenpost.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2020-07-01T06:00:00Z",
        "quality": 65,
        "heat": 8,
    },
    {
        "id": "world/election-night.md",
        "title": "Election night ends without a clear winner",
        "excerpt": "Counting continues in several districts.",
        "topics": ["Politics"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2019-11-05T23:10:00Z",
        "quality": 50,
        "heat": -1,
    },
    {
        "id": "world/elections-record-year.md",
        "title": "A record year of elections",
        "excerpt": "Half the world votes this year.",
        "topics": ["Politics", "World"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "analysis",
        "type": "article",
        "publishedDateTime": "2024-01-02T06:00:00Z",
        "quality": 77,
        "heat": 42,
    },
    {
        "id": "opinion/streets-not-a-laboratory.md",
        "title": "Our streets are not a laboratory",
        "excerpt": "Cameras that scan faces in public places should be banned.",
        "topics": ["Privacy", "AI"],
        "provider": {"name": "Daily Column", "domain": "dailycolumn.example"},
        "category": "opinion",
        "type": "article",
        # 08:00 UTC, written with an offset as feeds do.
        "publishedDateTime": "2022-06-30T10:00:00+02:00",
        "quality": 45,
        "heat": 5,
    },
    {
        "id": "corrections.md",
        "title": "Corrections and clarifications",
        "excerpt": "An earlier article misspelled a name.",
        "topics": [],
        "provider": {"name": "Daily Column", "domain": "dailycolumn.example"},
        "category": "notice",
        "type": "article",
        "quality": 30,
        "heat": -1,  # no date
    },
    {
        "id": "tech/solar-battery.md",
        "title": "Solar farm adds a giant battery",
        "excerpt": "The battery stores solar power for the evening peak.",
        "topics": ["Energy"],
        "provider": {"name": "Green Post", "domain": "greenpost.example"},
        "category": "news",
        "type": "podcast",
        "publishedDateTime": "2023-09-10T07:00:00Z",
        "heat": 60,  # no quality
    },
    {
        "id": "tech/solar-prices.md",
        "title": "Solar panels get cheaper",
        "excerpt": "Prices for photovoltaic modules fell again.",
        "topics": ["Energy"],
        "provider": {"name": "Tech Daily", "domain": "techdaily.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2023-05-05T05:05:00Z",
        "quality": 55,
        "heat": -1,
    },
    {
        "id": "ranking/volcano-title.md",
        "title": "Volcano erupts near coastal town",
        "excerpt": "Residents left their homes overnight as ash fell.",
        "topics": ["Science"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2020-03-03T03:00:00Z",
        "quality": 60,
        "heat": 25,
    },
    {
        "id": "ranking/volcano-body.md",
        "title": "Coastal town evacuated overnight",
        "excerpt": "Residents left their homes as ash fell.",
        "body": "Officials blamed the nearby volcano.",
        "topics": ["Science"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2020-03-04T03:00:00Z",
        "quality": 61,
        "heat": 26,
    },
    # Twins: the same text, so the same relevance; only the date (and the id) differ.
    {
        "id": "twins/quake-a.md",
        "title": "Earthquake shakes mountain villages",
        "excerpt": "No injuries were reported after the tremor.",
        "topics": ["Science"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2022-04-01T10:00:00Z",
        "quality": 70,
        "heat": -1,
    },
    {
        "id": "twins/quake-b.md",
        "title": "Earthquake shakes mountain villages",
        "excerpt": "No injuries were reported after the tremor.",
        "topics": ["Science"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "article",
        "publishedDateTime": "2022-04-02T10:00:00Z",
        "quality": 70,
        "heat": -1,
    },
    {
        "id": "world/heatwave-grid.md",
        "title": "Heatwave pushes power grid to a record",
        "excerpt": "Air conditioning demand set a new peak.",
        "body": "Operators warned that the climate is changing faster than the grid.",
        "topics": ["CLIMATE", "Energy"],
        "provider": {"name": "World Wire", "domain": "worldwire.example"},
        "category": "news",
        "type": "video",
        "publishedDateTime": "2023-07-20T15:00:00Z",
        "quality": 68,
        "heat": 210,
    },
]


def url_of(item_id: str) -> str:
    """The webUrl written for an item of a table (derived from its id)."""
    return f"https://news.example.org/{item_id.rsplit('.', 1)[0]}"


def write_item(root: Path, item: Mapping[str, Any]) -> Path:
    """Write one item (``id`` = path, ``body`` optional, the rest front matter) under ``root``."""
    fields = {key: value for key, value in item.items() if key not in ("id", "body")}
    fields.setdefault("webUrl", url_of(item["id"]))
    text = "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False) + "---\n"
    if item.get("body"):
        text += "\n" + item["body"] + "\n"
    path = root / item["id"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_corpus(root: Path, items: Iterable[Mapping[str, Any]]) -> Path:
    """Write a corpus folder from a table of items; returns the folder."""
    root.mkdir(parents=True, exist_ok=True)
    for item in items:
        write_item(root, item)
    return root


# -- what the tests expect, computed from a table -------------------------------------------


def when(item: Mapping[str, Any]) -> datetime | None:
    """The item's publication time as an aware UTC datetime, straight from the table."""
    raw = item.get("publishedDateTime")
    if raw is None:
        return None
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).astimezone(timezone.utc)


def text_of(item: Mapping[str, Any]) -> str:
    """Everything a free-text query searches: title, topics, excerpt and body."""
    return " ".join(
        [item["title"], " ".join(item.get("topics", [])), item.get("excerpt", ""), item.get("body", "")]
    )


def mentions(item: Mapping[str, Any], *prefixes: str) -> bool:
    """True when some word of the item's text starts with one of ``prefixes`` (any case)."""
    words = re.findall(r"\w+", text_of(item).lower())
    return any(word.startswith(prefix.lower()) for word in words for prefix in prefixes)


def ids(items: Iterable[Mapping[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def newest_key(item: Mapping[str, Any]) -> tuple[int, float]:
    """Sort key: newest first, undated last."""
    moment = when(item)
    return (1, 0.0) if moment is None else (0, -moment.timestamp())


@pytest.fixture(scope="session")
def items() -> list[dict[str, Any]]:
    """The test corpus table (do not mutate)."""
    return ITEMS


@pytest.fixture
def make_corpus(tmp_path: Path) -> Callable[..., Path]:
    """Write a corpus from a table under ``tmp_path`` (``make_corpus(items, name="corpus")``)."""

    def make(table: Iterable[Mapping[str, Any]], name: str = "corpus") -> Path:
        return write_corpus(tmp_path / name, table)

    return make


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test corpus written once; read-only."""
    return write_corpus(tmp_path_factory.mktemp("test-corpus") / "corpus", ITEMS)


@pytest.fixture(scope="session")
def index_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the test corpus, built once; read-only."""
    path = tmp_path_factory.mktemp("test-index") / "index"
    with SearchIndex.create(path) as index:
        report = index.update(corpus_dir)
    assert report.ok and report.documents == len(ITEMS), report
    return path


@pytest.fixture(scope="session")
def index(index_dir: Path) -> Iterator[SearchIndex]:
    """A ``SearchIndex`` open on the session's test index; read-only."""
    with SearchIndex.open(index_dir) as opened:
        yield opened


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the repository's own sample corpus, built once; read-only."""
    path = tmp_path_factory.mktemp("sample-index") / "index"
    with SearchIndex.create(path) as index:
        report = index.update(SAMPLE_CORPUS)
    assert report.ok, report.errors
    return path


@pytest.fixture(scope="session")
def reuters_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Reuters-21578 corpus unpacked from ../shared/data (skips when the archive is absent)."""
    if not REUTERS_ARCHIVE.is_file():
        pytest.skip(f"Reuters archive not found at {REUTERS_ARCHIVE}")
    dest = tmp_path_factory.mktemp("reuters")
    with tarfile.open(REUTERS_ARCHIVE) as archive:
        # The "data" filter refuses unsafe members; Pythons before 3.10.12 lack it.
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # pragma: no cover
            archive.extractall(dest)
    return dest / "reuters21578"


@pytest.fixture(scope="session")
def reuters_index(reuters_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """(report, index dir) of the whole Reuters corpus, built once a session (a minute or two)."""
    path = tmp_path_factory.mktemp("reuters-index") / "index"
    with SearchIndex.create(path) as index:
        report = index.update(reuters_corpus)
    yield report, path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_searchkit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's SEARCHKIT_* variables out of every test."""
    monkeypatch.delenv("SEARCHKIT_INDEX", raising=False)
    monkeypatch.delenv("SEARCHKIT_CORPUS", raising=False)


# -- helpers for the facet, related-item and suggestion tests --------------------------------


def build_index(corpus: Path, path: Path) -> Path:
    """Index ``corpus`` into ``path`` (created), checking every file was indexed; returns ``path``."""
    with SearchIndex.create(path) as index:
        report = index.update(corpus)
    assert report.ok, report.errors
    return path


@pytest.fixture
def make_index(tmp_path: Path) -> Callable[..., Path]:
    """Write a corpus from a table and index it, both under ``tmp_path``; returns the index dir
    (``make_index(items, name="x")`` writes ``x-corpus`` and ``x-index``)."""

    def make(table: Iterable[Mapping[str, Any]], name: str = "table") -> Path:
        corpus = write_corpus(tmp_path / f"{name}-corpus", table)
        return build_index(corpus, tmp_path / f"{name}-index")

    return make


@dataclass(frozen=True)
class CliRun:
    """What one run of the command line did."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: Any, env: dict[str, str] | None = None) -> CliRun:
    """Run ``searchkit ARGS`` as the console script does: through ``cli.main``, where expected
    errors become one ``Error: ...`` line and exit status 1. ``env`` sets (or, with None
    values, unsets) environment variables for the run."""
    runner = CliRunner()
    with runner.isolation(env=env) as (stdout, stderr, _output):
        saved = sys.argv
        sys.argv = ["searchkit", *(str(a) for a in args)]
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
            sys.stdout.flush()
            sys.stderr.flush()
        return CliRun(code, stdout.getvalue().decode(), stderr.getvalue().decode())
