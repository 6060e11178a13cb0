"""The load scenario's terminal summary: the per-stage table of the run, when it ran here."""

from __future__ import annotations

import pytest

from harness.load.scenario import STAGE_TABLE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    lines = config.stash.get(STAGE_TABLE, None)
    if lines:
        terminalreporter.section("load stages")
        for line in lines:
            terminalreporter.write_line(line)
