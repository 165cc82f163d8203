// Gating tabs: every tab is attached with chrome.debugger and its responses are paused
// (CDP Fetch). Until then the static hold rules send its navigations to hold.html, which
// asks `holdTab` to gate it and then resumes (see rules.js); the gated tab is exempt from
// them. Start-up recovery after a service-worker restart.

import { state, keys, log, getSession } from "./state.js";
import { PROTOCOL, FETCH_PATTERNS, send } from "./cdp.js";
import { updateSafetyRule, safetyRuleExemptions } from "./rules.js";
import { registerGuard, markSecret, forgetMarkSecret, judgedMarkName } from "./guard.js";

const { gatingByTab, stats, navigationErrors } = state.worker;
const { gatedTabs } = state.session;

// The judged document's mark, checked by hold_check.js. Registered in the tab's session,
// so it runs first in each new document of a gated tab (before content scripts and the
// page); it answers for the document only when the document's own response carries the
// Server-Timing entry `waict-<secret>-judged` that documents.js adds to every document it
// releases (and strips when a server sends it). The secret is this debugger session's
// (sw/guard.js markSecret): one that a page of another tab, or of an earlier session of
// this tab, read from its own entry does not open this one. A tab being gated is not
// enough: a navigation whose request started before the tab's Fetch interception (as
// the browser starts) reaches a gated tab unpaused (seen once in about 10 browser
// restarts); its document has no entry, so hold_check.js holds it and it is loaded again.
export function gateMarkSource(secret) {
  return `(() => {
  let judged = false;
  try {
    const nav = performance.getEntriesByType("navigation")[0];
    judged = !!nav && nav.serverTiming.some((e) => e.name === ${JSON.stringify(judgedMarkName(secret))});
  } catch (e) {
    judged = false;
  }
  if (judged) document.addEventListener("waict-gate-query", (e) => e.preventDefault(), { capture: true });
})();`;
}

