"""Audit records: re-keying, finding the record of a write, checking its 5(3) fields."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness.observe.audit import (
    LOG_FIELD_NAMES,
    ContentHash,
    FieldCheck,
    audit_evidence,
    check_fields,
    find_record,
    own_records,
    records_in,
)
from harness.policy import Policy
from harness.targets.api import Exchange

SENT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
CONTENT = "违规 probe 内容".encode()
HASH = hashlib.sha256(CONTENT).hexdigest()
BY_HASH: dict[str, Any] = {"content": CONTENT, "content_hash": ContentHash()}
NO_HASH: dict[str, Any] = {"content": CONTENT, "content_hash": None}
OTHER_HASH = "cd" * 32
DEVICE = "device-1234"
ACCOUNT = "alice_01"
AUDIT = {
    "records": "records",
    "fields": {
        "account": "account", "time": "time", "operation": "operation",
        "source_ip": "source_ip", "source_port": "source_port", "dest_ip": "dest_ip",
        "dest_port": "dest_port", "user_agent": "user_agent", "device": "device_id",
        "content_hash": "content_sha256", "decision": "decision",
    },
}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def exchange() -> Exchange:
    return Exchange(
        method="POST", url="http://127.0.0.1:8000/api/posts", actor="author",
        started=_iso(SENT), elapsed_s=0.25, status=200,
        client_ip="127.0.0.1", client_port=54321, server_ip="127.0.0.1", server_port=8000,
    )


def _record(**changes: Any) -> dict[str, Any]:
    """A record in the harness's field names that matches `exchange` exactly."""
    record = {
        "account": ACCOUNT, "time": _iso(SENT + timedelta(milliseconds=100)),
        "operation": "post.create", "source_ip": "127.0.0.1", "source_port": 54321,
        "dest_ip": "127.0.0.1", "dest_port": 8000, "user_agent": "moderation-harness/0.1.0",
        "device": DEVICE, "content_hash": HASH, "decision": "rejected",
    }
    record.update(changes)
    return record


def _check(record: dict[str, Any], exchange: Exchange, policy: Policy | None = None,
           account: str | None = ACCOUNT) -> FieldCheck:
    return check_fields(record, exchange, device_id=DEVICE, account=account,
                        policy=policy or Policy())


# --- records_in ------------------------------------------------------------------------------


def test_records_in_rekeys_through_the_field_map() -> None:
    raw = {"account": "bob", "device_id": "d-9", "content_sha256": HASH, "source_port": 1,
           "unrelated": "x"}
    (record,) = records_in({"records": [raw]}, AUDIT)
    assert record["device"] == "d-9"
    assert record["content_hash"] == HASH
    assert record["account"] == "bob"
    assert record["time"] is None
    assert "unrelated" not in record
    assert "device_id" not in record
    assert set(record) == set(AUDIT["fields"])


def test_records_in_with_a_nested_path_and_star() -> None:
    audit = {**AUDIT, "records": "data.pages.*.entries"}
    document = {"data": {"pages": [{"entries": [{"account": "a"}]},
                                   {"entries": [{"account": "b"}, "junk"]}]}}
    assert [r["account"] for r in records_in(document, audit)] == ["a", "b"]


def test_records_in_single_object_and_absent() -> None:
    assert records_in({"records": {"account": "a"}}, AUDIT)[0]["account"] == "a"
    assert records_in({"other": []}, AUDIT) == []
    assert records_in(None, AUDIT) == []


# --- find_record -----------------------------------------------------------------------------


def test_find_record_by_content_hash(exchange: Exchange) -> None:
    wanted = _record()
    records = [_record(content_hash=OTHER_HASH, source_port=54321), wanted]
    assert find_record(records, **BY_HASH, exchange=exchange, account=ACCOUNT) is wanted


def test_find_record_prefers_the_same_source_port(exchange: Exchange) -> None:
    same_port = _record(operation="first")
    other_port = _record(source_port=40000, operation="later")
    records = [same_port, other_port]
    found = find_record(records, **BY_HASH, exchange=exchange, account=ACCOUNT)
    assert found is same_port


