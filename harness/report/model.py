"""A recorded run as every report reads it: its settings, evidence, manifest and the one judge's
verdict, gathered once so that no renderer reads evidence or judges on its own.

Reports are rebuilt from the run directory alone (a copied folder works): nothing here reads
the profile, the policy or the network. Callers verify the run first (`harness report` does).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.controls import A5_6_TIMELY, MANUAL, Control, catalog
from harness.errors import ConfigError, EvidenceError
from harness.evidence import read_entries, read_run_info
from harness.evidence.chain import atomic_write
from harness.targets.profile import SURFACES
from harness.verdicts import (
    MUST_BLOCK,
    ControlVerdict,
    RateCell,
    RunVerdict,
    Verdict,
    judge_run,
    latest_observations,
)

NOT_ASSESSED = "not_assessed"  # an automated control outside the run's scope
STAGE = "stage"  # the `details` key of a load observation: which stage its figures are of
STAGE_NOISE = frozenset({STAGE, "plan", "artifacts"})  # details that are not stage figures
RUN_WIDE = "run-wide"  # the group of observations that belong to no surface


@dataclass(frozen=True)
class ControlRow:
    """One catalog control in a report: its verdict from the judge, or why it has none
    (`manual`: the assessor's; `not_assessed`: outside this run's scope)."""

    control: Control
    judged: ControlVerdict | None
    status: str

    @property
    def reason(self) -> str:
        if self.judged is not None:
            return self.judged.reason
        if self.status == MANUAL:
            return f"for the assessor: {self.control.assessor}"
        return "not assessed: outside this run's controls or channels"

    @property
    def coverage(self) -> str:
        """`observed/planned` cases, or a dash for a control the run did not judge."""
        if self.judged is None:
            return "-"
        return f"{self.judged.observed}/{self.judged.planned}"


@dataclass(frozen=True)
class LatencyPoint:
    """One filed report's handling times against its limits (A5.6-TIMELY)."""

    case_id: str
    channel: str
    verdict: str
    acknowledged_s: float | None
    handled_s: float | None
    ack_limit_s: float
    handle_limit_s: float


