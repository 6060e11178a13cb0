"""Transport faults: the harness stays honest when the wire misbehaves, and stops quickly
against a target that is down.

Each case runs a scoped `harness assess` over the API channel in a subprocess and reads its
evidence. Under a fault that hides cases (503s, dropped connections, a page or the audit API
slower than the timeout) no control with an unobserved case may pass, nothing fails (the site's
moderation is correct), and the run exits 1; under slow answers every verdict is as on the clean
site. Faults that need a read timeout to show run against a site this module starts, with a
copy of the reference profile whose timeout is short, so that each timed-out read costs
little."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import reference
from harness.evidence import read_entries
from harness.targets.profile import REFERENCE_PROFILE

from .runs import shared_assess

FAST_POLICY = Path(__file__).with_name("fast-policy.yaml")
TIMEOUT_S = 1.5  # the read timeout of the short-timeout profile
UNREACHABLE = "target unreachable"


@dataclass
class Run:
    code: int
    run_dir: Path | None
    output: str
    seconds: float

    def entries(self, kind: str) -> list[dict[str, Any]]:
        assert self.run_dir is not None, self.output[-3000:]
        return [e for e in read_entries(self.run_dir) if e["entry_type"] == kind]

    def controls(self) -> dict[str, dict[str, Any]]:
        return {e["control"]: e for e in self.entries("control")}


def assess(out: Path, *args: str) -> Run:
    """`harness assess` over the API channel into `out`, timed."""
    clock = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "assess", "--out", str(out), "--seed", "7",
         "--policy", str(FAST_POLICY), "--channel", "api", *args],
        capture_output=True, text=True, timeout=600, check=False,
    )
    seconds = time.monotonic() - clock
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] if out.exists() \
        else []
    return Run(done.returncode, runs[0] if runs else None, done.stdout + done.stderr, seconds)


def assert_honest(run: Run) -> None:
    """No control with an unobserved (inconclusive) case passes; nothing fails."""
    unobserved: dict[str, list[str]] = defaultdict(list)
    for observation in run.entries("observation"):
        assert observation["verdict"] != "fail", observation
        if observation["verdict"] == "inconclusive":
            unobserved[observation["control"]].append(observation["reason"])
    for control, entry in run.controls().items():
        incomplete = entry.get("observed", 0) < entry.get("planned", 0)
        if unobserved.get(control) or incomplete:
            assert entry["verdict"] == "inconclusive", (control, entry)
    assert run.code == 1, run.output[-3000:]


def reasons(run: Run) -> list[str]:
    return [o["reason"] for o in run.entries("observation") if o["verdict"] == "inconclusive"]


def short_timeout_profile(tmp_path: Path) -> Path:
    """The reference profile with a read timeout of TIMEOUT_S."""
    text = REFERENCE_PROFILE.read_text(encoding="utf-8")
    text, found = re.subn(r"^api:\n", f"api:\n  timeout_seconds: {TIMEOUT_S}\n", text,
                          count=1, flags=re.MULTILINE)
    assert found == 1
    path = tmp_path / "reference-short-timeout.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start the reference site with a fault (its admin token in the env for the run)."""
    sites: list[reference.ReferenceSite] = []

    def start(fault: str) -> reference.ReferenceSite:
        site = reference.start([fault])
        sites.append(site)
        monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, site.admin_token)
        return site

    yield start
    for site in sites:
        site.stop()


def flaky_run(factory: pytest.TempPathFactory) -> Run:
    """The one flaky-5xx run of the session, shared by the tests that read it."""
    shared = shared_assess(factory, "flaky-5xx", "--channel", "api", "--reference-fault",
                           "flaky-5xx", "--control", "A5.4-POST")
    return Run(shared.code, shared.run_dir, shared.output, 0.0)


@pytest.mark.parametrize(("fault", "symptom"), [
    ("flaky-5xx", "HTTP 503"),
    ("drop-connections", "RemoteProtocolError: Server disconnected without sending a response"),
])
def test_a_fault_that_hides_cases_leaves_them_inconclusive(fault, symptom, tmp_path,
                                                           tmp_path_factory):
    run = flaky_run(tmp_path_factory) if fault == "flaky-5xx" else \
        assess(tmp_path / "reports", "--reference-fault", fault, "--control", "A5.4-POST")
    assert_honest(run)
    assert any(symptom in reason for reason in reasons(run)), reasons(run)
    assert run.controls()["A5.4-POST"]["verdict"] == "inconclusive"


