"""Where a read landed: a read counts only when it ends on the page it asked for.

A login wall, a consent page or an error page served with 200 is not the page that would show
the case; a read that ends there tells nothing about what its actor can see (DESIGN 5: "a read
is valid only where it landed").

Two URLs are the same place when their scheme, host, port and path agree, and so do their query
parameters. Normalised away: the fragment, the case of scheme and host, a default port, a
trailing slash on the path, percent-encoding, and the order of query parameters. A query that
differs otherwise (a parameter added, dropped or changed) is another place: a search the site
rewrote is not the search that was asked for.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def place(url: str) -> tuple[str, str, int | None, str, tuple[tuple[str, str], ...]]:
    """The parts of a URL that say which page it is (see the module docstring)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the URL apart from every other
        return scheme, parts.netloc.lower(), None, parts.path, ()
    path = unquote(parts.path).rstrip("/") or "/"
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return (scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme), path,
            query)


def same_place(requested: str, landed: str) -> bool:
    """Whether `landed` is the page `requested` asked for (relative `landed` is resolved)."""
    return place(requested) == place(urljoin(requested, landed))


def landing_note(requested: str, landed: str | None) -> str | None:
    """`landed on <landed>, not <requested>` when the read ended elsewhere, else None."""
    if landed is None or same_place(requested, landed):
        return None
    return f"landed on {urljoin(requested, landed)}, not {requested}"
