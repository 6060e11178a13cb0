"""The `harness` command: assess a target, verify a run, inspect the catalog and canaries.

Exit codes (`harness.verdicts.EXIT_CODES`, `harness exit-codes`): 0 every gating control passed
on a complete run; 1 the gate failed (a gating control failed or was inconclusive, or a waiver
was refused); 2 usage or configuration error, or a request that would have left the allowed
hosts; 3 nothing was assessed; 4 `diff` found a regression; 5 the evidence does not verify; 6
the signature does not verify; 130 the run is incomplete (interrupted and resumable, or merged
without every shard).
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

from harness import __version__, controls, interrupts
from harness.errors import ConfigError, EvidenceError, HarnessError
from harness.load.cli import add_parser as add_load_parser
from harness.report import FORMATS, LANGS
from harness.verdicts import (
    EXIT_BAD_SIGNATURE,
    EXIT_CODES,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_NOT_INTACT,
    EXIT_REGRESSION,
    EXIT_USAGE,
    RunVerdict,
)

EXIT_OK = 0


def entry() -> None:
    """The `harness` command: `main`'s exit code, which a signal coming while the process
    shuts down must not change (Python gives SIGINT and SIGTERM back their default, death)."""
    interrupts.install()  # from the first moment main runs, not only once its options parse
    try:
        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    interrupts.ignore()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    interrupts.install()
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        if isinstance(exc, ConfigError):
            return EXIT_USAGE
        return EXIT_NOT_INTACT if isinstance(exc, EvidenceError) else EXIT_FAIL
    except KeyboardInterrupt as exc:
        print(f"harness: interrupted ({exc or 'SIGINT'})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `harness controls | head`: the reader left; say nothing more on a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    assess = sub.add_parser("assess", help="run the conformance scenarios against a target")
    assess.add_argument("--resume", metavar="RUN", help="finish an interrupted run (a run "
                        "directory, a run id under reports/, or 'latest') with its own settings: "
                        "only the planned cases its evidence lacks run, in the same chain")
    assess.add_argument("--profile", type=Path, help="target profile (default: reference site)")
    assess.add_argument("--base-url", help="base URL of the target (overrides the profile's)")
    assess.add_argument("--channel", choices=("api", "browser", "load", "all"),
                        help="api (default), browser, load or all")
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
    assess.add_argument("--waivers", type=Path, metavar="FILE", help="waivers (YAML list of "
                        "control, reason, approver, expires), recorded with the policy's own")
    assess.add_argument("--shard", metavar="I/N", help="run only share I of N of the plan; "
                        "`harness merge` joins the shards into the run")
    assess.add_argument("-n", "--workers", default="0",
                        help="parallel workers (pytest-xdist): a number or 'auto' (default: 0)")
    assess.add_argument("pytest_args", nargs="*", metavar="-- PYTEST-ARGS",
                        help="extra arguments for pytest (after --)")
    assess.set_defaults(func=cmd_assess)

    _run_commands(sub)
    add_load_parser(sub)
    _profile_commands(sub)

    codes = sub.add_parser("exit-codes", help="print the exit codes and what each means")
    codes.set_defaults(func=cmd_exit_codes)

    ctl = sub.add_parser("controls", help="print the control catalog")
    ctl.add_argument("--automated", action="store_true",
                     help="only controls the harness checks (all or part of)")
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
    for name, what in (("ack", "when the site's report handling acknowledges a report"),
                       ("handle", "when it decides a report"),
                       ("limit", "the handling limit the site publishes")):
        serve.add_argument(f"--report-{name}-seconds", metavar="S", help=f"seconds: {what}")
    serve.set_defaults(func=cmd_serve)
    return parser


def _profile_commands(sub: Any) -> None:
    """The commands that work on a profile: check."""
    profile = sub.add_parser("profile", help="work on a target profile")
    profile_sub = profile.add_subparsers(required=True, metavar="ACTION")
    check = profile_sub.add_parser(
        "check", help="perform every action the profile declares once, with benign content, "
        "and show each step: ok, or why not (exit 0 only when every action works)")
    check.add_argument("profile", type=Path, help="the profile (YAML)")
    check.add_argument("--base-url", help="the target's URL (default: the profile's)")
    check.add_argument("--channel", choices=("api", "browser"), default=None,
                       help="the channel to check (default: api when the profile has one)")
    check.add_argument("--out", type=Path, help="folder for screenshots of failed page steps "
                       "(default: reports/profile-check-<time>)")
    check.add_argument("--seed", type=int, help="seed of the benign content (default: random)")
    check.add_argument("--browser-path", help="Chromium for the browser channel")
    check.set_defaults(func=cmd_profile_check)


def _run_commands(sub: Any) -> None:
    """The commands that work on a recorded run: verify, report, followup."""
    verify = sub.add_parser("verify", help="check that a run's evidence is intact")
    verify.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    verify.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    verify.add_argument("--key", type=Path, metavar="PUB", help="also check the run's "
                        "signature (manifest.sig) with this Ed25519 public key (PEM)")
    verify.set_defaults(func=cmd_verify)

    sign = sub.add_parser("sign", help="sign a verified run's manifest (Ed25519, detached)")
    sign.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    sign.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    sign.add_argument("--key", type=Path, required=True, metavar="KEY",
                      help="Ed25519 private key (PEM): `harness keygen`, or `openssl genpkey "
                      "-algorithm ed25519`")
    sign.set_defaults(func=cmd_sign)

    keygen = sub.add_parser("keygen", help="write an Ed25519 key pair for `sign` and `verify`")
    keygen.add_argument("key", type=Path, help="private key file to write (the public key "
                        "goes to KEY.pub)")
    keygen.set_defaults(func=cmd_keygen)

    diff = sub.add_parser("diff", help="the verdicts that changed from one run to another")
    diff.add_argument("run_a", help="the earlier run (directory, run id or 'latest')")
    diff.add_argument("run_b", help="the later run")
    diff.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON")
    diff.add_argument("--html", type=Path, metavar="FILE",
                      help="also write the diff as a self-contained HTML page")
    diff.set_defaults(func=cmd_diff)

    replay = sub.add_parser("replay", help="run a recorded run's cases again, as a new run "
                            "linked to it")
    replay.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    replay.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    replay.add_argument("--out", type=Path, help="reports directory of the new run (default: "
                        "the recorded run's)")
    replay.add_argument("--profile", type=Path, help="replay on this profile's target")
    replay.add_argument("--base-url", help="replay on the target at this URL")
    replay.add_argument("--reference-fault", action="append", default=[], metavar="NAME",
                        help="start the reference site with this fault instead of the "
                        "recorded ones (repeatable)")
    replay.add_argument("--no-faults", action="store_true",
                        help="start the reference site with no fault")
    replay.set_defaults(func=cmd_replay)

    merge = sub.add_parser("merge", help="join shard runs (`assess --shard I/N`) into one run")
    merge.add_argument("runs", nargs="+", metavar="RUN", help="the shard runs")
    merge.add_argument("--reports", type=Path, help="reports directory the runs are found in "
                       "(default: reports/)")
    merge.add_argument("--out", type=Path, help="reports directory of the merged run "
                       "(default: reports/)")
    merge.set_defaults(func=cmd_merge)

    _report_command(sub)

    follow = sub.add_parser("followup", help="settle a run's pending checks (reports whose "
                            "handling limit outlasted the run) in the same evidence")
    follow.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    follow.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    follow.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="keep polling pending checks this long (default: one poll)")
    follow.set_defaults(func=cmd_followup)

    clean = sub.add_parser("cleanup", help="delete what a run created on the target and did "
                           "not delete (its failed or skipped cleanup), as its profile says")
    clean.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    clean.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    clean.add_argument("--profile", type=Path,
                       help="the profile whose cleanup steps to use (default: the run's)")
    clean.add_argument("--base-url", help="the target's URL (default: the run's)")
    clean.add_argument("--browser-path", help="Chromium, for a profile that deletes through "
                       "its pages (browser.cleanup)")
    clean.set_defaults(func=cmd_cleanup)


def _report_command(sub: Any) -> None:
    """`harness report`: the summary and the report files of a verified run."""
    report = sub.add_parser("report", help="verify a run, print its summary and rebuild its "
                            "reports from its evidence alone (offline; a copied run works)")
    report.add_argument("run", help="run directory, run id under reports/, or 'latest'")
    report.add_argument("--reports", type=Path, help="reports directory (default: reports/)")
    report.add_argument("--format", action="append", choices=FORMATS, metavar="FORMAT",
                        help="text (the summary, the default), html (report.html), article6 "
                        "(assessment.md and .html), oscal (oscal/assessment-results.json), "
                        "junit (junit.xml) or all; repeatable")
    report.add_argument("--out", type=Path, help="folder for the report files (default: "
                        "<run-dir>.report beside the run; never inside it)")
    report.add_argument("--rates", action="store_true",
                        help="print the full rate table instead of the block rate grid")
    report.add_argument("--lang", choices=LANGS, default="zh",
                        help="language of the Article 6 report (default: zh)")
    report.add_argument("--junit", type=Path, help="also write JUnit XML here")
    report.set_defaults(func=cmd_report)


def cmd_assess(args: argparse.Namespace) -> int:
    """Resolve and check the settings once, run the scenarios (the plugin starts the reference
    site when the run targets it), judge the run from its evidence."""
    from harness.evidence import new_run_id  # noqa: PLC0415
    from harness.resources import REPORTS_DIR, SCENARIOS_DIR  # noqa: PLC0415
    from harness.settings import Settings  # noqa: PLC0415

    if args.resume:
        return _resume(args)
    _check_workers(args.workers)
    _check_gate_inputs(args)
    settings = Settings.resolve({
        "profile": args.profile, "base_url": args.base_url, "channel": args.channel,
        "controls": args.control, "reference_faults": args.reference_fault,
        "corpora": args.corpus, "policy": args.policy, "seed": args.seed,
        "browser_path": args.browser_path, "reports_dir": args.out,
    }, project=Path.cwd())
    checked = settings.check()  # nothing starts before every input is known good
    for warning in checked.policy.warnings:
        print(f"harness: warning: {warning}", file=sys.stderr)
    run_dir = (settings.reports_dir or REPORTS_DIR) / new_run_id()
    found = _pytest_args(settings, args, SCENARIOS_DIR, run_dir)
    return _run_pytest(found, run_dir, checked)


def _check_gate_inputs(args: argparse.Namespace) -> None:
    """Refuse a bad --waivers file or --shard before anything starts."""
    from harness.shards import parse_shard  # noqa: PLC0415
    from harness.waivers import load_waivers  # noqa: PLC0415

    if args.waivers:
        load_waivers(args.waivers)
    if args.shard:
        parse_shard(args.shard)


def _check_workers(workers: str) -> None:
    if workers not in ("auto", "logical") and not workers.isdigit():
        raise ConfigError(f"-n {workers!r}: expected a number of workers or 'auto'")


def _run_pytest(found: list[str], run_dir: Path, checked: Any = None) -> int:
    """Run pytest (handing it the checked settings, so nothing is checked twice) and judge
    the run from its evidence with the one judge."""
    import pytest  # noqa: PLC0415

    from harness.evidence.recorder import judge_recorded, seal_unsealed  # noqa: PLC0415

    code = pytest.main(found, plugins=[checked] if checked is not None else [])
    interrupts.settle()  # the run is sealed (or is sealed next): a late signal changes nothing
    if not (run_dir / "evidence.jsonl").is_file():
        if code == pytest.ExitCode.USAGE_ERROR:
            return EXIT_USAGE
        print(f"harness: no evidence was written (pytest exit {int(code)})", file=sys.stderr)
        return EXIT_INTERRUPTED if code == pytest.ExitCode.INTERRUPTED else EXIT_FAIL
    if seal_unsealed(run_dir) is not None:
        print(f"harness: {run_dir} was left unsealed (pytest exit {int(code)}); sealed it as "
              "incomplete", file=sys.stderr)
    verdict = judge_recorded(run_dir)
    print(f"\nrun: {run_dir}")
    _print_outcome(verdict)
    return verdict.exit_code


def _print_outcome(verdict: RunVerdict) -> None:
    from harness.evidence.recorder import verdict_lines  # noqa: PLC0415

    lines = verdict_lines(verdict, grid=False)  # the session's summary showed the grid
    print("\n".join(lines[len(verdict.controls):]).strip())


def _resume(args: argparse.Namespace) -> int:
    """Finish an interrupted run with the settings it recorded; refuse when a file it pinned
    (profile, policy, corpora) has changed since."""
    from harness.evidence import read_run_info, resolve_run, verify_run  # noqa: PLC0415
    from harness.evidence.recorder import seal_unsealed  # noqa: PLC0415
    from harness.probes.corpora import file_sha256  # noqa: PLC0415
    from harness.resources import REPORTS_DIR  # noqa: PLC0415

    run_dir = resolve_run(args.resume, args.out or REPORTS_DIR).resolve()
    if seal_unsealed(run_dir) is not None:
        print(f"harness: {run_dir} was never sealed; sealed it as incomplete", file=sys.stderr)
    result = verify_run(run_dir)
    if not result.ok:
        raise EvidenceError(f"cannot resume {run_dir}: it does not verify: {result.problems[0]}")
    info = read_run_info(run_dir)
    if info.get("complete"):
        raise ConfigError(f"{run_dir} is complete; there is nothing to resume")
    changed = []
    for what in ("profile", "policy"):
        pinned = info.get(what) or {}
        if pinned.get("path") and file_sha256(Path(pinned["path"])) != pinned["sha256"]:
            changed.append(f"{what} {pinned['path']}")
    changed += [f"corpus {c['path']}" for c in info.get("corpora", [])
                if file_sha256(Path(c["path"])) != c["sha256"]]
    if changed:
        raise ConfigError(f"cannot resume {run_dir}: changed since the run started: "
                          f"{'; '.join(changed)} (SHA-256 differs from run.json)")
    # The same command line, with a new target URL when one is given (a reference site is
    # started anew by the plugin: the recorded one is gone).
    found = [*_without(info["args"], ("--base-url",)), "--resume-run"]
    base_url = args.base_url or (None if info.get("reference_faults") is not None
                                 and _targets_reference(info) else info["target"]["base_url"])
    if base_url:
        found += ["--base-url", base_url]
    print(f"resuming {run_dir}: seed {info['seed']}, "
          f"{info['counts']['observed_tests']} of {info['counts']['planned_tests']} "
          "planned tests observed")
    return _run_pytest(found, run_dir)


def _targets_reference(info: dict[str, Any]) -> bool:
    """Whether a recorded run targeted a reference site the plugin started."""
    from harness.targets.profile import REFERENCE_PROFILE  # noqa: PLC0415

    return Path(info["profile"]["path"]).resolve() == REFERENCE_PROFILE.resolve() and \
        (info.get("settings") or {}).get("base_url", "default") == "default"


def _without(found: Sequence[str], options: Sequence[str]) -> list[str]:
    """An argument list without these options and their values."""
    kept: list[str] = []
    skip = False
    for arg in found:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in options:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return kept


def _pytest_args(settings: Any, args: argparse.Namespace, scenarios: Path,
                 run_dir: Path) -> list[str]:
    """The pytest command line of an assessment: every resolved setting given explicitly, so
    pytest-xdist's workers resolve exactly what the command did.

    Start-up is paid by every run and every worker, so what an assessment does not use is
    left out: Hypothesis's and Locust's pytest plugins (Locust's fixtures would import Locust,
    which patches the process with gevent) and pytest's assertion rewriting of the whole
    library (scenarios judge through evidence, not assert; `-- --assert=rewrite` puts it
    back). Together about a third of a one-case run."""
    found = [
        str(scenarios), "--target-profile", str(settings.profile_path),
        "--run-dir", str(run_dir), "--channel", settings.channel, "-p", "no:cacheprovider",
        "-p", "no:hypothesispytest", "-p", "no:locust", "--assert=plain",
        "--rootdir", str(scenarios.parent),
    ]
    if settings.base_url:
        found += ["--base-url", settings.base_url]
    for fault in settings.reference_faults:
        found += ["--reference-fault", fault]
    for pattern in settings.controls:
        found += ["--control", pattern]
    for corpus in settings.corpora:
        found += ["--corpus", str(corpus)]
    if settings.seed is not None:
        found += ["--seed", str(settings.seed)]
    if settings.policy:
        found += ["--policy", str(settings.policy)]
    if settings.browser_path:
        found += ["--browser-path", settings.browser_path]
    if args.waivers:
        found += ["--waivers", str(args.waivers.resolve())]
    if args.shard:
        found += ["--shard", args.shard]
    if args.workers not in ("0", ""):
        found += ["-n", args.workers]
    return [*found, *args.pytest_args]


def _resolve(args: argparse.Namespace, run: str | None = None) -> Path:
    from harness.evidence import resolve_run  # noqa: PLC0415
    from harness.resources import REPORTS_DIR  # noqa: PLC0415

    return resolve_run(run or args.run, args.reports or REPORTS_DIR)


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.evidence import verify_run  # noqa: PLC0415

    run_dir = _resolve(args)
    public = None
    if args.key:
        from harness.evidence.sign import load_public_key  # noqa: PLC0415

        public = load_public_key(args.key)
    result = verify_run(run_dir)
    for warning in result.warnings:
        print(f"warning: {warning}")
    if not result.ok:
        print(f"{run_dir}: NOT intact: {result.problems[0]}")
        for problem in result.problems[1:]:
            print(f"  also: {problem}")
        return EXIT_NOT_INTACT
    print(f"{run_dir}: {_trust(run_dir, result.warnings)} ({result.lines} evidence lines)")
    if public is None:
        return EXIT_OK
    from harness.evidence.sign import check_signature  # noqa: PLC0415

    signature = check_signature(run_dir, public)
    if not signature.ok:
        print(f"{run_dir}: signature NOT valid: {signature.problem}")
        return EXIT_BAD_SIGNATURE
    print(f"{run_dir}: signed by key {signature.key_id}, signature valid")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign a run that verifies (signing one that does not would vouch for its tampering)."""
    from harness.evidence.sign import load_private_key, sign_run  # noqa: PLC0415

    run_dir = _resolve(args)
    key = load_private_key(args.key)
    if not _verified(run_dir):
        return EXIT_NOT_INTACT
    signature = sign_run(run_dir, key)
    print(f"{run_dir}: signed manifest {signature['manifest_sha256'][:16]} with key "
          f"{signature['key_id']} (manifest.sig)")
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from harness.evidence.sign import keygen  # noqa: PLC0415

    private, public = keygen(args.key)
    print(f"private key: {private} (keep it secret)\npublic key: {public}")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """The verdicts that changed between two verified runs; 4 on a regression."""
    from harness.diff import diff_runs  # noqa: PLC0415
    from harness.evidence.chain import atomic_write  # noqa: PLC0415

    runs = [_resolve(args, name) for name in (args.run_a, args.run_b)]
    if not all([_verified(run, quiet=args.json) for run in runs]):
        return EXIT_NOT_INTACT
    found = diff_runs(*runs)
    print(json.dumps(found.evidence(), ensure_ascii=False, indent=1) if args.json
          else "\n".join(found.lines()))
    if args.html is not None:
        atomic_write(args.html, found.html().encode("utf-8"))
    return EXIT_REGRESSION if found.regressed else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Run a recorded run's cases again as a new run; say how faithfully it replayed them."""
    from harness.replay import compare, prepare  # noqa: PLC0415

    run_dir = _resolve(args).resolve()
    replay = prepare(run_dir, args.out or run_dir.parent, profile=args.profile,
                     base_url=args.base_url, faults=args.reference_fault,
                     no_faults=args.no_faults)
    print(f"replaying {run_dir} on {replay.target} as {replay.run_dir.name}")
    code = _run_pytest(replay.args, replay.run_dir, replay.checked)
    if (replay.run_dir / "manifest.json").is_file():
        problems = compare(run_dir, replay.run_dir)
        for problem in problems:
            print(f"harness: warning: not an exact replay: {problem}", file=sys.stderr)
        if not problems:
            print(f"replay of {run_dir.name}: the same cases planned and observed")
    return code


