"""Assembling the site: storage, audit log, moderator and service, behind one Starlette app.

`create_app` is what tests use in-process; `python -m reference_site` serves the same app with
uvicorn. The JSON API and the pages are two front ends over one `Service`.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import weakref
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from reference_site import api, pages
from reference_site.components import build_site
from reference_site.db import Database
from reference_site.errors import NotFound
from reference_site.faults import parse_faults
from reference_site.load import CountInFlight
from reference_site.report_handling import ReportHandling
from reference_site.service import DEFAULT_TIMES, ReportTimes
from reference_site.transport import TransportFaults

PACKAGE_DIR = Path(__file__).resolve().parent


async def _not_found(request: Request, exc: Exception) -> Response:
    return await _error_page(request, NotFound("no such page"), 404)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"error": "http_error", "message": str(exc.detail)}, status_code=exc.status_code
        )
    return HTMLResponse(str(exc.detail), status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"error": "internal_error", "message": "the server failed; see its log"},
            status_code=500,
        )
    return HTMLResponse("<h1>500</h1><p>服务器错误 Server error</p>", status_code=500)


async def _error_page(request: Request, error: NotFound, status: int) -> Response:
    if request.url.path.startswith("/api/") or request.url.path.startswith("/media/"):
        return JSONResponse(error.to_json(), status_code=status)
    return await pages.error_page(request, error)


def create_app(
    faults: Iterable[str] = frozenset(),
    db_path: str | Path | None = None,
    admin_token: str | None = None,
    times: ReportTimes = DEFAULT_TIMES,
    fault_seed: int = 0,
) -> Starlette:
    """The reference site as an ASGI app.

    `db_path=None` uses a fresh SQLite file in a temporary directory that is deleted when the
    app shuts down (or is garbage-collected); `admin_token=None` generates one, readable as
    `app.state.site.service.admin_token`. The report handling (report_handling.py) works
    reports at the pace `times` sets while the app runs (between its startup and shutdown).
    Transport faults (transport.py) draw their shares from `fault_seed`.
    """
    chosen = parse_faults(faults)
    scratch: str | None = None
    if db_path is None:
        scratch = tempfile.mkdtemp(prefix="reference-site-")
        db_path = Path(scratch) / "site.db"
    site = build_site(chosen, db_path, admin_token or secrets.token_urlsafe(24), times)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        handling = ReportHandling(site.service)
        handling.start()
        try:
            yield
        finally:
            handling.stop()
        site.db.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    routes = [
        *api.routes,
        *pages.routes,
        Route("/media/{name:str}", api.media, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(CountInFlight, gauge=site.service.core.in_flight),
                    Middleware(TransportFaults, faults=chosen, seed=fault_seed)],
        exception_handlers={
            404: _not_found,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.site = site
    if scratch is not None:
        weakref.finalize(app, _discard, site.db, scratch)
    return app


def _discard(db: Database, scratch: str) -> None:
    db.close()
    shutil.rmtree(scratch, ignore_errors=True)
