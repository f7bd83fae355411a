"""The app factory: the ``/v1`` API, the phone page at ``/`` and the hardening around both.

>>> from drain.backends.fake import FakeBackend
>>> app = create_app(lambda: FakeBackend())
>>> sorted(path for path in app.openapi()["paths"] if path.startswith("/v1/feedback"))
['/v1/feedback', '/v1/feedback/batch']
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response

from drain.backends.base import Backend
from drain.config import DrainConfig
from drain.device.bundle import DeviceBundle
from drain.planner import PlannerSettings
from drain.serve import api
from drain.serve.access import AccessMiddleware, HostPolicy
from drain.serve.hardening import (
    ApiError,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    install_error_handlers,
)
from drain.serve.ratelimit import SolveRateLimiter
from drain.serve.solving import SolveService
from drain.store import Store

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".json": "application/json",
}
DEVICE_TYPES = {".json": "application/json", ".f16": "application/octet-stream", ".gguf": "application/octet-stream"}
DESCRIPTION = """TRIZ reasoning for house problems: a homeowner's problem in; hazards, the ideal final result,
contradictions with their matrix cell and principles, and numbered ideas out. The phone page is at `/`."""


def _static_files() -> dict[str, Path]:
    """The files the server may send: regular files inside ``static/`` with a known type, by relative name."""
    found: dict[str, Path] = {}
    for path in STATIC_DIR.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.suffix in MEDIA_TYPES:
            resolved = path.resolve()
            if resolved.is_relative_to(STATIC_DIR):
                found[path.relative_to(STATIC_DIR).as_posix()] = resolved
    return found


def _add_pages(app: FastAPI, files: dict[str, Path]) -> None:
    def send(name: str, **headers: str) -> FileResponse:
        path = files.get(name)
        if path is None:
            raise ApiError(404, "not_found", "Not Found")
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"cache-control": "no-cache",
                                                                                  **headers})

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return send("index.html")

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        return send("sw.js", **{"service-worker-allowed": "/"})

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> FileResponse:
        return send("manifest.webmanifest")

    @app.get("/static/{name:path}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        return send(name)  # looked up among the known files: no path from the request ever reaches the disk

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return send("docs.html")  # the OpenAPI reference, rendered locally from /openapi.json (no CDN)

    @app.get("/device/manifest.json", include_in_schema=False)
    def device_manifest() -> JSONResponse:
        """What the page downloads to solve offline (the data, its vectors, the two GGUF models), with sizes."""
        return JSONResponse(app.state.device.manifest(), headers={"cache-control": "no-cache"})

    @app.get("/device/{name}", include_in_schema=False)
    def device_file(name: str) -> Response:
        found = app.state.device.file(name)  # only the bundle's own names: nothing from the request reaches the disk
        if found is None:
            raise ApiError(404, "not_found", f"the phone bundle has no {name!r} here" if name.startswith("drain-")
                           else "Not Found")
        media = DEVICE_TYPES[Path(name).suffix]
        if found.path is not None:
            return FileResponse(found.path, media_type=media, headers={"cache-control": "no-cache"})
        return Response(found.content, media_type=media, headers={"cache-control": "no-cache"})

    @app.get("/healthz", tags=["health"])
    def healthz(svc: SolveService = Depends(api.service)) -> dict[str, Any]:
        """Health, at once and without a token: the version, what serves the model and whether it is loaded,
        the run store's state, and the solves running (cancelled ones still stopping included)."""
        return svc.health()


def create_app(
    backend_factory: Callable[[], Backend],
    *,
    store: Store | None = None,
    settings: PlannerSettings = PlannerSettings(),
    max_concurrent_solves: int = 2,
    request_timeout: float = 120.0,
    max_body_bytes: int = 16384,
    body_timeout: float = 15.0,
    cors_origins: Sequence[str] = (),
    token: str | None = None,
    hosts: HostPolicy | None = None,
    solve_rate: float | None = None,
    solve_burst: int = 4,
    config: DrainConfig | None = None,
    device: DeviceBundle | None = None,
) -> FastAPI:
    """The DRAIN web app: ``backend_factory`` is called once; every request's Planner shares that backend.

    ``token``: the ``/v1`` routes need ``Authorization: Bearer TOKEN``. ``hosts``: the ``Host`` headers
    answered (None: any). ``solve_rate``: solves a minute per client address, ``solve_burst`` at once.
    ``config``: the run store, the data folders and the caches (default: :func:`drain.config.load_config`).
    ``device``: the files phones download to solve offline (default: :class:`DeviceBundle`'s folder).
    """
    from drain import __version__

    service = SolveService(backend_factory, store=store, settings=settings, max_concurrent=max_concurrent_solves,
                           timeout=request_timeout, config=config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()  # a missing model file stops the server here; the model then loads
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(title="DRAIN API", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.drain = service
    app.state.device = device or DeviceBundle()
    app.state.solve_limits = SolveRateLimiter(solve_rate, solve_burst) if solve_rate else None
    install_error_handlers(app)
    app.include_router(api.router, tags=["drain"])
    _add_pages(app, _static_files())
    # the last added runs first: Host check, body limits, security headers, CORS, then the token
    app.add_middleware(AccessMiddleware, token=token)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["content-type", "authorization"], max_age=600)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, read_timeout=body_timeout,
                       larger={"/v1/runs/device": max(max_body_bytes, api.DEVICE_RUN_BYTES)})
    if hosts is not None:
        app.add_middleware(AccessMiddleware, hosts=hosts)
    return app
