"""The site's report handling: a background thread (the moderator desk) that acknowledges and
decides reports on time.

It wakes on a short interval (never spins), asks the service which tickets are due and lets
the service act on them, so the desk's actions are checked and audited like a moderator's.
A ticket whose image cannot be checked is left to a human moderator rather than retried; a
pass that fails on the database or a refusal is logged and tried again on the next wake.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from reference_site.errors import Conflict, ModerationUnavailable, ServiceError
from reference_site.service import Service

log = logging.getLogger(__name__)

MAX_INTERVAL = 0.1  # seconds between passes; measured times are this coarse at worst
MIN_INTERVAL = 0.01


class ReportHandling:
    """Runs `Reports.desk_acknowledge` and `Reports.desk_decide` (service.reports) for due
    tickets, in a thread of its own."""

    def __init__(self, service: Service):
        self.service = service
        times = service.times
        self.interval = max(
            MIN_INTERVAL, min(MAX_INTERVAL, times.ack_seconds / 5, times.handle_seconds / 5)
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._left_to_moderators: set[str] = set()

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="report-handling", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for its current pass to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except (ServiceError, sqlite3.Error):
                log.exception("the report handling failed a pass; it will try again")

    def run_once(self) -> None:
        """One pass: acknowledge, then decide, every due ticket."""
        acknowledge, decide = self.service.reports.reports_due()
        for ticket in acknowledge:
            try:
                self.service.reports.desk_acknowledge(ticket)
            except Conflict:
                continue  # decided by a moderator meanwhile
        for ticket in decide:
            if self._stop.is_set():
                return
            if ticket in self._left_to_moderators:
                continue
            try:
                self.service.reports.desk_decide(ticket)
            except Conflict:
                continue
            except ModerationUnavailable as exc:
                log.warning("report %s is left to a moderator: %s", ticket, exc)
                self._left_to_moderators.add(ticket)
