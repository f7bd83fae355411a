// DRAIN's page: ask a question, watch the solution tree grow, vote on ideas (offline votes wait in
// localStorage and are sent with /v1/feedback/batch when the phone is back online).
// A server started with --token answers /v1 calls 401 without it: the page then asks for the token once,
// keeps it in localStorage, and sends it with every call (the offline vote sync too).
// Everything the model wrote is inserted with textContent: never parsed as HTML.
// Solving on the phone itself (offline.js, engine/): automatic when offline, or chosen (?engine=device|server);
// the result says which engine answered (<section id="result" data-engine="device|server">).
import { embedHere, measures, pendingRunIds, solveOnDevice, startOffline, syncRuns } from "./offline.js";
import { collectHazards, el, renderHazards, renderTree } from "./render.js";

const QUEUE_KEY = "drain.pendingVotes.v1";
const VOTES_KEY = "drain.myVotes.v1";
const TOKEN_KEY = "drain.token.v1";
const BATCH = 50;
const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };
const $ = (id) => document.getElementById(id);
const state = { runId: null, final: false, busy: false, syncing: false, asking: null };

function loadJSON(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key) || "null");
    return value === null ? fallback : value;
  } catch {
    return fallback;
  }
}

function saveJSON(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full or blocked: the vote is still sent when online */
  }
}

// ---------------------------------------------------------------- the access token
function savedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

// Ask for the token (one question, however many calls are waiting for it); resolves to the token, or ""
// when the person chose "Not now".
function askToken(rejected) {
  if (state.asking) return state.asking;
  const form = $("token-form");
  const input = $("token");
  $("token-hint").textContent = rejected
    ? "That token was not accepted. Enter the access token this DRAIN server was started with."
    : "This DRAIN server asks for its access token. Whoever set it up has it. It is kept on this device only.";
  form.hidden = false;
  input.value = "";
  input.focus();
  state.asking = new Promise((resolve) => {
    const done = (token) => {
      form.hidden = true;
      form.removeEventListener("submit", submitted);
      $("token-cancel").removeEventListener("click", cancelled);
      state.asking = null;
      resolve(token);
    };
    const submitted = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      try {
        localStorage.setItem(TOKEN_KEY, token);
      } catch {
        /* storage blocked: the token still works until the page closes */
      }
      done(token);
    };
    const cancelled = () => done("");
    form.addEventListener("submit", submitted);
    $("token-cancel").addEventListener("click", cancelled);
  });
  return state.asking;
}

// fetch() for the API: the saved token on every call; a 401 asks for the token and tries again.
async function api(path, init = {}) {
  let token = savedToken();
  for (;;) {
    const headers = { ...JSON_HEADERS, ...(init.headers || {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    const given = await askToken(Boolean(token));
    if (!given) return response;
    token = given;
  }
}

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "v-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text || "";
  status.classList.toggle("error", Boolean(isError));
}

function setSync(text) {
  $("sync").textContent = text || "";
}

function show(tree, final) {
  state.final = final;
  $("result").hidden = false;
  renderHazards($("hazards"), collectHazards(tree));
  return renderTree($("tree"), tree, { runId: state.runId, final, votes: loadJSON(VOTES_KEY, {}) });
}

function clearResult() {
  delete $("hazards").dataset.shown;
  $("hazards").replaceChildren();
  $("tree").replaceChildren();
}

async function errorMessage(response) {
  try {
    const data = await response.json();
    if (data && typeof data.message === "string") return data.message;
  } catch {
    /* not JSON */
  }
  return `the server answered ${response.status}`;
}

// ---------------------------------------------------------------- solving (server-sent events over fetch)
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let kind = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") kind = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
    }
  }
}

function handleEvent(kind, data) {
  if (kind === "start") {
    state.runId = data.run_id || null;
    $("result").hidden = false;
    renderHazards($("hazards"), data.hazards || []);
    $("result").scrollIntoView({ block: "start" }); // hazards are the first thing in view
    $("tree").replaceChildren(el("div", { className: "block" }, el("h3", { text: "Problem" }),
                                 el("p", { text: data.problem })));
    setStatus("Thinking…");
  } else if (kind === "level") {
    setStatus(`Thinking: step ${data.level}, ${data.calls} question${data.calls === 1 ? "" : "s"} to the model…`);
  } else if (kind === "tree") {
    show(data.tree, false);
  } else if (kind === "result") {
    state.runId = data.run_id || null;
    const count = show(data, true);
    setStatus(`Done: ${count} idea${count === 1 ? "" : "s"}.` + (state.runId ? " Rate the ones you read." : ""));
    return true;
  } else if (kind === "error") {
    setStatus(data.message || "The solve failed.", true);
    return true;
  }
  return false;
}

