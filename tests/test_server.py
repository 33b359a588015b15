"""The HTTP face (searchkit/server/): every endpoint against the CLI's JSON, the error answers,
the limits, the time limit, the OpenAPI description, the page, and item text that is hostile.

Requests go through Starlette's TestClient (in process); test_serve.py runs the real server."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from conftest import ITEMS, run_cli, url_of, write_corpus
from starlette.routing import Route
from starlette.testclient import TestClient

from searchkit import SearchIndex
from searchkit.server import create_app
from searchkit.server import params as http_params
from searchkit.server.openapi import openapi
from searchkit.server.page import marked, safe_url
from searchkit.server.routes import ENDPOINTS


@pytest.fixture(scope="module")
def client(index_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(index_dir)) as test_client:
        yield test_client


def cli_args(parameters: dict[str, Any]) -> list[str]:
    """The CLI options of the same name as the query parameters (``min_quality`` is
    ``--min-quality``; a repeated parameter is a repeated option; ``explain=true`` a flag)."""
    args = []
    for name, value in parameters.items():
        option = "--" + name.replace("_", "-")
        if value is True or value == "true":
            args.append(option)
            continue
        for one in value if isinstance(value, list) else [value]:
            args += [option, str(one)]
    return args


def api(client: TestClient, path: str, parameters: dict[str, Any] | None = None) -> Any:
    answer = client.get(path, params=parameters)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


# -- every endpoint answers what the CLI prints -----------------------------------------------

SEARCHES: list[dict[str, Any]] = [
    {"q": "climate"},
    {"q": "facial recognition", "limit": 3},
    {"q": "", "sort": "newest", "limit": 5, "page": 2},
    {"q": "climate", "topic": ["Energy", "ai"], "facet": ["topics", "provider", "year"]},
    {"q": "*", "provider": "Tech Daily", "facet": ["month", "quality", "heat"], "facet_limit": 2},
    {"q": "", "category": "news", "type": "article", "sort": "oldest"},
    {"q": "", "since": "2021-01-01", "until": "2023-12-31", "sort": "quality"},
    {"q": "", "min_quality": 60, "min_heat": 0, "sort": "heat"},
    {"q": "climate", "recency": "30d", "as_of": "2023-06-01", "boost": ["quality", "heat"]},
    {"q": "climate coal", "explain": "true", "limit": 2},
    {"q": "climte"},
    {"q": "title:climate OR recogn*", "facet": ["category", "type"]},
    {"q": "climate", "collapse": "true", "facet": ["topics"]},
]


@pytest.mark.parametrize("parameters", SEARCHES, ids=lambda p: "&".join(p))
def test_search_answers_the_cli_json_and_took_ms(
    client: TestClient, index_dir: Path, parameters: dict[str, Any]
) -> None:
    query = {key: value for key, value in parameters.items() if key != "q"}
    data = api(client, "/api/search", parameters)
    took = data.pop("took_ms")
    assert isinstance(took, float) and took >= 0
    printed = run_cli("search", parameters["q"], *cli_args(query), "--index-dir", index_dir, "--json")
    assert printed.code == 0, printed.stderr
    assert data == printed.json


def test_search_with_a_cursor_answers_the_cli_json(client: TestClient, index_dir: Path) -> None:
    first = api(client, "/api/search", {"q": "", "limit": 4})
    data = api(client, "/api/search", {"q": "", "limit": 4, "after": first["next_cursor"]})
    del data["took_ms"]
    printed = run_cli(
        "search", "--limit", "4", "--after", first["next_cursor"], "--index-dir", index_dir, "--json"
    )
    assert data == printed.json
    assert {h["id"] for h in data["hits"]}.isdisjoint(h["id"] for h in first["hits"])


def test_the_searches_above_use_every_search_parameter() -> None:
    used = {name for parameters in SEARCHES for name in parameters} | {"after"}
    assert used == {p.name for p in http_params.SEARCH}


def test_search_parameters_are_the_cli_search_options() -> None:
    """Same names: a CLI option ``--min-quality`` is the parameter ``min_quality``."""
    import typer.main

    from searchkit import cli

    command = typer.main.get_command(cli.app).commands["search"]  # type: ignore[attr-defined]
    options = {
        opt.removeprefix("--").replace("-", "_")
        for param in command.params
        for opt in param.opts
        if opt.startswith("--") and opt not in ("--index-dir", "--json")
    }
    served = {p.name for p in http_params.SEARCH}
    assert options | {"q"} == served, (
        "each option of `searchkit search` is a parameter of /api/search: add the missing ones to "
        f"searchkit/server/params.py SEARCH: {sorted(options - served)}"
    )


ITEM = "world/climate-summit.md"


@pytest.mark.parametrize("key", [ITEM, url_of(ITEM)])
def test_items_answer_show_json_by_id_or_url(client: TestClient, index_dir: Path, key: str) -> None:
    data = api(client, "/api/items/" + quote(key, safe=""))
    assert data == run_cli("show", key, "--index-dir", index_dir, "--json").json
    assert data["id"] == ITEM
    # An id's slashes may also be left as they are.
    assert api(client, f"/api/items/{ITEM}") == data


def test_related_answers_related_json(client: TestClient, index_dir: Path) -> None:
    data = api(client, "/api/related/" + quote(ITEM, safe=""), {"limit": 3})
    assert data == run_cli("related", ITEM, "--limit", "3", "--index-dir", index_dir, "--json").json
    assert data["item"]["id"] == ITEM


def test_suggest_answers_suggest_json(client: TestClient, index_dir: Path) -> None:
    data = api(client, "/api/suggest", {"prefix": "clim", "limit": 4})
    assert data == run_cli("suggest", "clim", "--limit", "4", "--index-dir", index_dir, "--json").json
    assert data["completions"]


def test_info_answers_info_json(client: TestClient, index_dir: Path) -> None:
    data = api(client, "/api/info")
    assert data == run_cli("info", "--index-dir", index_dir, "--json").json
    assert data["documents"] == len(ITEMS)


@pytest.mark.parametrize(
    "parameters",
    [
        {"q": "coal"},
        {"q": "coal", "until": "2010-01-01"},
        {"q": "coal", "boost": ["quality"], "recency": "1w", "as_of": "2022-01-01"},
    ],
)
def test_explain_answers_explain_json(
    client: TestClient, index_dir: Path, parameters: dict[str, Any]
) -> None:
    data = api(client, "/api/explain/" + quote(ITEM, safe=""), parameters)
    query = {key: value for key, value in parameters.items() if key != "q"}
    printed = run_cli("explain", parameters["q"], ITEM, *cli_args(query), "--index-dir", index_dir, "--json")
    assert data == printed.json


@pytest.mark.parametrize(
    "parameters",
    [
        {"q": ""},
        {"q": "climate", "min_size": 1, "limit": 3},
        {"q": "", "topic": ["Energy"], "since": "2020-01-01"},
    ],
)
def test_stories_answer_stories_json(client: TestClient, index_dir: Path, parameters: dict[str, Any]) -> None:
    data = api(client, "/api/stories", parameters)
    assert isinstance(data.pop("took_ms"), float)
    query = {key: value for key, value in parameters.items() if key != "q"}
    printed = run_cli("stories", parameters["q"], *cli_args(query), "--index-dir", index_dir, "--json")
    assert data == printed.json and data["total"] >= 1


def test_story_answers_story_json(client: TestClient, index_dir: Path) -> None:
    story = api(client, "/api/items/" + quote(ITEM, safe=""))["story"]["id"]
    for key in (story, ITEM):
        data = api(client, "/api/story/" + quote(key, safe=""))
        assert data == run_cli("story", key, "--index-dir", index_dir, "--json").json
        assert data["id"] == story and ITEM in [entry["id"] for entry in data["items"]]
    assert_error(client.get("/api/story/s000000000000"), 404, "not_found")


@pytest.mark.parametrize(
    "parameters",
    [
        {"q": "", "window": "365d", "as_of": "2024-01-01", "baseline": "3650d"},
        {"q": "", "window": "730d", "as_of": "2024-01-01", "by": "terms", "score": "chi2", "limit": 3},
    ],
)
def test_trending_answers_trending_json(
    client: TestClient, index_dir: Path, parameters: dict[str, Any]
) -> None:
    data = api(client, "/api/trending", parameters)
    assert isinstance(data.pop("took_ms"), float)
    query = {key: value for key, value in parameters.items() if key != "q"}
    printed = run_cli("trending", parameters["q"], *cli_args(query), "--index-dir", index_dir, "--json")
    assert printed.code == 0, printed.stderr
    assert data == printed.json


def test_healthz(client: TestClient) -> None:
    assert api(client, "/healthz") == {"status": "ok"}


# -- errors ------------------------------------------------------------------------------------


def assert_error(answer: Any, status: int, kind: str, message: str = "") -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"] and sorted(body["error"]) == ["message", "type"]
    assert body["error"]["type"] == kind
    assert message in body["error"]["message"]
    assert "Traceback" not in answer.text and 'File "' not in answer.text


BAD_REQUESTS = [
    ("/api/search?qq=x", "unknown parameter 'qq': this endpoint takes q, topic"),
    ("/api/search?limit=5&limit=6", "limit is given 2 times: give it once"),
    ("/api/search?limit=0", "invalid limit '0': use a whole number from 1 to 1000"),
    ("/api/search?limit=1001", "invalid limit '1001'"),
    ("/api/search?limit=ten", "invalid limit 'ten'"),
    ("/api/search?page=0", "invalid page '0': use a whole number from 1 to 10000"),
    ("/api/search?page=10001", "invalid page '10001'"),
    ("/api/search?facet=colour", "invalid facet 'colour': choose from topics, provider"),
    ("/api/search?facet_limit=101", "invalid facet_limit '101': use a whole number from 1 to 100"),
    ("/api/search?" + "&".join(f"topic=t{i}" for i in range(33)), "too many values of topic: at most 32"),
    ("/api/search?" + "&".join(["facet=topics"] * 9), "too many values of facet: at most 8"),
    (
        "/api/search?" + "&".join(f"topic=t{i}&provider=p{i}" for i in range(33)),
        "too many parameters: at most 64",
    ),
    ("/api/search?q=" + "a" * 4097, "q is too long: at most 4096 characters"),
    ("/api/search?q=" + "a " * 600, "query too long: 1200 characters, the limit is 1000"),
    ("/api/search?since=yesterday", "invalid date 'yesterday'"),
    ("/api/search?min_quality=high", "invalid min_quality 'high'"),
    ("/api/search?min_heat=99999999999", "invalid min_heat '99999999999'"),
    ("/api/search?sort=random", "invalid sort 'random': choose from relevance, newest"),
    ("/api/search?recency=soon", "half-life"),
    ("/api/search?boost=fame", "invalid boost 'fame': choose from quality, heat"),
    ("/api/search?explain=maybe", "invalid explain 'maybe': use true or false"),
    ("/api/search?after=garbage", "cursor"),
    ("/api/search?q=(((a", ""),
    ("/api/suggest", "prefix is required"),
    ("/api/suggest?prefix=a&limit=0", "invalid limit '0'"),
    ("/api/related/x.md?limit=1001", "invalid limit '1001'"),
    ("/api/info?verbose=1", "unknown parameter 'verbose': this endpoint takes none"),
    ("/api/items/x.md?fields=title", "unknown parameter 'fields'"),
    ("/api/explain/x.md?sort=newest", "unknown parameter 'sort'"),
]


@pytest.mark.parametrize(("path", "message"), BAD_REQUESTS, ids=[p[:40] for p, _ in BAD_REQUESTS])
def test_a_bad_parameter_is_a_400_that_says_what_is_wrong(
    client: TestClient, path: str, message: str
) -> None:
    answer = client.get(path)
    if path.endswith("(((a"):  # a stray parenthesis still searches (lenient parsing)
        assert answer.status_code == 200
        return
    assert_error(answer, 400, "bad_parameter", message)


def test_a_cursor_with_a_page_is_refused(client: TestClient) -> None:
    cursor = api(client, "/api/search", {"limit": 2})["next_cursor"]
    assert_error(
        client.get("/api/search", params={"limit": 2, "page": 2, "after": cursor}), 400, "bad_parameter"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/items/no-such-item.md",
        "/api/items/" + quote("https://nowhere.example/x", safe=""),
        "/api/related/no-such-item.md",
        "/api/explain/no-such-item.md?q=coal",
        # Ids are looked up in the index, never opened as files.
        "/api/items/../../../../etc/passwd",
        "/api/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/items/" + quote("/etc/passwd", safe=""),
        "/api/items/",
    ],
)
def test_an_unknown_item_is_a_404(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert_error(answer, 404, "not_found")
    assert "root:" not in answer.text


@pytest.mark.parametrize("path", ["/api", "/api/nothing", "/api/search/more", "/index", "/static/nothing.js"])
def test_an_unknown_path_is_a_404(client: TestClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [e.path.replace("{id}", ITEM) for e in ENDPOINTS] + ["/", "/healthz"])
def test_nothing_but_get_is_allowed(client: TestClient, method: str, path: str) -> None:
    assert_error(client.request(method, path), 405, "method_not_allowed")


def test_head_answers_without_a_body(client: TestClient) -> None:
    answer = client.head("/api/search?q=climate")
    assert answer.status_code == 200 and answer.content == b""


def test_no_index_is_a_503(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "none")) as test_client:
        for path in ["/api/search?q=x", "/api/info", "/api/items/x.md", "/api/suggest?prefix=a", "/healthz"]:
            assert_error(test_client.get(path), 503, "no_index", "no index at")
        page = test_client.get("/?q=x")
        assert page.status_code == 503 and "no index at" in page.text


def test_an_index_built_while_serving_is_picked_up(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "index")) as test_client:
        assert test_client.get("/healthz").status_code == 503
        with SearchIndex.create(tmp_path / "index") as index:
            index.update(write_corpus(tmp_path / "corpus", ITEMS[:3]))
        assert test_client.get("/healthz").status_code == 200
        assert api(test_client, "/api/search")["total"] == 3


def test_an_unexpected_error_is_a_500_without_details(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/x")

    monkeypatch.setattr(SearchIndex, "search", broken)
    with TestClient(create_app(index_dir), raise_server_exceptions=False) as test_client:
        answer = test_client.get("/api/search?q=x")
        assert_error(answer, 500, "internal", "internal error")
        assert "secret" not in answer.text
        page = test_client.get("/?q=x")
        assert page.status_code == 500 and "secret" not in page.text


# -- the cache of answers, per commit ----------------------------------------------------------


def counting_searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries ``SearchIndex.search`` runs from now on (answers from the cache run none)."""
    search = SearchIndex.search
    ran: list[str] = []

    def counted(self: SearchIndex, query: str = "", **kwargs: Any) -> Any:
        ran.append(query)
        return search(self, query, **kwargs)

    monkeypatch.setattr(SearchIndex, "search", counted)
    return ran


