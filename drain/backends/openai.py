"""Any OpenAI-compatible chat server: vLLM in production, llama.cpp's server in the tests.

Structured output goes through ``response_format`` with a ``json_schema`` only (vLLM removed the old
``guided_json`` field and ignores it silently). Connection errors, 429 and 5xx replies are retried a
bounded number of times with exponential backoff; every other failure is one clear error.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, Message, SamplingOptions
from drain.errors import BackendError, BackendUnavailableError, InputError

__all__ = ["OpenAIBackend", "normalise_base_url"]

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both become ``http://host:8000/v1``.

    >>> normalise_base_url("http://localhost:8000")
    'http://localhost:8000/v1'
    >>> normalise_base_url("https://api.example.com/v1/")
    'https://api.example.com/v1'
    """
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--base-url must start with http:// or https://, got {url!r}")
    return url if url.endswith("/v1") else f"{url}/v1"


class OpenAIBackend(Backend):
    """Chat completions over HTTP with retries, timeouts and schema-constrained replies."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        slots: int = 8,
        adapter: str | None = None,
    ) -> None:
        base = base_url or os.environ.get("DRAIN_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise InputError("the openai backend needs --base-url (or DRAIN_BASE_URL), e.g. http://localhost:8000/v1")
        self.base_url = normalise_base_url(base)
        self.model = model or os.environ.get("DRAIN_MODEL") or ""
        self.api_key = api_key or os.environ.get("DRAIN_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.adapter = adapter
        self.capabilities = Capabilities(json_schema=True, parallel_slots=max(1, slots), seeded=True, lora=False)
        self._client: Any = None
        self._model_checked = False

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            limits = httpx.Limits(max_connections=self.capabilities.parallel_slots * 2)
            self._client = httpx.AsyncClient(timeout=self.timeout, headers=headers, limits=limits)
        return self._client

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            try:
                response = await self._http().request(method, url, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.RemoteProtocolError) as err:
                if attempt >= self.max_retries:
                    raise BackendUnavailableError(
                        f"cannot reach the model server at {self.base_url} ({type(err).__name__}); "
                        "is it running? (--base-url)"
                    ) from None
            except httpx.TimeoutException:
                if attempt >= self.max_retries:
                    raise BackendUnavailableError(
                        f"the model server at {self.base_url} did not answer within {self.timeout:.0f} s"
                    ) from None
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in RETRY_STATUS or attempt >= self.max_retries:
                    raise self._http_error(response)
                delay = _retry_after(response)
                if delay is not None:
                    await asyncio.sleep(min(delay, 30.0))
                    attempt += 1
                    continue
            await asyncio.sleep(self.backoff * (2**attempt))
            attempt += 1

    def _http_error(self, response: Any) -> BackendError:
        try:
            detail = response.json()
            detail = detail.get("error", detail)
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except ValueError:
            detail = response.text[:200]
        if response.status_code in (401, 403):
            return BackendUnavailableError(f"the model server refused the API key ({response.status_code}): {detail}")
        if response.status_code == 404:
            return BackendUnavailableError(
                f"the model server at {self.base_url} has no model {self.model!r} (404: {detail})"
            )
        return BackendError(f"the model server answered {response.status_code}: {detail}")

    async def models(self) -> list[str]:
        """Ids of the models the server serves."""
        listing = await self._send("GET", "/models")
        return [m.get("id", "") for m in listing.get("data", [])]

    async def _check_model(self) -> None:
        if self._model_checked:
            return
        served = await self.models()
        if not self.model:
            if not served:
                raise BackendUnavailableError(f"the model server at {self.base_url} serves no model")
            self.model = served[0]
        elif served and self.model not in served:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} does not serve {self.model!r}; it serves: {', '.join(served)}"
            )
        self._model_checked = True

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        options: SamplingOptions = SamplingOptions(),
    ) -> Completion:
        await self._check_model()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": max(0.0, options.temperature),
            "max_tokens": options.max_tokens,
            "top_p": options.top_p,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": str(schema.get("title", "reply")), "schema": dict(schema), "strict": True},
            }
        started = time.perf_counter()
        reply = await self._send("POST", "/chat/completions", body)
        seconds = time.perf_counter() - started
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"the model server sent a reply without choices: {str(reply)[:200]}") from None
        usage = reply.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
            seconds=seconds,
            finish_reason=choice.get("finish_reason") or "stop",
            model=str(reply.get("model") or self.model),
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
