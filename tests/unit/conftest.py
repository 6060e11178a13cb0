"""Shared helpers of the unit tests: small profiles written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MINIMAL_PROFILE = """\
name: tiny
base_url: null
allowed_hosts: [127.0.0.1]
api:
  headers:
    X-Device-Id: "{device_id}"
  auth_headers:
    Authorization: "Bearer {token}"
  admin_headers:
    X-Admin-Token: "${TINY_ADMIN_TOKEN}"
  timeout_seconds: 5
  register:
    method: POST
    path: /api/register
    json: {account_name: "{account_name}", password: "{password}"}
    extract: {token: token, id: user.id}
  surfaces:
    post:
      create:
        - method: POST
          path: /api/posts
          as: author
          json: {text: "{content}"}
          extract: {post_id: id}
      edit:
        - {method: PATCH, path: "/api/posts/{post_id}", as: author, json: {text: "{content}"}}
      observe:
        - {method: GET, path: "/api/posts/{post_id}", as: [viewer]}
"""

ADMIN_TOKEN = "tiny-admin-secret-0001"


@pytest.fixture
def write_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Path]:
    """Write a profile (the minimal one by default) to tmp_path, with its env var set."""
    monkeypatch.setenv("TINY_ADMIN_TOKEN", ADMIN_TOKEN)

    def write(text: str = MINIMAL_PROFILE, name: str = "profile.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal_profile() -> str:
    """The text of a minimal valid profile (one surface, an admin token from the env)."""
    return MINIMAL_PROFILE


@pytest.fixture
def tiny_admin_token() -> str:
    """The value `write_profile` gives the minimal profile's `${TINY_ADMIN_TOKEN}`."""
    return ADMIN_TOKEN
