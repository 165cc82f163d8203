// chrome.debugger (CDP) plumbing: debuggee targets, commands, and the Fetch verbs that
// release or refuse a paused response.

import { utf8ToB64, b64ToBytes } from "./util.js";

export const PROTOCOL = "1.3";
export const FETCH_PATTERNS = [{ urlPattern: "*", requestStage: "Response" }];

export function target(src) {
  const t = {};
  if (src.tabId !== undefined) t.tabId = src.tabId;
  if (src.targetId !== undefined) t.targetId = src.targetId;
  if (src.sessionId !== undefined) t.sessionId = src.sessionId;
  return t;
}

export function send(t, method, params = {}) {
  return chrome.debugger.sendCommand(t, method, params);
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

export async function fail(t, requestId) {
  await send(t, "Fetch.failRequest", { requestId, errorReason: "BlockedByClient" }).catch(() => {});
}

export async function cont(t, requestId) {
  await send(t, "Fetch.continueRequest", { requestId }).catch(() => {});
}
