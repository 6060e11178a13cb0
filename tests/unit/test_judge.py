"""The one judge: a pass only for what was seen, on a whole run; exit codes say why."""

from __future__ import annotations

from typing import Any

from harness.verdicts import (
    EXIT_EMPTY,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_USAGE,
    NOT_COMPARED,
    Plan,
    PlannedTest,
    Verdict,
    judge_run,
)

POST, BIO = "A5.4-POST", "A5.4-BIO"


def _plan(*tests: tuple[str, str], patterns: tuple[str, ...] = ("A5.4-POST", "A5.4-BIO"),
          narrowed: str | None = None) -> dict[str, Any]:
    return Plan(patterns, ("api",), tuple(PlannedTest(test, (control,), "api", None, test)
                                          for test, control in tests), narrowed).evidence()


def _obs(test: str, control: str, verdict: str = "pass", case: str | None = None) -> dict:
    return {"entry_type": "observation", "control": control, "channel": "api",
            "case_id": case or test, "verdict": verdict, "test": test}


END = {"entry_type": "run_end", "complete": True}


def _verdicts(run: Any) -> dict[str, tuple[Verdict, str]]:
    return {c.control: (c.verdict, c.reason) for c in run.controls}


def test_every_planned_case_observed_and_passed_passes() -> None:
    run = judge_run([_plan(("a", POST), ("b", BIO)), _obs("a", POST), _obs("b", BIO), END])
    assert _verdicts(run)[POST][0] is Verdict.PASS
    assert run.exit_code == EXIT_PASS


def test_a_planned_case_not_observed_leaves_the_control_inconclusive() -> None:
    entries = [_plan(("a", POST), ("b", POST), ("c", BIO)), _obs("a", POST), _obs("c", BIO), END]
    verdict, reason = _verdicts(judge_run(entries))[POST]
    assert verdict is Verdict.INCONCLUSIVE
    assert "1 of 2 planned cases observed" in reason
    assert judge_run(entries).exit_code == EXIT_FAIL


def test_fields_a_pass_could_not_compare_pass_only_where_another_compared_them() -> None:
    """A5.3 through a browser sees the source port present but cannot tell its own: pages
    alone never pass the control; the API's observations, which compare it, do."""
    fields = "A5.3-LOG-FIELDS"
    through_pages = {**_obs("a", fields), "channel": "browser",
                     "details": {NOT_COMPARED: ["source_ip", "source_port"]}}
    plan = Plan((fields,), ("api", "browser"), (PlannedTest("a", (fields,), "browser", None, "a"),
                                                PlannedTest("b", (fields,), "api", None, "b")),
                None).evidence()
    pages_only = judge_run([{**plan, "tests": plan["tests"][:1]}, through_pages, END])
    verdict, reason = _verdicts(pages_only)[fields]
    assert verdict is Verdict.INCONCLUSIVE
    assert reason.startswith("source_ip, source_port never compared with what the harness used")
    assert pages_only.exit_code == EXIT_FAIL
    both = judge_run([plan, through_pages, _obs("b", fields), END])
    assert _verdicts(both)[fields][0] is Verdict.PASS


def test_an_observed_failure_fails_even_on_partial_coverage() -> None:
    entries = [_plan(("a", POST), ("b", POST)), _obs("a", POST, "fail"), END]
    assert _verdicts(judge_run(entries))[POST][0] is Verdict.FAIL


def test_a_control_in_scope_without_any_planned_case_is_inconclusive() -> None:
    run = judge_run([_plan(("a", POST)), _obs("a", POST), END])
    verdict, reason = _verdicts(run)[BIO]
    assert verdict is Verdict.INCONCLUSIVE
    assert "not assessed" in reason


def test_controls_outside_the_scope_are_listed_not_judged() -> None:
    run = judge_run([_plan(("a", POST), patterns=(POST,)), _obs("a", POST), END])
    assert [c.control for c in run.controls] == [POST]
    assert BIO in run.not_assessed
    assert run.exit_code == EXIT_PASS


def test_path_arguments_narrower_than_the_tree_cap_a_pass() -> None:
    entries = [_plan(("a", POST), patterns=(POST,), narrowed="scenarios/a5_4::x"),
               _obs("a", POST), END]
    verdict, reason = _verdicts(judge_run(entries))[POST]
    assert verdict is Verdict.INCONCLUSIVE
    assert "collected only" in reason