function showResult() {
  // Focus the answer for keyboard and screen-reader users, with the hazard banner above it still in view.
  $("result-title").focus({ preventScroll: true });
  $("result").scrollIntoView({ block: "start" });
}

function setBusy(busy) {
  state.busy = busy;
  const button = $("solve");
  button.disabled = busy;
  button.textContent = busy ? "Thinking…" : "Find ideas";
  $("result").setAttribute("aria-busy", busy ? "true" : "false");
}

async function submit(event, family) {
  if (event) event.preventDefault();
  if (state.busy) return;
  const problem = $("problem").value.trim();
  if (!problem) {
    setStatus("Describe the problem first.", true);
    $("problem").focus();
    return;
  }
  const body = { problem };
  if ($("depth").value) body.depth = Number($("depth").value);
  if (family) body.family = family; // the answer to the tree's clarifying question
  state.runId = null;
  state.final = false;
  clearResult();
  setBusy(true);
  const choice = $("engine").value;
  if (choice === "device" || (choice === "auto" && !navigator.onLine)) {
    await submitOnDevice(body);
    return;
  }
  $("result").dataset.engine = "server";
  setStatus("Sending…");
  let ended = false;
  try {
    const response = await api("/v1/solve/stream", { method: "POST", body: JSON.stringify(body),
                                                     headers: { Accept: "text/event-stream" } });
    if (!response.ok || !response.body) {
      setStatus(await errorMessage(response), true);
      return;
    }
    await readEvents(response.body, (kind, data) => { ended = handleEvent(kind, data) || ended; });
    if (!ended) setStatus("The connection closed before the answer was complete. Try again.", true);
    else if (state.final) showResult();
  } catch {
    if (choice === "auto" && !ended && document.body.dataset.offlineReady === "true") {
      await submitOnDevice(body); // the server is out of reach: this phone answers
      return;
    }
    setStatus(navigator.onLine ? "Could not reach DRAIN. Is the server running?"
                               : "You are offline and this phone is not ready to solve alone yet.", true);
  } finally {
    if ($("result").dataset.engine === "server") {
      setBusy(false);
      loadRecent();
    }
  }
}

