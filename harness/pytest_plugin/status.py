"""The test's status: its controls handed to the controller, a scope violation recorded, and
the custom INCONCLUSIVE status (letter `I`) of a test that could not observe."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.errors import UnsafeTargetError
from harness.evidence.recorder import CONTROLS, VIOLATION
from harness.evidence.scenario import Inconclusive
from harness.interrupts import drop_lineless_frames

from .collection import control_ids
from .keys import CALL_FAILED, STATUS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call":
        item.stash[CALL_FAILED] = report.failed
    if call.when == "setup":
        ids = control_ids(item)
        if ids:
            item.user_properties.append((CONTROLS, json.dumps(ids)))
            report.user_properties = list(item.user_properties)
    if call.excinfo is not None and call.excinfo.errisinstance(UnsafeTargetError):
        violation = {"url": getattr(call.excinfo.value, "url", None),
                     "reason": str(call.excinfo.value)}
        item.user_properties.append((VIOLATION, json.dumps(violation, ensure_ascii=False)))
    if call.excinfo is not None and call.excinfo.errisinstance(Inconclusive):
        report.outcome = "failed"
        report.longrepr = f"INCONCLUSIVE: {call.excinfo.value}"
        report.user_properties.append((STATUS, "inconclusive"))
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if (report.when == "call"
            and (STATUS, "inconclusive") in getattr(report, "user_properties", [])):
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """A signal can land where Python records no line; pytest's printer would crash on that
    entry and the run would exit 1, not as interrupted."""
    drop_lineless_frames(excinfo.value)
