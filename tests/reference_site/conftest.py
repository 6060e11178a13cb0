"""Fixtures for the reference site's own tests: in-process apps, accounts, probe images."""

from __future__ import annotations

import io
import itertools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from reference_site import create_app
from reference_site.service import ReportTimes

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx still works and is what we have.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ADMIN_TOKEN = "test-admin-token"
CLIENT_ADDRESS = ("127.0.0.1", 54321)
DEVICE_ID = "device-under-test-01"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_SC = 2  # face index of Noto Sans CJK SC in the collection

# The desk never gets to a ticket during a test unless the test asks for a faster one.
IDLE_DESK = ReportTimes(ack_seconds=3600, handle_seconds=3600, limit_seconds=30)

_names = itertools.count(1)


@dataclass
class Account:
    """A registered account and a client authenticated as it."""

    id: int
    account_name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Site:
    """An in-process reference site with helpers for the common steps."""

    def __init__(self, client: TestClient):
        self.client = client

    @property
    def admin(self) -> dict[str, str]:
        return {"X-Admin-Token": ADMIN_TOKEN}

    def register(self, name: str | None = None, **extra: str) -> Account:
        name = name or f"user{next(_names)}"
        response = self.client.post(
            "/api/register", json={"account_name": name, "password": "secret-pw", **extra}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(body["user_id"], body["account_name"], body["token"])

    def csrf(self, path: str) -> str:
        """The CSRF token of the form on a page (fetching it starts a session if needed)."""
        page = self.client.get(path)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def browser_login(self, account: Account) -> None:
        """Log the client's browser session in as `account` through the login form."""
        response = self.client.post(
            "/login",
            data={"account_name": account.account_name, "password": "secret-pw",
                  "csrf_token": self.csrf("/login")},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def audit(self, **params: str) -> list[dict]:
        response = self.client.get("/api/admin/audit", params=params, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()["records"]


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """Start an in-process site with the given faults; every site is closed afterwards.

    The moderator desk is idle unless `times` (ReportTimes) sets its pace.
    """
    clients: list[TestClient] = []

    def make(*faults: str, times: ReportTimes = IDLE_DESK) -> Site:
        app = create_app(
            frozenset(faults), tmp_path / f"site{len(clients)}.db", ADMIN_TOKEN, times
        )
        client = TestClient(
            app, client=CLIENT_ADDRESS, headers={"X-Device-Id": DEVICE_ID, "User-Agent": "pytest"}
        )
        client.__enter__()
        clients.append(client)
        return Site(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """A site without faults."""
    return make_site()


class Images:
    """Makers of PNG probes (a fixture, since test modules do not import conftest)."""

    @staticmethod
    def text(*lines: str, size: int = 40, face: int = FONT_SC) -> bytes:
        """Black text on white, rendered with Noto Sans CJK."""
        from PIL import Image, ImageDraw, ImageFont

        font = ImageFont.truetype(FONT, size, index=face)
        width = max(int(font.getlength(line)) for line in lines) + 2 * size
        image = Image.new("RGB", (max(width, 160), (len(lines) + 1) * size * 2), "white")
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((size, size + row * size * 2), line, fill="black", font=font)
        return _png(image)

    @staticmethod
    def qr(text: str) -> bytes:
        """A QR code carrying `text`."""
        import qrcode

        code = qrcode.QRCode(border=4, box_size=8)
        code.add_data(text.encode("utf-8"))
        code.make(fit=True)
        return _png(code.make_image().get_image().convert("RGB"))

    @staticmethod
    def plain(color: str = "teal") -> bytes:
        """An image with nothing to read in it."""
        from PIL import Image

        return _png(Image.new("RGB", (96, 96), color))


@pytest.fixture
def images() -> type[Images]:
    """Makers of PNG probes: images.text(...), images.qr(...), images.plain()."""
    return Images


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()
