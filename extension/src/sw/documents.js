// Document responses (main frames and iframes): header + stored ratchet state + preload
// list -> plan (Python); the manifest is fetched here, within Python's bounds (size,
// deadline); plugins asked; judge (Python); the verdict persisted (compact; a full
// chrome.storage.session gets the block page); then continue (inline CSP and WebAssembly
// policy added) or the block page + fail.

import * as py from "../python.js";
import { state, keys, log, setSession, withLock, StorageFullError } from "./state.js";
import { send, responseBody, fail, cont, contResponse } from "./cdp.js";
import { bytesToB64, headerValue, nowSeconds, timed } from "./util.js";
import { settings, preloadSha256 } from "./settings.js";
import {
  frameKey, setFrameKey, parentOf, summary, setOriginKey, checkResource, restoreFrameKey,
} from "./verdicts.js";
import { destinationOf, secFetchDest } from "./destinations.js";
import { manifestFor, rememberPlan } from "./manifests.js";
import { unknownOrigin } from "./fast_path.js";
import { forgetEarlierServiceWorkers } from "./workers.js";
import { updateCspRule, ruleCsp } from "./rules.js";
import { guardToken, guardHeader, markSecret, judgedMarkHeader } from "./guard.js";
import { originShown } from "./background_workers.js";
import { pluginRegistrations, askPlugins } from "./plugins.js";
import { recordViolation, noteViolation, setTabStatus, showBlockPage, addFrameKey } from "./status.js";
import { startReports, queueReport, flushReports, forgetReports } from "./reports.js";
import { VERDICTS_LOCK, compactInputs, blobItems, sweep, scheduleSweep } from "./storage.js";

const HEADER_NAME = "integrity-policy-waict-v1";

const { stats } = state.worker;

// Where a gated document's hold goes, by phase (waict.documentPhases: the benchmark's
// profile).
export const documentPhases = {};

function phase(name, work) {
  return timed(documentPhases, name, work);
}

// Persist a verdict before anything of its document can run: the summary, the judged
// inputs (compact: large parts once per digest), the frame -> key and origin -> key maps,
// all under the verdicts lock (so the sweep sees them together). chrome.storage.session
// full: one sweep, one more try, then StorageFullError.
async function persistVerdict(tabId, frameId, isMain, origin, key, brief, inputs, manifestBytes, loaderId) {
  const { stored, blobs } = await compactInputs(inputs, manifestBytes);
  const write = () => withLock(VERDICTS_LOCK, async () => {
    await setSession({
      ...(await blobItems(blobs)),
      [keys.session.verdict(key)]: brief,
      [keys.session.inputs(key)]: stored,
    });
    await setFrameKey(tabId, frameId, key, isMain, loaderId);
    if (isMain || !state.session.keyByOrigin.has(origin)) await setOriginKey(origin, key);
  });
  try {
    await write();
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e;
    await sweep();
    await write();
  }
  scheduleSweep();
}

// Fail closed when chrome.storage.session is full (counted in stats.quotaErrors): the
// block page names it, the request fails.
async function blockStorageFull(src, t, p, url, isMain, error) {
  if (isMain) {
    const reason = "internal_error";
    const detail = "storage_full";
    const words = await py.call("explain_codes", { items: [{ reason, detail }] });
    const explanation = (words.explanations && words.explanations[0]) || null;
    const block = { reason, detail, message: `chrome.storage.session is full: ${error.message}`, explanation };
    await showBlockPage(src.tabId, url, { block, manifest: { status: "invalid" }, enforcing: true, info: null });
  }
  stats.blocked++;
  await fail(t, p.requestId);
}

