"""Does ``drain batch`` keep an OpenAI-compatible server busy? Batch vs a plain load generator, one run.

Both sides talk to the same loopback llama.cpp server (``xllamacpp.Server`` with the embedded default
model, one slot per request in flight) at the same concurrency:

* **drain**: ``drain batch --concurrency N --backend openai --base-url URL`` over homeowner problems
  (a subprocess, its own run store); every request it sends is logged in that store.
* **load generator**: a bare asyncio + httpx client replaying exactly those requests (the same messages,
  JSON schemas, ``max_tokens`` and seed) with N in flight, nothing else.

Throughput is measured over the span when requests were in the server (first start to last end), and
also over drain's whole process wall time. With ``--rounds 2`` the order is drain, load, load, drain, so
that a drift of the machine's speed cancels out.

    python bench/bench_batch.py                      # 16 problems, depth 1, concurrency 8
    python bench/bench_batch.py --problems 32 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drain.steps import STEPS  # noqa: E402
from drain.store import Store  # noqa: E402

CASES = ROOT / "bench" / "homeowner" / "cases.jsonl"


@dataclass
class Measure:
    """One side's numbers."""

    side: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    span: float  # first request sent to last reply received
    wall: float  # the whole command, start-up included
    busy: float = 0.0  # request-seconds: the sum of every request's time in the server

    @property
    def in_flight(self) -> float:
        """Requests in the server on average over the span (the concurrency is the most it can be)."""
        return self.busy / self.span if self.span else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.span if self.span else 0.0

    @property
    def tps(self) -> float:
        return self.completion_tokens / self.span if self.span else 0.0

    @property
    def all_tps(self) -> float:
        return (self.prompt_tokens + self.completion_tokens) / self.span if self.span else 0.0


def _max_tokens() -> dict[str, int]:
    """Each planner step's reply budget, as the planner sends it (capped at 1024 like the planner)."""
    found = {name: min(module.MAX_TOKENS, 1024) for name, module in STEPS.items() if hasattr(module, "MAX_TOKENS")}
    found["resolve"] = 1024  # resolve's budget grows with the cards offered; its grammar ends the reply anyway
    return found


def run_drain(url: str, problems: Path, work: Path, args: argparse.Namespace, label: str) -> tuple[Measure, list]:
    """One ``drain batch`` over ``problems``; returns its numbers and the requests it sent, in order."""
    home = work / f"home-{label}"
    output = work / f"out-{label}.jsonl"
    command = [sys.executable, "-m", "drain", "batch", str(problems), "-o", str(output), "--backend", "openai",
               "--base-url", url, "--concurrency", str(args.concurrency), "--depth", str(args.depth),
               "--max-calls", str(args.max_calls), "--quiet"]
    env = {**os.environ, "DRAIN_HOME": str(home), "DRAIN_NO_LOG": ""}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 5):
        sys.exit(f"drain batch failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    exchanges = Store(home / "runs.sqlite").exchanges()
    begin = min(e["created_at"] for e in exchanges)
    end = max(e["created_at"] + e["seconds"] for e in exchanges)
    requests = [(e["step"], json.loads(e["messages_json"]), json.loads(e["schema_json"] or "null")) for e in exchanges]
    measure = Measure("drain batch", len(exchanges), sum(e["prompt_tokens"] or 0 for e in exchanges),
                      sum(e["completion_tokens"] or 0 for e in exchanges), end - begin, wall,
                      sum(e["seconds"] for e in exchanges))
    return measure, requests


async def run_load(url: str, model: str, requests: list, concurrency: int, seed: int) -> Measure:
    """Replay ``requests`` with ``concurrency`` in flight: the most the server can be kept busy."""
    import httpx

    budget = _max_tokens()
    queue = iter(requests)
    totals = [0, 0]
    busy = [0.0]

    def body(step: str, messages: list, schema: dict | None) -> dict[str, Any]:
        request: dict[str, Any] = {"model": model, "messages": messages, "temperature": 0.0,
                                   "max_tokens": budget.get(step, 256), "top_p": 1.0, "seed": seed}
        if schema is not None:
            request["response_format"] = {"type": "json_schema", "json_schema": {
                "name": str(schema.get("title", "reply")), "schema": schema, "strict": True}}
        return request

    async def worker(client: httpx.AsyncClient) -> None:
        for step, messages, schema in queue:
            sent = time.perf_counter()
            reply = await client.post(f"{url}/v1/chat/completions", json=body(step, messages, schema))
            busy[0] += time.perf_counter() - sent
            reply.raise_for_status()
            usage = reply.json().get("usage") or {}
            totals[0] += int(usage.get("prompt_tokens") or 0)
            totals[1] += int(usage.get("completion_tokens") or 0)

    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        span = time.perf_counter() - started
    return Measure("load generator", len(requests), totals[0], totals[1], span, span, busy[0])


def _table(rows: list[Measure]) -> str:
    head = (f"{'side':<16}{'requests':>9}{'span s':>9}{'wall s':>9}{'in flight':>10}{'req/s':>8}{'compl tok/s':>13}"
            f"{'all tok/s':>11}")
    lines = [head, "-" * len(head)]
    for m in rows:
        lines.append(f"{m.side:<16}{m.requests:>9}{m.span:>9.1f}{m.wall:>9.1f}{m.in_flight:>10.2f}{m.rps:>8.2f}{m.tps:>13.1f}"
                     f"{m.all_tps:>11.1f}")
    return "\n".join(lines)


def _server(args: argparse.Namespace) -> tuple[Any, int]:
    """The loopback xllamacpp server, set up like the embedded backend's (one slot per request in flight).

    Requests that name no sampler get a greedy top-k chain by default, as the embedded backend asks for
    per request: llama.cpp's default chain costs more CPU per token than this small model itself.
    """
    import xllamacpp

    from drain.backends.embedded import default_model_path

    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)  # one core left for the client side
    params = xllamacpp.CommonParams()
    params.model.path = str(args.model or default_model_path())
    params.n_parallel = args.concurrency
    params.n_ctx = args.concurrency * 2048
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1
    if not args.default_sampler:
        params.sampling.samplers = "top_k"
        params.sampling.top_k = 1
    return xllamacpp.Server(params), threads


