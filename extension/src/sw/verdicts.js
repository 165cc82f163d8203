// Verdict keys: which judged navigation a response is checked against (per frame, per
// origin, per worker), persisted in chrome.storage.session; and the Python calls that
// check against a verdict, re-judging from the stored inputs after a restart (fail closed).

import * as py from "../python.js";
import { state, keys, getSession, setSession } from "./state.js";
import { nowSeconds } from "./util.js";
import { expandInputs } from "./storage.js";

const { keyByFrame, verdictByKey, keyByOrigin, workerByTarget, workerBySession } = state.session;

export async function setFrameKey(tabId, frameId, key, isMain) {
  keyByFrame.set(frameId, key);
  if (tabId !== undefined) state.worker.tabByFrame.set(frameId, tabId);
  const entries = { [keys.session.frame(tabId, frameId)]: key };
  if (isMain) entries[keys.session.top(tabId)] = key;
  await setSession(entries);
}

export async function frameKey(tabId, frameId) {
  let f = frameId;
  for (let depth = 0; f && depth < 16; depth++) {
    if (keyByFrame.has(f)) return keyByFrame.get(f);
    const stored = await getSession(keys.session.frame(tabId, f));
    if (stored) {
      keyByFrame.set(f, stored);
      return stored;
    }
    f = state.worker.parentByFrame.get(f);
  }
  const top = await getSession(keys.session.top(tabId));
  return top || null;
}

// Parent frames come from Page.frameAttached events (Page.getFrameTree would wait for the
// paused navigation). Unknown after a restart: frameKey() then falls back to the tab's top.
export function parentOf(frameId) {
  return state.worker.parentByFrame.get(frameId) || null;
}

export async function summary(key) {
  if (verdictByKey.has(key)) return verdictByKey.get(key);
  const stored = await getSession(keys.session.verdict(key));
  if (stored) verdictByKey.set(key, stored);
  return stored || null;
}

// The verdict key of an origin's latest navigation (workers are judged against it).
export async function setOriginKey(origin, key) {
  keyByOrigin.set(origin, key);
  await setSession({ [keys.session.originKey(origin)]: key });
}

// "none": the origin is not WAICT's business; "no_verdict": it is (a live ratchet state)
// but nothing was judged for it in this browser session: fail closed.
export async function originKey(origin) {
  if (keyByOrigin.has(origin)) return keyByOrigin.get(origin);
  const stored = await getSession(keys.session.originKey(origin));
  if (stored) {
    keyByOrigin.set(origin, stored);
    return stored;
  }
  const stateKey = keys.local.origin(origin);
  const originState = (await chrome.storage.local.get(stateKey))[stateKey];
  return originState && originState.expiry > nowSeconds() ? "no_verdict" : "none";
}

export async function rememberWorker(targetId, url, kind) {
  let origin = null;
  try {
    origin = new URL(url).origin;
  } catch (e) {
    origin = null;
  }
  const w = { origin, kind, url, targetId };
  workerByTarget.set(targetId, w);
  await setSession({ [keys.session.worker(targetId)]: w });
  return w;
}

export async function workerOf(id) {
  if (!id) return null;
  if (workerByTarget.has(id)) return workerByTarget.get(id);
  if (keyByFrame.has(id)) return null;
  const stored = await getSession(keys.session.worker(id));
  if (stored) workerByTarget.set(id, stored);
  return stored || null;
}

export async function rememberWorkerSession(sessionId, w) {
  workerBySession.set(sessionId, w);
  await setSession({ [keys.session.workerSession(sessionId)]: w });
}

export async function workerOfSession(sessionId) {
  if (!sessionId) return null;
  if (workerBySession.has(sessionId)) return workerBySession.get(sessionId);
  const stored = await getSession(keys.session.workerSession(sessionId));
  if (stored) workerBySession.set(sessionId, stored);
  return stored || null;
}

// The verdict key a response is checked against: a worker's origin's, else its frame's.
export async function keyForResponse(src, p) {
  const w = await workerOf(src.targetId || p.frameId);
  if (w) return w.origin && /^https?:/.test(w.origin) ? originKey(w.origin) : "none";
  return frameKey(src.tabId, p.frameId);
}

// ---------------------------------------------------------------------------------------
// Python calls with fail-closed re-judging after a restart
// ---------------------------------------------------------------------------------------

export async function rejudge(key) {
  const inputs = await expandInputs(await getSession(keys.session.inputs(key)));
  if (!inputs) return false;
  const out = await py.call("judge_navigation", inputs);
  state.worker.stats.rejudged++;
  return !out.error && out.key === key;
}

export async function checkResource(key, url, destination, body) {
  const req = { key, url, destination, body };
  let out = await py.call("check_resource", req);
  if (out.error === "unknown_key" && (await rejudge(key))) {
    out = await py.call("check_resource", req);
  }
  if (out.error) return { allowed: false, reason: "internal_error", detail: out.error, enforcing: true };
  return out;
}

// The verified-manifest view of a verdict key (re-judged after a restart when needed).
export async function manifestView(key, url) {
  let out = await py.call("manifest_view", { key, url });
  if (out.error === "unknown_key" && (await rejudge(key))) out = await py.call("manifest_view", { key, url });
  return out;
}
