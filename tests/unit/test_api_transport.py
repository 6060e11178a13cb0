"""The API channel's transport: bounded, recorded retries of reads, and the breaker that stops
a run from waiting on a target that is plainly down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from harness.targets import api as api_module
from harness.targets.api import ApiTarget, Breaker
from harness.targets.profile import load_profile


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "RETRY_BACKOFF_S", 0.0)


class Script:
    """A MockTransport handler answering from a list of outcomes (then repeating the last),
    counting the requests that reached it."""

    def __init__(self, *outcomes: int | type[httpx.TransportError]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls.append(request.method)
            outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, int):
            return httpx.Response(outcome, json={"ok": outcome < 400})
        raise outcome("scripted failure", request=request)


@pytest.fixture
def make_target(write_profile: Callable[..., Path],
                minimal_profile: str) -> Iterator[Callable[..., ApiTarget]]:
    targets: list[ApiTarget] = []

    def make(script: Script | None = None, *, base_url: str = "http://127.0.0.1:9",
             extra: str = "", **kwargs: object) -> ApiTarget:
        text = minimal_profile.replace("  timeout_seconds: 5\n", f"  timeout_seconds: 5\n{extra}")
        profile = load_profile(write_profile(text), base_url=base_url)
        transport = httpx.MockTransport(script) if script is not None else None
        target = ApiTarget(profile, transport=transport, **kwargs)  # type: ignore[arg-type]
        targets.append(target)
        return target

    yield make
    for target in targets:
        target.close()


def get(target: ApiTarget, path: str = "/api/posts/1") -> api_module.Exchange:
    return target.send("GET", path, actor="viewer")


def post(target: ApiTarget) -> api_module.Exchange:
    return target.send("POST", "/api/posts", actor="author", json_body={"text": "hello"})


# --- retries -----------------------------------------------------------------------------------


def test_a_read_that_got_503_is_retried_and_each_attempt_is_recorded(make_target):
    script = Script(503, 503, 200)
    exchange = get(make_target(script))
    assert exchange.status == 200
    assert script.calls == ["GET"] * 3
    assert [a["status"] for a in exchange.attempts] == [503, 503]
    assert [a["status"] for a in exchange.evidence()["attempts"]] == [503, 503]


def test_read_retries_are_bounded(make_target):
    script = Script(httpx.RemoteProtocolError)
    exchange = get(make_target(script, read_retries=2))
    assert exchange.status is None
    assert exchange.error.startswith("RemoteProtocolError")
    assert len(script.calls) == 3
    assert [a["error"].split(":")[0] for a in exchange.attempts] == ["RemoteProtocolError"] * 2


def test_an_exchange_without_retries_keeps_its_evidence_shape(make_target):
    exchange = get(make_target(Script(200)))
    assert exchange.attempts == ()
    assert "attempts" not in exchange.evidence()


@pytest.mark.parametrize("outcome", [503, httpx.RemoteProtocolError, httpx.ReadError])
def test_a_write_that_may_have_been_stored_is_not_sent_again(make_target, outcome):
    script = Script(outcome, 201)
    exchange = post(make_target(script))
    assert script.calls == ["POST"]
    assert exchange.attempts == ()
    assert not exchange.ok


def test_a_write_whose_connection_could_not_be_made_is_tried_again(make_target):
    script = Script(httpx.ConnectError, 201)
    exchange = post(make_target(script))
    assert script.calls == ["POST", "POST"]
    assert exchange.status == 201
    assert exchange.attempts[0]["error"].startswith("ConnectError")


def test_a_timeout_is_not_retried(make_target):
    script = Script(httpx.ReadTimeout, 200)
    exchange = get(make_target(script))
    assert script.calls == ["GET"]
    assert exchange.error.startswith("ReadTimeout")


def test_the_profile_sets_the_read_retries(make_target):
    script = Script(503)
    exchange = get(make_target(script, extra="  read_retries: 0\n"))
    assert exchange.status == 503
    assert script.calls == ["GET"]


# --- the breaker -------------------------------------------------------------------------------


def test_consecutive_transport_failures_open_the_breaker_and_nothing_more_is_sent(make_target):
    script = Script(httpx.ConnectError)
    target = make_target(script, read_retries=0, unreachable_after=3)
    for _ in range(3):
        assert get(target).error.startswith("ConnectError")
    assert len(script.calls) == 3
    later = [get(target), post(target)]
    assert len(script.calls) == 3  # answered at once, without sending
    for exchange in later:
        assert exchange.status is None
        assert exchange.elapsed_s == 0.0
        assert exchange.error == ("target unreachable: ConnectError: scripted failure, after 3 "
                                  "consecutive transport failures")


def test_an_answer_resets_the_count(make_target):
    script = Script(*[httpx.ReadTimeout] * 2, 200, *[httpx.ReadTimeout] * 2, 200)
    target = make_target(script, unreachable_after=3)
    for _ in range(6):
        get(target)
    assert target.breaker.down is None
    assert len(script.calls) == 6


def test_an_error_status_is_an_answer_not_a_transport_failure(make_target):
    script = Script(503)
    target = make_target(script, read_retries=0, unreachable_after=2)
    for _ in range(5):
        assert get(target).status == 503
    assert target.breaker.down is None


def test_a_retried_read_counts_once(make_target):
    script = Script(httpx.ConnectError)
    target = make_target(script, read_retries=2, unreachable_after=2)
    get(target)
    assert target.breaker.down is None
    get(target)
    assert target.breaker.down is not None
    assert len(script.calls) == 6


def test_the_breaker_is_per_target(make_target):
    down = make_target(Script(httpx.ConnectError), read_retries=0, unreachable_after=1)
    up = make_target(Script(200), read_retries=0, unreachable_after=1)
    get(down)
    assert down.breaker.down is not None
    assert get(up).status == 200


def test_the_profile_sets_the_threshold_and_zero_never_opens(make_target):
    opens = make_target(Script(httpx.ConnectError), read_retries=0,
                        extra="  unreachable_after: 1\n")
    get(opens)
    assert opens.breaker.down is not None
    never = make_target(Script(httpx.ConnectError), read_retries=0,
                        extra="  unreachable_after: 0\n")
    for _ in range(10):
        get(never)
    assert never.breaker.down is None


def test_the_breaker_counts_across_threads():
    breaker = Breaker(threshold=5)
    start = threading.Barrier(16)

    def fail() -> None:
        start.wait()
        for _ in range(50):
            breaker.record("ReadError: reset")

    threads = [threading.Thread(target=fail) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.down == ("target unreachable: ReadError: reset, after 5 consecutive "
                            "transport failures")


def test_threads_sharing_a_target_stop_at_a_down_one(make_target):
    script = Script(httpx.ConnectError)
    target = make_target(script, read_retries=0, unreachable_after=5)
    results: list[api_module.Exchange] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            exchange = get(target)
            with lock:
                results.append(exchange)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 160
    # Requests already in flight when it opened were still sent; no thread sent after that.
    assert len(script.calls) < 5 + 8
    assert sum("target unreachable" in e.error for e in results) == 160 - len(script.calls)


def test_a_closed_port_opens_the_breaker_quickly(make_target, closed_port):
    target = make_target(base_url=f"http://127.0.0.1:{closed_port}")
    clock = time.monotonic()
    errors = [get(target).error for _ in range(20)]
    assert time.monotonic() - clock < 10
    assert errors[0].startswith("ConnectError")
    assert errors[-1].startswith("target unreachable: ConnectError")
    assert errors[-1].endswith("after 5 consecutive transport failures")
    assert errors.index(errors[-1]) == 5