@dataclass(frozen=True)
class RunReport:
    """Everything a renderer needs of one verified run."""

    run_dir: Path
    info: dict[str, Any]
    entries: list[dict[str, Any]]
    verdict: RunVerdict
    files: dict[str, str]  # run-relative path -> SHA-256, from the manifest
    trust: str  # how far the evidence can be trusted, as verification found it

    @classmethod
    def load(cls, run_dir: Path, trust: str) -> RunReport:
        """Read a run directory (verified by the caller) and judge it with the one judge."""
        run_dir = Path(run_dir)
        entries = list(read_entries(run_dir))
        try:
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvidenceError(f"{run_dir}: manifest.json cannot be read: {exc}") from exc
        return cls(run_dir=run_dir, info=read_run_info(run_dir), entries=entries,
                   verdict=judge_run(entries), files=dict(manifest.get("files", {})),
                   trust=trust)

    @property
    def run_id(self) -> str:
        return str(self.info.get("run_id") or self.run_dir.name)

    @property
    def about(self) -> dict[str, Any]:
        """The profile's `about` section as the run recorded it (empty when it had none)."""
        return dict(self.info.get("about") or {})

    def observations(self) -> list[Mapping[str, Any]]:
        """The observations the judge counts (the latest of each case)."""
        return latest_observations(self.entries)

    def rows(self) -> list[ControlRow]:
        """Every catalog control, in catalog order, with its verdict or why it has none."""
        judged = {c.control: c for c in self.verdict.controls}
        rows = []
        for control in catalog().values():
            found = judged.get(control.id)
            if found is not None:
                status = found.verdict.value
            else:
                status = NOT_ASSESSED if control.automated else MANUAL
            rows.append(ControlRow(control, found, status))
        return rows

    def clauses(self) -> dict[str, list[ControlRow]]:
        """The rows grouped by clause, clauses in order (5(3), 5(4), 5(6))."""
        grouped: dict[str, list[ControlRow]] = {}
        for row in self.rows():
            grouped.setdefault(row.control.clause, []).append(row)
        return dict(sorted(grouped.items()))

    def failing(self, control_id: str, limit: int = 3) -> list[Mapping[str, Any]]:
        """The first failing observations of a control (the cases that show its hazard)."""
        found = [o for o in self.observations()
                 if o["control"] == control_id and o["verdict"] == Verdict.FAIL.value]
        return found[:limit]

    def automation_counts(self) -> dict[str, int]:
        """How many catalog controls are automated, partly automated and manual."""
        counts: dict[str, int] = {}
        for control in catalog().values():
            counts[control.automation] = counts.get(control.automation, 0) + 1
        return counts

    def rate_lines(self) -> list[dict[str, Any]]:
        """The `rate` lines of the run's last seal (a resumed run seals its cells again)."""
        latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for e in self.entries:
            if e["entry_type"] == "rate":
                latest[(e["control"], e["surface"], e["family"], e["expect"])] = e
        return list(latest.values())

    def by_surface(self) -> dict[str, list[Mapping[str, Any]]]:
        """Observations grouped by surface (in the profile's order), run-wide ones last."""
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        for line in self.observations():
            grouped.setdefault(line.get("surface") or RUN_WIDE, []).append(line)
        order = [*SURFACES, RUN_WIDE]
        return dict(sorted(grouped.items(), key=lambda kv: order.index(kv[0])
                           if kv[0] in order else len(order)))

    def latencies(self) -> list[LatencyPoint]:
        """The handling times of every report A5.6-TIMELY followed, with their limits."""
        points = []
        for line in self.observations():
            details = line.get("details") or {}
            limits = details.get("limits_s")
            if line["control"] != A5_6_TIMELY or not limits:
                continue
            elapsed = (details.get("timeline") or {}).get("elapsed_s") or {}
            points.append(LatencyPoint(
                str(line["case_id"]), str(line.get("channel")), str(line["verdict"]),
                elapsed.get("acknowledged"), elapsed.get("handled"),
                float(limits["acknowledge"]), float(limits["handle"])))
        return points

    def stages(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Load stage figures per control, in stage order: the observations whose details
        carry a `stage` (index, users, seconds), each as one row of the stage's name, its
        verdict and its figures (nested ones flattened: `ack_s.p95`)."""
        by_control: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for line in self.observations():
            details = line.get("details") or {}
            stage = details.get(STAGE)
            if not isinstance(stage, Mapping) or "index" not in stage:
                continue
            row: dict[str, Any] = {"stage": f"{stage['index']}: {stage.get('users')} users",
                                   "verdict": line["verdict"], "users": stage.get("users")}
            row.update(_flat({k: v for k, v in details.items() if k not in STAGE_NOISE}))
            by_control.setdefault(str(line["control"]), []).append((int(stage["index"]), row))
        return [(control, [row for _, row in sorted(rows, key=lambda r: r[0])])
                for control, rows in by_control.items()]

    def traces(self, line: Mapping[str, Any]) -> list[str]:
        """The run-relative paths of what traces an observation: the Playwright traces in its
        test's folder, else the HTTP exchanges it recorded."""
        folders = {str(PurePosixPath(path).parent) for path in artifact_paths(line)}
        found = sorted(path for path in self.files
                       if str(PurePosixPath(path).parent) in folders
                       and PurePosixPath(path).name.startswith("trace-"))
        exchanges = (line.get("details") or {}).get("exchanges")
        if not found and isinstance(exchanges, str) and exchanges in self.files:
            found = [exchanges]
        return found


def _flat(figures: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as one level (`{"ack_s": {"p95": 1}}` -> `{"ack_s.p95": 1}`); lists are
    kept whole."""
    flat: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def artifact_paths(line: Mapping[str, Any]) -> Iterable[str]:
    """Every artifact path an observation names (its sightings' and its exchanges)."""
    details = line.get("details") or {}
    if isinstance(details.get("exchanges"), str):
        yield details["exchanges"]
    for sighting in details.get("sightings") or ():
        yield from sighting.get("artifacts") or ()


def block_grid(cells: Iterable[RateCell]) -> tuple[list[str], list[str],
                                                    dict[tuple[str, str], RateCell]]:
    """The must_block cells as a family x surface grid: (families, surfaces, cells by
    (family, surface)), families and surfaces in the order the cells first name them."""
    grid: dict[tuple[str, str], RateCell] = {}
    families: list[str] = []
    surfaces: list[str] = []
    for cell in cells:
        if cell.expect != MUST_BLOCK:
            continue
        grid[(cell.family, cell.surface)] = cell
        if cell.family not in families:
            families.append(cell.family)
        if cell.surface not in surfaces:
            surfaces.append(cell.surface)
    surfaces.sort(key=lambda s: SURFACES.index(s) if s in SURFACES else len(SURFACES))
    return families, surfaces, grid


def write_output(path: Path, data: bytes) -> Path:
    """Write one report file (atomically, its folder made); a clear error when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
