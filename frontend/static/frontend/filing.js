// The filing form, improved when JavaScript runs (it works without it):
// - the plain-language hint of the chosen category,
// - the place chosen down the region tree (GET /api/v1/regions?parent=CODE),
// - the whole form sent by XMLHttpRequest so that a progress bar shows the upload,
//   with the server's errors put next to their fields and nothing typed lost.

const form = document.getElementById("filing");

function setupHint() {
  const hints = JSON.parse(document.getElementById("category-hint-data").textContent);
  const select = form.elements.category;
  const box = document.getElementById("category-hint");
  document.getElementById("category-hints").hidden = true;
  const show = () => {
    const text = hints[select.value];
    box.textContent = text || "";
    box.hidden = !text;
  };
  select.addEventListener("change", show);
  show();
}

async function regionsUnder(parent) {
  const url = new URL(form.dataset.regionsUrl, location.href);
  if (parent) url.searchParams.set("parent", parent);
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`regions: ${response.status}`);
  return response.json();
}

function setupRegions() {
  const plain = form.elements.region;
  // A place already chosen (the page came back with an error): keep the plain list.
  if (plain.value) return;
  const box = document.getElementById("region-cascade");
  const levelLabel = plain.closest(".field").querySelector("label").textContent;
  const placeholder = plain.options[0].textContent;

  async function addLevel(parent, depth) {
    // Remove the selects below this depth: a new choice higher up resets them.
    [...box.querySelectorAll("select")].slice(depth).forEach((s) => s.remove());
    const regions = await regionsUnder(parent);
    if (!regions.length) return;
    const select = document.createElement("select");
    select.setAttribute("aria-label", levelLabel);
    select.dataset.depth = depth;
    select.append(new Option(placeholder, ""));
    for (const r of regions) select.append(new Option(r.name, r.code));
    select.addEventListener("change", () => {
      // The chosen place is the deepest level picked; the plain select carries it.
      plain.value = select.value || (depth > 0 ? box.querySelectorAll("select")[depth - 1].value : "");
      if (select.value) addLevel(select.value, depth + 1);
      else [...box.querySelectorAll("select")].slice(depth + 1).forEach((s) => s.remove());
    });
    box.append(select);
  }

  addLevel("", 0)
    .then(() => {
      // The cascade takes the plain list's place, under the same label.
      const label = plain.closest(".field").querySelector("label");
      label.after(box);
      label.htmlFor = "";
      box.hidden = false;
      plain.hidden = true;
    })
    .catch(() => { /* the plain list stays */ });
}

function showErrors(errors) {
  form.querySelectorAll("[data-error-for]").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll(".field.has-error").forEach((f) => f.classList.remove("has-error"));
  let first = null;
  for (const [name, messages] of Object.entries(errors)) {
    const slot = form.querySelector(`[data-error-for="${name}"]`) || form.querySelector('[data-error-for="__all__"]');
    slot.textContent = messages.join(" ");
    const field = slot.closest(".field");
    if (field) field.classList.add("has-error");
    first = first || slot;
  }
  // form-errors.js (every page) puts the summary at the top, linking each field, and
  // moves the focus there.
  form.dispatchEvent(new CustomEvent("odr:errors"));
  if (!first) return;
}

function setupUpload() {
  const progress = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const pct = document.getElementById("upload-pct");
  const button = form.querySelector('button[name="file"]');

  form.addEventListener("submit", (event) => {
    // "Add another party" reloads the page with one more row: an ordinary submit.
    if (event.submitter && event.submitter.name === "add_party") return;
    event.preventDefault();
    // A file over the limit is refused here, before a phone spends data sending it;
    // the server checks again (and checks the content).
    const limit = Number(form.dataset.maxBytes);
    const tooLarge = [...form.elements.evidence.files].filter((f) => f.size > limit);
    if (tooLarge.length) {
      showErrors({ evidence: tooLarge.map((f) => form.dataset.tooLarge.replace("{name}", f.name)) });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const value = Math.round((e.loaded / e.total) * 100);
      bar.value = value;
      pct.textContent = `${value}%`;
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status === 201 && body.redirect) {
        location.assign(body.redirect);
        return;
      }
      button.disabled = false;
      progress.hidden = true;
      showErrors(body.errors || { __all__: [`${form.dataset.failed} (HTTP ${xhr.status})`] });
    });
    xhr.addEventListener("error", () => {
      button.disabled = false;
      progress.hidden = true;
      showErrors({ __all__: [form.dataset.failed] });
    });
    bar.value = 0;
    pct.textContent = "0%";
    progress.hidden = false;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
}

if (form) {
  setupHint();
  setupRegions();
  setupUpload();
}
