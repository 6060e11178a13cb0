"""The live display of a load run (rich): stage, users, requests per second, failures,
elapsed and remaining time, refreshed from the progress lines Locust's master writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from harness.load.runner import Progress


def progress_line(line: dict[str, Any]) -> str:
    """One progress line as a person reads it."""
    return (f"load: {line.get('stage')} | {line.get('users', 0)} users | "
            f"{line.get('rps', 0):.0f} req/s | {line.get('requests', 0)} requests, "
            f"{line.get('failures', 0)} failures | {line.get('elapsed', 0):.0f} s elapsed, "
            f"{line.get('remaining', 0):.0f} s left")


@contextmanager
def live_progress(stream: IO[str] | None) -> Iterator[Progress]:
    """A `Progress` callback that keeps one live line on `stream` (a terminal) while the run
    lasts; on no stream, a callback that shows nothing."""
    if stream is None:
        yield lambda line: None
        return
    from rich.console import Console  # noqa: PLC0415 (only when a display is shown)
    from rich.live import Live  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    console = Console(file=stream)
    with Live(Text("load: starting Locust"), console=console, refresh_per_second=4,
              transient=False) as live:
        yield lambda line: live.update(Text(progress_line(line)))
