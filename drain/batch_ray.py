"""Very large batches on a GPU cluster: Ray Data with vLLM (``ray.data.llm``), the same prompts and schemas.

An optional extra (``pip install 'drain-tips[ray]'`` plus vLLM on the GPU nodes); this module imports
Ray only inside :func:`run_ray_batch`, so it is safe to import anywhere. It was written against the
documented ``ray.data.llm`` API and has not been run here (no GPU, no Ray in this environment).

How it stays DRAIN: the planner itself decides every request. Each round re-runs DRAIN's own planner
for every problem on a *replay* backend that answers from the replies gathered so far and parks every
request it has no reply for; the parked requests (the planner's exact messages, JSON schema, token
budget and seed) go through one vLLM stage, the replies are merged back, and the next round goes one
level further. After about as many rounds as the planner has levels (re-asks included) every problem
has its full tree: the same solve JSON contract that ``drain batch`` writes, to the same kind of file.

The pure-Python parts (:func:`plan_round`, :class:`ReplayBackend`) are tested without Ray.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, Message, SamplingOptions
from drain.errors import BackendError

__all__ = ["ReplayBackend", "engine_rows", "plan_round", "request_key", "run_ray_batch"]


def request_key(messages: Sequence[Message], schema: Mapping[str, Any] | None, options: SamplingOptions) -> str:
    """What identifies one model request: messages, schema and sampling options."""
    blob = json.dumps([[dict(m) for m in messages], schema, options.max_tokens, options.temperature, options.seed,
                       options.top_p], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ReplayBackend(Backend):
    """Answers from known replies; a request without one is parked (it waits forever) and recorded."""

    name = "ray-vllm"

    def __init__(self, replies: Mapping[str, Mapping[str, Any]], *, model: str = "vllm") -> None:
        self.replies = replies
        self.model = model
        self.pending: dict[str, dict[str, Any]] = {}
        self.capabilities = Capabilities(parallel_slots=1024)

    async def complete(self, messages: Sequence[Message], *, schema: Mapping[str, Any] | None = None,
                       options: SamplingOptions = SamplingOptions()) -> Completion:
        key = request_key(messages, schema, options)
        known = self.replies.get(key)
        if known is None:
            self.pending[key] = {"key": key, "messages": [dict(m) for m in messages], "schema": schema,
                                 "max_tokens": options.max_tokens, "temperature": options.temperature,
                                 "seed": options.seed, "top_p": options.top_p}
            await asyncio.get_running_loop().create_future()  # parked until the round ends (it never resumes)
            raise BackendError(f"no reply for request {key} in this round")
        return Completion(text=str(known["text"]), prompt_tokens=int(known.get("prompt_tokens") or 0),
                          completion_tokens=int(known.get("completion_tokens") or 0), model=self.model)


async def _drive(problem: str, replies: Mapping[str, Any], settings: Any,
                 model: str) -> tuple[Any, list[dict[str, Any]]]:
    from drain.planner import Planner

    backend = ReplayBackend(replies, model=model)
    planner = Planner(backend, settings, log=False, source="ray")
    task = asyncio.create_task(planner.solve_async(problem))
    seen = -1
    while not task.done() and len(backend.pending) != seen:  # until it finishes or parks no new request
        seen = len(backend.pending)
        for _ in range(20):
            await asyncio.sleep(0)
            if task.done():
                break
    if task.done():
        return task.result(), []
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None, list(backend.pending.values())


def plan_round(row: dict[str, Any], settings: Any = None, model: str = "vllm") -> dict[str, Any]:
    """Re-run the planner for one problem with the replies known so far (``row["replies"]``, JSON).

    Returns the row with ``pending`` (JSON list of requests to send) and, once done, ``result`` (the tree
    as JSON) or ``error``.
    """
    from drain.errors import KNOWN_ERRORS
    from drain.planner import PlannerSettings

    replies = json.loads(row.get("replies") or "{}")
    out = {**row, "replies": json.dumps(replies), "pending": "[]", "result": "", "error": ""}
    try:
        tree, pending = asyncio.run(_drive(str(row["problem"]), replies, settings or PlannerSettings(), model))
    except KNOWN_ERRORS as err:
        out["error"] = str(err)
        return out
    if tree is not None:
        out["result"] = tree.model_dump_json()
    out["pending"] = json.dumps(pending)
    return out


def engine_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One engine row per parked request (what ``ray.data.llm`` reads: messages, sampling_params).

    The JSON schema goes in vLLM's ``structured_outputs`` (``{"json": schema}``), the field that replaced
    ``guided_decoding`` (removed in vLLM 0.12, deprecated in Ray 2.50), as JSON text so that rows with
    different schemas fit one Arrow column.
    """
    rows = []
    for request in json.loads(row["pending"]):
        sampling: dict[str, Any] = {"temperature": request["temperature"], "max_tokens": request["max_tokens"],
                                    "top_p": request["top_p"]}
        if request["seed"] is not None:
            sampling["seed"] = request["seed"]
        if request["schema"] is not None:
            sampling["structured_outputs"] = {"json": json.dumps(request["schema"])}
        rows.append({"problem_id": str(row["id"]), "key": request["key"], "messages": request["messages"],
                     "sampling_params": sampling})
    return rows


