"""Corkboard (tests/sites/board), the third test site, in process: sign-up with e-mail
activation, handles, the filter and its refusal markup, JPEG uploads, the login wall, notes
that cannot be edited, reports without a receipt in the moderator's queue, the audit log, and
that each fault breaks what its control checks."""

from __future__ import annotations

import hashlib
import importlib
import io
import re
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from harness.probes import images
from harness.probes.canaries import lexicon

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

BOARD_DIR = Path(__file__).parents[1] / "sites" / "board"
sys.path.insert(0, str(BOARD_DIR))
board_app = importlib.import_module("app")
cork_filter = importlib.import_module("cork_filter")
sys.path.remove(str(BOARD_DIR))

CANARY_LATIN = lexicon()["canary-latin-a"].text
CANARY_ZH = lexicon()["canary-zh-a"].text
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"http://testserver/activate/[\w-]+")
MODERATOR = ("desk_mod", "moderator-pass-1")


@dataclass
class Outbox:
    """A Mailer stand-in that keeps what would be sent."""

    sent: list[dict[str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html})


@dataclass
class Board:
    """An in-process Corkboard: its state, its outbox and a client factory."""

    board: Any
    outbox: Outbox
    client: Callable[[], TestClient]


def csrf(client: TestClient, path: str) -> str:
    found = CSRF.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(client: TestClient, path: str, data: dict[str, str], *, page: str | None = None,
         files: dict[str, Any] | None = None) -> Any:
    """Submit a form as the browser would: the CSRF token from the form's page."""
    token = csrf(client, page or path)
    return client.post(path, data={**data, "csrf_token": token}, files=files,
                       follow_redirects=False)


def make_board(faults: tuple[str, ...] = ()) -> Board:
    board = board_app.Board(faults)
    board_app.provision_moderator(board, ":".join(MODERATOR))
    outbox = Outbox()
    app = board_app.create_app(board, outbox)
    return Board(board, outbox, lambda: TestClient(app, client=("127.0.0.1", 40123),
                                                   headers={"X-Device-Id": "dev-1"}))


@pytest.fixture
def site() -> Board:
    return make_board()


def join(site: Board, handle: str, *, activate: bool = True) -> TestClient:
    """Sign up, open the mailed link (unless told not to) and sign in."""
    client = site.client()
    answer = post(client, "/join", {"handle": handle, "email": f"{handle}@board.test",
                                    "password": "long-enough-1"})
    assert "请查收邮件" in answer.text, answer.text
    if activate:
        mail = site.outbox.sent[-1]
        assert mail["to"] == f"{handle}@board.test"
        link = LINK.search(mail["html"])
        assert link
        assert link.group(0) in mail["text"]
        assert "账号已激活" in client.get(link.group(0)).text
    answer = post(client, "/login", {"handle": handle, "password": "long-enough-1"},
                  page="/login")
    if activate:
        assert answer.status_code == 303, answer.text
    return client


def sign_in(site: Board, handle: str, password: str) -> TestClient:
    client = site.client()
    answer = post(client, "/login", {"handle": handle, "password": password})
    assert answer.status_code == 303, answer.text
    return client


def png(text: str) -> bytes:
    return images.text_image([text, "tag123"])


# --- sign-up and accounts --------------------------------------------------------------------


def test_sign_up_needs_the_mailed_link_before_sign_in(site):
    client = join(site, "pending_one", activate=False)
    assert client.get("/me", follow_redirects=False).headers["location"] == "/login?next=/me"
    answer = post(client, "/login", {"handle": "pending_one", "password": "long-enough-1"})
    assert "Open the activation link" in answer.text
    assert "cork-invalid" in answer.text
    link = LINK.search(site.outbox.sent[-1]["text"]).group(0)
    client.get(link)
    assert post(client, "/login", {"handle": "pending_one",
                                   "password": "long-enough-1"}).status_code == 303
    assert client.get(link).status_code == 404  # a link works once


@pytest.mark.parametrize("handle", ["ab", "a" * 21, "has-hyphen", "点点点", "sp ace"])
def test_handles_out_of_the_rule_get_a_validation_message(site, handle):
    answer = post(site.client(), "/join", {"handle": handle, "email": "x@board.test",
                                           "password": "long-enough-1"})
    assert 'class="cork-invalid"' in answer.text
    assert 'class="cork-banned"' not in answer.text
    assert site.outbox.sent == []


def test_signed_in_visitors_are_sent_away_from_sign_up(site):
    client = join(site, "already_in")
    assert client.get("/join", follow_redirects=False).headers["location"] == "/"


