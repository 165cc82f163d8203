// chrome.debugger (CDP) plumbing: debuggee targets, commands, and the Fetch verbs that
// release or refuse a paused response.

import { utf8ToB64, b64ToBytes, timed } from "./util.js";
import { state, log } from "./state.js";

export const PROTOCOL = "1.3";
export const FETCH_PATTERNS = [{ urlPattern: "*", requestStage: "Response" }];

export function target(src) {
  const t = {};
  if (src.tabId !== undefined) t.tabId = src.tabId;
  if (src.targetId !== undefined) t.targetId = src.targetId;
  if (src.sessionId !== undefined) t.sessionId = src.sessionId;
  return t;
}

// Per CDP method: calls and wall time until the browser answered (the benchmark's profile
// of the warm rows, scripts/bench_extension.py; read as waict.cdpStats).
export const cdpStats = {};

// (async: a command Chromium refuses at once is a rejection too, never a throw)
export async function send(t, method, params = {}) {
  return timed(cdpStats, method, chrome.debugger.sendCommand(t, method, params));
}

export async function responseBody(t, requestId) {
  const r = await send(t, "Fetch.getResponseBody", { requestId });
  return r.base64Encoded ? r.body : utf8ToB64(r.body);
}

// The same body as bytes (for hashing): no base64 round trip for a text body.
export async function responseBytes(t, requestId) {
  const r = await send(t, "Fetch.getResponseBody", { requestId });
  return r.base64Encoded ? b64ToBytes(r.body) : new TextEncoder().encode(r.body);
}

// Refusing or releasing a paused response fails when it is no longer paused: its target
// went away (tab closed, frame removed, worker ended), the browser cancelled it, or a
// navigation to the block page replaced it (documents.js fails it anyway). Such a request
// can run nowhere. Nothing is hidden: those are counted as `...Gone`, any other failure as
// `...Errors` (stats.failRequestGone/failRequestErrors, continueRequestGone/
// continueRequestErrors, continueResponseGone/continueResponseErrors) and logged; tests
// assert the error counts stay 0.
const GONE = /Invalid InterceptionId|No tab with given id|not attached|No target with given id|No session|Inspected target navigated or closed/i;

// Whether a command failed because its target or session is gone (not an error of ours).
export function isGone(e) {
  return GONE.test(String(e && e.message ? e.message : e));
}

function counted(verb, requestId, e) {
  const msg = String(e && e.message ? e.message : e);
  const gone = isGone(e);
  state.worker.stats[`${verb}${gone ? "Gone" : "Errors"}`]++;
  log(`Fetch.${verb} failed`, requestId, msg);
}

export async function fail(t, requestId) {
  try {
    await send(t, "Fetch.failRequest", { requestId, errorReason: "BlockedByClient" });
  } catch (e) {
    counted("failRequest", requestId, e);
  }
}

// Release a paused response with changed headers (its body untouched): counted as cont().
export async function contResponse(t, head) {
  try {
    await send(t, "Fetch.continueResponse", head);
  } catch (e) {
    counted("continueResponse", head.requestId, e);
  }
}

export async function cont(t, requestId) {
  try {
    await send(t, "Fetch.continueRequest", { requestId });
  } catch (e) {
    counted("continueRequest", requestId, e);
  }
}
