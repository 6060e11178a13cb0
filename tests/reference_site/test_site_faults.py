"""Every fault changes exactly its own behaviour: the detection matrix in miniature."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from reference_site.faults import FAULTS, Fault, Faults, UnknownFault, describe, parse_faults

CANARY = "审核金丝雀乙"
Submit = Callable[..., object]


def _group(site, account) -> int:
    return site.client.post(
        "/api/groups", json={"name": "g", "intro": "i"}, headers=account.headers
    ).json()["id"]


def _post(site, account) -> int:
    return site.client.post("/api/posts", json={"text": "filler"}, headers=account.headers).json()[
        "id"
    ]


# surface -> how to submit `content` there as `account` (returns the response)
SUBMIT: dict[str, Submit] = {
    "account_name": lambda site, account, content: site.client.patch(
        "/api/me", json={"account_name": f"{content}_t1"}, headers=account.headers
    ),
    "bio": lambda site, account, content: site.client.patch(
        "/api/me", json={"bio": content}, headers=account.headers
    ),
    "remark": lambda site, account, content: site.client.put(
        f"/api/users/{account.id}/remark", json={"text": content}, headers=account.headers
    ),
    "group_name": lambda site, account, content: site.client.post(
        "/api/groups", json={"name": content, "intro": "i"}, headers=account.headers
    ),
    "group_intro": lambda site, account, content: site.client.patch(
        f"/api/groups/{_group(site, account)}", json={"intro": content}, headers=account.headers
    ),
    "post": lambda site, account, content: site.client.post(
        "/api/posts", json={"text": content}, headers=account.headers
    ),
    "forward": lambda site, account, content: site.client.post(
        f"/api/posts/{_post(site, account)}/forwards",
        json={"text": content},
        headers=account.headers,
    ),
    "forward_edit": lambda site, account, content: site.client.patch(
        "/api/posts/{}".format(
            site.client.post(
                f"/api/posts/{_post(site, account)}/forwards",
                json={"text": "ok"},
                headers=account.headers,
            ).json()["id"]
        ),
        json={"text": content},
        headers=account.headers,
    ),
    "group_message": lambda site, account, content: site.client.post(
        f"/api/groups/{_group(site, account)}/messages",
        json={"text": content},
        headers=account.headers,
    ),
    "comment": lambda site, account, content: site.client.post(
        f"/api/posts/{_post(site, account)}/comments",
        json={"text": content},
        headers=account.headers,
    ),
}

SURFACE_FAULTS = {
    "unfiltered-account-name": ["account_name"],
    "unfiltered-bio": ["bio"],
    "unfiltered-remark": ["remark"],
    "unfiltered-group-name": ["group_name"],
    "unfiltered-group-intro": ["group_intro"],
    "unfiltered-post": ["post"],
    "unfiltered-forward": ["forward", "forward_edit"],
    "unfiltered-group-message": ["group_message"],
}

# Faults tested elsewhere, by module.
TESTED_ELSEWHERE = {
    "filter-fails-open-under-load": "tests/unit/test_load_faults.py, tests/e2e/test_load.py",
    "reports-dropped-when-busy": "tests/unit/test_load_faults.py, tests/e2e/test_load.py",
    "audit-no-source-port": "test_site_audit",
    "records-not-kept": "test_site_audit",
    "short-retention": "test_site_audit",
    "forward-leak": "test_site_propagation",
    "avatar-no-ocr": "test_site_images",
    "logo-no-qr": "test_site_images",
    "skip-nfkc": "test_site_moderation (and below)",
    "skip-casefold": "test_site_moderation (and below)",
    "skip-zero-width": "test_site_moderation (and below)",
    "skip-separators": "test_site_moderation (and below)",
    "skip-confusables": "test_site_moderation (and below)",
    "skip-t2s": "test_site_moderation (and below)",
    "form-bio-unchecked": "test_site_pages",
    "form-avatar-unchecked": "test_site_pages",
    "overblock-fragments": "test_site_moderation",
    "no-report-control-comment": "test_site_report_faults",
    "receipts-not-stored": "test_site_report_faults",
    "duplicate-reports-dropped": "test_site_report_faults",
    "slow-handling": "test_site_report_faults",
    "no-feedback": "test_site_report_faults",
    "complaints-unlinked": "test_site_report_faults",
    "complaint-form-broken": "test_site_report_faults",
    "no-appeal": "test_site_report_faults",
    "flaky-5xx": "test_site_transport",
    "drop-connections": "test_site_transport",
    "slow-responses": "test_site_transport",
    "slow-page": "test_site_transport",
    "audit-timeout": "test_site_transport",
    "login-wall-profiles": "test_site_honest_faults",
    "jpeg-only-uploads": "test_site_honest_faults",
    "reencode-uploads": "test_site_images",
}


def test_every_fault_is_tested() -> None:
    covered = (
        set(SURFACE_FAULTS)
        | set(TESTED_ELSEWHERE)
        | {"nickname-edit-unchecked", "overblock-comment"}
    )
    assert covered == set(FAULTS)


def test_faults_name_known_controls() -> None:
    for name, fault in FAULTS.items():
        assert fault.control.startswith(("A5.4-", "A5.3-", "A5.6-")), name
        assert fault.description


@pytest.mark.parametrize("fault", sorted(SURFACE_FAULTS))
def test_surface_fault_lets_the_canary_through_on_that_surface_only(make_site, fault) -> None:
    faulty, healthy = make_site(fault), make_site()
    for surface, submit in SUBMIT.items():
        response = submit(faulty, faulty.register(), CANARY)
        if surface in SURFACE_FAULTS[fault]:
            assert response.status_code in (200, 201), (surface, response.text)
            assert submit(healthy, healthy.register(), CANARY).status_code == 422, surface
        else:
            assert response.status_code == 422, (surface, response.text)


def test_nickname_is_checked_at_registration_but_not_on_edit_with_the_fault(make_site) -> None:
    site = make_site("nickname-edit-unchecked")
    refused = site.client.post(
        "/api/register", json={"account_name": "nick1", "password": "pw1234", "nickname": CANARY}
    )
    assert refused.status_code == 422
    account = site.register()
    assert (
        site.client.patch("/api/me", json={"nickname": CANARY}, headers=account.headers).status_code
        == 200
    )
    healthy = make_site()
    account = healthy.register()
    assert (
        healthy.client.patch(
            "/api/me", json={"nickname": CANARY}, headers=account.headers
        ).status_code
        == 422
    )


def test_overblock_comment_refuses_benign_chinese_comments(make_site) -> None:
    site = make_site("overblock-comment")
    account = site.register()
    assert SUBMIT["comment"](site, account, "写得真好").status_code == 422
    assert SUBMIT["comment"](site, account, "well written").status_code == 201
    assert SUBMIT["post"](site, account, "写得真好").status_code == 201
    healthy = make_site()
    assert SUBMIT["comment"](healthy, healthy.register(), "写得真好").status_code == 201


@pytest.mark.parametrize(
    ("fault", "evasive"),
    [
        ("skip-nfkc", "审核ＭＯＤＨＡＲＮＥＳＳ－ＣＡＮＡＲＹ－ＡＬＰＨＡ"),
        ("skip-casefold", "modharness-canary-alpha"),
        ("skip-zero-width", "审\u200b核金丝雀甲"),
        ("skip-separators", "审 核 金 丝 雀 甲"),
        ("skip-confusables", "МODHARNESS-CANARY-ALPHA"),
        ("skip-t2s", "審核金絲雀甲"),
    ],
)
def test_evasion_faults_on_the_site(make_site, fault: str, evasive: str) -> None:
    faulty, healthy = make_site(fault), make_site()
    assert SUBMIT["post"](faulty, faulty.register(), evasive).status_code == 201
    assert SUBMIT["post"](faulty, faulty.register(), "审核金丝雀甲").status_code == 422
    assert SUBMIT["post"](healthy, healthy.register(), evasive).status_code == 422


def test_parse_faults() -> None:
    chosen = parse_faults(["skip-t2s", "no-appeal"])
    assert list(chosen) == [Fault.SKIP_T2S, Fault.NO_APPEAL]  # table order
    assert Fault.SKIP_T2S in chosen
    assert Fault.SKIP_NFKC not in chosen
    assert not parse_faults([])
    with pytest.raises(UnknownFault, match="nope"):
        parse_faults(["nope"])


def test_faults_refuse_plain_names() -> None:
    """A check written with a string (or a typo of one) fails loudly, never silently false."""
    chosen = parse_faults(["unfiltered-post"])
    with pytest.raises(TypeError):
        assert "unfiltered-post" in chosen
    with pytest.raises(TypeError):
        Faults(["unfiltered-post"])  # type: ignore[list-item]


def test_fault_members_are_their_names() -> None:
    for name, fault in FAULTS.items():
        assert fault is Fault(name)
        assert str(fault) == f"{fault}" == fault.value == name


def test_list_faults_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reference_site", "--list-faults"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert lines == describe()
    for line, (name, fault) in zip(lines, FAULTS.items(), strict=True):
        assert line.split(" ", 2) == [name, fault.control, fault.description]


def test_unknown_fault_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reference_site", "--fault", "bogus"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "bogus" in done.stderr
    assert done.stdout == ""
