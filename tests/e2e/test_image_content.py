"""Probe images are recognised in what the target serves by their content, not their bytes.

Under `reencode-uploads` the reference site serves every avatar as a 300x300 JPEG: with its
moderation intact A5.4-AVATAR still passes (canaries refused, the benign image found shown by
its hashes); with `avatar-no-ocr` as well the image-text canaries are served, re-encoded, and
the control fails (byte matching would have called them "held; not shown" and passed). A
profile that sends JPEG (`upload_format: jpeg`) passes a site that takes only JPEG.

Each run is scoped to A5.4-AVATAR over the API (8 cases, some 15 s each run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness import reference
from harness.evidence import read_entries
from harness.targets.profile import REFERENCE_PROFILE

from .runs import assess, control_verdicts, faults

AVATAR = "A5.4-AVATAR"


def observations(run_dir: Path) -> list[dict[str, Any]]:
    return [e for e in read_entries(run_dir)
            if e["entry_type"] == "observation" and e["control"] == AVATAR]


def test_reencode_uploads_is_a_tolerated_fault_of_the_avatar_control():
    control, description = faults()["reencode-uploads"]
    assert control == AVATAR
    assert description.startswith(reference.TOLERATED)


def test_reencoded_avatars_still_pass_with_moderation_working(tmp_path):
    code, run_dir, output = assess(tmp_path / "reports", "--channel", "api",
                                   "--control", AVATAR,
                                   "--reference-fault", "reencode-uploads")
    assert run_dir is not None, output[-3000:]
    assert control_verdicts(run_dir)[AVATAR] == "pass", output[-3000:]
    assert code == 0
    benign = [e for e in observations(run_dir) if e["expect"] == "must_allow"]
    assert benign
    for entry in benign:
        assert entry["verdict"] == "pass", entry["reason"]
        for sighting in entry["details"]["sightings"]:
            assert sighting["visible"] is True
            assert ".jpg: the probe's content (hash distance" in sighting["note"], sighting


def test_reencoded_canaries_that_get_through_fail_the_avatar_control(tmp_path):
    code, run_dir, output = assess(tmp_path / "reports", "--channel", "api",
                                   "--control", AVATAR,
                                   "--reference-fault", "reencode-uploads",
                                   "--reference-fault", "avatar-no-ocr")
    assert code == 1, output[-3000:]
    assert run_dir is not None
    assert control_verdicts(run_dir)[AVATAR] == "fail"
    failed = {e["case_id"]: e for e in observations(run_dir) if e["verdict"] == "fail"}
    assert {case.split("/")[-1] for case in failed} == {"image-text-canary-zh-a",
                                                       "image-text-canary-latin-a"}
    for entry in failed.values():
        assert entry["reason"].startswith("prohibited content shown to others")
        notes = [s["note"] for s in entry["details"]["sightings"] if s["visible"]]
        assert notes
        assert all("hash distance" in note for note in notes), notes


def test_a_jpeg_only_site_passes_when_the_profile_sends_jpeg(tmp_path, monkeypatch):
    profile = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    profile["upload_format"] = "jpeg"
    path = tmp_path / "jpeg-uploads.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    site = reference.start(["jpeg-only-uploads"])
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, site.admin_token)
    try:
        code, run_dir, output = assess(tmp_path / "reports", "--profile", str(path),
                                       "--base-url", site.url, "--channel", "api",
                                       "--control", AVATAR)
    finally:
        site.stop()
    assert run_dir is not None, output[-3000:]
    assert control_verdicts(run_dir)[AVATAR] == "pass", output[-3000:]
    assert code == 0
    seen = observations(run_dir)
    assert len(seen) == 8
    for entry in seen:  # refused by moderation, not for the format
        assert entry["verdict"] == "pass", entry["reason"]
        assert entry["disposition"] == ("rejected" if entry["expect"] == "must_block"
                                        else "published")
