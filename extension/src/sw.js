// WAICT enforcement: the extension's service worker.
//
// JavaScript gathers inputs and applies verdicts; Python (verifier.browser, in Pyodide)
// decides. See extension/README.md for the architecture and the message flow.
//
// - Every tab is attached with chrome.debugger; CDP Fetch pauses every response
//   (requestStage Response). Nothing of a page runs before its response is continued.
// - A document response: header + stored ratchet state + preload list -> plan (Python);
//   the manifest is fetched by this worker; judge (Python) -> continue (with the inline
//   CSP added) or fail + block page.
// - Any other response: its body is checked (Python) against the verdict of the frame
//   that fetched it -> continue or fail (BlockedByClient).
// - State that must survive a service-worker restart lives in chrome.storage: the ratchet
//   (local), the judged inputs per verdict key and the frame -> verdict map (session).
// - Until a tab is gated, a declarativeNetRequest session rule blocks every request of it.
// - Service workers (auto-attached to the tab's session) and shared workers (attached by
//   target id while their main script is paused) get their own Fetch interception, so
//   their main scripts and everything they import are checked like the page's.
// - Plugins (other extensions, chrome.runtime external messaging, docs/plugin-api.md) are
//   asked before a gated navigation is released; their answers are inputs to Python.
// - waict-violation reports are batched per navigation and POSTed to the site's endpoints
//   after the page was released (a report never delays a page).

import * as py from "./python.js";

const PROTOCOL = "1.3";
const FETCH_PATTERNS = [{ urlPattern: "*", requestStage: "Response" }];
const HEADER_NAME = "integrity-policy-waict-v1";
const SAFETY_RULE_ID = 1;
const CSP_RULE_BASE = 1000;
const MANIFEST_TIMEOUT_MS = 20000;
const PLUGIN_API = 1;
const REPORT_DELAY_MS = 1000; // a navigation's reports are sent 1 s after its last violation
const REPORT_MAX_DELAY_MS = 4000; // ... and at most 4 s after its first one
const SHARED_WORKER_WAIT_MS = 1000; // how long to look for a shared worker's target
const RESOURCE_TYPES = [
  "main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
  "xmlhttprequest", "ping", "csp_report", "media", "websocket", "webtransport",
  "webbundle", "other",
];
const BADGES = {
  verified: { text: "✓", color: "#1a7f37", title: "WAICT: verified" },
  report: { text: "R", color: "#bf8700", title: "WAICT: report-only" },
  blocked: { text: "✗", color: "#cf222e", title: "WAICT: blocked" },
  none: { text: "", color: "#57606a", title: "WAICT: not enrolled" },
  tombstone: { text: "", color: "#57606a", title: "WAICT: not enrolled (site left WAICT)" },
};

const logs = [];
const log = (...a) => { console.log("[waict]", ...a); logs.push(a.map(String).join(" ")); if (logs.length > 300) logs.shift(); };

// ---------------------------------------------------------------------------------------
// In-memory state (rebuilt from chrome.storage after a restart)
// ---------------------------------------------------------------------------------------

const tabs = new Map(); // tabId -> Promise<boolean> (gated?)
const gatedTabs = new Set();
const parents = new Map(); // frameId -> parentFrameId
const frameKeys = new Map(); // frameId -> verdict key ("none" when not gated)
const verdicts = new Map(); // key -> {gated, enforcing, badge, ...} (small summary)
const secFetchDest = new Map(); // networkId -> Sec-Fetch-Dest
const destWaiters = new Map(); // networkId -> resolve
const stats = {
  paused: 0, checked: 0, blocked: 0, navigations: 0, rejudged: 0, errors: 0,
  pluginAsks: 0, reportsSent: 0, reportErrors: 0, workersGated: 0,
};
const violations = []; // recent blocked/reported resources (tests, popup)
const workerTargets = new Map(); // worker target id -> {origin, kind, url} (service/shared worker)
const workerSessions = new Map(); // service worker session id -> {origin, kind, url}
const attachedWorkers = new Set(); // shared worker target ids this worker attached to
const originKeys = new Map(); // origin -> the verdict key of its latest navigation
const reportBatches = new Map(); // `${tabId}|${key}` -> batch (see "Reports")
const reportBatchByKey = new Map(); // key -> latest batch (workers without a tab)
const pluginLog = []; // recent plugin answers (tests, popup)

// ---------------------------------------------------------------------------------------
// Settings: trust and preload (defaults shipped in the extension, overridable in options)
// ---------------------------------------------------------------------------------------

let defaults = null;
async function loadDefaults() {
  if (defaults) return defaults;
  const trust = await (await fetch(chrome.runtime.getURL("trust.json"))).json();
  let preload = null;
  try {
    const r = await fetch(chrome.runtime.getURL("preload.waict"));
    if (r.ok) preload = bytesToB64(new Uint8Array(await r.arrayBuffer()));
  } catch (e) {
    preload = null; // optional file
  }
  defaults = { trust, preload };
  return defaults;
}

