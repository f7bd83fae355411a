// DRAIN's service worker: the app shell (the page, its scripts, the on-device engine and llama.cpp's
// WebAssembly) is cached on install, so the page opens offline; the phone bundle (/device/...: the data,
// its vectors, the two models) lives in the cache the page fills with progress (engine/device.js), and is
// answered from there first. API answers (/v1/...) are never cached: they go straight to the network.
"use strict";

const CACHE = "drain-shell-v7";
const DEVICE_CACHE = "drain-device-v1"; // engine/device.js fills it; kept across shell updates
const SHELL = [
  "/",
  "/static/app.js",
  "/static/render.js",
  "/static/offline.js",
  "/static/app.css",
  "/manifest.webmanifest",
  "/static/icon.svg",
  "/static/icon-192.png",
  "/static/icon-512.png",
  "/static/engine/clauses.js",
  "/static/engine/device.js",
  "/static/engine/grounding.js",
  "/static/engine/knowledge.js",
  "/static/engine/llm.js",
  "/static/engine/planner.js",
  "/static/engine/problem.js",
  "/static/engine/replies.js",
  "/static/engine/settled.js",
  "/static/engine/template.js",
  "/static/engine/text.js",
  "/static/engine/tree.js",
  "/static/engine/words.js",
  "/static/vendor/wllama/wllama.js",
  "/static/vendor/wllama/wllama.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE && key !== DEVICE_CACHE)
        .map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/device/") && url.pathname !== "/device/manifest.json") {
    // the bundle: what the page stored, else the network (the page itself downloads and stores it)
    event.respondWith(caches.open(DEVICE_CACHE).then((cache) => cache.match(url.pathname))
      .then((hit) => hit || fetch(request)));
    return;
  }
  if (!SHELL.includes(url.pathname)) return; // the API above all: the browser fetches it as usual, nothing stored
  // Network first, so an update shows at once; the cached shell when offline.
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())),
  );
});
