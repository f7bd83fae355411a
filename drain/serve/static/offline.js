// The page's offline side: getting the phone ready (the bundle into Cache Storage, with progress, then the
// two models loaded in wllama), solving on the phone, and keeping the runs solved here until the server
// can store them (POST /v1/runs/device), so the votes made on them offline have a run to belong to.
// <body data-offline-ready="true"> once the phone can solve with no network.

const RUNS_KEY = "drain.deviceRuns.v1";
const $ = (id) => document.getElementById(id);
const offline = { engine: null, loading: null, manifest: null, ready: false, threads: null, timings: {} };

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

function setStatus(text) {
  $("offline-status").textContent = text;
}

function loadRuns() {
  try {
    return JSON.parse(localStorage.getItem(RUNS_KEY) || "[]");
  } catch {
    return [];
  }
}

function saveRuns(runs) {
  try {
    localStorage.setItem(RUNS_KEY, JSON.stringify(runs));
  } catch {
    /* storage full: the run stays on the screen; its votes may not find it later */
  }
}

/** The threads the page asks wllama for: ?threads=N, else its default (1 unless cross-origin isolated). */
function wantedThreads() {
  const given = Number(new URLSearchParams(location.search).get("threads"));
  return Number.isInteger(given) && given > 0 ? given : null;
}

async function engineModule() {
  return import("./engine/device.js");
}

/** Download what is missing (with progress), then load the models. Resolves to the engine. */
export function prepare() {
  if (offline.engine) return Promise.resolve(offline.engine);
  if (offline.loading) return offline.loading;
  offline.loading = (async () => {
    const started = performance.now();
    const device = await engineModule();
    const { manifest, online } = await device.readManifest();
    if (!manifest) throw new Error("the phone has not downloaded DRAIN yet: open this page once while online");
    offline.manifest = manifest;
    const bar = $("offline-progress");
    bar.hidden = false;
    if (online) {
      const fetched = await device.cacheBundle(manifest, (loaded, total) => {
        bar.max = total;
        bar.value = loaded;
        setStatus(`Downloading DRAIN for offline use: ${megabytes(loaded)} of ${megabytes(total)}…`);
      });
      offline.timings.downloaded_bytes = fetched;
    }
    offline.timings.download_seconds = (performance.now() - started) / 1000;
    setStatus("Starting the models on this phone…");
    const engine = await device.loadEngine({ threads: wantedThreads() });
    offline.timings.ready_seconds = (performance.now() - started) / 1000;
    offline.engine = engine;
    offline.ready = true;
    bar.hidden = true;
    document.body.dataset.offlineReady = "true";
    const threads = engine.chat.threads;
    setStatus(`Ready offline: this phone solves on its own (${megabytes(manifest.total_bytes)} stored; `
      + `${threads} thread${threads === 1 ? "" : "s"}${engine.chat.multithread ? ", cross-origin isolated" : ""}).`);
    return engine;
  })();
  offline.loading.catch((err) => {
    offline.loading = null;
    document.body.dataset.offlineReady = "false";
    $("offline-progress").hidden = true;
    setStatus(`Offline use is not ready: ${err.message || err}`);
  });
  return offline.loading;
}

/** On load: say what a download costs, and start it (the first visit) unless the phone saves data. */
export async function startOffline() {
  $("offline-get").addEventListener("click", () => prepare().catch(() => {}));
  if (!("caches" in window)) {
    setStatus("This browser cannot keep DRAIN for offline use (no Cache Storage here).");
    $("offline-get").disabled = true;
    return;
  }
  const saveData = navigator.connection && navigator.connection.saveData;
  if (saveData) {
    setStatus("Data saver is on: tap the button to download DRAIN for offline use.");
    return;
  }
  prepare().catch(() => {});
}

export function isReady() {
  return offline.ready;
}

/** Numbers for the benchmark: time to ready, tokens per second, threads, download size. */
export function measures() {
  const engine = offline.engine;
  return { ...offline.timings, total_bytes: offline.manifest ? offline.manifest.total_bytes : null,
           threads: engine ? engine.chat.threads : null, multithread: engine ? engine.chat.multithread : null,
           tokens_per_second: engine ? engine.chat.tokensPerSecond() : null,
           cross_origin_isolated: Boolean(globalThis.crossOriginIsolated) };
}

/** The phone's embedding of `text` (for the check that wllama's vectors match Python's). */
export async function embedHere(text) {
  const engine = await prepare();
  return Array.from(await engine.embedder.embed(text));
}

function newRunId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return "d-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Solve on the phone; `onEvent` sees the same events as the server's stream (start, level, tree, result). */
export async function solveOnDevice(problem, { depth = null, family = null, onEvent }) {
  const engine = await prepare();
  const runId = newRunId();
  const settings = depth ? { depth } : {};
  const exchanges = []; // the model's requests and replies: training data once they reach the server
  const tree = await engine.planner.solve(problem, {
    settings, family, backend: { backend: "device", model: "drain-phone.gguf", adapter: null },
    onEvent: (kind, data) => onEvent(kind, kind === "start" ? { ...data, run_id: runId } : data),
    onExchange: (exchange) => exchanges.push(exchange),
  });
  tree.run_id = runId;
  const runs = loadRuns();
  runs.push({ id: runId, problem, tree, model: "drain-phone.gguf", exchanges });
  saveRuns(runs.slice(-50));
  onEvent("result", tree);
  return tree;
}

/** Send the runs solved here to the server (each once); resolves to the ids still waiting. */
export async function syncRuns(api) {
  const waiting = new Set();
  for (const run of loadRuns()) {
    let response;
    try {
      response = await api("/v1/runs/device", { method: "POST", body: JSON.stringify(run) });
    } catch {
      waiting.add(run.id);
      continue;
    }
    if (response.status === 401 || response.status === 429 || response.status >= 500) waiting.add(run.id);
  }
  saveRuns(loadRuns().filter((run) => waiting.has(run.id)));
  return waiting;
}

export function pendingRunIds() {
  return new Set(loadRuns().map((run) => run.id));
}
