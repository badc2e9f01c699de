// The grid worker's report, made to work without network (issue 10):
// - a service worker keeps this page and this script, so the page opens offline;
// - each report (its photos included) goes into an outbox in IndexedDB first, with a
//   UUID made here; the outbox is sent when the network is there (at once, when the
//   browser says it is back online, when the page opens, and every 30 seconds);
// - the server answers the same UUID with the same report, so a report whose answer was
//   lost on the way and is sent again is still one report.

const form = document.getElementById("grid-report");
const statusBox = document.getElementById("outbox-status");
const DB = "odr-grid";
const STORE = "outbox";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "uuid" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result.result === undefined ? result : result.result);
    tx.onerror = () => reject(tx.error);
  });
}

const outboxAll = () => withStore("readonly", (store) => store.getAll());
const outboxPut = (report) => withStore("readwrite", (store) => store.put(report));
const outboxDelete = (uuid) => withStore("readwrite", (store) => store.delete(uuid));

function say(text) {
  statusBox.textContent = text;
  statusBox.hidden = !text;
}

async function showPending() {
  const pending = await outboxAll();
  const waiting = pending.filter((r) => !r.error);
  const refused = pending.filter((r) => r.error);
  const lines = [];
  if (waiting.length) lines.push(`${form.dataset.waiting} ${waiting.length}`);
  for (const r of refused) lines.push(`${form.dataset.refused} ${r.place}: ${r.error}`);
  // Nothing waiting: the last word ("Sent.") stays.
  if (lines.length) say(lines.join(" · "));
  statusBox.dataset.pending = String(waiting.length);
}

function csrfToken() {
  return form.elements.csrfmiddlewaretoken.value;
}

let flushing = false;

async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    for (const report of await outboxAll()) {
      if (report.error) continue;
      const body = new FormData();
      body.append("client_uuid", report.uuid);
      body.append("grid", form.dataset.grid);
      for (const [name, value] of report.fields) body.append(name, value);
      for (const photo of report.photos) body.append("photos", photo, photo.name);
      let response;
      try {
        response = await fetch(form.dataset.api, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        });
      } catch {
        break; // no network: the report stays in the outbox
      }
      if (response.ok) {
        await outboxDelete(report.uuid);
        say(form.dataset.sent);
      } else if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403) {
        // Refused for its content: kept and shown, not sent again as it is.
        const answer = await response.json().catch(() => ({}));
        await outboxPut({ ...report, error: answer.detail || String(response.status) });
      } else {
        break; // the server or the log-in: try again later
      }
    }
  } finally {
    flushing = false;
    await showPending();
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const fields = [];
  for (const [name, value] of data.entries()) {
    if (name === "photos" || name === "csrfmiddlewaretoken" || name === "client_uuid") continue;
    fields.push([name, value]);
  }
  const photos = Array.from(form.elements.photos.files);
  await outboxPut({ uuid: crypto.randomUUID(), fields, photos, place: data.get("place"), error: null });
  form.reset();
  say(form.dataset.saved);
  statusBox.dataset.saved = "1";
  await flush();
});

window.addEventListener("online", flush);
setInterval(flush, 30000);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register(form.dataset.sw, { scope: "/grid/" }).catch(() => {});
}
flush();
