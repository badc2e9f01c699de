// The signing page's signature pad: draw with a finger, a pen or the mouse (pointer
// events, so touch and mouse are one code path), clear, and on submit put the drawing
// into the form as a PNG data URL. The strokes are kept in CSS pixels and redrawn when
// the canvas changes size (a phone turned sideways keeps the signature).
//
// The page loads this file as a module and the form carries the options as data-
// attributes: no inline script, so it works under the strict Content-Security-Policy.
//
// A form with data-sign-url signs with a key made on this device (device-signing.js):
// the page posts the two steps itself and never reloads on a refusal, so a wrong
// password or a missing tick keeps the drawn signature (issue 12); each error shows at
// its own field.

import { signWithDeviceKey, supported } from "./device-signing.js";

const INK = "#14205a";

export function attachSignaturePad({ form, canvas, clear, output, error, messages }) {
  if (!form || !canvas || !output) return null;
  const ctx = canvas.getContext("2d");
  const strokes = [];
  let current = null;

  function fit() {
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const { width, height } = canvas.getBoundingClientRect();
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    redraw();
  }

  function drawStroke(points) {
    if (!points.length) return;
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (points.length === 1) {
      const p = points[0];
      ctx.beginPath();
      ctx.arc(p.x, p.y, p.w / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    // Quadratic curves through the midpoints: smooth lines from jittery touch input.
    for (let i = 1; i < points.length; i += 1) {
      const a = points[i - 1];
      const b = points[i];
      const prev = points[i - 2] || a;
      ctx.lineWidth = b.w;
      ctx.beginPath();
      ctx.moveTo((prev.x + a.x) / 2, (prev.y + a.y) / 2);
      ctx.quadraticCurveTo(a.x, a.y, (a.x + b.x) / 2, (a.y + b.y) / 2);
      ctx.stroke();
    }
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    strokes.forEach(drawStroke);
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    // Pens report pressure; mouse and most fingers report 0.5 or 0.
    const pressure = event.pressure && event.pointerType === "pen" ? event.pressure : 0.5;
    return { x: event.clientX - rect.left, y: event.clientY - rect.top, w: 1.5 + pressure * 2.5 };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    canvas.setPointerCapture?.(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    drawStroke(current);
    if (error) error.textContent = "";
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    (events.length ? events : [event]).forEach((e) => current.push(point(e)));
    const tail = current.slice(-Math.min(current.length, events.length + 2));
    drawStroke(tail);
  });

  const end = () => {
    current = null;
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);

  clear?.addEventListener("click", () => {
    strokes.length = 0;
    output.value = "";
    redraw();
  });

  // Draw or type: only the chosen pane is shown.
  const panes = form.querySelectorAll("[data-pane]");
  const radios = form.querySelectorAll('input[name="method"]');
  function showPane() {
    const chosen = form.querySelector('input[name="method"]:checked')?.value || "drawn";
    panes.forEach((pane) => {
      pane.hidden = pane.dataset.pane !== chosen;
    });
    if (chosen === "drawn") fit();
  }
  radios.forEach((radio) => radio.addEventListener("change", showPane));

  const byId = (id) => (id ? document.getElementById(id) : null);
  const fieldErrors = {
    password: byId(form.dataset.passwordError),
    code: byId(form.dataset.codeError),
    consent: byId(form.dataset.consentError),
    signature: error,
    general: byId(form.dataset.generalError),
  };
  // Which field an API refusal belongs to, by its code.
  const FIELD_OF = {
    password_required: "password",
    wrong_password: "password",
    too_many_attempts: "password",
    code_required: "code",
    wrong_code: "code",
    consent_required: "consent",
    invalid_signature_image: "signature",
    typed_name_mismatch: "signature",
  };
  function clearErrors() {
    Object.values(fieldErrors).forEach((el) => {
      if (el) el.textContent = "";
    });
    form.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
  }
  function showError(code, detail) {
    const field = FIELD_OF[code] || "general";
    const target = fieldErrors[field] || fieldErrors.general || error;
    if (target) {
      target.textContent = detail || "";
      target.closest(".field")?.classList.add("has-error");
      target.scrollIntoView?.({ block: "center" });
    }
    const input =
      field === "password" || field === "code" || field === "consent"
        ? form.querySelector(`[name="${field}"]`)
        : null;
    input?.focus();
  }

  const button = form.querySelector('button:not([type="button"])');
  const signUrl = form.dataset.signUrl;
  if (signUrl) {
    if (supported()) {
      if (button) button.disabled = false;
      form.querySelector("[data-needs-browser]")?.setAttribute("hidden", "");
    } else {
      form.querySelector("[data-needs-browser]")?.removeAttribute("hidden");
    }
  }

  async function signOnDevice() {
    const chosen = form.querySelector('input[name="method"]:checked')?.value || "drawn";
    const value = (name) => form.querySelector(`[name="${name}"]`)?.value || "";
    const body = {
      password: value("password"),
      code: value("code") || null,
      consent: true,
      version: Number.parseInt(value("version"), 10) || null,
    };
    if (chosen === "drawn") body.signature_png = output.value;
    else body.typed_name = value("typed_name");
    if (button) button.disabled = true;
    if (fieldErrors.general) fieldErrors.general.textContent = form.dataset.busyMessage || "";
    let result;
    // Another signer's signature may go in between the two steps (409 signing_restart):
    // then sign again over the document as it now stands, with what the form holds.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        result = await signWithDeviceKey({
          signUrl,
          completeUrl: form.dataset.completeUrl,
          body,
          csrf: value("csrfmiddlewaretoken"),
        });
      } catch (exc) {
        result = { ok: false, data: { detail: form.dataset.failedMessage || String(exc) } };
      }
      if (result.data?.code !== "signing_restart") break;
    }
    if (fieldErrors.general) fieldErrors.general.textContent = "";
    if (result.ok) {
      window.location.assign(form.dataset.doneUrl);
      return;
    }
    if (result.data?.code === "version_changed") {
      // The text changed under the signer: the page shows what changed (nothing signed).
      const url = new URL(form.dataset.changedUrl, window.location.href);
      url.searchParams.set("read", String(body.version || 0));
      window.location.assign(url.toString());
      return;
    }
    if (button) button.disabled = false;
    showError(result.data?.code, result.data?.detail);
  }

  form.addEventListener("submit", (event) => {
    clearErrors();
    const chosen = form.querySelector('input[name="method"]:checked')?.value || "drawn";
    const consent = form.querySelector('input[name="consent"]');
    if (consent && !consent.checked) {
      event.preventDefault();
      showError("consent_required", messages?.consent || "");
      return;
    }
    if (chosen === "drawn") {
      if (!strokes.some((s) => s.length)) {
        event.preventDefault();
        if (error) error.textContent = messages?.empty || "";
        canvas.scrollIntoView({ block: "center" });
        return;
      }
      output.value = canvas.toDataURL("image/png");
    } else {
      output.value = "";
    }
    if (signUrl) {
      event.preventDefault();
      signOnDevice();
      return;
    }
    if (button) button.disabled = true;
  });

  window.addEventListener("resize", fit);
  showPane();
  fit();
  return { strokes, clear: () => clear?.click() };
}

// <form data-signature-pad data-canvas="id" data-clear="id" data-output="id"
//       data-error="id" data-empty-message="…" data-consent-message="…">
export function attachFromForm(form) {
  const byId = (name) => (form.dataset[name] ? document.getElementById(form.dataset[name]) : null);
  return attachSignaturePad({
    form,
    canvas: byId("canvas"),
    clear: byId("clear"),
    output: byId("output"),
    error: byId("error"),
    messages: { empty: form.dataset.emptyMessage || "", consent: form.dataset.consentMessage || "" },
  });
}

document.querySelectorAll("form[data-signature-pad]").forEach(attachFromForm);
