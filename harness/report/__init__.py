"""Renderers that derive reports from a run's evidence only (see harness.evidence): the terminal
summary, JUnit, the HTML report, the Article 6 assessment report and OSCAL assessment-results.

`harness report RUN --format ...` writes them (harness.report.render)."""

from __future__ import annotations

TEXT, HTML, ARTICLE6, OSCAL, JUNIT, ALL = "text", "html", "article6", "oscal", "junit", "all"
FORMATS = (TEXT, HTML, ARTICLE6, OSCAL, JUNIT, ALL)
LANGS = ("zh", "en")  # the languages of the Article 6 report
