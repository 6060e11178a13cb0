"""The reports of real runs of the reference site, rebuilt by `harness report` from a copy of the
run folder. With posts unfiltered, the HTML report (opened in Chromium) shows the failing
control with its screenshot and plot, the Article 6 report is a draft that says non-conformant
and names the hazard, and the OSCAL file validates; the session's clean API run yields reports
that find no hazard.

One scoped faulty run (two controls, both channels), shared by this module's tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from harness.targets.browser import find_browser, launch_options

from .runs import SharedRun, shared_assess

FAULT_SCOPE = ("--channel", "all", "--control", "A5.4-POST", "--control",
               "A5.4-EVASION-FULLWIDTH", "--reference-fault", "unfiltered-post", "-n", "2")


def _report(run_dir: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run_dir),
                           "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    return shared_assess(tmp_path_factory, "unfiltered-post-all", *FAULT_SCOPE)


@pytest.fixture(scope="module")
def reports(faulty: SharedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every report of the faulty run, rebuilt from a copy of its folder (the original is
    not read: reports come from the copied evidence alone)."""
    assert faulty.code == 1, faulty.output[-3000:]
    copied = tmp_path_factory.mktemp("copied") / faulty.run_dir.name
    shutil.copytree(faulty.run_dir, copied)
    out = copied.with_name("reports")
    done = _report(copied, out, "--format", "all", "--lang", "zh")
    assert done.returncode == 1, done.stdout + done.stderr  # the run's own exit code
    return out


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for this module only, stopped at its end (see test_scope_guard.py)."""
    options = launch_options(find_browser())  # it asks a Playwright of its own
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()


def test_html_report_shows_the_failing_control_with_its_screenshot_and_plot(
        reports: Path, chromium: Any) -> None:
    page = chromium.new_page()
    try:
        page.goto((reports / "report.html").as_uri())
        for section in ("summary", "controls", "plots", "rates", "observations",
                        "surface-post"):
            assert page.locator(f"#{section}").count() == 1, section
        post = page.locator("#control-A5\\.4-POST")
        assert post.get_attribute("data-verdict") == "fail"
        # The heat map draws the post cell of the fullwidth family as failing.
        failing_cells = page.locator("#plot-heatmap g.cell.verdict-fail title")
        assert failing_cells.count() == 1
        assert failing_cells.first.text_content().startswith("post / fullwidth (must_block)")
        # The failing filter hides what passed and keeps the failing control and cases.
        page.get_by_role("button", name="failing", exact=True).click()
        assert post.is_visible()
        assert not page.locator("#control-A5\\.6-PUBLISHED").is_visible()
        failing = page.locator("details.observation[data-verdict=fail][data-control="
                               "'A5.4-POST']")
        assert failing.count() >= 4
        # A failing browser observation shows what the viewer saw, inline and decoded.
        shot = page.locator("details.observation[data-verdict=fail] img.screenshot").first
        shot.scroll_into_view_if_needed()
        assert shot.get_attribute("src").startswith("data:image/webp;base64,")
        assert shot.evaluate("img => img.complete && img.naturalWidth") > 0
        trace = page.locator("details.observation[data-verdict=fail] a.trace").first
        assert (reports / trace.get_attribute("href")).resolve().is_file()
        assert page.locator(".observation[data-verdict=pass]").first.is_hidden()
    finally:
        page.close()


def test_article6_report_is_a_draft_that_names_the_hazard(reports: Path,
                                                         faulty: SharedRun) -> None:
    markdown = (reports / "assessment.md").read_text(encoding="utf-8")
    assert markdown.count("草稿：不符合") == 2
    hazards = markdown[markdown.index("须整改的安全隐患"):markdown.index("四、其他事项")]
    assert "**A5.4-POST**" in hazards
    assert "post/create/canary" in hazards
    assert "Reference social site" in markdown  # part 1 from the profile's about, recorded
    assert "<table>" in (reports / "assessment.html").read_text(encoding="utf-8")
    english = _report(faulty.run_dir, reports / "en", "--format", "article6", "--lang", "en")
    assert english.returncode == 1
    text = (reports / "en" / "assessment.md").read_text(encoding="utf-8")
    assert "DRAFT: non-conformant" in text
    assert "**A5.4-POST**" in text[text.index("Hazards to rectify"):]


def test_oscal_file_validates_with_the_failing_finding(reports: Path) -> None:
    from trestle.oscal.assessment_results import AssessmentResults

    document = AssessmentResults.oscal_read(reports / "oscal" / "assessment-results.json")
    result = document.results[0]
    states = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert states["A5.4-POST"] == "not-satisfied"
    assert states["A5.4-EVASION-FULLWIDTH"] == "not-satisfied"
    resources = {f"#{r.uuid}": r for r in document.back_matter.resources}
    linked = [resources[e.href] for o in result.observations for e in o.relevant_evidence or ()]
    screenshots = [r for r in linked if r.title.endswith(".png")]
    assert screenshots
    assert all(r.rlinks[0].hashes[0].algorithm == "SHA-256" for r in screenshots)


def test_clean_run_reports_find_no_hazard(clean_api_run: SharedRun, tmp_path: Path) -> None:
    assert clean_api_run.code == 0, clean_api_run.output[-3000:]
    done = _report(clean_api_run.run_dir, tmp_path, "--format", "article6", "--format",
                   "oscal", "--lang", "en")
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "assessment.md").read_text(encoding="utf-8")
    assert "FOR THE ASSESSOR: the automated assessment found no hazard" in text
    assert "DRAFT" not in text
    from trestle.oscal.assessment_results import AssessmentResults

    document = AssessmentResults.oscal_read(tmp_path / "oscal" / "assessment-results.json")
    gating = {line.split()[0] for line in done.stdout.splitlines()
              if line.startswith("A5.") and " PASS " in line}
    states = {f.target.target_id: f.target.status.state.value
              for f in document.results[0].findings}
    assert gating
    assert all(states[c] == "satisfied" for c in gating)
    # The terminal summary is compact: one line per control, one grid row per family.
    assert "rates (95% Wilson intervals)" not in done.stdout
    assert len(done.stdout.splitlines()) < 100
