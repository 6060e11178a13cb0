"""Plots as inline SVG (no script, no network), for reports a person would rather look at than
read: the block rate heat map with its intervals, report-handling latency against its limits,
and load stage figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from markupsafe import Markup, escape

from harness.report.model import LatencyPoint, block_grid
from harness.verdicts import MUST_BLOCK, RateCell

CELL_W, CELL_H, LABEL_W, HEAD_H = 74, 40, 150, 70
DASHED = ' stroke-dasharray="5 3"'  # a measured cell: shown, not gated
MARK = {"fail": "\u2716", "inconclusive": "?", "waived": "w"}


RED, AMBER, GREEN = (215, 48, 39), (250, 190, 70), (46, 160, 80)


def _colour(value: float | None) -> str:
    """Red (0) through amber (0.5) to green (1); grey when there is no rate."""
    if value is None:
        return "#d9d9d9"
    start, end, share = (RED, AMBER, value * 2) if value < 0.5 else (AMBER, GREEN,
                                                                     value * 2 - 1)
    r, g, b = (round(a + (z - a) * share) for a, z in zip(start, end, strict=True))
    return f"rgb({r},{g},{b})"


def heat_map(cells: Iterable[RateCell], *, expect: str = MUST_BLOCK,
             element_id: str = "plot-heatmap") -> Markup:
    """Families down, surfaces across; each cell's colour is its rate, with `k/n`, a bar for
    its 95% Wilson interval, a tick at the gate's threshold, and a mark when it fails or is
    inconclusive. `expect=must_allow` maps false-block rates (where low is good)."""
    chosen = [c for c in cells if c.expect == expect]
    if expect != MUST_BLOCK:  # the grid helper reads must_block cells; false blocks alike
        chosen = [_as_block(c) for c in chosen]
    families, surfaces, grid = block_grid(chosen)
    if not families:
        return Markup("")
    width = LABEL_W + CELL_W * len(surfaces) + 10
    height = HEAD_H + CELL_H * len(families) + 10
    what = "block rate" if expect == MUST_BLOCK else "false-block rate"
    parts = [f'<svg id="{escape(element_id)}" class="plot" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{what} per surface and evasion family">',
             f'<title>{what} per surface and evasion family, with 95% Wilson intervals</title>']
    for i, surface in enumerate(surfaces):
        x = LABEL_W + CELL_W * i + CELL_W / 2
        parts.append(f'<text x="{x}" y="{HEAD_H - 8}" font-size="11" text-anchor="start" '
                     f'transform="rotate(-35 {x} {HEAD_H - 8})">{escape(surface)}</text>')
    for j, family in enumerate(families):
        y = HEAD_H + CELL_H * j
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + CELL_H / 2 + 4}" font-size="11" '
                     f'text-anchor="end">{escape(family)}</text>')
        for i, surface in enumerate(surfaces):
            cell = grid.get((family, surface))
            if cell is not None:
                parts.append(_cell(cell, LABEL_W + CELL_W * i, y, expect))
    parts.append("</svg>")
    return Markup("".join(parts))


def _as_block(cell: RateCell) -> RateCell:
    return replace(cell, expect=MUST_BLOCK)


def _cell(cell: RateCell, x: float, y: float, expect: str) -> str:
    rate = cell.rate
    good = rate.value if expect == MUST_BLOCK or rate.value is None else 1 - rate.value
    inner = CELL_W - 12
    verdict = cell.verdict.value
    tip = (f"{cell.surface} / {cell.family} ({expect}): {rate.k}/{rate.n}, 95% interval "
           f"[{rate.low:.3f}, {rate.high:.3f}], threshold {cell.gate.threshold:g}"
           f"{'' if cell.gate.gating else ' (measured)'}: {verdict}; {cell.reason}")
    shown = "-" if rate.value is None else f"{rate.value:.0%}"
    out = [f'<g class="cell verdict-{escape(verdict)}" data-verdict="{escape(verdict)}">',
           f"<title>{escape(tip)}</title>",
           f'<rect x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{CELL_H - 2}" '
           f'fill="{_colour(good)}" stroke="{"#000" if verdict == "fail" else "#fff"}" '
           f'stroke-width="{2 if verdict == "fail" else 1}"'
           f"{'' if cell.gate.gating else DASHED}/>",
           f'<text x="{x + CELL_W / 2}" y="{y + 15}" font-size="11" text-anchor="middle">'
           f'{escape(shown)} {escape(MARK.get(verdict, ""))}</text>',
           f'<text x="{x + CELL_W / 2}" y="{y + 26}" font-size="9" text-anchor="middle">'
           f"{rate.k}/{rate.n}</text>"]
    if rate.n:
        left, right = x + 6 + inner * rate.low, x + 6 + inner * rate.high
        out.append(f'<line class="interval" x1="{left:.1f}" x2="{right:.1f}" y1="{y + 33}" '
                   f'y2="{y + 33}" stroke="#222" stroke-width="3"/>')
        tick = x + 6 + inner * cell.gate.threshold
        out.append(f'<line class="threshold" x1="{tick:.1f}" x2="{tick:.1f}" y1="{y + 29}" '
                   f'y2="{y + 37}" stroke="#0047ab" stroke-width="1.5"/>')
    out.append("</g>")
    return "".join(out)


def latency_plot(points: Sequence[LatencyPoint], *,
                 element_id: str = "plot-latency") -> Markup:
    """Each followed report as two dots, when it was acknowledged and when handled, on one
    seconds axis with the two limits as dashed lines; a report not handled shows at the end."""
    if not points:
        return Markup("")
    limit_ack = max(p.ack_limit_s for p in points)
    limit_handle = max(p.handle_limit_s for p in points)
    seen = [v for p in points for v in (p.acknowledged_s, p.handled_s) if v is not None]
    top = max([limit_handle, limit_ack, *seen]) * 1.1 or 1.0
    width, left, right, row = 640, 110, 20, 46
    height = 40 + row * 2 + 30
    span = width - left - right

    def at(seconds: float) -> float:
        return left + span * min(seconds, top) / top

    parts = [f'<svg id="{escape(element_id)}" class="plot" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="report handling latency against the limits">',
             "<title>report handling latency (seconds) against the published limits</title>"]
    for index, (label, limit) in enumerate((("acknowledged", limit_ack),
                                            ("handled", limit_handle))):
        y = 30 + row * index + row / 2
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">'
                     f"{label}</text>")
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" '
                     'stroke="#ccc"/>')
        parts.append(f'<line class="limit" x1="{at(limit):.1f}" x2="{at(limit):.1f}" '
                     f'y1="{y - row / 2 + 4}" y2="{y + row / 2 - 4}" stroke="#c00" '
                     f'stroke-dasharray="4 3"><title>limit {limit:g} s</title></line>')
        parts.append(f'<text x="{at(limit) + 3:.1f}" y="{y - row / 2 + 12}" font-size="9" '
                     f'fill="#c00">limit {limit:g} s</text>')
        for point in points:
            value = point.acknowledged_s if index == 0 else point.handled_s
            missing = value is None
            shown = top if missing else value
            colour = "#c00" if missing or shown > limit else "#1a7f37"
            tip = (f"{point.case_id} ({point.channel}): {label} "
                   f"{'not seen' if missing else f'after {value:g} s'}; verdict {point.verdict}")
            parts.append(f'<circle class="point" cx="{at(shown):.1f}" cy="{y}" r="5" '
                         f'fill="{"none" if missing else colour}" stroke="{colour}" '
                         f'stroke-width="2" opacity="0.8"><title>{escape(tip)}</title>'
                         "</circle>")
    axis_y = 30 + row * 2 + 6
    for step in range(6):
        seconds = top * step / 5
        parts.append(f'<text x="{at(seconds):.1f}" y="{axis_y + 12}" font-size="9" '
                     f'text-anchor="middle">{seconds:.3g}s</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stage_plot(control: str, stages: Sequence[Mapping[str, Any]], index: int) -> Markup:
    """One small line chart per numeric figure of a load run's stages (users, requests per
    second, leak rate, latency percentiles: whatever the stages carry), stages along x."""
    names = [str(s.get("stage", i + 1)) for i, s in enumerate(stages)]
    figures = [key for key in dict.fromkeys(k for s in stages for k in s)
               if key != "stage" and all(_number(s.get(key)) for s in stages)]
    if not stages or not figures:
        return Markup("")
    chart_w, chart_h, pad = 220, 110, 28
    per_row = 3
    rows = (len(figures) + per_row - 1) // per_row
    width, height = chart_w * per_row, chart_h * rows + 10
    parts = [f'<svg id="plot-stages-{index}" class="plot plot-stages" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(control)} stages">',
             f"<title>{escape(control)}: figures per load stage</title>"]
    for n, key in enumerate(figures):
        ox, oy = chart_w * (n % per_row), chart_h * (n // per_row)
        values = [float(s[key]) for s in stages]
        low, high = min(values), max(values)
        spread = (high - low) or 1.0

        last = max(len(values) - 1, 1)
        coords = [(ox + pad + (chart_w - 2 * pad) * i / last,
                   oy + chart_h - pad - (chart_h - 2 * pad) * (v - low) / spread)
                  for i, v in enumerate(values)]
        parts.append(f'<text x="{ox + pad}" y="{oy + 14}" font-size="11">{escape(key)}</text>')
        parts.append('<polyline fill="none" stroke="#0047ab" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), value, name in zip(coords, values, names, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#0047ab">'
                         f"<title>{escape(name)}: {key} {value:g}</title></circle>")
        parts.append(f'<text x="{ox + pad}" y="{oy + chart_h - 8}" font-size="9">'
                     f"{escape(names[0])} \u2192 {escape(names[-1])}; {low:g}\u2013{high:g}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
