"""Honest reads and refusals end to end: a login wall in front of profiles and an upload
refused for its format leave their controls inconclusive, never pass; a profile that says
the profile page needs a login is judged on the viewer's reads alone and passes again.

Each run is scoped to one control and one or two cases (the faults are in the reference site's
table, marked "(inconclusive)", so the detection matrix leaves them out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness import reference
from harness.evidence import read_entries
from harness.targets.profile import REFERENCE_PROFILE

from .runs import assess, control_verdicts, faults

NOT_MODERATION = "refused for a reason other than moderation"


def observations(run_dir: Path, control: str) -> list[dict[str, Any]]:
    return [e for e in read_entries(run_dir)
            if e["entry_type"] == "observation" and e["control"] == control]


def test_the_faults_are_marked_as_leaving_their_control_inconclusive():
    for name, control in (("login-wall-profiles", "A5.4-BIO"),
                          ("jpeg-only-uploads", "A5.4-AVATAR")):
        assert faults()[name][0] == control
        assert faults()[name][1].startswith(reference.INCONCLUSIVE)


def test_png_refused_as_not_jpeg_is_not_a_moderation_refusal(tmp_path):
    code, run_dir, output = assess(tmp_path / "reports", "--channel", "api",
                                   "--control", "A5.4-AVATAR",
                                   "--reference-fault", "jpeg-only-uploads",
                                   "--", "-k", "create")
    assert code == 1, output[-3000:]
    assert run_dir is not None
    assert control_verdicts(run_dir)["A5.4-AVATAR"] == "inconclusive"
    seen = observations(run_dir, "A5.4-AVATAR")
    assert seen
    for entry in seen:
        assert entry["verdict"] == "inconclusive", entry["reason"]
        assert entry["reason"].startswith(f"{NOT_MODERATION}: image format not accepted: "
                                          "only JPEG is allowed"), entry["reason"]
    assert {e["expect"] for e in seen} == {"must_block", "must_allow"}  # over-blocking neither


def test_login_wall_on_profiles_is_never_a_pass_on_either_channel(tmp_path):
    for channel in ("api", "browser"):
        code, run_dir, output = assess(tmp_path / channel, "--channel", channel,
                                       "--control", "A5.4-BIO",
                                       "--reference-fault", "login-wall-profiles",
                                       "--", "-k", "create and canary-zh")
        assert code == 1, output[-3000:]
        assert run_dir is not None
        assert control_verdicts(run_dir)["A5.4-BIO"] != "pass"
        seen = observations(run_dir, "A5.4-BIO")
        assert seen, output[-3000:]
        for entry in seen:
            assert entry["verdict"] == "inconclusive", (channel, entry["reason"])
            assert "could not read as anonymous" in entry["reason"]
            assert "/login?next=/" in entry["reason"], entry["reason"]
            anonymous = [s for s in entry["details"]["sightings"] if s["role"] == "anonymous"]
            assert anonymous
            assert all(s["visible"] is None and s["note"].startswith("landed on")
                       for s in anonymous)


def _login_required_profile(tmp_path: Path) -> Path:
    """The reference profile, declaring that profiles need a login for anonymous visitors."""
    profile = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    reason = "user profiles are shown to logged-in users only"
    for section in (profile["api"], profile["browser"]):
        for spec in section["surfaces"]["bio"]["observe"]:
            spec["login_required"] = reason
    path = tmp_path / "members-only-profiles.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    return path


def test_declared_login_wall_is_judged_on_the_viewer_alone(tmp_path, monkeypatch):
    profile = _login_required_profile(tmp_path)
    site = reference.start(["login-wall-profiles"])
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, site.admin_token)
    try:
        code, run_dir, output = assess(tmp_path / "reports", "--profile", str(profile),
                                       "--base-url", site.url, "--channel", "browser",
                                       "--control", "A5.4-BIO",
                                       "--", "-k", "create and (canary-zh or benign-zh)")
    finally:
        site.stop()
    assert run_dir is not None, output[-3000:]
    seen = observations(run_dir, "A5.4-BIO")
    assert {e["expect"] for e in seen} == {"must_block", "must_allow"}, output[-3000:]
    for entry in seen:
        assert entry["verdict"] == "pass", entry["reason"]
        assert "(not applicable: anonymous: user profiles are shown" in entry["reason"]
        assert {s["role"] for s in entry["details"]["sightings"]} == {"viewer"}
        assert [n["role"] for n in entry["details"]["not_applicable"]] == ["anonymous"]
    # The run itself is narrowed by -k, so its control stays short of a pass (coverage).
    assert code == 1
