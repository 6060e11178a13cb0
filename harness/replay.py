"""Replay: run a recorded run's cases again, as a new run linked to the old one.

A replay takes the recorded command line and run.json: the same seed (so the same case
contents, tags and variants), the same scope (controls, channels, shard, `-k`), the corpora,
the policy and the waivers file by SHA-256 (a file that changed since is refused: it would send
other cases or judge by other rules). The target is the recorded one unless `--profile` or
`--base-url` says otherwise; a run of the embedded reference site is replayed on a new one
with its recorded faults unless `--reference-fault` or `--no-faults` says otherwise. The new
run's run.json names the old one in `replay_of`; after it, `compare` says whether it observed
exactly the recorded cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, EvidenceError
from harness.evidence.chain import MANIFEST_FILE, file_sha256
from harness.evidence.store import new_run_id, read_entries
from harness.evidence.verify import read_run_info, verify_run
from harness.verdicts import latest_observations

# Options a replay sets itself; every other recorded argument (workers, -k, the scenario path,
# --shard, --waivers) is passed on as recorded.
REPLACED = ("--target-profile", "--run-dir", "--base-url", "--reference-fault", "--corpus",
            "--seed", "--policy", "--channel", "--control", "--replay-of")
# What makes two observations the same case: where it was sent and exactly what was sent.
CASE_KEYS = ("surface", "mode", "probe", "variant", "expect", "content_sha256")


@dataclass(frozen=True)
class Replay:
    """A prepared replay: the pytest command line, the new run's directory, the settings it
    was checked with, and what it targets."""

    args: list[str]
    run_dir: Path
    checked: Any  # harness.settings.Checked
    faults: tuple[str, ...]
    target: str


def replay_link(run_dir: Path) -> dict[str, Any]:
    """What a replay's run.json records of the run it replays (`replay_of`)."""
    run_dir = Path(run_dir).resolve()
    manifest = run_dir / MANIFEST_FILE
    if not manifest.is_file():
        raise EvidenceError(f"{run_dir}: no {MANIFEST_FILE}; only a sealed run can be replayed")
    return {"run_id": run_dir.name, "path": str(run_dir),
            "manifest_sha256": file_sha256(manifest)}


def prepare(run_dir: Path, reports_dir: Path, *, profile: Path | None = None,
            base_url: str | None = None, faults: Sequence[str] = (),
            no_faults: bool = False) -> Replay:
    """Check that `run_dir` can be replayed as recorded and build its replay."""
    from harness.cli import _without  # noqa: PLC0415 (the argument-list helper of `--resume`)
    from harness.settings import Settings  # noqa: PLC0415
    from harness.targets.profile import REFERENCE_PROFILE  # noqa: PLC0415

    if faults and no_faults:
        raise ConfigError("--reference-fault and --no-faults contradict each other; give one")
    result = verify_run(run_dir)
    if not result.ok:
        raise EvidenceError(f"cannot replay {run_dir}: it does not verify: {result.problems[0]}")
    info = read_run_info(run_dir)
    if not info.get("args") or info.get("seed") is None:
        raise ConfigError(f"cannot replay {run_dir}: its run.json records no command line or "
                          "seed (a merged run is replayed shard by shard)")
    _check_pins(run_dir, info, profile_given=profile is not None)
    recorded_profile = Path(info["profile"]["path"])
    on_reference = (recorded_profile.resolve() == REFERENCE_PROFILE.resolve()
                    and (info.get("settings") or {}).get("base_url", "default") == "default")
    profile = profile or recorded_profile
    starts_reference = base_url is None and profile.resolve() == REFERENCE_PROFILE.resolve()
    if not starts_reference and (faults or no_faults):
        raise ConfigError("--reference-fault and --no-faults apply only to a replay on the "
                          "embedded reference site (no --base-url, its own profile)")
    if base_url is None and not on_reference and profile == recorded_profile:
        base_url = info["target"]["base_url"]
    chosen: tuple[str, ...] = ()
    if starts_reference and base_url is None:
        chosen = tuple(faults) if faults else () if no_faults else tuple(
            info.get("reference_faults") or ())
    policy = (info.get("policy") or {}).get("path")
    corpora = [Path(c["path"]) for c in info.get("corpora", ())]
    settings = Settings.resolve({
        "profile": profile, "base_url": base_url, "channel": info["channel"],
        "controls": info.get("controls") or [], "reference_faults": list(chosen),
        "corpora": corpora, "policy": policy, "seed": info["seed"],
        "reports_dir": reports_dir,
    }, project=Path.cwd())
    checked = settings.check()
    new_dir = Path(reports_dir).resolve() / new_run_id()
    found = [*_without(info["args"], REPLACED),
             "--target-profile", str(profile), "--run-dir", str(new_dir),
             "--seed", str(info["seed"]), "--channel", info["channel"],
             "--replay-of", str(Path(run_dir).resolve())]
    for pattern in info.get("controls") or ():
        found += ["--control", pattern]
    for corpus in corpora:
        found += ["--corpus", str(corpus)]
    if policy:
        found += ["--policy", policy]
    if base_url:
        found += ["--base-url", base_url]
    for fault in chosen:
        found += ["--reference-fault", fault]
    target = base_url or ("the reference site (faults: " + (", ".join(chosen) or "none") + ")")
    return Replay(found, new_dir, checked, chosen, target)


