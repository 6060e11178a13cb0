from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_smoke(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
