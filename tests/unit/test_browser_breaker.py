"""The browser channel's breaker: a site that stops answering ends its reads at once."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Error as PlaywrightError

from harness.targets.api import Actor, Breaker
from harness.targets.browser import BrowserTarget

BASE = "http://127.0.0.1:8000"


class RefusingPage:
    """A page whose every navigation fails as Chromium's does on a closed port."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.loads = 0

    def goto(self, url: str, **_: Any) -> None:
        self.loads += 1
        raise PlaywrightError(f"Page.goto: {self.message} at {url}")


def _target(page: RefusingPage, threshold: int = 3) -> BrowserTarget:
    target = BrowserTarget.__new__(BrowserTarget)
    target.breaker = Breaker(threshold)
    target._url = lambda url: BASE + url  # type: ignore[method-assign]
    target._page = lambda actor: page  # type: ignore[method-assign]
    return target


def _read(target: BrowserTarget) -> Any:
    actors = {"viewer": Actor("viewer", "d")}
    return target.read({"goto": "/users/1"}, {}, actors, "viewer")


def test_refused_page_loads_open_the_breaker_and_later_reads_send_nothing() -> None:
    page = RefusingPage("net::ERR_CONNECTION_REFUSED")
    target = _target(page)
    for _ in range(3):
        assert "ERR_CONNECTION_REFUSED" in _read(target).error
    read = _read(target)
    assert read.error.startswith("target unreachable")
    assert "after 3 consecutive transport failures" in read.error
    assert page.loads == 3
    visit = target.visit("/", Actor("viewer", "d"))
    assert visit.error.startswith("target unreachable")
    assert page.loads == 3


def test_a_page_that_answers_with_an_error_is_no_transport_failure() -> None:
    page = RefusingPage("Target page, context or browser has been closed")
    target = _target(page)
    for _ in range(5):
        _read(target)
    assert target.breaker.down is None
    assert page.loads == 5
