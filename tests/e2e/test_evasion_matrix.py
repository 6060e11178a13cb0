"""The evasion matrix end to end: on the clean reference site every surface x family gets a rate
with its interval and the run passes under its policy; each normalisation fault (and the crude
fragment filter) fails its own rate control. The clean run is the session's one
(`clean_api_run`, every automated control through the API); a fault's run is scoped with
`--control` to its own control. Runs use the fast policy's small samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import controls
from harness.evidence import read_entries
from harness.probes.matrix import RATE_SURFACES, TEXT_SURFACES, families_for

from .runs import FAST_POLICY, RATE_CONTROLS, assess, control_verdicts, faults

RATE_FAULTS = sorted(name for name, (control, _) in faults().items() if control in RATE_CONTROLS)


def _rates(run_dir: Path) -> dict[tuple[str, str, str], dict]:
    return {(e["surface"], e["family"], e["expect"]): e for e in read_entries(run_dir)
            if e["entry_type"] == "rate"}


def test_the_reference_faults_cover_every_gated_rate_control():
    from harness.policy import load_policy

    policy = load_policy(FAST_POLICY)
    gated = {controls.for_family(f).id for s in RATE_SURFACES for f in families_for(s)
             if policy.rates.gate(f).gating} | {controls.A5_4_OVERBLOCK}
    covered = {faults()[name][0] for name in RATE_FAULTS}
    assert covered == gated


def test_clean_site_records_a_rate_for_every_cell_and_passes(clean_api_run):
    code, run_dir, output = clean_api_run.code, clean_api_run.run_dir, clean_api_run.output
    assert code == 0, output[-3000:]
    rates = _rates(run_dir)
    expected = {(s, f, e) for s in RATE_SURFACES for f in families_for(s)
                for e in ("must_block", "must_allow")}
    expected |= {(s, "identity", "must_allow") for s in TEXT_SURFACES}
    assert set(rates) == expected
    for line in rates.values():
        assert 0.0 <= line["low"] <= line["high"] <= 1.0
    # Gated families pass; a family the site does not handle shows its true (failing) rate
    # without failing the run.
    entries = {e["control"]: e for e in read_entries(run_dir) if e["entry_type"] == "control"}
    assert entries["A5.4-EVASION-FULLWIDTH"]["verdict"] == "pass"
    assert entries["A5.4-EVASION-FULLWIDTH"]["gating"] is True
    assert entries["A5.4-OVERBLOCK"]["verdict"] == "pass"
    pinyin = entries["A5.4-EVASION-PINYIN"]
    assert (pinyin["verdict"], pinyin["gating"]) == ("fail", False)
    assert rates["post", "pinyin", "must_block"]["rate"] < 0.5
    assert all(e["verdict"] == "pass" for e in entries.values() if e["gating"])
    assert "block rate" in output  # the family x surface grid is in the terminal summary
    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run_dir),
                             "--rates"], capture_output=True, text=True, check=False)
    assert report.returncode == 0
    table = report.stdout[report.stdout.index("rates (95% Wilson intervals)"):]
    assert "post           pinyin" in table or "post  pinyin" in " ".join(table.split("\n"))
    assert len([line for line in table.splitlines() if "must_" in line]) == len(expected)


@pytest.mark.parametrize("fault", RATE_FAULTS)
def test_fault_fails_its_rate_control(fault, tmp_path):
    expected = faults()[fault][0]
    code, run_dir, output = assess(tmp_path / "reports", "--reference-fault", fault,
                                   "--control", expected)
    assert code == 1, output[-3000:]
    assert run_dir is not None
    assert control_verdicts(run_dir) == {expected: "fail"}
    failing = [e for e in _rates(run_dir).values() if e["verdict"] == "fail"]
    assert failing, output[-3000:]
    assert all(e["gating"] for e in failing)


def test_an_organisation_corpus_is_sent_and_pinned(tmp_path):
    row = {"id": "org-1", "text": "组织自有的违规样本，审核金丝雀甲。", "category": "ECO6.5",
           "expect": "must_block", "lang": "zh"}
    corpus = tmp_path / "org.jsonl"
    corpus.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    code, run_dir, output = assess(tmp_path / "reports", "--corpus", str(corpus),
                                   "--control", "A5.4-EVASION-TRADITIONAL")
    assert code == 0, output[-3000:]
    assert run_dir is not None
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    from harness.probes.corpora import file_sha256

    assert [c["sha256"] for c in info["corpora"]] == [file_sha256(corpus)]
    sent = [e["details"]["case"]["probe"] for e in read_entries(run_dir)
            if e["entry_type"] == "observation" and e["expect"] == "must_block"]
    assert any(":org-1-" in probe for probe in sent)
    assert not any("canary-sample" in probe for probe in sent)


def test_a_bad_corpus_path_is_a_usage_error_before_anything_runs(tmp_path):
    code, run_dir, output = assess(tmp_path / "reports", "--corpus", str(tmp_path / "no.csv"))
    assert code == 2, output
    assert run_dir is None
    assert "no.csv" in output
