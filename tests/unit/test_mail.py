"""Mail to the harness's accounts: the SMTP sink, the folder and command mailboxes, the `mail`
step, and a sign-up by e-mail activation through the API channel."""

from __future__ import annotations

import json
import smtplib
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.errors import ConfigError
from harness.observe.flow import new_account, outcome_of
from harness.targets.api import Actor, ApiTarget
from harness.targets.mail import (
    CommandMailbox,
    FolderMailbox,
    MailNotFound,
    MailSink,
    parse_mail,
    profile_mailbox,
    run_mail_step,
)
from harness.targets.profile import load_profile

LINK = r"/activate/[\w-]+"


def _mail(to: str, link: str, *, html: bool = True) -> bytes:
    message = EmailMessage()
    message["From"] = "site@example.test"
    message["To"] = to
    message["Subject"] = "Activate your account"
    message.set_content(f"Welcome! Open {link}. Thanks.")
    if html:
        message.add_alternative(f'<p><a href="{link}&amp;x=1">activate</a></p>', subtype="html")
    return message.as_bytes()


def _send(port: int, to: str, link: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("site@example.test", [to], _mail(to, link))


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink("127.0.0.1", 0) as running:
        yield running


def test_a_mail_gives_its_recipients_and_links_html_first() -> None:
    mail = parse_mail(_mail("Ann@Board.test", "http://127.0.0.1:9/activate/abc"), 1.0)
    assert mail.recipients == {"ann@board.test"}
    assert mail.subject == "Activate your account"
    # The text part's URL without its full stop, then the HTML link (entity decoded).
    assert mail.links == ("http://127.0.0.1:9/activate/abc", "http://127.0.0.1:9/activate/abc&x=1")


def test_the_sink_listens_on_a_free_port_and_keeps_each_mail(sink: MailSink) -> None:
    assert sink.port > 0
    _send(sink.port, "ann@board.test", "http://127.0.0.1:9/activate/t1")
    box = sink.mailbox()
    assert box.variables == {"smtp_host": "127.0.0.1", "smtp_port": str(sink.port)}
    assert box.wait_for_link("ann@board.test", r"/activate/t1$", 5) \
        == "http://127.0.0.1:9/activate/t1"
    assert box.mails("bob@board.test") == []  # kept apart by recipient (Delivered-To)


def test_a_link_is_handed_out_once_and_a_wait_ends_at_its_deadline(sink: MailSink) -> None:
    _send(sink.port, "ann@board.test", "http://127.0.0.1:9/activate/t1")
    box = sink.mailbox()
    assert box.wait_for_link("ann@board.test", r"/activate/t1$", 5).endswith("/t1")
    started = time.monotonic()
    with pytest.raises(MailNotFound) as info:
        box.wait_for_link("ann@board.test", r"/activate/t1$", 0.5)
    assert 0.4 < time.monotonic() - started < 3
    message = str(info.value)
    assert "no mail to ann@board.test with a link matching" in message
    assert "1 mail(s) to ann@board.test came" in message
    assert "/activate/t1" in message
    assert f"SMTP sink on 127.0.0.1:{sink.port}" in message


def test_a_mail_that_comes_while_waiting_is_found(sink: MailSink) -> None:
    box = sink.mailbox()
    later = threading.Timer(0.5, _send, (sink.port, "cy@board.test",
                                         "http://127.0.0.1:9/activate/late"))
    later.start()
    try:
        assert box.wait_for_link("cy@board.test", LINK, 10).endswith("/activate/late")
    finally:
        later.join()


def test_a_maildir_is_read_from_new_and_cur(tmp_path: Path) -> None:
    for sub, name in (("new", "a"), ("cur", "b:2,S")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(
            _mail("dee@board.test", f"http://127.0.0.1:9/activate/{name[0]}", html=False))
    (tmp_path / "tmp").mkdir()
    mails = FolderMailbox(tmp_path).mails("dee@board.test")
    assert sorted(link for mail in mails for link in mail.links) == [
        "http://127.0.0.1:9/activate/a", "http://127.0.0.1:9/activate/b"]


def test_a_command_prints_the_newest_mail_and_its_failure_is_told(tmp_path: Path) -> None:
    (tmp_path / "mail.eml").write_bytes(_mail("eve@board.test", "http://127.0.0.1:9/activate/c"))
    script = ("import sys, pathlib; assert sys.argv[1] == 'eve@board.test'; "
              "sys.stdout.buffer.write(pathlib.Path('mail.eml').read_bytes())")
    box = CommandMailbox([sys.executable, "-c", script, "{email}"], tmp_path)
    assert box.wait_for_link("eve@board.test", LINK, 5).startswith("http://127.0.0.1:9/")
    failing = CommandMailbox([sys.executable, "-c", "import sys; sys.exit('no such box')"],
                             tmp_path)
    with pytest.raises(MailNotFound, match="exited 1: no such box"):
        failing.wait_for_link("eve@board.test", LINK, 0.3)


def test_a_mail_step_binds_the_link_or_says_why_not(sink: MailSink) -> None:
    _send(sink.port, "fay@board.test", "http://127.0.0.1:9/activate/f")
    into: dict[str, Any] = {}
    spec = {"to": "{email}", "link": LINK, "into": "activation_link", "timeout": 5}
    done = run_mail_step(sink.mailbox(), spec, {"email": "fay@board.test"}, into, "author")
    assert done.ok
    assert into["activation_link"].endswith("/activate/f")
    assert done.url == "mailto:fay@board.test"
    assert done.method == "MAIL"
    missing = run_mail_step(None, spec, {"email": "fay@board.test"}, {}, "author")
    assert not missing.ok
    assert "no mailbox" in (missing.error or "")
    bad = run_mail_step(sink.mailbox(), {**spec, "link": "("}, {"email": "x@y"}, {}, "author")
    assert "not a regular expression" in (bad.error or "")


# --- a sign-up by e-mail activation, through the API channel -----------------------------------


class _Site(BaseHTTPRequestHandler):
    """Sign-up mails an activation link; login works only once it was opened."""

    accounts: ClassVar[dict[str, dict[str, Any]]] = {}
    smtp_port = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/signup":
            token = f"tok{len(self.accounts)}"
            self.accounts[body["name"]] = {**body, "token": token, "active": False}
            host, port = self.server.server_address[:2]
            _send(self.smtp_port, body["email"], f"http://{host}:{port}/activate/{token}")
            self._answer(201, {"pending": True})
        elif self.path == "/login":
            account = self.accounts.get(body["name"])
            if account is None or not account["active"] or account["password"] != body["password"]:
                self._answer(403, {"error": "not active"})
            else:
                self._answer(200, {"token": account["token"]})

    def do_GET(self) -> None:
        for account in self.accounts.values():
            if self.path == f"/activate/{account['token']}":
                account["active"] = True
                self._answer(200, {"activated": True})
                return
        self._answer(404, {"error": "no such link"})


PROFILE = """
name: mailing
allowed_hosts: [127.0.0.1]
accounts:
  naming: {pattern: "^[a-z0-9_]{3,20}$", max_length: 20}
  email: "{account_name}@mail.test"
  mail: {smtp: {host: 127.0.0.1, port: "${SMTP_PORT}"}}
api:
  register:
    - {method: POST, path: /signup, json: {name: "{account_name}", email: "{email}",
       password: "{password}"}}
    - {mail: {link: "/activate/\\\\w+", into: activation_link, timeout: 10}}
    - {method: GET, url: "{activation_link}"}
  login: {method: POST, path: /login, json: {name: "{account_name}", password: "{password}"},
          extract: {token: token}}
  surfaces: {}
"""


@pytest.fixture
def site(sink: MailSink) -> Iterator[str]:
    _Site.accounts = {}
    _Site.smtp_port = sink.port
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_account_is_activated_from_its_mail_and_signs_in(
        site: str, sink: MailSink, tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path, base_url=site, environ={"SMTP_PORT": str(sink.port)})
    assert profile.accounts.mail == {"smtp": {"host": "127.0.0.1", "port": sink.port}}
    account = new_account("viewer", 7, "ab12", profile.accounts)
    assert account["email"] == f"{account['account_name']}@mail.test"
    actor = Actor("viewer", "hx-1")
    with ApiTarget(profile, mailbox=sink.mailbox()) as api:
        done = api.register(actor, account)
    assert done.ok, outcome_of(done)
    assert done.method == "POST"
    assert done.url.endswith("/signup")
    assert actor.token == "tok0"
    assert actor.variables["email"] == account["email"]
    assert _Site.accounts[account["account_name"]]["active"]


def test_a_sign_up_whose_mail_never_comes_says_which_step_waited(
        site: str, sink: MailSink, tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE.replace("timeout: 10", "timeout: 0.3").replace(
        "/activate/", "/confirm/"), encoding="utf-8")
    profile = load_profile(path, base_url=site, environ={"SMTP_PORT": str(sink.port)})
    with ApiTarget(profile, mailbox=sink.mailbox()) as api:
        done = api.register(Actor("viewer", "hx-1"), new_account("viewer", 8, "cd34",
                                                                  profile.accounts))
    said = outcome_of(done)
    assert not done.ok
    assert said.startswith("register step 2 (mail to {email} with a link matching")
    assert "MAIL mailto:" in said
    assert "1 mail(s)" in said


def test_an_absolute_url_outside_allowed_hosts_is_refused_before_sending(
        site: str, sink: MailSink, tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path, base_url=site, environ={"SMTP_PORT": str(sink.port)})
    with ApiTarget(profile) as api, pytest.raises(ConfigError, match="not in allowed_hosts"):
        api.request({"method": "GET", "url": "{link}"}, {"link": "http://example.com/x"},
                    {"author": Actor("author", "d")})


def test_a_profiles_mailbox_is_its_own_sink_for_the_block_or_its_folder(tmp_path: Path) -> None:
    with profile_mailbox({"smtp": {"host": "127.0.0.1", "port": 0}}, tmp_path) as box:
        assert isinstance(box, FolderMailbox)
        port = int(box.variables["smtp_port"])
        _send(port, "gus@board.test", "http://127.0.0.1:9/activate/g")
        assert box.wait_for_link("gus@board.test", LINK, 5).endswith("/activate/g")
        folder = box.folder
    assert not folder.exists()  # the sink removed what it made
    with pytest.raises(ConnectionRefusedError):
        _send(port, "gus@board.test", "http://127.0.0.1:9/activate/h")  # and stopped
    with profile_mailbox({"directory": "outbox"}, tmp_path) as box:
        assert isinstance(box, FolderMailbox)
        assert box.folder == tmp_path / "outbox"
    with profile_mailbox(None, tmp_path) as box:
        assert box is None


def test_a_mail_step_result_is_a_step_result() -> None:
    from harness.targets.base import StepResult
    from harness.targets.mail import MailResult

    done = MailResult(url="mailto:a@b.test", actor="author", started="t", elapsed_s=0.1)
    assert isinstance(done, StepResult)
    assert isinstance(vars(MailResult)["ok"], property)
    assert done.ok
    assert not MailResult(url="mailto:a@b.test", actor="author", started="t", elapsed_s=0.1,
                          error="no mail").ok
