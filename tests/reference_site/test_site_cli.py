"""`python -m reference_site` as the harness runs it: a subprocess on a free port."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_site.__main__ import parse_args

URL_LINE = re.compile(r"^Reference site listening on (http://127\.0\.0\.1:(\d+))$")
ROOT = Path(__file__).parents[2]


@pytest.fixture
def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, int, queue.Queue]]:
    """The site in a subprocess; indirect parametrisation adds command-line options."""
    env = {**os.environ, "REFERENCE_ADMIN_TOKEN": "cli-admin"}
    options = getattr(request, "param", [])
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_site", "--port", "0", "--db", str(tmp_path / "s.db"),
         *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=60)
        assert first is not None, process.stderr.read() if process.stderr else ""
        match = URL_LINE.match(first.rstrip("\n"))
        assert match, first
        yield process, match.group(1), int(match.group(2)), lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, int]:
    """One HTTP request; returns status, JSON body and the local (source) port used."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    source_port = connection.sock.getsockname()[1]
    payload = json.dumps(body).encode() if body is not None else None
    connection.request(
        method,
        path,
        body=payload,
        headers={
            "Content-Type": "application/json",
            "X-Device-Id": "cli-device",
            **(headers or {}),
        },
    )
    response = connection.getresponse()
    data = json.loads(response.read() or b"null")
    connection.close()
    return response.status, data, source_port


def test_serves_on_a_free_port_records_the_real_source_port_and_stops_cleanly(served) -> None:
    process, url, port, lines = served
    assert url == f"http://127.0.0.1:{port}"
    status, body, _ = _request(port, "GET", "/api/complaint-contacts")
    assert status == 200
    assert body["web_form_url"] == f"{url}/report"

    status, body, source_port = _request(
        port, "POST", "/api/register", {"account_name": "cliuser", "password": "secret-pw"}
    )
    assert status == 201
    status, body, _ = _request(
        port, "GET", "/api/admin/audit?account=cliuser", headers={"X-Admin-Token": "cli-admin"}
    )
    record = body["records"][-1]
    assert (record["source_ip"], record["source_port"]) == ("127.0.0.1", source_port)
    assert (record["dest_ip"], record["dest_port"]) == ("127.0.0.1", port)
    assert record["device_id"] == "cli-device"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    assert rest == []  # the URL line is the only thing on stdout


def test_sigint_also_stops_it(served) -> None:
    process, _url, _port, _lines = served
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


def test_concurrent_writes_all_land_and_are_all_audited(served) -> None:
    _process, _url, port, _lines = served
    errors: list[object] = []

    def worker(index: int) -> None:
        try:
            status, body, _ = _request(
                port,
                "POST",
                "/api/register",
                {"account_name": f"load{index}", "password": "secret-pw"},
            )
            assert status == 201, body
            auth = {"Authorization": f"Bearer {body['token']}"}
            for n in range(5):
                status, body, _ = _request(port, "POST", "/api/posts", {"text": f"post {n}"}, auth)
                assert status == 201, body
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    _status, body, _ = _request(
        port, "GET", "/api/admin/audit", headers={"X-Admin-Token": "cli-admin"}
    )
    operations = [r["operation"] for r in body["records"]]
    assert operations.count("register") == 12
    assert operations.count("post.create") == 60


def test_generated_admin_token_and_temporary_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REFERENCE_ADMIN_TOKEN"}
    env["TMPDIR"] = str(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_site", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        assert URL_LINE.match(process.stdout.readline().rstrip("\n"))
        assert process.stderr.readline().startswith("Admin token (X-Admin-Token): ")
        assert [p.name.startswith("reference-site-") for p in tmp_path.iterdir()] == [True]
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    assert list(tmp_path.iterdir()) == []  # the temporary database went with it


@pytest.mark.parametrize(
    "served",
    [["--report-ack-seconds", "0.1", "--report-handle-seconds", "0.2",
      "--report-limit-seconds", "7"]],
    indirect=True,
)
def test_report_desk_options(served) -> None:
    _process, _url, port, _lines = served
    _status, contacts, _ = _request(port, "GET", "/api/complaint-contacts")
    assert contacts["time_limit_seconds"] == 7
    _status, body, _ = _request(
        port, "POST", "/api/register", {"account_name": "desk1", "password": "secret-pw"}
    )
    auth = {"Authorization": f"Bearer {body['token']}"}
    report = {"target_type": "user", "target_id": body["user_id"], "reason": "r"}
    status, ticket, _ = _request(port, "POST", "/api/reports", report, auth)
    assert status == 201
    deadline = time.monotonic() + 20
    while (view := _request(port, "GET", f"/api/reports/{ticket['ticket_id']}", None, auth)[1])[
        "handled_at"
    ] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (view["status"], view["acknowledged_at"] is not None) == ("rejected", True)


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_report_desk_options_refuse_bad_seconds(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--report-handle-seconds", value])
    assert exit_info.value.code == 2
    assert "seconds" in capsys.readouterr().err


def test_the_site_ends_with_the_harness_that_started_it_even_when_killed() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("from harness import reference; site = reference.start(); "
            "print(site.process.pid, flush=True); import time; time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    site = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(site, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(site, signal.SIGKILL)
    raise AssertionError("the reference site outlived the process that started it")
