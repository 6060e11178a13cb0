"""Transport faults: seeded 503s, dropped connections, slow answers, a slow profile page and a
hanging audit API. The shares and delays are checked in process; what a client sees on the
wire (a connection closed without an answer, a read that times out) against the site served
by uvicorn in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from reference_site import create_app
from reference_site.faults import FAULTS, INCONCLUSIVE, TOLERATED
from reference_site.transport import (
    AUDIT_TIMEOUT,
    DROP_CONNECTIONS,
    FLAKY_5XX,
    SLOW_PAGE,
    SLOW_RESPONSES,
    SLOW_SECONDS,
    TRANSPORT_FAULTS,
    DropUnsupported,
    TransportFaults,
)

ROOT = Path(__file__).parents[2]
URL_LINE = re.compile(r"Reference site listening on (http://\S+)")
ADMIN = {"X-Admin-Token": "transport-admin"}


def test_transport_faults_are_listed_as_faults_that_fail_no_control() -> None:
    assert set(FAULTS) >= TRANSPORT_FAULTS
    for name in TRANSPORT_FAULTS:
        assert FAULTS[name].description.startswith((INCONCLUSIVE, TOLERATED)), name
    assert FAULTS[SLOW_RESPONSES].description.startswith(TOLERATED)


def test_delays_apply_to_their_pages_only() -> None:
    async def app(scope: object, receive: object, send: object) -> None: ...

    slow = TransportFaults(app, {SLOW_PAGE, AUDIT_TIMEOUT})
    assert [slow.delay(p) > 15 for p in ("/api/users/12", "/users/12")] == [True, True]
    assert [slow.delay(p) for p in ("/api/users/12/posts", "/api/feed")] == [0, 0]
    assert [slow.delay(p) > 60 for p in ("/api/admin/audit", "/api/admin/audit/policy")] == \
        [True, True]
    assert TransportFaults(app, {SLOW_RESPONSES}).delay("/anything") == SLOW_SECONDS
    assert TransportFaults(app, {"unfiltered-post"}).delay("/api/users/1") == 0


def statuses(make_site: Callable[..., object], seed: int, n: int = 80) -> list[int]:
    site = make_site(FLAKY_5XX, seed=seed)
    return [site.client.get("/api/feed").status_code for _ in range(n)]  # type: ignore[attr-defined]


@pytest.fixture
def seeded_site(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """An in-process site with faults and a fault seed."""
    from starlette.testclient import TestClient

    clients: list[TestClient] = []

    class Site:
        def __init__(self, client: TestClient) -> None:
            self.client = client

    def make(*faults: str, seed: int = 0) -> Site:
        app = create_app(frozenset(faults), tmp_path / f"s{len(clients)}.db", "t",
                         fault_seed=seed)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Site(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_flaky_5xx_answers_a_seeded_share_503(seeded_site) -> None:
    first, again, other = (statuses(seeded_site, 1), statuses(seeded_site, 1),
                           statuses(seeded_site, 2))
    assert first == again
    assert first != other
    assert set(first) == {200, 503}
    assert 10 <= first.count(503) <= 30  # 1 in 4 of 80, give or take


def test_a_503_says_so_in_the_front_end_it_answers(seeded_site) -> None:
    site = seeded_site(FLAKY_5XX, seed=3)
    api = next(r for r in (site.client.get("/api/feed") for _ in range(40))
               if r.status_code == 503)
    assert api.json()["error"] == "unavailable"
    page = next(r for r in (site.client.get("/complaints") for _ in range(40))
                if r.status_code == 503)
    assert "text/html" in page.headers["content-type"]


def test_slow_responses_hold_every_answer(seeded_site) -> None:
    site = seeded_site(SLOW_RESPONSES)
    clock = time.monotonic()
    response = site.client.post("/api/register",
                                json={"account_name": "slowpoke", "password": "secret-pw"})
    assert response.status_code == 201  # the body still reaches the site after the wait
    assert time.monotonic() - clock >= SLOW_SECONDS


def test_drop_connections_needs_a_server_with_connections(seeded_site) -> None:
    site = seeded_site(DROP_CONNECTIONS)

    def feed_until_dropped() -> None:
        for _ in range(40):
            site.client.get("/api/feed")

    with pytest.raises(DropUnsupported):
        feed_until_dropped()


# --- on the wire -------------------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Serve the site with faults in a subprocess; returns its URL."""
    processes: list[subprocess.Popen[str]] = []

    def start(*faults: str) -> str:
        args = [arg for fault in faults for arg in ("--fault", fault)]
        log = (tmp_path / f"site{len(processes)}.log").open("w", encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "reference_site", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
            env={**os.environ, "REFERENCE_ADMIN_TOKEN": ADMIN["X-Admin-Token"]},
        )
        processes.append(process)
        assert process.stdout is not None
        match = URL_LINE.search(process.stdout.readline())
        assert match, (tmp_path / f"site{len(processes) - 1}.log").read_text()
        return match.group(1)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def test_dropped_connections_end_without_an_answer(serve, tmp_path) -> None:
    url = serve(DROP_CONNECTIONS)
    outcomes = []
    with httpx.Client(base_url=url, timeout=5) as client:
        for _ in range(40):
            try:
                outcomes.append(client.get("/api/feed").status_code)
            except httpx.RemoteProtocolError as exc:
                outcomes.append(str(exc))
    dropped = [o for o in outcomes if isinstance(o, str)]
    assert 4 <= len(dropped) <= 18
    assert set(dropped) == {"Server disconnected without sending a response."}
    assert set(outcomes) - set(dropped) == {200}
    assert "Exception in ASGI application" not in (tmp_path / "site0.log").read_text()


def test_a_slow_profile_and_a_hanging_audit_outlast_a_client_timeout(serve) -> None:
    url = serve(SLOW_PAGE, AUDIT_TIMEOUT)
    with httpx.Client(base_url=url, timeout=0.5) as client:
        user = client.post("/api/register",
                           json={"account_name": "patient", "password": "secret-pw"}).json()
        for path in (f"/api/users/{user['user_id']}", f"/users/{user['user_id']}",
                     "/api/admin/audit"):
            with pytest.raises(httpx.ReadTimeout):
                client.get(path, headers=ADMIN)
        assert client.get(f"/api/users/{user['user_id']}/posts").status_code == 200
        assert client.get("/api/feed").status_code == 200
