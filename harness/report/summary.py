"""Terminal lines rendered from the one judge's verdict: one line per control with its coverage,
a family x surface grid of block rates (one cell per rate), and the full rate table, which only
`harness report --rates` prints (and the HTML report shows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness.controls import MANUAL, PARTIAL, catalog
from harness.report.model import block_grid
from harness.report.templating import MARKS
from harness.verdicts import MUST_BLOCK, RateCell, Verdict

# A grid cell's mark after its rate: nothing for a pass.
CELL_MARKS = {"pass": "", "fail": "!", "inconclusive": "?", "not_applicable": "", "waived": "w"}
SURFACE_LABELS = {"account_name": "acct", "nickname": "nick", "bio": "bio", "remark": "rmk",
                  "avatar": "avtr", "group_name": "gname", "group_intro": "gintro",
                  "group_logo": "glogo", "post": "post", "comment": "cmnt", "forward": "fwd",
                  "group_message": "gmsg"}


def control_table(rows: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """Aligned lines `CONTROL  VERDICT  observed/planned  reason` for (control id, verdict,
    coverage, reason) rows."""
    rows = list(rows)
    width = max((len(control) for control, *_ in rows), default=10)
    cover = max((len(coverage) for _, _, coverage, _ in rows), default=3)
    return [f"{control:<{width}}  {MARKS.get(verdict, verdict):<12}  {coverage:>{cover}}  {reason}"
            for control, verdict, coverage, reason in rows]


def rate_grid(cells: Iterable[RateCell]) -> list[str]:
    """The must_block block rates as one cell each: families down, surfaces across, `!` after a
    failing cell and `?` after an inconclusive one; failing false-block (must_allow) cells are
    listed under it. No lines when the run has no rate cells."""
    cells = list(cells)
    families, surfaces, grid = block_grid(cells)
    lines: list[str] = []
    if families:
        width = max(len(family) for family in families)
        labels = [SURFACE_LABELS.get(s, s[:6]) for s in surfaces]
        lines.append(f"{'block rate':<{width}}  " + " ".join(f"{x:>6}" for x in labels))
        for family in families:
            shown = []
            for surface in surfaces:
                cell = grid.get((family, surface))
                shown.append(f"{'-':>6}" if cell is None else f"{_cell(cell):>6}")
            lines.append(f"{family:<{width}}  " + " ".join(shown).rstrip())
        lines.append("(! fail, ? inconclusive, - not measured; columns: "
                     + ", ".join(f"{SURFACE_LABELS.get(s, s[:6])}={s}" for s in surfaces) + ")")
    false_blocks = [c for c in cells if c.expect != MUST_BLOCK
                    and c.verdict not in (Verdict.PASS, Verdict.NOT_APPLICABLE)]
    for cell in false_blocks:
        lines.append(f"false blocks {cell.surface}/{cell.family}: "
                     f"{MARKS.get(cell.verdict.value, cell.verdict.value)} {cell.reason}")
    return lines


def _cell(cell: RateCell) -> str:
    if cell.rate.value is None:
        return "-" + CELL_MARKS.get(cell.verdict.value, "?")
    return f"{cell.rate.value:.0%}" + CELL_MARKS.get(cell.verdict.value, "?")


def rate_table(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Aligned lines of the `rate` evidence entries: surface x family x expectation with k/n,
    the rate, its 95% Wilson interval, the gate and the verdict; one header line first."""
    header = ("surface", "family", "expect", "k/n", "rate", "95% interval", "gate", "verdict")
    rows = [header]
    for e in entries:
        sign = ">=" if e["bound"] == "low" else "<="
        gate = f"{e['bound']} {sign} {e['threshold']:g}" + ("" if e["gating"] else " (measured)")
        rate = "-" if e["rate"] is None else f"{e['rate']:.1%}"
        kn = f"{e['k']}/{e['n']}" + (f" +{e['unobserved']}?" if e["unobserved"] else "")
        rows.append((e["surface"], e["family"], e["expect"], kn, rate,
                     f"[{e['low']:.3f}, {e['high']:.3f}]", gate,
                     MARKS.get(e["verdict"], e["verdict"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]



def by_hand_line() -> str:
    """The catalog's controls the assessor completes: partly automated and manual ones."""
    return "for the assessor: " + ", ".join(
        f"{c.id} ({'partly automated' if c.automation == PARTIAL else 'manual'})"
        for c in catalog().values() if c.automation in (PARTIAL, MANUAL))
