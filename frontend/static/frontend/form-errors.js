// Every form's errors, once (issue 12): a summary at the top of the form that names each
// field in error and links to it, and focus moved to the summary so that a screen
// reader reads it and a phone shows it. The server marks the fields (aria-invalid, the
// error next to the field: odr/_field.html); a script that sends its form without a
// reload (the filing page's) puts the errors in place and sends the form "odr:errors".

const TITLE = document.querySelector('meta[name="odr-error-summary"]')?.content || "";

function labelOf(input) {
  // A group of radios or boxes is named by its legend, not by one choice's label.
  const legend = /^(radio|checkbox)$/.test(input.type) && input.closest("fieldset")?.querySelector("legend");
  if (legend) return legend.textContent.trim();
  const label = input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`);
  if (!label) return input.name || "";
  const copy = label.cloneNode(true);
  copy.querySelectorAll(".muted").forEach((e) => e.remove());
  return copy.textContent.trim();
}

function errorsOf(form) {
  const found = [];
  // Fields corrected since: no longer marked.
  form.querySelectorAll(".field").forEach((field) => {
    const slot = field.querySelector(".error[data-error-for]");
    if (slot && !slot.textContent.trim()) {
      field.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    }
  });
  form.querySelectorAll(".error[data-error-for]").forEach((slot) => {
    const text = slot.textContent.trim();
    if (!text) return;
    const field = slot.closest(".field");
    const input = field && field.querySelector("input:not([type=hidden]), select, textarea");
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const ids = new Set((input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
      if (slot.id) ids.add(slot.id);
      input.setAttribute("aria-describedby", [...ids].join(" "));
    }
    found.push({ target: input || slot, label: input ? labelOf(input) : "", text });
  });
  return found;
}

export function summarise(form, { focus = true } = {}) {
  form.querySelector(":scope > .error-summary")?.remove();
  const errors = errorsOf(form);
  if (!errors.length) return null;
  const box = document.createElement("div");
  box.className = "error-summary";
  box.setAttribute("role", "alert");
  box.tabIndex = -1;
  const title = document.createElement("h2");
  title.textContent = TITLE.replace("{n}", String(errors.length));
  const list = document.createElement("ul");
  errors.forEach(({ target, label, text }, i) => {
    if (!target.id) target.id = `form-error-${i}`;
    const a = document.createElement("a");
    a.href = `#${target.id}`;
    a.textContent = label && !text.includes(label) ? `${label}：${text}` : text;
    a.addEventListener("click", (event) => {
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      target.focus();
    });
    const li = document.createElement("li");
    li.append(a);
    list.append(li);
  });
  box.append(title, list);
  form.prepend(box);
  if (focus) {
    box.scrollIntoView({ block: "start" });
    box.focus();
  }
  return box;
}

// Pages that came back from the server with errors: the first such form gets the focus.
let focused = false;
document.querySelectorAll("form").forEach((form) => {
  if (summarise(form, { focus: !focused })) focused = true;
  form.addEventListener("odr:errors", () => summarise(form));
});
