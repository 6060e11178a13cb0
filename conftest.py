"""Project-wide defaults. Conformance runs default to the embedded reference site (the plugin's
`target_profile` fixture starts it); the harness's own tests use pytester for the plugin."""

from __future__ import annotations

pytest_plugins = ["pytester"]
