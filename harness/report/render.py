"""`harness report`: every report of a verified run, rebuilt from its evidence alone.

Reports are written to an output folder beside the run (`<run-dir>.report/` by default), never
inside it: the run's manifest (and any signature over it) stays exactly as sealed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import ConfigError
from harness.report import ALL, ARTICLE6, FORMATS, HTML, JUNIT, OSCAL
from harness.report.model import RunReport


def default_out(run_dir: Path) -> Path:
    """Where a run's reports go unless told: a folder beside the run, named after it."""
    run_dir = run_dir.resolve()
    return run_dir.with_name(f"{run_dir.name}.report")


def write_reports(report: RunReport, formats: Sequence[str], out_dir: Path, *,
                  lang: str = "zh", progress: Callable[[str], None] = lambda _: None
                  ) -> list[Path]:
    """Write the files of `formats` (`all`: every one) for `report` into `out_dir`, telling
    `progress` as each is done; returns the paths written."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"--format {unknown[0]!r}: expected one of {', '.join(FORMATS)}")
    chosen = set(FORMATS[1:-1]) if ALL in formats else set(formats)
    if out_dir.resolve() == report.run_dir.resolve() or report.run_dir.resolve() in \
            out_dir.resolve().parents:
        raise ConfigError(f"--out {out_dir}: reports cannot go inside the run directory (its "
                          "manifest lists every file in it); give a folder outside it")
    written: list[Path] = []
    for name, write in _writers(lang, progress):
        if name not in chosen:
            continue
        started = time.monotonic()
        paths = write(report, out_dir)
        written += paths
        for path in paths:
            progress(f"{name}: {path} ({time.monotonic() - started:.1f} s)")
    return written


def _writers(lang: str, progress: Callable[[str], None]
             ) -> list[tuple[str, Callable[[RunReport, Path], list[Path]]]]:
    """Each format's writer, imported when used (trestle and Pillow load slowly)."""

    def html(report: RunReport, out: Path) -> list[Path]:
        from harness.report.html import write_html  # noqa: PLC0415

        return [write_html(report, out, progress)]

    def article6(report: RunReport, out: Path) -> list[Path]:
        from harness.report.article6 import write_article6  # noqa: PLC0415

        return write_article6(report, out, lang)

    def oscal(report: RunReport, out: Path) -> list[Path]:
        from harness.report.oscal import write_oscal  # noqa: PLC0415

        return [write_oscal(report, out)]

    def junit(report: RunReport, out: Path) -> list[Path]:
        from harness.report.junit import JUNIT_FILE, write_junit  # noqa: PLC0415

        return [write_junit(report.run_dir, out / JUNIT_FILE)]

    return [(HTML, html), (ARTICLE6, article6), (OSCAL, oscal), (JUNIT, junit)]
