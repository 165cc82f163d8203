// Worker scripts fetched while no tab shows their origin. A service worker can start, and
// the browser can check it for an update, with no tab of its origin open (a push message,
// a background sync, the browser's own update check after an event). Its new version is
// then auto-attached to no tab's debugger session, so neither the network check nor the
// check right before it runs (sw/workers.js) applies: measured, the changed script ran
// (tests/e2e/test_workers.py, test_an_update_checked_while_no_tab_shows_the_site_...).
//
// So the scripts fetched outside any tab (resource type "script", tab -1: service and
// shared workers' scripts and their imports, update checks) of every WAICT origin that no
// tab shows are blocked, by one session rule per origin, above the exemption of tab -1
// (sw/rules.js). The background update check fails and the installed version stays: it
// was checked when it was installed, and only what is installed runs without the network.
// A document of the origin lifts its rule before it is released (a tab that shows the
// origin auto-attaches its workers, which are then checked as usual); the rule comes back
// once no tab shows the origin. WAICT origins are those with a ratchet state
// (`origin:<origin>`, unexpired): a service worker exists only for an origin a tab showed.
//
// Until this is computed (a browser start), the static hold rules block every request of
// no tab (sw/rules.js), so there is no window.

import { state, keys, log, withLock } from "./state.js";

const {
  stats, backgroundRules: written, shownUntilByTabOrigin: shownUntil, originsShownByTab, testLimits,
} = state.worker;

const RULE_BASE = 10000; // session rule ids RULE_BASE .. RULE_BASE + MAX_RULES - 1
const MAX_RULES = 4000; // session rules are capped at 5,000 in all (testLimits may lower it)
const PRIORITY = 4; // above the exemption (2) and the CSP rules (3)
const RELEASED_GRACE_MS = 2000; // a released document counts as shown until it committed
// A tab that left an origin still counts as showing it for a while: every change of the
// rules evicts the browser's back/forward cache (measured: a page restored 1 s after an
// unrelated rule change was loaded again instead), so re-blocking at once would cost every
// "back" to a WAICT site its instant restore.
const LEFT_GRACE_MS = 60000;
const RECOMPUTE_DELAY_MS = 300;
export const RECHECK_ALARM = "waict-background-rules";

let loaded = null; // Promise: `written` read back from the session rules (this worker's start)

function inRange(r) {
  return r.id >= RULE_BASE && r.id < RULE_BASE + MAX_RULES;
}

function urlFilterOrigin(r) {
  const m = /^\|(https?:\/\/[^/]+)\/$/.exec(r.condition.urlFilter || "");
  return m ? m[1] : null;
}

function loadWritten() {
  if (loaded === null) {
    loaded = chrome.declarativeNetRequest.getSessionRules().then((rules) => {
      const mine = rules.filter(inRange);
      written.all = mine.some((r) => !r.condition.urlFilter);
      for (const r of mine) {
        const o = urlFilterOrigin(r);
        if (o) written.origins.add(o);
      }
    });
  }
  return loaded;
}

// Whether the origin's scripts of no tab are blocked now.
function isBlocked(origin) {
  return written.all ? !written.origins.has(origin) : written.origins.has(origin);
}

async function waictOrigins() {
  const names = (await chrome.storage.local.getKeys()).filter((n) => n.startsWith("origin:"));
  if (!names.length) return [];
  const got = await chrome.storage.local.get(names);
  const now = Date.now() / 1000;
  const origins = [];
  for (const name of names) {
    const s = got[name];
    if (s && s.expiry > now) origins.push(name.slice("origin:".length));
  }
  return origins;
}

function originOf(url) {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) ? u.origin : null;
  } catch (e) {
    return null;
  }
}

// The origins some tab shows now: every frame of every tab, the navigation a tab is
// making, a document released in the last moments into a tab still open (not committed
// yet), and an origin a tab still open left less than LEFT_GRACE_MS ago (looked at again
// once that time is over).
async function shownOrigins() {
  const shown = new Set();
  const now = Date.now();
  const tabs = await chrome.tabs.query({});
  const open = new Set(tabs.map((tab) => tab.id));
  const nowByTab = new Map();
  for (const tab of tabs) {
    const mine = new Set();
    for (const url of [tab.url, tab.pendingUrl]) {
      const o = url && originOf(url);
      if (o) mine.add(o);
    }
    const frames = await chrome.webNavigation.getAllFrames({ tabId: tab.id }).catch(() => null);
    for (const f of frames || []) {
      const o = originOf(f.url);
      if (o) mine.add(o);
    }
    nowByTab.set(tab.id, mine);
    for (const o of mine) shown.add(o);
  }
  for (const [tabId, before] of originsShownByTab) {
    const mine = nowByTab.get(tabId);
    if (!mine) continue; // closed: its origins are not shown any more
    for (const o of before) if (!mine.has(o)) extendShown(tabId, o, now + LEFT_GRACE_MS);
  }
  originsShownByTab.clear();
  for (const [tabId, mine] of nowByTab) originsShownByTab.set(tabId, mine);
  let next = Infinity;
  for (const [name, r] of shownUntil) {
    if (now < r.until && open.has(r.tabId)) {
      shown.add(r.origin);
      next = Math.min(next, r.until);
    } else {
      shownUntil.delete(name);
    }
  }
  if (next !== Infinity) {
    originsMayBeHidden(next - now + 50);
    // this worker may be stopped when idle before then: an alarm wakes it (a new instance
    // knows no grace and writes the rules as they are)
    chrome.alarms.create(RECHECK_ALARM, { when: next + 50 });
  }
  return shown;
}

