// The mediation room client: one ES module, no build step. It speaks the signaling
// protocol of CONTRACT.md §4 and nothing else on the WebSocket; media is a peer-to-peer
// mesh among those in the room (the newcomer calls), trickle ICE, perfect negotiation.
// The page gives its configuration in <script id="room-config" type="application/json">.

import * as netadapt from "./netadapt.js";

const cfg = JSON.parse(document.getElementById("room-config").textContent);
const $ = (sel) => document.querySelector(sel);
const app = $("#room-app");
// Strings come from Django's JavaScriptCatalog (sessions/media/locale, domain djangojs).
const gettext = (s) => (window.gettext ? window.gettext(s) : s);
const fmt = (s, obj) => (window.interpolate ? window.interpolate(s, obj, true) : s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- small helpers
function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function api(method, path, body) {
  const res = await fetch(cfg.api + path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.detail || res.statusText);
    err.code = data.code;
    throw err;
  }
  return data;
}

let toastTimer = null;
function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function setStage(stage) {
  app.dataset.stage = stage;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function iceDone(pc, ms) {
  // aiortc does not trickle: the server wants every candidate in the offer.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

// ---------------------------------------------------------------- local media
// audioOnly: the party chose sound only (pre-join or in the call), or the room gave up
// video on a network that could not carry it; no video is sent then.
const local = { stream: new MediaStream(), screen: null, audioOn: true, videoOn: true, audioOnly: false };
let audioCtx = null;

function ensureAudioCtx() {
  if (!audioCtx) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx) audioCtx = new Ctx();
  }
  if (audioCtx && audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
  return audioCtx;
}

function localTrack(kind) {
  return kind === "audio" ? local.stream.getAudioTracks()[0] : local.stream.getVideoTracks()[0];
}

// The video that peers get: the shared screen while sharing, else the camera.
function outgoingVideo() {
  if (local.audioOnly) return null;
  return local.screen || localTrack("video") || null;
}

async function openDevice(kind, deviceId) {
  const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
  const constraint = kind === "audio"
    ? (deviceId ? { deviceId: { exact: deviceId }, echoCancellation: true, noiseSuppression: true } : { echoCancellation: true, noiseSuppression: true })
    : (deviceId ? { ...video, deviceId: { exact: deviceId } } : video);
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraint });
  const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
  const old = localTrack(kind);
  if (old) {
    local.stream.removeTrack(old);
    old.stop();
  }
  track.enabled = kind === "audio" ? local.audioOn : local.videoOn;
  local.stream.addTrack(track);
  // Switching devices mid-call: swap the track on every peer without renegotiating.
  for (const p of peers.values()) {
    if (!p.pc) continue;
    const sender = p.pc.getSenders().find((s) => s.track && s.track.kind === kind);
    if (sender && !(kind === "video" && (local.screen || local.audioOnly))) sender.replaceTrack(track).catch(() => {});
  }
  if (recorder.pc) {
    const sender = recorder.pc.getSenders().find((s) => s.track && s.track.kind === kind);
    if (sender) sender.replaceTrack(track).catch(() => {});
  }
  showLocal();
  if (kind === "audio") watchLevel(local.stream, "local");
  return track;
}

async function openMedia() {
  for (const kind of ["audio", "video"]) {
    try {
      await openDevice(kind, selectedDevice(kind));
    } catch (err) {
      if (kind === "video") $("#preview-off").hidden = false;
      toast(kind === "audio" ? gettext("We cannot use your microphone. Check the browser's permission.")
        : gettext("We cannot use your camera. You can still join with sound only."));
    }
  }
  await listDevices();
}

function selectedDevice(kind) {
  const sel = kind === "audio" ? $("#mic-select") : $("#camera-select");
  return sel && sel.value ? sel.value : undefined;
}

async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, sel] of [["audioinput", $("#mic-select")], ["videoinput", $("#camera-select")]]) {
    const current = (kind === "audioinput" ? localTrack("audio") : localTrack("video"))?.getSettings().deviceId;
    sel.replaceChildren();
    let n = 0;
    for (const d of devices.filter((x) => x.kind === kind)) {
      n += 1;
      const label = d.label || fmt(kind === "audioinput" ? gettext("Microphone %(n)s") : gettext("Camera %(n)s"), { n });
      sel.append(el("option", { value: d.deviceId, selected: d.deviceId === current ? "" : null }, label));
    }
    if (!n) sel.append(el("option", { value: "" }, gettext("None found")));
  }
}

function showLocal() {
  const video = outgoingVideo();
  const stream = new MediaStream(video ? [video] : []);
  for (const v of [$("#preview"), $("#local-video")]) {
    v.srcObject = stream;
    v.classList.toggle("mirror", !local.screen);
  }
  $("#preview-off").hidden = Boolean(localTrack("video"));
  const tile = $("#tile-local");
  tile.classList.toggle("no-video", !video);
  tile.dataset.initial = [...(cfg.name || "·")][0];
}

$("#camera-select").addEventListener("change", (e) => openDevice("video", e.target.value).catch(() => toast(gettext("That camera cannot be used."))));
$("#mic-select").addEventListener("change", (e) => openDevice("audio", e.target.value).catch(() => toast(gettext("That microphone cannot be used."))));
navigator.mediaDevices?.addEventListener?.("devicechange", () => listDevices());

// ---------------------------------------------------------------- speaking indicator
const levelWatchers = new Map(); // key -> {timer, source}

function watchLevel(stream, key) {
  const ctx = ensureAudioCtx();
  const track = stream.getAudioTracks()[0];
  unwatchLevel(key);
  if (!ctx || !track) return;
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Uint8Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getByteTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += (v - 128) * (v - 128);
    const rms = Math.sqrt(sum / buf.length) / 128;
    const speaking = rms > 0.04 && (key !== "local" || local.audioOn);
    if (key === "local") {
      $("#mic-level").style.width = `${Math.min(100, Math.round(rms * 400))}%`;
      $("#tile-local").classList.toggle("speaking", speaking);
    } else {
      const p = peers.get(key);
      p?.tile?.classList.toggle("speaking", speaking);
      if (p && speaking) {
        p.spokeAt = performance.now();
        chooseFocus();
      }
    }
  }, 150);
  levelWatchers.set(key, { timer, source });
}

