"""Project-wide defaults. The target defaults to the embedded reference site (see the plugin's
`target_profile` fixture); the harness's own tests live in tests/ and start what they need."""

from __future__ import annotations

pytest_plugins: list[str] = []
