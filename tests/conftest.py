"""Fixtures and options shared by the harness's own tests.

`--full` (`make test-full`) also runs the tests marked `full`: slow cross-checks whose proof
`make test` gives in a scoped form (see the README's "Testing the harness"). The collected
tests are ordered longest first (the e2e assessments, the longest of them at the head): under
`--dist worksteal` (the Makefile's) a worker runs its share from the head and an idle one takes
tests from the tail, so the run does not end on one long assessment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests are derandomized (the same examples every run) and have no per-example
# deadline: on a shared two-core machine running browser assessments beside them, no timing is
# stable. A module may still narrow its example counts.
settings.register_profile("harness", deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("harness")

# The longest e2e tests, longest first (from `make test --durations`); the two readers of the
# session's shared clean run side by side, so that one worker makes it and both read it.
LONGEST = (
    "tests/e2e/test_third_site.py::test_clean_board_fails_no_control",
    "tests/e2e/test_detection_matrix.py::test_clean_site_passes_every_control",
    "tests/e2e/test_evasion_matrix.py::test_clean_site_records_a_rate_for_every_cell",
    "tests/e2e/test_browser_channel.py::test_clean_site_passes_through_its_pages",
    "tests/e2e/test_second_site.py",
    "tests/e2e/test_third_site.py",
    "tests/e2e/test_interrupts.py",
    "tests/e2e/test_transport_faults.py",
    "tests/e2e/test_browser_channel.py",
    "tests/e2e/test_reporting_faults.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", default=False,
                     help="also run the slow cross-checks marked `full` (make test-full)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "full: a slow cross-check, run only with --full (make test-full)")


def _rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(LONGEST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST) + (0 if item.nodeid.startswith("tests/e2e/") else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--full"):
        full = [item for item in items if item.get_closest_marker("full")]
        if full:
            config.hook.pytest_deselected(items=full)
            items[:] = [item for item in items if not item.get_closest_marker("full")]
    items.sort(key=_rank)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def harness_browser() -> Iterator[Any]:
    """Chromium for one test module, stopped at its end (the plugin's own is session-wide).
    A Playwright left running in a worker stops every later in-process Playwright there, a
    pytester run's or a test's own ("Sync API inside the asyncio loop")."""
    from playwright.sync_api import sync_playwright

    from harness.targets.browser import find_browser, launch_options

    options = launch_options(find_browser())  # it asks a Playwright of its own
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()