def _progress(m: Measure) -> None:
    print(f"  {m.side}: {m.requests} requests, {m.completion_tokens} completion tokens in {m.span:.1f} s, "
          f"{m.in_flight:.2f} in flight on average", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=16, help="homeowner problems to solve (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="in flight, both sides (default 8)")
    parser.add_argument("--depth", type=int, default=1, help="drain --depth (default 1)")
    parser.add_argument("--max-calls", type=int, default=8, help="drain --max-calls (default 8)")
    parser.add_argument("--rounds", type=int, default=1, choices=(1, 2), help="2: drain, load, load, drain")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: cores - 1)")
    parser.add_argument("--model", default=None, help="GGUF file (default: the embedded default model)")
    parser.add_argument("--default-sampler", action="store_true", help="keep llama.cpp's default sampler chain")
    args = parser.parse_args()

    import httpx

    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    server, threads = _server(args)
    url = str(server.listening_address).rstrip("/")
    model = httpx.get(f"{url}/v1/models", timeout=60).json()["data"][0]["id"]
    chain = "llama.cpp default" if args.default_sampler else "top_k (greedy)"
    print(f"server: {url} ({Path(model).name}, {args.concurrency} slots, {threads} threads, sampler chain {chain}), "
          f"up in {time.perf_counter() - started:.1f} s", flush=True)
    rows: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="drain-bench-") as folder:
        work = Path(folder)
        problems = work / "problems.jsonl"
        problems.write_text("".join(json.dumps({"id": c["id"], "problem": c["problem"]}) + "\n"
                                    for c in cases[: args.problems]), encoding="utf-8")
        warm = work / "warm.jsonl"  # other problems, all slots busy: the server's first-use costs paid here
        warm.write_text("".join(json.dumps({"id": c["id"], "problem": c["problem"]}) + "\n"
                                for c in cases[-args.concurrency:]), encoding="utf-8")
        print("warming up ...", flush=True)
        run_drain(url, warm, work, args, "warm")
        drain_first, requests = run_drain(url, problems, work, args, "1")
        rows.append(drain_first)
        _progress(drain_first)
        for _ in range(args.rounds):
            rows.append(asyncio.run(run_load(url, model, requests, args.concurrency, seed=0)))
            _progress(rows[-1])
        if args.rounds == 2:
            rows.append(run_drain(url, problems, work, args, "2")[0])
            _progress(rows[-1])
    del server  # the C++ server stops with its last reference
    drain_rows = [m for m in rows if m.side == "drain batch"]
    load_rows = [m for m in rows if m.side == "load generator"]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    print()
    print(f"{args.problems} problems, depth {args.depth}, concurrency {args.concurrency}, "
          f"{len(requests)} requests a side")
    print(_table(rows))
    ratio_req = mean([m.rps for m in drain_rows]) / mean([m.rps for m in load_rows])
    ratio_tok = mean([m.tps for m in drain_rows]) / mean([m.tps for m in load_rows])
    ratio_wall = mean([m.requests / m.wall for m in drain_rows]) / mean([m.rps for m in load_rows])
    print(f"drain / load generator: {ratio_req:.1%} of requests/s, {ratio_tok:.1%} of completion tokens/s "
          f"(over the busy span); {ratio_wall:.1%} of requests/s counting drain's start-up too")
    print("target: >= 90%:", "met" if min(ratio_req, ratio_tok) >= 0.9 else "NOT met")


if __name__ == "__main__":
    main()