def cmd_merge(args: argparse.Namespace) -> int:
    """Join shard runs into one run judged over the whole plan."""
    from harness.evidence.recorder import verdict_lines  # noqa: PLC0415
    from harness.resources import REPORTS_DIR  # noqa: PLC0415
    from harness.shards import merge  # noqa: PLC0415

    runs = [_resolve(args, name) for name in args.runs]
    run_dir, verdict, shards = merge(runs, args.out or REPORTS_DIR)
    for shard in shards:
        state = "intact" if shard.problem is None else f"NOT counted: {shard.problem}"
        print(f"shard {shard.index or '?'}/{shard.count or '?'} {shard.run_dir}: {state}")
    print("\n".join(verdict_lines(verdict)))
    print(f"merged run: {run_dir}")
    return verdict.exit_code


def _verified(run_dir: Path, *, quiet: bool = False) -> str | None:
    """Verify a run before anything is reported from it: how far it can be trusted, or None
    when it is not intact; print why when it is not intact
    (and, unless `quiet`, how far it can be trusted when it is)."""
    from harness.evidence import verify_run  # noqa: PLC0415

    result = verify_run(run_dir)
    if not result.ok:
        print(f"{run_dir}: NOT intact, nothing is reported from it: {result.problems[0]}",
              file=sys.stderr)
        return None
    if not quiet:
        print(f"{run_dir}: {_trust(run_dir, result.warnings)} ({result.lines} evidence lines)")
    return _trust(run_dir, result.warnings)


