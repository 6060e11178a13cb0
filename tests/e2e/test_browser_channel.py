"""The browser channel end to end: the clean reference site passes through its own pages with
screenshots as evidence, browser-only faults fail their controls, and no secret reaches any
artifact of a run."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from harness import controls, reference
from harness.evidence import read_entries, verify_run
from harness.targets.profile import REFERENCE_PROFILE

from .runs import AUTOMATED, SURFACE_CONTROLS, assess, control_verdicts, faults, observed_all_pass

FAULTS = faults()
BROWSER_FAULTS = sorted(name for name, (control, text) in FAULTS.items()
                        if control in AUTOMATED and text.startswith(reference.BROWSER_ONLY))
SCENARIOS = Path(__file__).parents[2] / "scenarios"


def test_clean_site_passes_through_its_pages_with_screenshots(tmp_path):
    # Every surface, mode and control through the pages; the Chinese probes only (the Latin
    # ones take the same paths) and no rates (hundreds of cases through pages: the pages-only
    # run in test_pages_only.py measures one family), to keep the suite's time in bounds.
    code, run_dir, output = assess(tmp_path / "reports", "--channel", "browser", "-n", "2",
                                   "--", "-k", "not latin and not benign-en and not "
                                   "test_evasion and not test_overblocking")
    # Narrowed by -k: every observed case passes, and no control can claim a pass.
    assert code == 1, output[-3000:]
    assert run_dir is not None
    assert verify_run(run_dir).ok
    observed_all_pass(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["files"]
    screened: dict[str, set[str]] = defaultdict(set)
    for entry in read_entries(run_dir):
        if entry["entry_type"] != "observation" or entry["control"] not in SURFACE_CONTROLS:
            continue
        assert entry["channel"] == "browser"
        assert entry["verdict"] == "pass", entry["reason"]
        for sighting in entry["details"]["sightings"]:
            for path in sighting["artifacts"]:
                assert path in manifest, f"{path} is not in the manifest"
                if path.endswith(".png"):
                    screened[entry["surface"]].add(path)
    assert set(screened) == set(SURFACE_CONTROLS.values())
    benign = next(p for paths in screened.values() for p in sorted(paths)
                  if "benign-zh" in p and "viewer" in p)
    assert _cjk_in_screenshot(run_dir / benign)


def _cjk_in_screenshot(path: Path) -> bool:
    """Chinese text is rendered (a CJK font is installed): OCR finds Chinese characters."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed; cannot read the screenshot")
    text = subprocess.run(["tesseract", str(path), "stdout", "-l", "chi_sim"],
                          capture_output=True, text=True, check=True, timeout=120).stdout
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 4


@pytest.mark.parametrize("fault", BROWSER_FAULTS)
def test_browser_only_fault_fails_its_control_through_pages_only(fault, tmp_path):
    control = FAULTS[fault][0]
    selection = ["--control", control]
    if control in SURFACE_CONTROLS:  # one prohibited probe, created and edited
        selection += ["--", "-k", f"{SURFACE_CONTROLS[control]}- and canary-zh-a"]
    code, run_dir, output = assess(tmp_path / "browser", "--channel", "browser",
                                   "--reference-fault", fault, *selection)
    assert code == 1, output[-3000:]
    assert control_verdicts(run_dir)[control] == "fail"
    if "api" not in controls.get(control).channels:
        return  # only pages can show it
    code, run_dir, output = assess(tmp_path / "api", "--channel", "api",
                                   "--reference-fault", fault, *selection)
    observed_all_pass(run_dir, control)  # the API does not see what only the pages break


class SecretSpy:
    """Collects, after each test, the secrets its evidence was told to keep out."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item):
        result = yield
        evidence = item.funcargs.get("evidence")
        if evidence is not None:
            self.secrets.update(evidence.secrets)
        return result


def test_no_secret_reaches_any_artifact(pytester, tmp_path):
    spy = SecretSpy()
    run_dir = tmp_path / "run"
    result = pytester.runpytest_inprocess(
        str(SCENARIOS), "--channel", "browser", "-k", "account_name-create or remark-edit",
        "--run-dir", str(run_dir), "-p", "no:cacheprovider", "-p", "no:playwright",
        "-o", "harness_tracing=on", "-o", "harness_har=on", plugins=[spy],
    )
    assert result.ret == 1, result.stdout.str()[-3000:]  # narrowed by -k: never a pass
    observed_all_pass(run_dir)
    passwords_and_cookies = {s for s in spy.secrets if len(s) >= 8}
    assert len(passwords_and_cookies) >= 3
    kinds = {path.suffix for path in run_dir.rglob("*") if path.is_file()}
    assert {".har", ".zip", ".html", ".png"} <= kinds
    for path in run_dir.rglob("*"):
        if path.is_file():
            for name, data in _contents(path):
                for secret in passwords_and_cookies:
                    assert secret.encode() not in data, f"a secret is in {name}"


def _contents(path: Path) -> list[tuple[str, bytes]]:
    """A file's bytes, and for a zip (a trace) each member's."""
    data = path.read_bytes()
    if path.suffix != ".zip":
        return [(str(path), data)]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(f"{path}!{name}", archive.read(name)) for name in archive.namelist()]


def test_reference_faults_name_browser_only_ones():
    assert BROWSER_FAULTS, "the reference site has no browser-only fault"
    assert all(FAULTS[name][1].startswith(reference.BROWSER_ONLY) for name in BROWSER_FAULTS)


def test_login_steps_follow_a_sign_up_that_does_not_sign_in(pytester, tmp_path, monkeypatch):
    profile = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    browser = profile["browser"]
    browser["register"].append({"click": {"role": "button", "name": "退出 Log out"}})
    browser["login"] = [
        {"goto": "/login"},
        {"fill": {"field": "#account_name", "value": "{account_name}"}},
        {"fill": {"field": "#password", "value": "{password}"}},
        {"click": {"role": "button", "name": "登录 Log in"}},
    ]
    path = tmp_path / "signs-out.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    site = reference.start([])
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, site.admin_token)
    try:
        result = pytester.runpytest_inprocess(
            str(SCENARIOS), "--channel", "browser", "--target-profile", str(path),
            "--base-url", site.url, "-k", "bio-create-benign-zh", "--run-dir",
            str(tmp_path / "run"), "-p", "no:cacheprovider", "-p", "no:playwright")
    finally:
        site.stop()
    result.assert_outcomes(passed=1)