def test_find_record_port_given_as_text(exchange: Exchange) -> None:
    textual = _record(source_port="54321")
    records = [textual, _record(source_port=40000)]
    assert find_record(records, **BY_HASH, exchange=exchange, account=None) is textual


def test_find_record_falls_back_to_the_latest_hash_match(exchange: Exchange) -> None:
    older, newer = _record(source_port=1), _record(source_port=2)
    found = find_record([older, newer], **BY_HASH, exchange=exchange, account=ACCOUNT)
    assert found is newer


def test_find_record_by_account_when_no_hash_is_kept(exchange: Exchange) -> None:
    mine = _record(content_hash=None)
    records = [_record(account="someone-else", content_hash=None), mine]
    assert find_record(records, **NO_HASH, exchange=exchange, account=ACCOUNT) is mine


def test_find_record_by_port_account_and_time_when_the_hash_differs(exchange: Exchange) -> None:
    """A write of several fields may be logged under another field's hash."""
    other_field = _record(content_hash=OTHER_HASH)
    records = [_record(content_hash=OTHER_HASH, account="someone-else"), other_field]
    assert find_record(records, **BY_HASH, exchange=exchange,
                       account=ACCOUNT) is other_field


def test_a_disposal_is_found_by_its_hash_only(exchange: Exchange) -> None:
    records = [_record(content_hash=OTHER_HASH)]
    assert find_record(records, **BY_HASH, exchange=exchange, account=ACCOUNT,
                       by_time=False) is None


def test_find_record_none_when_nothing_matches(exchange: Exchange) -> None:
    records = [_record(content_hash=OTHER_HASH, source_port=1)]
    assert find_record(records, **BY_HASH, exchange=exchange, account=ACCOUNT) is None
    assert find_record(records, **NO_HASH, exchange=exchange, account=None) is None
    assert find_record([], **BY_HASH, exchange=exchange, account=ACCOUNT) is None


# --- check_fields ----------------------------------------------------------------------------


def test_all_fields_present_and_matching_is_ok(exchange: Exchange) -> None:
    check = _check(_record(), exchange)
    assert check.ok
    assert check.missing == ()
    assert check.mismatched == ()
    assert check.details["expected"]["source_port"] == 54321


def test_ports_as_text_still_match(exchange: Exchange) -> None:
    assert _check(_record(source_port="54321", dest_port="8000"), exchange).ok


def test_missing_source_port(exchange: Exchange) -> None:
    record = _record()
    del record["source_port"]
    check = _check(record, exchange)
    assert not check.ok
    assert check.missing == ("source_port",)
    assert check.mismatched == ()


@pytest.mark.parametrize("field", LOG_FIELD_NAMES)
def test_each_empty_field_is_missing(field: str, exchange: Exchange) -> None:
    check = _check(_record(**{field: ""}), exchange)
    assert field in check.missing
    assert not check.ok


def test_wrong_source_port_is_mismatched(exchange: Exchange) -> None:
    check = _check(_record(source_port=54322), exchange)
    assert check.mismatched == ("source_port",)
    assert check.missing == ()
    assert not check.ok


def test_wrong_device_is_mismatched(exchange: Exchange) -> None:
    check = _check(_record(device="another-device"), exchange)
    assert check.mismatched == ("device",)


def test_wrong_port_and_device_both_named(exchange: Exchange) -> None:
    check = _check(_record(source_port=1, device="x"), exchange)
    assert set(check.mismatched) == {"source_port", "device"}


def test_wrong_account_is_mismatched(exchange: Exchange) -> None:
    assert _check(_record(account="mallory"), exchange).mismatched == ("account",)


def test_unknown_account_is_not_compared(exchange: Exchange) -> None:
    assert _check(_record(account="whoever"), exchange, account=None).ok


