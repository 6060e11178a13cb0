"""SIGINT and SIGTERM as one interruption, and the writes a signal must not tear.

A CI cancel or `timeout` sends SIGTERM, a person presses Ctrl-C: both become KeyboardInterrupt
in the main thread, so pytest (and `harness assess`) unwind, stop the processes they started and
seal the run as incomplete. Inside `deferred()` (an evidence line being written and fsynced, the
run being sealed) a signal is held back until the block ends, so it never leaves a half-written
line or a log whose length the store does not know.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    depth = 0
    pending: int | None = None
    installed = False
    settled = False  # the run is sealed: a late signal changes nothing


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _State.depth or _State.settled:
        _State.pending = signum
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt (main thread only; idempotent), for a
    run that is starting: a signal interrupts it until `settle()`."""
    _State.settled = False
    _State.pending = None
    if _State.installed or threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    _State.installed = True


def ignore() -> None:
    """For a process that is about to exit with its answer: ignore SIGINT and SIGTERM, since
    Python puts their default (death by the signal) back while it shuts down."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if hasattr(signal, "pthread_sigmask"):  # and blocked, whatever shutdown resets
            signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))


def settle() -> None:
    """The run is sealed: from now on a signal is noted, not raised, so the exit code stays
    the judge's and nothing half-prints."""
    _State.settled = True


def received() -> int | None:
    """The signal held back by `deferred(swallow=True)` or after `settle()`, if any."""
    return _State.pending


@contextmanager
def deferred(*, swallow: bool = False) -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while the block runs; raise the held one when it ends, or
    keep it only as `received()` with `swallow` (the block already is the run's ending)."""
    main = threading.current_thread() is threading.main_thread()
    if main:
        _State.depth += 1
    try:
        yield
    finally:
        if main:
            _State.depth -= 1
            if not _State.depth and _State.pending is not None and not swallow:
                signum, _State.pending = _State.pending, None
                raise KeyboardInterrupt(signal.Signals(signum).name)


def drop_lineless_frames(exc: BaseException) -> None:
    """Unlink, from `exc`'s traceback and from those of the exceptions it chains, the entries
    Python 3.11 gives no line number (a signal delivered at an instruction that has none),
    so the traceback of an interruption prints instead of crashing the printer."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        tb: TracebackType | None = link.__traceback__
        while tb is not None:
            while tb.tb_next is not None and tb.tb_next.tb_lineno is None:
                tb.tb_next = tb.tb_next.tb_next
            tb = tb.tb_next
        link = link.__cause__ or link.__context__
