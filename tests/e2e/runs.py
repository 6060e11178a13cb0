"""What the e2e tests read back from a run's evidence."""

from __future__ import annotations

from pathlib import Path

from harness.evidence import read_entries


def observed_all_pass(run_dir: Path, control: str | None = None) -> None:
    """A run narrowed on purpose (`-k`) to keep the suite's time in bounds: every case it did
    observe passed (or did not apply), and a control left short of its plan says so, as
    "k of n planned cases observed", never passing."""
    for entry in read_entries(run_dir):
        if control is not None and entry.get("control") != control:
            continue
        if entry["entry_type"] == "observation":
            assert entry["verdict"] in ("pass", "not_applicable"), (entry["control"],
                                                                    entry["reason"])
        elif entry["entry_type"] == "control" and entry["verdict"] != "pass":
            assert entry["verdict"] == "inconclusive", (entry["control"], entry["reason"])
            assert "planned cases observed" in entry["reason"], entry["reason"]
