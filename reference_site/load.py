"""Requests in flight: the gauge the load-only faults read, and the ASGI middleware keeping it.

The load-only faults (`filter-fails-open-under-load`, `reports-dropped-when-busy`) change
nothing while at most `BUSY_ABOVE` requests are in flight, so a functional run, which sends a
few requests at a time, never meets them; a load run that steps its users past that level does.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

BUSY_ABOVE = 8  # requests in flight above which the site counts as busy


class InFlight:
    """How many HTTP requests the site is handling now.

    Only the event loop's thread changes the count (the middleware); the service's threads
    read it, and reading an int is atomic, so no lock is needed."""

    def __init__(self) -> None:
        self.count = 0

    @property
    def busy(self) -> bool:
        """Whether more than `BUSY_ABOVE` requests are in flight."""
        return self.count > BUSY_ABOVE


class CountInFlight:
    """ASGI middleware counting the HTTP requests in flight into an `InFlight` gauge."""

    def __init__(self, app: ASGIApp, gauge: InFlight) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.gauge.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.count -= 1
