"""What keeps the API server safe to expose: body limits, security headers, one error shape, no leaks.

Every error the server answers has the same JSON shape, ``{"error": code, "message": one line}``
(``field`` and ``errors`` are added for validation errors), and never a traceback, a file path or the
address of a server behind this one:

>>> scrub("could not load /home/me/.local/share/drain/models/smollm2.gguf: bad magic")
'could not load smollm2.gguf: bad magic'
>>> scrub("cannot reach the model server at http://10.0.0.5:8000/v1 (connection refused)")
'cannot reach the model server at (its address) (connection refused)'
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drain.errors import (
    BackendError,
    DataFileError,
    DrainError,
    FeedbackConflictError,
    InputError,
    StoreError,
    TrizError,
    UnknownRunError,
    exit_code,
    first_validation_problem,
)

__all__ = [
    "CSP",
    "ApiError",
    "BodyLimitMiddleware",
    "RedactSecrets",
    "SecurityHeadersMiddleware",
    "error_response",
    "install_error_handlers",
    "scrub",
]

log = logging.getLogger("drain.serve")

# The page and the API load nothing from anywhere but this server.
# 'wasm-unsafe-eval' lets the page compile llama.cpp's WebAssembly (the on-device engine) and nothing else;
# wllama starts its workers from blob: URLs it makes itself.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self' blob:; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",  # with COOP: cross-origin isolated, so wllama runs threads
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), geolocation=(), payment=(), usb=()",
}
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w:/.\\])(?:[A-Za-z]:)?(?:[\\/][^\s\\/'\"():,;]+)+[\\/]([^\s\\/'\"():,;]+)")


def scrub(message: object, limit: int = 500) -> str:
    """One line of ``message`` with directories cut from file paths, at most ``limit`` characters."""
    text = " ".join(str(message).split())
    text = _URL.sub("(its address)", text)
    text = _PATH.sub(lambda m: m.group(1), text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.field = field


def drain_error_status(err: DrainError | TrizError) -> tuple[int, str]:
    """The HTTP status and error code for a DRAIN (or TRIZ core) error: bad input 422, a reused vote id 409,
    model or store down 503, a bad data file 500, else 400."""
    if isinstance(err, FeedbackConflictError):
        return 409, "conflict"
    if isinstance(err, UnknownRunError):
        return 404, "not_found"
    if isinstance(err, InputError) or exit_code(err) == 2:
        return 422, "bad_input"
    if isinstance(err, BackendError):
        return 503, "backend_unavailable"
    if isinstance(err, StoreError):
        return 503, "store_unavailable"
    if isinstance(err, DataFileError):
        return 500, "internal"
    return 400, "bad_request"


def error_response(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    """The one error shape, with the security headers (a 500 is answered outside the middleware)."""
    body: dict[str, Any] = {"error": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    all_headers = {**SECURITY_HEADERS, "content-security-policy": CSP, "cache-control": "no-store", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers)


_WHERE = ("body", "query", "path")  # where FastAPI found the field: not part of its name


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the one shape: validation 422 naming the field, DRAIN errors, 404, 500."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.code, err.message, headers=err.headers, field=err.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = [{"field": field, "message": scrub(message, 200), "type": e.get("type", "")}
                  for e in err.errors()
                  for field, message in [first_validation_problem([e], default="body", skip=_WHERE)]]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        if first.get("type") == "json_invalid":
            first = {**first, "field": "body", "message": "the body is not valid JSON"}
        return error_response(422, "validation", f"{first['field']}: {first['message']}", field=first["field"],
                              errors=errors)

    @app.exception_handler(DrainError)
    @app.exception_handler(TrizError)
    async def _drain(request: Request, err: DrainError | TrizError) -> JSONResponse:
        status, code = drain_error_status(err)
        if status == 500:
            log.error("data error on %s: %s", request.url.path, err)
            return error_response(500, "internal", "internal error; the server log has the details")
        return error_response(status, code, scrub(err))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(err.status_code, "http_error")
        message = err.detail if isinstance(err.detail, str) else "request failed"
        return error_response(err.status_code, code, scrub(message), headers=dict(err.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=err)
        return error_response(500, "internal", "internal error; the server log has the details")


class BodyLimitMiddleware:
    """Answer 413 to a request body over ``max_bytes`` (declared or streamed), before any route reads it,
    and 408 to one that takes over ``read_timeout`` seconds to arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float = 15.0,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        self.larger = larger or {}  # path -> its own limit (a phone's solved run is bigger than a request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":  # the client left
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await self._too_large(scope, receive, send, limit)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            response = error_response(408, "timeout", f"the request body took over {self.read_timeout:g} s to "
                                      "arrive", headers={"connection": "close"})
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(413, "too_large", f"the request body is over {limit:,} bytes",
                                  headers={"connection": "close"})
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add the security headers (and ``no-store`` on the API) to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope.get("path", "").startswith("/v1/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = dict(SECURITY_HEADERS)
                extra["content-security-policy"] = CSP
                if is_api:
                    extra["cache-control"] = "no-store"
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RedactSecrets(logging.Filter):
    """A logging filter that replaces each secret (an API key) in a record's message with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "[redacted]")
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None and any(s in str(record.exc_info[1])
                                                                      for s in self.secrets):
            record.exc_info, record.exc_text = None, None
            record.msg = f"{record.msg} (exception details withheld: they held a secret)"
        return True
