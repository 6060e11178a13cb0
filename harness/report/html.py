"""The HTML report: one self-contained file (CSS, screenshots and plots inline, no network) that
a person reads from clause to control to verdict to what each actor saw.

Screenshots are inlined as reduced WebP data URIs, each linking to its full-size artifact;
failing observations link to their trace. Rendered from a `RunReport` (evidence only).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import EvidenceError
from harness.report import plots
from harness.report.model import RunReport, write_output
from harness.report.templating import environment

HTML_FILE = "report.html"
SCREENSHOT_WIDTH = 720  # pixels: readable text, a few kilobytes per screenshot
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
PROGRESS_EVERY = 100  # screenshots


def inline_image(path: Path, width: int = SCREENSHOT_WIDTH) -> str:
    """An image file as a `data:` URI, reduced to `width` pixels wide (WebP)."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 (only reports need it)

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        image.thumbnail((width, image.height), reducing_gap=2.0)
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=70, method=2)  # method 2: a quarter faster than 4
    except (OSError, UnidentifiedImageError) as exc:
        raise EvidenceError(f"{path}: cannot be read as an image: {exc}") from exc
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class _Links:
    """Links from the report's folder to the run's artifacts, and inlined screenshots."""

    def __init__(self, report: RunReport, out_dir: Path,
                 progress: Callable[[str], None]) -> None:
        self.report = report
        self.base = os.path.relpath(report.run_dir.resolve(), out_dir.resolve())
        self.images: dict[str, str] = {}
        self.progress = progress
        self.total = sum(1 for path in report.files if path.lower().endswith(IMAGE_SUFFIXES))

    def href(self, artifact: str) -> str:
        return PurePosixPath(Path(self.base).as_posix(), artifact).as_posix()

    def screenshots(self, sighting: Mapping[str, Any]) -> list[dict[str, str]]:
        found = []
        for artifact in sighting.get("artifacts") or ():
            if not artifact.lower().endswith(IMAGE_SUFFIXES) or artifact not in self.report.files:
                continue
            if artifact not in self.images:
                self.images[artifact] = inline_image(self.report.run_dir / artifact)
                if len(self.images) % PROGRESS_EVERY == 0:
                    self.progress(f"html: {len(self.images)} of at most {self.total} "
                                  "screenshots inlined")
            found.append({"src": self.images[artifact], "href": self.href(artifact),
                          "name": PurePosixPath(artifact).name})
        return found


def render_html(report: RunReport, out_dir: Path,
                progress: Callable[[str], None] = lambda _: None) -> str:
    """The report's HTML text, with links relative to `out_dir` (where it will be written);
    `progress` hears how many screenshots are inlined, every PROGRESS_EVERY."""
    links = _Links(report, out_dir, progress)
    verdict = report.verdict
    surfaces = []
    for surface, lines in report.by_surface().items():
        observations = []
        for line in lines:
            details = line.get("details") or {}
            sightings = [{**s, "screenshots": links.screenshots(s)}
                         for s in details.get("sightings") or ()]
            traces = report.traces(line) if line["verdict"] in ("fail", "inconclusive") else []
            observations.append({"line": line, "case": details.get("case") or {},
                                 "sightings": sightings,
                                 "traces": [{"href": links.href(t),
                                             "name": PurePosixPath(t).name} for t in traces]})
        counts: dict[str, int] = {}
        for item in observations:
            counts[item["line"]["verdict"]] = counts.get(item["line"]["verdict"], 0) + 1
        surfaces.append({"name": surface, "observations": observations, "counts": counts})
    stage_plots = [{"control": control, "stages": stages,
                    "plot": plots.stage_plot(control, stages, index)}
                   for index, (control, stages) in enumerate(report.stages())]
    return environment().get_template("report.html.j2").render(
        report=report, info=report.info, verdict=verdict, clauses=report.clauses(),
        automation=report.automation_counts(), rates=report.rate_lines(), surfaces=surfaces,
        heat_map=plots.heat_map(verdict.cells),
        false_block_map=plots.heat_map(verdict.cells, expect="must_allow",
                                       element_id="plot-false-blocks"),
        latency=plots.latency_plot(report.latencies()), latencies=report.latencies(),
        stage_plots=stage_plots)


def write_html(report: RunReport, out_dir: Path,
               progress: Callable[[str], None] = lambda _: None) -> Path:
    """Write `out_dir/report.html`; returns its path."""
    out = Path(out_dir) / HTML_FILE
    return write_output(out, render_html(report, out.parent, progress).encode("utf-8"))