def without_took(answer: Any) -> bytes:
    assert answer.status_code == 200, answer.text
    return re.sub(rb',"took_ms":[0-9.e-]+}$', b"}", answer.content)


def test_a_repeated_search_is_answered_from_the_cache_identically(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = counting_searches(monkeypatch)
    parameters = {"q": "climate", "facet": ["topics", "provider"], "limit": 3}
    with TestClient(create_app(index_dir)) as test_client:
        first = test_client.get("/api/search", params=parameters)
        again = test_client.get("/api/search", params=parameters)
        # The same parameters as parsed (a default spelled out) are the same entry.
        spelled = test_client.get("/api/search", params={**parameters, "page": 1, "sort": ""})
    assert ran == ["climate"]
    assert without_took(first) == without_took(again) == without_took(spelled)
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.json()["took_ms"] >= 0
    assert [h["id"] for h in again.json()["hits"]] == [h["id"] for h in first.json()["hits"]]


def test_took_ms_of_a_cached_answer_is_the_time_of_that_request(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    search = SearchIndex.search

    def slow(self: SearchIndex, query: str = "", **kwargs: Any) -> Any:
        time.sleep(0.3)
        return search(self, query, **kwargs)

    monkeypatch.setattr(SearchIndex, "search", slow)
    with TestClient(create_app(index_dir)) as test_client:
        assert api(test_client, "/api/search", {"q": "coal"})["took_ms"] >= 300
        assert api(test_client, "/api/search", {"q": "coal"})["took_ms"] < 300


def rebuild_with_cli(index: Path, corpus: Path) -> None:
    assert run_cli("index", corpus, "--index-dir", index, "--rebuild").code == 0


def update_with_cli(index: Path, corpus: Path) -> None:
    assert run_cli("index", corpus, "--index-dir", index).code == 0


def update_with_api(index: Path, corpus: Path) -> None:
    with SearchIndex.open(index) as writer:
        writer.update(corpus)


@pytest.mark.parametrize("commit", [update_with_api, update_with_cli, rebuild_with_cli])
def test_a_commit_makes_the_same_search_see_the_new_items(tmp_path: Path, commit: Any) -> None:
    """An update through the API's writer, `searchkit index` (another writer) and a rebuild
    (a new generation) each name a new commit: the answers kept before are not used."""
    corpus = write_corpus(tmp_path / "corpus", ITEMS[:4])
    with SearchIndex.create(tmp_path / "index") as index:
        index.update(corpus)
    with TestClient(create_app(tmp_path / "index")) as test_client:
        before = api(test_client, "/api/search", {"q": "zorblax OR climate", "facet": "topics"})
        assert (
            api(test_client, "/api/search", {"q": "zorblax OR climate", "facet": "topics"})["total"]
            == (before["total"])
        )
        write_corpus(corpus, [{"id": "new/zorblax.md", "title": "Zorblax climate accord", "excerpt": "New."}])
        commit(tmp_path / "index", corpus)
        after = api(test_client, "/api/search", {"q": "zorblax OR climate", "facet": "topics"})
        assert after["total"] == before["total"] + 1
        assert "new/zorblax.md" in {hit["id"] for hit in after["hits"]}
        (corpus / "new" / "zorblax.md").unlink()
        commit(tmp_path / "index", corpus)
        gone = api(test_client, "/api/search", {"q": "zorblax OR climate", "facet": "topics"})
        assert (gone["total"], gone["facets"]) == (before["total"], before["facets"])
        assert [hit["id"] for hit in gone["hits"]] == [hit["id"] for hit in before["hits"]]


def test_cache_size_0_keeps_no_answer(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = counting_searches(monkeypatch)
    with TestClient(create_app(index_dir, cache_size=0)) as test_client:
        first = test_client.get("/api/search", params={"q": "climate"})
        again = test_client.get("/api/search", params={"q": "climate"})
        assert len(test_client.app.state.answers) == 0  # type: ignore[attr-defined]
    assert ran == ["climate", "climate"]
    assert without_took(first) == without_took(again)


@pytest.mark.parametrize(
    "parameters",
    [
        {"q": "climate", "since": "30d"},
        {"q": "", "until": "2w"},
        {"q": "climate", "recency": "7d"},
        {"q": "climate", "recency": "7d", "as_of": "1d"},
        {"q": "date:[20 years ago to now] climate"},
        {"q": "climate published_at:yesterday"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_an_answer_that_depends_on_the_clock_is_not_kept(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch, parameters: dict[str, str]
) -> None:
    ran = counting_searches(monkeypatch)
    with TestClient(create_app(index_dir)) as test_client:
        for _ in range(2):
            assert test_client.get("/api/search", params=parameters).status_code in (200, 400)
    assert len(ran) == 2


def test_the_cache_keeps_the_least_recently_used_within_its_budget() -> None:
    from searchkit.server.answers import SLOT_BYTES, AnswerCache

    cache = AnswerCache(3)
    cache.put("a", b"{}")
    cache.put("b", b"x" * (SLOT_BYTES - 1))  # two slots, with its key
    assert cache.get("a") == b"{}"  # a is now the most recently used
    cache.put("c", b"{}")  # over the budget: b goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"{}", None, b"{}")
    cache.put("huge", b"x" * (3 * SLOT_BYTES + 1))  # more than the whole budget: not kept
    cache.put("x" * 3 * SLOT_BYTES, b"{}")  # parameters count too
    assert cache.get("huge") is None and cache.get("x" * 3 * SLOT_BYTES) is None and len(cache) == 2


# -- the time limit ------------------------------------------------------------------------------


def test_a_search_past_the_time_limit_is_abandoned_with_a_503(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer comes at the limit; searches queued behind it whose time runs out are never
    run; the health check answers meanwhile, and the worker searches again afterwards."""
    search = SearchIndex.search
    ran: list[str] = []
    release = threading.Event()

    def slow(self: SearchIndex, query: str = "", **kwargs: Any) -> Any:
        ran.append(query)
        if query == "slow":
            release.wait(5)
        return search(self, query, **kwargs)

    monkeypatch.setattr(SearchIndex, "search", slow)
    with TestClient(create_app(index_dir, query_timeout=0.3)) as test_client:
        answers: dict[str, Any] = {}

        def ask(query: str) -> None:
            answers[query] = test_client.get("/api/search", params={"q": query})

        started = time.monotonic()
        first = threading.Thread(target=ask, args=("slow",))
        first.start()
        while not ran:
            time.sleep(0.01)
        queued = threading.Thread(target=ask, args=("queued",))
        queued.start()
        assert test_client.get("/healthz").status_code == 200  # not behind the search
        first.join()
        queued.join()
        assert time.monotonic() - started < 2
        assert_error(answers["slow"], 503, "timeout", "did not finish within 0.3 s")
        assert answers["slow"].headers["retry-after"] == "1"
        assert_error(answers["queued"], 503, "timeout")
        release.set()
        assert api(test_client, "/api/search", {"q": "climate"})["total"] > 0
        assert ran == ["slow", "climate"]  # the queued search never ran


def test_a_real_search_past_a_tiny_time_limit_is_a_503(index_dir: Path) -> None:
    with TestClient(create_app(index_dir, query_timeout=1e-6)) as test_client:
        assert_error(test_client.get("/api/search?q=*a*"), 503, "timeout")
        page = test_client.get("/?q=*a*")
        assert page.status_code == 503 and "did not finish within" in page.text


# -- the OpenAPI description -------------------------------------------------------------------


def test_openapi_describes_every_route_and_parameter(client: TestClient) -> None:
    doc = api(client, "/api/openapi.json")
    assert doc == openapi() and doc["openapi"].startswith("3.")
    served = {
        route.path.replace("{id:path}", "{id}")
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and (route.path.startswith("/api/") or route.path == "/healthz")
    }
    assert set(doc["paths"]) == served
    for endpoint in ENDPOINTS:
        operation = doc["paths"][endpoint.path]["get"]
        described = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
        assert described == [p.name for p in endpoint.parameters]
        assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == (
            ["id"] if endpoint.item else []
        )
        assert {"200", *map(str, endpoint.errors)} == set(operation["responses"])
        # Each described parameter is accepted with a value its schema allows.
        path = endpoint.path.replace("{id}", quote(ITEM, safe=""))
        required = {
            p["name"]: _example(p["schema"])
            for p in operation["parameters"]
            if p["required"] and p["in"] == "query"
        }
        for parameter in operation["parameters"]:
            if parameter["in"] == "query":
                answer = client.get(
                    path, params={**required, parameter["name"]: _example(parameter["schema"])}
                )
                assert "unknown parameter" not in answer.text, parameter


def _example(schema: dict[str, Any]) -> Any:
    if schema["type"] == "array":
        return [_example(schema["items"])]
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": schema.get("minimum", 1), "boolean": "true"}.get(schema["type"], "climate")


# -- hostile items ---------------------------------------------------------------------------------

SCRIPT_TITLE = "<script>alert('t')</script> Zorblax & Co <img src=x onerror=alert(2)>"
HOSTILE = [
    {
        "id": "hostile/script.md",
        "title": SCRIPT_TITLE,
        "excerpt": 'Zorblax says "<b>hi</b>" &lt;script&gt; <a href="javascript:alert(3)">x</a>',
        "body": "Zorblax body <iframe src=//evil.example></iframe> <svg onload=alert(4)>",
        "provider": {"name": "<img src=x onerror=alert(5)>Evil Wire", "domain": "evil.example"},
        "topics": ["<i>tag</i>", "Zorblax"],
        "publishedDateTime": "2024-01-02T03:04:05Z",
        "webUrl": "javascript:alert(6)",
        "related": [{"title": "<script>alert(7)</script>", "webUrl": "javascript:alert(8)"}],
    },
    {
        "id": "hostile/data-url.md",
        "title": "Zorblax data &amp; entities &lt;b&gt;",
        "excerpt": "Zorblax excerpt",
        "webUrl": " data:text/html,<script>alert(9)</script>",
        "provider": {"name": "Plain", "domain": "plain.example"},
    },
    {
        "id": "hostile/ok.md",
        "title": "Zorblax fair report",
        "excerpt": "An ordinary Zorblax item.",
        "webUrl": "https://fair.example/zorblax",
        "related": [{"title": "Linked <b>away</b>", "webUrl": "https://away.example/x"}],
    },
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("hostile-server")
    with SearchIndex.create(root / "index") as index:
        assert index.update(write_corpus(root / "corpus", HOSTILE)).ok
    with TestClient(create_app(root / "index")) as test_client:
        yield test_client


def test_json_highlights_are_escaped_text_with_mark(hostile: TestClient) -> None:
    data = api(hostile, "/api/search", {"q": "Zorblax"})
    hit = next(h for h in data["hits"] if h["id"] == "hostile/script.md")
    assert hit["title"] == SCRIPT_TITLE  # the data, as it is
    assert hit["highlights"]["title"] == (
        "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt; <mark>Zorblax</mark> &amp; Co "
        "&lt;img src=x onerror=alert(2)&gt;"
    )
    for found in data["hits"]:
        for text in found["highlights"].values():
            assert "<" not in re.sub(r"</?mark>", "", text)


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://example.org/a?b=1#c", True),
        ("http://example.org", True),
        ("HTTPS://EXAMPLE.ORG/", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("  javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("\x01javascript:alert(1)", False),
        ("https://ok.example/\nx", False),
        ("vbscript:msgbox", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("mailto:a@b.example", False),
        ("http:/no-host", False),
        ("", False),
    ],
)
def test_only_http_and_https_urls_are_links(url: str, link: bool) -> None:
    assert (safe_url(url) is not None) is link


@pytest.mark.parametrize(
    ("highlight", "html"),
    [
        ("a <mark>b</mark> c", "a <mark>b</mark> c"),
        ("&lt;script&gt; <mark>x</mark>", "&lt;script&gt; <mark>x</mark>"),
        ("&amp;lt; stays text", "&amp;lt; stays text"),
        # Were a highlight ever not escaped, its markup would still be shown as text.
        ("<script>alert(1)</script> <mark>x</mark>", "&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark>"),
        ("<mark><img src=x onerror=alert(1)></mark>", "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>"),
        ("<mark>a</mark", "&lt;mark&gt;a&lt;/mark"),
    ],
)
def test_a_highlight_keeps_only_its_marks_as_markup(highlight: str, html: str) -> None:
    assert str(marked(highlight)) == html


class Page(HTMLParser):
    """The tags, attributes and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [attrs["href"] for tag, attrs in self.tags if "href" in attrs]


def assert_inert(page: Page) -> None:
    """Only searchkit's own markup: its script file, no handlers, no foreign links or frames."""
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{"src": "/static/searchkit.js", "defer": ""}]
    assert not [tag for tag, _ in page.tags if tag in ("img", "iframe", "svg", "b", "i", "object", "embed")]
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on") or name == "style"]
    for link in page.links():
        assert link.startswith("/") or urlsplit(link).scheme in ("http", "https"), link


def test_the_page_shows_hostile_items_as_text(hostile: TestClient) -> None:
    answer = hostile.get("/?q=Zorblax")
    assert answer.status_code == 200
    page = Page(answer.text)
    assert_inert(page)
    text = "".join(page.text)
    assert SCRIPT_TITLE.replace("Zorblax", "") in text.replace("Zorblax", "")
    assert "<img src=x onerror=alert(5)>Evil Wire" in text
    assert "<i>tag</i>" in text
    assert "Zorblax data &amp; entities &lt;b&gt;" in text  # entities in the data stay text
    assert "<mark>Zorblax</mark>" in answer.text
    links = page.links()
    assert "https://fair.example/zorblax" in links
    assert not [link for link in links if "javascript" in link.lower() or "data:" in link]


def test_the_item_page_shows_hostile_related_items_as_text(hostile: TestClient) -> None:
    for item in ("hostile/script.md", "hostile/ok.md"):
        answer = hostile.get(f"/item/{item}")
        assert answer.status_code == 200
        page = Page(answer.text)
        assert_inert(page)
    assert "https://away.example/x" in page.links()
    assert "Linked <b>away</b>" in "".join(page.text)
    page = Page(hostile.get("/item/hostile/script.md").text)
    assert "<script>alert(7)</script>" in "".join(page.text)


def test_related_json_keeps_the_data(hostile: TestClient) -> None:
    data = api(hostile, "/api/related/hostile%2Fscript.md")
    assert data["related"][0]["title"] == "<script>alert(7)</script>"


# -- headers and resources ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/?q=climate", "/api/search", "/api/nothing", "/static/searchkit.js", "/item/x"]
)
def test_every_answer_forbids_inline_and_foreign_scripts(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert "unsafe" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = Page(client.get("/?q=climate").text)
    sources = [attrs.get("src") or attrs.get("href") for tag, attrs in page.tags if tag in ("script", "link")]
    assert sources and all(source and source.startswith("/static/") for source in sources)
    for source in sources:
        asset = client.get(source or "")
        assert asset.status_code == 200
        assert not re.search(
            r"(https?:)?//[a-z0-9]|@import|url\(", asset.text.replace("http://www.w3.org", "")
        )


# -- the page --------------------------------------------------------------------------------------


def page_of(client: TestClient, url: str) -> tuple[Page, str]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return Page(answer.text), answer.text


def facet_links(page: Page, text: str, facet: str) -> dict[str, tuple[str, bool]]:
    """value -> (link, ticked) of a facet of the page's sidebar."""
    section = text.split(f'data-facet="{facet}"', 1)[1].split("</section>", 1)[0]
    found = {}
    for match in re.finditer(
        r'href="([^"]*)" role="checkbox"\s+aria-checked="(\w+)">.*?class="value">([^<]*)<', section, re.S
    ):
        found[Page(match.group(3)).text[0] if match.group(3) else ""] = (
            Page(f'<a href="{match.group(1)}">').tags[0][1]["href"],
            match.group(2) == "true",
        )
    return found


def test_the_page_shows_what_the_api_answers(client: TestClient) -> None:
    data = api(client, "/api/search", {"q": "climate", "facet": ["topics", "provider", "year"]})
    _, text = page_of(client, "/?q=climate")
    assert f'<strong class="total">{data["total"]}</strong>' in text
    titles = re.findall(r'<h3 class="title"><a href="[^"]*"[^>]*>(.*?)</a></h3>', text)
    assert titles == [hit["highlights"]["title"] or hit["title"] for hit in data["hits"]]
    for facet in ("topics", "provider"):
        counts = re.findall(
            r'class="value">[^<]*</span> <span class="count">(\d+)</span>',
            text.split(f'data-facet="{facet}"')[1].split("</section>")[0],
        )
        assert [int(c) for c in counts] == [v["count"] for v in data["facets"][facet]]


def test_one_per_story_on_the_page_is_the_api_collapse(client: TestClient) -> None:
    data = api(client, "/api/search", {"q": "", "collapse": "true", "limit": 5})
    page, text = page_of(client, "/?q=&collapse=true&limit=5")
    assert f'<strong class="total">{data["total"]}</strong>' in text
    assert f'<strong class="stories">{data["stories"]}</strong>' in text
    checkbox = [a for tag, a in page.tags if tag == "input" and a.get("name") == "collapse"]
    assert checkbox and "checked" in checkbox[0]
    ids = re.findall(r'data-id="([^"]*)"', text)
    assert ids == [hit["id"] for hit in data["hits"]]
    # Without it: no story count, the box unticked.
    page, text = page_of(client, "/?q=")
    assert 'class="stories"' not in text
    assert "checked" not in next(a for tag, a in page.tags if tag == "input" and a.get("name") == "collapse")


def test_ticking_facet_values_combines_them_as_the_api_does(client: TestClient) -> None:
    page, text = page_of(client, "/?q=climate")
    topics = facet_links(page, text, "topics")
    first, second = list(topics)[:2]
    link, ticked = topics[first]
    assert not ticked
    assert dict(parse_qsl(urlsplit(link).query)) == {"q": "climate", "topic": first}
    page, text = page_of(client, link)
    assert facet_links(page, text, "topics")[first][1]
    both = facet_links(page, text, "topics")[second][0]
    assert parse_qsl(urlsplit(both).query) == [("q", "climate"), ("topic", first), ("topic", second)]
    page, text = page_of(client, both)
    expected = api(client, "/api/search", {"q": "climate", "topic": [first, second]})["total"]
    assert f'<strong class="total">{expected}</strong>' in text
    # Unticking one keeps the other.
    untick = facet_links(page, text, "topics")[first][0]
    assert parse_qsl(urlsplit(untick).query) == [("q", "climate"), ("topic", second)]


def test_ticking_years_selects_a_span(client: TestClient) -> None:
    page, text = page_of(client, "/")
    years = facet_links(page, text, "year")
    link = years["2021"][0]
    assert dict(parse_qsl(urlsplit(link).query)) == {"since": "2021-01-01", "until": "2021-12-31"}
    page, text = page_of(client, link)
    years = facet_links(page, text, "year")
    assert years["2021"][1] and not years["2023"][1]
    assert dict(parse_qsl(urlsplit(years["2023"][0]).query)) == {"since": "2021-01-01", "until": "2023-12-31"}
    assert urlsplit(years["2021"][0]).query == ""  # unticking the only year


def test_did_you_mean_is_a_link_and_pages_keep_the_state(client: TestClient) -> None:
    page, text = page_of(client, "/?q=climte")
    match = re.search(r'Did you mean <a href="([^"]*)">climate</a>', text)
    assert match
    assert dict(parse_qsl(urlsplit(Page(f'<a href="{match.group(1)}">').links()[0]).query)) == {
        "q": "climate"
    }
    page, text = page_of(client, "/?q=&sort=oldest&limit=3&min_quality=10")
    next_link = Page(re.search(r'<a href="[^"]*" rel="next">', text).group(0)).links()[0]  # type: ignore[union-attr]
    assert dict(parse_qsl(urlsplit(next_link).query)) == {
        "sort": "oldest",
        "limit": "3",
        "min_quality": "10",
        "page": "2",
    }
    hidden = {(a["name"], a["value"]) for t, a in page.tags if t == "input" and a.get("type") == "hidden"}
    assert hidden == {("limit", "3"), ("min_quality", "10")}
    page, text = page_of(client, next_link)
    assert '<ol class="hits" start="4">' in text


def test_a_bad_parameter_on_the_page_is_shown_on_the_page(client: TestClient) -> None:
    answer = client.get("/?q=x&limit=0")
    assert answer.status_code == 400
    assert "invalid limit &#39;0&#39;" in answer.text and 'name="q" value="x"' in answer.text


def test_the_item_page_lists_related_items(client: TestClient) -> None:
    related = api(client, "/api/related/" + quote(ITEM, safe=""))["related"]
    page, _ = page_of(client, f"/item/{ITEM}")
    for hit in related:
        assert Page(hit["title"]).text[0] in "".join(page.text)
    assert client.get("/item/no-such.md").status_code == 404


# -- nothing is written ------------------------------------------------------------------------------


def test_no_request_writes_to_the_index(index_dir: Path, client: TestClient) -> None:
    def state() -> dict[str, str]:
        return {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in sorted(index_dir.rglob("*"))
            if p.is_file()
        }

    before = state()
    for endpoint in ENDPOINTS:
        client.get(
            endpoint.path.replace("{id}", ITEM),
            params={"q": "climate"} if "q" in str(endpoint.parameters) else None,
        )
    client.get("/?q=climate")
    client.get(f"/item/{ITEM}")
    assert state() == before


# -- the real server: worker processes, a watcher, signals ----------------------------------------


def start_server(*args: Any) -> tuple[Any, str]:
    """`searchkit serve ARGS --port 0` as a process; (process, url) once it listens."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "searchkit", "serve", "--port", "0", *map(str, args)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not found:
        process.kill()
        raise AssertionError(line + "".join(process.communicate()))
    return process, found.group(0)


def stop_server(process: Any) -> str:
    """SIGTERM, then the server's stderr; it must stop cleanly, with status 0."""
    import signal

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stderr.rstrip().endswith("Stopped."), stderr
    return str(stderr)


def get_json(url: str) -> tuple[int, Any]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serving_with_two_workers_while_watch_keeps_the_index_fresh(tmp_path: Path) -> None:
    """No index yet: 503 until the watcher has built it; then edits, additions and deletions
    are searchable within seconds while requests keep being answered, none with an error."""
    corpus = write_corpus(tmp_path / "corpus", ITEMS)
    process, url = start_server(
        "--index-dir", tmp_path / "index", "--workers", 2, "--corpus", corpus, "--watch"
    )
    try:
        assert get_json(url + "healthz")[0] in (200, 503)
        wait_for(lambda: get_json(url + "healthz")[0] == 200)
        wait_for(lambda: get_json(url + "api/search")[1]["total"] == len(ITEMS))  # the first commit
        failures: list[Any] = []
        answered = [0]
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                status, data = get_json(url + "api/search?q=climate&facet=topics")
                answered[0] += 1
                if status != 200:
                    failures.append(data)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        write_corpus(corpus, [{"id": "new/zorblax.md", "title": "Zorblax climate accord", "excerpt": "New."}])
        (corpus / ITEMS[0]["id"]).unlink()
        edited = corpus / ITEMS[1]["id"]
        edited.write_text(edited.read_text(encoding="utf-8").replace("Court sets", "Quuxle court sets"))
        wait_for(lambda: get_json(url + "api/search?q=zorblax")[1]["total"] == 1)
        wait_for(lambda: get_json(url + "api/search?q=quuxle")[1]["total"] == 1)
        wait_for(lambda: get_json(url + "api/search")[1]["total"] == len(ITEMS))
        status, _ = get_json(url + "api/items/" + quote(ITEMS[0]["id"], safe=""))
        assert status == 404
        stop.set()
        for thread in threads:
            thread.join()
        assert failures == [] and answered[0] > 0
    finally:
        stderr = stop_server(process)
    assert re.search(r"\d+ added, \d+ updated, \d+ deleted", stderr)


def test_serve_builds_the_default_index_and_says_where_it_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install . && searchkit serve` in a fresh clone: ./corpus is indexed into ./index."""
    write_corpus(tmp_path / "corpus", ITEMS[:5])
    monkeypatch.chdir(tmp_path)
    process, url = start_server()
    try:
        assert get_json(url + "healthz") == (200, {"status": "ok"})
        assert get_json(url + "api/info")[1]["documents"] == 5
    finally:
        stop_server(process)
    assert (tmp_path / "index").is_dir()


def test_serve_usage_errors(tmp_path: Path) -> None:
    import socket

    result = run_cli("serve", "--corpus", tmp_path, "--index-dir", tmp_path / "index")
    assert result.code == 2 and "--corpus is read only with --watch" in result.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", port, "--index-dir", tmp_path / "index")
    assert result.code == 1
    assert result.stderr.endswith(f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n")
