"""The ``/v1`` routes: solve (whole or streamed), recent runs, feedback (one vote or an offline batch),
the contradiction matrix and the principles (the same JSON as ``drain matrix/principle --format json``)."""

from __future__ import annotations

import json
from pathlib import PurePath
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from drain.errors import (
    KNOWN_ERRORS,
    AmbiguousRunError,
    FeedbackConflictError,
    InputError,
    UnknownRunError,
    first_validation_problem,
)
from drain.knowledge_json import cell_json, principle_json
from drain.problem import read_problem
from drain.schema import SolutionTree
from drain.serve.hardening import ApiError, drain_error_status, scrub
from drain.serve.schemas import RUN_ID, DeviceRun, FeedbackBatch, FeedbackRequest, SolveRequest, Vote
from drain.serve.solving import SolveService, public_tree
from drain.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/v1")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "The server needs its access token (`Authorization: Bearer TOKEN`)"},
    422: {"description": "Invalid input; `field` names the field"},
    429: {"description": "Too many solves from this client; `Retry-After` says when to try again"},
    503: {"description": "Every solve slot is busy, the model is loading or unavailable, or the run store is busy "
                         "(`Retry-After`) or damaged"},
    504: {"description": "The solve took longer than the server's timeout (it is stopped)"},
}
DEVICE_RUN_BYTES = 512 * 1024  # a phone's solved run (its whole tree) may be this big
RUN_FIELDS = ("id", "created_at", "finished_at", "source", "problem", "status", "error", "backend", "model", "adapter",
              "llm_calls", "prompt_tokens", "completion_tokens", "wall_seconds", "feedback")


def service(request: Request) -> SolveService:
    """The app's solve service (one per app)."""
    return request.app.state.drain


def _checked_problem(text: str) -> str:
    try:
        read_problem(text)
    except InputError as err:
        raise ApiError(422, "validation", f"problem: {scrub(err)}", field="problem") from None
    return text


def _rate_limited(request: Request) -> None:
    """429 when this client has started too many solves lately."""
    limits = request.app.state.solve_limits
    if limits is None:
        return
    client = request.client.host if request.client else "unknown"
    wait = limits.wait_for(client)
    if wait > 0:
        raise ApiError(429, "too_many_solves", f"too many solves from this device; try again in "
                       f"{limits.retry_after(wait)} s", headers={"retry-after": limits.retry_after(wait)})


@router.post("/solve", responses={200: {"model": SolutionTree, "description": "The solution tree"}, **ERRORS})
async def solve(body: SolveRequest, request: Request, svc: SolveService = Depends(service)) -> JSONResponse:
    """Solve a house problem; the answer is the solve JSON contract with its ``run_id``."""
    text = _checked_problem(body.problem)
    _rate_limited(request)
    tree, headers = await svc.solve(text, svc.settings_for(body), family=body.family)
    return JSONResponse(tree, headers=headers)


@router.post("/solve/stream", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "Events: start, level, tree (snapshots), then result or error"},
                        **ERRORS})
async def solve_stream(body: SolveRequest, request: Request,
                       svc: SolveService = Depends(service)) -> StreamingResponse:
    """Solve as server-sent events: ``start`` (hazards first), ``level``, ``tree``, then ``result`` or ``error``."""
    text = _checked_problem(body.problem)
    _rate_limited(request)
    return await svc.stream(text, svc.settings_for(body), request, family=body.family)


def _name(value: Any) -> Any:
    return PurePath(str(value)).name if value else value


def _public_run(row: dict[str, Any]) -> dict[str, Any]:
    run = {key: row.get(key) for key in RUN_FIELDS if key in row}
    run["model"], run["adapter"] = _name(run.get("model")), _name(run.get("adapter"))
    if run.get("error"):
        run["error"] = scrub(run["error"])
    return run


def _find_run(store: Store, ref: str) -> dict[str, Any]:
    try:
        return store.get_run(ref)
    except AmbiguousRunError:
        raise ApiError(404, "not_found", f"run id {ref!r} is ambiguous", field="run") from None
    except UnknownRunError:
        raise ApiError(404, "not_found", f"no run {ref!r}", field="run") from None


@router.get("/runs", responses={503: ERRORS[503]})
async def runs(limit: int = Query(20, ge=1, le=100), svc: SolveService = Depends(service)) -> dict[str, Any]:
    """The most recent runs, newest first."""
    rows = await svc.runs.call(lambda store: store.list_runs(limit))
    return {"runs": [_public_run(row) for row in rows]}


@router.get("/runs/{run_id}", responses={404: {"description": "No such run"}, 503: ERRORS[503]})
async def run_detail(run_id: str = Path(pattern=RUN_ID), svc: SolveService = Depends(service)) -> dict[str, Any]:
    """One run (id or unique prefix): its record, its settings, its tree (if it finished) and its votes."""

    def read(store: Store) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        row = _find_run(store, run_id)
        return row, store.feedback(row["id"])

    row, votes = await svc.runs.call(read)
    run = _public_run(row)
    run["settings"] = json.loads(row["settings_json"]) if row.get("settings_json") else {}
    run["tree"] = public_tree(json.loads(row["tree_json"])) if row.get("tree_json") else None
    run["votes"] = [{k: f[k] for k in ("id", "idea", "rating", "note", "source", "created_at")} for f in votes]
    return run


