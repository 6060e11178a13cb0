"""A pages-only site, assessed from its profile alone: the reference site's profile without its
`api` section, through the browser by default. A surface whose edit is absent passes on its
create cases and says why; an evasion rate is measured through the pages (bounded concurrency,
recorded) and fails under the fault that breaks it; propagation is planted and edited through
the pages, and a removal with no way for a moderator to take the item down is inconclusive,
never passed. Each run is scoped to the controls it shows, with small samples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import reference
from harness.evidence import read_entries, verify_run
from harness.targets.profile import REFERENCE_PROFILE
from harness.verdicts import EXIT_FAIL, EXIT_USAGE

from .runs import assess, control_verdicts

KEPT = ("post", "comment")  # the surfaces the site keeps; the others are declared absent
NO_EDIT = "posts cannot be edited on this site"
CONCURRENCY = 3
SCOPE = ("--control", "A5.4-POST", "--control", "A5.4-EVASION-CASE",
         "--control", "A5.4-PROPAGATION")
# The smallest samples the case family's gate can be cleared with (4 of 4 blocked: lower
# bound 0.510), and browser cases a few at a time.
POLICY = f"""\
grace_seconds: 0.5
audit_wait_seconds: 0.5
rates:
  concurrency: {{api: 8, browser: {CONCURRENCY}}}
  gate: false
  must_block_n: 4
  must_allow_n: 2
  block_rate_min: 0.50
  false_block_max: 0.70
  families:
    case: {{gate: true}}
"""


@pytest.fixture(scope="module")
def pages_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The pages-only profile and its policy."""
    folder = tmp_path_factory.mktemp("pages-only")
    data = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    data.pop("api")
    browser = data["browser"]
    for surface in browser["surfaces"]:
        if surface not in KEPT:
            browser["surfaces"][surface] = {"absent": "left out of this pages-only site"}
    browser["surfaces"]["post"]["edit"] = {"absent": NO_EDIT}
    browser["moderation"]["edit"]["post"] = {"absent": NO_EDIT}
    browser["surfaces"]["forward"] = {"absent": "posts cannot be forwarded on this site"}
    profile = folder / "pages-only.yaml"
    profile.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return profile, policy


def _assess(pages_only: tuple[Path, Path], out: Path, faults: list[str],
            *args: str) -> tuple[int, Path | None, str]:
    profile, policy = pages_only
    with reference.start(faults) as site:
        return assess(out, "--profile", str(profile), "--base-url", site.url, *args,
                      "--policy", str(policy))


def test_a_pages_only_site_is_assessed_through_its_pages(pages_only, tmp_path):
    code, run_dir, output = _assess(pages_only, tmp_path / "reports", [], *SCOPE)
    assert run_dir is not None, output[-3000:]
    assert verify_run(run_dir).ok
    entries = list(read_entries(run_dir))
    observations = [e for e in entries if e["entry_type"] == "observation"]
    assert observations
    assert {e["channel"] for e in observations} == {"browser"}  # the default, without an API
    reasons = {e["control"]: e["reason"] for e in entries if e["entry_type"] == "control"}
    verdicts = control_verdicts(run_dir)
    # The post control: its create cases pass; its edit cases are not applicable, saying why.
    assert verdicts["A5.4-POST"] == "pass", reasons["A5.4-POST"]
    assert f"not applicable: the post edit is absent: {NO_EDIT}" in reasons["A5.4-POST"]
    # The rate through the pages, with the policy's concurrency in its evidence.
    assert verdicts["A5.4-EVASION-CASE"] == "pass", reasons["A5.4-EVASION-CASE"]
    cells = {(e["surface"], e["expect"]): e for e in entries
             if e["entry_type"] == "rate" and e["control"] == "A5.4-EVASION-CASE"}
    for surface in KEPT:
        assert cells[surface, "must_block"]["n"] == 4, cells[surface, "must_block"]
        assert cells[surface, "must_allow"]["n"] == 2, cells[surface, "must_allow"]
    rated = [e for e in observations if e["control"] == "A5.4-EVASION-CASE"
             and e["surface"] in KEPT]
    assert {e["details"]["concurrency"] for e in rated} == {CONCURRENCY}
    # Propagation: planted and edited through the pages; no removal can be observed; kinds
    # the site does not have are not applicable.
    found = {e["case_id"]: e for e in observations if e["control"] == "A5.4-PROPAGATION"}
    assert found["propagation/edit/comment"]["verdict"] == "pass", found
    assert found["propagation/edit/post"]["verdict"] == "not_applicable"
    for kind in KEPT:
        removal = found[f"propagation/removal/{kind}"]
        assert removal["verdict"] == "inconclusive"
        assert "names a way for a moderator to remove" in removal["reason"]
    for case in ("removal/group", "removal/group_message", "edit/group_message"):
        assert found[f"propagation/{case}"]["verdict"] == "not_applicable", found
    assert verdicts["A5.4-PROPAGATION"] == "inconclusive"
    assert code == EXIT_FAIL, output[-3000:]


def test_a_rate_fault_fails_its_control_through_the_pages(pages_only, tmp_path):
    code, run_dir, output = _assess(pages_only, tmp_path / "reports", ["skip-casefold"],
                                    "--control", "A5.4-EVASION-CASE")
    assert run_dir is not None, output[-3000:]
    assert control_verdicts(run_dir) == {"A5.4-EVASION-CASE": "fail"}, output[-3000:]
    assert code == EXIT_FAIL
    failing = [e for e in read_entries(run_dir) if e["entry_type"] == "rate"
               and e["verdict"] == "fail"]
    assert failing
    assert {e["surface"] for e in failing} <= set(KEPT)


def test_asking_for_the_api_of_a_pages_only_site_is_a_usage_error(pages_only, tmp_path):
    code, _, output = _assess(pages_only, tmp_path / "reports", [], "--channel", "api",
                              "--control", "A5.4-POST")
    assert code == EXIT_USAGE, output[-3000:]
    assert "the profile has no api section" in output
