"""The parts of a running site, built once and shared by every request handler."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from reference_site.audit import RETENTION_DAYS, SHORT_RETENTION_DAYS, AuditLog
from reference_site.db import Database
from reference_site.faults import Fault, Faults, skipped_steps
from reference_site.moderation import Moderator, load_lexicon
from reference_site.service import DEFAULT_TIMES, ReportTimes, Service

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class Site:
    """Everything a request handler needs, kept on `app.state.site`."""

    faults: Faults
    db: Database
    audit: AuditLog
    service: Service
    templates: Jinja2Templates
    session_secret: bytes


def site_of(request: Request) -> Site:
    """The Site serving this request."""
    return request.app.state.site


def build_site(
    faults: Faults, db_path: str | Path, admin_token: str,
    times: ReportTimes = DEFAULT_TIMES,
) -> Site:
    """Wire the parts together, with the faults applied where each behaviour lives."""
    db = Database(db_path)
    audit = AuditLog(
        db,
        keep_source_port=Fault.AUDIT_NO_SOURCE_PORT not in faults,
        keep_refusals=Fault.RECORDS_NOT_KEPT not in faults,
        retention_days=SHORT_RETENTION_DAYS if Fault.SHORT_RETENTION in faults else RETENTION_DAYS,
    )
    audit.purge_expired()
    moderator = Moderator(load_lexicon(), text_skip=skipped_steps(faults),
                          block_fragments=Fault.OVERBLOCK_FRAGMENTS in faults)
    service = Service(db, audit, moderator, faults, admin_token, times=times)
    templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
    return Site(faults, db, audit, service, templates, secrets.token_bytes(32))


