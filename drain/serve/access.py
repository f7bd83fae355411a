"""Who may talk to the server: the ``Host`` header check (DNS rebinding) and the ``/v1`` access token.

A web page elsewhere can make a browser on the household network send requests to DRAIN under its own
name (DNS rebinding): those carry ``Host: evil.example``, and get 400. Names that are always fine are
``localhost`` (and ``*.localhost``), the address the server is bound to, and each ``--allowed-host``;
an IP address is fine when it is the bound one (any IP when bound to every interface: a rebinding page
always comes with a name).

With a token, every ``/v1`` route needs ``Authorization: Bearer TOKEN`` (401 otherwise, compared in
constant time); ``/healthz``, the page and its files stay open.

>>> allowed = HostPolicy("0.0.0.0", ["drain.home.arpa"])
>>> [allowed.allows(h) for h in ("localhost:8000", "192.168.1.20:8000", "drain.home.arpa", "evil.example")]
[True, True, True, False]
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from drain.serve.hardening import error_response

__all__ = ["AccessMiddleware", "HostPolicy", "is_loopback"]

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    name = host.strip("[]").lower()
    address = _ip(name)
    return name == "localhost" or (address is not None and address.is_loopback)


def _host_name(header: str) -> str:
    """The name in a ``Host`` header: no port, no brackets, lower case, no final dot."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8000
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


class HostPolicy:
    """Which ``Host`` headers the server answers (see the module's docstring); ``*`` allows any."""

    def __init__(self, bound: str, allowed: Iterable[str] = ()) -> None:
        names = {_host_name(name) for name in allowed if name}
        self.any = "*" in names
        self.bound = _host_name(bound)
        self.names = LOCAL_NAMES | names | ({self.bound} if self.bound not in WILDCARDS else set())

    def allows(self, header: str | None) -> bool:
        if self.any:
            return True
        if not header:
            return False
        name = _host_name(header)
        if name in self.names or name.endswith(".localhost"):
            return True
        address = _ip(name)
        if address is None:
            return False
        return address.is_loopback or self.bound in WILDCARDS or address == _ip(self.bound)


class AccessMiddleware:
    """400 for a ``Host`` the policy refuses; 401 for a ``/v1`` request without the right token."""

    def __init__(self, app: ASGIApp, *, hosts: HostPolicy | None = None, token: str | None = None) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope.get("headers") or []}
        if self.hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1")
            if not self.hosts.allows(host):
                shown = host[:100] or "(none)"
                response = error_response(400, "bad_host", f"this server does not answer to the host name {shown!r}; "
                                          "its owner can allow it with drain serve --allowed-host NAME")
                await response(scope, receive, send)
                return
        path = scope.get("path", "")
        if self.token is not None and (path == "/v1" or path.startswith("/v1/")) and scope.get("method") != "OPTIONS":
            given = headers.get(b"authorization", b"")
            scheme, _, credential = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credential.strip(), self.token):
                why = "is missing" if not given else "is not the right one"
                response = error_response(401, "unauthorized", f"this server needs its access token, and the one "
                                          f"sent {why}: send Authorization: Bearer TOKEN",
                                          headers={"www-authenticate": 'Bearer realm="drain"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
