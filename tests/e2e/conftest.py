"""Fixtures of the e2e tests: assessments shared by the tests that only read their evidence.

`clean_api_run` is one run of `harness assess` over every automated control through the API on
the clean reference site; the detection matrix and the evasion matrix read it. Under
pytest-xdist a session fixture runs once per worker, so a shared run is made once per pytest
session: the first worker to need it runs it under a file lock, the others wait on the lock and
read what it left (`runs.shared_assess`)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from .runs import (
    BIO_FAULT_SCOPE,
    BOARD_DIR,
    BOARD_URL_LINE,
    RunningBoard,
    SharedRun,
    free_port,
    shared_assess,
    start_site,
    stop_site,
)


@pytest.fixture(scope="session")
def clean_api_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """Every automated control through the API, on the clean reference site."""
    return shared_assess(tmp_path_factory, "clean-api", "-n", "2")


@pytest.fixture(scope="session")
def bio_fault_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """Two surface controls through the API with one fault on: A5.4-BIO fails, A5.4-NICKNAME
    passes (replay, diff, signatures and shards read it)."""
    return shared_assess(tmp_path_factory, "bio-fault", *BIO_FAULT_SCOPE)


@pytest.fixture
def start_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Callable[..., RunningBoard]]:
    """Starts Corkboards (with the given faults) on free loopback ports, each with a free
    SMTP port for the harness's sink and a fresh moderator; stopped at the test's end."""
    processes: list[subprocess.Popen[str]] = []

    def start(*faults: str) -> RunningBoard:
        name, password = f"mod_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        env = {**os.environ, "BOARD_SMTP_PORT": str(free_port()), "BOARD_MOD_NAME": name,
               "BOARD_MOD_PASSWORD": password, "BOARD_MODERATOR": f"{name}:{password}"}
        process, url = start_site(
            [sys.executable, str(BOARD_DIR / "app.py"), "--port", "0",
             *(arg for fault in faults for arg in ("--fault", fault))], env, BOARD_URL_LINE,
            tmp_path_factory.mktemp("board") / "stderr.log", "Corkboard")
        processes.append(process)
        return RunningBoard(url, env)

    yield start
    for process in processes:
        stop_site(process)
