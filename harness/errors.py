"""One root error for everything the harness refuses or cannot do.

Messages say what was expected, what came, and how to fix it; the CLI maps them to exit code 2.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    """A profile, policy, option or setting is invalid; nothing was sent to the target."""


class UnsafeTargetError(ConfigError):
    """A request would leave the profile's `allowed_hosts`."""


class EvidenceError(HarnessError):
    """A run directory is missing, malformed or fails verification."""


class TargetError(HarnessError):
    """The target could not be driven (connection refused, timeout, unexpected reply)."""


class NotARunError(EvidenceError, ConfigError):
    """A path given as a run is not a run directory (a usage error, so the CLI exits 2)."""
