"""Any OpenAI-compatible chat server: vLLM in production, llama.cpp's server in the tests.

The HTTP work is the official ``openai`` package's (``AsyncOpenAI`` with ``base_url``, a timeout per
request and ``max_retries``: connection errors, timeouts, 408, 409, 429 and 5xx are retried with
exponential backoff, honouring ``Retry-After``). On top of it, every call has a bounded total (twice the
request timeout unless set), one ``/models`` check is shared by all calls, and each failure is one clear
error that names the server. Structured output goes through ``response_format`` with a ``json_schema``
only (vLLM removed the old ``guided_json`` field and ignores it silently).

Cancelling the task that awaits :meth:`OpenAIBackend.complete` closes its HTTP request; llama.cpp's and
vLLM's servers then stop generating for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, Message, SamplingOptions
from drain.config import load_config
from drain.errors import BackendError, BackendUnavailableError, InputError, ModelTimeoutError

__all__ = ["DEFAULT_TIMEOUT", "OpenAIBackend", "normalise_base_url"]

DEFAULT_TIMEOUT = 60.0  # seconds per HTTP request


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


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{name} must be a number of seconds above 0, not {value!r}")
    return float(value)


class OpenAIBackend(Backend):
    """Chat completions over HTTP (the ``openai`` client) with bounded retries and time, schema-constrained."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        total_timeout: float | None = None,
        slots: int = 8,
        adapter: str | None = None,
        writes_ideas: bool = False,
    ) -> None:
        if not (base_url and model and api_key):  # what is not given comes from the configuration
            configured = load_config()
            base_url, model = base_url or configured.base_url, model or configured.model
            api_key = api_key or configured.api_key
        if not base_url:
            raise InputError("the openai backend needs --base-url (or DRAIN_BASE_URL), e.g. http://localhost:8000/v1")
        self.base_url = normalise_base_url(base_url)
        self.model = model or ""
        self.api_key = api_key or ""
        self.timeout = _seconds(timeout, "timeout")
        self.total_timeout = _seconds(total_timeout, "total_timeout") if total_timeout is not None else 2 * self.timeout
        self.max_retries = max(0, int(max_retries))
        self.adapter = adapter
        # writes_ideas: the served model is large enough to write ideas of its own beside the library's cards
        # (a 70B model, not the 135M DRAIN model vLLM may also serve): declared by whoever runs it.
        self.capabilities = Capabilities(parallel_slots=max(1, slots), writes_ideas=writes_ideas)
        self._client: Any = None
        self._model_check: asyncio.Future[None] | None = None
        self._model_checked = False

    def _openai(self) -> Any:
        if self._client is None:
            import openai

            # A server without keys ignores the header; the client insists on having one.
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key or "none",
                                              timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    async def _request(self, what: str, call: Any) -> dict[str, Any]:
        """Run one client call (a ``with_raw_response`` coroutine factory) within the bounded total; its
        body must be a JSON object, every failure becomes one error naming the server."""
        import openai

        try:
            async with asyncio.timeout(self.total_timeout):
                raw = await call()
        except (TimeoutError, openai.APITimeoutError):
            raise ModelTimeoutError(f"the model server at {self.base_url} did not answer {what} within "
                                    f"{self.timeout:g} s (--timeout), retries included") from None
        except openai.APIConnectionError as err:
            cause = type(err.__cause__).__name__ if err.__cause__ else type(err).__name__
            raise BackendUnavailableError(f"cannot reach the model server at {self.base_url} ({cause}); "
                                          "is it running? (--base-url)") from None
        except openai.APIStatusError as err:
            raise self._status_error(err) from None
        try:
            body = json.loads(raw.text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = "JSON that is not an object" if body is not None else "something that is not JSON"
            raise BackendUnavailableError(f"the model server at {self.base_url} answered {what} with {kind}: "
                                          f"{raw.text[:80]!r}; is --base-url an OpenAI-compatible server?")
        return body

    def _status_error(self, err: Any) -> BackendError:
        detail = err.body.get("message", err.body) if isinstance(err.body, dict) else (err.body or err.message)
        status = err.status_code
        if status in (401, 403):
            return BackendUnavailableError(f"the model server at {self.base_url} refused the API key ({status}): "
                                           f"{detail}")
        if status == 404:
            return BackendUnavailableError(f"the model server at {self.base_url} has no model {self.model!r} "
                                           f"(404: {detail})")
        return BackendError(f"the model server at {self.base_url} answered {status}: {str(detail)[:200]}")

    async def models(self) -> list[str]:
        """Ids of the models the server serves."""
        listing = await self._request("the model list", lambda: self._openai().models.with_raw_response.list())
        data = listing.get("data")
        return [str(m.get("id", "")) for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    async def _check_model(self) -> None:
        """One ``/models`` check, shared by every call that arrives while it runs; done once it passes
        (a failed check is tried again by the next call)."""
        if self._model_checked:
            return
        check = self._model_check
        if check is None or (check.done() and (check.cancelled() or check.exception() is not None)):
            self._model_check = asyncio.ensure_future(self._find_model())
        await asyncio.shield(self._model_check)
        self._model_checked = True

    async def _find_model(self) -> None:
        served = await self.models()
        if not self.model:
            if not served:
                raise BackendUnavailableError(f"the model server at {self.base_url} serves no model")
            self.model = served[0]
        elif served and self.model not in served:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} does not serve {self.model!r}; it serves: {', '.join(served)}"
            )

    async def warm_up(self) -> float:
        """Check that the server answers and serves the model."""
        started = time.perf_counter()
        await self._check_model()
        return time.perf_counter() - started

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
        reply = await self._request("a chat completion",
                                    lambda: self._openai().chat.completions.with_raw_response.create(**body))
        seconds = time.perf_counter() - started
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendUnavailableError(f"the model server at {self.base_url} sent a reply without choices: "
                                          f"{str(reply)[:200]}") from None
        usage = reply.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
            seconds=seconds,
            model=str(reply.get("model") or self.model),
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        check, self._model_check = self._model_check, None
        if check is not None and not check.done():
            check.cancel()
        if client is not None:
            await client.close()
