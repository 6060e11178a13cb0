"""The per-control summary and the rates table as terminal lines, rendered from evidence only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MARKS = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE",
         "not_applicable": "N/A", "waived": "WAIVED"}


def control_table(rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """Aligned lines `CONTROL  VERDICT  counts` for (control id, verdict, summary) rows."""
    rows = list(rows)
    width = max((len(control) for control, _, _ in rows), default=10)
    return [f"{control:<{width}}  {MARKS.get(verdict, verdict):<12}  {summary}"
            for control, verdict, summary in rows]


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
