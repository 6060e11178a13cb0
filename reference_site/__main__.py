"""Command line: `python -m reference_site [--port N] [--fault NAME ...]`.

Binds the socket itself (port 0 picks a free one), prints exactly one line,
`Reference site listening on http://HOST:PORT`, on stdout once it accepts connections, and
serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from types import FrameType

import uvicorn

from reference_site.app import create_app
from reference_site.faults import UnknownFault, describe, parse_faults
from reference_site.service import DEFAULT_TIMES, ReportTimes

ADMIN_TOKEN_ENV = "REFERENCE_ADMIN_TOKEN"

# uvicorn's own logs go to stderr, so stdout carries only the URL line.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_site",
        description="Serve the reference site, optionally with faults that break one control each.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME",
        help="switch on a fault (repeatable); see --list-faults",
    )
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument(
        "--fault-seed", type=int, default=0, metavar="N",
        help="seed of the shares of requests that transport faults hit (default 0)",
    )
    parser.add_argument(
        "--db", type=Path, default=None,
        help="SQLite file to use (default: a fresh temporary file, deleted at exit)",
    )
    parser.add_argument(
        "--admin-token", default=None,
        help=f"moderator token for the admin API (default: ${ADMIN_TOKEN_ENV}, else generated)",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request to stderr"
    )
    defaults = DEFAULT_TIMES
    parser.add_argument(
        "--report-ack-seconds", type=_seconds, default=defaults.ack_seconds, metavar="S",
        help="the moderator desk acknowledges a report S seconds after it is filed "
        f"(default {defaults.ack_seconds:g})",
    )
    parser.add_argument(
        "--report-handle-seconds", type=_seconds, default=defaults.handle_seconds, metavar="S",
        help="the desk decides a report S seconds after it is filed "
        f"(default {defaults.handle_seconds:g})",
    )
    parser.add_argument(
        "--report-limit-seconds", type=_seconds, default=defaults.limit_seconds, metavar="S",
        help="the handling time limit the complaint contacts publish "
        f"(default {defaults.limit_seconds:g})",
    )
    return parser.parse_args(argv)


def _seconds(text: str) -> float:
    """A non-negative number of seconds (an argparse type)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more: {text!r}")
    return value


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 lets the OS choose."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto says TCP; without it Nagle's algorithm adds ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # a load run opens many connections at once
    sock.set_inheritable(True)
    return sock


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints the URL line once it accepts connections."""

    def __init__(self, config: uvicorn.Config, url: str):
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            sys.stdout.write(f"Reference site listening on {self.url}\n")
            sys.stdout.flush()


PARENT_ENV = "REFERENCE_SITE_PARENT"
PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> None:
    """When started by the harness (its pid in $REFERENCE_SITE_PARENT), end with it on Linux,
    even if it is killed outright, so no site outlives the run that started it."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """Run the site until it is told to stop; return the exit status."""
    die_with_parent()
    args = parse_args(argv)
    if args.list_faults:
        sys.stdout.write("".join(f"{line}\n" for line in describe()))
        return 0
    try:
        faults = parse_faults(args.fault)
    except UnknownFault as exc:
        sys.stderr.write(f"python -m reference_site: error: {exc}\n")
        return 2

    admin_token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    if not admin_token:
        admin_token = secrets.token_urlsafe(24)
        sys.stderr.write(f"Admin token (X-Admin-Token): {admin_token}\n")
        sys.stderr.flush()

    scratch = None
    db_path = args.db
    if db_path is None:
        scratch = tempfile.mkdtemp(prefix="reference-site-")
        db_path = Path(scratch) / "site.db"

    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers
    # in place that ends in a clean return below (temporary database removed) instead of a
    # kill by the default SIGTERM action.
    stop_signals: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        stop_signals.append(signum)

    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        sys.stderr.write(f"python -m reference_site: cannot bind {args.host}:{args.port}: {exc}\n")
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        times = ReportTimes(
            args.report_ack_seconds, args.report_handle_seconds, args.report_limit_seconds
        )
        app = create_app(faults, db_path, admin_token, times, fault_seed=args.fault_seed)
        if faults:
            logging.getLogger("uvicorn.error").warning(
                "faults switched on: %s", ", ".join(f"{f} ({f.control})" for f in faults)
            )
        config = uvicorn.Config(
            app,
            log_config=LOG_CONFIG,
            access_log=args.access_log,
            proxy_headers=False,  # the audit log records the TCP peer, never X-Forwarded-For
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        AnnouncingServer(config, url).run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
