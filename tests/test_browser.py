"""The search page in a real browser: Playwright driving the system's Chromium against
`searchkit serve` started as a process on a free port, over the sample corpus plus hostile items.

Playwright's own browser builds are not downloaded: the test uses the Chromium of the operating
system (``apt-get install chromium``; .ci/run installs it) and skips, saying so, without it.
``SEARCHKIT_SCREENSHOT=docs/serve-page.png`` also saves the README's screenshot there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from conftest import SAMPLE_CORPUS, write_corpus

from searchkit import SearchIndex

CHROMIUM = next(
    (
        p
        for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
        if p and Path(p).exists()
    ),
    None,
)
# The flags that work in a container without a display, a sandbox or a network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright is not installed: pip install '.[test]'"),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium on this machine: `apt-get install chromium` (.ci/run does); the page is tested "
        "in the system's Chromium because Playwright's own browser builds cannot be downloaded here",
    ),
]

HOSTILE = [
    {
        "id": "zz/hostile.md",
        "title": "<script>alert('title')</script> Zorblax <img src=x onerror=alert('img')>",
        "excerpt": "Zorblax &lt;b&gt; <svg onload=alert('svg')></svg>",
        "provider": {"name": "<b onmouseover=alert('p')>Evil</b>", "domain": "evil.example"},
        "topics": ["<i>t</i>"],
        "webUrl": "javascript:alert('url')",
        "publishedDateTime": "2024-05-01T00:00:00Z",
        "related": [{"title": "<img src=x onerror=alert('rel')>", "webUrl": "javascript:alert('rel-url')"}],
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`searchkit serve` over the sample corpus and the hostile items; yields its url."""
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(SAMPLE_CORPUS, root / "corpus")
    write_corpus(root / "corpus", HOSTILE)
    with SearchIndex.create(root / "index") as index:
        assert index.update(root / "corpus").ok
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "searchkit", "serve", "--index-dir", str(root / "index"), "--port", "0"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url, line + process.stderr.read()
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url.group(0) + "healthz", timeout=5):
                break
        except OSError:
            assert time.monotonic() < deadline, "the server did not answer /healthz"
            time.sleep(0.1)
    yield url.group(0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Stopped." in stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page that fails the test on an alert (an item's script ran) or a console error (a
    resource blocked by the Content-Security-Policy, a script error)."""
    context = browser.new_context(viewport={"width": 1100, "height": 820})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    problems: list[str] = []
    opened.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    opened.on("console", lambda message: message.type == "error" and problems.append(message.text))
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == []


def api(server: str, path: str, parameters: list[tuple[str, str]]) -> Any:
    with urllib.request.urlopen(f"{server.rstrip('/')}{path}?{urlencode(parameters)}", timeout=10) as answer:
        return json.load(answer)


def total_shown(page: Page) -> int:
    return int(page.locator(".summary .total").inner_text())


def facet_value(page: Page, facet: str, index: int) -> Any:
    return page.locator(f'[data-facet="{facet}"] a.facet-value').nth(index)


def query_of(page: Page) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(page.url).query)


def test_a_reader_searches_ticks_facets_pages_and_opens_related_items(
    server: str, page: Page, tmp_path: Path
) -> None:
    page.goto(server)
    page.fill("#q", "facial recognition")
    page.press("#q", "Enter")
    page.wait_for_selector(".hits")
    expected = api(server, "/api/search", [("q", "facial recognition"), ("facet", "topics")])
    assert total_shown(page) == expected["total"]
    assert page.locator(".hit").count() == min(10, expected["total"])
    assert page.locator(".hit .title mark").count() > 0

    # Tick a topic: the hits are the items with it, and the other topics' counts stay
    # those of the query (disjunctive facets).
    first = facet_value(page, "topics", 0)
    value, count = first.locator(".value").inner_text(), int(first.locator(".count").inner_text())
    assert first.get_attribute("aria-checked") == "false"
    first.click()
    page.wait_for_url(re.compile("topic="))
    assert total_shown(page) == count
    assert facet_value(page, "topics", 0).get_attribute("aria-checked") == "true"
    ticked = api(server, "/api/search", [*query_of(page), *[("facet", f) for f in ("topics", "provider")]])
    shown_topics = page.locator('[data-facet="topics"] .count').all_inner_texts()
    assert [int(c) for c in shown_topics] == [v["count"] for v in ticked["facets"]["topics"]]
    shown_providers = page.locator('[data-facet="provider"] .count').all_inner_texts()
    assert [int(c) for c in shown_providers] == [v["count"] for v in ticked["facets"]["provider"]]
    # A second topic adds its items (any of them).
    second = facet_value(page, "topics", 1)
    second_value = second.locator(".value").inner_text()
    second.click()
    page.wait_for_url(re.compile("topic=.*topic="))
    both = api(
        server, "/api/search", [("q", "facial recognition"), ("topic", value), ("topic", second_value)]
    )
    assert total_shown(page) == both["total"] >= count

    # Related items of the first result, on demand.
    first_hit = page.locator(".hit").first
    first_hit.locator("a.related-toggle").click()
    panel = first_hit.locator(".related")
    panel.locator("li").first.wait_for()
    hit_id = first_hit.locator("a.related-toggle").get_attribute("data-id") or ""
    related = api(server, "/api/related/" + urllib.request.quote(hit_id, safe=""), [("limit", "5")])[
        "related"
    ]
    assert panel.locator("li").count() == len(related) > 0
    assert panel.locator("li").first.inner_text().startswith(related[0]["title"])
    screenshot = page.screenshot(path=str(tmp_path / "serve-page.png"))
    if os.environ.get("SEARCHKIT_SCREENSHOT"):
        Path(os.environ["SEARCHKIT_SCREENSHOT"]).write_bytes(screenshot)

    # Pages: the second page of everything, newest first.
    page.goto(f"{server}?sort=newest")
    page.click("a[rel=next]")
    page.wait_for_url(re.compile("page=2"))
    assert page.locator("ol.hits").get_attribute("start") == "11"
    second_page = api(server, "/api/search", [("sort", "newest"), ("page", "2")])
    assert page.locator(".hit .title").all_inner_texts() == [h["title"] for h in second_page["hits"]]


def test_did_you_mean_and_autocomplete(server: str, page: Page) -> None:
    page.goto(f"{server}?q=climte+polcy")
    page.click(".did-you-mean a")
    page.wait_for_url(re.compile(r"q=climate\+policy"))
    assert page.input_value("#q") == "climate policy"
    assert total_shown(page) > 0
    page.fill("#q", "")
    page.type("#q", "facial rec", delay=20)
    page.wait_for_selector('#completions option[value="facial recognition"]', state="attached")


def test_hostile_items_are_shown_as_text(server: str, page: Page) -> None:
    page.goto(f"{server}?q=Zorblax")
    hit = page.locator(".hit").first
    assert hit.locator(".title").inner_text() == HOSTILE[0]["title"]
    assert "<b onmouseover=alert('p')>Evil</b>" in hit.locator(".meta").inner_text()
    assert hit.locator("img, svg, script, b, i").count() == 0
    assert hit.locator(".title a").count() == 0  # a javascript: url is no link
    hit.locator("a.related-toggle").click()
    hit.locator(".related li").first.wait_for()
    assert hit.locator(".related li").first.inner_text().startswith("<img src=x onerror=alert('rel')>")
    assert hit.locator(".related li").first.locator("a").count() == 0  # its javascript: url
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith("/") or h.startswith("http://") or h.startswith("https://") for h in hrefs)


def test_the_page_works_without_javascript(server: str, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server)
    page.fill("#q", "climate")
    page.click("form.search .box button")
    page.wait_for_url(re.compile("q=climate"))
    count = int(facet_value(page, "provider", 0).locator(".count").inner_text())
    facet_value(page, "provider", 0).click()
    page.wait_for_url(re.compile("provider="))
    assert total_shown(page) == count
    page.select_option("select[name=sort]", "oldest")
    page.click("button.apply")
    page.wait_for_url(re.compile("sort=oldest"))
    assert ("provider", dict(query_of(page))["provider"]) in query_of(page)  # the tick is kept
    page.locator("a.related-toggle").first.click()
    page.wait_for_url(re.compile("/item/"))
    assert page.locator("h2").inner_text() == "Related items"
    context.close()