function extendShown(tabId, origin, until) {
  const name = `${tabId} ${origin}`;
  const r = shownUntil.get(name);
  if (!r || r.until < until) shownUntil.set(name, { tabId, origin, until });
}

const SCRIPTS_OF_NO_TAB = { tabIds: [-1], resourceTypes: ["script"] };

// The rules: one block rule per WAICT origin no tab shows. Over the cap (a hostile site can
// have a browser see thousands of WAICT origins, and any choice of which to leave out could
// be steered), one rule blocks the scripts of no tab of every origin and allow rules above
// it let the shown origins' through: fails closed, counted and logged.
function rulesFor(hidden, shown) {
  const cap = Math.min(MAX_RULES, testLimits.backgroundRules);
  if (hidden.length <= cap) {
    return {
      all: false,
      origins: hidden,
      rules: hidden.map((o, i) => ({
        id: RULE_BASE + i, priority: PRIORITY, action: { type: "block" },
        condition: { ...SCRIPTS_OF_NO_TAB, urlFilter: `|${o}/` },
      })),
    };
  }
  stats.backgroundRulesCapped++;
  log("more WAICT origins than background rules:", hidden.length, "(all scripts of no tab blocked)");
  const allowed = [...shown].sort().slice(0, MAX_RULES - 1);
  return {
    all: true,
    origins: allowed,
    rules: [
      { id: RULE_BASE, priority: PRIORITY, action: { type: "block" }, condition: SCRIPTS_OF_NO_TAB },
      ...allowed.map((o, i) => ({
        id: RULE_BASE + 1 + i, priority: PRIORITY + 1, action: { type: "allow" },
        condition: { ...SCRIPTS_OF_NO_TAB, urlFilter: `|${o}/` },
      })),
    ],
  };
}

// Writes the rules: one per WAICT origin no tab shows.
export function updateBackgroundRules() {
  return withLock("backgroundRules", async () => {
    await loadWritten();
    const shown = await shownOrigins();
    const hidden = (await waictOrigins()).filter((o) => !shown.has(o)).sort();
    const want = rulesFor(hidden, shown);
    const same = want.all === written.all && want.origins.length === written.origins.size
      && want.origins.every((o) => written.origins.has(o));
    if (same) return;
    const old = (await chrome.declarativeNetRequest.getSessionRules()).filter(inRange).map((r) => r.id);
    await chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: old, addRules: want.rules });
    written.all = want.all;
    written.origins.clear();
    for (const o of want.origins) written.origins.add(o);
    stats.backgroundRuleUpdates++;
  });
}

// Called before a document of `origin` is released: its workers' scripts may be fetched
// as soon as it runs. Costs nothing when the origin has no rule.
export async function originShown(tabId, origin) {
  extendShown(tabId, origin, Date.now() + RELEASED_GRACE_MS); // (counts as shown from now)
  await loadWritten();
  if (isBlocked(origin)) await updateBackgroundRules();
}

// A tab closed or navigated: the origins it showed may now be shown by none. Throttled,
// not debounced: a page that navigates a frame again and again cannot put it off.
let timer = null;
let dueAt = 0;
export function originsMayBeHidden(delayMs = RECOMPUTE_DELAY_MS) {
  const at = Date.now() + delayMs;
  if (timer !== null && dueAt <= at) return; // one is due sooner
  if (timer !== null) clearTimeout(timer);
  dueAt = at;
  timer = setTimeout(() => {
    timer = null;
    updateBackgroundRules().catch((e) => {
      stats.backgroundRuleErrors++;
      log("background rules not updated", String(e));
    });
  }, delayMs);
}

// Tests: the rules as they should be now, with no recompute left pending.
export async function settleBackgroundRules() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  await updateBackgroundRules();
}

// Once per instance of this worker, before the exemption of tab -1 is first written
// (sw/rules.js). A failure is counted and logged, and the exemption is written anyway:
// holding every tab because of it would block every site, not only the background
// workers of WAICT ones.
let first = null;
export function backgroundRulesReady() {
  if (first === null) {
    first = updateBackgroundRules().catch((e) => {
      first = null;
      stats.backgroundRuleErrors++;
      log("background rules not written", String(e));
    });
  }
  return first;
}