// While Python is not ready: a top-level document of an origin nothing is known about
// goes on at once, as Python would let it (sw/fast_path.js; Python's facts and claim:
// verifier/browser/fast_path.py). Top-level documents (the browser's own Sec-Fetch-Dest
// "document", no parent frame) and iframes of a parent frame that is not gated
// (Sec-Fetch-Dest "iframe"); anything else waits for Python. Counted: stats.fastPath.
async function fastPathDocument(src, t, p, url, loaderId) {
  const parent = parentOf(p.frameId);
  const sec = await secFetchDest(p);
  // a top-level document, or an iframe whose parent is known not to be gated (its first
  // step, the check as a resource of a gated parent, then does not apply)
  const isMain = !parent && sec === "document";
  if (!isMain && !(parent && sec === "iframe" && (await frameKey(src.tabId, parent)) === "none")) return false;
  let origin;
  try {
    origin = new URL(url).origin;
  } catch (e) {
    return false;
  }
  const stateKey = keys.local.origin(origin);
  const got = await chrome.storage.local.get([stateKey, keys.local.fastPathFacts]);
  const { preload } = await settings();
  const ok = unknownOrigin({
    url,
    headerNames: (p.responseHeaders || []).map((h) => h.name.toLowerCase()),
    originState: got[stateKey] || null,
    preloadSha256: await preloadSha256(preload),
    facts: got[keys.local.fastPathFacts] || null,
  });
  if (!ok) return false;
  stats.fastPath++;
  stats.fastPathLastMs = Math.round(performance.now()); // since this worker started
  await releaseUngated(src, t, p, url, origin, isMain, loaderId);
  return true;
}

// A document WAICT does not gate (Python's plan, or the fast path that gives the same):
// its frame and origin map to "none", it is released unchanged but for a stale CSP rule,
// and a top document's badge says "not enrolled".
async function releaseUngated(src, t, p, url, origin, isMain, loaderId) {
  await setFrameKey(src.tabId, p.frameId, "none", isMain, loaderId);
  if (isMain) await setOriginKey(origin, "none");
  await continueDocument(t, p, origin, null);
  if (isMain) await setTabStatus(src.tabId, { badge: "none", url });
}

// requestUrl: the URL the navigation was made for, before any redirect (the document is
// looked up by it, design.md 5); `url` is the final response's URL (the manifest URL of
// its header is resolved against it).
export async function onDocument(src, t, p, requestUrl = p.request.url) {
  stats.navigations++;
  try {
    await judgeDocument(src, t, p, requestUrl);
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e;
    await blockStorageFull(src, t, p, p.request.url, !parentOf(p.frameId), e);
  }
}