def test_retried_reads_keep_every_attempt_in_evidence(tmp_path_factory):
    run = flaky_run(tmp_path_factory)
    assert run.run_dir is not None
    exchanges = "".join(p.read_text(encoding="utf-8")
                        for p in (run.run_dir / "artifacts").glob("*/exchanges.json"))
    assert '"attempts"' in exchanges
    assert re.search(r'"attempts": \[\s*\{[^]]*"status": 503', exchanges)


def test_slow_answers_change_no_verdict(tmp_path):
    run = assess(tmp_path / "reports", "--reference-fault", "slow-responses",
                 "--control", "A5.4-POST")
    assert run.code == 0, run.output[-3000:]
    assert {o["verdict"] for o in run.entries("observation")} == {"pass"}
    print(f"slow-responses: {run.seconds:.1f}s")


def test_a_profile_page_slower_than_the_timeout_is_inconclusive(site_with, tmp_path):
    site = site_with("slow-page")
    # A prohibited and a benign case: each read of a profile waits out the timeout.
    run = assess(tmp_path / "reports", "--profile", str(short_timeout_profile(tmp_path)),
                 "--base-url", site.url, "--control", "A5.4-BIO", "--", "-k", "create and zh")
    assert_honest(run)
    assert run.controls()["A5.4-BIO"]["verdict"] == "inconclusive"
    assert any("ReadTimeout" in reason and "/api/users/" in reason for reason in reasons(run))
    assert not any(UNREACHABLE in reason for reason in reasons(run))  # other requests answer
    print(f"slow-page: {run.seconds:.1f}s")


def test_a_hanging_audit_api_leaves_records_and_retention_inconclusive(site_with, tmp_path):
    site = site_with("audit-timeout")
    run = assess(tmp_path / "reports", "--profile", str(short_timeout_profile(tmp_path)),
                 "--base-url", site.url, "--control", "A5.4-POST", "--control", "A5.4-RETENTION")
    assert_honest(run)
    controls = run.controls()
    assert controls["A5.4-POST"]["verdict"] == "pass"  # its cases are observed without audit
    assert controls["A5.4-RETENTION"]["verdict"] == "inconclusive"
    by_control = defaultdict(set)
    for observation in run.entries("observation"):
        by_control[observation["control"]].add(observation["verdict"])
    assert by_control["A5.4-RECORDS"] == {"inconclusive"}
    assert by_control["A5.3-LOG-FIELDS"] == {"inconclusive"}
    assert any("audit interface unreadable" in r and "ReadTimeout" in r for r in reasons(run))
    print(f"audit-timeout: {run.seconds:.1f}s")


# --- a target that is down ---------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers (a hung server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


DOWN_SCOPE = ("--control", "A5.4-POST", "--control", "A5.4-COMMENT", "--control", "A5.4-BIO")


def assert_all_unreachable(run: Run) -> None:
    assert run.code == 1, run.output[-3000:]
    controls = run.controls()
    assert set(controls) >= {"A5.4-POST", "A5.4-COMMENT", "A5.4-BIO"}
    assert {c["verdict"] for c in controls.values()} == {"inconclusive"}
    observations = run.entries("observation")
    assert observations
    assert {o["verdict"] for o in observations} == {"inconclusive"}
    # The breaker opens at the fifth failed request; each observation took at least one.
    late = [o["reason"] for o in observations[5:]]
    assert late
    assert all(UNREACHABLE in reason for reason in late), late
    assert "after 5 consecutive transport failures" in late[-1]


def test_a_closed_port_ends_quickly_with_every_control_inconclusive(tmp_path, monkeypatch,
                                                                    closed_port):
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, "not-a-real-token")
    run = assess(tmp_path / "reports", "--base-url", f"http://127.0.0.1:{closed_port}",
                 *DOWN_SCOPE)
    assert_all_unreachable(run)
    assert run.seconds < 60, run.seconds
    print(f"closed port: {run.seconds:.1f}s")


def test_a_hung_target_costs_a_few_timeouts_not_one_per_request(tmp_path, monkeypatch,
                                                                silent_port):
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, "not-a-real-token")
    run = assess(tmp_path / "reports", "--profile", str(short_timeout_profile(tmp_path)),
                 "--base-url", f"http://127.0.0.1:{silent_port}", *DOWN_SCOPE)
    assert_all_unreachable(run)
    assert "Timeout" in run.output or any("Timeout" in r for r in reasons(run))
    # Five timeouts open the breaker; without it every one of the run's requests would wait.
    assert run.seconds < 5 * TIMEOUT_S + 45, run.seconds
    print(f"hung target: {run.seconds:.1f}s")
