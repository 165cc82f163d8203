// A paused response that is not a document: checked (Python) against the verdict of the
// frame or worker that fetched it -> continue or fail (BlockedByClient). A shared worker's
// main script gates the worker itself before it is released.

import { state, log } from "./state.js";
import { responseBody, fail, cont } from "./cdp.js";
import { keyForResponse, summary, workerOf, checkResource } from "./verdicts.js";
import { destinationOf } from "./destinations.js";
import { gateSharedWorker } from "./workers.js";
import { recordViolation, noteViolation } from "./status.js";
import { queueReport } from "./reports.js";

const { stats } = state.worker;

export async function onSubresource(src, t, p) {
  if (!/^https?:/.test(p.request.url)) {
    await cont(t, p.requestId); // the extension's own pages, data:, blob:
    return;
  }
  const key = await keyForResponse(src, p);
  if (key === "no_verdict") {
    // a worker of a WAICT origin with no verdict in this browser session: fail closed
    const res = { allowed: false, reason: "no_verdict", enforcing: true };
    recordViolation(src.tabId, { url: p.request.url, destination: "", reason: res.reason, allowed: false });
    stats.blocked++;
    await fail(t, p.requestId);
    return;
  }
  const v = key && key !== "none" ? await summary(key) : null;
  if (!v || !v.gated) {
    await cont(t, p.requestId);
    return;
  }
  // the main script of a service worker, in the worker's own session
  const w = await workerOf(src.targetId || p.frameId);
  const own = w && w.url === p.request.url && p.resourceType === "Other" ? w.kind : null;
  const destination = await destinationOf(p, false, own);
  const body = await responseBody(t, p.requestId);
  const res = await checkResource(key, p.request.url, destination, body);
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
  await cont(t, p.requestId);
}
