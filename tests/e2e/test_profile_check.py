"""`harness profile check` against the reference site: its own profile works (exit 0, every
action, propagation, the appeal, the retention setting and its cleanup shown ok); a profile
with one wrong step fails (exit 1), naming that step of that action, the request and the site's
answer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import reference
from harness.targets.profile import REFERENCE_PROFILE


@pytest.fixture(scope="module")
def site() -> Iterator[reference.ReferenceSite]:
    with reference.start() as running:
        yield running


def check(site: reference.ReferenceSite, profile: Path,
          out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "profile", "check", str(profile), "--base-url",
         site.url, "--channel", "api", "--out", str(out), "--seed", "11"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, reference.ADMIN_TOKEN_ENV: site.admin_token, "COLUMNS": "200"})


def test_the_reference_profile_works_on_the_reference_site(site: reference.ReferenceSite,
                                                           tmp_path: Path) -> None:
    done = check(site, REFERENCE_PROFILE, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    out = done.stdout
    assert "every declared action works" in out
    for action in ("register (viewer)", "post create", "group_message edit observe",
                   "avatar create audit", "report profile lookup", "report post queue",
                   "moderation removal post", "moderation edit group_message", "appeal",
                   "retention", "cleanup"):
        assert action in out, action
    assert "FAIL" not in out


def test_a_wrong_step_is_named_and_fails_the_check(site: reference.ReferenceSite,
                                                   tmp_path: Path) -> None:
    text = REFERENCE_PROFILE.read_text(encoding="utf-8")
    right = '- {method: POST, path: "/api/posts/{post_id}/comments", as: author, ' \
        'json: {text: "{content}"}, extract: {comment_id: id}}'
    assert text.count(right) == 1
    profile = tmp_path / "wrong.yaml"
    profile.write_text(text.replace(right, right.replace("/comments", "/remarks")),
                       encoding="utf-8")
    done = check(site, profile, tmp_path / "out")
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr
    lines = done.stdout.splitlines()
    summary = "\n".join(lines[next(i for i, line in enumerate(lines)
                                   if "actions do not work" in line):])
    assert "comment create: comment create step 2 (POST /api/posts/{post_id}/remarks): " \
        "POST " in summary
    assert "/remarks -> HTTP 404" in summary
    assert "report comment: could not make a comment to report" in summary
    assert "appeal: could not make a comment to report" in summary  # it appeals a comment
    # every other action still worked: only the comment's creation and what needs it failed
    assert summary.splitlines()[0].startswith("3 of "), summary