async function settings() {
  const d = await loadDefaults();
  const { settings: s } = await chrome.storage.local.get("settings");
  let source = s && s.preload_source;
  if (!source) source = s && s.preload ? "upload" : "default";
  const preload = source === "upload" ? s.preload : source === "none" ? null : d.preload;
  return {
    trust: s && s.trust ? s.trust : d.trust,
    trustSource: s && s.trust ? "options" : "default",
    preload: preload || null,
    preloadSource: source,
  };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function bytesToB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function utf8ToB64(text) {
  return bytesToB64(new TextEncoder().encode(text));
}

function target(src) {
  const t = {};
  if (src.tabId !== undefined) t.tabId = src.tabId;
  if (src.targetId !== undefined) t.targetId = src.targetId;
  if (src.sessionId !== undefined) t.sessionId = src.sessionId;
  return t;
}

function send(t, method, params = {}) {
  return chrome.debugger.sendCommand(t, method, params);
}

function headerValue(headers, name) {
  const values = (headers || [])
    .filter((h) => h.name.toLowerCase() === name)
    .map((h) => h.value);
  return values.length ? values.join(", ") : null;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

async function getSession(key) {
  const r = await chrome.storage.session.get(key);
  return r[key];
}

// ---------------------------------------------------------------------------------------
// Gating tabs
// ---------------------------------------------------------------------------------------

async function updateSafetyRule() {
  // Block every request of a tab that is not gated yet (tabId -1: the browser's and
  // extensions' own requests, which no tab session sees).
  const rule = {
    id: SAFETY_RULE_ID,
    priority: 1,
    action: { type: "block" },
    condition: {
      regexFilter: "^https?://",
      excludedTabIds: [-1, ...gatedTabs],
      resourceTypes: RESOURCE_TYPES,
    },
  };
  await chrome.declarativeNetRequest.updateSessionRules({
    removeRuleIds: [SAFETY_RULE_ID],
    addRules: [rule],
  });
}

async function enableSession(t) {
  await registerGuard(t).catch((e) => log("guard not registered", String(e)));
  await send(t, "Network.enable", {});
  await send(t, "Network.setCacheDisabled", { cacheDisabled: true });
  await send(t, "Network.setBypassServiceWorker", { bypass: true }).catch(() => {});
  await send(t, "Page.enable", {}).catch(() => {});
  await send(t, "Fetch.enable", { patterns: FETCH_PATTERNS });
  await send(t, "Target.setAutoAttach", {
    autoAttach: true,
    waitForDebuggerOnStart: true,
    flatten: true,
  });
}

async function doGate(tabId) {
  const t = { tabId };
  try {
    await chrome.debugger.attach(t, PROTOCOL);
  } catch (e) {
    const msg = String(e && e.message ? e.message : e);
    // Our own session from before a service-worker restart is still attached: use it.
    if (!/already attached/i.test(msg)) {
      log("cannot gate tab", tabId, msg);
      tabs.delete(tabId);
      if (gatedTabs.delete(tabId)) await updateSafetyRule();
      return false;
    }
  }
  try {
    await enableSession(t);
  } catch (e) {
    log("cannot enable interception on tab", tabId, String(e));
    tabs.delete(tabId);
    if (gatedTabs.delete(tabId)) await updateSafetyRule();
    return false;
  }
  gatedTabs.add(tabId);
  await updateSafetyRule();
  return true;
}

function gate(tabId) {
  if (!tabs.has(tabId)) tabs.set(tabId, doGate(tabId));
  return tabs.get(tabId);
}

async function gateAll() {
  const all = await chrome.tabs.query({});
  await Promise.all(all.map((t) => gate(t.id)));
  return all.map((t) => t.id);
}

// Tabs that were mid-navigation when this worker (re)started may hold responses paused by
// an earlier instance: reload them so every response is judged by this one.
async function recoverTabs() {
  // The session rule outlives this worker and so do our debugger sessions: the tabs it
  // exempts are still gated. Keep them exempt (resetting the rule would block their
  // loads until they are re-gated below).
  const rules = await chrome.declarativeNetRequest.getSessionRules();
  const old = rules.find((r) => r.id === SAFETY_RULE_ID);
  const restored = ((old && old.condition.excludedTabIds) || []).filter((id) => id !== -1);
  for (const id of restored) gatedTabs.add(id);
  const ids = await gateAll();
  // Forget only restored tabs that are gone: a tab created and gated while gateAll ran is
  // not in `ids` but must stay exempt (pruning it blocked it forever).
  for (const id of restored) if (!ids.includes(id) && !tabs.has(id)) gatedTabs.delete(id);
  await updateSafetyRule();
  const restarted = await getSession("started");
  await chrome.storage.session.set({ started: Date.now() });
  if (!restarted) return;
  for (const id of ids) {
    const tab = await chrome.tabs.get(id).catch(() => null);
    if (tab && tab.status === "loading" && gatedTabs.has(id) && /^https?:/.test(tab.url || tab.pendingUrl || "")) {
      log("reloading tab", id, "after a service-worker restart");
      send({ tabId: id }, "Page.reload", { ignoreCache: true }).catch(() => {});
    }
  }
}

// ---------------------------------------------------------------------------------------
// Verdict keys: per frame, persisted in chrome.storage.session
// ---------------------------------------------------------------------------------------

async function setFrameKey(tabId, frameId, key, isMain) {
  frameKeys.set(frameId, key);
  const entries = { [`frame:${frameId}`]: key };
  if (isMain) entries[`top:${tabId}`] = key;
  await chrome.storage.session.set(entries);
}

async function frameKey(tabId, frameId) {
  let f = frameId;
  for (let depth = 0; f && depth < 16; depth++) {
    if (frameKeys.has(f)) return frameKeys.get(f);
    const stored = await getSession(`frame:${f}`);
    if (stored) {
      frameKeys.set(f, stored);
      return stored;
    }
    f = parents.get(f);
  }
  const top = await getSession(`top:${tabId}`);
  return top || null;
}

// Parent frames come from Page.frameAttached events (Page.getFrameTree would wait for the
// paused navigation). Unknown after a restart: frameKey() then falls back to the tab's top.
function parentOf(frameId) {
  return parents.get(frameId) || null;
}

async function summary(key) {
  if (verdicts.has(key)) return verdicts.get(key);
  const stored = await getSession(`verdict:${key}`);
  if (stored) verdicts.set(key, stored);
  return stored || null;
}

// The verdict key of an origin's latest navigation (workers are judged against it).
async function setOriginKey(origin, key) {
  originKeys.set(origin, key);
  await chrome.storage.session.set({ [`okey:${origin}`]: key });
}

// "none": the origin is not WAICT's business; "no_verdict": it is (a live ratchet state)
// but nothing was judged for it in this browser session: fail closed.
async function originKey(origin) {
  if (originKeys.has(origin)) return originKeys.get(origin);
  const stored = await getSession(`okey:${origin}`);
  if (stored) {
    originKeys.set(origin, stored);
    return stored;
  }
  const state = (await chrome.storage.local.get(`origin:${origin}`))[`origin:${origin}`];
  return state && state.expiry > nowSeconds() ? "no_verdict" : "none";
}

async function rememberWorker(targetId, url, kind) {
  let origin = null;
  try {
    origin = new URL(url).origin;
  } catch (e) {
    origin = null;
  }
  const w = { origin, kind, url, targetId };
  workerTargets.set(targetId, w);
  await chrome.storage.session.set({ [`worker:${targetId}`]: w });
  return w;
}

async function workerOf(id) {
  if (!id) return null;
  if (workerTargets.has(id)) return workerTargets.get(id);
  if (frameKeys.has(id)) return null;
  const stored = await getSession(`worker:${id}`);
  if (stored) workerTargets.set(id, stored);
  return stored || null;
}

// The verdict key a response is checked against: a worker's origin's, else its frame's.
async function keyForResponse(src, p) {
  const w = await workerOf(src.targetId || p.frameId);
  if (w) return w.origin && /^https?:/.test(w.origin) ? originKey(w.origin) : "none";
  return frameKey(src.tabId, p.frameId);
}

// ---------------------------------------------------------------------------------------
// Python calls with fail-closed re-judging after a restart
// ---------------------------------------------------------------------------------------

async function rejudge(key) {
  const inputs = await getSession(`inputs:${key}`);
  if (!inputs) return false;
  const out = await py.call("judge_navigation", inputs);
  stats.rejudged++;
  return !out.error && out.key === key;
}

async function checkResource(key, url, destination, body) {
  const req = { key, url, destination, body };
  let out = await py.call("check_resource", req);
  if (out.error === "unknown_key" && (await rejudge(key))) {
    out = await py.call("check_resource", req);
  }
  if (out.error) return { allowed: false, reason: "internal_error", detail: out.error, enforcing: true };
  return out;
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

async function destinationOf(p, isMainFrame, workerScript = null) {
  let sec = secFetchDest.get(p.networkId);
  if (sec === undefined && p.networkId) {
    sec = await new Promise((resolve) => {
      destWaiters.set(p.networkId, resolve);
      setTimeout(() => resolve(undefined), 150);
    });
    destWaiters.delete(p.networkId);
  }
  secFetchDest.delete(p.networkId);
  const out = await py.call("fetch_destination", {
    sec_fetch_dest: sec || null,
    resource_type: p.resourceType,
    content_type: headerValue(p.responseHeaders, "content-type"),
    main_frame: isMainFrame,
    worker_script: workerScript,
  });
  return out.destination;
}

async function responseBody(t, requestId) {
  const r = await send(t, "Fetch.getResponseBody", { requestId });
  return r.base64Encoded ? r.body : utf8ToB64(r.body);
}

async function fail(t, requestId) {
  await send(t, "Fetch.failRequest", { requestId, errorReason: "BlockedByClient" }).catch(() => {});
}

async function cont(t, requestId) {
  await send(t, "Fetch.continueRequest", { requestId }).catch(() => {});
}

function recordViolation(tabId, entry) {
  violations.push({ tabId, time: Date.now(), ...entry });
  if (violations.length > 200) violations.shift();
}

async function onRequestPaused(src, p) {
  stats.paused++;
  const t = target(src);
  try {
    await py.ready;
    const status = p.responseStatusCode || 0;
    if (p.responseErrorReason || (status >= 300 && status < 400)) {
      await cont(t, p.requestId); // errors and redirects carry no code; the final hop is judged
      return;
    }
    if (p.resourceType === "Document") {
      await onDocument(src, t, p);
    } else {
      await onSubresource(src, t, p);
    }
  } catch (e) {
    stats.errors++;
    log("error while judging", p.request && p.request.url, String(e && e.stack ? e.stack : e));
    await fail(t, p.requestId); // fail closed
  }
}

async function onSubresource(src, t, p) {
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
    await noteViolation(src.tabId, p.request.url, destination, res, v);
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

// A shared worker is not auto-attached to any tab; its main script is fetched through the
// page's session. While that response is paused, the worker's target exists: attach to it
// (chrome.debugger, by target id) and enable Fetch, so everything it fetches afterwards
// (importScripts, its own fetches) is paused and checked like the page's responses.
// Returns false when a worker target for that script was expected but not gated.
async function gateSharedWorker(url, expected) {
  const deadline = Date.now() + (expected ? SHARED_WORKER_WAIT_MS : 0);
  for (;;) {
    const all = await chrome.debugger.getTargets();
    // (Chromium reuses a shared worker's target when the worker is started again with the
    // same script and name, and keeps our session on it: then Fetch is enabled again.)
    const found = all.filter((x) => x.type === "worker" && x.url === url && x.tabId === undefined && !/^Service Worker /.test(x.title || ""));
    if (found.length) {
      let ok = true;
      for (const x of found) ok = (await attachWorkerTarget(x.id, url)) && ok;
      return ok;
    }
    if (Date.now() >= deadline) return !expected;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function attachWorkerTarget(targetId, url) {
  const t = { targetId };
  if (attachedWorkers.has(targetId)) {
    try {
      await send(t, "Fetch.enable", { patterns: FETCH_PATTERNS });
      // a worker restarted under an attached session waits for the debugger: resume it
      // (answered only once it runs, so not awaited)
      send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
      return true;
    } catch (e) {
      attachedWorkers.delete(targetId); // our session is gone: attach again
    }
  }
  try {
    await chrome.debugger.attach(t, PROTOCOL);
  } catch (e) {
    if (!/already attached/i.test(String(e && e.message ? e.message : e))) {
      log("cannot attach to shared worker", url, String(e));
      return false;
    }
  }
  attachedWorkers.add(targetId);
  await rememberWorker(targetId, url, "sharedworker");
  try {
    await send(t, "Fetch.enable", { patterns: FETCH_PATTERNS });
  } catch (e) {
    log("cannot intercept shared worker", url, String(e));
    return false;
  }
  send(t, "Network.enable", {}).catch(() => {});
  send(t, "Network.setCacheDisabled", { cacheDisabled: true }).catch(() => {});
  // our session from before a restart of this worker may still hold the target: a worker
  // started again under it waits for the debugger (answered only once it runs)
  send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
  stats.workersGated++;
  return true;
}

async function fetchManifest(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), MANIFEST_TIMEOUT_MS);
  try {
    const r = await fetch(url, { credentials: "omit", cache: "no-store", signal: ctl.signal });
    if (!r.ok) return null;
    return bytesToB64(new Uint8Array(await r.arrayBuffer()));
  } catch (e) {
    return null; // unavailable: judged as manifest_unavailable
  } finally {
    clearTimeout(timer);
  }
}

async function onDocument(src, t, p) {
  stats.navigations++;
  const url = p.request.url;
  const destination = await destinationOf(p, !parentOf(p.frameId));
  const isMain = destination === "document";
  // 1. an iframe is first a resource of its parent document
  if (!isMain) {
    const parentKey = await frameKey(src.tabId, parentOf(p.frameId));
    const pv = parentKey && parentKey !== "none" ? await summary(parentKey) : null;
    if (pv && pv.gated) {
      const body = await responseBody(t, p.requestId);
      const res = await checkResource(parentKey, url, destination, body);
      stats.checked++;
      if (res.reason) {
        const item = { url, destination, reason: res.reason, allowed: res.allowed };
        recordViolation(src.tabId, item);
        await noteViolation(src.tabId, url, destination, res, pv);
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
    await setFrameKey(src.tabId, p.frameId, "none", isMain);
    await cont(t, p.requestId);
    return;
  }
  const origin = new URL(url).origin;
  const header = headerValue(p.responseHeaders, HEADER_NAME);
  const { trust, preload } = await settings();
  const stateKey = `origin:${origin}`;
  const originState = (await chrome.storage.local.get(stateKey))[stateKey] || null;
  const now = nowSeconds();
  const base = { url, header, now, trust, preload, origin_state: originState };
  const plan = await py.call("plan_navigation", base);
  if (plan.error) throw new Error(`plan_navigation: ${plan.error}`);
  if (!plan.gated) {
    await setFrameKey(src.tabId, p.frameId, "none", isMain);
    if (isMain) await setOriginKey(origin, "none");
    await continueDocument(t, p, origin, null);
    if (isMain) await setTabStatus(src.tabId, { badge: "none", url });
    return;
  }
  const manifest = plan.manifest_url ? await fetchManifest(plan.manifest_url) : null;
  const body = await responseBody(t, p.requestId);
  const inputs = {
    ...base,
    manifest_response: manifest,
    resources: [{ url, destination: "document", body }],
    registrations: await pluginRegistrations(),
    plugins: null,
  };
  let out = await py.call("judge_navigation", inputs);
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
  verdicts.set(key, brief);
  // persist before anything of the document can run
  const { resources: _r, ...inputsNoDoc } = inputs;
  await chrome.storage.session.set({ [`verdict:${key}`]: brief, [`inputs:${key}`]: inputsNoDoc });
  if (out.origin_state) await chrome.storage.local.set({ [stateKey]: out.origin_state });
  else await chrome.storage.local.remove(stateKey);
  await setFrameKey(src.tabId, p.frameId, key, isMain);
  if (isMain || !originKeys.has(origin)) await setOriginKey(origin, key);
  await updateCspRule(origin, out.csp ? { header: out.csp_header, value: out.csp } : null);
  const doc = out.resources[0];
  // reports of this navigation go to the endpoints its (ratcheted) header names
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
    await setTabStatus(src.tabId, {
      badge: out.badge,
      url,
      manifest: out.manifest,
      info: out.info,
      block: out.block,
      document: doc,
      key,
      judged: now,
      violations: doc && doc.reason ? [{ url, destination: "document", reason: doc.reason, detail: out.manifest.detail, allowed: doc.allowed }] : [],
    });
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
  await continueDocument(
    t, p, origin, out.csp ? { header: out.csp_header, value: out.csp } : null, body, out.wasm,
  );
}

// Continue a document response, with the inline CSP of its verdict (if any) and without a
// stale CSP that our declarativeNetRequest rule added from an earlier verdict.
async function continueDocument(t, p, origin, csp, body = null, wasm = null) {
  const stale = (await chrome.storage.local.get(`csp:${origin}`))[`csp:${origin}`];
  const token = await guardToken();
  const headers = [];
  let changed = false;
  for (const h of p.responseHeaders || []) {
    const name = h.name.toLowerCase();
    if (name === "server-timing" && h.value.includes(`waict-${token}`)) {
      changed = true; // a forged guard policy: dropped
      continue;
    }
    if (stale && name === stale.header.toLowerCase()) {
      if (h.value === stale.value) {
        changed = true;
        continue;
      }
      if (h.value.endsWith(`, ${stale.value}`)) {
        headers.push({ name: h.name, value: h.value.slice(0, -(stale.value.length + 2)) });
        changed = true;
        continue;
      }
    }
    headers.push(h);
  }
  if (csp) {
    headers.push({ name: csp.header, value: csp.value });
    changed = true;
  }
  const guard = guardHeader(token, wasm);
  if (guard) {
    headers.push(guard);
    changed = true;
  }
  if (!changed) {
    await cont(t, p.requestId);
    return;
  }
  // Fetch.continueResponse changes the headers the page sees but not the policies Chromium
  // already parsed from them (CSP included): fulfil with the very same body instead.
  await send(t, "Fetch.fulfillRequest", {
    requestId: p.requestId,
    responseCode: p.responseStatusCode,
    responsePhrase: p.responseStatusText || undefined,
    responseHeaders: headers,
    body: body === null ? await responseBody(t, p.requestId) : body,
  });
}

// The same CSP for the origin's later document loads, as a declarativeNetRequest rule: it
// applies even before this worker sees the response.
async function updateCspRule(origin, csp) {
  const storeKey = `csp:${origin}`;
  const { cspRules = {} } = await chrome.storage.local.get("cspRules");
  let id = cspRules[origin];
  if (!csp) {
    if (id) {
      await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: [id] });
      delete cspRules[origin];
      await chrome.storage.local.set({ cspRules });
    }
    await chrome.storage.local.remove(storeKey);
    return;
  }
  if (!id) {
    const used = new Set(Object.values(cspRules));
    id = CSP_RULE_BASE;
    while (used.has(id)) id++;
    cspRules[origin] = id;
    await chrome.storage.local.set({ cspRules });
  }
  await chrome.declarativeNetRequest.updateDynamicRules({
    removeRuleIds: [id],
    addRules: [
      {
        id,
        priority: 1,
        action: {
          type: "modifyHeaders",
          responseHeaders: [{ header: csp.header, operation: "append", value: csp.value }],
        },
        condition: { urlFilter: `|${origin}/`, resourceTypes: ["main_frame", "sub_frame"] },
      },
    ],
  });
  await chrome.storage.local.set({ [storeKey]: csp });
}

// The block page reads everything from its URL (it works even when this worker is gone):
// the page, Python's block reason, detail, technical message and plain-word explanation.
async function showBlockPage(tabId, url, out) {
  const b = out.block || { reason: out.manifest.reason, detail: out.manifest.detail };
  const ex = b.explanation || {};
  const params = new URLSearchParams({
    url,
    reason: b.reason || "",
    detail: b.detail || "",
    status: out.manifest.status,
    mode: (out.info && out.info.mode) || "",
    enforcing: out.enforcing ? "1" : "0",
    message: b.message || (out.info && out.info.message) || "",
    text: ex.text || "",
    action: ex.action || "",
  });
  await chrome.tabs.update(tabId, { url: chrome.runtime.getURL(`block.html?${params}`) }).catch((e) => log("block page", String(e)));
}

// ---------------------------------------------------------------------------------------
// WebAssembly guard (see wasm_guard.js): registered per session before a document is released
// ---------------------------------------------------------------------------------------

let guardSource = null;

// The secret Server-Timing entry name that carries the guard's policy; one per browser
// session (chrome.storage.session), since the registered scripts outlive this worker.
async function guardToken() {
  let token = await getSession("guardToken");
  if (!token) {
    token = crypto.randomUUID().replace(/-/g, "");
    await chrome.storage.session.set({ guardToken: token });
  }
  return token;
}

async function registerGuard(t) {
  if (guardSource === null) {
    const text = await (await fetch(chrome.runtime.getURL("wasm_guard.js"))).text();
    guardSource = text.replace("__WAICT_TOKEN__", await guardToken());
  }
  await send(t, "Page.addScriptToEvaluateOnNewDocument", { source: guardSource });
}

function guardHeader(token, wasm) {
  if (!wasm || !wasm.covered) return null;
  const policy = { covered: true, enforcing: wasm.enforcing, allowed: wasm.allowed };
  const b64u = utf8ToB64(JSON.stringify(policy)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return { name: "Server-Timing", value: `waict-${token};desc="${b64u}"` };
}

// ---------------------------------------------------------------------------------------
// Badge and popup state
// ---------------------------------------------------------------------------------------

async function setTabStatus(tabId, status) {
  await chrome.storage.session.set({ [`tab:${tabId}`]: status });
  await showBadge(tabId, status);
}

// Chromium clears a tab's badge when a navigation commits: set it at judgement time and
// again on commit (webNavigation.onCommitted).
async function showBadge(tabId, status) {
  const b = BADGES[status.badge] || BADGES.none;
  await chrome.action.setBadgeText({ tabId, text: b.text }).catch(() => {});
  await chrome.action.setBadgeBackgroundColor({ tabId, color: b.color }).catch(() => {});
  await chrome.action.setTitle({ tabId, title: b.title }).catch(() => {});
}

async function noteViolation(tabId, url, destination, res, verdict = null) {
  if (tabId === undefined) return;
  const key = `tab:${tabId}`;
  const status = await getSession(key);
  if (!status) return;
  const detail = verdict ? verdict.detail || null : null;
  status.violations = [...(status.violations || []), { url, destination, reason: res.reason, detail, allowed: res.allowed }].slice(-50);
  await chrome.storage.session.set({ [key]: status });
}

// ---------------------------------------------------------------------------------------
// Auto-attached targets: iframes in other processes, workers
// ---------------------------------------------------------------------------------------

async function onAttached(src, params) {
  const t = { tabId: src.tabId, sessionId: params.sessionId };
  const info = params.targetInfo;
  const type = info.type;
  try {
    if (type === "iframe" || type === "page") {
      await enableSession(t);
    } else if (type === "worker") {
      // Dedicated workers load through their parent's network session (already gated).
      await send(t, "Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }).catch(() => {});
    } else if (type === "service_worker") {
      try {
        await gateServiceWorker(t, info);
      } catch (e) {
        // fail closed: a WAICT origin's service worker we cannot gate is never resumed,
        // and removed (left paused, it would run once our session detaches)
        log("service worker not gated, removed:", info.url, String(e));
        await refuseScript({ origin: new URL(info.url).origin }).catch(() => {});
        return;
      }
    }
  } catch (e) {
    log("could not gate", type, info.url, String(e));
  }
  await send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
}

// A service worker of a WAICT origin, auto-attached to a tab's session and waiting for
// the debugger: its main script is fetched only after this point (measured), so Fetch
// enabled now pauses it, and every script it imports, in this session. Only Fetch.enable
// is awaited: the worker's other domains answer only once it runs (they would wait forever
// here), so they are sent without waiting, before the worker is resumed.
async function gateServiceWorker(t, info) {
  let origin = null;
  try {
    origin = new URL(info.url).origin;
  } catch (e) {
    return;
  }
  if (!/^https?:/.test(origin) || (await originKey(origin)) === "none") return;
  const w = await rememberWorker(info.targetId, info.url, "serviceworker");
  workerSessions.set(t.sessionId, w);
  await chrome.storage.session.set({ [`wsession:${t.sessionId}`]: w });
  await send(t, "Fetch.enable", { patterns: FETCH_PATTERNS });
  send(t, "Network.enable", {}).catch(() => {});
  send(t, "Network.setCacheDisabled", { cacheDisabled: true }).catch(() => {});
  // Second gate: every script pauses before it runs (instrumentation breakpoint) and its
  // source is checked. This covers what never crosses the network in this session: an
  // updated version's scripts (taken from the update check's copy) and scripts started
  // from the service-worker script cache.
  send(t, "Debugger.enable", {}).catch(() => {});
  send(t, "Debugger.setInstrumentationBreakpoint", { instrumentation: "beforeScriptExecution" }).catch(() => {});
  stats.workersGated++;
}

async function workerOfSession(sessionId) {
  if (!sessionId) return null;
  if (workerSessions.has(sessionId)) return workerSessions.get(sessionId);
  const stored = await getSession(`wsession:${sessionId}`);
  if (stored) workerSessions.set(sessionId, stored);
  return stored || null;
}

// A service worker's script is about to run: check its source against the origin's
// verdict. Scripts are decoded as UTF-8 by the browser, so their UTF-8 bytes are hashed: a
// script served with a byte-order mark or invalid UTF-8 does not match (fails closed).
//
// A refused script is never resumed. An extension may not terminate JavaScript
// (Runtime.terminateExecution: "not allowed for untrusted clients"), Debugger.setScriptSource
// is gone, and a worker left paused would run once our session detaches (its tab closes).
// So the origin's service workers are removed (chrome.browsingData.removeServiceWorkers):
// the browser stops the paused worker and unregisters the origin's workers; the page's
// register()/update() rejects. Measured: the refused code never runs, also after the tab
// closed. The site's valid worker goes too; its page registers it again on the next visit.
async function onScriptPaused(src, params) {
  const t = target(src);
  const resume = () => send(t, "Debugger.resume", {}).catch(() => {});
  try {
    const w = await workerOfSession(src.sessionId);
    const data = params.data || {};
    if (!w || params.reason !== "instrumentation" || !/^https?:/.test(data.url || "")) {
      await resume(); // not ours to check (a `debugger;` statement, an eval'd script)
      return;
    }
    const key = await originKey(w.origin);
    const v = key !== "none" && key !== "no_verdict" ? await summary(key) : null;
    if (key === "none" || (v && !v.gated)) {
      await resume();
      return;
    }
    let res = { allowed: false, reason: "no_verdict", enforcing: true };
    const destination = data.url === w.url ? "serviceworker" : "script";
    if (v) {
      const { scriptSource } = await send(t, "Debugger.getScriptSource", { scriptId: data.scriptId });
      res = await checkResource(key, data.url, destination, utf8ToB64(scriptSource));
    }
    stats.checked++;
    if (res.reason) {
      const item = { url: data.url, destination, reason: res.reason, allowed: res.allowed };
      recordViolation(src.tabId, { ...item, stage: "execution" });
      queueReport(src.tabId, key, { ...item, detail: v ? v.detail || null : null, report_only: res.allowed });
    }
    if (res.allowed) {
      await resume();
      return;
    }
    stats.blocked++;
    log("service worker script refused before it ran:", data.url, res.reason);
    await refuseScript(w);
  } catch (e) {
    stats.errors++;
    log("error while checking a service worker script", String(e && e.stack ? e.stack : e));
    const w = await workerOfSession(src.sessionId).catch(() => null);
    if (w) await refuseScript(w); // fail closed
    else await resume();
  }
}

async function refuseScript(w) {
  try {
    await chrome.browsingData.removeServiceWorkers({ origins: [w.origin] });
  } catch (e) {
    log("could not remove the service workers of", w.origin, String(e));
  }
}
// ---------------------------------------------------------------------------------------
// Reports: waict-violation reports, batched per navigation, POSTed after a short delay
// (Python builds them: verifier.browser.build_reports). Nothing here is awaited by the
// code that pauses and releases responses, so a report never blocks or delays a page.
// ---------------------------------------------------------------------------------------

function startReports(tabId, key, doc) {
  const id = `${tabId}|${key}`;
  const old = reportBatches.get(id);
  if (old) sendBatch(old); // a new navigation: the previous one's reports go now
  const batch = { id, key, ...doc, items: [], timer: null, first: 0 };
  reportBatches.set(id, batch);
  reportBatchByKey.set(key, batch);
}

function queueReport(tabId, key, item) {
  const batch = reportBatches.get(`${tabId}|${key}`) || reportBatchByKey.get(key);
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

function flushReports(tabId, key) {
  const batch = reportBatches.get(`${tabId}|${key}`);
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

// ---------------------------------------------------------------------------------------
// Plugins (docs/plugin-api.md): other extensions read verified manifests and approve or
// veto manifests of the origins they registered for. Their answers go to Python
// (judge_navigation "plugins"), which turns anything but an approval into
// invalid_manifest / plugin_veto:<id>.
// ---------------------------------------------------------------------------------------

async function pluginTable() {
  const { plugins = {} } = await chrome.storage.local.get("plugins");
  return plugins;
}

async function pluginRegistrations() {
  const table = await pluginTable();
  return Object.keys(table).sort().map((id) => ({ id, patterns: table[id].patterns }));
}

async function askPlugin(id, timeoutMs, message) {
  let timer = null;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ id, verdict: "timeout", reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const asked = chrome.runtime.sendMessage(id, message).then(
    (answer) => {
      if (answer && (answer.verdict === "approve" || answer.verdict === "veto")) {
        return { id, verdict: answer.verdict, reason: typeof answer.reason === "string" ? answer.reason : null };
      }
      return { id, verdict: "invalid", reason: "the answer is not {verdict: \"approve\"|\"veto\"}" };
    },
    (e) => ({ id, verdict: "unreachable", reason: String(e && e.message ? e.message : e) }),
  );
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function askPlugins(ids, view, where) {
  const table = await pluginTable();
  const requestId = crypto.randomUUID();
  const message = {
    type: "waict.approve",
    api: PLUGIN_API,
    request_id: requestId,
    url: where.url,
    tabId: where.tabId,
    frameId: where.frameId,
    main_frame: where.isMain,
    manifest: view,
  };
  stats.pluginAsks++;
  const answers = await Promise.all(ids.map((id) => askPlugin(id, (table[id] && table[id].timeout_ms) || 3000, message)));
  for (const a of answers) {
    pluginLog.push({ time: Date.now(), url: where.url, ...a });
    if (pluginLog.length > 100) pluginLog.shift();
    if (a.verdict !== "approve") log("plugin", a.id, a.verdict, where.url, a.reason || "");
  }
  return answers;
}

// The verified-manifest view of a verdict key (re-judged after a restart when needed).
async function manifestView(key, url) {
  let out = await py.call("manifest_view", { key, url });
  if (out.error === "unknown_key" && (await rejudge(key))) out = await py.call("manifest_view", { key, url });
  return out;
}

async function onExternal(msg, sender) {
  if (!msg || typeof msg.type !== "string") return { ok: false, error: "a message needs a type" };
  const id = sender && sender.id;
  if (!id) return { ok: false, error: "only extensions may use the WAICT plugin API" };
  const table = await pluginTable();
  switch (msg.type) {
    case "waict.hello":
      return { ok: true, api: PLUGIN_API, version: chrome.runtime.getManifest().version, registered: !!table[id] };
    case "waict.register": {
      const out = await py.call("plugin_registration", { patterns: msg.patterns, timeout_ms: msg.timeout_ms });
      if (out.error) return { ok: false, error: out.error };
      if (!out.ok) return out;
      table[id] = { patterns: out.patterns, timeout_ms: out.timeout_ms, name: typeof msg.name === "string" ? msg.name.slice(0, 80) : "", since: Date.now() };
      await chrome.storage.local.set({ plugins: table });
      log("plugin registered", id, out.patterns.join(" "));
      return { ok: true, api: PLUGIN_API, patterns: out.patterns, timeout_ms: out.timeout_ms };
    }
    case "waict.unregister":
      delete table[id];
      await chrome.storage.local.set({ plugins: table });
      return { ok: true };
    case "waict.getManifest": {
      let key = null;
      let url = typeof msg.url === "string" ? msg.url : null;
      if (Number.isInteger(msg.tabId)) {
        if (!table[id]) return { ok: false, error: "register first to ask about a tab" };
        const status = await getSession(`tab:${msg.tabId}`);
        key = status ? status.key || "none" : null;
        url = status ? status.url : null;
      } else if (typeof msg.origin === "string") {
        let origin = null;
        try {
          origin = new URL(msg.origin).origin;
        } catch (e) {
          return { ok: false, error: "origin must be an http(s) origin" };
        }
        key = await originKey(origin);
        url = url || `${origin}/`;
      } else {
        return { ok: false, error: "name a tabId or an origin" };
      }
      if (!key) return { ok: false, error: "no navigation was judged in that tab" };
      if (key === "none" || key === "no_verdict") return { ok: true, manifest: { status: "none", url } };
      const view = await manifestView(key, url);
      if (view.error) return { ok: false, error: view.error };
      return { ok: true, manifest: view };
    }
    default:
      return { ok: false, error: `unknown message type ${msg.type}` };
  }
}

// ---------------------------------------------------------------------------------------
// Extension pages: popup, options, block page
// ---------------------------------------------------------------------------------------

async function tabStatusFor(tabId) {
  const s = await getSession(`tab:${tabId}`);
  if (!s) return null;
  const items = (s.violations || []).map((v) => ({ reason: v.reason, detail: v.detail || null }));
  if (items.length) {
    const out = await py.call("explain_codes", { items });
    if (!out.error) s.violations.forEach((v, i) => { v.explanation = out.explanations[i]; });
  }
  s.now = nowSeconds();
  return s;
}

async function settingsView() {
  const d = await loadDefaults();
  const s = await settings();
  const check = await py.call("validate_settings", {
    trust: s.trust,
    preload_source: s.preloadSource,
    preload: s.preloadSource === "none" ? null : s.preload,
    now: nowSeconds(),
  });
  const table = await pluginTable();
  return {
    trust: s.trust,
    trust_source: s.trustSource,
    preload_source: s.preloadSource,
    bundled_preload: !!d.preload,
    preload: check.ok ? check.preload : null,
    preload_problem: check.ok ? null : check.error,
    warnings: check.ok ? check.warnings : [],
    plugins: Object.keys(table).sort().map((id) => ({ id, ...table[id] })),
  };
}

async function saveSettings(msg) {
  const d = await loadDefaults();
  const source = msg.preload_source;
  let body = null;
  if (source === "upload") body = msg.preload || null;
  else if (source === "default") body = d.preload;
  const out = await py.call("validate_settings", { trust: msg.trust, preload_source: source, preload: body, now: nowSeconds() });
  if (out.error) return { ok: false, field: "trust", error: out.error };
  if (!out.ok) return out; // refused: nothing is saved
  const stored = { trust: out.trust, preload_source: source };
  if (source === "upload") stored.preload = body;
  await chrome.storage.local.set({ settings: stored });
  await settingsChanged();
  return { ok: true, warnings: out.warnings, preload: out.preload };
}

async function settingsChanged() {
  defaults = null;
  await py.runPython("from verifier import browser\nbrowser.clear_cache()");
}

chrome.runtime.onMessageExternal.addListener((msg, sender, reply) => {
  onExternal(msg, sender).then(reply, (e) => reply({ ok: false, error: String(e && e.message ? e.message : e) }));
  return true;
});

// ---------------------------------------------------------------------------------------
// Listeners (registered synchronously at start-up, so events wake this worker)
// ---------------------------------------------------------------------------------------

chrome.debugger.onEvent.addListener((src, method, params) => {
  switch (method) {
    case "Fetch.requestPaused":
      onRequestPaused(src, params);
      break;
    case "Network.requestWillBeSentExtraInfo": {
      const h = params.headers || {};
      const dest = h["Sec-Fetch-Dest"] || h["sec-fetch-dest"];
      if (dest) {
        secFetchDest.set(params.requestId, dest);
        const w = destWaiters.get(params.requestId);
        if (w) w(dest);
        if (secFetchDest.size > 5000) secFetchDest.delete(secFetchDest.keys().next().value);
      }
      break;
    }
    case "Debugger.paused":
      onScriptPaused(src, params);
      break;
    case "Page.frameAttached":
      parents.set(params.frameId, params.parentFrameId);
      break;
    case "Target.attachedToTarget":
      onAttached(src, params);
      break;
    default:
      break;
  }
});

chrome.debugger.onDetach.addListener((src, reason) => {
  if (src.targetId !== undefined) {
    attachedWorkers.delete(src.targetId);
    return;
  }
  if (src.tabId === undefined) return;
  log("detached from tab", src.tabId, reason);
  tabs.delete(src.tabId);
  gatedTabs.delete(src.tabId);
  updateSafetyRule().then(() => {
    if (reason !== "target_closed") gate(src.tabId);
  });
});

chrome.tabs.onCreated.addListener((tab) => gate(tab.id));
chrome.tabs.onRemoved.addListener((tabId) => {
  tabs.delete(tabId);
  if (gatedTabs.delete(tabId)) updateSafetyRule();
  chrome.storage.session.remove([`tab:${tabId}`, `top:${tabId}`]);
});
chrome.tabs.onUpdated.addListener((tabId, info) => {
  if (info.url && /^https?:/.test(info.url) && !gatedTabs.has(tabId)) gate(tabId);
});

chrome.webNavigation.onCommitted.addListener(async (d) => {
  if (d.frameId !== 0) return;
  const status = await getSession(`tab:${d.tabId}`);
  if (status && status.url === d.url) await showBadge(d.tabId, status);
  else if (/^https?:/.test(d.url)) await showBadge(d.tabId, { badge: "none" });
});

// A navigation the safety rule blocked (its tab was not gated yet): gate, then retry it.
const safetyRetries = new Map(); // tab id -> retries after a safety-rule block

chrome.webNavigation.onErrorOccurred.addListener(async (d) => {
  if (d.frameId !== 0 || !/ERR_BLOCKED_BY_CLIENT/.test(d.error) || !/^https?:/.test(d.url)) return;
  const wasGated = gatedTabs.has(d.tabId);
  if (wasGated) return; // blocked by a verdict, not by the safety rule
  if (await gate(d.tabId)) {
    if (!gatedTabs.has(d.tabId)) {
      gatedTabs.add(d.tabId); // gated, so it must be exempt from the safety rule
      await updateSafetyRule();
    }
    const tries = (safetyRetries.get(d.tabId) || 0) + 1;
    safetyRetries.set(d.tabId, tries);
    if (tries > 3) return; // never loop: the user can reload
    await chrome.tabs.update(d.tabId, { url: d.url });
  }
});

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  // only this extension's own pages (popup, options, block page) talk to this listener
  if (!msg || sender.id !== chrome.runtime.id) return false;
  const handlers = {
    status: () => tabStatusFor(msg.tabId),
    "get-settings": () => settingsView(),
    "save-settings": () => saveSettings(msg),
    "reset-settings": async () => {
      await chrome.storage.local.remove("settings");
      await settingsChanged();
      return { ok: true };
    },
    "remove-plugin": async () => {
      const table = await pluginTable();
      delete table[msg.id];
      await chrome.storage.local.set({ plugins: table });
      return { ok: true };
    },
    "settings-changed": async () => {
      await settingsChanged();
      return true;
    },
  };
  const handler = handlers[msg.type];
  if (!handler) return false;
  handler().then(reply, (e) => reply({ ok: false, error: String(e && e.message ? e.message : e) }));
  return true;
});
// ---------------------------------------------------------------------------------------
// Start-up and test hooks
// ---------------------------------------------------------------------------------------

const startup = recoverTabs();

globalThis.waict = {
  py,
  stats,
  violations,
  logs,
  timings: py.timings,
  startup,
  gatedTabs,
  pluginLog,
  workerTargets,
  async whenAllTabsGated() {
    await startup;
    const all = await chrome.tabs.query({});
    const ok = await Promise.all(all.map((t) => gate(t.id)));
    return all.map((t, i) => [t.id, ok[i]]);
  },
  async tabStatus(tabId) {
    return getSession(`tab:${tabId}`);
  },
};
