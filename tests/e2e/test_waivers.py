"""Waivers on a real run: the failing A5.4-BIO of the `unfiltered-bio` fault, waived by a valid
waiver (the run passes its gate, the control shown as waived) and by an expired one (the gate
fails, naming it). Two assessments of one control through the API, a few seconds each."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import cli
from harness.evidence import read_entries
from harness.verdicts import EXIT_FAIL, EXIT_PASS

from .runs import assess, control_verdicts

SCOPE = ("--control", "A5.4-BIO", "--reference-fault", "unfiltered-bio")


def _waivers(tmp_path: Path, expires: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text("- control: A5.4-BIO\n  reason: the bio filter ships in 2.4\n"
                    f"  approver: head-of-trust-and-safety\n  expires: {expires}\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("expires", "code", "verdict", "why"), [
    ("2999-12-31", EXIT_PASS, "waived", "every gating control passed (1 waived)"),
    ("2000-01-01", EXIT_FAIL, "fail", "waiver(s) refused: A5.4-BIO expired on 2000-01-01"),
])
def test_a_waiver_is_applied_until_it_expires(tmp_path: Path, expires: str, code: int,
                                              verdict: str, why: str) -> None:
    found, run_dir, output = assess(tmp_path / "out", *SCOPE, "--waivers",
                                    str(_waivers(tmp_path, expires)))
    assert found == code, output[-3000:]
    assert run_dir is not None
    assert control_verdicts(run_dir) == {"A5.4-BIO": verdict}
    assert why in output
    gate = [e for e in read_entries(run_dir) if e["entry_type"] == "gate"]
    assert [w["expires"] for w in gate[0]["waivers"]] == [expires]
    # Judged again from the evidence alone, without the waivers file: the same verdict.
    (tmp_path / "waivers.yaml").unlink()
    assert cli.main(["report", str(run_dir)]) == code
