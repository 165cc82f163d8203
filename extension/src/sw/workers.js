// Auto-attached targets (iframes in other processes, workers), shared workers (attached by
// target id while their main script is paused) and service workers (their scripts checked
// on the network and again before they run).

import { state, log } from "./state.js";
import { PROTOCOL, FETCH_PATTERNS, target, send, isGone } from "./cdp.js";
import { utf8ToB64 } from "./util.js";
import {
  originKey, summary, checkResource, rememberWorker, rememberWorkerSession, workerOfSession,
} from "./verdicts.js";
import { enableSession } from "./gating.js";
import { recordViolation } from "./status.js";
import { queueReport } from "./reports.js";

const SHARED_WORKER_WAIT_MS = 1000; // how long to look for a shared worker's target

const { stats, attachedWorkers, swGatingBySession, pausedWorkerSessions } = state.worker;

// A shared worker is not auto-attached to any tab; its main script is fetched through the
// page's session. While that response is paused, the worker's target exists: attach to it
// (chrome.debugger, by target id) and enable Fetch, so everything it fetches afterwards
// (importScripts, its own fetches) is paused and checked like the page's responses.
// Returns false when a worker target for that script was expected but not gated.
export async function gateSharedWorker(url, expected) {
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
  send(t, "Network.setBypassServiceWorker", { bypass: true }).catch(() => {});
  // our session from before a restart of this worker may still hold the target: a worker
  // started again under it waits for the debugger (answered only once it runs)
  send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
  stats.workersGated++;
  return true;
}