def _trust(run_dir: Path, warnings: Sequence[str]) -> str:
    """How far an intact run can be trusted: a chain anyone could rebuild, or an HMAC checked
    against the key."""
    from harness.evidence import EVIDENCE_KEY_ENV  # noqa: PLC0415

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    if "hmac" not in manifest:
        return (f"intact, unauthenticated (no HMAC: record with {EVIDENCE_KEY_ENV} set to "
                "authenticate)")
    if warnings:
        return f"intact, unauthenticated (it has an HMAC, but {EVIDENCE_KEY_ENV} is not set)"
    return "intact, authenticated (HMAC checked)"


def cmd_report(args: argparse.Namespace) -> int:
    """Verify the run, print its summary, write the report files its formats ask for; the
    exit code is the run's own."""
    from harness.evidence.recorder import verdict_lines  # noqa: PLC0415
    from harness.report.junit import write_junit  # noqa: PLC0415
    from harness.report.model import RunReport  # noqa: PLC0415
    from harness.report.render import default_out, write_reports  # noqa: PLC0415

    run_dir = _resolve(args)
    trust = _verified(run_dir)
    if trust is None:
        return EXIT_NOT_INTACT
    report = RunReport.load(run_dir, trust)
    print("\n".join(verdict_lines(report.verdict,
                                  rates=report.rate_lines() if args.rates else None)))
    formats = [f for f in args.format or () if f != "text"]
    if formats:
        write_reports(report, formats, args.out or default_out(run_dir), lang=args.lang,
                      progress=print)
    if args.junit:
        print(f"junit: {write_junit(run_dir, args.junit)}")
    return report.verdict.exit_code


