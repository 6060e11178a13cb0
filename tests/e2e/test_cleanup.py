"""Cleanup from the outside: a run deletes every account it made on the target (the reference
site deletes an account with all it made), each deletion is in the evidence, a cleanup that
fails is recorded with its reason and left on the target, and `harness cleanup RUN` finishes it
from the evidence and the profile."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness import reference
from harness.evidence import read_entries, verify_run
from harness.targets.profile import REFERENCE_PROFILE

from .runs import assess

SCOPE = ("--control", "A5.4-POST", "--channel", "api")


@pytest.fixture(scope="module")
def site() -> Iterator[reference.ReferenceSite]:
    with reference.start() as running:
        yield running


@pytest.fixture(autouse=True)
def _admin_token(site: reference.ReferenceSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, site.admin_token)


def _entries(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in read_entries(run_dir) if e["entry_type"] == kind]


def _accounts_left(site: reference.ReferenceSite, created: list[dict]) -> list[str]:
    """The created accounts the site still shows."""
    with httpx.Client(base_url=site.url) as client:
        return [e["id"] for e in created if e["kind"] == "account"
                and client.get(f"/api/users/{e['id']}").status_code != 404]


def _cleanup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "cleanup", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_a_run_deletes_every_account_it_made(site: reference.ReferenceSite,
                                             tmp_path: Path) -> None:
    code, run_dir, output = assess(tmp_path, "--base-url", site.url, *SCOPE)
    assert code == 0, output[-3000:]
    assert run_dir is not None
    created = _entries(run_dir, "created")
    # nine fresh authors and the viewer, each told apart by its test
    assert len([e for e in created if e["kind"] == "account"]) == 10
    assert all(e["test"].startswith("scenarios/") for e in created)
    cleaned = _entries(run_dir, "cleanup")
    assert sorted(e["id"] for e in cleaned if e["outcome"] == "ok") == \
        sorted(e["id"] for e in created)
    assert _accounts_left(site, created) == []
    assert "cleanup: 10 deleted, 0 failed" in output
    again = _cleanup(str(run_dir))
    assert again.returncode == 0, again.stderr
    assert "nothing left to delete" in again.stdout


def test_a_failed_cleanup_is_kept_and_retried(site: reference.ReferenceSite,
                                              tmp_path: Path) -> None:
    wrong = REFERENCE_PROFILE.read_text(encoding="utf-8").replace(
        'path: "/api/admin/users/{id}"', 'path: "/api/admin/user/{id}"')
    assert wrong != REFERENCE_PROFILE.read_text(encoding="utf-8")
    profile = tmp_path / "wrong-cleanup.yaml"
    profile.write_text(wrong, encoding="utf-8")
    code, run_dir, output = assess(tmp_path / "reports", "--profile", str(profile),
                                   "--base-url", site.url, *SCOPE)
    assert code == 0, output[-3000:]  # the conformance verdict does not hang on a cleanup
    assert run_dir is not None
    created = _entries(run_dir, "created")
    failed = _entries(run_dir, "cleanup")
    assert {e["outcome"] for e in failed} == {"failed"}
    assert all("/api/admin/user/" in e["reason"] and "HTTP 404" in e["reason"]
               for e in failed)
    assert f"retry with: harness cleanup {run_dir}" in output
    assert len(_accounts_left(site, created)) == 10

    retried = _cleanup(str(run_dir), "--profile", str(REFERENCE_PROFILE))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "10 deleted, 0 failed" in retried.stdout
    assert _accounts_left(site, created) == []
    assert verify_run(run_dir).ok  # the retry's lines extend the same chain
    assert len([e for e in _entries(run_dir, "cleanup") if e["outcome"] == "ok"]) == 10
    assert "nothing left to delete" in _cleanup(str(run_dir)).stdout
