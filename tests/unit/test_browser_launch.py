"""How the harness launches Chromium: Playwright's own disabled features kept, with the ones no
assessment uses added in the one switch Chromium reads, and the pages they would have opened
gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.targets import browser
from harness.targets.browser import (
    DISABLED_FEATURES,
    launch_options,
    playwright_disabled_features,
)


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


def test_a_new_context_opens_no_omnibox_pages(harness_browser: Any) -> None:
    contexts = [harness_browser.new_context() for _ in range(2)]
    try:
        for context in contexts:
            context.new_page().goto("data:text/html,<p>page</p>")
        session = harness_browser.new_browser_cdp_session()
        targets = session.send("Target.getTargets")["targetInfos"]
    finally:
        for context in contexts:
            context.close()
    pages = [t["url"] for t in targets if t["type"] == "page"]
    assert len(pages) == 2, targets
    assert not [t["url"] for t in targets if "omnibox" in t["url"]], targets
