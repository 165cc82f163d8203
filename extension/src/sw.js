// WAICT enforcement: the extension's service worker (entry module).
//
// JavaScript gathers inputs and applies verdicts; Python (verifier.browser, in Pyodide)
// decides. See extension/README.md for the architecture, the message flow and the modules.
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
//   What lives how long: sw/state.js.
// - Until a tab is gated, static declarativeNetRequest rules (in force before this worker
//   has run) send its navigations to hold.html, which waits until the tab is gated and
//   then resumes them; its other requests are blocked. A session rule exempts gated tabs.
// - Service workers (auto-attached to the tab's session) and shared workers (attached by
//   target id while their main script is paused) get their own Fetch interception, so
//   their main scripts and everything they import are checked like the page's.
// - Plugins (other extensions, chrome.runtime external messaging, docs/plugin-api.md) are
//   asked before a gated navigation is released; their answers are inputs to Python.
// - waict-violation reports are batched per navigation and POSTed to the site's endpoints
//   after the page was released (a report never delays a page).
//
// This module only registers the listeners, synchronously at the top level of the first
// evaluation (so events wake this worker), starts the start-up recovery and exposes the
// test hooks. Modules import in one direction: sw.js -> handlers (responses, documents,
// subresources, workers, pages, plugins) -> helpers (verdicts, gating, rules, status,
// reports, settings, guard, destinations, cdp, util) -> sw/state.js. Static imports only:
// a module service worker may not import dynamically.

import * as py from "./python.js";
import { state, keys, getSession } from "./sw/state.js";
import {
  gate, recoverTabs, holdTab, onDetach, onTabRemoved, onTabUpdated, onNavigationError,
} from "./sw/gating.js";
import { onRequestPaused, heldStats } from "./sw/responses.js";
import { cdpStats } from "./sw/cdp.js";
import { onFrameRestored, turnOffPreloading, documentPhases } from "./sw/documents.js";
import { onExtraInfo } from "./sw/destinations.js";
import { onAttached, onScriptPaused } from "./sw/workers.js";
import { onCommitted } from "./sw/status.js";
import { onBeforeNavigate } from "./sw/manifests.js";
import { onExternal } from "./sw/plugins.js";
import { onPageMessage } from "./sw/pages.js";
import { frameAttached, frameDetached, forgetTab, sweep, workerDetached } from "./sw/storage.js";
import { refreshFastPathFacts } from "./sw/settings.js";
import { originsMayBeHidden, settleBackgroundRules, RECHECK_ALARM } from "./sw/background_workers.js";

// ---------------------------------------------------------------------------------------
// Listeners (registered synchronously at start-up, so events wake this worker)
// ---------------------------------------------------------------------------------------

chrome.runtime.onMessageExternal.addListener((msg, sender, reply) => {
  onExternal(msg, sender).then(reply, (e) => reply({ ok: false, error: String(e && e.message ? e.message : e) }));
  return true;
});

chrome.debugger.onEvent.addListener((src, method, params) => {
  switch (method) {
    case "Fetch.requestPaused":
      onRequestPaused(src, params);
      break;
    case "Network.requestWillBeSentExtraInfo":
      onExtraInfo(params);
      break;
    case "Debugger.paused":
      onScriptPaused(src, params);
      break;
    case "Page.frameNavigated":
      if (params.type === "BackForwardCacheRestore") onFrameRestored(src, params.frame);
      break;
    case "Page.frameAttached":
      frameAttached(src, params);
      break;
    case "Page.frameDetached":
      frameDetached(src, params);
      break;
    case "Target.attachedToTarget":
      onAttached(src, params);
      break;
    case "Target.detachedFromTarget":
      workerDetached(params);
      break;
    default:
      break;
  }
});

chrome.debugger.onDetach.addListener(onDetach);

chrome.tabs.onCreated.addListener((tab) => gate(tab.id));
chrome.tabs.onRemoved.addListener(onTabRemoved);
chrome.tabs.onRemoved.addListener(forgetTab);
chrome.tabs.onRemoved.addListener(() => originsMayBeHidden());
chrome.tabs.onUpdated.addListener(onTabUpdated);

chrome.webNavigation.onBeforeNavigate.addListener(onBeforeNavigate, { url: [{ schemes: ["http", "https"] }] });
chrome.webNavigation.onCommitted.addListener(onCommitted);
chrome.webNavigation.onCommitted.addListener(() => originsMayBeHidden());
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === RECHECK_ALARM) originsMayBeHidden(0);
});
chrome.webNavigation.onErrorOccurred.addListener(onNavigationError);

chrome.runtime.onMessage.addListener(onPageMessage);
// hold.html: gate its tab, then it resumes the held navigation
chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (!msg || msg.type !== "hold" || sender.id !== chrome.runtime.id) return false;
  holdTab(sender).then(reply, (e) => reply({ ok: false, error: String(e && e.message ? e.message : e) }));
  return true;
});
// wake this worker as the browser starts: gate the restored tabs at once
chrome.runtime.onStartup.addListener(() => {});

// ---------------------------------------------------------------------------------------
// Start-up and test hooks
// ---------------------------------------------------------------------------------------

turnOffPreloading();
const startup = recoverTabs();
// the fast path's facts for the preload list in force (sw/fast_path.js), once Python runs
py.ready.then(() => refreshFastPathFacts()).catch((e) => console.warn("waict: fast-path facts", e));

globalThis.waict = {
  py,
  stats: state.worker.stats,
  violations: state.worker.violations,
  logs: state.worker.logs,
  timings: py.timings,
  startup,
  gatedTabs: state.session.gatedTabs,
  pluginLog: state.worker.pluginLog,
  navigationErrors: state.worker.navigationErrors,
  workerTargets: state.session.workerByTarget,
  cdpStats, // per CDP method: calls, wall ms (sw/cdp.js)
  documentPhases, // a judged document's hold by phase (sw/documents.js)
  heldStats, // per resource type: responses held, ms from pause to release (sw/responses.js)
  testDelays: state.worker.testDelays, // tests only: widen a race on purpose (sw/workers.js)
  testLimits: state.worker.testLimits, // tests only: a lower cap (sw/background_workers.js)
  async whenAllTabsGated() {
    await startup;
    const all = await chrome.tabs.query({});
    const ok = await Promise.all(all.map((t) => gate(t.id)));
    return all.map((t, i) => [t.id, ok[i]]);
  },
  async tabStatus(tabId) {
    return getSession(keys.session.tab(tabId));
  },
  sweepNow: sweep, // remove what nothing refers to now (tests)
  settleBackgroundRules, // the background-worker rules as they should be now (tests)
};
