"""The service layer: every read and write of the site, shared by the JSON API and the pages.

`Service` is the one object the front ends hold; each domain is one attribute of it (and one
module here): `accounts`, `profiles`, `groups` (and their messages), `content` (posts,
forwards, comments), `search`, `reports` (and the moderator desk), `appeals`, `admin` (seeding
and removal), `screening` (the moderation checks and stored images). Each write runs inside an
audited action and screens every user-supplied text field and image with the moderator before
anything is stored, on creation and on every edit. Faults (faults.py) switch individual checks
off in the domain where each check lives.
"""

from __future__ import annotations

from reference_site.audit import AuditLog
from reference_site.db import Database
from reference_site.faults import Faults
from reference_site.moderation import Moderator
from reference_site.service.accounts import Accounts
from reference_site.service.admin import Admin
from reference_site.service.appeals import Appeals
from reference_site.service.common import DEFAULT_TIMES, Core, ReportTimes, User
from reference_site.service.content import Content
from reference_site.service.groups import Groups
from reference_site.service.profiles import IP_LOCATION, Profiles
from reference_site.service.reports import REPORT_CATEGORIES, SECONDS_PER_DAY, Reports
from reference_site.service.screening import Screening
from reference_site.service.search import Search
from reference_site.service.targets import REPORT_TARGET_TYPES, Targets

__all__ = [
    "DEFAULT_TIMES",
    "IP_LOCATION",
    "REPORT_CATEGORIES",
    "REPORT_TARGET_TYPES",
    "SECONDS_PER_DAY",
    "ReportTimes",
    "Service",
    "User",
]


class Service:
    """All operations of the site, by domain. Writes take the request context and the actor."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        moderator: Moderator,
        faults: Faults,
        admin_token: str,
        *,
        times: ReportTimes = DEFAULT_TIMES,
    ) -> None:
        self.core = core = Core(db, audit, moderator, faults, admin_token, times)
        self.screening = Screening(core)
        self.accounts = Accounts(core, self.screening)
        self.profiles = Profiles(core, self.accounts, self.screening)
        self.groups = Groups(core, self.screening)
        self.content = Content(core, self.accounts, self.screening)
        self.search = Search(core, self.profiles, self.groups, self.content)
        targets = Targets(core)
        self.reports = Reports(core, targets)
        self.appeals = Appeals(core)
        self.admin = Admin(core, self.accounts, self.groups, self.content, targets)

    @property
    def admin_token(self) -> str:
        """The moderator token (X-Admin-Token)."""
        return self.core.admin_token

    @property
    def times(self) -> ReportTimes:
        """The moderator desk's pace and the published handling limit."""
        return self.core.times

    def require_admin(self, token: str | None) -> None:
        """Refuse (Unauthorized) a caller without the moderator token."""
        self.core.require_admin(token)
