"""Reports rebuilt from a run's evidence alone: the terminal summary, the HTML report, the Article
6 report, OSCAL assessment-results and `harness report`'s files. Each report shows only what the
one judge says: a control short of its plan, or failing, can never read as passing."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness import cli, controls
from harness.errors import ConfigError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore, verify_run
from harness.evidence.recorder import verdict_lines
from harness.report import article6
from harness.report.html import render_html
from harness.report.model import RunReport
from harness.report.oscal import build, write_oscal
from harness.report.render import default_out, write_reports
from harness.verdicts import RATE, Plan, PlannedTest

POST, FULLWIDTH, TIMELY = "A5.4-POST", "A5.4-EVASION-FULLWIDTH", "A5.6-TIMELY"
ABOUT = {"service": "Tiny forum", "functions": ["posts", "comments"], "deployment": "Beijing"}


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 400), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _sighting(store: RunStore, folder: str, role: str, visible: bool,
              shot: bool) -> dict[str, Any]:
    artifacts = []
    if shot:
        artifacts.append(store.write_artifact(f"{folder}/01-{role}.png", _png("white")))
    return {"role": role, "request": "page /posts/{post_id}", "url": "http://127.0.0.1/posts/1",
            "status": 200, "visible": visible, "tag_only": False, "note": "",
            "artifacts": artifacts}


def _case(surface: str, probe: str, variant: str = "identity") -> dict[str, Any]:
    return {"case_id": f"{surface}/create/{probe}", "surface": surface, "mode": "create",
            "probe": probe, "variant": variant, "expect": "must_block", "lang": "zh",
            "category": "ECO6.5", "content": f"{probe} <b>|x|</b>", "content_sha256": "ab" * 32}


def recorded_run(base: Path, *, post_leaks: bool = True, observe_timely: bool = True,
                 about: dict[str, Any] | None = ABOUT, run_id: str = "run-r",
                 measured: bool = False) -> Path:
    """A sealed run of three controls: A5.4-POST (an API case that passes and a browser case
    that leaks when `post_leaks`, with screenshots and a trace), A5.4-EVASION-FULLWIDTH (rate
    cells on two surfaces) and A5.6-TIMELY (one report followed, unless not `observe_timely`:
    then planned and never observed); with `measured` the policy only measures the rates."""
    store = RunStore.create(base, run_id=run_id)
    info: dict[str, Any] = {"seed": 7, "target": {"name": "tiny"}, "channels": ["api", "browser"],
                            "started": "2026-12-01T10:00:00+00:00",
                            "finished": "2026-12-01T10:01:00+00:00", "complete": True}
    if about is not None:
        info["about"] = about
    store.write_run_info(info)
    store.append({"entry_type": "run_start", "seed": 7})
    tests = [PlannedTest("t-post-api", (POST,), "api", "post", "a"),
             PlannedTest("t-post-browser", (POST,), "browser", "post", "b"),
             PlannedTest("t-fullwidth", (FULLWIDTH,), "api", None, "fullwidth-must_block"),
             PlannedTest("t-timely", (TIMELY,), "api", None, "must_block")]
    store.append(Plan((POST, FULLWIDTH, TIMELY), ("api", "browser"), tuple(tests)).evidence())
    store.append({"entry_type": "observation", "control": POST, "surface": "post",
                  "channel": "api", "case_id": "post/create/canary-a", "expect": "must_block",
                  "verdict": "pass", "reason": "rejected; not shown to viewer",
                  "disposition": "rejected", "test": "t-post-api", "duration_s": 0.5,
                  "details": {"case": _case("post", "canary-a"),
                              "sightings": [_sighting(store, "t-post-api", "viewer", False,
                                                      False)]}})
    folder = "t-post-browser"
    trace = store.write_artifact(f"{folder}/trace-viewer.zip", b"PK\x03\x04trace")
    exchanges = store.write_artifact(f"{folder}/exchanges.json", "[]")
    store.append({"entry_type": "observation", "control": POST, "surface": "post",
                  "channel": "browser", "case_id": "post/create/canary-b", "expect": "must_block",
                  "verdict": "fail" if post_leaks else "pass",
                  "reason": ("prohibited content shown to others: viewer at /posts/1 | <script>"
                             if post_leaks else "rejected; not shown to viewer"),
                  "disposition": "published" if post_leaks else "rejected",
                  "test": "t-post-browser", "duration_s": 2.0,
                  "details": {"case": _case("post", "canary-b"), "exchanges": exchanges,
                              "sightings": [_sighting(store, folder, "viewer", post_leaks,
                                                      True)]}})
    assert trace.endswith("trace-viewer.zip")
    for surface, blocked in (("nickname", 9), ("post", 9 if not post_leaks else 0)):
        for i in range(9):
            verdict = "pass" if i < blocked else "fail"
            store.append({"entry_type": "observation", "control": FULLWIDTH, "surface": surface,
                          "channel": "api", "case_id": f"{surface}/fw-{i}",
                          "expect": "must_block", "verdict": verdict, "reason": verdict,
                          "test": "t-fullwidth",
                          "details": {RATE: {"family": "fullwidth",
                                             "blocked": verdict == "pass"},
                                      "case": _case(surface, f"fw-{i}", "fullwidth")}})
    if observe_timely:
        store.append({"entry_type": "observation", "control": TIMELY, "surface": None,
                      "channel": "api", "case_id": "report/must_block", "expect": "must_block",
                      "verdict": "pass", "reason": "handled in time", "test": "t-timely",
                      "details": {"limits_s": {"acknowledge": 10.0, "handle": 30.0},
                                  "timeline": {"elapsed_s": {"acknowledged": 0.5,
                                                             "handled": 1.5}}}})
    for control, surface, k in ((FULLWIDTH, "nickname", 9),
                                (FULLWIDTH, "post", 9 if not post_leaks else 0)):
        store.append({"entry_type": "rate", "control": control, "surface": surface,
                      "family": "fullwidth", "expect": "must_block", "k": k, "n": 9,
                      "rate": k / 9, "low": 0.7 if k else 0.0, "high": 1.0 if k else 0.3,
                      "bound": "low", "threshold": 0.7, "gating": not measured, "unobserved": 0,
                      "verdict": "pass" if k else "fail", "reason": f"{k}/9 blocked"})
    store.append({"entry_type": "run_end", "complete": True})
    store.finalize()
    return store.path


def _report(run_dir: Path) -> RunReport:
    return RunReport.load(run_dir, "intact, unauthenticated")


# --- the terminal summary ---------------------------------------------------------------------


def test_summary_is_one_line_per_control_with_coverage_then_a_grid(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path))
    lines = verdict_lines(report.verdict)
    assert re.match(rf"{POST}\s+FAIL\s+2/2\s", lines[0])
    assert re.match(rf"{FULLWIDTH}\s+FAIL\s+1/1\s", lines[1])
    assert re.match(rf"{TIMELY}\s+PASS\s+1/1\s", lines[2])
    header = next(line for line in lines if line.startswith("block rate"))
    assert header.split()[2:] == ["nick", "post"]
    row = next(line for line in lines if line.startswith("fullwidth"))
    assert row.split()[1:] == ["100%", "0%!"]  # one cell per block rate, the failing one marked
    assert not any("95% interval" in line for line in lines)  # the full table only on request
    assert any(line.startswith("for the assessor:") and "A5.6-PROCEDURE (manual)" in line
               for line in lines)


def test_summary_prints_the_full_rate_table_only_when_asked(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path))
    lines = verdict_lines(report.verdict, rates=report.rate_lines())
    assert "rates (95% Wilson intervals)" in lines
    assert not any(line.startswith("block rate") for line in lines)
    assert sum(1 for line in lines if line.startswith(("nickname ", "post "))) == 2


# --- coverage: what was not seen never passes -------------------------------------------------


def test_a_planned_case_never_observed_is_inconclusive_in_every_report(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path, post_leaks=False, observe_timely=False))
    row = next(r for r in report.rows() if r.control.id == TIMELY)
    assert (row.status, row.coverage) == ("inconclusive", "0/1")
    html = render_html(report, tmp_path)
    timely_row = re.search(rf'<tr class="item control verdict-(\w+)"[^>]*id="control-{TIMELY}"',
                           html)
    assert timely_row is not None
    assert timely_row.group(1) == "inconclusive"
    conclusion = article6.conclusion(report)
    assert conclusion.state == article6.NOT_ESTABLISHED
    assert [r.control.id for r in conclusion.unsettled] == [TIMELY]
    assert "DRAFT: conformance not established" in article6.render_markdown(report, "en")
    findings = {f.target.target_id: f.target.status for f in build(
        report, tmp_path / "oscal.json").results[0].findings}
    assert findings[TIMELY].state.value == "not-satisfied"
    assert findings[POST].state.value == "satisfied"


def test_manual_controls_are_listed_for_the_assessor_never_judged(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path))
    manual = [c.id for c in controls.catalog().values() if c.automation == controls.MANUAL]
    assert manual
    rows = {r.control.id: r for r in report.rows()}
    for control_id in manual:
        assert rows[control_id].judged is None
        assert rows[control_id].status == "manual"
    markdown = article6.render_markdown(report, "en")
    for control_id in manual:
        assert f"- [ ] {control_id} (manual)" in markdown
    assert "- [ ] A5.4-RETENTION (partly automated)" in markdown


def test_the_catalog_refuses_an_unknown_automation_and_a_partial_one_without_assessor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = "controls:\n  - {id: X1, clause: '5(4)', title: t, criterion: c, source: s, "
    for entry, message in ((base + "automation: sometimes}\n", "is not one of"),
                           (base + "automation: partial}\n", "must say what the assessor"),
                           (base + "automated: true}\n", "lacks \\['automation'\\]")):
        path = tmp_path / "controls.yaml"
        path.write_text(entry, encoding="utf-8")
        monkeypatch.setattr(controls, "CATALOG_PATH", path)
        controls.catalog.cache_clear()
        try:
            with pytest.raises(ConfigError, match=message):
                controls.catalog()
        finally:
            controls.catalog.cache_clear()


# --- the HTML report --------------------------------------------------------------------------


def test_html_is_self_contained_with_inline_screenshots_and_plots(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path / "runs")
    html = render_html(_report(run_dir), tmp_path / "out")
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from the network
    assert "<link" not in html
    assert not re.search(r"<script[^>]+src=", html)
    shots = re.findall(r'<img class="screenshot"[^>]*src="data:image/webp;base64,', html)
    assert len(shots) == 1  # the browser sighting's screenshot, inline
    assert '<svg id="plot-heatmap"' in html
    assert '<svg id="plot-latency"' in html
    for section in ("summary", "controls", "plots", "rates", "observations", "surface-post"):
        assert f'id="{section}"' in html, section
    assert 'data-show="fail"' in html
    assert 'data-show="inconclusive"' in html


def test_html_links_the_trace_of_a_failing_observation_only(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path / "runs")
    out = tmp_path / "out"
    html = render_html(_report(run_dir), out)
    traces = re.findall(r'<a class="trace" href="([^"]+)"', html)
    assert traces == ["../runs/run-r/artifacts/t-post-browser/trace-viewer.zip"]
    assert (out / traces[0]).resolve().is_file()  # the link works from the report's folder
    clean = render_html(_report(recorded_run(tmp_path / "clean", post_leaks=False)), out)
    assert 'class="trace"' not in clean


def test_html_failing_control_links_to_the_cases_that_fail_it(tmp_path: Path) -> None:
    html = render_html(_report(recorded_run(tmp_path)), tmp_path)
    row = html[html.index(f'id="control-{POST}"'):]
    row = row[:row.index("</tr>")]
    links = re.findall(r'href="#(obs-\d+)"><code>([^<]+)</code>', row)
    assert [case for _, case in links] == ["post/create/canary-b"]
    anchor = html.index(f'<details id="{links[0][0]}"')
    assert 'data-verdict="fail"' in html[anchor:anchor + 200]
    assert "open>" in html[anchor:anchor + 300]  # a failing observation with a screenshot


def test_html_heat_map_marks_the_failing_cell_with_its_interval(tmp_path: Path) -> None:
    html = render_html(_report(recorded_run(tmp_path)), tmp_path)
    cells = re.findall(r'<g class="cell verdict-(\w+)"[^>]*><title>([^<]+)</title>', html)
    assert len(cells) == 2
    failing = [title for verdict, title in cells if verdict == "fail"]
    assert len(failing) == 1
    assert failing[0].startswith("post / fullwidth (must_block): 0/9, 95% interval [0.000,")
    assert html.count('class="interval"') == 2


def test_html_heat_map_dashes_the_cells_the_policy_only_measures(tmp_path: Path) -> None:
    gated = render_html(_report(recorded_run(tmp_path / "g")), tmp_path)
    measured = render_html(_report(recorded_run(tmp_path / "m", measured=True)), tmp_path)
    assert "stroke-dasharray=\"5 3\"" not in gated
    assert measured.count("stroke-dasharray=\"5 3\"") == 2


def test_html_escapes_what_the_target_or_the_probe_put_in_evidence(tmp_path: Path) -> None:
    html = render_html(_report(recorded_run(tmp_path)), tmp_path)
    assert "<script>" not in html.split("<script>\ndocument")[0]
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;|x|&lt;/b&gt;" in html


def test_html_draws_load_stages_when_the_evidence_has_them(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path)
    store = RunStore.open(run_dir)
    for index, users, leaked in ((1, 50, 2), (0, 0, 0)):  # stage order comes from the index
        store.append({"entry_type": "observation", "control": "A5.4-UNDER-LOAD",
                      "surface": "post", "channel": "load", "case_id": f"stage-{index}",
                      "verdict": "pass", "reason": "held", "test": "t-load",
                      "details": {"stage": {"index": index, "users": users, "seconds": 5},
                                  "leaked": leaked, "ack_s": {"p95": 0.1 * (index + 1)},
                                  "plan": {"seed": 7}}})
    store.finalize()
    report = _report(run_dir)
    [(control, rows)] = report.stages()
    assert control == "A5.4-UNDER-LOAD"
    assert [r["stage"] for r in rows] == ["0: 0 users", "1: 50 users"]
    assert rows[1]["ack_s.p95"] == pytest.approx(0.2)
    assert "plan" not in rows[0]
    html = render_html(report, tmp_path)
    assert '<svg id="plot-stages-0"' in html
    assert "1: 50 users: leaked 2" in html


# --- the Article 6 report ---------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "draft", "hazards"), [
    ("zh", "草稿：不符合", "须整改的安全隐患"),
    ("en", "DRAFT: non-conformant", "Hazards to rectify"),
])
def test_article6_of_a_failing_run_is_a_draft_naming_each_hazard(
        tmp_path: Path, lang: str, draft: str, hazards: str) -> None:
    markdown = article6.render_markdown(_report(recorded_run(tmp_path)), lang)
    conclusion = markdown[markdown.index(hazards):]
    assert markdown.count(draft) == 2  # at the top and in the conclusion
    assert f"**{POST}**" in conclusion
    assert f"**{FULLWIDTH}**" in conclusion
    assert "post/create/canary-b" in conclusion  # the failing case behind the hazard
    assert TIMELY not in conclusion


def test_article6_of_a_clean_run_found_no_hazard_but_is_not_final(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path, post_leaks=False))
    assert article6.conclusion(report).state == article6.NO_HAZARD
    markdown = article6.render_markdown(report, "en")
    assert "FOR THE ASSESSOR: the automated assessment found no hazard" in markdown
    assert "DRAFT" not in markdown


def test_article6_counts_a_waived_control_as_a_hazard(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path, post_leaks=False)
    store = RunStore.open(run_dir)
    store.append({"entry_type": "gate", "operator": "ci", "measured": [], "waivers": [
        {"control": TIMELY, "reason": "desk moves", "approver": "lead",
         "expires": "2099-01-01"}]})
    store.append({"entry_type": "observation", "control": TIMELY, "surface": None,
                  "channel": "api", "case_id": "report/must_block", "verdict": "fail",
                  "reason": "handled after 40s", "test": "t-timely"})
    store.append({"entry_type": "run_end", "complete": True})
    store.finalize()
    report = _report(run_dir)
    row = next(r for r in report.rows() if r.control.id == TIMELY)
    assert row.status == "waived"
    assert report.verdict.exit_code == 0  # the gate passes ...
    found = article6.conclusion(report)
    assert found.state == article6.NON_CONFORMANT  # ... but the hazard is still there
    assert [r.control.id for r in found.hazards] == [TIMELY]


def test_article6_part1_comes_from_the_recorded_about(tmp_path: Path) -> None:
    markdown = article6.render_markdown(_report(recorded_run(tmp_path)), "zh")
    assert "| 服务名称 | Tiny forum |" in markdown
    assert "| 功能 | posts; comments |" in markdown
    assert "| 部署位置 | Beijing |" in markdown
    assert "| 证照 | （待评估人填写） |" in markdown
    bare = article6.render_markdown(_report(recorded_run(tmp_path / "b", about=None)), "en")
    assert "| Service | (for the assessor to complete) |" in bare


def test_article6_html_renders_tables_and_never_raw_html(tmp_path: Path) -> None:
    report = _report(recorded_run(tmp_path))
    html = article6.render_html(article6.render_markdown(report, "en"), "en")
    assert "<table>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    # A `|` in a reason stays inside its cell: every row of the control table has five cells.
    post_row = next(row for row in html.split("<tr>") if f"<td>{POST} " in row)
    assert post_row.count("<td>") == 5


def test_article6_refuses_an_unknown_language(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--lang 'fr'"):
        article6.render_markdown(_report(recorded_run(tmp_path)), "fr")


# --- OSCAL ------------------------------------------------------------------------------------


def test_oscal_validates_with_findings_per_control_and_hashed_evidence(tmp_path: Path) -> None:
    from trestle.oscal.assessment_results import AssessmentResults

    run_dir = recorded_run(tmp_path / "runs")
    path = write_oscal(_report(run_dir), tmp_path / "out")
    document = AssessmentResults.oscal_read(path)
    result = document.results[0]
    states = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert states == {POST: "not-satisfied", FULLWIDTH: "not-satisfied", TIMELY: "satisfied"}
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    resources = {f"#{r.uuid}": r for r in document.back_matter.resources}
    leaked = next(o for o in result.observations if o.title.endswith("post/create/canary-b"))
    linked = [resources[e.href] for e in leaked.relevant_evidence]
    titles = [r.title for r in linked]
    assert "artifacts/t-post-browser/01-viewer.png" in titles
    assert "artifacts/t-post-browser/trace-viewer.zip" in titles
    for resource in linked:
        rlink = resource.rlinks[0]
        target = (path.parent / rlink.href).resolve()
        assert target.is_file(), rlink.href
        if resource.title in manifest["files"]:
            assert rlink.hashes[0].value == manifest["files"][resource.title]
    post = next(f for f in result.findings if f.target.target_id == POST)
    related = {r.observation_uuid for r in post.related_observations}
    assert leaked.uuid in related
    timely = next(f for f in result.findings if f.target.target_id == TIMELY)
    assert {p.name: p.value for p in timely.props}["automation"] == "partial"
    assert timely.remarks.startswith("for the assessor: ")
    listed = {(p.name, p.value) for p in result.props}
    assert ("manual-control", "A5.6-PROCEDURE") in listed
    assert ("not-assessed-control", "A5.4-BIO") in listed


def test_oscal_is_the_same_document_when_rebuilt(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path / "runs")
    first = write_oscal(_report(run_dir), tmp_path / "a").read_bytes()
    second = write_oscal(_report(run_dir), tmp_path / "a").read_bytes()
    assert first == second


# --- harness report ---------------------------------------------------------------------------


def test_report_all_writes_every_file_from_a_copied_run(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    original = recorded_run(tmp_path / "runs")
    copied = tmp_path / "elsewhere" / original.name
    shutil.copytree(original, copied)
    shutil.rmtree(original)
    code = cli.main(["report", str(copied), "--format", "all", "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 1  # the run's own exit code: a gating control failed
    folder = default_out(copied)
    assert folder == tmp_path / "elsewhere" / f"{original.name}.report"
    for name in ("report.html", "assessment.md", "assessment.html",
                 "oscal/assessment-results.json", "junit.xml"):
        assert (folder / name).is_file(), name
        assert f"{folder / name}" in out
    assert verify_run(copied).ok  # nothing was written inside the run


def test_report_refuses_an_out_folder_inside_the_run(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = recorded_run(tmp_path)
    code = cli.main(["report", str(run_dir), "--format", "html", "--out", str(run_dir / "r")])
    assert code == 2
    assert "cannot go inside the run directory" in capsys.readouterr().err
    assert verify_run(run_dir).ok


def test_report_of_an_altered_run_writes_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = recorded_run(tmp_path)
    run_json = run_dir / "run.json"
    run_json.write_text(run_json.read_text(encoding="utf-8").replace("tiny", "huge"),
                        encoding="utf-8")
    code = cli.main(["report", str(run_dir), "--format", "all", "--out", str(tmp_path / "o")])
    assert code == 5
    assert "NOT intact" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_report_rates_prints_the_table(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = recorded_run(tmp_path)
    cli.main(["report", str(run_dir)])
    assert "block rate" in capsys.readouterr().out
    cli.main(["report", str(run_dir), "--rates"])
    out = capsys.readouterr().out
    assert "rates (95% Wilson intervals)" in out
    assert "block rate" not in out


def test_write_reports_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--format 'pdf'"):
        write_reports(_report(recorded_run(tmp_path)), ["pdf"], tmp_path / "o")


def test_html_tells_its_progress_while_it_inlines_screenshots(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report import html

    monkeypatch.setattr(html, "PROGRESS_EVERY", 1)
    heard: list[str] = []
    write_reports(_report(recorded_run(tmp_path / "runs")), ["html"], tmp_path / "out",
                  progress=heard.append)
    assert heard[0] == "html: 1 of at most 1 screenshots inlined"
    assert heard[-1].startswith(f"html: {tmp_path / 'out' / 'report.html'} (")
