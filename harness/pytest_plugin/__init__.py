"""The pytest plugin (entry point `harness`): it only wires. Options and ini keys
(`options`), the run's inputs resolved once (`config`), a recorded run's start (`run`),
collection and the plan (`collection`), the fixtures scenarios ask for (`fixtures`: `target`,
`harness_session`, `evidence`, ...) and the inconclusive status (`status`).

What it records lives in `harness.evidence`: a test's evidence (`evidence.scenario`), the run
recorder that writes and seals the chain in the controller (`evidence.recorder`). Under
pytest-xdist, workers write artifacts and hand their observations to the controller through
`user_properties`; only the controller writes the hash-chained evidence.

Scenarios import from here what is theirs to use: `Inconclusive`, `run_corpora` (the run's
corpora at collection), `selected_channels`, and the stash keys (`SITE_KEY`, ...).
"""

from __future__ import annotations

from harness.evidence.scenario import Inconclusive

from .collection import pytest_collection_modifyitems, pytest_generate_tests
from .config import harness_settings, run_corpora, run_policy, selected_channels
from .fixtures import (
    _personas,
    api_target,
    browser_target,
    case_seed,
    channel,
    evidence,
    harness_browser,
    harness_corpora,
    harness_mailbox,
    harness_policy,
    harness_session,
    overblocking_bank,
    run_seed,
    target,
    target_profile,
)
from .keys import MAIL_KEY, RUN_DIR_KEY, SEED_KEY, SITE_KEY
from .options import pytest_addoption
from .run import pytest_configure, pytest_configure_node, pytest_report_header
from .status import (
    pytest_keyboard_interrupt,
    pytest_report_teststatus,
    pytest_runtest_makereport,
)

__all__ = [
    "MAIL_KEY",
    "RUN_DIR_KEY",
    "SEED_KEY",
    "SITE_KEY",
    "Inconclusive",
    "_personas",
    "api_target",
    "browser_target",
    "case_seed",
    "channel",
    "evidence",
    "harness_browser",
    "harness_corpora",
    "harness_mailbox",
    "harness_policy",
    "harness_session",
    "harness_settings",
    "overblocking_bank",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_generate_tests",
    "pytest_keyboard_interrupt",
    "pytest_report_header",
    "pytest_report_teststatus",
    "pytest_runtest_makereport",
    "run_corpora",
    "run_policy",
    "run_seed",
    "selected_channels",
    "target",
    "target_profile",
]
