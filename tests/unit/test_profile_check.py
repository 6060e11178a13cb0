"""`harness profile check` judges only what it tried: nothing tried is no pass, a skipped
(absent) action is not a pass either, and every failed step is named with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.profile_check import ProfileCheck, Row, summary_lines, table
from harness.targets.profile import REFERENCE_PROFILE, load_profile


@pytest.fixture
def check() -> ProfileCheck:
    profile = load_profile(REFERENCE_PROFILE, base_url="http://127.0.0.1:1",
                           environ={"REFERENCE_ADMIN_TOKEN": "t"})
    return ProfileCheck(profile, "api", Path("/tmp/out"))


OK_ROW = Row("post create", "post create step 1 (POST /api/posts)", True, "/api/posts -> 201")


def test_a_check_that_tried_nothing_does_not_pass(check: ProfileCheck) -> None:
    assert not check.ok
    check.rows.append(Row("remark", "-", True, "absent: no remarks", skipped=True))
    assert not check.ok
    assert summary_lines(check) == ["nothing was checked: the profile declares no action for "
                                    "the api channel; 1 declared absent"]


def test_every_step_must_work(check: ProfileCheck) -> None:
    check.rows += [OK_ROW, Row("remark", "-", True, "absent: no remarks", skipped=True)]
    assert check.ok
    assert summary_lines(check) == ["every declared action works: 1 actions, 1 steps; "
                                    "1 declared absent"]
    check.rows.append(Row("bio create observe", "GET /api/users/{author_id} as viewer", False,
                          "not shown", screenshot="/tmp/out/bio.png"))
    assert not check.ok
    assert summary_lines(check) == [
        "1 of 2 actions do not work (1 failed steps; 1 declared absent):",
        "  bio create observe: GET /api/users/{author_id} as viewer: not shown",
        "    screenshot: /tmp/out/bio.png",
    ]


def test_the_table_shows_each_row_with_its_screenshot(check: ProfileCheck) -> None:
    from rich.console import Console

    check.rows += [OK_ROW, Row("report post", "-", False, "no element matches 'a.flag'",
                               screenshot="/tmp/out/flag.png")]
    console = Console(width=200, record=True)
    console.print(table(check.rows))
    text = console.export_text()
    assert "post create step 1 (POST /api/posts)" in text
    assert "FAIL" in text
    assert "no element matches 'a.flag'" in text
    assert "screenshot: /tmp/out/flag.png" in text