async function judgeDocument(src, t, p, requestUrl) {
  const url = p.request.url;
  const loaderId = p.networkId; // a navigation's request id is its document's loader id
  if (!py.isReady() && (await fastPathDocument(src, t, p, url, loaderId))) return;
  const destination = await destinationOf(p, !parentOf(p.frameId));
  const isMain = destination === "document";
  // 1. an iframe is first a resource of its parent document
  if (!isMain) {
    const parentKey = await frameKey(src.tabId, parentOf(p.frameId));
    const pv = parentKey && parentKey !== "none" ? await summary(parentKey) : null;
    if (pv && pv.gated) {
      const body = await responseBody(t, p.requestId);
      const res = await checkResource(parentKey, url, destination, body, requestUrl);
      stats.checked++;
      if (res.reason) {
        const item = { url, destination, reason: res.reason, allowed: res.allowed };
        recordViolation(src.tabId, item);
        await noteViolation(src.tabId, url, destination, res, pv, parentKey);
        queueReport(src.tabId, parentKey, { ...item, detail: pv.detail || null, report_only: res.allowed });
      }
      if (!res.allowed) {
        stats.blocked++;
        await fail(t, p.requestId);
        return;
      }
    }
  }
  // 2. the document's own policy
  if (!/^https?:/.test(url)) {
    await setFrameKey(src.tabId, p.frameId, "none", isMain, loaderId);
    await cont(t, p.requestId);
    return;
  }
  const origin = new URL(url).origin;
  const header = headerValue(p.responseHeaders, HEADER_NAME);
  const { trust, preload } = await settings();
  const stateKey = keys.local.origin(origin);
  const originState = (await chrome.storage.local.get(stateKey))[stateKey] || null;
  const now = nowSeconds();
  const base = { url, header, now, trust, preload, origin_state: originState };
  const plan = await phase("plan_navigation", py.call("plan_navigation", base));
  if (plan.error) throw new Error(`plan_navigation: ${plan.error}`);
  if (plan.manifest_url) rememberPlan(origin, plan.manifest_url, plan.manifest_max_bytes, plan.manifest_deadline_ms);
  if (!plan.gated) {
    await releaseUngated(src, t, p, url, origin, isMain, loaderId);
    return;
  }
  // the manifest and the document's body are fetched at once (each is waited for alone)
  const [fetched, body] = await Promise.all([
    plan.manifest_url
      ? phase("fetch manifest", manifestFor(plan.manifest_url, plan.manifest_max_bytes, plan.manifest_deadline_ms))
      : { bytes: null, error: null },
    phase("Fetch.getResponseBody", responseBody(t, p.requestId)),
  ]);
  const inputs = {
    ...base,
    manifest_response: fetched.bytes ? bytesToB64(fetched.bytes) : null,
    manifest_error: fetched.error,
    resources: [{ url, destination: "document", body, ...(requestUrl !== url ? { request_url: requestUrl } : {}) }],
    registrations: await phase("plugin registrations", pluginRegistrations()),
    plugins: null,
  };
  let out = await phase("judge_navigation", py.call("judge_navigation", inputs));
  if (out.error) throw new Error(`judge_navigation: ${out.error}`);
  if (out.navigation === "pending") {
    // registered plugins approve or veto the manifest; their answers are Python's inputs
    inputs.plugins = await askPlugins(out.ask_plugins, out.plugin_view, { url, tabId: src.tabId, frameId: p.frameId, isMain });
    out = await py.call("judge_navigation", inputs);
    if (out.error) throw new Error(`judge_navigation: ${out.error}`);
  }
  if (out.navigation !== "allow" && out.navigation !== "block") {
    throw new Error(`judge_navigation: unexpected navigation ${out.navigation}`); // fail closed
  }
  const key = out.key;
  const brief = {
    gated: out.gated,
    enforcing: out.enforcing,
    badge: out.badge,
    origin,
    status: out.manifest.status,
    reason: out.manifest.reason,
    detail: out.manifest.detail,
    csp: out.csp,
    csp_header: out.csp_header,
  };
  state.session.verdictByKey.set(key, brief);
  // persist before anything of the document can run
  await phase("store origin state", out.origin_state
    ? chrome.storage.local.set({ [stateKey]: out.origin_state })
    : chrome.storage.local.remove(stateKey));
  // design.md 6: on the first WAICT header of an origin, or a new manifest URL, a service
  // worker registered earlier must not answer for it before its script is checked
  // (Python decides: effective_header.forgets_service_workers)
  if (out.forget_service_workers) {
    await forgetEarlierServiceWorkers(origin);
  }
  await phase("persist verdict", persistVerdict(src.tabId, p.frameId, isMain, origin, key, brief, inputs, fetched.bytes, loaderId));
  await phase("CSP rule", updateCspRule(origin, out.csp ? { header: out.csp_header, value: out.csp } : null));
  const doc = out.resources[0];
  // reports of this navigation go to the endpoints its (ratcheted) header names; a new top
  // document: the previous page's batches go (sent first)
  if (isMain) forgetReports(src.tabId);
  startReports(src.tabId, key, {
    document_url: url,
    endpoints: (out.info && out.info.endpoints) || [],
    reporting_endpoints: headerValue(p.responseHeaders, "reporting-endpoints"),
  });
  if (doc && doc.reason) {
    const item = { url, destination: "document", reason: doc.reason, allowed: doc.allowed };
    recordViolation(src.tabId, item);
    queueReport(src.tabId, key, { ...item, detail: out.manifest.detail, report_only: doc.allowed });
  }
  if (isMain) {
    await phase("tab status", setTabStatus(src.tabId, {
      badge: out.badge,
      url,
      manifest: out.manifest,
      info: out.info,
      block: out.block,
      document: doc,
      key,
      judged: now,
      violations: doc && doc.reason ? [{ url, destination: "document", reason: doc.reason, detail: out.manifest.detail, allowed: doc.allowed }] : [],
    }));
  } else {
    await addFrameKey(src.tabId, key); // its violations belong to the page's status too
  }
  if (out.navigation === "block") {
    stats.blocked++;
    // Navigate the tab to the block page first: that cancels the paused navigation, so
    // Chromium's own error page never commits (failing first showed it, and a screenshot
    // taken during the swap rendered the block page twice). Then fail the request anyway.
    if (isMain) await showBlockPage(src.tabId, url, out);
    await fail(t, p.requestId);
    flushReports(src.tabId, key);
    return;
  }
  await phase("release", continueDocument(
    t, p, origin, out.csp ? { header: out.csp_header, value: out.csp } : null, body, out.wasm,
  ));
}