async function submitOnDevice(body) {
  $("result").dataset.engine = "device";
  setStatus("Solving on this phone…");
  const started = performance.now();
  try {
    await solveOnDevice(body.problem, { depth: body.depth || null, family: body.family || null,
                                        onEvent: (kind, data) => handleEvent(kind, data) });
    state.lastDeviceSeconds = (performance.now() - started) / 1000;
    setStatus(`${$("status").textContent} Solved on this phone.`);
    showResult();
  } catch (err) {
    setStatus(`This phone could not solve it: ${err.message || err}`, true);
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------- votes, online or queued offline
function queueVote(vote) {
  const queue = loadJSON(QUEUE_KEY, []);
  queue.push(vote);
  saveJSON(QUEUE_KEY, queue);
  setSync(`Saved on this phone: ${queue.length} vote${queue.length === 1 ? "" : "s"} will be sent when you are online.`);
}

async function vote(idea, rating) {
  const run = state.runId;
  const mine = loadJSON(VOTES_KEY, {});
  mine[`${run}:${idea}`] = rating;
  saveJSON(VOTES_KEY, mine);
  for (const b of document.querySelectorAll(`.votes button[data-idea="${idea}"]`)) {
    b.setAttribute("aria-pressed", b.dataset.rating === rating ? "true" : "false");
  }
  const item = { run, idea, rating, client_event_id: newId() };
  if (!navigator.onLine || String(run).startsWith("d-")) {
    queueVote(item); // a run solved on this phone reaches the server with its votes, when it can
    if (navigator.onLine) syncVotes();
    return;
  }
  try {
    const response = await api("/v1/feedback", { method: "POST", body: JSON.stringify(item) });
    if (response.ok) setSync(`Thanks: your vote on idea ${idea} is saved.`);
    else if (response.status >= 500 || response.status === 429 || response.status === 401) queueVote(item);
    else setSync(`That vote was not saved: ${await errorMessage(response)}`);
  } catch {
    queueVote(item);
  }
}

async function syncVotes() {
  if (state.syncing || !navigator.onLine) return;
  state.syncing = true;
  try {
    const unsent = await syncRuns(api); // first the runs solved on this phone, so their votes have a run
    for (;;) {
      const batch = loadJSON(QUEUE_KEY, []).filter((v) => !unsent.has(v.run) && !pendingRunIds().has(v.run))
        .slice(0, BATCH);
      if (!batch.length) return;
      const response = await api("/v1/feedback/batch", { method: "POST", body: JSON.stringify({ votes: batch }) });
      if ([401, 408, 429].includes(response.status) || response.status >= 500) return; // try again later
      const settled = new Set();
      if (response.ok) {
        const data = await response.json();
        for (const r of data.results) if (r.ok || r.status < 500) settled.add(batch[r.index].client_event_id);
      } else {
        for (const v of batch) settled.add(v.client_event_id); // the server refuses this batch: do not retry forever
      }
      const rest = loadJSON(QUEUE_KEY, []).filter((v) => !settled.has(v.client_event_id));
      saveJSON(QUEUE_KEY, rest);
      setSync(rest.length ? `${rest.length} vote${rest.length === 1 ? "" : "s"} still waiting to be sent.`
                          : "Your offline votes are sent.");
      if (!settled.size) return;
    }
  } catch {
    /* still offline: the votes stay queued */
  } finally {
    state.syncing = false;
  }
}

// ---------------------------------------------------------------- recent problems
async function loadRecent() {
  const list = $("recent");
  try {
    const response = await api("/v1/runs?limit=10");
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    if (!data.runs.length) {
      list.replaceChildren(el("li", { className: "note", text: "No problems yet." }));
      return;
    }
    list.replaceChildren(...data.runs.map((run) => el("li", {},
      el("button", { type: "button", "data-run": run.id },
        el("span", { text: run.problem }),
        el("span", { className: "when",
                     text: `${new Date(run.created_at * 1000).toLocaleString()} · ${run.status}` })))));
  } catch {
    list.replaceChildren(el("li", { className: "note", text: "Recent problems show here when DRAIN is reachable." }));
  }
}

async function openRun(id) {
  if (state.busy) return;
  setStatus("Opening…");
  try {
    const response = await api(`/v1/runs/${encodeURIComponent(id)}`);
    if (!response.ok) {
      setStatus(await errorMessage(response), true);
      return;
    }
    const run = await response.json();
    if (!run.tree) {
      setStatus(`That problem has no answer (${run.status}${run.error ? ": " + run.error : ""}).`, true);
      return;
    }
    const mine = loadJSON(VOTES_KEY, {});
    for (const v of run.votes || []) if (v.idea) mine[`${run.id}:${v.idea}`] = v.rating;
    saveJSON(VOTES_KEY, mine);
    state.runId = run.id;
    clearResult();
    show(run.tree, true);
    setStatus(`An earlier answer: ${run.problem}`);
    showResult();
  } catch {
    setStatus("Could not reach DRAIN.", true);
  }
}

// ---------------------------------------------------------------- wiring
function start() {
  const asked = new URLSearchParams(location.search).get("engine");
  if (["device", "server", "auto"].includes(asked)) $("engine").value = asked;
  window.drainMeasures = () => ({ ...measures(), last_device_solve_seconds: state.lastDeviceSeconds ?? null });
  window.drainEmbed = embedHere; // for tests and the benchmark: the phone's sentence vector of a text
  $("ask").addEventListener("submit", submit);
  $("problem").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("tree").addEventListener("click", (event) => {
    const button = event.target.closest("button.vote");
    if (button) vote(Number(button.dataset.idea), button.dataset.rating);
    const choice = event.target.closest("button.clarify-choice");
    if (choice) submit(null, choice.dataset.family); // solve again as the family the homeowner picked
  });
  $("recent").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-run]");
    if (button) openRun(button.dataset.run);
  });
  window.addEventListener("online", () => {
    setSync("Back online.");
    syncVotes();
  });
  window.addEventListener("offline", () => setSync("You are offline. Votes are kept on this phone and sent later."));
  const waiting = loadJSON(QUEUE_KEY, []).length;
  if (waiting) setSync(`${waiting} vote${waiting === 1 ? "" : "s"} waiting to be sent.`);
  loadRecent();
  syncVotes();
  startOffline();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js").catch(() => { /* the page works without it */ });
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