function unwatchLevel(key) {
  const w = levelWatchers.get(key);
  if (w) {
    clearInterval(w.timer);
    w.source.disconnect();
    levelWatchers.delete(key);
  }
}

// ---------------------------------------------------------------- network self-test
async function runSelfTest() {
  const box = $("#selftest");
  const again = $("#selftest-again");
  again.disabled = true;
  box.dataset.grade = "";
  $("#selftest-words").textContent = gettext("Checking your connection…");
  $("#selftest-figures").hidden = true;
  const pc = new RTCPeerConnection();
  let figures = { rtt_ms: 60000, loss_pct: 100, bitrate_kbps: 0 };
  try {
    const pings = pc.createDataChannel("ping", { ordered: false, maxRetransmits: 0 });
    const bulk = pc.createDataChannel("bulk", { ordered: true });
    bulk.binaryType = "arraybuffer";
    const mic = localTrack("audio");
    if (mic) pc.addTrack(mic.clone()); // the echo peer sends it back: media works both ways
    await pc.setLocalDescription(await pc.createOffer());
    await iceDone(pc, 3000);
    const answer = await api("POST", "/selftest", { sdp: pc.localDescription.sdp, type: "offer" });
    await pc.setRemoteDescription(answer);
    await Promise.all([pings, bulk].map((ch) => new Promise((resolve, reject) => {
      if (ch.readyState === "open") resolve();
      ch.onopen = resolve;
      setTimeout(() => reject(new Error("timeout")), 10000);
    })));
    // Round trip and loss: unreliable pings, like media packets.
    const count = 40;
    const rtts = [];
    pings.onmessage = (e) => rtts.push(performance.now() - JSON.parse(e.data).t);
    for (let i = 0; i < count; i += 1) {
      pings.send(JSON.stringify({ seq: i, t: performance.now() }));
      await sleep(40);
    }
    await sleep(800);
    rtts.sort((a, b) => a - b);
    const rtt = rtts.length ? rtts[Math.floor(rtts.length / 2)] : 60000;
    let jitter = 0;
    for (let i = 1; i < rtts.length; i += 1) jitter += rtts[i] - rtts[i - 1];
    jitter = rtts.length > 1 ? jitter / (rtts.length - 1) : 0;
    // Speed: a bulk transfer that makes the round trip, capped at a few seconds.
    const chunk = new Uint8Array(16 * 1024);
    const total = 48 * chunk.length;
    let got = 0;
    const start = performance.now();
    const echoed = new Promise((resolve) => {
      bulk.onmessage = (e) => {
        got += e.data.byteLength;
        if (got >= total) resolve();
      };
      setTimeout(resolve, 5000);
    });
    for (let sent = 0; sent < total; sent += chunk.length) {
      while (bulk.bufferedAmount > 256 * 1024) await sleep(5);
      bulk.send(chunk);
    }
    await echoed;
    const seconds = (performance.now() - start) / 1000;
    // getStats adds what the media itself saw: the echoed microphone's lost packets and
    // the ICE pair's own round-trip time (used when no ping came back).
    let mediaLoss = 0;
    let pairRtt = null;
    (await pc.getStats()).forEach((st) => {
      if (st.type === "inbound-rtp" && st.kind === "audio" && st.packetsReceived + st.packetsLost > 0) {
        mediaLoss = (100 * st.packetsLost) / (st.packetsReceived + st.packetsLost);
      }
      if (st.type === "candidate-pair" && st.nominated && st.currentRoundTripTime !== undefined) {
        pairRtt = st.currentRoundTripTime * 1000;
      }
    });
    figures = {
      rtt_ms: rtts.length ? rtt : pairRtt ?? 60000,
      loss_pct: Math.max(((count - rtts.length) / count) * 100, Math.max(0, mediaLoss)),
      bitrate_kbps: (got * 8) / seconds / 1000,
      jitter_ms: jitter,
    };
  } catch (err) {
    console.warn("self-test", err);
  } finally {
    pc.getSenders().forEach((s) => s.track && s.track.stop());
    pc.close();
  }
  try {
    const result = await api("POST", "/selftest/result", figures);
    box.dataset.grade = result.grade;
    $("#selftest-words").textContent = result.words;
    $("#fig-rtt").textContent = `${Math.round(result.rtt_ms)} ms`;
    $("#fig-loss").textContent = `${result.loss_pct} %`;
    $("#fig-bitrate").textContent = result.bitrate_kbps >= 1000
      ? `${(result.bitrate_kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(result.bitrate_kbps)} kbit/s`;
    // Parties read the grade in words; the figures are for the mediator and staff.
    $("#selftest-figures").hidden = !cfg.staff;
    window.odrRoom.selfTest = result;
  } catch (err) {
    box.dataset.grade = "poor";
    $("#selftest-words").textContent = gettext("The network check could not be completed. You can still join.");
  }
  again.disabled = false;
}
$("#selftest-again").addEventListener("click", runSelfTest);

