"""Helpers of the plugin tests (pytester is required by the test module itself: a
`pytest_plugins` in this non-root conftest would break a plain `pytest` run from the root)."""

from __future__ import annotations
