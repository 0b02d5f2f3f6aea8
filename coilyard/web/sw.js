// Service worker of the handheld terminal: keeps the app shell (pages, styles, modules) so the terminal
// opens and its outbox keeps working after a reload without network. Network first, so a terminal always
// runs the newest pages when the service answers; the cache is only the fallback. API calls are not
// touched: the outbox (js/outbox.js) handles those. Needs a secure context (https, or localhost).
const CACHE = "coilyard-shell-v1";
const SHELL = [
  "/ui/handheld.html", "/ui/live.html", "/ui/style.css", "/ui/js/api.js", "/ui/js/chart.js", "/ui/js/events.js",
  "/ui/js/handheld.js", "/ui/js/live.js", "/ui/js/outbox.js", "/ui/js/scanner.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/ui/")) return;
  event.respondWith(fetch(event.request)
    .then((reply) => {
      if (reply.ok) { const copy = reply.clone(); caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)); }
      return reply;
    })
    .catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())));
});
