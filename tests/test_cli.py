"""The ``searchkit`` command line, run through ``searchkit.cli.main`` (where expected errors become
one ``Error: ...`` line and exit status 1) with Typer's ``CliRunner`` capturing the streams.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ITEMS, SAMPLE_CORPUS, CliRun, ids, run_cli, url_of, when, write_corpus

from searchkit import SearchIndex, cli
from searchkit.models import format_datetime

README = Path(__file__).resolve().parents[1] / "README.md"
#: Top-level command -> its help text: the commands, and the groups of subcommands (``saved``).
HELP = {
    **{command.name or command.callback.__name__: command.help or command.callback.__doc__ or ""
       for command in cli.app.registered_commands},
    **{group.typer_instance.info.name: group.typer_instance.info.help or ""
       for group in cli.app.registered_groups},
}  # fmt: skip
COMMANDS = sorted(HELP)

INDEX_KEYS = {
    "corpus",
    "index_dir",
    "added",
    "updated",
    "deleted",
    "unchanged",
    "skipped",
    "errors",
    "documents",
    "seconds",
    "duplicates",
}
RESULTS_KEYS = {
    "next_cursor",
    "query",
    "total",
    "page",
    "page_size",
    "hits",
    "suggestion",
    "facets",
    "facets_other",
    "facets_missing",
}
HIT_KEYS = {
    "story",
    "duplicate_of",
    "id",
    "url",
    "title",
    "excerpt",
    "provider",
    "topics",
    "category",
    "type",
    "published_at",
    "quality",
    "heat",
    "score",
    "highlights",
}
INFO_KEYS = {"index_dir", "documents", "size_bytes", "oldest", "newest", "last_update", "corpus", "pivots"}


Run = CliRun
run = run_cli


def assert_one_error_line(result: Run) -> str:
    """The run failed with exactly one ``Error: ...`` line on stderr and no traceback."""
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def api_ids(index_dir: Path, query: str = "", **options: Any) -> tuple[int, list[str]]:
    with SearchIndex.open(index_dir) as index:
        results = index.search(query, limit=100, **options)
    return results.total, [hit.id for hit in results.hits]


# -- index --------------------------------------------------------------------------------


def test_index_prints_a_summary(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    result = run("index", corpus, "--index-dir", tmp_path / "index")
    assert result.code == 0, result.stderr
    n = len(ITEMS)
    assert re.fullmatch(
        rf"Indexed {re.escape(str(corpus.resolve()))} into {re.escape(str(tmp_path / 'index'))} "
        rf"in \d+\.\d\d s: {n} added, 0 updated, 0 deleted, 0 unchanged; {n} items in the index\.\n",
        result.stdout,
    )
    assert result.stderr == ""
    again = run("index", corpus, "--index-dir", tmp_path / "index")
    assert f": 0 added, 0 updated, 0 deleted, {n} unchanged; {n} items" in again.stdout


def test_index_json(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    result = run("index", corpus, "--index-dir", tmp_path / "index", "--json")
    assert result.code == 0
    data = result.json
    assert set(data) == INDEX_KEYS
    assert data["corpus"] == str(corpus.resolve())
    assert data["index_dir"] == str(tmp_path / "index")
    assert (
        data["added"],
        data["updated"],
        data["deleted"],
        data["unchanged"],
        data["skipped"],
        data["documents"],
    ) == (len(ITEMS), 0, 0, 0, 0, len(ITEMS))
    assert data["errors"] == []
    assert isinstance(data["seconds"], float)


def test_index_with_a_broken_file_exits_1_and_lists_it(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:4])
    (corpus / "sub").mkdir()
    (corpus / "sub" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    result = run("index", corpus, "--index-dir", tmp_path / "index", "--json")
    assert result.code == 1
    data = result.json
    assert (data["added"], data["skipped"], data["documents"]) == (4, 1, 4)
    assert len(data["errors"]) == 1
    assert set(data["errors"][0]) == {"path", "message"}
    assert data["errors"][0]["path"] == "sub/broken.md"
    assert "line" in data["errors"][0]["message"]

    text = run("index", corpus, "--index-dir", tmp_path / "index")
    assert text.code == 1
    assert "4 unchanged; 4 items in the index." in text.stdout
    assert text.stderr.splitlines() == [
        "Skipped 1 file(s):",
        f"  sub/broken.md: {data['errors'][0]['message']}",
    ]
    with SearchIndex.open(tmp_path / "index") as index:
        assert index.info().documents == 4


def test_index_refuses_a_foreign_directory(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:2])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = run("index", corpus, "--index-dir", tmp_path / "mine")
    assert result.code == 1
    assert "holds no searchkit index" in assert_one_error_line(result)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_index_of_a_missing_corpus(tmp_path: Path) -> None:
    result = run("index", tmp_path / "nope", "--index-dir", tmp_path / "index")
    assert result.code == 1
    assert assert_one_error_line(result) == f"Error: corpus folder {tmp_path / 'nope'} does not exist"


# -- search -------------------------------------------------------------------------------


def test_search_json_shape(index_dir: Path) -> None:
    result = run("search", "solar battery", "--index-dir", index_dir, "--json", "--limit", "1")
    assert result.code == 0
    data = result.json
    assert set(data) == RESULTS_KEYS
    wanted = ids(
        i
        for i in ITEMS
        if re.search(
            r"\b(solar|battery)\b", " ".join([i["title"], i["excerpt"], i.get("body", "")]), re.IGNORECASE
        )
    )
    assert (data["query"], data["total"], data["page"], data["page_size"]) == (
        "solar battery",
        len(wanted),
        1,
        1,
    )
    [hit] = data["hits"]
    assert set(hit) == HIT_KEYS
    item = next(i for i in ITEMS if i["id"] == hit["id"])
    assert hit["url"] == url_of(item["id"])
    assert hit["provider"] == item["provider"]
    assert hit["topics"] == item["topics"]
    assert (hit["category"], hit["type"], hit["quality"], hit["heat"]) == (
        item["category"],
        item["type"],
        item.get("quality"),
        item["heat"],
    )
    assert hit["published_at"].endswith("Z")
    assert hit["published_at"] == when(item).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(hit["score"], float) and hit["score"] > 0
    assert set(hit["highlights"]) == {"title", "excerpt"}
    assert "<mark>" in hit["highlights"]["title"] and "</mark>" in hit["highlights"]["title"]
    assert "<mark>" in hit["highlights"]["excerpt"]


def test_search_json_dates(index_dir: Path) -> None:
    hits = run("search", "--index-dir", index_dir, "--json", "--limit", "100").json["hits"]
    for hit in hits:
        item = next(i for i in ITEMS if i["id"] == hit["id"])
        if when(item) is None:
            assert hit["published_at"] is None
        else:
            assert hit["published_at"] == when(item).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_search_human_output(index_dir: Path) -> None:
    result = run("search", "solar battery", "--index-dir", index_dir, "--limit", "1")
    assert result.code == 0
    item = next(i for i in ITEMS if i["id"] == "tech/solar-battery.md")
    total, _ = api_ids(index_dir, "solar battery")
    lines = result.stdout.splitlines()
    assert lines[0] == f"{total} hits (showing 1-1)"
    assert "Traceback" not in result.stdout
    body = "\n".join(lines[1:])
    assert re.search(rf"^\s+1\. {re.escape(item['title'])}$", body, re.MULTILINE)
    assert item["provider"]["name"] in body
    assert when(item).date().isoformat() in body
    assert ", ".join(item["topics"]) in body
    assert item["excerpt"] in body
    assert url_of(item["id"]) in body


def test_search_human_output_pages_and_no_hits(index_dir: Path) -> None:
    page2 = run("search", "--index-dir", index_dir, "--limit", "5", "--page", "2")
    assert page2.stdout.splitlines()[0] == f"{len(ITEMS)} hits (showing 6-10)"
    assert re.search(r"^\s+6\. ", page2.stdout, re.MULTILINE)
    none = run("search", "xylophonist", "--index-dir", index_dir)
    assert none.code == 0
    assert none.stdout.splitlines() == ["0 hits (showing none)"]


CLI_VS_API: list[tuple[str, list[str], dict[str, Any]]] = [
    ("", ["--topic", "ai"], {"topics": ["ai"]}),
    ("", ["--topic", "Climate", "--topic", "POLITICS"], {"topics": ["Climate", "POLITICS"]}),
    ("", ["--provider", "tech daily"], {"providers": ["tech daily"]}),
    (
        "",
        ["--provider", "World Wire", "--provider", "green post"],
        {"providers": ["World Wire", "green post"]},
    ),
    ("", ["--category", "analysis"], {"category": "analysis"}),
    ("", ["--type", "video"], {"type": "video"}),
    ("", ["--since", "2022-01-01"], {"since": "2022-01-01"}),
    ("", ["--until", "2021-11-13"], {"until": "2021-11-13"}),
    ("", ["--since", "2021-08-09T08:58:00Z"], {"since": "2021-08-09T08:58:00Z"}),
    ("", ["--since", "3000d"], {"since": "3000d"}),
    ("", ["--min-quality", "70"], {"min_quality": 70}),
    ("", ["--min-heat", "0"], {"min_heat": 0}),
    ("", ["--min-heat", "-1"], {"min_heat": -1}),
    ("", ["--sort", "heat"], {"sort": "heat"}),
    ("", ["--sort", "oldest", "--limit", "3", "--page", "2"], {"sort": "oldest", "limit": 3, "page": 2}),
    ("solar OR climate", ["--topic", "energy", "--sort", "newest"], {"topics": ["energy"], "sort": "newest"}),
    (
        "climate energy",
        ["--provider", "green post", "--min-heat", "10", "--since", "2021-01-01"],
        {"providers": ["green post"], "min_heat": 10, "since": "2021-01-01"},
    ),
    ('"facial recognition" OR volcano', ["--sort", "quality"], {"sort": "quality"}),
]


@pytest.mark.parametrize(("query", "args", "options"), CLI_VS_API)
def test_cli_and_api_agree(index_dir: Path, query: str, args: list[str], options: dict[str, Any]) -> None:
    options = {"limit": 100, **options}
    result = run(
        "search",
        query,
        *args,
        "--index-dir",
        index_dir,
        "--json",
        *([] if "--limit" in args else ["--limit", "100"]),
    )
    assert result.code == 0, result.stderr
    data = result.json
    with SearchIndex.open(index_dir) as index:
        expected = index.search(query, **options)
    assert data["total"] == expected.total
    assert [hit["id"] for hit in data["hits"]] == [hit.id for hit in expected.hits]
    assert data["hits"] == [hit.to_dict() for hit in expected.hits]


# -- show and info ------------------------------------------------------------------------


def example_secret() -> str:
    text = (SAMPLE_CORPUS / "000_7a2d62335e847ca6.txt").read_text(encoding="utf-8")
    return re.search(r'^secured: "(.+)"$', text, re.MULTILINE).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "key",
    [
        "000_7a2d62335e847ca6.txt",
        "https://ukranews.com/en/news/792376-china-s-top-court-specifies-rules-for-facial-recognition",
    ],
)
def test_show(sample_index_dir: Path, key: str) -> None:
    secret = example_secret()
    assert len(secret) > 100
    text = run("show", key, "--index-dir", sample_index_dir)
    assert text.code == 0
    assert text.stdout.splitlines()[0] == "China's top court specifies rules for facial recognition"
    assert "id: 000_7a2d62335e847ca6.txt" in text.stdout
    assert "published_at: 2021-08-09T08:58:00Z" in text.stdout
    assert "provider: Новости Украины (ukranews.com)" in text.stdout
    assert "topics: Computer Vision, AI" in text.stdout
    assert "related: AWS Rekognition adds four new types of segments" in text.stdout
    as_json = run("show", key, "--index-dir", sample_index_dir, "--json")
    assert as_json.code == 0
    data = as_json.json
    with SearchIndex.open(sample_index_dir) as index:
        story = index.story(key)
        assert data == {
            **index.get(key).to_dict(),
            "story": {
                "id": story.id,
                "size": story.size,
                "providers": list(story.providers),
                "first_published": format_datetime(story.first_published),
                "last_published": format_datetime(story.last_published),
            },
            "duplicate_of": None,
        }
    assert f"story: {story.id} (1 item)" in text.stdout
    assert data["quality"] == 59 and data["heat"] == -1 and data["published"] is False
    for output in (text.stdout + text.stderr, as_json.stdout + as_json.stderr):
        assert "secured" not in output
        assert secret[:40] not in output


@pytest.mark.parametrize("key", ["nope.md", "https://example.org/nope"])
def test_show_unknown_item(index_dir: Path, key: str) -> None:
    result = run("show", key, "--index-dir", index_dir)
    assert result.code == 1
    assert result.stdout == ""
    assert assert_one_error_line(result) == f"Error: no item with id or url {key!r} in the index"


def test_info(index_dir: Path, corpus_dir: Path) -> None:
    dates = sorted(when(i) for i in ITEMS if when(i) is not None)
    text = run("info", "--index-dir", index_dir)
    assert text.code == 0
    lines = text.stdout.splitlines()
    assert lines[0] == f"index:       {index_dir}"
    assert lines[1] == f"items:       {len(ITEMS)}"
    assert re.fullmatch(r"size:        \d+\.\d KiB", lines[2])
    assert lines[3] == (
        f"date range:  {dates[0].strftime('%Y-%m-%dT%H:%M:%SZ')} .. "
        f"{dates[-1].strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    assert re.fullmatch(r"last update: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[4])
    assert lines[5] == f"corpus:      {corpus_dir.resolve()}"

    positive = {name: [i[name] for i in ITEMS if (i.get(name) or 0) > 0] for name in ("quality", "heat")}
    pivots = {name: statistics.median(values) for name, values in positive.items()}
    shown_pivots = f"quality {pivots['quality']:g}, heat {pivots['heat']:g}"
    assert lines[6] == f"boost pivots: {shown_pivots} (medians, for --boost)"

    data = run("info", "--index-dir", index_dir, "--json").json
    assert set(data) == INFO_KEYS
    assert data["pivots"] == pivots
    assert data["documents"] == len(ITEMS)
    assert data["oldest"] == dates[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["newest"] == dates[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["corpus"] == str(corpus_dir.resolve())
    assert data["size_bytes"] > 0
    assert data["last_update"].endswith("Z")


# -- missing index, default location, environment -----------------------------------------


@pytest.mark.parametrize("args", [["search", "solar"], ["show", "x.md"], ["info"], ["info", "--json"]])
def test_missing_index_says_how_to_build_it(tmp_path: Path, args: list[str]) -> None:
    result = run(*args, "--index-dir", tmp_path / "none")
    assert result.code == 1
    line = assert_one_error_line(result)
    assert "no index at" in line and "`searchkit index`" in line


@pytest.fixture
def newcomer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding only ./corpus (a few items), as after a fresh clone."""
    write_corpus(tmp_path / "corpus", ITEMS[:5])
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("gitignore", [False, True], ids=["no index dir", "index dir with .gitignore"])
def test_first_search_builds_the_default_index(newcomer: Path, gitignore: bool) -> None:
    if gitignore:
        (newcomer / "index").mkdir()
        (newcomer / "index" / ".gitignore").write_text("*\n!.gitignore\n")
    result = run("search", "--json")
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "No index at index yet: building it from corpus ...",
        "Indexed 5 items.",
    ]
    assert {hit["id"] for hit in result.json["hits"]} == ids(ITEMS[:5])
    with SearchIndex.open(newcomer / "index") as index:
        assert index.info().documents == 5
    again = run("search", "climate")
    assert again.code == 0
    assert again.stderr == ""


