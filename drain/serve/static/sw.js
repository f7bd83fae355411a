// DRAIN's service worker: caches the app shell only, so the page opens offline.
// API answers (/v1/...) are never cached: they go straight to the network.
"use strict";

const CACHE = "drain-shell-v1";
const SHELL = [
  "/",
  "/static/app.js",
  "/static/render.js",
  "/static/app.css",
  "/manifest.webmanifest",
  "/static/icon.svg",
  "/static/icon-192.png",
  "/static/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !SHELL.includes(url.pathname)) {
    return; // not part of the shell (the API above all): the browser fetches it as usual, nothing is stored
  }
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
