// The grid report page's service worker (issue 10): the page, its script and the style
// sheet are kept so that the page opens without network; the reports themselves wait in
// the page's outbox (IndexedDB) and are sent by the page, never replayed from here.
const CACHE = "odr-grid-v1";
const KEEP = ["{{ page|escapejs }}", "{{ script|escapejs }}", "{{ style|escapejs }}"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(KEEP)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first (the page shows the latest reports), the kept copy when there is none.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !KEEP.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname)),
  );
});