def _reply_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"problem_id": row["problem_id"], "key": row["key"], "text": row.get("generated_text") or "",
            "prompt_tokens": int(row.get("num_input_tokens") or 0),
            "completion_tokens": int(row.get("num_generated_tokens") or 0)}


def _merge_group(group: Any) -> Any:
    """One problem's row plus the replies to its requests (a pandas group) -> the problem row, updated."""
    import pandas as pd

    problem = json.loads(group[group["kind"] == "problem"]["data"].iloc[0])
    replies = json.loads(problem.get("replies") or "{}")
    for data in group[group["kind"] == "reply"]["data"]:
        reply = json.loads(data)
        replies[reply["key"]] = {k: reply[k] for k in ("text", "prompt_tokens", "completion_tokens")}
    problem["replies"] = json.dumps(replies)
    return pd.DataFrame([{"id": str(problem["id"]), "kind": "problem", "data": json.dumps(problem)}])


def run_ray_batch(input_path: str | Path, output: str | Path, *, model_source: str, tensor_parallel_size: int = 1,
                  pipeline_parallel_size: int = 1, replicas: int = 1, batch_size: int = 64, max_rounds: int = 16,
                  settings: Any = None, engine_kwargs: dict[str, Any] | None = None) -> int:
    """Solve every problem of a JSONL file (``id``, ``problem``) with vLLM engines on a Ray cluster.

    ``replicas`` engines (data parallel), each on ``tensor_parallel_size * pipeline_parallel_size`` GPUs;
    JSON schemas go through vLLM's ``structured_outputs`` (:func:`engine_rows`). Output: the ``drain batch``
    JSONL format, appended crash-safely, ids already in ``output`` skipped. Returns the number of records
    written.
    """
    import ray
    from ray.data.llm import vLLMEngineProcessorConfig

    try:
        from ray.data.llm import build_processor
    except ImportError:  # Ray releases before build_processor replaced build_llm_processor
        from ray.data.llm import build_llm_processor as build_processor

    from drain.batch import JsonlAppender, read_done, read_items

    output = Path(output)
    items = [item for item in read_items(Path(input_path), "jsonl") if item.error is None]
    with JsonlAppender(output) as writer:
        done = read_done(output)
        todo = [item for item in items if item.key not in done.ids]
        if not todo:
            return 0
        config = vLLMEngineProcessorConfig(
            model_source=model_source, concurrency=replicas, batch_size=batch_size,
            engine_kwargs={"tensor_parallel_size": tensor_parallel_size,
                           "pipeline_parallel_size": pipeline_parallel_size, "max_model_len": 4096,
                           "enable_prefix_caching": True, **(engine_kwargs or {})},
        )
        engine = build_processor(config, postprocess=_reply_row)
        rows = [{"id": item.key, "problem": item.problem, "replies": "{}"} for item in todo]
        problems = ray.data.from_items(rows)
        written = 0
        for _ in range(max_rounds):
            problems = problems.map(lambda row: plan_round(row, settings, model_source)).materialize()
            for row in problems.filter(lambda row: row["pending"] == "[]").iter_rows():
                record = {"id": row["id"], "error": row["error"]} if row["error"] else \
                    {"id": row["id"], "result": json.loads(row["result"])}
                writer.write(record)
                written += 1
            problems = problems.filter(lambda row: row["pending"] != "[]").materialize()
            if problems.count() == 0:
                break
            requests = problems.flat_map(engine_rows)
            replies = engine(requests).map(lambda r: {"id": r["problem_id"], "kind": "reply", "data": json.dumps(r)})
            tagged = problems.map(lambda r: {"id": str(r["id"]), "kind": "problem", "data": json.dumps(r)})
            merged = tagged.union(replies).groupby("id").map_groups(_merge_group, batch_format="pandas")
            problems = merged.map(lambda r: json.loads(r["data"]))
        for row in problems.iter_rows():  # out of rounds: record what is still unfinished
            writer.write({"id": row["id"], "error": f"unfinished after {max_rounds} rounds"})
            written += 1
    return written