// ---------------------------------------------------------------- signaling socket
let ws = null;
let wsAttempts = 0;
let wsTimer = null;
let finished = false; // ended, removed or left: no reconnect
const me = { peer_id: null, role: cfg.role, name: cfg.name, state: null };
let iceServers = [];

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${cfg.wsPath}`;
}

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

function setConn(text) {
  const b = $("#conn-indicator");
  b.textContent = text || "";
  b.hidden = !text;
}

function connect() {
  clearTimeout(wsTimer);
  const socket = new WebSocket(wsUrl());
  ws = socket;
  socket.onopen = () => {
    wsAttempts = 0;
    setConn("");
  };
  socket.onmessage = (e) => {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    handle(msg);
  };
  socket.onclose = (e) => {
    if (ws !== socket || finished) return;
    // 4000-4999: the server closed us for good (superseded by another window, removed,
    // ended, not a participant); anything else is the network: come back.
    if (e.code >= 4000 && e.code < 5000) {
      finish(e.code === 4002 ? "ended" : e.code === 4000 ? "superseded" : "removed");
      return;
    }
    // Back off (0.5 s, 1 s, 2 s … 10 s, with jitter); the server kept our place.
    const delay = Math.min(10000, 500 * 2 ** wsAttempts) * (0.75 + Math.random() * 0.5);
    wsAttempts += 1;
    setConn(gettext("Reconnecting…"));
    wsTimer = setTimeout(connect, delay);
  };
}

setInterval(() => send({ type: "ping" }), 20000);
window.addEventListener("online", () => {
  if (!finished && ws && ws.readyState !== WebSocket.OPEN) connect();
});

function handle(msg) {
  switch (msg.type) {
    case "welcome":
      me.peer_id = msg.peer_id;
      me.role = msg.role;
      me.name = msg.name;
      iceServers = msg.ice_servers || [];
      if (msg.state === "room") {
        setCaucus(msg.caucus, msg.side);
        enterRoom(msg.peers || []);
      } else {
        me.state = "lobby";
        setStage("lobby");
      }
      if (typeof msg.recording === "boolean") setRecording(msg.recording);
      else syncRecording();
      break;
    case "knock":
      addLobby(msg.peer);
      break;
    case "lobby": // beyond the contract: the whole lobby, for the mediator's list
      syncLobby(msg.peers || []);
      break;
    case "admitted":
      setCaucus(msg.caucus, msg.side);
      enterRoom(msg.peers || []);
      syncRecording();
      break;
    case "removed":
      finish("removed");
      break;
    case "peer-joined":
      removeLobby(msg.peer.peer_id);
      peerJoined(msg.peer);
      break;
    case "peer-left":
      removeLobby(msg.peer_id);
      hangUp(msg.peer_id);
      updateCaucusBanner();
      break;
    case "signal":
      onSignal(msg.from, msg.data || {}).catch((err) => console.warn("signal", err));
      break;
    case "caucus":
      onCaucus(msg.peers || [], msg.call, msg.active, msg.side);
      break;
    case "chat":
      addChat(msg);
      break;
    case "ended":
      finish("ended");
      break;
    case "recording":
      setRecording(Boolean(msg.active));
      break;
    case "error":
      toast(msg.message || msg.code);
      break;
    default:
      break; // pong and anything newer
  }
}

// ---------------------------------------------------------------- peers (the mesh)
const peers = new Map(); // peer_id -> {info, pc, callId, caller, makingOffer, tile, stream, ...}
const tiles = $("#tiles");
// The layout follows the number of pictures (one to one: the other fills the view).
new MutationObserver(() => (tiles.dataset.count = String(tiles.children.length))).observe(tiles, { childList: true });
tiles.dataset.count = String(tiles.children.length);

const STATE_WORDS = {
  connecting: () => gettext("Connecting…"),
  connected: () => gettext("Connected"),
  reconnecting: () => gettext("Reconnecting…"),
};

function roleWord(role) {
  return { mediator: gettext("Mediator"), applicant: gettext("Applicant"), respondent: gettext("Respondent") }[role] || "";
}

function ensurePeer(info) {
  let p = peers.get(info.peer_id);
  if (!p) {
    p = { info, pc: null, callId: null, caller: false, makingOffer: false, pending: [], state: "connecting" };
    const video = el("video", { autoplay: "", playsinline: "" });
    // A long name is cut with an ellipsis on the picture; the whole name stays in the
    // tooltip and in what a screen reader reads out.
    const name = info.name || gettext("Participant");
    const tile = el("figure", { class: "tile no-video", "data-peer-id": info.peer_id, "data-role": info.role || "", "data-state": "connecting", "data-initial": [...name][0] },
      video,
      el("figcaption", {}, el("span", { class: "name", title: name }, name),
        el("span", { class: "role" }, roleWord(info.role)), el("span", { class: "state" }, STATE_WORDS.connecting()),
        el("span", { class: "quality", hidden: "" })));
    if (me.role === "mediator") {
      tile.append(el("button", { type: "button", class: "tile-remove", onclick: () => send({ type: "remove", peer_id: info.peer_id }) }, gettext("Remove")));
    }
    p.tile = tile;
    p.video = video;
    tiles.append(tile);
    peers.set(info.peer_id, p);
  } else if (info.name) {
    p.info = { ...p.info, ...info };
    const nameEl = p.tile.querySelector(".name");
    nameEl.textContent = info.name;
    nameEl.title = info.name;
    p.tile.dataset.initial = [...info.name][0];
    p.tile.dataset.role = p.info.role || "";
  }
  chooseFocus();
  renderCaucusChoices();
  return p;
}

function setPeerState(p, state) {
  p.state = state;
  p.tile.dataset.state = state;
  p.tile.querySelector(".state").textContent = STATE_WORDS[state]();
}

function newCallId() {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
}

function closePc(p) {
  clearTimeout(p.recallTimer);
  clearTimeout(p.restartTimer);
  if (p.pc) {
    p.pc.onicecandidate = null;
    p.pc.ontrack = null;
    p.pc.onconnectionstatechange = null;
    p.pc.onnegotiationneeded = null;
    p.pc.close();
  }
  p.pc = null;
  p.pending = [];
  unwatchLevel(p.info.peer_id);
}

function createPc(p, callId, caller) {
  closePc(p);
  const pc = new RTCPeerConnection({ iceServers });
  p.pc = pc;
  p.callId = callId;
  p.caller = caller;
  p.everConnected = false;
  p.stream = new MediaStream();
  p.video.srcObject = p.stream;
  const id = p.info.peer_id;
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) send({ type: "signal", to: id, data: { candidate: candidate.toJSON(), call: callId } });
  };
  pc.ontrack = ({ track }) => {
    p.stream.addTrack(track);
    if (track.kind === "audio") watchLevel(p.stream, id);
    if (track.kind === "video") {
      // A peer on sound only sends no frames: its track is muted; show its initial.
      const shown = () => p.tile.classList.toggle("no-video", track.muted);
      track.addEventListener("mute", shown);
      track.addEventListener("unmute", shown);
      shown();
    }
    playMedia(p.video);
  };
  pc.onnegotiationneeded = async () => {
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      send({ type: "signal", to: id, data: { sdp: pc.localDescription.toJSON(), call: callId } });
    } catch (err) {
      console.warn("negotiation", err);
    } finally {
      p.makingOffer = false;
    }
  };
  pc.onconnectionstatechange = () => onPcState(p, pc);
  return pc;
}

function addLocalTracks(pc) {
  const audio = localTrack("audio");
  const video = outgoingVideo();
  if (audio) pc.addTrack(audio, local.stream);
  if (video) {
    const sender = pc.addTrack(video, local.stream);
    if (adapt.applied) applyStep(sender, adapt.applied);
  } else if (pc.signalingState === "stable" && !pc.remoteDescription) {
    // Sound only (or no camera): still see the others, without a renegotiation.
    pc.addTransceiver("video", { direction: "recvonly" });
  }
}

// The newcomer calls (CONTRACT §4): a fresh RTCPeerConnection with a fresh call id, so the
// other side can tell a new call (after a reload or reconnect) from a renegotiation.
function call(info) {
  const p = ensurePeer(info);
  const pc = createPc(p, newCallId(), true);
  setPeerState(p, "connecting");
  addLocalTracks(pc); // fires negotiationneeded -> offer
}

function hangUp(peerId) {
  const p = peers.get(peerId);
  if (!p) return;
  closePc(p);
  p.tile.remove();
  peers.delete(peerId);
  renderCaucusChoices();
  chooseFocus();
}

function onPcState(p, pc) {
  if (p.pc !== pc) return;
  const s = pc.connectionState;
  if (s === "connected") {
    if (!p.everConnected || !p.connectedAt) p.connectedAt = performance.now();
    p.everConnected = true;
    clearTimeout(p.recallTimer);
    clearTimeout(p.restartTimer);
    setPeerState(p, "connected");
  } else if (s === "disconnected" || s === "failed") {
    setPeerState(p, p.everConnected ? "reconnecting" : "connecting");
    // The caller restarts ICE (a new offer with new credentials on the same call);
    // if that does not bring it back, the peer with the smaller id calls again.
    if (p.caller) {
      clearTimeout(p.restartTimer);
      p.restartTimer = setTimeout(() => {
        if (p.pc === pc && pc.connectionState !== "connected") pc.restartIce();
      }, s === "failed" ? 0 : 3000);
    }
    clearTimeout(p.recallTimer);
    p.recallTimer = setTimeout(() => {
      if (p.pc === pc && pc.connectionState !== "connected" && me.peer_id < p.info.peer_id) call(p.info);
    }, 12000);
  } else if (s === "new" || s === "connecting") {
    setPeerState(p, p.everConnected ? "reconnecting" : "connecting");
  }
}

async function onSignal(from, data) {
  if (me.state !== "room") return;
  const p = ensurePeer({ peer_id: from, ...(peers.get(from)?.info || {}) });
  const polite = me.peer_id > from;
  const callId = data.call ?? p.callId ?? "call";
  if (data.sdp) {
    const desc = data.sdp;
    if (desc.type === "offer") {
      if (callId !== p.callId) {
        // A new call. If we are calling them at the same moment, the polite side gives
        // way; otherwise the old call (if any) is over.
        const glare = p.pc && p.caller && p.pc.signalingState === "have-local-offer";
        if (glare && !polite) return;
        createPc(p, callId, false);
        setPeerState(p, "connecting");
      } else if (!p.pc) {
        createPc(p, callId, false);
      } else if (p.makingOffer || p.pc.signalingState !== "stable") {
        if (!polite) return; // perfect negotiation: the impolite side ignores the collision
      }
      const pc = p.pc;
      try {
        await pc.setRemoteDescription(desc);
      } catch (err) {
        // A client without call ids calling again: start over on a fresh connection.
        createPc(p, callId, false);
        await p.pc.setRemoteDescription(desc);
      }
      const cur = p.pc;
      if (!cur.getSenders().some((s) => s.track)) addLocalTracks(cur);
      await cur.setLocalDescription();
      send({ type: "signal", to: from, data: { sdp: cur.localDescription.toJSON(), call: callId } });
      for (const c of p.pending.splice(0)) await cur.addIceCandidate(c).catch(() => {});
    } else if (desc.type === "answer") {
      if (p.pc && callId === p.callId && p.pc.signalingState === "have-local-offer") {
        await p.pc.setRemoteDescription(desc);
        for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c).catch(() => {});
      }
    }
  } else if (data.candidate !== undefined) {
    if (!p.pc || callId !== p.callId) {
      if (!p.pc || !p.callId) p.pending.push(data.candidate);
      return;
    }
    if (!p.pc.remoteDescription) p.pending.push(data.candidate);
    else await p.pc.addIceCandidate(data.candidate).catch(() => {});
  }
}

function enterRoom(list) {
  me.state = "room";
  setStage("room");
  ensureAudioCtx();
  const ids = new Set(list.map((x) => x.peer_id));
  for (const id of [...peers.keys()]) if (!ids.has(id)) hangUp(id);
  for (const info of list) if (info.peer_id !== me.peer_id) call(info);
  updateCaucusBanner();
  renderCaucusChoices();
  openSideOnDesktop();
  startNetworkWatch();
}

function peerJoined(info) {
  if (info.peer_id === me.peer_id) return;
  // Whoever joined calls us; a connection we still hold to that peer id is stale.
  const p = ensurePeer(info);
  closePc(p);
  p.callId = null;
  setPeerState(p, "connecting");
  updateCaucusBanner();
}

// ---------------------------------------------------------------- who is shown large
// On a phone one picture fills the screen: whoever spoke last (held for a few seconds so
// it does not flicker), else the mediator, else the first other person; the rest are
// small pictures above the controls. Alone in the room, you fill it yourself.
const FOCUS_HOLD_MS = 3000;
let focusId = null;

function chooseFocus() {
  const now = performance.now();
  const list = [...peers.values()];
  const current = focusId && peers.get(focusId);
  const speaker = list.filter((p) => p.spokeAt && now - p.spokeAt < FOCUS_HOLD_MS).sort((a, b) => b.spokeAt - a.spokeAt)[0];
  let next;
  if (speaker && (!current || !current.spokeAt || now - current.spokeAt >= FOCUS_HOLD_MS || speaker === current)) next = speaker;
  else if (current && current.spokeAt && now - current.spokeAt < FOCUS_HOLD_MS) next = current;
  else next = list.find((p) => p.info.role === "mediator") || list[0] || null;
  focusId = next ? next.info.peer_id : null;
  for (const p of list) p.tile.classList.toggle("focus", p === next);
  $("#tile-local").classList.toggle("focus", !next);
}

// ---------------------------------------------------------------- playing sound
// Browsers that block autoplay with sound (iOS Safari, WeChat's in-app browser) reject
// play() until the person touches the page: then a button asks for that touch.
const blocked = new Set();

function playMedia(video) {
  const attempt = video.play();
  if (!attempt || !attempt.then) return;
  attempt.then(() => {
    blocked.delete(video);
    if (!blocked.size) $("#audio-unlock").hidden = true;
  }).catch((err) => {
    if (err && err.name === "NotAllowedError") {
      blocked.add(video);
      $("#audio-unlock").hidden = false;
    }
  });
}

$("#audio-unlock").addEventListener("click", () => {
  ensureAudioCtx();
  const videos = [...blocked];
  blocked.clear();
  $("#audio-unlock").hidden = true;
  for (const p of peers.values()) if (!videos.includes(p.video)) videos.push(p.video);
  for (const v of videos) playMedia(v);
});

// ---------------------------------------------------------------- poor networks
// Every few seconds the room reads getStats of each call, takes the worst, and lets
// netadapt.js decide: a smaller picture and a lower bitrate for the video it sends,
// an offer of sound only when the network is poor, and sound only by itself when even
// the lowest step cannot be kept. People read the quality in words; staff also see the
// figures.
const NET_EVERY_MS = 3000;
const SETTLE_MS = 8000;
const adapt = { state: netadapt.initialState(), applied: null, last: null, timer: null, reports: new Map() };
const GRADE_WORDS = { good: () => gettext("Network: good"), fair: () => gettext("Network: fair"), poor: () => gettext("Network: poor") };

function applyStep(sender, step) {
  if (!sender || !sender.getParameters) return;
  const params = sender.getParameters();
  params.encodings = netadapt.encodingsFor(params.encodings, step);
  sender.setParameters(params).catch(() => {});
}

function videoSenders() {
  const out = [];
  for (const p of peers.values()) {
    if (!p.pc) continue;
    for (const sender of p.pc.getSenders()) if (sender.track && sender.track.kind === "video") out.push(sender);
  }
  return out;
}

function figuresText(sample) {
  const parts = [];
  if (typeof sample.rttMs === "number") parts.push(`${Math.round(sample.rttMs)} ms`);
  if (typeof sample.lossPct === "number") parts.push(`${sample.lossPct.toFixed(1)} %`);
  if (typeof sample.availableKbps === "number") parts.push(`${Math.round(sample.availableKbps)} kbit/s`);
  return parts.join(" · ");
}

function showQuality(target, grade, sample) {
  target.hidden = false;
  target.dataset.grade = grade;
  const words = GRADE_WORDS[grade]();
  target.textContent = cfg.staff && sample ? `${words} (${figuresText(sample)})` : words;
}

function showNetBanner(text, { offer = false, again = false } = {}) {
  $("#net-banner").hidden = !text;
  $("#net-banner-words").textContent = text || "";
  $("#net-audio-only").hidden = !offer;
  $("#net-video-again").hidden = !again;
}

async function networkTick() {
  if (me.state !== "room") return;
  const samples = [];
  for (const [id, p] of peers) {
    // A new call's bandwidth estimate starts low and ramps up for some seconds: it is not
    // read as a weak network until the call has settled.
    if (!p.pc || p.pc.connectionState !== "connected" || performance.now() - (p.connectedAt || performance.now()) < SETTLE_MS) continue;
    const report = [];
    (await p.pc.getStats()).forEach((st) => report.push(st));
    const previous = adapt.reports.get(id);
    adapt.reports.set(id, report);
    if (!previous) continue;
    const sample = netadapt.sampleFrom(previous, report);
    // Sending sound only, the sender does not probe for more bandwidth: its estimate
    // says nothing about whether video would fit.
    if (!p.pc.getSenders().some((x) => x.track && x.track.kind === "video")) sample.availableKbps = null;
    samples.push(sample);
    // Each call's own quality is for the mediator and staff (who is on a weak line);
    // a party sees one word for its own connection.
    if (cfg.staff) showQuality(p.tile.querySelector(".quality"), netadapt.grade(sample), sample);
  }
  if (samples.length) await applyNetworkSample(netadapt.worst(samples));
}

// One reading of the network (the worst of the calls) decides and is applied.
async function applyNetworkSample(sample) {
  const wasAudioOnly = adapt.state.audioOnly;
  const out = netadapt.decide(adapt.state, sample);
  adapt.state = out.state;
  adapt.last = { ...out, sample };
  showQuality($("#net-indicator"), out.grade, sample);
  if (out.changed || !adapt.applied) {
    adapt.applied = { maxBitrate: out.maxBitrate, scaleResolutionDownBy: out.scaleResolutionDownBy };
    for (const sender of videoSenders()) applyStep(sender, adapt.applied);
  }
  if (out.fellBack && !wasAudioOnly && !local.audioOnly) {
    await setAudioOnly(true);
    showNetBanner(gettext("Your network cannot carry video now: the room switched to sound only. The others still hear you."), { again: true });
  } else if (!local.audioOnly) {
    showNetBanner(out.offerAudioOnly ? gettext("Your network is poor. Sound only keeps the conversation clear.") : "", { offer: out.offerAudioOnly });
  }
}

function startNetworkWatch() {
  if (adapt.timer) return;
  adapt.timer = setInterval(() => networkTick().catch((err) => console.warn("network", err)), NET_EVERY_MS);
}

// Sound only: the camera's track is no longer sent (the senders send nothing) and the
// camera is released; back to video, it is opened again and sent at a low step first.
async function setAudioOnly(on) {
  local.audioOnly = on;
  adapt.state = { ...netadapt.initialState(), audioOnly: on, level: on ? adapt.state.level : netadapt.LADDER.length - 2 };
  adapt.applied = on ? adapt.applied : { ...netadapt.LADDER[adapt.state.level] };
  if (on) {
    const cam = localTrack("video");
    if (cam) {
      local.stream.removeTrack(cam);
      cam.stop();
    }
    await setOutgoingVideo(null);
  } else {
    if (!localTrack("video")) await openDevice("video", selectedDevice("video")).catch(() => toast(gettext("We cannot use your camera. You can still join with sound only.")));
    await setOutgoingVideo(outgoingVideo());
    for (const sender of videoSenders()) applyStep(sender, adapt.applied);
  }
  showLocal();
  local.videoOn = !on && Boolean(localTrack("video"));
  setToggle($("#cam-toggle"), !local.videoOn, local.videoOn ? gettext("Camera off") : gettext("Camera on"));
}

$("#net-audio-only").addEventListener("click", async () => {
  await setAudioOnly(true);
  showNetBanner(gettext("Sound only: you send no video now."), { again: true });
});
$("#net-video-again").addEventListener("click", async () => {
  await setAudioOnly(false);
  showNetBanner("");
});

// ---------------------------------------------------------------- caucus
// The caucus as the server last said it (`welcome`, `admitted`, `caucus`): whether one is
// on and, when the server says so, on which side of it this client is. `peer-joined` and
// `peer-left` never change it. The banner is worked out from this and from who is
// visible now, at every message, never from what this client saw earlier: a party who
// comes back before the mediator, with no caucus on, is not told one is.
const room = { caucus: false, side: null };

function setCaucus(active, side) {
  if (typeof active === "boolean") room.caucus = active;
  room.side = side === "caucus" || side === "apart" || side === "all" ? side : null;
}

function onCaucus(list, callList, active, side) {
  setCaucus(active, side);
  const ids = new Set(list.map((x) => x.peer_id).filter((id) => id !== me.peer_id));
  for (const id of [...peers.keys()]) if (!ids.has(id)) hangUp(id);
  // Peers that appear: both sides see the other as new. The server may say whom to call
  // (`call`); otherwise the smaller peer id calls and the other waits for the offer
  // (perfect negotiation settles a collision either way).
  const mustCall = Array.isArray(callList) ? new Set(callList) : null;
  for (const info of list) {
    if (info.peer_id === me.peer_id || peers.has(info.peer_id)) continue;
    if (mustCall ? mustCall.has(info.peer_id) : me.peer_id < info.peer_id) call(info);
    else setPeerState(ensurePeer(info), "connecting");
  }
  updateCaucusBanner();
  renderCaucusChoices();
}

// What the banner says, from the server's caucus state and who is visible: a pure
// function of its arguments (window.odrRoom.caucusBanner shows the result to tests).
function caucusBannerFor(role, caucus, side, visible) {
  if (role === "mediator") {
    if (!caucus) return null;
    return {
      kind: "caucus",
      text: fmt(gettext("Private caucus with %(names)s. The others wait apart and cannot see or hear you."), {
        names: visible.map((x) => x.name).join("、") || "—",
      }),
    };
  }
  const mediatorHere = visible.some((x) => x.role === "mediator");
  if (!caucus) {
    if (mediatorHere) return null;
    return { kind: "waiting", text: gettext("The mediator is not in the room at the moment. Please wait here.") };
  }
  // Without the server's `side`: the mediator is with those in the caucus.
  const mySide = side || (mediatorHere ? "caucus" : "apart");
  if (mySide === "apart") {
    return { kind: "apart", text: gettext("The mediator is talking privately with the other side. Please wait; you will be back in the room soon.") };
  }
  return { kind: "caucus", text: gettext("You are in a private caucus with the mediator. The other side cannot see or hear you.") };
}

function updateCaucusBanner() {
  const banner = $("#caucus-banner");
  const visible = [...peers.values()].map((p) => p.info);
  const shown = me.state === "room" ? caucusBannerFor(me.role, room.caucus, room.side, visible) : null;
  banner.hidden = !shown;
  banner.className = shown && shown.kind !== "caucus" ? "banner apart" : "banner";
  banner.dataset.kind = shown ? shown.kind : "";
  banner.textContent = shown ? shown.text : "";
  if (me.role === "mediator") {
    $("#caucus-end") && ($("#caucus-end").hidden = !room.caucus);
    $("#caucus-start") && ($("#caucus-start").textContent = room.caucus ? gettext("Change caucus") : gettext("Start caucus"));
  }
}

function renderCaucusChoices() {
  const list = $("#caucus-list");
  if (!list) return;
  // Rebuilt whenever a peer's details arrive (every signal): keep what the mediator ticked,
  // and do not touch the list when nothing in it changed.
  const ticked = new Set([...list.querySelectorAll("input:checked")].map((x) => x.value));
  const key = [...peers.values()].map((p) => `${p.info.peer_id}:${p.info.name || ""}:${p.info.role || ""}`).join("|");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren();
  for (const p of peers.values()) {
    const box = el("input", { type: "checkbox", value: p.info.peer_id, "aria-label": p.info.name || "", checked: ticked.has(p.info.peer_id) ? "" : null });
    list.append(el("li", {}, el("label", { class: "check who" }, box, el("span", {}, `${p.info.name || gettext("Participant")} · ${roleWord(p.info.role)}`))));
  }
}

if (cfg.isMediator) {
  $("#caucus-start").addEventListener("click", () => {
    const ids = [...document.querySelectorAll("#caucus-list input:checked")].map((x) => x.value);
    if (!ids.length) {
      toast(gettext("Choose who stays with you in the caucus."));
      return;
    }
    send({ type: "caucus", peer_ids: ids });
  });
  $("#caucus-end").addEventListener("click", () => {
    send({ type: "caucus_end" });
  });
}

// ---------------------------------------------------------------- lobby (mediator)
function addLobby(peer) {
  const list = $("#lobby-list");
  if (!list || list.querySelector(`[data-peer-id="${peer.peer_id}"]`)) return;
  list.append(el("li", { "data-peer-id": peer.peer_id },
    el("span", { class: "who" }, `${peer.name} · ${roleWord(peer.role)}`),
    el("button", { type: "button", class: "btn-primary admit", onclick: () => send({ type: "admit", peer_id: peer.peer_id }) }, gettext("Admit")),
    el("button", { type: "button", class: "btn remove", onclick: () => { send({ type: "remove", peer_id: peer.peer_id }); removeLobby(peer.peer_id); } }, gettext("Remove"))));
  $("#lobby-empty").hidden = true;
  $("#side").hidden = false;
  $("#side-toggle").setAttribute("aria-pressed", "true");
  toast(fmt(gettext("%(name)s is waiting in the lobby."), { name: peer.name }));
}

function syncLobby(list) {
  const ids = new Set(list.map((p) => p.peer_id));
  for (const item of [...($("#lobby-list")?.children || [])]) if (!ids.has(item.dataset.peerId)) item.remove();
  for (const p of list) addLobby(p);
  if ($("#lobby-list")) $("#lobby-empty").hidden = $("#lobby-list").children.length > 0;
}

function removeLobby(peerId) {
  const item = $("#lobby-list")?.querySelector(`[data-peer-id="${peerId}"]`);
  if (item) item.remove();
  if ($("#lobby-list") && !$("#lobby-list").children.length) $("#lobby-empty").hidden = false;
}

// ---------------------------------------------------------------- chat
function addChat(msg) {
  const at = msg.at ? new Date(msg.at) : new Date();
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const log = $("#chat-log");
  log.append(el("li", {}, el("span", { class: "who" }, msg.from === me.peer_id ? gettext("You") : msg.name || ""),
    el("span", { class: "text" }, msg.text), el("time", { datetime: at.toISOString() }, time)));
  log.scrollTop = log.scrollHeight;
  if ($("#side").hidden) $("#side-dot").hidden = false;
}

$("#chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text) return;
  if (send({ type: "chat", text })) input.value = "";
  else toast(gettext("Not connected. Your message was not sent."));
});

function openSideOnDesktop() {
  if (window.matchMedia("(min-width: 800px)").matches) {
    $("#side").hidden = false;
    $("#side-toggle").setAttribute("aria-pressed", "true");
  }
}

$("#side-toggle").addEventListener("click", () => {
  const side = $("#side");
  side.hidden = !side.hidden;
  $("#side-toggle").setAttribute("aria-pressed", String(!side.hidden));
  if (!side.hidden) $("#side-dot").hidden = true;
});

// ---------------------------------------------------------------- controls
function setToggle(btn, pressed, label) {
  btn.setAttribute("aria-pressed", String(pressed));
  btn.querySelector(".lbl").textContent = label;
}

$("#mic-toggle").addEventListener("click", () => {
  local.audioOn = !local.audioOn;
  const track = localTrack("audio");
  if (track) track.enabled = local.audioOn;
  setToggle($("#mic-toggle"), !local.audioOn, local.audioOn ? gettext("Mute") : gettext("Unmute"));
});

$("#cam-toggle").addEventListener("click", async () => {
  if (local.audioOnly) {
    // Sound only was chosen (or forced by the network): the camera comes back.
    await setAudioOnly(false);
    showNetBanner("");
    return;
  }
  local.videoOn = !local.videoOn;
  const track = localTrack("video");
  if (track) track.enabled = local.videoOn;
  setToggle($("#cam-toggle"), !local.videoOn, local.videoOn ? gettext("Camera off") : gettext("Camera on"));
});

async function setOutgoingVideo(track) {
  for (const p of peers.values()) {
    if (!p.pc) continue;
    const tr = p.pc.getTransceivers().find((x) => x.receiver.track.kind === "video" && x.currentDirection !== "stopped");
    if (tr) {
      await tr.sender.replaceTrack(track).catch(() => {});
      // A peer that joined without a camera only received video: now it sends (renegotiates).
      if (track && tr.direction === "recvonly") tr.direction = "sendrecv";
    } else if (track) {
      p.pc.addTrack(track, local.stream); // renegotiates (perfect negotiation)
    }
  }
}

async function stopShare() {
  if (!local.screen) return;
  local.screen.onended = null;
  local.screen.stop();
  local.screen = null;
  await setOutgoingVideo(localTrack("video") || null);
  showLocal();
  $("#tile-local").classList.remove("screen");
  setToggle($("#share-toggle"), false, gettext("Share screen"));
}

$("#share-toggle").addEventListener("click", async () => {
  if (local.screen) {
    await stopShare();
    return;
  }
  if (!navigator.mediaDevices?.getDisplayMedia) {
    toast(gettext("This device cannot share its screen."));
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    local.screen = stream.getVideoTracks()[0];
    local.screen.onended = () => stopShare();
    await setOutgoingVideo(local.screen);
    showLocal();
    $("#tile-local").classList.add("screen");
    setToggle($("#share-toggle"), true, gettext("Stop sharing"));
  } catch {
    toast(gettext("Screen sharing was cancelled."));
  }
});

if (cfg.isMediator) {
  $("#end-session").addEventListener("click", () => ($("#end-confirm").hidden = false));
  $("#end-confirm-no").addEventListener("click", () => ($("#end-confirm").hidden = true));
  $("#end-confirm-yes").addEventListener("click", async () => {
    $("#end-confirm").hidden = true;
    if (recording.active) await api("POST", "/recording/stop").catch(() => {});
    if (!send({ type: "end" })) toast(gettext("Not connected. Try again in a moment."));
  });
} else {
  $("#leave").addEventListener("click", () => finish("left"));
}
$("#rejoin").addEventListener("click", () => location.reload());

function finish(why) {
  finished = true;
  clearTimeout(wsTimer);
  stopRecorderPc();
  for (const id of [...peers.keys()]) hangUp(id);
  for (const tr of local.stream.getTracks()) tr.stop();
  if (local.screen) local.screen.stop();
  if (ws) ws.close(1000);
  me.state = why;
  setRecordingIndicator(false);
  clearInterval(adapt.timer);
  adapt.timer = null;
  $("#net-indicator").hidden = true;
  $("#audio-unlock").hidden = true;
  showNetBanner("");
  if (why === "superseded") {
    $("#ended-title").textContent = gettext("You joined from another window");
    $("#ended-words").textContent = gettext("This window has left the room; carry on in the other one.");
  } else if (why === "removed") {
    $("#ended-title").textContent = gettext("You are no longer in this room");
    $("#ended-words").textContent = gettext("The mediator removed you from the session, or the session is over.");
  }
  setStage(why === "left" ? "left" : "ended");
}

// ---------------------------------------------------------------- recording
// When a recording runs, every client in the room sends its own microphone (and camera)
// to the server's recorder over one extra peer connection (sessions/media/recording.py).
const recording = { active: false };
const recorder = { pc: null, starting: false };

function setRecordingIndicator(active) {
  $("#rec-indicator").hidden = !active;
  const btn = $("#rec-toggle");
  if (btn) setToggle(btn, active, active ? gettext("Stop recording") : gettext("Record"));
}

function setRecording(active) {
  recording.active = active;
  setRecordingIndicator(active);
  if (active && me.state === "room") startRecorderPc();
  else if (!active) stopRecorderPc();
}

async function syncRecording() {
  try {
    const state = await api("GET", "/recording");
    setRecording(state.active);
  } catch {
    // the broadcast will tell us
  }
}

async function startRecorderPc(attempt = 0) {
  if (recorder.pc || recorder.starting || !consent.recording) return;
  recorder.starting = true;
  let retry = false;
  try {
    const pc = new RTCPeerConnection();
    recorder.pc = pc;
    pc.onconnectionstatechange = () => {
      if (recorder.pc === pc && pc.connectionState === "failed") {
        stopRecorderPc();
        if (recording.active) setTimeout(() => startRecorderPc(), 2000);
      }
    };
    const audio = localTrack("audio");
    if (audio) pc.addTransceiver(audio, { direction: "sendonly" });
    const video = outgoingVideo();
    if (video) pc.addTransceiver(video, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    await iceDone(pc, 3000);
    const answer = await api("POST", "/recording/offer", { sdp: pc.localDescription.sdp, type: "offer" });
    if (recorder.pc === pc) await pc.setRemoteDescription(answer);
  } catch (err) {
    stopRecorderPc();
    // The recorder may still be starting (or restarting): try again a few times.
    retry = recording.active && attempt < 5;
    if (!retry) toast(err.message);
  } finally {
    recorder.starting = false;
  }
  if (retry) setTimeout(() => recording.active && startRecorderPc(attempt + 1), 1000 * (attempt + 1));
}

function stopRecorderPc() {
  if (recorder.pc) recorder.pc.close();
  recorder.pc = null;
}

if ($("#rec-toggle")) {
  $("#rec-toggle").addEventListener("click", async () => {
    try {
      const state = await api("POST", recording.active ? "/recording/stop" : "/recording/start");
      setRecording(state.active);
    } catch (err) {
      toast(err.message);
    }
  });
}

// ---------------------------------------------------------------- join
const consent = { online: cfg.consentedOnline, recording: cfg.consentedRecording };

$("#join").addEventListener("click", async () => {
  ensureAudioCtx();
  if (!$("#consent-online").checked) {
    toast(gettext("Please tick the box to agree to online mediation first."));
    $("#consent-online").focus();
    return;
  }
  const join = $("#join");
  join.disabled = true;
  try {
    const rec = $("#consent-recording");
    await api("POST", "/consent", { online: true, recording: Boolean(rec && rec.checked) });
    consent.online = true;
    consent.recording = Boolean(rec && rec.checked);
    if ($("#audio-only").checked) {
      await setAudioOnly(true);
      showNetBanner(gettext("Sound only: you send no video now."), { again: true });
    }
    setStage(cfg.isMediator ? "room" : "lobby");
    me.state = cfg.isMediator ? "room" : "lobby";
    if (cfg.isMediator) openSideOnDesktop();
    connect();
  } catch (err) {
    toast(err.message);
  } finally {
    join.disabled = false;
  }
});

// ---------------------------------------------------------------- for tests and tools
window.odrRoom = {
  get state() {
    return me.state;
  },
  get me() {
    return { ...me };
  },
  get peers() {
    return [...peers.values()].map((p) => ({ ...p.info, state: p.state, call: p.callId, pc: p.pc?.connectionState || null }));
  },
  get local() {
    return { audio: localTrack("audio")?.enabled ?? null, video: localTrack("video")?.enabled ?? null, screen: Boolean(local.screen) };
  },
  recording,
  selfTest: null,
  get caucusBanner() {
    const b = $("#caucus-banner");
    return b.hidden ? null : { kind: b.dataset.kind, text: b.textContent };
  },
  get network() {
    return { ...adapt.last, audioOnly: local.audioOnly };
  },
  // What this client sends on each call: the kinds of the senders' tracks and the
  // outbound-rtp bytes per kind (tests of sound-only joins).
  async sending() {
    const out = {};
    for (const [id, p] of peers) {
      const kinds = p.pc ? p.pc.getSenders().filter((x) => x.track).map((x) => x.track.kind) : [];
      const bytes = { audio: 0, video: 0 };
      if (p.pc) (await p.pc.getStats()).forEach((st) => {
        if (st.type === "outbound-rtp") bytes[st.kind] += st.bytesSent || 0;
      });
      out[id] = { kinds, bytes };
    }
    return out;
  },
  // The encodings of the video this client sends (maxBitrate, scaleResolutionDownBy).
  videoEncodings() {
    return videoSenders().map((x) => x.getParameters().encodings.map((e) => ({ maxBitrate: e.maxBitrate, scaleResolutionDownBy: e.scaleResolutionDownBy })));
  },
  // Runs one round of the network watch now (tests; the room runs it every few seconds).
  networkTick,
  // Applies one reading as if getStats had given it (tests of the fall-back to sound).
  applyNetworkSample,
  // Drops the signaling socket as a network failure would (tests of the reconnect).
  dropConnection() {
    if (ws) ws.close();
  },
  // What this client sends to the server's recorder (tests and support staff).
  async recorderStats() {
    const out = { connected: recorder.pc?.connectionState === "connected", audioBytesSent: 0, videoBytesSent: 0 };
    if (!recorder.pc) return out;
    (await recorder.pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp") out[`${s.kind}BytesSent`] += s.bytesSent || 0;
    });
    return out;
  },
  // inbound-rtp video framesDecoded per peer, from getStats (tests count frames).
  async framesDecoded() {
    const out = {};
    for (const [id, p] of peers) {
      out[id] = 0;
      if (!p.pc) continue;
      const stats = await p.pc.getStats();
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") out[id] += s.framesDecoded || 0;
      });
    }
    return out;
  },
};

// Phones cannot share their screen: do not offer it.
if (!navigator.mediaDevices?.getDisplayMedia) $("#share-toggle").hidden = true;
// Browsers start audio only after a gesture: the level meter wakes on the first touch.
document.addEventListener("pointerdown", ensureAudioCtx, { once: true });

if (cfg.over) {
  setStage("ended");
} else {
  openMedia().then(runSelfTest);
}