def cmd_followup(args: argparse.Namespace) -> int:
    """Poll the pending checks, append their verdicts to the run, judge the run again."""
    from harness.followup import followup  # noqa: PLC0415

    run_dir = _resolve(args)
    if not _verified(run_dir):
        return EXIT_NOT_INTACT
    result = followup(run_dir, args.wait)
    if result.polled == 0:
        print(f"{run_dir}: no pending checks")
    else:
        print(f"{run_dir}: {result.polled} pending check(s) polled, {result.settled} settled, "
              f"{result.pending} still pending")
    _print_outcome(result.verdict)
    return result.verdict.exit_code


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Retry a run's cleanup; 0 when nothing it created is left on the target."""
    from harness.cleanup import retry  # noqa: PLC0415

    run_dir = _resolve(args)
    if not _verified(run_dir):
        return EXIT_NOT_INTACT
    ok, failed = retry(run_dir, profile_path=args.profile, base_url=args.base_url,
                       browser_path=args.browser_path)
    if ok + failed == 0:
        print(f"{run_dir}: nothing left to delete")
        return EXIT_OK
    print(f"{run_dir}: {ok} deleted, {failed} failed"
          + (f" (see the cleanup lines of {run_dir / 'evidence.jsonl'})" if failed else ""))
    return EXIT_FAIL if failed else EXIT_OK


