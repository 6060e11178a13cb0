"""The plugin's state in `config.stash` (and an item's), under typed keys, and the names it
registers itself and its status under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.policy import Policy
from harness.probes.corpora import Corpus
from harness.settings import Settings

STATUS = "harness.status"  # a report's user property that marks it inconclusive
RECORDER = "harness-recorder"  # the run recorder's name in the plugin manager (controller only)
RUN_DIR_KEY = pytest.StashKey[Path]()
RESUME_KEY = pytest.StashKey[bool]()
POLICY_KEY = pytest.StashKey[Policy]()
SETTINGS_KEY = pytest.StashKey[Settings]()
SITE_KEY = pytest.StashKey[tuple[str | None, dict[str, str]]]()  # the target's URL, its env
MAIL_KEY = pytest.StashKey[dict[str, Any]]()  # the run's SMTP sink: folder, host, port
SEED_KEY = pytest.StashKey[int]()
CORPORA_KEY = pytest.StashKey[list[Corpus]]()
SECTIONS_KEY = pytest.StashKey[frozenset[str]]()
CALL_FAILED = pytest.StashKey[bool]()  # on an item: whether its call phase failed