def test_index_defaults_to_corpus_and_index_in_the_working_directory(newcomer: Path) -> None:
    result = run("index", "--json")
    assert result.code == 0
    assert result.json["corpus"] == str((newcomer / "corpus").resolve())
    assert result.json["index_dir"] == "index"
    assert result.json["documents"] == 5


def test_environment_variables_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing at ./index or ./corpus
    corpus = write_corpus(tmp_path / "elsewhere" / "news", ITEMS[:7])
    env = {"SEARCHKIT_INDEX": str(tmp_path / "elsewhere" / "ix"), "SEARCHKIT_CORPUS": str(corpus)}
    built = run("index", "--json", env=env)
    assert built.code == 0, built.stderr
    assert (built.json["corpus"], built.json["index_dir"]) == (str(corpus.resolve()), env["SEARCHKIT_INDEX"])
    assert built.json["documents"] == 7
    assert not (tmp_path / "index").exists()

    found = run("search", "--json", env=env)
    assert found.code == 0 and found.json["total"] == 7
    assert run("info", "--json", env=env).json["documents"] == 7
    assert run("show", ITEMS[0]["id"], "--json", env=env).json["title"] == ITEMS[0]["title"]

    # An explicit option beats the environment.
    other = write_corpus(tmp_path / "other", ITEMS[:2])
    explicit = run("index", other, "--index-dir", tmp_path / "ix2", "--json", env=env)
    assert (explicit.json["corpus"], explicit.json["documents"]) == (str(other.resolve()), 2)
    assert run("info", "--json", env=env).json["documents"] == 7


