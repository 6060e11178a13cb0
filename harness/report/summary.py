"""The per-control summary as terminal lines, rendered from verdicts only."""

from __future__ import annotations

from collections.abc import Iterable

MARKS = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE",
         "not_applicable": "N/A", "waived": "WAIVED"}


def control_table(rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """Aligned lines `CONTROL  VERDICT  counts` for (control id, verdict, summary) rows."""
    rows = list(rows)
    width = max((len(control) for control, _, _ in rows), default=10)
    return [f"{control:<{width}}  {MARKS.get(verdict, verdict):<12}  {summary}"
            for control, verdict, summary in rows]
