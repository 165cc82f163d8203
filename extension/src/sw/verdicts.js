// Verdict keys: which judged navigation a response is checked against (per frame, per
// origin, per worker), persisted in chrome.storage.session; and the Python calls that
// check against a verdict, re-judging from the stored inputs after a restart (fail closed).

import * as py from "../python.js";
import { state, keys, log, getSession, setSession } from "./state.js";
import { nowSeconds, b64ToBytes, bytesToB64 } from "./util.js";
import { expandInputs } from "./storage.js";

const { keyByFrame, verdictByKey, keyByOrigin, workerByTarget, workerBySession } = state.session;

// loaderId: the judged document's (a frame keeps its id across navigations; a document
// restored from the back/forward cache gets its own verdict back by its loader id).
export async function setFrameKey(tabId, frameId, key, isMain, loaderId = null) {
  keyByFrame.set(frameId, key);
  if (tabId !== undefined) state.worker.tabByFrame.set(frameId, tabId);
  if (loaderId) {
    state.worker.keyByLoader.set(loaderId, key);
    if (state.worker.keyByLoader.size > 2000) state.worker.keyByLoader.delete(state.worker.keyByLoader.keys().next().value);
  }
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

// Page.frameNavigated: a document restored from the back/forward cache (no network
// response, so never judged again) takes back its own verdict: its frame's key was
// overwritten by the navigations since. Set synchronously, before the restored page's
// next paused response is handled. Returns false when the document's verdict is unknown
// (this worker restarted since): the caller reloads the tab, so it is judged afresh.
export function restoreFrameKey(tabId, frame) {
  const key = state.worker.keyByLoader.get(frame.loaderId);
  // unknown, or its verdict swept since (sw/storage.js): the caller reloads the tab
  if (key === undefined || (key !== "none" && !verdictByKey.has(key))) {
    keyByFrame.set(frame.id, "no_verdict"); // fail closed until the reload judged it
    return false;
  }
  // (in memory at once; if persisting fails, a later instance finds no key: fails closed)
  setFrameKey(tabId, frame.id, key, !frame.parentId).catch((e) => log("restored frame key not stored", String(e)));
  return true;
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

// tabId: a dedicated worker's tab (its entry lives as long as the tab: sw/storage.js)
export async function rememberWorker(targetId, url, kind, tabId = null) {
  let origin = null;
  try {
    origin = new URL(url).origin;
  } catch (e) {
    origin = null;
  }
  const w = { origin, kind, url, targetId, ...(tabId !== null && tabId !== undefined ? { tabId } : {}) };
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

// The verdict key a response is checked against: a worker's origin's (the worker known by
// its target or by the session it was paused in), else its frame's.
export async function keyForResponse(src, p) {
  const w = (await workerOfSession(src.sessionId)) || (await workerOf(src.targetId || p.frameId));
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

// `body`: the bytes (cdp.responseBytes) or standard base64. Python gets their SHA-256, not
// the body (the rule is Python's: it asks for the body only when the digest cannot decide).
// requestUrl: the URL the fetch was made for, before any redirect (the lookup uses it).
// `destination`: the destination, or {fetch: the inputs of its rule} (destinations.js
// destinationInputs): Python then works it out in the same call and names it in the
// answer (`destination`), one call per response instead of two.
export async function checkResource(key, url, destination, body, requestUrl = null) {
  const bytes = typeof body === "string" ? b64ToBytes(body) : body;
  const dest = typeof destination === "string" ? { destination } : { fetch: destination.fetch };
  const req = { key, url, ...dest, sha256: await py.sha256Hex(bytes) };
  if (requestUrl && requestUrl !== url) req.request_url = requestUrl;
  let out = await py.call("check_resource", req);
  if (out.error === "unknown_key" && (await rejudge(key))) {
    out = await py.call("check_resource", req);
  }
  if (out.body_needed) {
    state.worker.stats.bodyNeeded = (state.worker.stats.bodyNeeded || 0) + 1;
    const b64 = typeof body === "string" ? body : bytesToB64(body);
    out = await py.call("check_resource", { ...req, body: b64 });
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