// Prerendered and prefetched documents (speculation rules) are fetched outside every
// debugger session of the tab, and shown without any response of the navigation crossing
// it (measured, Chromium 156): they would never be judged. So the browser's preloading
// is turned off while the extension runs (chrome.privacy, permission "privacy"): a
// navigation always loads, and is judged, on the network. docs/decisions.md.
export async function turnOffPreloading() {
  try {
    await chrome.privacy.network.networkPredictionEnabled.set({ value: false });
  } catch (e) {
    log("could not turn off preloading", String(e && e.message ? e.message : e));
  }
}

// Page.frameNavigated of a document restored from the back/forward cache: it gets its own
// verdict back; unknown (this worker restarted since it was judged): reload, judged afresh.
export function onFrameRestored(src, frame) {
  if (!restoreFrameKey(src.tabId, frame)) {
    log("verdict of a restored page unknown: reloading tab", src.tabId);
    send({ tabId: src.tabId }, "Page.reload", { ignoreCache: true })
      .catch((e) => log("could not reload restored tab", src.tabId, String(e))); // stays no_verdict: fails closed
  }
}

// Release a document response: with the judged document's mark (sw/guard.js
// judgedMarkHeader, which hold_check.js needs to let a top document of a gated tab run),
// the inline CSP of its verdict (if any), and without a stale CSP that our
// declarativeNetRequest rule added from an earlier verdict.
async function continueDocument(t, p, origin, csp, body = null, wasm = null) {
  await originShown(t.tabId, origin); // its workers' scripts may be fetched once it runs
  const stale = await ruleCsp(origin);
  const token = await guardToken();
  const secret = await markSecret(t.tabId);
  const headers = [];
  // Chromium parses a document's policies (CSP) before the response is paused: changing
  // them needs Fetch.fulfillRequest with the same body (measured); the Server-Timing
  // entries (mark, WebAssembly guard) are read by the page from the headers it gets, so
  // Fetch.continueResponse carries them without sending the body back.
  let policyChanged = false;
  for (const h of p.responseHeaders || []) {
    const name = h.name.toLowerCase();
    if (name === "server-timing" && /waict-/i.test(h.value)) {
      continue; // a forged mark or guard policy (whichever secret it names): dropped
    }
    if (stale && name === stale.header.toLowerCase()) {
      if (h.value === stale.value) {
        policyChanged = true;
        continue;
      }
      if (h.value.endsWith(`, ${stale.value}`)) {
        headers.push({ name: h.name, value: h.value.slice(0, -(stale.value.length + 2)) });
        policyChanged = true;
        continue;
      }
    }
    headers.push(h);
  }
  if (csp) {
    headers.push({ name: csp.header, value: csp.value });
    policyChanged = true;
  }
  headers.push(judgedMarkHeader(secret));
  const guard = guardHeader(token, wasm);
  if (guard) headers.push(guard);
  const head = {
    requestId: p.requestId,
    responseCode: p.responseStatusCode,
    responsePhrase: p.responseStatusText || undefined,
    responseHeaders: headers,
  };
  if (!policyChanged) {
    await contResponse(t, head);
    return;
  }
  await send(t, "Fetch.fulfillRequest", {
    ...head,
    body: body === null ? await responseBody(t, p.requestId) : body,
  });
}