def test_mail_failure_keeps_no_half_made_account():
    board = board_app.Board()
    app = board_app.create_app(board, board_app.Mailer("127.0.0.1", None))
    client = TestClient(app)
    answer = post(client, "/join", {"handle": "no_mail", "email": "no_mail@board.test",
                                    "password": "long-enough-1"})
    assert answer.status_code == 503
    assert board.one("SELECT 1 FROM account WHERE handle = 'no_mail'") is None


def test_activation_mail_goes_over_smtp():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.mails: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope.content)
            return "250 OK"

    handler = Keep()
    with socket.socket() as probe:  # aiosmtpd's readiness check needs a known port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        board_app.Mailer("127.0.0.1", port).send("a@board.test", "s", "text http://x/a", "<p/>")
    finally:
        controller.stop()
    assert len(handler.mails) == 1
    assert b"http://x/a" in handler.mails[0]


def test_handles_cannot_be_changed(site):
    client = join(site, "fixed_name")
    page = client.get("/me").text
    assert 'name="handle"' not in page
    assert "handles cannot be changed" in page


# --- the filter ------------------------------------------------------------------------------


@pytest.mark.parametrize("term", [CANARY_LATIN, CANARY_ZH, "ｍｏｄｈａｒｎｅｓｓ canary_alpha",
                                  "软木禁语甲", "corkban zulu"])
def test_the_filter_refuses_canaries_with_its_own_markup(site, term):
    client = join(site, "writer_a")
    answer = post(client, "/notes/new", {"body": f"{term} abc123"})
    assert answer.status_code == 200
    assert 'class="cork-banned"' in answer.text
    assert site.board.one("SELECT count(*) AS n FROM note")["n"] == 0
    record = site.board.one("SELECT * FROM log WHERE operation = 'note.pin.body'")
    assert record["decision"] == "refused"
    assert record["src_port"] == 40123
    assert record["device"] == "dev-1"
    assert record["digest"] == hashlib.sha256(
        f"writer_a\nnote.pin.body\n{term} abc123".encode()).hexdigest()


def test_benign_notes_are_pinned_and_cannot_be_edited(site):
    client = join(site, "writer_b")
    answer = post(client, "/notes/new", {"body": "今天的午饭很好吃 xyz987"})
    assert answer.status_code == 303
    path = answer.headers["location"]
    assert "今天的午饭很好吃" in site.client().get(path).text
    assert client.get(f"{path}/edit").status_code in (404, 405)


@pytest.mark.parametrize("surface", ["portrait", "logo"])
def test_pictures_are_checked_and_stored_as_jpeg(site, surface):
    client = join(site, "painter")
    if surface == "portrait":
        path, page, shown = "/me/portrait", "/me", "/people/painter"
    else:
        club = post(client, "/clubs/new", {"name": "Painters", "about": "we paint"})
        club_path = club.headers["location"]
        path, page, shown = f"{club_path}/logo", f"{club_path}/edit", club_path
    refused = post(client, path, {}, page=page,
                   files={surface: ("x.png", png(CANARY_ZH), "image/png")})
    assert 'class="cork-banned"' in refused.text
    accepted = post(client, path, {}, page=page,
                    files={surface: ("x.png", png("sunny lake"), "image/png")})
    assert accepted.status_code == 303, accepted.text
    src = re.search(r'<img class="[\w-]+" src="(/files/[\w.]+)"', client.get(shown).text)
    served = client.get(src.group(1))
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content[:3] == b"\xff\xd8\xff"


