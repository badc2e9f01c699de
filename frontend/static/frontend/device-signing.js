// Signing with a key made on this device (issue 9; CONTRACT §3). WebCrypto makes an
// ECDSA P-256 key pair at the signing moment; the private key is non-extractable, so it
// can sign but can never be read, sent or stored by this page. Only the public key (SPKI,
// as PEM) goes to the server, with the re-authentication and the consent (step 1); the
// server answers with the bytes to sign (the CMS signed attributes of the PDF
// signature); the key signs them here and only the signature goes back (step 2).

export function supported() {
  return Boolean(window.isSecureContext && window.crypto?.subtle && window.fetch);
}

function toBase64(bytes) {
  let text = "";
  bytes.forEach((b) => {
    text += String.fromCharCode(b);
  });
  return btoa(text);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function pem(spki) {
  const lines = toBase64(new Uint8Array(spki)).match(/.{1,64}/g) || [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

// WebCrypto gives ECDSA signatures as r||s (IEEE P1363); CMS wants DER:
// SEQUENCE { INTEGER r, INTEGER s }, each integer minimal and positive.
function derInteger(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  let out = Array.from(bytes.slice(i));
  if (out[0] & 0x80) out = [0, ...out];
  return [0x02, out.length, ...out];
}

export function rawToDer(raw) {
  const bytes = new Uint8Array(raw);
  const half = bytes.length / 2;
  const body = [...derInteger(bytes.slice(0, half)), ...derInteger(bytes.slice(half))];
  return new Uint8Array([0x30, body.length, ...body]);
}

async function postJson(url, body, csrf) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, status: response.status, data };
}

// Runs both steps. `body` is step 1's request without the key. Resolves to
// { ok, step, status, data }: data is the agreement (or the application) after step 2,
// or the server's { detail, code } of the step that was refused.
export async function signWithDeviceKey({ signUrl, completeUrl, body, csrf }) {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);
  const publicKey = pem(await crypto.subtle.exportKey("spki", keys.publicKey));
  const first = await postJson(signUrl, { ...body, public_key: publicKey }, csrf);
  if (!first.ok) return { ...first, step: 1 };
  const raw = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    keys.privateKey,
    fromBase64(first.data.to_sign),
  );
  const second = await postJson(
    completeUrl,
    { signing_id: first.data.signing_id, signature: toBase64(rawToDer(raw)) },
    csrf,
  );
  return { ...second, step: 2 };
}
