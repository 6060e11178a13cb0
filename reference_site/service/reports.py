"""Reports (complaints, Article 5(6)): the published contacts, filing a ticket, the reporter's
view of it, the moderator's queue and decisions, and the desk that handles tickets on time."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from reference_site.audit import Action, RequestContext, iso, utc_now
from reference_site.db import Row
from reference_site.errors import Conflict, Forbidden, NotFound
from reference_site.faults import Fault
from reference_site.service.common import (
    NOTE_MAX,
    REASON_MAX,
    Core,
    User,
    acting,
    choice_field,
    int_field,
    limit,
    logged_in,
    text_field,
    timestamp,
)
from reference_site.service.targets import REPORT_TARGET_TYPES, Targets

COMPLAINT_CONTACTS = {
    "phone": "400-000-0000",
    "email": "report@reference.invalid",
}
SECONDS_PER_DAY = 86_400
OPEN_STATUSES = ("received", "in_review")  # tickets still waiting for a decision
_OPEN_SQL = "({})".format(", ".join(f"'{status}'" for status in OPEN_STATUSES))
# Audit context of the desk's own actions: no request, so no addresses.
DESK_CONTEXT = RequestContext(user_agent="reference-site report handling")
# How much later than the published limit the `slow-handling` fault decides reports.
SLOW_HANDLING_FACTOR = 10
REPORT_CATEGORIES = {
    "illegal": "违法信息 Illegal information",
    "harmful": "不良信息 Harmful information",
    "pornography": "色情低俗 Pornography or vulgarity",
    "fraud": "诈骗广告 Fraud or spam",
    "harassment": "人身攻击 Harassment",
    "other": "其他 Other",
}
REPORT_RESULTS = {
    "remove": (
        "resolved",
        "举报属实，违规内容已删除。The reported content broke the rules and was removed.",
    ),
    "dismiss": ("rejected", "经审核未发现违规。No rule violation was found."),
}
_VIEW_FIELDS = (
    "ticket_id", "status", "result", "target_type", "target_id", "category", "reason",
    "created_at", "updated_at", "due_at", "acknowledged_at", "handled_at",
)
_SECRET_COLUMNS = ("password_hash", "account_key")  # of a reported user, kept off the queue


def _report_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in _VIEW_FIELDS}


class Reports:
    """The complaint workflow, from filing to the result the reporter reads."""

    def __init__(self, core: Core, targets: Targets) -> None:
        self.core = core
        self.targets = targets

    def complaint_contacts(self, base_url: str) -> dict[str, Any]:
        """The published ways to complain, and how long handling may take."""
        base = base_url.rstrip("/")
        limit_seconds = self.core.times.limit_seconds
        return {
            **COMPLAINT_CONTACTS,
            "time_limit_seconds": limit_seconds,
            "time_limit_days": limit_seconds / SECONDS_PER_DAY,
            "web_form_url": f"{base}/report",
            "page_url": f"{base}/complaints",
        }

    def create_report(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """File a report about a post, comment, user, group or group message."""
        with self.core.audit.action(ctx, "report.create") as act:
            user = acting(act, actor)
            target_type = choice_field(payload, "target_type", REPORT_TARGET_TYPES)
            target_id = int_field(payload, "target_id")
            category = choice_field(payload, "category", REPORT_CATEGORIES, "other")
            reason = text_field(payload, "reason")
            limit("reason", reason, REASON_MAX)
            act.content(None, reason)
            self.targets.find(target_type, target_id)
            created = utc_now()
            ticket = {
                "ticket_id": f"RPT-{secrets.token_hex(6).upper()}",
                "reporter_id": user.id,
                "target_type": target_type,
                "target_id": target_id,
                "category": category,
                "reason": reason,
                "status": "received",
                "created_at": iso(created),
                "updated_at": iso(created),
                "due_at": iso(created + timedelta(seconds=self.core.times.limit_seconds)),
            }
            if self._keeps_report(user, target_type, target_id):
                self.core.db.insert("reports", ticket)
            act.target(ticket["ticket_id"])
            return _report_view({**ticket, "result": None, "acknowledged_at": None,
                                 "handled_at": None})

    def _keeps_report(self, reporter: User, target_type: str, target_id: int) -> bool:
        """Whether a new report is stored; three faults answer with a receipt but drop it."""
        faults = self.core.faults
        if Fault.RECEIPTS_NOT_STORED in faults:
            return False
        if Fault.REPORTS_DROPPED_WHEN_BUSY in faults and self.core.in_flight.busy:
            return False
        return Fault.DUPLICATE_REPORTS_DROPPED not in faults or self.core.db.one(
            "SELECT 1 FROM reports WHERE target_type = ? AND target_id = ? AND reporter_id != ?",
            (target_type, target_id, reporter.id),
        ) is None

    def _report_row(self, ticket_id: str) -> Row:
        return self.core.db.found(
            "SELECT * FROM reports WHERE ticket_id = ?", (ticket_id,), f"no report {ticket_id}"
        )

    def _reporter_view(self, row: Row) -> dict[str, Any]:
        """A ticket as its reporter sees it; the `no-feedback` fault hides the outcome."""
        view = _report_view(row)
        if Fault.NO_FEEDBACK in self.core.faults and view["handled_at"] is not None:
            view.update(status="in_review", result=None, handled_at=None)
        return view

    def report(self, actor: User | None, ticket_id: str) -> dict[str, Any]:
        """A ticket's status and result, for the account that filed it."""
        actor = logged_in(actor)
        row = self._report_row(ticket_id)
        if row["reporter_id"] != actor.id:
            raise Forbidden("only the reporter can see this ticket")
        return self._reporter_view(row)

    def my_reports(self, actor: User) -> list[dict[str, Any]]:
        """The tickets an account has filed, newest first."""
        rows = self.core.db.all(
            "SELECT * FROM reports WHERE reporter_id = ? ORDER BY created_at DESC LIMIT 200",
            (actor.id,),
        )
        return [self._reporter_view(row) for row in rows]

    def report_queue(self, admin_token: str | None, status: str | None = None) -> list[dict]:
        """The moderator's queue: every ticket (or those with one status), oldest first."""
        self.core.require_admin(admin_token)
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self.core.db.all(f"SELECT * FROM reports {where} ORDER BY created_at", params)
        queue = []
        for row in rows:
            view = _report_view(row)
            view["reporter_id"] = row["reporter_id"]
            view["note"] = row["note"]
            try:
                _surface, target = self.targets.find(row["target_type"], row["target_id"])
                view["target"] = {
                    key: target[key] for key in target.keys()  # noqa: SIM118 (sqlite3.Row)
                    if key not in _SECRET_COLUMNS
                }
            except NotFound:
                view["target"] = None
            queue.append(view)
        return queue

    def review_report(
        self, ctx: RequestContext, admin_token: str | None, ticket_id: str
    ) -> dict[str, Any]:
        """A moderator takes a ticket into review."""
        with self.core.audit.action(ctx, "report.review") as act:
            self.core.admin(act, admin_token)
            self._acknowledge(act, ticket_id)
            return _report_view(self._report_row(ticket_id))

    def _acknowledge(self, act: Action, ticket_id: str) -> None:
        """Move an open ticket to `in_review`; the first time is its acknowledgement."""
        act.target(ticket_id)
        now = timestamp()
        with self.core.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE reports SET status = 'in_review', updated_at = ?,"
                " acknowledged_at = COALESCE(acknowledged_at, ?)"
                f" WHERE ticket_id = ? AND status IN {_OPEN_SQL}",
                (now, now, ticket_id),
            ).rowcount
        if not changed:
            raise Conflict(f"ticket {ticket_id} is already {self._report_row(ticket_id)['status']}")

    def decide_report(
        self,
        ctx: RequestContext,
        admin_token: str | None,
        ticket_id: str,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """A moderator's decision: `remove` takes the target down, `dismiss` keeps it.

        Either way the ticket gets a final status and a result the reporter can read.
        """
        with self.core.audit.action(ctx, "report.decide") as act:
            self.core.admin(act, admin_token)
            action = choice_field(payload, "action", REPORT_RESULTS)
            note = text_field(payload, "note", required=False, allow_empty=True) or ""
            limit("note", note, NOTE_MAX)
            self._decide(act, self._report_row(ticket_id), action, note)
            return _report_view(self._report_row(ticket_id))

    def _decide(self, act: Action, row: Row, action: str, note: str) -> None:
        """Close an open ticket with its result; `remove` also takes the target down."""
        ticket_id = row["ticket_id"]
        act.target(row["target_id"])
        act.reason = f"ticket {ticket_id}: {action}" + (f": {note}" if note else "")
        status, result = REPORT_RESULTS[action]
        if note:
            result = f"{result} {note}"
        now = timestamp()
        with self.core.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE reports SET status = ?, result = ?, note = ?, updated_at = ?,"
                " handled_at = ?, acknowledged_at = COALESCE(acknowledged_at, ?)"
                f" WHERE ticket_id = ? AND status IN {_OPEN_SQL}",
                (status, result, note, now, now, now, ticket_id),
            ).rowcount
            if not changed:
                raise Conflict(f"ticket {ticket_id} is already {row['status']}")
            if action == "remove":
                try:
                    act.surface, _target = self.targets.find(
                        row["target_type"], row["target_id"]
                    )
                except NotFound:
                    act.surface = None  # already gone; the ticket still gets its answer
                self.targets.take_down(conn, row["target_type"], row["target_id"])
                act.decision = "removed"

    # --- the moderator desk (report_handling.py runs it in the background) ------------------

    def reports_due(self) -> tuple[list[str], list[str]]:
        """The open tickets the desk should acknowledge now, and those it should decide now."""
        times, now = self.core.times, utc_now()
        handle = times.handle_seconds
        if Fault.SLOW_HANDLING in self.core.faults:
            handle = times.limit_seconds * SLOW_HANDLING_FACTOR
        acknowledge = self.core.db.all(
            "SELECT ticket_id FROM reports WHERE status = 'received' AND created_at <= ?"
            " ORDER BY created_at",
            (iso(now - timedelta(seconds=times.ack_seconds)),),
        )
        decide = self.core.db.all(
            f"SELECT ticket_id FROM reports WHERE status IN {_OPEN_SQL} AND created_at <= ?"
            " ORDER BY created_at",
            (iso(now - timedelta(seconds=handle)),),
        )
        return [r["ticket_id"] for r in acknowledge], [r["ticket_id"] for r in decide]

    def desk_acknowledge(self, ticket_id: str) -> None:
        """The desk's acknowledgement of a ticket (status `in_review`)."""
        with self.core.audit.action(DESK_CONTEXT, "report.review", "moderator") as act:
            self._acknowledge(act, ticket_id)

    def desk_decide(self, ticket_id: str) -> None:
        """The desk's decision: remove the target if the site's own checks prohibit it.

        A ticket decided meanwhile by a moderator is left alone; an item already gone counts
        as removed. Raises ModerationUnavailable when an image cannot be checked.
        """
        row = self._report_row(ticket_id)
        if row["status"] not in OPEN_STATUSES:
            return
        try:
            _surface, target = self.targets.find(row["target_type"], row["target_id"])
        except NotFound:
            violation: str | None = "the item was already taken down"
        else:
            violation = self.targets.violation(row["target_type"], target)
        with self.core.audit.action(DESK_CONTEXT, "report.decide", "moderator") as act:
            self._decide(act, row, "dismiss" if violation is None else "remove", "")
            act.reason = f"{act.reason} (report desk: {violation or 'nothing prohibited'})"
