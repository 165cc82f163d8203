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

import * as py from "./python.js";

const PROTOCOL = "1.3";
const FETCH_PATTERNS = [{ urlPattern: "*", requestStage: "Response" }];
const HEADER_NAME = "integrity-policy-waict-v1";
const SAFETY_RULE_ID = 1;
const CSP_RULE_BASE = 1000;
const MANIFEST_TIMEOUT_MS = 20000;
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
const stats = { paused: 0, checked: 0, blocked: 0, navigations: 0, rejudged: 0, errors: 0 };
const violations = []; // recent blocked/reported resources (tests, popup)

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
  return {
    trust: s && s.trust ? s.trust : d.trust,
    preload: s && s.preload !== undefined && s.preload !== null ? s.preload : d.preload,
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
  return src.sessionId ? { tabId: src.tabId, sessionId: src.sessionId } : { tabId: src.tabId };
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
  for (const id of (old && old.condition.excludedTabIds) || []) if (id !== -1) gatedTabs.add(id);
  const ids = await gateAll();
  for (const id of [...gatedTabs]) if (!ids.includes(id)) gatedTabs.delete(id);
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

async function destinationOf(p, isMainFrame) {
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
  const key = await frameKey(src.tabId, p.frameId);
  const v = key && key !== "none" ? await summary(key) : null;
  if (!v || !v.gated) {
    await cont(t, p.requestId);
    return;
  }
  const destination = await destinationOf(p, false);
  const body = await responseBody(t, p.requestId);
  const res = await checkResource(key, p.request.url, destination, body);
  stats.checked++;
  if (res.reason) {
    recordViolation(src.tabId, { url: p.request.url, destination, reason: res.reason, allowed: res.allowed });
    await noteViolation(src.tabId, p.request.url, destination, res);
  }
  if (res.allowed) {
    await cont(t, p.requestId);
  } else {
    stats.blocked++;
    await fail(t, p.requestId);
  }
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
        recordViolation(src.tabId, { url, destination, reason: res.reason, allowed: res.allowed });
        await noteViolation(src.tabId, url, destination, res);
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
  };
  const out = await py.call("judge_navigation", inputs);
  if (out.error) throw new Error(`judge_navigation: ${out.error}`);
  const key = out.key;
  const brief = {
    gated: out.gated,
    enforcing: out.enforcing,
    badge: out.badge,
    origin,
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
  await updateCspRule(origin, out.csp ? { header: out.csp_header, value: out.csp } : null);
  const doc = out.resources[0];
  if (doc && doc.reason) recordViolation(src.tabId, { url, destination: "document", reason: doc.reason, allowed: doc.allowed });
  if (isMain) {
    await setTabStatus(src.tabId, {
      badge: out.badge,
      url,
      manifest: out.manifest,
      info: out.info,
      document: doc,
      key,
      violations: [],
    });
  }
  if (out.navigation === "block") {
    stats.blocked++;
    await fail(t, p.requestId);
    if (isMain) await showBlockPage(src.tabId, url, out, doc);
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

async function showBlockPage(tabId, url, out, doc) {
  const params = new URLSearchParams({
    url,
    reason: (doc && !doc.allowed && out.manifest.status !== "invalid" ? doc.reason : out.manifest.reason) || "",
    detail: out.manifest.detail || "",
    status: out.manifest.status,
    message: (out.info && out.info.message) || "",
  });
  await chrome.tabs.update(tabId, { url: chrome.runtime.getURL(`block.html?${params}`) });
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

async function noteViolation(tabId, url, destination, res) {
  const key = `tab:${tabId}`;
  const status = await getSession(key);
  if (!status) return;
  status.violations = [...(status.violations || []), { url, destination, reason: res.reason, allowed: res.allowed }].slice(-50);
  await chrome.storage.session.set({ [key]: status });
}

// ---------------------------------------------------------------------------------------
// Auto-attached targets: iframes in other processes, workers
// ---------------------------------------------------------------------------------------

async function onAttached(src, params) {
  const t = { tabId: src.tabId, sessionId: params.sessionId };
  const type = params.targetInfo.type;
  try {
    if (type === "iframe" || type === "page") {
      await enableSession(t);
    } else if (type === "worker") {
      // Dedicated workers load through their parent's network session (already gated).
      await send(t, "Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }).catch(() => {});
    }
  } catch (e) {
    log("could not gate", type, params.targetInfo.url, String(e));
  } finally {
    await send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
  }
}

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
chrome.webNavigation.onErrorOccurred.addListener(async (d) => {
  if (d.frameId !== 0 || !/ERR_BLOCKED_BY_CLIENT/.test(d.error) || !/^https?:/.test(d.url)) return;
  const wasGated = gatedTabs.has(d.tabId);
  if (wasGated) return; // blocked by a verdict, not by the safety rule
  if (await gate(d.tabId)) {
    await chrome.tabs.update(d.tabId, { url: d.url });
  }
});

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (msg && msg.type === "status") {
    getSession(`tab:${msg.tabId}`).then((s) => reply(s || null));
    return true;
  }
  if (msg && msg.type === "settings-changed") {
    defaults = null;
    py.runPython("from verifier import browser\nbrowser.clear_cache()").finally(() => reply(true));
    return true;
  }
  return false;
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