def _store_device_run(store: Store, body: DeviceRun) -> tuple[str, bool]:
    """Store a phone's run once; returns its id and whether it was new."""
    try:
        tree = SolutionTree.model_validate(body.tree)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "tree"
        raise ApiError(422, "validation", f"tree.{where}: {scrub(first.get('msg', 'invalid'), 200)}",
                       field="tree") from None
    try:
        if store.get_run(body.id)["id"] == body.id:
            return body.id, False
    except UnknownRunError:
        pass
    tree.run_id = body.id
    backend = {"backend": "device", "model": body.model or "wllama"}
    store.start_run(body.problem, source="device", backend=backend, settings=dict(tree.settings), run_id=body.id)
    for exchange in body.exchanges:  # as the planner logs its own: what `drain export` and training read
        store.log_exchange(body.id, SimpleNamespace(**exchange.model_dump(by_alias=True)), backend)
    store.finish_run(body.id, tree)
    return body.id, True


@router.post("/runs/device", status_code=201, responses={422: ERRORS[422], 503: ERRORS[503]})
async def device_run(body: DeviceRun, svc: SolveService = Depends(service)) -> dict[str, Any]:
    """A run solved on the phone itself, stored with ``source: device`` (once: a repeat is a no-op), so the votes
    made on it offline can follow through ``/v1/feedback/batch``."""
    _checked_problem(body.problem)
    run_id, new = await svc.runs.call(lambda store: _store_device_run(store, body))
    return {"ok": True, "run": run_id, "new": new}


def _add_vote(store: Store, vote: FeedbackRequest) -> tuple[int, str]:
    run = _find_run(store, vote.run)
    try:
        feedback_id = store.add_feedback(run["id"], rating=vote.rating, idea=vote.idea, note=vote.note, source="api",
                                         client_event_id=vote.client_event_id)
    except FeedbackConflictError as err:
        raise ApiError(409, "conflict", scrub(err), field="client_event_id") from None
    except InputError as err:
        raise ApiError(422, "bad_input", scrub(err), field="idea" if vote.idea is not None else "run") from None
    return feedback_id, run["id"]


@router.post("/feedback", status_code=201, responses={404: {"description": "No such run"},
                                                      409: {"description": "The client_event_id is taken"},
                                                      422: ERRORS[422], 503: ERRORS[503]})
async def feedback(body: FeedbackRequest, svc: SolveService = Depends(service)) -> dict[str, Any]:
    """A thumbs up or down on a run or one of its numbered ideas."""
    feedback_id, run_id = await svc.runs.call(lambda store: _add_vote(store, body))
    return {"ok": True, "feedback_id": feedback_id, "run": run_id}


@router.post("/feedback/batch", responses={503: ERRORS[503]})
async def feedback_batch(body: FeedbackBatch, svc: SolveService = Depends(service)) -> dict[str, Any]:
    """Votes collected offline: each stored once by ``client_event_id``; a bad vote fails alone."""
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(body.votes):
        event_id = raw.get("client_event_id") if isinstance(raw, dict) else None
        result: dict[str, Any] = {"index": index,
                                  "client_event_id": event_id if isinstance(event_id, str) else None}
        if isinstance(result["client_event_id"], str) and len(result["client_event_id"]) > 100:
            result["client_event_id"] = None
        try:
            vote = Vote.model_validate(raw)
            feedback_id, run_id = await svc.runs.call(lambda store, vote=vote: _add_vote(store, vote))
        except ValidationError as err:
            field, message = first_validation_problem(err, default="vote")
            result.update(ok=False, status=422, error="validation", field=field,
                          message=f"{field}: {scrub(message, 200)}")
        except ApiError as err:
            result.update(ok=False, status=err.status, error=err.code, message=err.message, field=err.field)
        except KNOWN_ERRORS as err:
            status, code = drain_error_status(err)
            result.update(ok=False, status=status, error=code, message=scrub(err))
        else:
            result.update(ok=True, status=200, feedback_id=feedback_id, run=run_id)
        results.append(result)
    saved = sum(1 for r in results if r["ok"])
    return {"results": results, "saved": saved, "failed": len(results) - saved}


def _ref(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name}


@router.get("/matrix/{improving}/{worsening}", responses={422: {"description": "Unknown parameter"}})
def matrix(improving: str = Path(max_length=100, description="Improving parameter: id (1-39) or name"),
           worsening: str = Path(max_length=100, description="Worsening parameter: id or name"),
           svc: SolveService = Depends(service)) -> dict[str, Any]:
    """The contradiction matrix cell: the principles, in the published order (or why the cell is empty)."""
    return cell_json(improving, worsening, svc.config.knowledge(lazy=True))


@router.get("/principles/{ref}", responses={422: {"description": "Unknown principle"}})
def principle(ref: str = Path(max_length=100, description="Principle id (1-40) or name"),
              svc: SolveService = Depends(service)) -> dict[str, Any]:
    """An inventive principle: sub-principles, home examples, the matrix cells that suggest it."""
    return principle_json(ref, svc.config.knowledge(lazy=True))