// Target.attachedToTarget (auto-attach of a tab's session)
export async function onAttached(src, params) {
  const t = { tabId: src.tabId, sessionId: params.sessionId };
  const info = params.targetInfo;
  const type = info.type;
  try {
    if (type === "iframe" || type === "page") {
      await enableSession(t);
    } else if (type === "worker") {
      const parent = await workerOfSession(src.sessionId);
      await gateDedicatedWorker(t, info, !!parent && parent.kind === "worker");
    } else if (type === "service_worker") {
      log("service worker attached", info.url, info.targetId, "waiting:", params.waitingForDebugger);
      // The instrumentation breakpoint is asked for first, before anything is awaited:
      // another debugger client of the same worker (DevTools, another extension; in the
      // tests, Playwright) may let it run as soon as it resumes it, and a script that
      // starts before our breakpoint is set is never checked. Until this session's gating
      // is decided, its pauses wait for it (onScriptPaused).
      debuggerCommand(t, "Debugger.enable", {}, info.url);
      debuggerCommand(t, "Debugger.setInstrumentationBreakpoint", { instrumentation: "beforeScriptExecution" }, info.url, async () => {
        // without the breakpoint its scripts would run unchecked: removed if it is ours
        if (await gating.catch(() => true)) await refuseScript({ origin: new URL(info.url).origin });
      });
      const gating = gateServiceWorker(t, info);
      swGatingBySession.set(t.sessionId, gating.catch(() => true)); // failed: never resumed
      try {
        if (!(await gating)) debuggerCommand(t, "Debugger.disable", {}, info.url); // not ours to check
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
  // In a worker, Runtime.runIfWaitingForDebugger also ends a pause at a breakpoint
  // (measured: a refused service-worker script, paused at our breakpoint, then ran). If
  // another debugger client already let the worker start and it paused at our breakpoint,
  // that pause is the check: it is not ended here (counted).
  if (pausedWorkerSessions.has(t.sessionId)) {
    stats.workerStartsReleasedByOthers++;
    log("worker started by another debugger client; its pause is ours:", info.url);
    return;
  }
  await send(t, "Runtime.runIfWaitingForDebugger", {}).catch(() => {});
}

// A worker's Debugger command, sent without waiting (answered only once the worker runs).
// A failure is counted: a worker gone meanwhile as workerDebuggerGone, anything else as
// workerDebuggerErrors (logged; tests assert it stays 0), then `onError` runs.
function debuggerCommand(t, method, params, url, onError = null) {
  send(t, method, params).catch((e) => {
    if (isGone(e)) {
      stats.workerDebuggerGone++;
      return;
    }
    stats.workerDebuggerErrors++;
    log(`${method} failed for worker`, url, String(e && e.message ? e.message : e));
    if (onError) onError().catch((err) => log("could not remove the worker", url, String(err)));
  });
}

// A dedicated worker, auto-attached paused. A page's worker loads its script and what it
// imports through the page's session (already gated); it starts its own workers (nested)
// outside any session that has Fetch (a worker target has no Fetch domain, measured): a
// nested worker's main script is checked right before it runs (instrumentation
// breakpoint, as for service workers), and its imports go through the page's session.
// Every dedicated worker's session bypasses service workers and the HTTP cache, and
// auto-attaches the workers it starts. Its responses are checked against the verdict of
// its origin. The other domains answer only once the worker runs: not awaited.
async function gateDedicatedWorker(t, info, nested) {
  const w = await rememberWorker(info.targetId, info.url, "worker", t.tabId);
  await rememberWorkerSession(t.sessionId, w);
  send(t, "Network.enable", {}).catch(() => {});
  send(t, "Network.setCacheDisabled", { cacheDisabled: true }).catch(() => {});
  send(t, "Network.setBypassServiceWorker", { bypass: true }).catch(() => {});
  await send(t, "Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }).catch(() => {});
  if (nested) {
    debuggerCommand(t, "Debugger.enable", {}, info.url);
    debuggerCommand(t, "Debugger.setInstrumentationBreakpoint", { instrumentation: "beforeScriptExecution" }, info.url);
  }
  stats.workersGated++;
}

// A service worker of a WAICT origin, auto-attached to a tab's session and waiting for
// the debugger: its main script is fetched only after this point (measured), so Fetch
// enabled now pauses it, and every script it imports, in this session. Only Fetch.enable
// is awaited: the worker's other domains answer only once it runs (they would wait forever
// here), so they are sent without waiting, before the worker is resumed.
// Answers whether the worker is a WAICT origin's (then gated), false when not ours.
async function gateServiceWorker(t, info) {
  let origin = null;
  try {
    origin = new URL(info.url).origin;
  } catch (e) {
    return false;
  }
  const delay = state.worker.testDelays.serviceWorkerGatingMs; // 0 but in the race's test
  if (delay) await new Promise((r) => setTimeout(r, delay));
  if (!/^https?:/.test(origin) || (await originKey(origin)) === "none") return false;
  const w = await rememberWorker(info.targetId, info.url, "serviceworker");
  await rememberWorkerSession(t.sessionId, w);
  await send(t, "Fetch.enable", { patterns: FETCH_PATTERNS });
  send(t, "Network.enable", {}).catch(() => {});
  send(t, "Network.setCacheDisabled", { cacheDisabled: true }).catch(() => {});
  // Second gate (asked for in onAttached, before this): every script pauses before it
  // runs (instrumentation breakpoint) and its source is checked. This covers what never
  // crosses the network in this session: an updated version's scripts (taken from the
  // update check's copy) and scripts started from the service-worker script cache.
  stats.workersGated++;
  return true;
}

// Debugger.paused: a service worker's script is about to run: check its source against the
// origin's verdict. Scripts are decoded as UTF-8 by the browser, so their UTF-8 bytes are
// hashed: a script served with a byte-order mark or invalid UTF-8 does not match (fails
// closed).
//
// A refused script is never resumed. An extension may not terminate JavaScript
// (Runtime.terminateExecution: "not allowed for untrusted clients"), Debugger.setScriptSource
// is gone, and a worker left paused would run once our session detaches (its tab closes).
// So the origin's service workers are removed (chrome.browsingData.removeServiceWorkers):
// the browser stops the paused worker and unregisters the origin's workers; the page's
// register()/update() rejects. Measured: the refused code never runs, also after the tab
// closed. The site's valid worker goes too; its page registers it again on the next visit.
export async function onScriptPaused(src, params) {
  if (src.sessionId) pausedWorkerSessions.add(src.sessionId); // before anything is awaited
  const t = target(src);
  const resume = () => send(t, "Debugger.resume", {}).catch(() => {});
  try {
    // a service worker's session whose gating is under way: decided first
    const gating = swGatingBySession.get(src.sessionId);
    const ours = gating === undefined ? null : await gating;
    const w = await workerOfSession(src.sessionId);
    const data = params.data || {};
    const code = params.reason === "instrumentation" && /^(https?|blob|data):/.test(data.url || "");
    if (ours === false) {
      await resume(); // not a WAICT origin's worker (our breakpoint came before we knew)
      return;
    }
    if (code && !w) {
      // Our instrumentation breakpoint is set only in sessions we remembered; a pause in a
      // session we no longer know (its entry lost) cannot be judged: fail closed, never
      // resumed (counted).
      stats.unknownWorkerPauses++;
      log("script paused in an unknown worker session, not resumed:", data.url);
      return;
    }
    const checked = w && (w.kind !== "worker" || data.url === w.url); // a nested worker: its main script
    if (!checked || !code) {
      // not ours to check (a `debugger;` statement, an eval'd script, a nested worker's
      // import); counted and logged, so a script that should have been checked is seen
      stats.workerPausesUnchecked++;
      if (w && w.kind === "serviceworker") log("service worker pause resumed unchecked:", params.reason, data.url || "(no url)");
      await resume();
      return;
    }
    const key = await originKey(w.origin);
    const v = key !== "none" && key !== "no_verdict" ? await summary(key) : null;
    if (key === "none" || (v && !v.gated)) {
      await resume();
      return;
    }
    let res = { allowed: false, reason: "no_verdict", enforcing: true };
    const own = w.kind === "serviceworker" ? "serviceworker" : "worker";
    const destination = data.url === w.url ? own : "script";
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
    log("worker script refused before it ran:", data.url, res.reason);
    await refuseScript(w);
  } catch (e) {
    stats.errors++;
    log("error while checking a service worker script", String(e && e.stack ? e.stack : e));
    const w = await workerOfSession(src.sessionId).catch(() => null);
    if (w) await refuseScript(w); // fail closed; an unknown session's script stays paused
  }
}

// An origin's first WAICT header (or a new manifest URL): service workers registered
// before it are unregistered before the document is released (design.md 6: one
// registered earlier must not answer until its script passes the check). The site's page
// registers its worker again, and that install is checked on the network and before it
// runs. Removing them stops any that is running.
export async function forgetEarlierServiceWorkers(origin) {
  await refuseScript({ origin });
}

async function refuseScript(w) {
  if (w.kind === "worker") {
    refuseDedicatedWorker(w);
    return;
  }
  try {
    await chrome.browsingData.removeServiceWorkers({ origins: [w.origin] });
  } catch (e) {
    log("could not remove the service workers of", w.origin, String(e));
  }
}

// A dedicated worker whose main script is refused is never resumed: it cannot be closed
// (Target.closeTarget: "Not allowed"; Runtime.terminateExecution: "not allowed for
// untrusted clients", measured), and it ends with the document that owns it. It would run
// only if our session went while its page lives (the user cancels debugging: then nothing
// is enforced anyway). docs/decisions.md.
function refuseDedicatedWorker(w) {
  log("worker left paused, never resumed:", w.url);
}