def _check_pins(run_dir: Path, info: Mapping[str, Any], *, profile_given: bool) -> None:
    """Refuse a replay when a file the run pinned changed since (SHA-256 differs)."""
    pinned = [(f"corpus {c['path']}", c) for c in info.get("corpora", ())]
    pinned += [(f"{what} {info[what]['path']}", info[what])
               for what in ("policy", "waivers_file", "overblocking_bank")
               if (info.get(what) or {}).get("path")]
    if not profile_given:
        pinned.append((f"profile {info['profile']['path']}", info["profile"]))
    changed = []
    for name, pin in pinned:
        path = Path(pin["path"])
        if not path.is_file() or file_sha256(path) != pin["sha256"]:
            changed.append(name)
    if changed:
        hint = "" if profile_given else " (give --profile to replay on another profile)"
        raise ConfigError(f"cannot replay {run_dir} as recorded: changed or missing since the "
                          f"run: {'; '.join(changed)} (SHA-256 differs from run.json){hint}")


def case_keys(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Each observed (test, channel, case) with what was sent: surface, mode, probe, variant,
    expectation and the SHA-256 of the content. (Which controls a case gave evidence for
    depends on what the target did with it, so it is no part of the case.)"""
    found = {}
    for line in latest_observations(entries):
        case = (line.get("details") or {}).get("case") or {}
        key = (line.get("test"), line.get("channel"), line["case_id"])
        if case or key not in found:
            found[key] = tuple(case.get(k) for k in CASE_KEYS)
    return found


def compare(old: Path, new: Path) -> list[str]:
    """How faithfully `new` replayed `old`: its plan and the cases it observed, each against
    the recorded ones. Empty when it planned and observed exactly the recorded cases."""
    old_entries, new_entries = list(read_entries(old)), list(read_entries(new))
    problems = []
    plans = [{t["test"] for e in entries if e["entry_type"] == "plan" for t in e["tests"]}
             for entries in (old_entries, new_entries)]
    if plans[0] != plans[1]:
        problems.append(f"the plan differs: {len(plans[0] - plans[1])} recorded tests not "
                        f"planned, {len(plans[1] - plans[0])} new (the scenarios changed)")
    before, after = case_keys(old_entries), case_keys(new_entries)
    missing = [k for k in before if k not in after]
    if missing:
        problems.append(f"{len(missing)} recorded case(s) not observed again, e.g. "
                        f"{missing[0][0]}")
    extra = [k for k in after if k not in before]
    if extra:
        problems.append(f"{len(extra)} case(s) observed that the run did not, e.g. "
                        f"{extra[0][0]}")
    sent = [k for k in before if k in after and before[k] != after[k]]
    if sent:
        problems.append(f"{len(sent)} case(s) sent differently (surface, mode, probe, variant, "
                        f"expectation or content), e.g. {sent[0][0]}")
    return problems