def test_non_numeric_port_is_mismatched(exchange: Exchange) -> None:
    assert _check(_record(source_port="n/a"), exchange).mismatched == ("source_port",)


def test_time_before_the_skew_window_is_mismatched(exchange: Exchange) -> None:
    early = _iso(SENT - timedelta(seconds=Policy().clock_skew_seconds + 1))
    assert _check(_record(time=early), exchange).mismatched == ("time",)


def test_time_after_the_skew_window_is_mismatched(exchange: Exchange) -> None:
    late = SENT + timedelta(seconds=exchange.elapsed_s + Policy().clock_skew_seconds + 1)
    assert _check(_record(time=_iso(late)), exchange).mismatched == ("time",)


def test_time_inside_the_skew_window_is_ok(exchange: Exchange) -> None:
    near = SENT - timedelta(seconds=Policy().clock_skew_seconds - 1)
    assert _check(_record(time=_iso(near)), exchange).ok


def test_time_with_an_offset_is_compared_as_an_instant(exchange: Exchange) -> None:
    beijing = (SENT + timedelta(milliseconds=50)).astimezone(timezone(timedelta(hours=8)))
    assert _check(_record(time=beijing.isoformat()), exchange).ok


def test_time_without_a_zone_is_mismatched(exchange: Exchange) -> None:
    naive = SENT.replace(tzinfo=None).isoformat()
    assert _check(_record(time=naive), exchange).mismatched == ("time",)


def test_unparseable_time_is_mismatched(exchange: Exchange) -> None:
    assert _check(_record(time="yesterday"), exchange).mismatched == ("time",)


def test_smaller_skew_policy_narrows_the_window(exchange: Exchange) -> None:
    record = _record(time=_iso(SENT - timedelta(seconds=10)))
    assert _check(record, exchange).ok
    assert not _check(record, exchange, Policy(clock_skew_seconds=5)).ok


def test_policy_limits_the_compared_fields(exchange: Exchange) -> None:
    record = _record(source_ip="10.0.0.1", source_port=1, device="elsewhere")
    assert set(_check(record, exchange).mismatched) == {"source_ip", "source_port", "device"}
    relaxed = Policy(log_fields_must_match=("device",))
    assert _check(record, exchange, relaxed).mismatched == ("device",)
    nothing = Policy(log_fields_must_match=())
    assert _check(record, exchange, nothing).ok


def test_dest_ip_compared_only_when_the_policy_names_it(exchange: Exchange) -> None:
    record = _record(dest_ip="10.9.9.9")
    default_file_fields = ("source_ip", "source_port", "dest_port", "device", "account")
    assert _check(record, exchange, Policy(log_fields_must_match=default_file_fields)).ok
    assert _check(record, exchange, Policy()).mismatched == ("dest_ip",)


def test_policy_does_not_excuse_missing_fields(exchange: Exchange) -> None:
    record = _record()
    record["source_port"] = None
    check = _check(record, exchange, Policy(log_fields_must_match=()))
    assert check.missing == ("source_port",)
    assert not check.ok


def test_unknown_own_source_port_does_not_pass(exchange: Exchange) -> None:
    # Fail closed: when the harness could not read its own source address from the connection,
    # a record carrying any address at all must not be judged as matching.
    blind = replace(exchange, client_ip=None, client_port=None)
    assert not _check(_record(source_ip="1.2.3.4", source_port=9), blind).ok


# --- what of an audit read reaches evidence ---------------------------------------------------


def _audit_read(records: list[dict[str, Any]]) -> Exchange:
    document = {"records": records, "total": len(records)}
    return Exchange(method="GET", url="http://127.0.0.1:8000/api/admin/audit", actor="admin",
                    started=_iso(SENT), elapsed_s=0.1, status=200,
                    response_body=json.dumps(document), document=document,
                    content=json.dumps(document).encode())


