"""Signals as interruptions: SIGTERM ends a run like Ctrl-C, and never tears an evidence line."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import interrupts
from harness.evidence import RunStore, read_entries

F_SETPIPE_SZ = 1031  # fcntl(2), Linux


@pytest.fixture
def installed() -> None:
    previous = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    interrupts._State.installed = False
    interrupts.install()
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    interrupts._State.installed = False
    interrupts._State.pending = None
    interrupts._State.settled = False


def test_sigterm_is_an_interruption(installed: None) -> None:
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_during_an_fsync_waits_until_the_line_is_down(
        installed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore.create(tmp_path, run_id="signalled")
    store.append({"entry_type": "run_start"})
    real_fsync = os.fsync
    signalled = []

    def fsync_with_a_signal(fd: int) -> None:
        if not signalled:
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_with_a_signal)
    with pytest.raises(KeyboardInterrupt):
        store.append({"entry_type": "observation", "n": 1})
    monkeypatch.setattr(os, "fsync", real_fsync)
    # The line is whole and the store knows it: the run can still be written and sealed.
    store.append({"entry_type": "run_end", "complete": False})
    store.finalize()
    assert [e["entry_type"] for e in read_entries(store.path)] == [
        "run_start", "observation", "run_end"]


def _closed_early(command: list[str]) -> tuple[int, bytes]:
    """Run `command | head -c 10` with a pipe too small to hold its output."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as listing:
        assert listing.stdout is not None
        fcntl.fcntl(listing.stdout.fileno(), F_SETPIPE_SZ, 4096)
        listing.stdout.read(10)
        listing.stdout.close()
        _, err = listing.communicate(timeout=60)
    return listing.returncode, err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")
def test_a_closed_pipe_ends_a_listing_quietly() -> None:
    # The same pipe breaks a plain print loop: the test can see the failure it guards against.
    _, err = _closed_early([sys.executable, "-c", "while True: print('x' * 100)"])
    assert b"BrokenPipeError" in err
    code, err = _closed_early([sys.executable, "-m", "harness.cli", "controls"])
    assert b"Traceback" not in err
    assert code == 0


def test_a_signal_after_the_seal_is_noted_not_raised(installed: None) -> None:
    interrupts.settle()
    os.kill(os.getpid(), signal.SIGINT)  # a late Ctrl-C: the exit code stays the judge's
    assert interrupts.received() == signal.SIGINT
    interrupts.install()  # the next run starts armed again
    assert interrupts.received() is None
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_frame_without_a_line_is_dropped_so_the_interruption_prints() -> None:
    """Python 3.11 gives no line to a frame a signal caught at an instruction that has none;
    pytest's printer crashed on it and the interrupted run exited 1, not 130."""
    import types

    def interrupted() -> None:
        raise KeyboardInterrupt("SIGINT")

    try:
        try:
            interrupted()
        except KeyboardInterrupt as inner:
            raise KeyboardInterrupt("SIGTERM") from inner
    except KeyboardInterrupt as caught:
        exc = caught
    for link in (exc, exc.__cause__):
        head = link.__traceback__
        lineless = types.TracebackType(head.tb_next, head.tb_frame, 10**6, -1)
        assert lineless.tb_lineno is None
        head.tb_next = lineless
    with pytest.raises(TypeError):
        pytest.ExceptionInfo.from_exception(exc).getrepr(funcargs=True)

    interrupts.drop_lineless_frames(exc)

    text = str(pytest.ExceptionInfo.from_exception(exc).getrepr(funcargs=True))
    assert all(word in text for word in ("SIGTERM", "SIGINT", "interrupted"))


def test_the_plugin_drops_them_first_when_pytest_is_interrupted(
        pytestconfig: pytest.Config) -> None:
    """The hook is the plugin's (registered with it, not only defined in its module) and runs
    before pytest's printer."""
    from harness import pytest_plugin

    impls = pytestconfig.pluginmanager.hook.pytest_keyboard_interrupt.get_hookimpls()
    ours = [impl for impl in impls if impl.plugin is pytest_plugin]
    assert len(ours) == 1
    assert ours[0].tryfirst


def test_every_hook_the_plugins_modules_define_is_the_plugins() -> None:
    """pytest registers the package's namespace only: a hook left in a module is never called."""
    import importlib
    import pkgutil

    from harness import pytest_plugin

    for info in pkgutil.iter_modules(pytest_plugin.__path__):
        module = importlib.import_module(f"{pytest_plugin.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("pytest_") and callable(value) \
                    and value.__module__ == module.__name__:
                assert getattr(pytest_plugin, name, None) is value, f"{info.name}.{name}"
