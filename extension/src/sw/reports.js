// Reports: waict-violation reports, batched per navigation, POSTed after a short delay
// (Python builds them: verifier.browser.build_reports). Nothing here is awaited by the
// code that pauses and releases responses, so a report never blocks or delays a page.

import * as py from "../python.js";
import { state, log } from "./state.js";

const REPORT_DELAY_MS = 1000; // a navigation's reports are sent 1 s after its last violation
const REPORT_MAX_DELAY_MS = 4000; // ... and at most 4 s after its first one

const { reportBatchByNavigation, reportBatchByKey, stats } = state.worker;

export function startReports(tabId, key, doc) {
  const id = `${tabId}|${key}`;
  const old = reportBatchByNavigation.get(id);
  if (old) sendBatch(old); // a new navigation: the previous one's reports go now
  const batch = { id, key, ...doc, items: [], timer: null, first: 0 };
  reportBatchByNavigation.set(id, batch);
  reportBatchByKey.set(key, batch);
}

export function queueReport(tabId, key, item) {
  const batch = reportBatchByNavigation.get(`${tabId}|${key}`) || reportBatchByKey.get(key);
  if (!batch || !batch.endpoints || !batch.endpoints.length) return;
  const now = Date.now();
  batch.items.push({
    url: item.url,
    destination: item.destination,
    reason: item.reason,
    detail: item.detail || null,
    report_only: !!item.report_only,
    time_ms: now,
  });
  if (!batch.first) batch.first = now;
  clearTimeout(batch.timer);
  const wait = Math.max(0, Math.min(REPORT_DELAY_MS, batch.first + REPORT_MAX_DELAY_MS - now));
  batch.timer = setTimeout(() => sendBatch(batch), wait);
}

// The tab's batches go (sent first): its tab closed, or its top document navigated (the
// previous page's frames are gone with it).
export function forgetReports(tabId) {
  const prefix = `${tabId}|`;
  for (const [id, batch] of reportBatchByNavigation) {
    if (!id.startsWith(prefix)) continue;
    sendBatch(batch);
    reportBatchByNavigation.delete(id);
    if (reportBatchByKey.get(batch.key) === batch) reportBatchByKey.delete(batch.key);
  }
}

export function flushReports(tabId, key) {
  const batch = reportBatchByNavigation.get(`${tabId}|${key}`);
  if (batch) sendBatch(batch);
}

function sendBatch(batch) {
  clearTimeout(batch.timer);
  batch.timer = null;
  if (!batch.items.length) return;
  const violations = batch.items.splice(0);
  batch.first = 0;
  (async () => {
    try {
      const out = await py.call("build_reports", {
        document_url: batch.document_url,
        endpoints: batch.endpoints,
        reporting_endpoints: batch.reporting_endpoints,
        user_agent: navigator.userAgent,
        now_ms: Date.now(),
        violations,
      });
      if (out.error) throw new Error(out.error);
      if (out.unresolved && out.unresolved.length) log("report endpoints not in Reporting-Endpoints:", out.unresolved.join(", "));
      await Promise.all(out.posts.map(async (post) => {
        try {
          const r = await fetch(post.url, {
            method: "POST",
            headers: { "Content-Type": post.content_type },
            body: post.body,
            credentials: "omit",
            cache: "no-store",
            redirect: "error",
          });
          stats.reportsSent++;
          if (!r.ok) log("report endpoint answered", r.status, post.url);
        } catch (e) {
          stats.reportErrors++;
          log("report not delivered to", post.url, String(e));
        }
      }));
    } catch (e) {
      stats.reportErrors++;
      log("reports not built", String(e));
    }
  })();
}