# -- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", "x", "--limit", "0"], 2, "--limit"),
        (["search", "x", "--limit", "5000"], 2, "--limit"),
        (["search", "x", "--page", "0"], 2, "--page"),
        (["search", "x", "--sort", "bogus"], 2, "--sort"),
        (["search", "x", "--min-quality", "high"], 2, "--min-quality"),
        (["search", "x", "--since", "garbage"], 1, "invalid date 'garbage'"),
        (["search", "x", "--until", "2021-02-30"], 1, "invalid date '2021-02-30'"),
        (["search", "quality:[abc TO]"], 1, "cannot parse query 'quality:[abc TO]'"),
        (["search", "--no-such-option"], 2, "--no-such-option"),
        (["show"], 2, "'item'"),
        (["frobnicate"], 2, "frobnicate"),
    ],
)
def test_bad_arguments_give_one_error_line(index_dir: Path, args: list[str], code: int, message: str) -> None:
    result = run(*args, "--index-dir", index_dir) if args[0] != "frobnicate" else run(*args)
    assert result.code == code
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    if code == 1:  # searchkit's own errors: that one line and nothing else
        assert_one_error_line(result)


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The console entry point itself (``python -m searchkit``), not only the app under test."""
    completed = subprocess.run(
        [sys.executable, "-m", "searchkit", "info", "--index-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr == (f"Error: no index at {tmp_path / 'none'}; build one with `searchkit index`\n")


# -- help and README ----------------------------------------------------------------------


def test_every_command_is_known() -> None:
    assert COMMANDS == [
        "check", "explain", "index", "info", "related", "saved", "search", "serve", "show",
        "stories", "story", "suggest", "trending", "watch",
    ]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    doc = HELP[command]
    assert doc.strip()
    result = run(command, "--help")
    assert result.code == 0
    assert doc.strip().splitlines()[0] in result.stdout
    assert f"searchkit {command}" in result.stdout
    assert command in run("--help").stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_appears_in_the_readme(command: str) -> None:
    assert f"searchkit {command}" in README.read_text(encoding="utf-8")


def test_sample_corpus_is_complete_for_the_cli(tmp_path: Path) -> None:
    """`searchkit index` over the shipped sample corpus: every file indexed, exit 0."""
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    result = run("index", tmp_path / "corpus", "--index-dir", tmp_path / "index", "--json")
    assert result.code == 0, result.json["errors"]
    files = [p for p in (tmp_path / "corpus").rglob("*") if p.suffix in {".md", ".txt", ".markdown"}]
    assert result.json["documents"] == len(files) >= 41


# -- item text is data --------------------------------------------------------------------

HOSTILE_TITLE = "<script>alert(1)</script> Zorblax & Co <img src=x onerror=alert(2)>"
CONTROL_TITLE = "Zorblax \x1b[2J\x1b]0;owned\x07 markets\r"


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(
        root / "corpus",
        [
            {
                "id": "script.md",
                "title": HOSTILE_TITLE,
                "excerpt": 'A "Zorblax" <b>report</b>.',
                "body": "Body text about Zorblax.",
                "provider": {"name": "Wire \x1b[31m", "domain": "w.example"},
                "topics": ["<i>tag</i>"],
            },
            {
                "id": "control.md",
                "title": CONTROL_TITLE,
                "excerpt": "Zorblax\x1b[1A\x1b[2K rises.",
                "body": "Text \x1b[H\x1b[2J with \x9b31m controls.",
                "related": [{"title": "Link \x1b[5m", "webUrl": "https://x.example/\x1b"}],
            },
        ],
    )
    run("index", corpus, "--index-dir", root / "index")
    return root / "index"


def test_highlights_escape_item_markup(hostile_index: Path) -> None:
    data = run("search", "Zorblax", "--index-dir", hostile_index, "--json").json
    hit = next(h for h in data["hits"] if h["id"] == "script.md")
    assert hit["title"] == HOSTILE_TITLE  # the data as it is
    assert hit["highlights"]["title"] == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Zorblax</mark> "
        "&amp; Co &lt;img src=x onerror=alert(2)&gt;"
    )
    assert hit["highlights"]["excerpt"] == "A &quot;<mark>Zorblax</mark>&quot; &lt;b&gt;report&lt;/b&gt;."
    # Our <mark> is the only markup left in any highlight.
    for found in data["hits"]:
        for text in found["highlights"].values():
            assert re.sub(r"</?mark>", "", text).count("<") == 0


def test_highlights_without_a_match_are_escaped_too(hostile_index: Path) -> None:
    data = run("search", "body", "--index-dir", hostile_index, "--json").json
    hit = next(h for h in data["hits"] if h["id"] == "script.md")
    assert "<mark>" not in hit["highlights"]["title"]
    assert hit["highlights"]["title"].startswith("&lt;script&gt;")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "Zorblax"],
        ["search", "Zorblax", "--facet", "provider"],
        ["show", "control.md"],
        ["show", "script.md"],
        ["related", "control.md"],
    ],
)
def test_text_output_passes_no_control_characters(hostile_index: Path, args: list[str]) -> None:
    result = run(*args, "--index-dir", hostile_index)
    assert result.code == 0
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stdout + result.stderr)
    # Item markup is shown as the text it is, not taken for markup.
    if args[-1] == "script.md":
        assert HOSTILE_TITLE in result.stdout


def test_text_search_shows_item_text_unescaped(hostile_index: Path) -> None:
    result = run("search", "Zorblax", "--index-dir", hostile_index)
    assert "<script>alert(1)</script> Zorblax & Co" in result.stdout
    assert "&lt;" not in result.stdout and "&amp;" not in result.stdout


def test_json_keeps_control_characters_as_data(hostile_index: Path) -> None:
    data = run("show", "control.md", "--index-dir", hostile_index, "--json").json
    assert data["title"] == CONTROL_TITLE.strip()
