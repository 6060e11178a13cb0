"""Fixtures of the e2e tests: assessments shared by the tests that only read their evidence.

`clean_api_run` is one run of `harness assess` over every automated control through the API on
the clean reference site; the detection matrix and the evasion matrix read it. Under
pytest-xdist a session fixture runs once per worker, so a shared run is made once per pytest
session: the first worker to need it runs it under a file lock, the others wait on the lock and
read what it left (`runs.shared_assess`)."""

from __future__ import annotations

import pytest

from .runs import BIO_FAULT_SCOPE, SharedRun, shared_assess


@pytest.fixture(scope="session")
def clean_api_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """Every automated control through the API, on the clean reference site."""
    return shared_assess(tmp_path_factory, "clean-api", "-n", "2")


@pytest.fixture(scope="session")
def bio_fault_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """Two surface controls through the API with one fault on: A5.4-BIO fails, A5.4-NICKNAME
    passes (replay, diff, signatures and shards read it)."""
    return shared_assess(tmp_path_factory, "bio-fault", *BIO_FAULT_SCOPE)
