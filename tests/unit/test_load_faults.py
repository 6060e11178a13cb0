"""The reference site's load-only faults: correct while at most BUSY_ABOVE requests are in
flight (so functional runs never meet them), and the gauge that counts them."""

from __future__ import annotations

import asyncio

import pytest

from harness.probes.canaries import lexicon
from reference_site import create_app
from reference_site.errors import ContentRejected
from reference_site.load import BUSY_ABOVE, CountInFlight, InFlight


def service(*faults: str):
    return create_app(list(faults)).state.site.service


def canary_text() -> str:
    return lexicon()["canary-zh-a"].text


@pytest.mark.parametrize("faults", [(), ("filter-fails-open-under-load",)])
def test_the_filter_holds_while_the_site_is_not_busy(faults):
    site = service(*faults)
    site.core.in_flight.count = BUSY_ABOVE
    with pytest.raises(ContentRejected):
        site.screening.text("post", canary_text())


def test_the_fault_lets_text_through_only_when_busy():
    clean, faulty = service(), service("filter-fails-open-under-load")
    for site in (clean, faulty):
        site.core.in_flight.count = BUSY_ABOVE + 1
    with pytest.raises(ContentRejected):
        clean.screening.text("post", canary_text())
    faulty.screening.text("post", canary_text())  # fails open: no refusal


def test_reports_are_dropped_only_when_busy_and_only_under_the_fault():
    clean, faulty = service(), service("reports-dropped-when-busy")
    reporter = object()
    for site, busy, kept in ((faulty, False, True), (faulty, True, False), (clean, True, True)):
        site.core.in_flight.count = BUSY_ABOVE + 1 if busy else 0
        assert site.reports._keeps_report(reporter, "post", 1) is kept


def test_the_gauge_counts_requests_in_flight():
    gauge = InFlight()
    seen = []

    async def app(scope, receive, send):
        seen.append(gauge.count)

    asyncio.run(CountInFlight(app, gauge)({"type": "http"}, None, None))
    asyncio.run(CountInFlight(app, gauge)({"type": "lifespan"}, None, None))
    assert seen == [1, 0]
    assert gauge.count == 0