def test_an_incomplete_run_never_exits_0() -> None:
    entries = [_plan(("a", POST), patterns=(POST,)), _obs("a", POST),
               {"entry_type": "run_end", "complete": False}]
    assert judge_run(entries).exit_code == EXIT_INTERRUPTED
    # A run that ended without a run_end (killed) is incomplete too.
    assert judge_run(entries[:-1]).exit_code == EXIT_INTERRUPTED


def test_a_resumed_run_is_complete_only_after_its_own_end() -> None:
    entries = [_plan(("a", POST), ("b", POST), patterns=(POST,)), _obs("a", POST),
               {"entry_type": "run_end", "complete": False}, {"entry_type": "run_resume"}]
    assert judge_run(entries).exit_code == EXIT_INTERRUPTED
    assert judge_run([*entries, _obs("b", POST), END]).exit_code == EXIT_PASS


def test_nothing_observed_or_everything_not_applicable_has_its_own_code() -> None:
    assert judge_run([_plan(("a", POST), patterns=(POST,)), END]).exit_code == EXIT_EMPTY
    na = _obs("a", POST, "not_applicable")
    assert judge_run([_plan(("a", POST), patterns=(POST,)), na, END]).exit_code == EXIT_EMPTY
    # No control of the scope is observable through the run's channels: nothing in scope.
    browser_only = Plan(("A5.6-PUBLISHED",), ("api",), ()).evidence()
    run = judge_run([browser_only, END])
    assert run.controls == []
    assert run.exit_code == EXIT_EMPTY


def test_a_scope_violation_ends_the_run_as_a_configuration_error() -> None:
    entries = [_plan(("a", POST), patterns=(POST,)), _obs("a", POST),
               {"entry_type": "scope_violation", "url": "http://evil.example/x",
                "host": "evil.example"}, END]
    run = judge_run(entries)
    assert run.exit_code == EXIT_USAGE
    assert "evil.example" in run.why


def test_the_latest_observation_of_a_case_counts() -> None:
    entries = [_plan(("a", POST), patterns=(POST,)), _obs("a", POST, "inconclusive"), END,
               _obs("a", POST, "pass")]
    assert _verdicts(judge_run(entries))[POST][0] is Verdict.PASS


def test_rate_cells_are_judged_with_the_recorded_gates() -> None:
    control = "A5.4-EVASION-FULLWIDTH"
    plan = Plan((control,), ("api",), (PlannedTest("e", (control,), "api"),)).evidence()
    cases = [{**_obs("e", control, "pass", case=f"c{i}"), "surface": "post",
              "expect": "must_block", "details": {"rate": {"family": "fullwidth",
                                                            "blocked": True}}}
             for i in range(3)]
    gate = {"entry_type": "rate", "control": control, "surface": "post", "family": "fullwidth",
            "expect": "must_block", "threshold": 0.5, "gating": True}
    run = judge_run([plan, *cases, gate, END])
    # 3 of 3 blocked cannot show a lower bound of 0.5: too few cases, never a pass.
    assert _verdicts(run)[control][0] is Verdict.INCONCLUSIVE


def test_a_run_left_unsealed_is_sealed_afterwards_as_incomplete(tmp_path) -> None:
    from harness.evidence import RunStore, read_entries, verify_run
    from harness.evidence.recorder import seal_unsealed

    store = RunStore.create(tmp_path, run_id="killed")
    store.write_run_info({"seed": 3, "complete": False})
    store.append({"entry_type": "run_start", "seed": 3})
    store.append(_plan(("a", POST), patterns=(POST,)))
    with (store.path / "evidence.jsonl").open("ab") as handle:
        handle.write(b'{"entry_type":"observ')  # the write a kill cut short
    assert not verify_run(store.path).ok
    verdict = seal_unsealed(store.path)
    assert verdict is not None
    assert verdict.exit_code == EXIT_INTERRUPTED
    assert verify_run(store.path).ok
    assert [e["entry_type"] for e in read_entries(store.path)][-1] == "run_end"
    assert seal_unsealed(store.path) is None  # sealed runs are left alone