def cmd_exit_codes(args: argparse.Namespace) -> int:
    for code, meaning in EXIT_CODES.items():
        print(f"{code}  {meaning}")
    return EXIT_OK


def cmd_controls(args: argparse.Namespace) -> int:
    for control in controls.catalog().values():
        if args.automated and not control.automated:
            continue
        print(f"{control.id:<26} {control.clause:<5} {control.automation:<9} {control.title}")
        print(f"{'':<26} criterion: {control.criterion}")
        print(f"{'':<26} source: {control.source}")
        if control.assessor:
            print(f"{'':<26} assessor: {control.assessor}")
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


def cmd_profile_check(args: argparse.Namespace) -> int:
    """Check that a profile drives its site: every declared action, step by step."""
    from datetime import datetime, timezone  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415
    from rich.live import Live  # noqa: PLC0415

    from harness.profile_check import check_profile, summary_lines, table  # noqa: PLC0415
    from harness.resources import REPORTS_DIR  # noqa: PLC0415
    from harness.targets.profile import load_profile  # noqa: PLC0415

    profile = load_profile(args.profile, base_url=args.base_url)
    channel = args.channel or ("api" if "api" in profile.channels else "browser")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = (args.out or REPORTS_DIR / f"profile-check-{stamp}").resolve()
    console = Console()
    console.print(f"[bold]{profile.name}[/bold] ({profile.path}) at {profile.base_url}, "
                  f"through the {channel} channel")
    rows: list[Any] = []
    with Live(table(rows), console=console, refresh_per_second=4) as live:
        def shown(row: Any) -> None:
            rows.append(row)
            live.update(table(rows))

        check = check_profile(profile, channel, out, seed=args.seed,
                              browser_path=args.browser_path, progress=shown)
    console.line()
    for line in summary_lines(check):
        console.print(line, style="green" if check.ok else "red", markup=False,
                      highlight=False)
    return EXIT_OK if check.ok else EXIT_FAIL


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
    entry()
