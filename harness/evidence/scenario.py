"""One scenario's evidence while it runs: the `evidence` fixture's object.

A scenario (one pytest item) records observations and writes artifacts here. Artifacts go
straight to the run directory through an `ArtifactWriter` (confined, redacted, never
overwritten), in a folder named from the test's node id; observations are redacted and handed
to the controller through `user_properties`, since only the controller writes the chain. At
the end of the test `judge` fails it on a failed observation and makes it inconclusive when
something could not be observed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.probes.images import image_type
from harness.verdicts import Observation, Verdict

from .artifacts import ArtifactWriter
from .chain import ARTIFACTS_DIR
from .recorder import OBSERVATION
from .redact import Redactor


class Inconclusive(Exception):
    """Raised by a scenario when the harness could not observe; reported as INCONCLUSIVE."""


def artifact_folder(nodeid: str) -> str:
    """The artifact folder of a test: its node id, made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid).strip("-")[:180]


class ScenarioEvidence:
    """One test's evidence: observations go to the controller, artifacts to the run directory
    (none outside a recorded run)."""

    def __init__(self, item: pytest.Item, run_dir: Path | None) -> None:
        self.item = item
        self.run_dir = run_dir
        self.redactor = Redactor()
        self.secrets: list[str] = []
        self.observations: list[Observation] = []
        self._writer: ArtifactWriter | None = None
        self._folder: str | None = None
        self._flushed = 0

    @property
    def folder(self) -> str:
        """The test's folder under `artifacts/`. A test run again into the same run (a resumed
        run finishing a test an interrupt cut short) gets a folder of its own, `<name>~2`, so
        nothing the earlier attempt wrote is lost or overwritten."""
        if self._folder is None:
            name = artifact_folder(self.item.nodeid)
            root = self.run_dir / ARTIFACTS_DIR if self.run_dir is not None else None
            folder, attempt = name, 1
            while root is not None and (root / folder).exists():
                attempt += 1
                folder = f"{name}~{attempt}"
            self._folder = folder
        return self._folder

    def add_secrets(self, values: list[str]) -> None:
        """Values that must never reach evidence (passwords, tokens, cookies)."""
        for value in values:
            if value and value not in self.secrets:
                self.secrets.append(value)
                self.redactor.add_secret(value)

    def artifact(self, name: str, data: bytes | str, *, text: bool | None = None) -> str | None:
        """Write a (redacted) artifact of this test; returns its run-relative path, or None
        outside a recorded run. `text` as `ArtifactWriter.write` takes it (None: by suffix
        and content); a name that leaves the test's folder or exists already is refused."""
        if self.run_dir is None:
            return None
        if self._writer is None:
            self._writer = ArtifactWriter(self.run_dir, self.redactor, self.folder)
        return self._writer.write(name, data, text=text)

    def record(self, observations: list[Observation]) -> None:
        self.observations.extend(observations)

    def record_case(self, result: Any, secrets: list[str]) -> None:
        """Record a case's observations (a `CaseResult`), with its exchanges as one artifact
        and its probe image, redacting the secrets the case and its personas used."""
        self.add_secrets(result.secrets + secrets)
        exchanges = self.artifact("exchanges.json", json.dumps(
            [e.evidence() for e in result.exchanges], ensure_ascii=False, indent=1))
        for observation in result.observations:
            observation.details["case"] = result.case.evidence()
            observation.details["exchanges"] = exchanges
        if result.case.image is not None:
            _, extension = image_type(result.case.image)  # the probe as it was sent
            self.artifact(f"probe.{extension}", result.case.image, text=False)
        self.record(result.observations)

    def flush(self) -> None:
        """Hand the observations recorded since the last flush to the controller."""
        for observation in self.observations[self._flushed:]:
            line = self.redactor.redact(observation.evidence())
            line["test"] = self.item.nodeid
            self.item.user_properties.append((OBSERVATION, json.dumps(line, ensure_ascii=False)))
        self._flushed = len(self.observations)

    def _reasons(self, observations: list[Observation]) -> str:
        return self.redactor.redact_text("; ".join(f"{o.control}: {o.reason}"
                                                   for o in observations))

    def judge(self) -> None:
        """Fail the test on any fail; mark it inconclusive when nothing failed but some could
        not be observed."""
        failed = [o for o in self.observations if o.verdict is Verdict.FAIL]
        unclear = [o for o in self.observations if o.verdict is Verdict.INCONCLUSIVE]
        if failed:
            pytest.fail(self._reasons(failed), pytrace=False)
        if unclear:
            raise Inconclusive(self._reasons(unclear))
        if not self.observations:
            raise Inconclusive("the scenario made no observation")
