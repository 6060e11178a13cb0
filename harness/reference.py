"""Starting and stopping the embedded reference site as a subprocess.

The harness never imports the site: it runs `python -m reference_site` and talks to it over HTTP
on a free loopback port, exactly as it would to any other target.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError, TargetError

ADMIN_TOKEN_ENV = "REFERENCE_ADMIN_TOKEN"
_URL_LINE = re.compile(r"Reference site listening on (http://\S+)")
START_TIMEOUT = 30.0


@dataclass
class ReferenceSite:
    """A running reference site; stop() ends it (also used as a context manager)."""

    url: str
    admin_token: str = field(repr=False)
    faults: tuple[str, ...]
    process: subprocess.Popen[str] = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ReferenceSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _command(args: Iterable[str]) -> list[str]:
    return [sys.executable, "-m", "reference_site", *args]


BROWSER_ONLY = "(browser only)"
LOAD_ONLY = "(load only)"  # shows only under load: the load scenarios' faults
# Faults whose control does not fail: under an INCONCLUSIVE one the harness cannot observe some
# of the control's cases (it must say inconclusive, never pass); a TOLERATED one it must see
# through, every verdict as on the clean site (e.g. slow answers).
INCONCLUSIVE = "(inconclusive)"
TOLERATED = "(tolerated)"


def list_faults() -> dict[str, tuple[str, str]]:
    """The site's faults: name -> (control id, description). A description that starts with
    "(browser only)" marks a defect of the pages that the API channel cannot see; one that
    starts with "(inconclusive)" or "(tolerated)" a fault that does not fail its control."""
    done = subprocess.run(_command(["--list-faults"]), capture_output=True, text=True,
                          check=False, timeout=60)
    if done.returncode != 0:
        raise TargetError(f"reference site --list-faults failed: {done.stderr.strip()}")
    faults = {}
    for line in done.stdout.splitlines():
        name, control, description = [*line.split(" ", 2), "", ""][:3]
        if name:
            faults[name] = (control, description)
    return faults


def start(faults: Iterable[str] = (), *, admin_token: str | None = None,
          log: Path | None = None) -> ReferenceSite:
    """Start the site on a free port and wait for its URL line; errors name the cause."""
    faults = tuple(faults)
    token = admin_token or secrets.token_urlsafe(24)
    args = ["--port", "0"]
    for fault in faults:
        args += ["--fault", fault]
    # The site ends with the harness even when the harness is killed outright.
    env = {**os.environ, ADMIN_TOKEN_ENV: token, "REFERENCE_SITE_PARENT": str(os.getpid())}
    log = log or Path(tempfile.mkstemp(prefix="reference-site-", suffix=".log")[1])
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            _command(args), stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
            cwd=Path(__file__).parents[1],
        )
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        """Find the URL line, then keep reading so the site never blocks on a full pipe."""
        assert process.stdout is not None
        for line in process.stdout:
            match = _URL_LINE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(START_TIMEOUT)
    if not found:
        process.kill()
        process.wait(timeout=10)
        detail = " ".join(log.read_text(encoding="utf-8").strip().splitlines()[-3:])
        if process.returncode == 2:
            raise ConfigError(f"reference site refused its options: {detail}")
        raise TargetError(f"reference site did not start within {START_TIMEOUT:g}s: {detail}")
    return ReferenceSite(url=found[0], admin_token=token, faults=faults, process=process)
