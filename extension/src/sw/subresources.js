// A paused response that is not a document: checked (Python) against the verdict of the
// frame or worker that fetched it -> continue or fail (BlockedByClient). Looked up by the
// URL the fetch was made for (before redirects). blob: and data: responses are checked too
// (code from them is eval under another name: Python refuses it when inline code is
// covered). A worker's main script is released with the verdict's inline CSP (a worker's
// policy comes from its own script response, not from its page), so the worker cannot
// eval or load blob:/data: code either. A shared worker's main script gates the worker
// itself before it is released.

import { state, log } from "./state.js";
import { bytesToB64 } from "./util.js";
import { send, responseBytes, fail, cont } from "./cdp.js";
import { keyForResponse, summary, workerOf, checkResource } from "./verdicts.js";
import { destinationInputs } from "./destinations.js";
import { gateSharedWorker } from "./workers.js";
import { recordViolation, noteViolation } from "./status.js";
import { queueReport } from "./reports.js";

const { stats } = state.worker;

const WORKER_SCRIPTS = new Set(["worker", "sharedworker", "serviceworker"]);

export async function onSubresource(src, t, p, requestUrl = p.request.url) {
  if (!/^(https?|blob|data):/.test(p.request.url)) {
    await cont(t, p.requestId); // the extension's own pages
    return;
  }
  const key = await keyForResponse(src, p);
  const v = key && key !== "none" && key !== "no_verdict" ? await summary(key) : null;
  if (key === "no_verdict" || !key || (key !== "none" && !v)) {
    // fail closed: a worker of a WAICT origin with no verdict in this browser session, a
    // frame whose verdict key is unknown, or a key whose verdict is gone (counted)
    if (key !== "no_verdict") stats.unknownVerdicts = (stats.unknownVerdicts || 0) + 1;
    log("no verdict for a response, refused:", p.request.url, String(key));
    const res = { allowed: false, reason: "no_verdict", enforcing: true };
    recordViolation(src.tabId, { url: p.request.url, destination: "", reason: res.reason, allowed: false });
    stats.blocked++;
    await fail(t, p.requestId);
    return;
  }
  if (!v || !v.gated) {
    await cont(t, p.requestId);
    return;
  }
  // the main script of a service worker, in the worker's own session
  const w = await workerOf(src.targetId || p.frameId);
  const ownKind = w && (w.kind === "serviceworker" || w.kind === "sharedworker") ? w.kind : null;
  const own = ownKind && w.url === p.request.url && p.resourceType === "Other" ? ownKind : null;
  const fetch = await destinationInputs(p, false, own);
  const body = await responseBytes(t, p.requestId);
  const res = await checkResource(key, p.request.url, { fetch }, body, requestUrl);
  // Python's destination for it (absent only with an internal error: refused below anyway)
  const destination = res.destination || "";
  stats.checked++;
  if (res.reason) {
    const item = { url: p.request.url, destination, reason: res.reason, allowed: res.allowed };
    recordViolation(src.tabId, item);
    await noteViolation(src.tabId, p.request.url, destination, res, v, key);
    queueReport(src.tabId, key, { ...item, detail: v.detail || null, report_only: res.allowed });
  }
  if (!res.allowed) {
    stats.blocked++;
    await fail(t, p.requestId);
    return;
  }
  // a shared worker's main script: gate the worker itself before it can run
  if (destination === "sharedworker" || (destination === "script" && p.resourceType === "Other" && !w)) {
    const gated = await gateSharedWorker(p.request.url, destination === "sharedworker");
    if (!gated) {
      log("shared worker not gated, its script is refused:", p.request.url);
      recordViolation(src.tabId, { url: p.request.url, destination, reason: "internal_error", allowed: false });
      stats.blocked++;
      await fail(t, p.requestId);
      return;
    }
  }
  if (v.csp && (WORKER_SCRIPTS.has(destination) || (destination === "script" && p.resourceType === "Other"))) {
    await continueWithCsp(t, p, { header: v.csp_header, value: v.csp }, body);
    return;
  }
  await cont(t, p.requestId);
}

// A worker's main script: released with the inline CSP added (fulfilled with the same
// bytes: Chromium keeps the policy it parsed from the original headers otherwise).
async function continueWithCsp(t, p, csp, body) {
  const headers = [...(p.responseHeaders || []), { name: csp.header, value: csp.value }];
  await send(t, "Fetch.fulfillRequest", {
    requestId: p.requestId,
    responseCode: p.responseStatusCode,
    responsePhrase: p.responseStatusText || undefined,
    responseHeaders: headers,
    body: bytesToB64(body), // CDP takes base64; `body` is the bytes that were hashed
  });
}
