"""The live display of a load run (rich): stage, users, requests per second, failures,
elapsed and remaining time, refreshed from the progress lines Locust's master writes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


def progress_line(line: dict[str, Any]) -> str:
    """One progress line as a person reads it."""
    return (f"load: {line.get('stage')} | {line.get('users', 0)} users | "
            f"{line.get('rps', 0):.0f} req/s | {line.get('requests', 0)} requests, "
            f"{line.get('failures', 0)} failures | {line.get('elapsed', 0):.0f} s elapsed, "
            f"{line.get('remaining', 0):.0f} s left")


class Display:
    """What a load run shows: the live progress line, and notes printed above it."""

    def __init__(self, live: Any = None) -> None:
        self.live = live

    def __call__(self, line: dict[str, Any]) -> None:
        if self.live is not None:
            from rich.text import Text  # noqa: PLC0415

            self.live.update(Text(progress_line(line)))

    def note(self, text: str) -> None:
        """A line to keep (e.g. the command to start workers elsewhere with), shown even
        without a terminal."""
        if self.live is not None:
            self.live.console.print(text)
        else:
            sys.stderr.write(text + "\n")


@contextmanager
def live_progress(stream: IO[str] | None) -> Iterator[Display]:
    """A display that keeps one live line on `stream` (a terminal) while the run lasts; on no
    stream, one that shows nothing."""
    if stream is None:
        yield Display()
        return
    from rich.console import Console  # noqa: PLC0415 (only when a display is shown)
    from rich.live import Live  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    with Live(Text("load: starting Locust"), console=Console(file=stream),
              refresh_per_second=4) as live:
        yield Display(live)
