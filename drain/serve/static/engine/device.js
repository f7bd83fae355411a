// Getting the phone ready to solve offline: download the bundle the DRAIN server lists at
// /device/manifest.json (the data, its vectors, the two GGUF models) into the Cache Storage the service
// worker answers from, with progress; then load the models and build the engine. A second visit, or one
// with no network, reads everything from the cache.
import { Grounder, LibraryIndex } from "./grounding.js";
import { Knowledge } from "./knowledge.js";
import { ChatModel, EmbeddingModel, threadsFor } from "./llm.js";
import { DevicePlanner } from "./planner.js";
import { ProblemChecks } from "./problem.js";

export const DEVICE_CACHE = "drain-device-v1";
const MANIFEST = "/device/manifest.json";
export const FORMAT = 3;

async function cachedManifest(cache) {
  const hit = await cache.match(MANIFEST);
  return hit ? hit.json() : null;
}

/** The manifest: the server's when it answers, else the cached one (offline), else null. */
export async function readManifest() {
  const cache = await caches.open(DEVICE_CACHE);
  try {
    const response = await fetch(MANIFEST, { cache: "no-store" });
    if (response.ok) return { manifest: await response.json(), online: true };
  } catch {
    /* offline: the cached manifest says what is here */
  }
  return { manifest: await cachedManifest(cache), online: false };
}

async function download(cache, file, onBytes) {
  const response = await fetch(file.url, { cache: "no-store" });
  if (!response.ok || !response.body) throw new Error(`${file.name}: the server answered ${response.status}`);
  const reader = response.body.getReader();
  const parts = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    onBytes(value.byteLength);
  }
  const blob = new Blob(parts, { type: "application/octet-stream" });
  await cache.put(file.url, new Response(blob, { headers: { "content-length": String(blob.size),
                                                             "x-drain-stamp": file.stamp || "" } }));
}

/** Make sure every file of `manifest` is cached (downloading what is missing or changed); `onProgress(loaded,
 * total)` follows the bytes. Resolves to the number of bytes downloaded this time. */
export async function cacheBundle(manifest, onProgress) {
  const cache = await caches.open(DEVICE_CACHE);
  const total = manifest.total_bytes;
  let loaded = 0;
  let fetched = 0;
  const missing = [];
  for (const file of manifest.files) {
    if (file.missing) throw new Error(`the DRAIN server has no ${file.name} for phones yet (see docs/on-device.md)`);
    const hit = await cache.match(file.url);
    if (hit && hit.headers.get("x-drain-stamp") === (file.stamp || "")) loaded += file.bytes;
    else missing.push(file);
  }
  onProgress(loaded, total);
  for (const file of missing) {
    await download(cache, file, (n) => {
      loaded += n;
      fetched += n;
      onProgress(loaded, total);
    });
  }
  await cache.put(MANIFEST, new Response(JSON.stringify(manifest), { headers: { "content-type": "application/json" } }));
  return fetched;
}

async function cachedBlob(cache, name) {
  const hit = await cache.match(`/device/${name}`);
  if (!hit) throw new Error(`${name} is not on this phone yet`);
  return hit.blob();
}

/** The engine from the cached bundle: {planner, chat, embedder, data}. */
export async function loadEngine({ threads = null } = {}) {
  const cache = await caches.open(DEVICE_CACHE);
  const data = JSON.parse(await (await cachedBlob(cache, "drain-device.json")).text());
  if (data.format !== FORMAT) throw new Error(`this page reads device data format ${FORMAT}, not ${data.format}`);
  const vectors = new Uint8Array(await (await cachedBlob(cache, "drain-vectors.f16")).arrayBuffer());
  const count = threadsFor(threads);
  const embedder = await EmbeddingModel.load(await cachedBlob(cache, "drain-embed.gguf"), count,
                                             data.embedding.chunk_words);
  const chat = await ChatModel.load(await cachedBlob(cache, "drain-phone.gguf"), count);
  const knowledge = new Knowledge(data);
  const grounder = new Grounder(knowledge, data, new LibraryIndex(data.index, vectors), (text) => embedder.embed(text));
  const planner = new DevicePlanner(knowledge, grounder, data, chat, new ProblemChecks(data.problem));
  return { planner, chat, embedder, data, knowledge, grounder };
}
