"""Content-moderation conformance harness for Article 5(4) and 5(6) of the 2018 Provisions."""

from __future__ import annotations

__version__ = "0.1.0"
