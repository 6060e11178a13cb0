"""Probes: test content with an expectation, from the canary lexicon, Faker and corpora."""

from __future__ import annotations
