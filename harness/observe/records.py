"""Lists of records a target keeps (its audit log, its moderator's report queue, the items an
author may appeal), read through whichever interface the profile describes:

- an API answer: `{request: ..., records: <JSON path>, fields: {name: <JSON path>}}`, read
  through the admin interface;
- an HTML page: `{goto: <page>, as: <role>, records: <CSS of a row>, fields: {name: <CSS> |
  {css, attribute}}}`, read through the browser as a signed-in role (a moderator).

Either way the records come back re-keyed to the harness's field names, and what evidence may
keep of the read holds only the harness's own records: the others are other users' data.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.observe.audit import audit_evidence, records_in
from harness.targets.browser import PageRecords


@dataclass(frozen=True)
class RecordRead:
    """One read of a record list: the exchange or page behind it, and its records (None when
    it could not be read: an error, a refusal, a landing on another page)."""

    read: Any  # an API Exchange, a PageRecords, or None when nothing could be opened
    records: list[dict[str, Any]] | None
    problem: str | None = None
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.records is not None

    def evidence(self, *, matched: Iterable[Mapping[str, Any]] = (),
                 accounts: Collection[str] = (), devices: Collection[str] = ()) -> Any:
        """The read as evidence may keep it: only the records that are the harness's own
        (`matched`, or of one of its accounts or devices), and how many others there were."""
        if isinstance(self.read, PageRecords):
            return OwnPageRecords.of(self.read, matched=matched, accounts=accounts,
                                     devices=devices)
        if self.read is None or not self.read.ok:
            return self.read
        return audit_evidence(self.read, self.spec, matched=matched, accounts=accounts,
                              devices=devices)


@dataclass(frozen=True)
class OwnPageRecords:
    """A record page as evidence keeps it: where it was, and the harness's own rows only."""

    url: str
    status: int | None
    records: list[dict[str, Any]]
    dropped: int
    error: str | None = None
    method: str = "GET"

    @classmethod
    def of(cls, page: PageRecords, *, matched: Iterable[Mapping[str, Any]],
           accounts: Collection[str], devices: Collection[str]) -> OwnPageRecords:
        wanted = [dict(record) for record in matched]
        kept = [dict(r) for r in page.records if dict(r) in wanted
                or r.get("account") in accounts or r.get("device") in devices]
        return cls(page.url, page.status, kept, len(page.records) - len(kept),
                   page.error or page.landing)

    def evidence(self) -> dict[str, Any]:
        return {"step": "READ_RECORDS", "url": self.url, "status": self.status,
                "error": self.error, "records": self.records, "dropped_records": self.dropped,
                "note": f"{self.dropped} record(s) of other users dropped; only the harness's "
                        "own kept"}


def read_records(target: Any, spec: Mapping[str, Any], variables: Mapping[str, Any],
                 actors: Mapping[str, Any]) -> RecordRead:
    """Read a record list as the profile describes it (see the module's docstring): a page
    form through `target`'s pages, an API form through its admin interface."""
    if "goto" in spec:
        if not hasattr(target, "page_records"):
            return RecordRead(None, None, f"these records are read from the page "
                              f"{spec['goto']}, which the {target.channel} channel cannot open",
                              spec)
        page = target.page_records(spec, variables, actors)
        if not page.ok:
            return RecordRead(page, None, f"{page.url}: "
                              f"{page.error or page.landing or f'HTTP {page.status}'}", spec)
        return RecordRead(page, [dict(r) for r in page.records], spec=spec)
    read = target.admin.request(spec["request"], dict(variables), actors)
    if not read.ok:
        return RecordRead(read, None, f"{read.method} {read.url} -> "
                          f"{read.error or f'HTTP {read.status}'}", spec)
    return RecordRead(read, records_in(read.document, spec), spec=spec)


def audit_spec(profile: Any) -> Mapping[str, Any] | None:
    """The profile's audit log: its API description, else (a pages-only site) the page its
    moderator reads it on; None when it names neither."""
    return profile.api.get("audit") or profile.data.get("browser", {}).get("audit")
