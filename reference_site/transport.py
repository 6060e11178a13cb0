"""Transport faults: the wire misbehaves while moderation stays correct.

An ASGI middleware in front of the whole site, apart from the business logic: it answers a
seeded share of requests 503, closes a seeded share of connections without an answer, delays
answers, or holds one kind of page or the audit API past a client's timeout. None of these
makes a moderation control fail; a harness that cannot observe a case under them must call it
inconclusive, never pass.

The shares are drawn from one `random.Random` per fault, seeded at start, so a run that sends
the same requests in the same order meets the same faults.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterable

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_site.faults import Fault

FLAKY_5XX = Fault.FLAKY_5XX
SLOW_RESPONSES = Fault.SLOW_RESPONSES
DROP_CONNECTIONS = Fault.DROP_CONNECTIONS
SLOW_PAGE = Fault.SLOW_PAGE
AUDIT_TIMEOUT = Fault.AUDIT_TIMEOUT
TRANSPORT_FAULTS = frozenset({FLAKY_5XX, SLOW_RESPONSES, DROP_CONNECTIONS, SLOW_PAGE,
                              AUDIT_TIMEOUT})

FLAKY_SHARE = 0.25          # of requests answered 503
DROP_SHARE = 0.25           # of connections closed without an answer
SLOW_SECONDS = 0.3          # added to every answer
SLOW_PAGE_SECONDS = 20.0    # a user profile answers after this: past the harness's default 15 s
HANG_SECONDS = 300.0        # the audit API "hangs": it answers only after this
SLOW_PAGE_PATH = re.compile(r"^/(?:api/)?users/\d+/?$")  # a user profile, API and page
AUDIT_PREFIX = "/api/admin/audit"


class DropUnsupported(RuntimeError):
    """The server running the app exposes no connection to close (e.g. an in-process client)."""


class TransportFaults:
    """ASGI middleware applying the transport faults among `faults` (others are ignored)."""

    def __init__(self, app: ASGIApp, faults: Iterable[Fault] = (), seed: int = 0) -> None:
        self.app = app
        self.faults = frozenset(faults) & TRANSPORT_FAULTS
        # One stream per fault, so switching one on does not move the other's draws.
        self._flaky = random.Random(f"{seed}:{FLAKY_5XX}")
        self._drop = random.Random(f"{seed}:{DROP_CONNECTIONS}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.faults:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        server_receive = receive
        delay = self.delay(path)
        if delay:
            body = await _read_body(server_receive)
            if await _client_left_within(delay, server_receive):
                return  # nobody is waiting for the answer any more
            receive = _replay(body, server_receive)
        if DROP_CONNECTIONS in self.faults and self._drop.random() < DROP_SHARE:
            await _drop_connection(server_receive)
            return
        if FLAKY_5XX in self.faults and self._flaky.random() < FLAKY_SHARE:
            await _unavailable(path)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def delay(self, path: str) -> float:
        """Seconds the answer to `path` is held back under the chosen faults."""
        seconds = SLOW_SECONDS if SLOW_RESPONSES in self.faults else 0.0
        if SLOW_PAGE in self.faults and SLOW_PAGE_PATH.match(path):
            seconds += SLOW_PAGE_SECONDS
        if AUDIT_TIMEOUT in self.faults and path.startswith(AUDIT_PREFIX):
            seconds += HANG_SECONDS
        return seconds


def _unavailable(path: str) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"error": "unavailable", "message": "service unavailable, try again"},
                            status_code=503)
    return HTMLResponse("<h1>503</h1><p>服务暂不可用 Service unavailable</p>", status_code=503)


async def _read_body(receive: Receive) -> list[Message]:
    """The request's body messages, read up front so that a later receive() tells of a
    disconnect."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _client_left_within(seconds: float, receive: Receive) -> bool:
    """Wait `seconds`; True as soon as the client disconnects (a timed-out client gives up
    the request, so the server need not hold it any longer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(receive(), timeout=left)
        except asyncio.TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            return True
    return False


async def _drop_connection(receive: Receive) -> None:
    """Close the TCP connection before any answer: the client sees the server hang up.

    ASGI has no message for this, so the connection comes from the server's receive channel
    (uvicorn's request cycle keeps it as `transport`). Waiting for the disconnect to arrive
    keeps the server from answering 500 on a connection that is already gone.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise DropUnsupported("drop-connections needs a server that exposes the connection "
                              "(uvicorn); this one does not")
    transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass
