"""How the harness launches Chromium: Playwright's own disabled features kept, with the ones no
assessment uses added in the one switch Chromium reads, and the pages and calls they would have
made gone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from harness.targets import browser
from harness.targets.browser import (
    DISABLED_FEATURES,
    find_browser,
    launch_options,
    playwright_disabled_features,
)
from harness.targets.scope import Sinkhole

FORM = b"<form method=post action=/in><input name=email type=email><button>go</button></form>"


@pytest.fixture
def unreadable_driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Playwright whose driver source shows no list of disabled features."""
    playwright_disabled_features.cache_clear()
    monkeypatch.setattr(browser, "_SWITCH_SOURCES", ("lib/no-such-file.js",))
    yield
    playwright_disabled_features.cache_clear()


def _feature_switches(options: dict[str, Any]) -> list[str]:
    return [a for a in options["args"] if a.startswith("--disable-features=")]


def test_playwrights_own_disabled_features_are_read_from_its_driver() -> None:
    assert playwright_disabled_features()
    assert all(name.isidentifier() for name in playwright_disabled_features())


def test_the_one_switch_keeps_playwrights_features_and_adds_the_harnesss() -> None:
    [switch] = _feature_switches(launch_options(None))
    named = switch.partition("=")[2].split(",")
    assert set(playwright_disabled_features()) | set(DISABLED_FEATURES) == set(named)
    assert len(named) == len(set(named))


def test_without_playwrights_list_its_own_switch_stands_alone(unreadable_driver: None) -> None:
    assert playwright_disabled_features() == ()
    assert _feature_switches(launch_options("/usr/bin/chromium")) == []


def _omnibox_pages(launched: Any) -> list[str]:
    """The omnibox pages Chromium opened beside two contexts' pages."""
    contexts = [launched.new_context() for _ in range(2)]
    try:
        for context in contexts:
            context.new_page().goto("data:text/html,<p>page</p>")
        targets = launched.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]
    finally:
        for context in contexts:
            context.close()
    assert len([t for t in targets if t["type"] == "page"]) == 2, targets
    return [t["url"] for t in targets if "omnibox" in t["url"]]


@pytest.fixture(scope="module")
def playwrights_switches_only(harness_browser: Any) -> Iterator[Any]:
    """A second Chromium with Playwright's own switches alone, the controls' browser (from the
    same Playwright: a second Playwright would stop the first)."""
    options = launch_options(find_browser())
    options["args"] = [a for a in options["args"] if not a.startswith("--disable-features=")]
    launched = harness_browser.browser_type.launch(**options)
    yield launched
    launched.close()


def test_a_new_context_opens_no_omnibox_pages(harness_browser: Any) -> None:
    assert _omnibox_pages(harness_browser) == []


def test_without_the_harnesss_features_a_context_opens_omnibox_pages(
        playwrights_switches_only: Any) -> None:
    """The control of the test above, where Chromium has them (Debian's does)."""
    found = _omnibox_pages(playwrights_switches_only)
    if not found and find_browser() is None:
        pytest.skip("Playwright's own headless Chromium opens no omnibox pages")
    assert found


@pytest.fixture(scope="module")
def form_page() -> Iterator[str]:
    """A loopback page with a form, the kind Chromium's autofill asks its service about."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(FORM)))
            self.end_headers()
            self.wfile.write(FORM)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def _refused_while_filling(launched: Any, url: str, seconds: float = 3.0) -> list[Any]:
    """What the sinkhole refused while a page with a form was opened and filled, polled for
    `seconds` (it is asked once a call comes)."""
    sinkhole = Sinkhole()
    context = launched.new_context(proxy=sinkhole.proxy(["127.0.0.1"]))
    try:
        page = context.new_page()
        page.goto(url)
        page.fill("input[name=email]", "ann@example.test")
        deadline = time.monotonic() + seconds
        refused: list[Any] = []
        while not refused and time.monotonic() < deadline:
            refused = sinkhole.take()
            time.sleep(0.1)
        return refused
    finally:
        context.close()
        sinkhole.close()


def test_a_page_with_a_form_makes_no_autofill_call(harness_browser: Any, form_page: str) -> None:
    assert _refused_while_filling(harness_browser, form_page) == []


def test_without_the_harnesss_features_the_same_page_calls_autofill(
        playwrights_switches_only: Any, form_page: str) -> None:
    """The control of the test above: Playwright's own switches alone let the call go out."""
    refused = _refused_while_filling(playwrights_switches_only, form_page)
    if not refused and find_browser() is None:
        pytest.skip("Playwright's own headless Chromium makes no autofill call")
    assert any("autofill" in target for _, target in refused), refused
