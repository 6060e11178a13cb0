"""Accounts made beforehand (`accounts.provisioned`, inline or a secrets file): read and checked
at load, their passwords redacted, and signed in by the session through the channel's login."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from harness.errors import ConfigError
from harness.observe.flow import Session
from harness.targets.api import ApiTarget
from harness.targets.profile import load_profile

BASE = "http://127.0.0.1:9"
PROFILE = """
name: provisioned
allowed_hosts: [127.0.0.1]
accounts:
  provisioned: {provisioned}
api:
  register: {{method: POST, path: /register, json: {{name: "{{account_name}}"}},
              extract: {{token: token}}}}
  login: {{method: POST, path: /login, json: {{name: "{{account_name}}", password: "{{password}}"}},
           extract: {{token: token}}}}
  surfaces: {{}}
"""


def _profile(tmp_path: Path, provisioned: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE.format(provisioned=provisioned), encoding="utf-8")
    return path


def test_a_secrets_file_gives_the_accounts_and_their_passwords_are_secrets(
        tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text(
        "moderator: {account_name: mod, password: p4ss-word, email: mod@x.test}\n",
        encoding="utf-8")
    profile = load_profile(_profile(tmp_path, "{file: secrets.yaml}"), base_url=BASE)
    assert profile.accounts.provisioned == {
        "moderator": {"account_name": "mod", "password": "p4ss-word", "email": "mod@x.test"}}
    assert "p4ss-word" in profile.secrets


@pytest.mark.parametrize(("content", "wanted"), [
    ("author: {account_name: a, password: b}", "'author' is not a role"),
    ("moderator: {account_name: a}", "needs account_name and password"),
    ("moderator: {account_name: a, password: b, token: c}", "unknown key token"),
    ("- a list", "maps roles to accounts"),
])
def test_a_bad_secrets_file_is_refused_at_load(tmp_path: Path, content: str,
                                               wanted: str) -> None:
    (tmp_path / "secrets.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=wanted):
        load_profile(_profile(tmp_path, "{file: secrets.yaml}"), base_url=BASE)


def test_a_missing_secrets_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read secrets file .*nowhere\.yaml"):
        load_profile(_profile(tmp_path, "{file: nowhere.yaml}"), base_url=BASE)


def test_the_session_signs_provisioned_roles_in_and_says_who_could_not(
        tmp_path: Path) -> None:
    path = _profile(tmp_path, "{moderator: {account_name: mod, password: '${MOD_PW}'}, "
                              "viewer: {account_name: watcher, password: wrong}}")
    profile = load_profile(path, base_url=BASE, environ={"MOD_PW": "right"})
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = json.loads(request.content)
        if request.url.path == "/login" and body["password"] == "right":
            return httpx.Response(200, json={"token": f"tok-{body['name']}"})
        return httpx.Response(403, json={"error": "no"})

    api = ApiTarget(profile, transport=httpx.MockTransport(answer))
    session = Session.open(api, 1, "ab12")
    assert seen == ["/login", "/login"]  # a provisioned viewer is signed in, not registered
    assert session.actors["moderator"].token == "tok-mod"
    assert session.actors["moderator"].variables["account_name"] == "mod"
    assert session.actors["viewer"].token is None
    assert session.not_signed_in["viewer"].startswith("login step 1 (POST /login): POST ")
    assert {"right", "wrong", "tok-mod"} <= set(session.secrets)


def test_without_login_steps_a_provisioned_role_is_not_signed_in_and_told_why(
        tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("name: no-login\nallowed_hosts: [127.0.0.1]\naccounts:\n  provisioned: "
                    "{moderator: {account_name: m, password: p}}\napi:\n  register: {method: "
                    "POST, path: /register, extract: {token: token}}\n  surfaces: {}\n",
                    encoding="utf-8")
    api = ApiTarget(load_profile(path, base_url=BASE), transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json={"token": "t"})))
    session = Session.open(api, 1, "ab12")
    assert "the profile has no api.login" in session.not_signed_in["moderator"]