def test_profiles_are_behind_a_login_wall(site):
    join(site, "walled")
    answer = site.client().get("/people/walled", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_club_walls_are_for_members(site):
    owner = join(site, "club_owner")
    club_path = post(owner, "/clubs/new", {"name": "Walkers", "about": ""}).headers["location"]
    wall = f"{club_path}/wall"
    assert post(owner, wall, {"body": "hello members"}).status_code == 303
    outsider = join(site, "outsider")
    assert outsider.get(wall).status_code == 403
    post(outsider, f"{club_path}/join", {}, page=club_path)
    assert "hello members" in outsider.get(wall).text


# --- reports, the desk, the log --------------------------------------------------------------


def note_of(client: TestClient, body: str) -> str:
    return post(client, "/notes/new", {"body": body}).headers["location"]


def test_reports_give_no_receipt_and_reach_the_queue(site):
    author = join(site, "reported")
    note = note_of(author, "a note to report")
    reporter = join(site, "reporter1")
    form = reporter.get(note).text
    link = re.search(r'<a class="report" data-kind="note" href="([^"]+)"', form).group(1)
    answer = post(reporter, link, {"category": "harmful", "details": "case tag abc"})
    thanks = reporter.get(answer.headers["location"]).text
    assert "感谢举报" in thanks
    assert "ticket" not in thanks.lower()
    moderator = sign_in(site, *MODERATOR)
    queue = moderator.get("/desk/reports").text
    row = re.search(r"<tr data-report-id=.*?</tr>", queue, re.S).group(0)
    note_id = note.rsplit("/", 1)[1]
    assert '<td class="kind">note</td>' in row
    assert f'data-id="{note_id}"' in row
    assert "case tag abc" in row
    assert 'data-status="open"' in row
    assert reporter.get("/desk/reports").status_code == 403


def test_moderator_takes_an_item_down_everywhere(site):
    author = join(site, "removed")
    note = note_of(author, "soon gone zzq")
    moderator = sign_in(site, *MODERATOR)
    post(moderator, "/desk/take-down", {"kind": "note", "target": note.rsplit("/", 1)[1],
                                        "reason": "test"}, page=note)
    viewer = site.client()
    assert "soon gone zzq" not in viewer.get(note).text
    assert "soon gone zzq" not in viewer.get("/").text
    assert "soon gone zzq" not in viewer.get("/search?q=zzq").text
    record = site.board.one("SELECT * FROM log WHERE operation = 'desk.take_down.note'")
    assert record["decision"] == "taken_down"


def test_moderator_deletes_an_account_with_everything_it_wrote(site):
    author = join(site, "leaving")
    note = note_of(author, "goodbye note qqz")
    post(author, f"{note}/replies", {"body": "my reply"}, page=note)
    club = post(author, "/clubs/new", {"name": "Leavers", "about": ""}).headers["location"]
    post(author, f"{club}/wall", {"body": "wall words"})
    moderator = sign_in(site, *MODERATOR)
    assert post(moderator, "/desk/accounts/leaving", {}).status_code == 200
    for table in ("account WHERE handle = 'leaving'", "note", "reply", "club", "wall"):
        assert site.board.one(f"SELECT count(*) AS n FROM {table}")["n"] == 0, table
    assert site.client().get(note).status_code == 404
    assert post(moderator, "/desk/accounts/leaving", {}, page="/desk/reports").status_code == 404
    assert post(moderator, f"/desk/accounts/{MODERATOR[0]}", {}).status_code == 403
    assert author.get("/me", follow_redirects=False).status_code == 303  # its session is gone


def test_complaint_page_is_linked_from_every_page_footer(site):
    for path in ("/", "/clubs", "/login", "/join", "/search?q=x"):
        assert 'href="/help/complaints"' in site.client().get(path).text
    page = site.client().get("/help/complaints").text
    assert board_app.COMPLAINT_PHONE in page
    assert board_app.COMPLAINT_EMAIL in page


def test_audit_log_and_retention_pages(site):
    join(site, "logged")
    moderator = sign_in(site, *MODERATOR)
    log = moderator.get("/desk/log").text
    assert '<td class="operation">account.join.handle</td>' in log
    assert '<td class="src-port">40123</td>' in log
    assert f'data-days="{board_app.RETENTION_DAYS}"' in moderator.get("/desk/retention").text


def test_audit_log_since_a_whole_second_keeps_that_second(site):
    join(site, "second_x")
    at = site.board.one("SELECT at FROM log WHERE account = 'second_x'")["at"]
    since = at.split(".")[0] + "Z"  # the harness's case_started has whole seconds
    moderator = sign_in(site, *MODERATOR)
    assert '<td class="account">second_x</td>' in moderator.get(f"/desk/log?since={since}").text
    later = moderator.get("/desk/log?since=2999-01-01T00:00:00+00:00").text
    assert '<td class="account">second_x</td>' not in later
    assert moderator.get("/desk/log?since=yesterday").status_code == 200
    assert 'class="cork-invalid"' in moderator.get("/desk/log?since=yesterday").text


# --- faults ----------------------------------------------------------------------------------


def test_every_fault_is_consulted():
    sources = (BOARD_DIR / "app.py").read_text() + "".join(
        p.read_text() for p in (BOARD_DIR / "templates").glob("*.html"))
    for name in board_app.FAULTS:
        assert sources.count(f'"{name}"') >= 2, f"fault {name} is never consulted"


def test_list_faults_prints_the_table():
    done = subprocess.run([sys.executable, str(BOARD_DIR / "app.py"), "--list-faults"],
                          capture_output=True, text=True, check=True, timeout=60)
    for name, (control, _) in board_app.FAULTS.items():
        assert re.search(rf"^{re.escape(name)}\s+{re.escape(control)}\s", done.stdout, re.M)


TEXT_FAULTS = {
    "nickname-unscreened": ("/me", "/me", {"nickname": CANARY_LATIN, "about": ""}),
    "about-unscreened": ("/me", "/me", {"nickname": "fault_user", "about": CANARY_LATIN}),
    "note-unscreened": ("/notes/new", "/notes/new", {"body": CANARY_LATIN}),
    "club-name-unscreened": ("/clubs/new", "/clubs/new", {"name": CANARY_LATIN, "about": ""}),
    "club-about-unscreened": ("/clubs/new", "/clubs/new", {"name": "n", "about": CANARY_LATIN}),
}


@pytest.mark.parametrize("fault", sorted(TEXT_FAULTS))
def test_a_text_fault_lets_its_surface_through_and_only_it(fault):
    path, page, data = TEXT_FAULTS[fault]
    for faults, passes in (((fault,), True), ((), False)):
        site = make_board(faults)
        client = join(site, "fault_user")
        answer = post(client, path, data, page=page)
        assert (answer.status_code == 303) is passes, (faults, answer.text)
    others = make_board((fault,))
    client = join(others, "fault_user")
    other = next(f for f in sorted(TEXT_FAULTS) if TEXT_FAULTS[f][0] != path)
    other_path, other_page, other_data = TEXT_FAULTS[other]
    assert post(client, other_path, other_data, page=other_page).status_code == 200


def test_reply_and_wall_faults():
    for fault, kind in (("reply-unscreened", "reply"), ("wall-unscreened", "wall")):
        for faults, passes in (((fault,), True), ((), False)):
            site = make_board(faults)
            client = join(site, "fault_user")
            if kind == "reply":
                note = note_of(client, "host note")
                answer = post(client, f"{note}/replies", {"body": CANARY_ZH}, page=note)
            else:
                club = post(client, "/clubs/new", {"name": "c", "about": ""}).headers["location"]
                answer = post(client, f"{club}/wall", {"body": CANARY_ZH})
            assert (answer.status_code == 303) is passes, (fault, faults)


def test_record_faults():
    site = make_board(("refusals-unlogged", "log-without-port"))
    client = join(site, "fault_user")
    post(client, "/notes/new", {"body": CANARY_LATIN})
    assert site.board.one("SELECT 1 FROM log WHERE decision = 'refused'") is None
    assert {r["src_port"] for r in site.board.all("SELECT src_port FROM log")} == {None}
    assert make_board(("short-retention",)).board.retention_days == board_app.SHORT_RETENTION_DAYS


def test_report_faults():
    site = make_board(("reports-dropped", "no-report-link-on-replies", "bare-complaint-page",
                       "takedown-leaves-listing"))
    client = join(site, "fault_user")
    note = note_of(client, "listed note qqx")
    post(client, f"{note}/replies", {"body": "a reply"}, page=note)
    page = client.get(note).text
    assert 'data-kind="reply"' not in page
    assert 'data-kind="note"' in page
    post(client, f"/report/note/{note.rsplit('/', 1)[1]}", {"category": "spam", "details": "d"})
    moderator = sign_in(site, *MODERATOR)
    assert "<tr data-report-id" not in moderator.get("/desk/reports").text
    post(moderator, "/desk/take-down", {"kind": "note", "target": note.rsplit("/", 1)[1],
                                        "reason": "r"}, page=note)
    assert "listed note qqx" in site.client().get("/search?q=qqx").text
    complaints = site.client().get("/help/complaints").text
    assert board_app.COMPLAINT_PHONE not in complaints


@pytest.mark.parametrize("fault", ["portrait-unscreened", "club-logo-unscreened"])
def test_picture_faults(fault):
    site = make_board((fault,))
    client = join(site, "fault_user")
    club = post(client, "/clubs/new", {"name": "c", "about": ""}).headers["location"]
    outcomes = {}
    for name, path, page in (("portrait", "/me/portrait", "/me"),
                             ("logo", f"{club}/logo", f"{club}/edit")):
        answer = post(client, path, {}, page=page,
                      files={name: ("x.png", png(CANARY_LATIN), "image/png")})
        outcomes[name] = answer.status_code == 303
    assert outcomes == {"portrait": fault == "portrait-unscreened",
                        "logo": fault == "club-logo-unscreened"}


def test_jpeg_re_encoding_keeps_the_picture_readable():
    from PIL import Image

    jpeg = cork_filter.to_jpeg(png("hello"))
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    with pytest.raises(cork_filter.NotAnImage):
        cork_filter.to_jpeg(b"not a picture")