def _raw(account: str, device: str, ip: str, content: str = OTHER_HASH) -> dict[str, Any]:
    return {"account": account, "device_id": device, "source_ip": ip, "source_port": 40000,
            "content_sha256": content, "time": _iso(SENT)}


OTHERS = [_raw("stranger_1", "dev-stranger-1", "203.0.113.7"),
          _raw("stranger_2", "dev-stranger-2", "198.51.100.9")]


def test_own_records_keeps_the_matched_record_and_the_personas() -> None:
    mine = _raw(ACCOUNT, DEVICE, "127.0.0.1", HASH)
    viewer = _raw("viewer_x", "hx-viewer", "127.0.0.1")
    read = _audit_read([OTHERS[0], mine, viewer, OTHERS[1], "junk"])  # type: ignore[list-item]
    (matched,) = [r for r in records_in(read.document, AUDIT) if r["content_hash"] == HASH]
    kept, dropped = own_records(read.document, AUDIT, matched=[matched])
    assert kept == [mine]
    assert dropped == 4
    kept, dropped = own_records(read.document, AUDIT, accounts={"viewer_x"})
    assert kept == [viewer]
    kept, _ = own_records(read.document, AUDIT, devices={"hx-viewer", DEVICE})
    assert kept == [mine, viewer]


def test_audit_evidence_carries_no_other_users_data() -> None:
    mine = _raw(ACCOUNT, DEVICE, "127.0.0.1", HASH)
    read = _audit_read([OTHERS[0], mine, OTHERS[1]])
    kept = audit_evidence(read, AUDIT, accounts={ACCOUNT}, devices={DEVICE})
    recorded = json.dumps(kept.evidence())
    for other in OTHERS:
        assert other["account"] not in recorded
        assert other["device_id"] not in recorded
        assert other["source_ip"] not in recorded
    body = json.loads(kept.response_body or "")
    assert body["records"] == [mine]
    assert body["dropped_records"] == 2
    assert "2 record(s) of other users dropped" in body["note"]
    assert kept.content is None
    assert (kept.status, kept.url, kept.started) == (read.status, read.url, read.started)
    assert read.document["records"][0] == OTHERS[0]  # the read the judge uses is untouched


def test_audit_evidence_withholds_a_body_it_cannot_sort() -> None:
    read = replace(_audit_read(OTHERS), document=None,
                   response_body="<html>203.0.113.7 dev-stranger-1</html>")
    kept = audit_evidence(read, AUDIT, accounts={ACCOUNT})
    assert "203.0.113.7" not in json.dumps(kept.evidence())
    assert "withheld" in (kept.response_body or "")


def test_the_moderator_queue_in_evidence_keeps_only_the_desks_own_reports() -> None:
    from types import SimpleNamespace

    from harness.observe.reports import ReportDesk

    spec = {"request": {"method": "GET", "path": "/q", "as": "admin"}, "records": "reports",
            "fields": {"ticket": "ticket_id", "reason": "reason"}}
    ours = {"ticket_id": "T-1", "reason": "spam", "reporter_ip": "127.0.0.1"}
    theirs = {"ticket_id": "T-9", "reason": "abuse", "reporter_ip": "203.0.113.9"}
    read = replace(_audit_read([]), document={"reports": [theirs, ours]},
                   response_body=json.dumps({"reports": [theirs, ours]}))
    desk = ReportDesk.__new__(ReportDesk)
    desk.spec, desk.pages, desk.exchanges = {"queue": spec}, None, []
    desk.tickets, desk.reasons = {"T-1"}, set()
    desk.target = SimpleNamespace(admin=SimpleNamespace(request=lambda *args: read),
                                  channel="api")
    desk.session = SimpleNamespace(actors={})
    queue = desk.queue()
    assert [r["ticket"] for r in queue.records or []] == ["T-9", "T-1"]  # the judge sees all
    (kept,) = desk.exchanges
    recorded = json.dumps(kept.evidence())
    assert "203.0.113.9" not in recorded
    assert "T-9" not in recorded
    assert "T-1" in recorded