// `fresh`: the tab's debugger session was just attached (not kept from before a restart
// of this worker): its mark gets a new secret. Sessions auto-attached under the tab's
// (iframes in other processes) use the tab's.
export async function enableSession(t, fresh = false) {
  // not caught: a tab without its mark would be held again (and then get the block page)
  await send(t, "Page.addScriptToEvaluateOnNewDocument", { source: gateMarkSource(await markSecret(t.tabId, fresh)) });
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

// As the browser starts (the first run of this worker in a browser session), attaching
// the debugger to a tab whose first navigation is under way cancels that navigation
// (measured: Chromium's start-up tabs then end blank, URL lost, about half of all starts,
// with nothing of ours but chrome.debugger.attach). So the URL a start-up tab is loading
// is read before attaching, and a tab found blank afterwards is sent there again, now
// gated: paused and judged like any navigation (counted: stats.startupNavigationsRestored).
// Only in the start-up window: elsewhere a lost navigation may have been a form POST,
// which must never be sent again as a GET (Chromium itself restores start-up tabs with
// GET). Resolved once this worker knows whether the browser session is new.
const STARTUP_WINDOW_MS = 60000;
const LOST_CHECK_MS = 3000; // how long a gated start-up tab is watched for a lost navigation
let startupUntil = 0;
const startupKnown = getSession(keys.session.started).then(
  (started) => { if (!started) startupUntil = Date.now() + STARTUP_WINDOW_MS; },
  () => { startupUntil = Date.now() + STARTUP_WINDOW_MS; },
);

async function startupTarget(tabId) {
  await startupKnown;
  if (Date.now() > startupUntil) return null;
  const tab = await chrome.tabs.get(tabId).catch(() => null);
  const url = tab && (tab.pendingUrl || tab.url);
  return url && /^https?:\/\//.test(url) ? url : null;
}

// After gating: the tab lost the navigation it had (still blank, nothing loading): load
// its URL again. Watched briefly (the cancellation shows a moment after the attach).
async function restoreLostNavigation(tabId, url) {
  const deadline = Date.now() + LOST_CHECK_MS;
  while (Date.now() < deadline) {
    const tab = await chrome.tabs.get(tabId).catch(() => null);
    if (!tab) return;
    const now = tab.pendingUrl || tab.url || "";
    if (now && now !== "about:blank") return; // it navigates (or was held: hold.html)
    if (tab.status === "complete") {
      stats.startupNavigationsRestored++;
      log("start-up navigation lost on attach; loading again", tabId, url);
      await chrome.tabs.update(tabId, { url }).catch((e) => log("could not restore", tabId, String(e)));
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function doGate(tabId) {
  const t = { tabId };
  const startUrl = await startupTarget(tabId);
  let fresh = true;
  try {
    await chrome.debugger.attach(t, PROTOCOL);
  } catch (e) {
    fresh = false;
    const msg = String(e && e.message ? e.message : e);
    // Our own session from before a service-worker restart is still attached: use it.
    if (!/already attached/i.test(msg)) {
      log("cannot gate tab", tabId, msg);
      gatingByTab.delete(tabId);
      if (gatedTabs.delete(tabId)) await updateSafetyRule();
      return false;
    }
  }
  try {
    await enableSession(t, fresh);
  } catch (e) {
    log("cannot enable interception on tab", tabId, String(e));
    gatingByTab.delete(tabId);
    if (gatedTabs.delete(tabId)) await updateSafetyRule();
    return false;
  }
  gatedTabs.add(tabId);
  await updateSafetyRule();
  if (startUrl) restoreLostNavigation(tabId, startUrl); // not awaited: gating is done
  return true;
}

export function gate(tabId) {
  if (!gatingByTab.has(tabId)) gatingByTab.set(tabId, doGate(tabId));
  return gatingByTab.get(tabId);
}

async function gateAll() {
  const all = await chrome.tabs.query({});
  await Promise.all(all.map((t) => gate(t.id)));
  return all.map((t) => t.id);
}

// Tabs that were mid-navigation when this worker (re)started may hold responses paused by
// an earlier instance: reload them so every response is judged by this one.
export async function recoverTabs() {
  const restarted = await getSession(keys.session.started);
  await chrome.storage.session.set({ [keys.session.started]: Date.now() });
  // The session rule outlives this worker and so do our debugger sessions: the tabs it
  // exempts are still gated. Keep them exempt (resetting the rule would block their
  // loads until they are re-gated below).
  const restored = await safetyRuleExemptions();
  for (const id of restored) gatedTabs.add(id);
  // A tab still loading may wait on a response the previous instance paused and never
  // released (its event is not sent again): reload it. But the navigation that woke this
  // worker is loading too, and its responses come to this instance: reloading it doubled
  // the first load after every stop (measured). So a loading tab is reloaded only if, after
  // a grace period, it is still loading and no response of it was paused here
  // (stats.restartReloads; spared: stats.restartReloadsSpared). Scheduled before gating:
  // re-gating a stuck tab waits for its paused navigation (measured), and with it gateAll.
  if (restarted) {
    setTimeout(() => reloadStuckTabs().catch((e) => log("reload after restart failed", String(e))), RESTART_GRACE_MS);
  }
  const ids = await gateAll();
  // Forget only restored tabs that are gone: a tab created and gated while gateAll ran is
  // not in `ids` but must stay exempt (pruning it blocked it forever).
  for (const id of restored) if (!ids.includes(id) && !gatingByTab.has(id)) gatedTabs.delete(id);
  await updateSafetyRule();
}

const RESTART_GRACE_MS = 1500;

// A stuck tab: its committed document is reloaded; a navigation still pending (a new tab,
// or a link followed) is made again only if the previous instance recorded it as a GET
// for that URL (nav:<tabId>); otherwise (a form POST, or unknown) it is not sent again as
// a GET: the block page says the page was interrupted.
async function reloadStuckTabs() {
  for (const tab of await chrome.tabs.query({})) {
    const id = tab.id;
    const pending = tab.pendingUrl && tab.pendingUrl !== tab.url ? tab.pendingUrl : null;
    const url = pending || tab.url || "";
    if (tab.status !== "loading" || !gatedTabs.has(id) || !/^https?:/.test(url)) continue;
    if (state.worker.pausedTabs.has(id)) {
      stats.restartReloadsSpared++;
      continue;
    }
    stats.restartReloads++;
    log("reloading tab", id, "after a service-worker restart");
    // (chrome.tabs, not CDP: a CDP command to the stuck tab would wait for it.) A failure
    // leaves the tab waiting on a response nobody releases: nothing of it runs; logged.
    const failed = (e) => log("could not reload stuck tab", id, String(e));
    if (!pending) {
      await chrome.tabs.reload(id, { bypassCache: true }).catch(failed);
      continue;
    }
    const nav = await getSession(keys.session.nav(id));
    const again = nav && nav.url === pending && nav.method === "GET";
    await chrome.tabs.update(id, { url: again ? pending : interruptedPage(pending) }).catch(failed);
  }
}

function interruptedPage(url) {
  let site = "this page";
  try {
    site = new URL(url).host;
  } catch (e) {
    site = "this page";
  }
  const params = new URLSearchParams({
    url,
    reason: "interrupted",
    detail: "",
    message: "WAICT restarted while this page was being checked; it was not a simple page load, so it was not sent again",
    text: `WAICT restarted while it was checking ${site}, so it did not load it: nothing of the site ran.`,
    action: "Go back and send it again if you meant to.",
  });
  return chrome.runtime.getURL(`block.html?${params}`);
}

// chrome.debugger.onDetach
export function onDetach(src, reason) {
  if (src.targetId !== undefined) {
    state.worker.attachedWorkers.delete(src.targetId);
    return;
  }
  if (src.tabId === undefined) return;
  log("detached from tab", src.tabId, reason);
  gatingByTab.delete(src.tabId);
  gatedTabs.delete(src.tabId);
  updateSafetyRule().then(() => {
    if (reason !== "target_closed") gate(src.tabId);
  });
}

// chrome.tabs.onRemoved
export function onTabRemoved(tabId) {
  gatingByTab.delete(tabId);
  state.worker.pausedTabs.delete(tabId);
  if (gatedTabs.delete(tabId)) updateSafetyRule();
  chrome.storage.session.remove([keys.session.tab(tabId), keys.session.top(tabId)]);
  forgetMarkSecret(tabId);
}

// chrome.tabs.onUpdated
export function onTabUpdated(tabId, info) {
  if (info.url && /^https?:/.test(info.url) && !gatedTabs.has(tabId)) gate(tabId);
}

// chrome.runtime.onMessage {type: "hold"} from hold.html: gate the page's tab; the page
// then resumes its navigation (or shows the block page when this answers not ok).
export async function holdTab(sender) {
  const tabId = sender.tab && sender.tab.id;
  if (tabId === undefined || tabId < 0) return { ok: false, final: true, error: "the hold page is not in a tab" };
  stats.holds++;
  if (!(await gate(tabId))) return { ok: false, error: "the extension could not attach its debugger to this tab" };
  return { ok: gatedTabs.has(tabId) };
}

// chrome.webNavigation.onErrorOccurred: recorded for the tests (a held navigation must
// never show an error first).
export function onNavigationError(d) {
  navigationErrors.push({ tabId: d.tabId, frameId: d.frameId, url: d.url, error: d.error });
  if (navigationErrors.length > 200) navigationErrors.shift();
}
