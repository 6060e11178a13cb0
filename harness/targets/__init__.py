"""Targets: adapters that perform abstract actions on one service, built from a profile."""

from __future__ import annotations
