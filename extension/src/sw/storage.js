// chrome.storage.session's layout and lifetimes: the judged inputs kept small (large parts
// stored once per content digest, compressed), and nothing kept longer than what it is
// for: a closed tab's entries go at once, a removed frame's too, and a debounced sweep
// removes what no live tab, frame, origin or worker refers to (see sw/state.js).

import { state, keys, log, withLock } from "./state.js";
import { bytesToB64 } from "./util.js";
import { forgetReports } from "./reports.js";

// Writes of a verdict (verdict:, inputs:, blob:, its frame and origin keys) and the sweep
// run under this lock: the sweep never sees a verdict whose references are not written yet.
export const VERDICTS_LOCK = "session:verdicts";
const SWEEP_DELAY_MS = 2000;

const { stats } = state.worker;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

// --- blobs: content by digest, gzip + base64 ------------------------------------------------

async function digestOf(bytes) {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return bytesToB64(h).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function gzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return bytesToB64(new Uint8Array(await new Response(stream).arrayBuffer()));
}

async function gunzip(b64) {
  const packed = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The judged inputs in the form stored under inputs:<key>: the manifest response, the
// preload list and the trust settings by digest (`refs`), the document's body left out.
// Returns {stored, blobs: {digest: bytes}}.
export async function compactInputs(inputs, manifestBytes) {
  const { resources: _r, manifest_response: _m, preload, trust, ...rest } = inputs;
  const blobs = {};
  const ref = async (bytes) => {
    if (!bytes) return null;
    const digest = await digestOf(bytes);
    blobs[digest] = bytes;
    return digest;
  };
  const refs = {
    manifest: await ref(manifestBytes),
    preload: await ref(preload ? utf8.encode(preload) : null),
    trust: await ref(utf8.encode(JSON.stringify(trust))),
  };
  return { stored: { ...rest, refs }, blobs };
}

// The blob: items to write for `blobs` (only those not stored yet). Call under VERDICTS_LOCK.
export async function blobItems(blobs) {
  const items = {};
  for (const [digest, bytes] of Object.entries(blobs)) {
    const name = keys.session.blob(digest);
    if ((await chrome.storage.session.getBytesInUse(name)) > 0) continue;
    items[name] = await gzip(bytes);
  }
  return items;
}

async function loadBlob(digest) {
  const name = keys.session.blob(digest);
  const packed = (await chrome.storage.session.get(name))[name];
  if (!packed) return null;
  const bytes = await gunzip(packed);
  return (await digestOf(bytes)) === digest ? bytes : null; // damaged: never used
}

// The judged inputs again, from their stored form (null when a part is gone: the caller
// fails closed). Inputs stored in full (no `refs`) are returned as they are.
export async function expandInputs(stored) {
  if (!stored || !stored.refs) return stored || null;
  const { refs, ...rest } = stored;
  const parts = {};
  for (const name of ["manifest", "preload", "trust"]) {
    if (!refs[name]) {
      parts[name] = null;
      continue;
    }
    parts[name] = await loadBlob(refs[name]);
    if (!parts[name]) {
      log("stored input", name, "of a verdict is gone; not re-judged");
      return null;
    }
  }
  return {
    ...rest,
    manifest_response: parts.manifest ? bytesToB64(parts.manifest) : null,
    preload: parts.preload ? fromUtf8.decode(parts.preload) : null,
    trust: parts.trust ? JSON.parse(fromUtf8.decode(parts.trust)) : null,
  };
}

// --- frames and tabs ----------------------------------------------------------------------

// Page.frameAttached
export function frameAttached(src, params) {
  state.worker.parentByFrame.set(params.frameId, params.parentFrameId);
  if (src.tabId !== undefined) state.worker.tabByFrame.set(params.frameId, src.tabId);
}

// Page.frameDetached: a removed frame's key goes (a frame swapped into another process
// lives on in its own session).
export function frameDetached(src, params) {
  if (params.reason === "swap") return;
  const tabId = src.tabId !== undefined ? src.tabId : state.worker.tabByFrame.get(params.frameId);
  forgetFrame(params.frameId);
  if (tabId !== undefined) chrome.storage.session.remove(keys.session.frame(tabId, params.frameId)).catch(() => {});
}

function forgetFrame(frameId) {
  state.worker.parentByFrame.delete(frameId);
  state.worker.tabByFrame.delete(frameId);
  state.session.keyByFrame.delete(frameId);
}

// Target.detachedFromTarget (a child session of a tab's or a worker's session): a
// dedicated worker that ended takes its entries with it at once (worker:<targetId>,
// wsession:<sessionId>); the sweep keeps a dedicated worker's entries only while its tab
// lives, which alone let a long-lived page accumulate one pair per worker it ever started.
// Service workers and shared workers are left to the sweep (their targets are listed).
export async function workerDetached(params) {
  const { sessionId, targetId } = params;
  state.worker.swGatingBySession.delete(sessionId);
  state.worker.pausedWorkerSessions.delete(sessionId);
  const { workerByTarget, workerBySession } = state.session;
  const remembered = workerBySession.get(sessionId) || workerByTarget.get(targetId);
  const stored = remembered || (await chrome.storage.session.get(keys.session.workerSession(sessionId)).catch(() => ({})))[keys.session.workerSession(sessionId)];
  if (!stored || stored.kind !== "worker") return;
  workerBySession.delete(sessionId);
  if (targetId) workerByTarget.delete(targetId);
  const names = [keys.session.workerSession(sessionId)];
  if (targetId) names.push(keys.session.worker(targetId));
  try {
    await withLock(VERDICTS_LOCK, () => chrome.storage.session.remove(names));
    stats.workersForgotten++;
  } catch (e) {
    log("could not forget worker", targetId, String(e));
  }
}

// chrome.tabs.onRemoved: the tab's own entries go now; what only it referred to goes with
// the next sweep.
export async function forgetTab(tabId) {
  for (const [frameId, tab] of state.worker.tabByFrame) if (tab === tabId) forgetFrame(frameId);
  forgetReports(tabId);
  try {
    const prefix = keys.session.tabFrames(tabId);
    const names = (await chrome.storage.session.getKeys()).filter((n) => n.startsWith(prefix));
    await chrome.storage.session.remove([...names, keys.session.tab(tabId), keys.session.top(tabId), keys.session.nav(tabId)]);
  } catch (e) {
    log("could not forget tab", tabId, String(e));
  }
  scheduleSweep();
}

// --- the sweep ------------------------------------------------------------------------------

export function scheduleSweep(delayMs = SWEEP_DELAY_MS) {
  if (state.worker.sweepTimer !== null) return;
  state.worker.sweepTimer = setTimeout(() => {
    state.worker.sweepTimer = null;
    sweep().catch((e) => log("sweep failed", String(e)));
  }, delayMs);
}

const SWEPT = /^(tab|top|nav|frame|okey|worker|wsession|verdict|inputs):/;

// Remove what no live tab, frame, origin or worker refers to. Storage is read first, the
// live tabs and targets after: an entry written for a tab that appears meanwhile is not
// read, so not removed. Returns the number of keys removed.
export function sweep() {
  return withLock(VERDICTS_LOCK, async () => {
    stats.sweeps++;
    const names = await chrome.storage.session.getKeys();
    const all = await chrome.storage.session.get(names.filter((n) => SWEPT.test(n)));
    const liveTabs = new Set((await chrome.tabs.query({})).map((t) => t.id));
    const liveTargets = new Set((await chrome.debugger.getTargets()).map((x) => x.id));
    const remove = [];
    const liveKeys = new Set();
    const liveOrigins = new Set();
    const split = (name) => [name.slice(0, name.indexOf(":")), name.slice(name.indexOf(":") + 1)];
    for (const [name, value] of Object.entries(all)) {
      const [kind, rest] = split(name);
      if (kind === "nav") {
        if (!liveTabs.has(Number(rest))) remove.push(name);
      } else if (kind === "tab" || kind === "top" || kind === "frame") {
        if (!liveTabs.has(Number(rest.split(":")[0]))) {
          remove.push(name);
        } else if (kind === "tab") {
          if (value && value.key) liveKeys.add(value.key);
          for (const k of (value && value.frameKeys) || []) liveKeys.add(k);
        } else {
          liveKeys.add(value);
        }
      } else if (kind === "worker" || kind === "wsession") {
        // a shared worker's target can be gone for a moment while it restarts (a reload):
        // Chromium reuses it under our session, so it is kept while we hold that session
        const held = value && state.worker.attachedWorkers.has(value.targetId);
        // a dedicated worker is a child session of its page, not a target that
        // chrome.debugger.getTargets() lists: kept while its tab lives (removing it earlier
        // let a nested worker's script run unchecked)
        const dedicated = value && value.kind === "worker" && liveTabs.has(value.tabId);
        if (!value || !(liveTargets.has(value.targetId) || held || dedicated)) remove.push(name);
        else if (value.origin) liveOrigins.add(value.origin);
      }
    }
    for (const key of liveKeys) {
      const v = all[keys.session.verdict(key)];
      if (v && v.origin) liveOrigins.add(v.origin);
    }
    for (const [name, value] of Object.entries(all)) {
      const [kind, origin] = split(name);
      if (kind !== "okey") continue;
      if (liveOrigins.has(origin)) liveKeys.add(value);
      else remove.push(name);
    }
    const refs = new Set();
    for (const [name, value] of Object.entries(all)) {
      const [kind, key] = split(name);
      if (kind !== "verdict" && kind !== "inputs") continue;
      if (!liveKeys.has(key)) remove.push(name);
      else if (kind === "inputs" && value && value.refs) for (const d of Object.values(value.refs)) if (d) refs.add(d);
    }
    for (const name of names) if (name.startsWith("blob:") && !refs.has(name.slice(5))) remove.push(name);
    if (remove.length) await chrome.storage.session.remove(remove);
    stats.swept += remove.length;
    forgetInMemory(remove, liveTabs, liveKeys);
    return remove.length;
  });
}

function forgetInMemory(removed, liveTabs, liveKeys) {
  const { keyByFrame, verdictByKey, keyByOrigin, workerByTarget, workerBySession } = state.session;
  for (const [frameId, tabId] of state.worker.tabByFrame) if (!liveTabs.has(tabId)) forgetFrame(frameId);
  for (const name of removed) {
    const kind = name.slice(0, name.indexOf(":"));
    const rest = name.slice(name.indexOf(":") + 1);
    if (kind === "frame") keyByFrame.delete(rest.slice(rest.indexOf(":") + 1));
    else if (kind === "okey") keyByOrigin.delete(rest);
    else if (kind === "worker") workerByTarget.delete(rest);
    else if (kind === "wsession") workerBySession.delete(rest);
  }
  // the small in-memory summary of a verdict that a document the back/forward cache may
  // restore refers to (keyByLoader, bounded) stays, so a restore keeps its verdict (Python
  // still judges its responses; if Python's own cache dropped it, checkResource fails closed)
  const restorable = new Set(state.worker.keyByLoader.values());
  for (const key of verdictByKey.keys()) if (!liveKeys.has(key) && !restorable.has(key)) verdictByKey.delete(key);
  for (const key of state.worker.reportBatchByKey.keys()) if (!liveKeys.has(key)) state.worker.reportBatchByKey.delete(key);
  for (const id of state.worker.reportBatchByNavigation.keys()) {
    if (!liveTabs.has(Number(id.split("|")[0]))) forgetReports(Number(id.split("|")[0]));
  }
}
