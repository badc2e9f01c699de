// How the room adapts to the network (issue 13, point 4). A pure module: no DOM, no
// RTCPeerConnection; room.js feeds it getStats() reports as plain arrays of stat objects
// and applies what it decides (RTCRtpSender.setParameters, stopping the camera's track).
// Tests import it in a page and feed it fabricated stats.

// The steps down for the video we send: bitrate cap and how much smaller the picture is
// than the camera's 640x480. A step down happens at once; a step up only after the
// network has been good for UP_AFTER samples in a row, so the picture does not flap.
export const LADDER = Object.freeze([
  Object.freeze({ maxBitrate: 900_000, scaleResolutionDownBy: 1 }),
  Object.freeze({ maxBitrate: 450_000, scaleResolutionDownBy: 1.5 }),
  Object.freeze({ maxBitrate: 220_000, scaleResolutionDownBy: 2 }),
  Object.freeze({ maxBitrate: 120_000, scaleResolutionDownBy: 4 }),
]);
export const UP_AFTER = 3;
// At the lowest step, this many poor samples in a row and video is given up for sound.
export const AUDIO_ONLY_AFTER = 3;
// Below this (kbit/s) even the lowest video step does not fit beside the sound.
export const VIDEO_FLOOR_KBPS = 100;

// In a call (unlike the pre-join check, which measures the line's capacity) the
// available bitrate is the sender's estimate, which ramps up from a few hundred kbit/s.
const GOOD = { rttMs: 200, lossPct: 2, availableKbps: 500 };
const FAIR = { rttMs: 450, lossPct: 8, availableKbps: 150 };

function byId(report) {
  const map = new Map();
  for (const s of report || []) map.set(s.id, s);
  return map;
}

// One sample from two getStats reports of the same RTCPeerConnection, taken a few seconds
// apart: packet loss (%) both ways over the interval, the round trip (ms) and the sender's
// available outgoing bitrate (kbit/s). A figure the reports do not give is null.
export function sampleFrom(previous, current) {
  const before = byId(previous);
  let rttMs = null;
  let availableKbps = null;
  let lost = 0;
  let expected = 0;
  let outLossPct = null;
  for (const s of current || []) {
    if (s.type === "candidate-pair" && (s.nominated || s.selected) && s.state === "succeeded") {
      if (typeof s.currentRoundTripTime === "number") rttMs = s.currentRoundTripTime * 1000;
      if (typeof s.availableOutgoingBitrate === "number") availableKbps = s.availableOutgoingBitrate / 1000;
    } else if (s.type === "inbound-rtp") {
      const old = before.get(s.id) || { packetsLost: 0, packetsReceived: 0 };
      const dLost = Math.max(0, (s.packetsLost || 0) - (old.packetsLost || 0));
      const dGot = Math.max(0, (s.packetsReceived || 0) - (old.packetsReceived || 0));
      lost += dLost;
      expected += dLost + dGot;
    } else if (s.type === "remote-inbound-rtp") {
      // What the other side reports of what we send: the fraction lost since its last report.
      if (typeof s.fractionLost === "number") outLossPct = Math.max(outLossPct ?? 0, s.fractionLost * 100);
      if (rttMs === null && typeof s.roundTripTime === "number") rttMs = s.roundTripTime * 1000;
    }
  }
  const inLossPct = expected > 0 ? (100 * lost) / expected : null;
  const losses = [inLossPct, outLossPct].filter((x) => x !== null);
  return { lossPct: losses.length ? Math.max(...losses) : null, rttMs, availableKbps };
}

// The worst of several samples (one per peer): the video we send goes to all of them.
export function worst(samples) {
  const pick = (key, fn) => {
    const vals = samples.map((s) => s[key]).filter((x) => typeof x === "number");
    return vals.length ? fn(...vals) : null;
  };
  return { lossPct: pick("lossPct", Math.max), rttMs: pick("rttMs", Math.max), availableKbps: pick("availableKbps", Math.min) };
}

function meets(sample, t) {
  return (sample.rttMs ?? 0) <= t.rttMs && (sample.lossPct ?? 0) <= t.lossPct
    && (sample.availableKbps ?? Infinity) >= t.availableKbps;
}

// "good" | "fair" | "poor": what people are told, in words (良好/一般/较差).
export function grade(sample) {
  if (meets(sample, GOOD)) return "good";
  if (meets(sample, FAIR)) return "fair";
  return "poor";
}

export function initialState() {
  return { level: 0, goodRun: 0, poorRun: 0, audioOnly: false };
}

// The highest step whose cap fits in the available bitrate (leaving room for sound).
function levelForBitrate(kbps) {
  if (typeof kbps !== "number") return 0;
  for (let i = 0; i < LADDER.length; i += 1) {
    if (LADDER[i].maxBitrate / 1000 + 40 <= kbps) return i;
  }
  return LADDER.length - 1;
}

// The next state from the previous one and a sample. Returns the new state with what to
// apply: {level, maxBitrate, scaleResolutionDownBy, audioOnly, offerAudioOnly, grade,
// changed, fellBack}. `fellBack` is true on the one sample where video was given up.
export function decide(state, sample) {
  const g = grade(sample);
  let { level, goodRun, poorRun, audioOnly } = state;
  const before = { level, audioOnly };
  let target = levelForBitrate(sample.availableKbps);
  if ((sample.lossPct ?? 0) > FAIR.lossPct || (sample.rttMs ?? 0) > FAIR.rttMs) target = Math.max(target, level + 1);
  else if ((sample.lossPct ?? 0) > GOOD.lossPct) target = Math.max(target, level);
  target = Math.min(target, LADDER.length - 1);
  if (target > level) {
    level = target; // down at once
    goodRun = 0;
  } else if (target < level) {
    goodRun += 1;
    if (goodRun >= UP_AFTER) {
      level -= 1; // up one step at a time
      goodRun = 0;
    }
  } else {
    goodRun = 0;
  }
  const cannotKeepVideo = level === LADDER.length - 1 && (g === "poor"
    || (typeof sample.availableKbps === "number" && sample.availableKbps < VIDEO_FLOOR_KBPS));
  poorRun = cannotKeepVideo ? poorRun + 1 : 0;
  let fellBack = false;
  if (!audioOnly && poorRun >= AUDIO_ONLY_AFTER) {
    audioOnly = true;
    fellBack = true;
  }
  const next = { level, goodRun, poorRun, audioOnly };
  return {
    state: next,
    level,
    maxBitrate: LADDER[level].maxBitrate,
    scaleResolutionDownBy: LADDER[level].scaleResolutionDownBy,
    audioOnly,
    offerAudioOnly: !audioOnly && g === "poor",
    grade: g,
    changed: level !== before.level || audioOnly !== before.audioOnly,
    fellBack,
  };
}

// Apply a step to the encodings of a video sender (keeps whatever else they hold).
export function encodingsFor(encodings, step) {
  const list = encodings && encodings.length ? encodings : [{}];
  return list.map((e) => ({ ...e, maxBitrate: step.maxBitrate, scaleResolutionDownBy: step.scaleResolutionDownBy }));
}
