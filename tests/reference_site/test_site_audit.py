"""The audit log: every write recorded with the Article 5(3) fields, refusals included."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from reference_site.audit import parse_iso

CANARY = "MODHARNESS-CANARY-BRAVO"
SOURCE_IP, SOURCE_PORT = "127.0.0.1", 54321  # conftest.CLIENT_ADDRESS
DEVICE_ID = "device-under-test-01"


def sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_a_write_is_recorded_with_every_field(site) -> None:
    author = site.register("auditee")
    site.client.post("/api/posts", json={"text": "hello world"}, headers=author.headers)
    record = site.audit(account="auditee")[-1]
    assert record["operation"] == "post.create"
    assert record["surface"] == "post"
    assert record["decision"] == "allowed"
    assert record["content_sha256"] == sha("hello world")
    assert (record["source_ip"], record["source_port"]) == (SOURCE_IP, SOURCE_PORT)
    assert (record["dest_ip"], record["dest_port"]) == ("testserver", 80)
    assert record["user_agent"] == "pytest"
    assert record["device_id"] == DEVICE_ID
    assert record["time"].endswith("Z")
    assert parse_iso(record["time"]) <= datetime.now(timezone.utc)
    assert record["object_id"]


def test_a_disposal_is_recorded_as_rejected_with_the_content_hash(site) -> None:
    author = site.register("disposer")
    refused = site.client.patch("/api/me", json={"bio": f"hi {CANARY}"}, headers=author.headers)
    assert refused.status_code == 422
    record = site.audit(account="disposer")[-1]
    assert record["operation"] == "profile.update"
    assert record["surface"] == "bio"
    assert record["decision"] == "rejected"
    assert record["content_sha256"] == sha(f"hi {CANARY}")
    assert "content_rejected" in record["reason"]


def test_registration_records_the_attempted_name(site) -> None:
    site.client.post("/api/register", json={"account_name": f"{CANARY}_x", "password": "pw1234"})
    record = site.audit(account=f"{CANARY}_x")[-1]
    assert (record["operation"], record["surface"], record["decision"]) == (
        "register",
        "account_name",
        "rejected",
    )
    assert record["content_sha256"] == sha(f"{CANARY}_x")
    site.client.post(
        "/api/register",
        json={"account_name": "fine", "password": "pw1234", "nickname": f"n {CANARY}"},
    )
    record = site.audit(account="fine")[-1]
    assert (record["surface"], record["content_sha256"]) == ("nickname", sha(f"n {CANARY}"))


def test_each_submitted_field_gets_its_own_record(site) -> None:
    author = site.register("multi", nickname="昵称")
    site.client.patch(
        "/api/me", json={"nickname": "same", "bio": f"new {CANARY}"}, headers=author.headers
    )
    group = site.client.post(
        "/api/groups", json={"name": "名字", "intro": "介绍"}, headers=author.headers
    ).json()
    records = site.audit(account="multi")
    rows = [(r["operation"], r["surface"], r["content_sha256"], r["decision"]) for r in records]
    assert rows == [
        ("register", "account_name", sha("multi"), "allowed"),
        ("register", "nickname", sha("昵称"), "allowed"),
        ("profile.update", "nickname", sha("same"), "rejected"),
        ("profile.update", "bio", sha(f"new {CANARY}"), "rejected"),
        ("group.create", "group_name", sha("名字"), "allowed"),
        ("group.create", "group_intro", sha("介绍"), "allowed"),
    ]
    assert records[-1]["object_id"] == str(group["id"])
    assert "bio" in records[3]["reason"]  # the refusal names the disposed field


def test_image_uploads_hash_the_bytes(site, images) -> None:
    author = site.register("imager")
    png = images.plain()
    site.client.post(
        "/api/me/avatar", files={"file": ("a.png", png, "image/png")}, headers=author.headers
    )
    record = site.audit(account="imager")[-1]
    assert (record["operation"], record["surface"], record["content_sha256"]) == (
        "avatar.upload",
        "avatar",
        sha(png),
    )


def test_unauthenticated_and_malformed_writes_are_recorded(site) -> None:
    site.client.post("/api/posts", json={"text": "x"})
    site.client.post("/api/groups", content=b"[1, 2]", headers={"Authorization": "Bearer nope"})
    records = site.audit()
    assert [r["operation"] for r in records[-2:]] == ["post.create", "group.create"]
    assert all(r["decision"] == "rejected" for r in records[-2:])
    assert records[-2]["reason"].startswith("unauthorized")
    assert records[-1]["reason"].startswith("invalid_request")


def test_login_and_join_and_report_are_writes(site) -> None:
    owner = site.register("owner")
    site.client.post("/api/login", json={"account_name": "owner", "password": "secret-pw"})
    site.client.post("/api/login", json={"account_name": "owner", "password": "wrong"})
    group = site.client.post("/api/groups", json={"name": "g"}, headers=owner.headers).json()
    site.client.post(f"/api/groups/{group['id']}/join", headers=owner.headers)
    site.client.post(
        "/api/reports",
        json={"target_type": "group", "target_id": group["id"], "reason": "spam"},
        headers=owner.headers,
    )
    operations = [(r["operation"], r["decision"]) for r in site.audit(account="owner")]
    assert operations == [
        ("register", "allowed"),
        ("login", "allowed"),
        ("login", "rejected"),
        ("group.create", "allowed"),
        ("group.join", "allowed"),
        ("report.create", "allowed"),
    ]


def test_query_filters_since_account_and_limit(site) -> None:
    first = site.register("early")
    marker = datetime.now(timezone.utc)
    site.register("late")
    site.client.post("/api/posts", json={"text": "a"}, headers=first.headers)
    later = site.audit(since=marker.isoformat())
    assert [r["account"] for r in later] == ["late", "early"]
    assert [r["account"] for r in site.audit(since=marker.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))] == [
        "late",
        "early",
    ]
    assert len(site.audit(limit="1")) == 1
    assert site.audit(since=(marker + timedelta(days=1)).isoformat()) == []
    times = [r["time"] for r in site.audit()]
    assert times == sorted(times)
    bad = site.client.get("/api/admin/audit", params={"since": "yesterday"}, headers=site.admin)
    assert bad.status_code == 400


def test_audit_needs_the_admin_token(site) -> None:
    assert site.client.get("/api/admin/audit").status_code == 401
    assert (
        site.client.get("/api/admin/audit", headers={"X-Admin-Token": "wrong"}).status_code == 401
    )
    assert site.client.get("/api/admin/audit/policy").status_code == 401
    policy = site.client.get("/api/admin/audit/policy", headers=site.admin)
    assert policy.json() == {"retention_days": 180}


def test_forwarded_for_is_not_trusted(site) -> None:
    author = site.register("proxied")
    site.client.post(
        "/api/posts",
        json={"text": "x"},
        headers={**author.headers, "X-Forwarded-For": "203.0.113.9"},
    )
    assert site.audit(account="proxied")[-1]["source_ip"] == SOURCE_IP


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("audit-no-source-port", lambda records: all(r["source_port"] is None for r in records)),
        ("records-not-kept", lambda records: all(r["decision"] == "allowed" for r in records)),
    ],
)
def test_audit_faults(make_site, fault: str, check) -> None:
    site = make_site(fault)
    author = site.register()
    site.client.post("/api/posts", json={"text": CANARY}, headers=author.headers)
    site.client.post("/api/posts", json={"text": "fine"}, headers=author.headers)
    records = site.audit()
    assert len(records) >= 2  # allowed writes are still recorded
    assert check(records)
    healthy = make_site()
    author = healthy.register()
    healthy.client.post("/api/posts", json={"text": CANARY}, headers=author.headers)
    assert not check(healthy.audit())


def test_short_retention_fault(make_site) -> None:
    site = make_site("short-retention")
    policy = site.client.get("/api/admin/audit/policy", headers=site.admin).json()
    assert policy == {"retention_days": 30}


@pytest.mark.parametrize(("fault", "kept"), [((), True), (("short-retention",), False)])
def test_records_older_than_the_retention_period_are_purged(make_site, fault, kept) -> None:
    site = make_site(*fault)
    old = (datetime.now(timezone.utc) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with site.client.app.state.site.db.transaction() as conn:
        conn.execute(
            "INSERT INTO audit (account, time, operation, decision) VALUES (?, ?, ?, ?)",
            ("ancient", old, "post.create", "allowed"),
        )
    assert bool(site.audit(account="ancient")) is kept


def test_a_query_past_its_limit_returns_the_most_recent_records(site) -> None:
    site.register("older")
    site.register("newer")
    assert [r["account"] for r in site.audit(limit="1")] == ["newer"]


def test_a_write_that_fails_inside_the_site_is_recorded_as_rejected(tmp_path) -> None:
    from reference_site.audit import AuditLog, RequestContext
    from reference_site.db import Database
    from reference_site.errors import BadRequest

    audit = AuditLog(Database(tmp_path / "audit.db"))
    context = RequestContext(source_ip=SOURCE_IP, source_port=SOURCE_PORT)
    with pytest.raises(KeyError), audit.action(context, "post.create", "broken"):
        raise KeyError("bug")
    with pytest.raises(BadRequest), audit.action(context, "post.create", "refused"):
        raise BadRequest("too long")
    with audit.action(context, "post.create", "fine"):
        pass
    decisions = {r["account"]: (r["decision"], r["reason"]) for r in audit.query()}
    assert decisions == {"broken": ("rejected", "internal_error: KeyError"),
                         "refused": ("rejected", "invalid_request: too long"),
                         "fine": ("allowed", None)}
