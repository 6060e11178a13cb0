"""Mail the target sends to the accounts the harness makes, and the `mail` step that waits for it.

Where mail arrives is the profile's `accounts.mail`:

- `smtp: {host, port}`: the harness's own SMTP sink (aiosmtpd), started for the run on that
  address (port 0: a free one, given to steps as `{smtp_port}`) and stopped at its end. It
  keeps each message it accepts as an `.eml` file in a folder of its own, so that every worker
  of a run reads the same mail.
- `command: [argv...]`: a command that prints the newest mail to `{email}` (RFC 822) on stdout.
- `directory: PATH`: a maildir (`new/`, `cur/`) or a folder of `.eml` files.

A `mail` step (`{mail: {to, link, into, timeout}}`, on both channels) polls its mailbox until
a mail to `to` holds a URL matching `link` (in its HTML or text part), or the deadline passes,
and binds the first such URL not already taken. Messages are parsed with the stdlib `email`.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.targets.templates import render

POLL_SECONDS = 0.25
DEFAULT_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 30.0
RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")
_URL = re.compile(r"https?://[^\s<>\"']+")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>"


class MailNotFound(HarnessError):
    """No mail with the link a `mail` step waits for came before its deadline."""


@dataclass(frozen=True)
class Mail:
    """One message as a `mail` step needs it: who it went to, its subject and its links."""

    recipients: frozenset[str]
    subject: str
    received: float
    links: tuple[str, ...]


def parse_mail(data: bytes, received: float) -> Mail:
    """The recipients (lower case), subject and URLs of a mail, in the order of its text and
    HTML parts (an HTML part's links before the URLs of its text)."""
    message = message_from_bytes(data, policy=policy.default)
    recipients = frozenset(address.lower() for _, address in getaddresses(
        [str(value) for name in RECIPIENT_HEADERS for value in message.get_all(name, [])])
        if address)
    links: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        text = _text_of(part)
        if kind == "text/html":
            links += [html.unescape(a or b) for a, b in _HREF.findall(text)]
            text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        links += [url.rstrip(_TRAILING) for url in _URL.findall(text)]
    return Mail(recipients, str(message.get("subject", "")), received,
                tuple(dict.fromkeys(link for link in links if link)))


def _text_of(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


class Mailbox:
    """Where mail to the harness's accounts is read; a link is handed out once."""

    where = "a mailbox"
    variables: Mapping[str, str] = {}

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._lock = threading.Lock()
        self.problem: str | None = None  # the last reason reading failed (shown on timeout)

    def mails(self, to: str) -> list[Mail]:
        """The mails to `to` that can be read now, newest first."""
        raise NotImplementedError

    def claim(self, link: str) -> bool:
        """Take a link; False when a step took it already (a second sign-in's mail is new)."""
        with self._lock:
            if link in self._taken:
                return False
            self._taken.add(link)
            return True

    def wait_for_link(self, to: str, link: str, timeout: float) -> str:
        """The first URL matching `link` in the newest mail to `to` that has one, polled for
        until `timeout` seconds have passed; MailNotFound says what came instead."""
        pattern = re.compile(link)
        deadline = time.monotonic() + timeout
        while True:
            mails = self.mails(to)
            for mail in mails:
                for url in mail.links:
                    if pattern.search(url) and self.claim(url):
                        return url
            left = deadline - time.monotonic()
            if left <= 0:
                raise MailNotFound(self._not_found(to, link, timeout, mails))
            time.sleep(min(POLL_SECONDS, left))

    def _not_found(self, to: str, link: str, timeout: float, mails: Sequence[Mail]) -> str:
        said = f"no mail to {to} with a link matching {link!r} within {timeout:g}s in " \
            f"{self.where}"
        if mails:
            seen = "; ".join(f"{m.subject!r}: {', '.join(m.links) or 'no links'}"
                             for m in mails[:3])
            said += f" ({len(mails)} mail(s) to {to} came: {seen})"
        return said + (f"; {self.problem}" if self.problem else "")


class FolderMailbox(Mailbox):
    """A maildir (`new/` and `cur/`) or a folder of `.eml` files; each file one message."""

    def __init__(self, folder: Path, *, where: str | None = None,
                 variables: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.where = where or f"the mail folder {folder}"
        self.variables = dict(variables or {})
        self._parsed: dict[Path, tuple[float, Mail]] = {}

    def _files(self) -> list[Path]:
        maildir = [self.folder / "new", self.folder / "cur"]
        if any(path.is_dir() for path in maildir):
            return [f for d in maildir if d.is_dir() for f in d.iterdir() if f.is_file()]
        return sorted(self.folder.glob("*.eml"))

    def mails(self, to: str) -> list[Mail]:
        found = []
        try:
            files = self._files()
        except OSError as exc:
            self.problem = f"cannot read {self.folder}: {exc.strerror or exc}"
            return []
        for path in files:
            try:
                stamp = path.stat().st_mtime
                cached = self._parsed.get(path)
                if cached is None or cached[0] != stamp:
                    cached = self._parsed[path] = (stamp, parse_mail(path.read_bytes(), stamp))
            except OSError:
                continue  # moved by a mail reader between listing and reading
            if to.lower() in cached[1].recipients:
                found.append(cached[1])
        return sorted(found, key=lambda mail: mail.received, reverse=True)


class CommandMailbox(Mailbox):
    """A command (argv, `{email}` filled in) that prints the newest mail to an address."""

    def __init__(self, argv: Sequence[str], cwd: Path) -> None:
        super().__init__()
        self.argv = list(argv)
        self.cwd = cwd
        self.where = f"the output of {' '.join(self.argv)}"

    def mails(self, to: str) -> list[Mail]:
        argv = [str(render(arg, {"email": to})) for arg in self.argv]
        try:
            done = subprocess.run(argv, cwd=self.cwd, capture_output=True,
                                  timeout=COMMAND_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.problem = f"the mail command failed: {exc}"
            return []
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", errors="replace").strip()[:300]
            self.problem = f"the mail command exited {done.returncode}" + (
                f": {said}" if said else "")
            return []
        if not done.stdout.strip():
            return []
        mail = parse_mail(done.stdout, time.time())
        # The command was asked for mail to `to`; a message without recipient headers counts.
        return [mail] if not mail.recipients or to.lower() in mail.recipients else []


class MailSink:
    """The harness's SMTP sink: aiosmtpd on `host:port` (0: a free port), every message it
    accepts kept as an `.eml` file in `folder`, with a Delivered-To line per recipient."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 folder: Path | None = None) -> None:
        self.host = host
        self.requested_port = port
        self._own_folder = folder is None  # a folder it made is removed when it stops
        self.folder = folder or Path(tempfile.mkdtemp(prefix="harness-mail-"))
        self._controller: Any = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the mail sink is not running")
        return int(self._controller.port)

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller  # noqa: PLC0415 (only when a run has a sink)

        class _FreePortController(Controller):  # type: ignore[misc]
            # aiosmtpd connects to `port` to see the server up; with port 0 that is the port
            # the system gave (aio-libs/aiosmtpd#388).
            def _trigger_server(self) -> None:
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self.folder.mkdir(parents=True, exist_ok=True)
        controller = _FreePortController(_Keeper(self.folder), hostname=self.host,
                                         port=self.requested_port)
        try:
            controller.start()
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise ConfigError(f"cannot start the mail sink on {self.host}:"
                              f"{self.requested_port}: {exc}") from None
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mailbox(self) -> FolderMailbox:
        return sink_mailbox(self.folder, self.host, self.port)


class _Keeper:
    """The sink's aiosmtpd handler: each message an `.eml` file in the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._serial = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message, with a Delivered-To line per recipient (written aside, then
        renamed, so that no reader sees half of it)."""
        head = "".join(f"Delivered-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos).encode()
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = f"{time.time_ns()}-{next(self._serial)}"
        partial = self.folder / f".{name}.tmp"
        partial.write_bytes(head + data)
        os.replace(partial, self.folder / f"{name}.eml")
        return "250 Message accepted for delivery"


def sink_mailbox(folder: Path, host: str, port: int) -> FolderMailbox:
    """The mailbox of a running sink (also in a worker that did not start it)."""
    return FolderMailbox(folder, where=f"the harness's SMTP sink on {host}:{port}",
                         variables={"smtp_host": host, "smtp_port": str(port)})


def configured_mailbox(mail: Mapping[str, Any] | None, profile_dir: Path) -> Mailbox | None:
    """The `command` or `directory` mailbox a profile names (relative paths from the
    profile's folder); None for `smtp` (the run's sink) and for no `mail` at all."""
    if not mail or "smtp" in mail:
        return None
    if "command" in mail:
        return CommandMailbox(mail["command"], profile_dir)
    folder = Path(mail["directory"])
    return FolderMailbox(folder if folder.is_absolute() else profile_dir / folder)


@contextmanager
def profile_mailbox(mail: Mapping[str, Any] | None,
                    profile_dir: Path) -> Iterator[Mailbox | None]:
    """The mailbox a profile's `accounts.mail` names, for the with-block: a sink of its own
    (started, then stopped), the command, the folder, or None when the profile names none."""
    smtp = (mail or {}).get("smtp")
    if smtp is None:
        yield configured_mailbox(mail, profile_dir)
        return
    with MailSink(str(smtp.get("host", "127.0.0.1")), int(smtp.get("port", 0))) as sink:
        yield sink.mailbox()


@dataclass(frozen=True)
class MailResult:
    """A `mail` step and its outcome, shaped like a request or page step (a StepResult)."""

    url: str  # mailto:<address>
    actor: str
    started: str
    elapsed_s: float
    error: str | None = None
    step: str | None = None
    method: str = "MAIL"
    status: int | None = None
    rejected: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def evidence(self) -> dict[str, Any]:
        return {"step": self.method, "label": self.step, "url": self.url, "actor": self.actor,
                "started": self.started, "elapsed_s": round(self.elapsed_s, 4),
                "error": self.error}


def run_mail_step(mailbox: Mailbox | None, spec: Mapping[str, Any], scope: Mapping[str, Any],
                  into: dict[str, Any], actor: str) -> MailResult:
    """Perform a `mail` step: wait for the link and bind it to `into[spec.into]`."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    to = str(render(spec.get("to", "{email}"), scope))
    error = None
    if mailbox is None:
        error = ("no mailbox: the profile's accounts.mail names none (smtp, command or "
                 "directory), or the run did not start its SMTP sink")
    else:
        try:
            into[spec["into"]] = mailbox.wait_for_link(
                to, spec["link"], float(spec.get("timeout", DEFAULT_TIMEOUT_S)))
        except MailNotFound as exc:
            error = str(exc)
        except re.error as exc:
            error = f"link {spec['link']!r} is not a regular expression: {exc}"
    return MailResult(url=f"mailto:{to}", actor=actor,
                      started=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                      elapsed_s=time.perf_counter() - clock, error=error)
