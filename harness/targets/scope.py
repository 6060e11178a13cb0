"""Keeping every request inside the profile's `allowed_hosts`, and recording each refusal.

A route handler alone cannot keep a browser in scope: Playwright passes only the first request
of a redirect chain to route handlers and continues every hop itself, also after a handler
fulfils a 3xx, so a form answered with a 307 is re-posted, password and all, wherever the
`Location` points. The browser channel therefore has two guards. The route guard aborts a
page's own requests to other hosts before they leave. Underneath it, every context sends
whatever is not addressed to an allowed host (redirect hops, requests Playwright cannot route,
WebSockets, the browser's own service calls) to a `Sinkhole`: a proxy on loopback that reads
the request line, answers 403 and forwards nothing. Allowed hosts bypass it, so their requests
go straight to the target at the browser's usual speed and with their server address known.

Every refusal becomes a scope violation (`violation`): URL, host, method, resource type, actor,
channel and reason, never a body. What the sinkhole refused that no page asked for (the browser's
own service calls) is a network refusal, one line per place with its count (`network_refusals`).
"""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError

# Schemes that never reach the network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
HEAD_LIMIT = 64 * 1024
READ_TIMEOUT_S = 5.0
_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?$")
# Run before any page script in every frame: a page cannot reach RTCPeerConnection, whose UDP
# (STUN, TURN) goes to any address past the proxy and the route guard alike.
NO_WEBRTC_JS = """(() => {
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection"]) {
    try {
      Object.defineProperty(window, name, {value: undefined, writable: false, configurable: false});
    } catch (e) {}
  }
})();"""
_REFUSAL = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s")


def violation(url: str, *, method: str, resource_type: str, actor: str, reason: str,
              channel: str) -> dict[str, str]:
    """One refused request as evidence records it (`host` names where it would have gone)."""
    return {"url": url, "host": host_of(url) or "", "method": method,
            "resource_type": resource_type, "actor": actor, "channel": channel,
            "reason": reason}


def network_refusals(refused: Iterable[tuple[str, str]], *,
                     channel: str) -> list[dict[str, Any]]:
    """Refusals no page's request explains (method, URL or CONNECT authority), one line per
    method and place with how many times it was refused: a browser service's call on every
    page is one line a test, not hundreds a run."""
    return [{**violation(target, method=method, resource_type="browser", actor="",
                         reason="refused by the network guard: not a request of any page",
                         channel=channel), "count": count}
            for (method, target), count in Counter(refused).items()]


def host_of(url: str) -> str | None:
    """The host a URL (or a CONNECT authority, `host:port`) addresses, lower-cased."""
    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        return parts.hostname
    except ValueError:
        return None


def in_scope(url: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether a request to `url` stays inside the allowed hosts (local schemes always do)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in LOCAL_SCHEMES:
        return True
    return scheme in ("http", "https", "ws", "wss") and host_of(url) in set(allowed_hosts)


def outside(allowed_hosts: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching every URL that `in_scope` may refuse: all but the allowed hosts'
    http(s) and ws(s) URLs and the local schemes. The route guard is installed with it, so
    Playwright matches it in the browser's driver and the allowed hosts' requests never stop
    at a handler; the guard still asks `in_scope` of whatever it is given."""
    # A host `in_scope` can never match (upper case, an IPv6 address in brackets: it compares
    # the URL's lower-cased, unbracketed host) is left out, so its URLs reach the guard.
    hosts = [re.escape(f"[{host}]" if ":" in host else host) for host in allowed_hosts
             if host == host.lower() and not host.startswith("[")]
    allowed = (r"(?:https?|wss?)://(?:[^/?#@]*@)?(?:" + "|".join(hosts) + r")(?::\d+)?(?:[/?#]|$)"
               if hosts else r"(?!)")
    local = "|".join(sorted(LOCAL_SCHEMES))
    return re.compile(rf"^(?!{allowed}|(?:{local}):)", re.IGNORECASE)


def bypass_rules(allowed_hosts: Iterable[str]) -> str:
    """Chromium's proxy bypass list for the allowed hosts: they, and only they, connect
    directly. `<-loopback>` first, or Chromium would send every loopback address past the
    sinkhole. A host that cannot be written as a rule is refused: a comma in it would add a
    rule of its own."""
    rules = ["<-loopback>"]
    for host in allowed_hosts:
        if _HOST_NAME.match(host) and ":" not in host:
            rules.append(host)
        elif ":" in host and _IPV6.match(host):
            rules.append(host if host.startswith("[") else f"[{host}]")
        else:
            raise ConfigError(f"allowed host {host!r} is not a host name or an IP address")
    return ",".join(rules)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, sinkhole: Sinkhole) -> None:
        self.sinkhole = sinkhole
        super().__init__(("127.0.0.1", 0), _Refuse)


class _Refuse(socketserver.BaseRequestHandler):
    """Read a request's head (never its body), note it, answer 403, forward nothing."""

    server: _Server

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(READ_TIMEOUT_S)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError:
            pass
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return  # a preconnect, or not HTTP: nothing was asked, nothing is noted
        method, target = parts[0], parts[1]
        self.server.sinkhole.note(method, target)
        body = (f"blocked by the conformance harness: {host_of(target)} is not in the "
                "profile's allowed_hosts\n").encode()
        try:
            connection.sendall(_REFUSAL % (len(body), body))
            connection.shutdown(socket.SHUT_WR)
            # Drain what the client still sends (a form's body) so the close is orderly and
            # the client reads the refusal; none of it is kept.
            while connection.recv(65536):
                pass
        except OSError:
            pass


class Sinkhole:
    """A local proxy that refuses every request sent to it; a browser context uses it as its
    proxy, with the allowed hosts bypassing it. Started on a free loopback port."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: list[tuple[str, str]] = []
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="harness-sinkhole", daemon=True)
        self._thread.start()

    @property
    def proxy_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def proxy(self, allowed_hosts: Iterable[str]) -> dict[str, str]:
        """The `proxy` option of a browser context that keeps it inside `allowed_hosts`."""
        return {"server": self.proxy_url, "bypass": bypass_rules(allowed_hosts)}

    def note(self, method: str, target: str) -> None:
        with self._lock:
            self._refused.append((method, target))

    def take(self) -> list[tuple[str, str]]:
        """The (method, URL or CONNECT authority) of every request refused since last asked."""
        with self._lock:
            taken, self._refused = self._refused, []
        return taken

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def authority(url: str) -> str:
    """`host:port` of a URL or CONNECT target, the port defaulted from the scheme."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(parts.scheme, 0)
    return f"{parts.hostname}:{port or default}"
