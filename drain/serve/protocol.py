"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers (slow clients, "slowloris").

uvicorn closes a connection that stays idle between requests (``timeout_keep_alive``), but once a
client has sent the first byte of a request it waits for the rest of the headers for ever. Here a
request whose headers are not complete within ``header_timeout`` seconds of its first byte (or of
the connection) gets 408 and the connection is closed. The body's deadline is the app's
(:class:`~drain.serve.hardening.BodyLimitMiddleware`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderDeadlineProtocol", "header_deadline_protocol"]

TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 38\r\n"
             b"connection: close\r\n\r\nthe request headers came in too slowly")


class HeaderDeadlineProtocol(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request headers take too long."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _watch_headers(self) -> None:
        if not self._waiting_for_headers():
            self._stop_timer()
        elif self._header_timer is None and (self.conn.trailing_data[0] or self.cycle is None):
            # a new connection, or the first bytes of the next request on a kept-alive one
            self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _stop_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if self._waiting_for_headers():
            self.logger.info("closed a connection whose request headers took over %g s", self.header_timeout)
            self.transport.write(TIMED_OUT)
            self.transport.close()


def header_deadline_protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class to give uvicorn (``http=``) for a ``seconds`` header deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": float(seconds)})
