"""The `harness` command: assess a target, verify a run, inspect the catalog and canaries.

Exit codes of `harness assess`: 0 every gating control passed; 1 a control failed or was
inconclusive; 2 usage or configuration error (nothing was sent).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import __version__, controls
from harness.errors import ConfigError, HarnessError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAIL
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_FAIL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    assess = sub.add_parser("assess", help="run the conformance scenarios against a target")
    assess.add_argument("--profile", type=Path, help="target profile (default: reference site)")
    assess.add_argument("--base-url", help="base URL of the target (overrides the profile's)")
    assess.add_argument("--channel", choices=("api", "browser", "all"), default="api")
    assess.add_argument("--control", action="append", default=[], metavar="PATTERN",
                        help="assess only the controls matching this pattern, e.g. 'A5.6-*' "
                        "(repeatable; default: every automated control)")
    assess.add_argument("--reference-fault", action="append", default=[], metavar="NAME",
                        help="start the reference site with this fault (repeatable)")
    assess.add_argument("--corpus", action="append", default=[], type=Path, metavar="FILE",
                        help="a corpus (CSV or JSONL) the evasion scenarios send (repeatable; "
                        "default: the profile's `corpora`, else the canary sample)")
    assess.add_argument("--out", type=Path, help="reports directory (default: reports/)")
    assess.add_argument("--seed", type=int, help="run seed (default: random)")
    assess.add_argument("--policy", type=Path, help="assessment policy file")
    assess.add_argument("--browser-path", help="Chromium for the browser channel "
                        "(default: Playwright's own, else Debian's)")
    assess.add_argument("-n", "--workers", default="0",
                        help="parallel workers (pytest-xdist): a number or 'auto' (default: 0)")
    assess.add_argument("pytest_args", nargs="*", metavar="-- PYTEST-ARGS",
                        help="extra arguments for pytest (after --)")
    assess.set_defaults(func=cmd_assess)

    _run_commands(sub)

    ctl = sub.add_parser("controls", help="print the control catalog")
    ctl.add_argument("--automated", action="store_true", help="only controls checked today")
    ctl.set_defaults(func=cmd_controls)

    canaries = sub.add_parser("canaries", help="print the canary lexicon for a keyword library")
    canaries.set_defaults(func=cmd_canaries)

    corpus = sub.add_parser("corpus", help="inspect the corpora a run can send")
    corpus_sub = corpus.add_subparsers(required=True, metavar="ACTION")
    listing = corpus_sub.add_parser("list", help="corpora found, with their SHA-256 pins")
    listing.add_argument("dirs", nargs="*", type=Path, help="folders (default: fixtures/corpora)")
    listing.set_defaults(func=cmd_corpus_list)
    show = corpus_sub.add_parser("show", help="a corpus's pin and its category x expect table")
    show.add_argument("path", type=Path)
    show.set_defaults(func=cmd_corpus_show)
    draw = corpus_sub.add_parser("sample", help="the rows a run would send (JSON lines)")
    draw.add_argument("path", type=Path)
    draw.add_argument("-n", type=int, default=20, help="how many rows (default: 20)")
    draw.add_argument("--seed", type=int, default=0)
    draw.add_argument("--expect", choices=("must_block", "must_allow"))
    draw.set_defaults(func=cmd_corpus_sample)

    serve = sub.add_parser("serve-reference", help="run the embedded reference site")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME")
    serve.add_argument("--list-faults", action="store_true", help="print the faults and exit")
    for name, what in (("ack", "when the site's report desk acknowledges a report"),
                       ("handle", "when it decides a report"),
                       ("limit", "the handling limit the site publishes")):
        serve.add_argument(f"--report-{name}-seconds", metavar="S", help=f"seconds: {what}")
    serve.set_defaults(func=cmd_serve)
    return parser


def _run_commands(sub: Any) -> None:
    """The commands that work on a recorded run: verify, report, followup."""
    verify = sub.add_parser("verify", help="check that a run's evidence is intact")
    verify.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    verify.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    verify.set_defaults(func=cmd_verify)

    report = sub.add_parser("report", help="print a run's per-control summary from its evidence")
    report.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    report.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    report.add_argument("--junit", type=Path, help="also write JUnit XML here")
    report.set_defaults(func=cmd_report)

    follow = sub.add_parser("followup", help="settle a run's pending checks (reports whose "
                            "handling limit outlasted the run) in the same evidence")
    follow.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    follow.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    follow.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="keep polling pending checks this long (default: one poll)")
    follow.set_defaults(func=cmd_followup)


def cmd_assess(args: argparse.Namespace) -> int:
    """Validate everything, start the reference site if needed, run scenarios, judge the run."""
    import pytest  # noqa: PLC0415

    from harness import reference  # noqa: PLC0415
    from harness.evidence import new_run_id, read_entries  # noqa: PLC0415
    from harness.policy import load_policy  # noqa: PLC0415
    from harness.probes.corpora import select_corpora  # noqa: PLC0415
    from harness.pytest_plugin import REPORTS_DIR, SCENARIOS_DIR  # noqa: PLC0415
    from harness.targets.profile import REFERENCE_PROFILE, load_profile  # noqa: PLC0415

    load_policy(args.policy)
    controls.check_patterns(args.control)
    select_corpora(args.corpus, args.profile or REFERENCE_PROFILE)  # a bad corpus: refuse now
    if args.channel != "api":
        from harness.targets.browser import find_browser  # noqa: PLC0415

        find_browser(args.browser_path)  # no browser: refuse before starting anything
    profile_path = args.profile or REFERENCE_PROFILE
    is_reference = profile_path.resolve() == REFERENCE_PROFILE.resolve()
    if args.reference_fault and (not is_reference or args.base_url):
        raise ConfigError("--reference-fault applies only when the harness starts the "
                          "reference site (no --profile, no --base-url)")
    site = None
    base_url = args.base_url
    if is_reference and not base_url:
        known = reference.list_faults()
        unknown = [name for name in args.reference_fault if name not in known]
        if unknown:
            raise ConfigError(f"unknown reference fault(s) {unknown}; see "
                              "`harness serve-reference --list-faults`")
    else:
        load_profile(profile_path, base_url=base_url)  # refuse a bad profile before anything
    run_dir = (args.out or REPORTS_DIR) / new_run_id()
    try:
        if is_reference and not base_url:
            site = reference.start(args.reference_fault)
            os.environ[reference.ADMIN_TOKEN_ENV] = site.admin_token
            base_url = site.url
            print(f"reference site: {base_url} faults: {', '.join(site.faults) or 'none'}")
        load_profile(profile_path, base_url=base_url)
        code = pytest.main(_pytest_args(args, SCENARIOS_DIR, profile_path, base_url, run_dir))
    finally:
        if site is not None:
            site.stop()
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if not (run_dir / "evidence.jsonl").is_file():
        print(f"harness: no evidence was written (pytest exit {int(code)})", file=sys.stderr)
        return EXIT_FAIL
    verdicts = {e["control"]: e["verdict"] for e in read_entries(run_dir)
                if e["entry_type"] == "control"}
    return _judge_run(verdicts, run_dir)


def _pytest_args(args: argparse.Namespace, scenarios: Path, profile: Path, base_url: str,
                 run_dir: Path) -> list[str]:
    """The pytest command line of an assessment."""
    found = [
        str(scenarios), "--target-profile", str(profile), "--base-url", base_url,
        "--run-dir", str(run_dir), "--channel", args.channel, "-p", "no:cacheprovider",
        "--rootdir", str(scenarios.parent),
    ]
    for fault in args.reference_fault:
        found += ["--reference-fault", fault]
    for pattern in args.control:
        found += ["--control", pattern]
    for corpus in args.corpus:
        found += ["--corpus", str(corpus)]
    if args.seed is not None:
        found += ["--seed", str(args.seed)]
    if args.policy:
        found += ["--policy", str(args.policy)]
    if args.browser_path:
        found += ["--browser-path", args.browser_path]
    if args.workers not in ("0", ""):
        found += ["-n", args.workers]
    return [*found, *args.pytest_args]


def _judge_run(verdicts: dict[str, str], run_dir: Path) -> int:
    """0 when every automated gating control in the run's scope has a passing verdict.

    The scope is the run's `--control` patterns and channels (from run.json); an automated
    control in scope without a verdict fails closed. Controls out of scope are listed. A control
    whose evidence says it did not gate this run (an evasion family the policy only measures)
    is listed with its verdict and does not fail the run.
    """
    from harness.evidence import read_entries  # noqa: PLC0415

    measured = {e["control"] for e in read_entries(run_dir)
                if e["entry_type"] == "control" and e.get("gating") is False}
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    patterns = info.get("controls") or []
    channels = info.get("channels") or ["api"]
    failing, outside = [], []
    for control in controls.catalog().values():
        if not control.automated or not control.gating:
            continue
        if not control.in_scope(patterns, channels):
            outside.append(control.id)
            continue
        if control.id in measured:
            continue
        verdict = verdicts.get(control.id, "inconclusive (not assessed)")
        if verdict not in ("pass", "not_applicable", "waived"):
            failing.append(f"{control.id}: {verdict}")
    print(f"\nrun: {run_dir}")
    if outside:
        print(f"not in this run's scope (controls {patterns or 'all'}, channels "
              f"{', '.join(channels)}): {', '.join(outside)}")
    if measured:
        print("measured, not gated by the policy: " + ", ".join(
            f"{control} {verdicts.get(control)}" for control in sorted(measured)))
    if failing:
        print("gating controls not passed:\n  " + "\n  ".join(failing))
        return EXIT_FAIL
    print("every gating control passed")
    return EXIT_OK


def _resolve(args: argparse.Namespace) -> Path:
    from harness.evidence import resolve_run  # noqa: PLC0415
    from harness.pytest_plugin import REPORTS_DIR  # noqa: PLC0415

    return resolve_run(args.run, args.reports or REPORTS_DIR)


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.evidence import verify_run  # noqa: PLC0415

    run_dir = _resolve(args)
    result = verify_run(run_dir)
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.ok:
        print(f"{run_dir}: intact ({result.lines} evidence lines)")
        return EXIT_OK
    print(f"{run_dir}: NOT intact: {result.problems[0]}")
    for problem in result.problems[1:]:
        print(f"  also: {problem}")
    return EXIT_FAIL


def cmd_report(args: argparse.Namespace) -> int:
    from harness.evidence import read_entries  # noqa: PLC0415
    from harness.report.junit import write_junit  # noqa: PLC0415
    from harness.report.summary import control_table, rate_table  # noqa: PLC0415

    run_dir = _resolve(args)
    entries = list(read_entries(run_dir))
    rows = [(e["control"], e["verdict"], e.get("reason", "")) for e in entries
            if e["entry_type"] == "control"]
    for line in control_table(rows):
        print(line)
    rates = [e for e in entries if e["entry_type"] == "rate"]
    if rates:
        print("\nrates (95% Wilson intervals)")
        for line in rate_table(rates):
            print(line)
    if args.junit:
        print(f"junit: {write_junit(run_dir, args.junit)}")
    verdicts = {control: verdict for control, verdict, _ in rows}
    return _judge_run(verdicts, run_dir)


def cmd_followup(args: argparse.Namespace) -> int:
    """Poll the pending checks, append their verdicts to the run, judge the run again."""
    from harness.followup import followup  # noqa: PLC0415

    run_dir = _resolve(args)
    result = followup(run_dir, args.wait)
    if result.polled == 0:
        print(f"{run_dir}: no pending checks")
    else:
        print(f"{run_dir}: {result.polled} pending check(s) polled, {result.settled} settled, "
              f"{result.pending} still pending")
    return _judge_run(result.verdicts, run_dir)


def cmd_controls(args: argparse.Namespace) -> int:
    for control in controls.catalog().values():
        if args.automated and not control.automated:
            continue
        state = "automated" if control.automated else "planned"
        print(f"{control.id:<26} {control.clause:<5} {state:<9} {control.title}")
        print(f"{'':<26} criterion: {control.criterion}")
        print(f"{'':<26} source: {control.source}")
    return EXIT_OK


def cmd_canaries(args: argparse.Namespace) -> int:
    from harness.probes.canaries import lexicon  # noqa: PLC0415

    for canary in lexicon().values():
        print(canary.text)
    return EXIT_OK


def cmd_corpus_list(args: argparse.Namespace) -> int:
    from harness.probes.corpora import CORPORA_DIR, list_corpora  # noqa: PLC0415

    for info in list_corpora(args.dirs or (CORPORA_DIR,)):
        print(info.summary())
    return EXIT_OK


def cmd_corpus_show(args: argparse.Namespace) -> int:
    from harness.probes.corpora import show_corpus  # noqa: PLC0415

    print("\n".join(show_corpus(args.path)))
    return EXIT_OK


def cmd_corpus_sample(args: argparse.Namespace) -> int:
    from harness.probes.corpora import sample_corpus  # noqa: PLC0415

    print("\n".join(sample_corpus(args.path, args.n, args.seed, args.expect)))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    command = [sys.executable, "-m", "reference_site", "--port", str(args.port)]
    for fault in args.fault:
        command += ["--fault", fault]
    for name in ("ack", "handle", "limit"):
        value = getattr(args, f"report_{name}_seconds")
        if value is not None:
            command += [f"--report-{name}-seconds", value]
    if args.list_faults:
        command.append("--list-faults")
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
