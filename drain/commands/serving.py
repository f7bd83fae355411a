"""``drain serve``: the HTTP API and the phone page, on uvicorn (needs the ``serve`` extra)."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

from drain.commands.options import BACKEND, PLANNER, CommandLine, with_options
from drain.errors import DrainError, InputError

SOLVE_TIMEOUT = 120.0  # seconds a solve may take on the server; then 504


def log_config(secrets: list[str | None]) -> dict[str, Any]:
    """uvicorn's logging set-up with every secret redacted from every log line (DRAIN's own lines too)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "drain.serve.hardening.RedactSecrets", "secrets": secrets}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    config["loggers"]["drain"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _safe_url(url: str | None) -> str | None:
    """``url`` without a user name or password in it, for printing."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _checked_access(host: str, token: str | None, no_auth: bool) -> str | None:
    """The access token to require, after refusing a network address with none (unless ``--no-auth``)."""
    from drain.serve.access import is_loopback

    token = token or None
    if token is not None and (len(token) < 8 or any(c.isspace() or not c.isprintable() for c in token)):
        raise InputError("--token must be at least 8 characters with no spaces (try: openssl rand -hex 16)")
    if token is None and not no_auth and not is_loopback(host):
        raise InputError(f"--host {host} would let anyone on the network read every problem and change the votes: "
                         "give --token TOKEN (or DRAIN_SERVE_TOKEN), or --no-auth to serve it open anyway")
    return token


@with_options(PLANNER, BACKEND, defaults={"timeout": SOLVE_TIMEOUT})
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    max_solves: int = typer.Option(2, "--max-solves", min=1, max=64, help="Solves at once; more get 503."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Allow this web origin (repeatable)."),
    token: str | None = typer.Option(None, "--token", help="Access token the /v1 routes need (Authorization: "
                                     "Bearer TOKEN); or DRAIN_SERVE_TOKEN."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve a non-loopback address without a token."),
    allowed_host: list[str] = typer.Option([], "--allowed-host",
                                           help="Answer to this host name too (repeatable), e.g. drain.home.arpa."),
    solve_rate: float = typer.Option(12.0, "--solve-rate", min=0.0, max=10000.0,
                                     help="Solves a minute per client address (then 429); 0: no limit."),
    solve_burst: int = typer.Option(4, "--solve-burst", min=1, max=1000, help="Solves a client may start at once."),
    header_timeout: float = typer.Option(10.0, "--header-timeout", min=0.5, max=600.0,
                                         help="Seconds a client has to send a request's headers."),
    body_timeout: float = typer.Option(15.0, "--body-timeout", min=0.5, max=600.0,
                                       help="Seconds a client has to send a request's body."),
    no_library: bool = typer.Option(False, "--no-library", help="Without the house library (for comparison)."),
    *,
    cli: CommandLine,
) -> None:
    """Serve the API (/v1, docs at /docs) and the phone page (/) with one shared model."""
    try:
        import uvicorn

        from drain.serve import create_app
    except ModuleNotFoundError as err:
        raise DrainError(f"drain serve needs the serve extra ({err.name} is missing): "
                         "pip install 'drain-tips[serve]'") from None
    for origin in cors_origin:
        if origin != "*" and not urlsplit(origin).scheme.startswith("http"):
            raise InputError(f"--cors-origin takes an origin such as https://example.org, not {origin!r}")
    timeout = cli.config.timeout or SOLVE_TIMEOUT  # --timeout, else config.toml or the default
    config = cli.config = cli.config.replace(timeout=timeout)  # also each request's on the openai backend
    token = _checked_access(host, token if token is not None else config.serve_token, no_auth)
    # the server stops a solve at --timeout itself (504)
    settings = cli.planner_settings(timeout=None, grounded=not no_library)
    engine = cli.backend()
    from drain.serve.access import HostPolicy
    from drain.serve.protocol import header_deadline_protocol

    app = create_app(lambda: engine, settings=settings, config=config, max_concurrent_solves=max_solves,
                     request_timeout=timeout, cors_origins=tuple(cors_origin), token=token,
                     hosts=HostPolicy(host, allowed_host), solve_rate=solve_rate or None, solve_burst=solve_burst,
                     body_timeout=body_timeout)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    server = _safe_url(getattr(engine, "base_url", None))
    typer.echo(f"DRAIN on {where} (API docs: {where}docs); backend {engine.name}, model {engine.model or 'default'}"
               + (f" at {server}" if server else "") + ("; /v1 needs the access token" if token else ""), err=True)
    secrets = [config.api_key, getattr(engine, "api_key", None), token]
    uvicorn.run(app, host=host, port=port, log_config=log_config(secrets), server_header=False,
                timeout_graceful_shutdown=5, http=header_deadline_protocol(header_timeout))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
