"""Renderers that derive reports from a run's evidence only (see harness.evidence)."""
