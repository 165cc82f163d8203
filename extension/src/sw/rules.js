// declarativeNetRequest rules: the gated tabs' exemption (a session rule) from the static
// hold rules, and the per-origin dynamic CSP rules (the inline CSP of an origin's latest
// verdict, for its later document loads).
//
// The static ruleset `hold` (hold_rules.json, priority 1) is in force once the extension
// is loaded (measured: not yet for the tabs Chromium opens as it starts) and again after
// every browser or extension restart: any http(s) request but a top-level navigation of
// a tab not gated yet is blocked. The session hold rules below send such navigations to
// hold.html (which waits until its tab is gated, then resumes them). The session rule
// below (priority 2) allows every request of a gated tab, and of no tab at all (tabId -1:
// the browser's and extensions' own requests, workers without a tab, which no tab session
// sees), so a gated tab is never held again (hold_check.js recognises the documents of
// gated tabs by a script in their debugger session, not by a rule). Session
// rules vanish at browser restart, exactly when the debugger sessions do.

import { state, keys, withLock } from "./state.js";
import { backgroundRulesReady } from "./background_workers.js";

const SAFETY_RULE_ID = 1;
const SAFETY_RULE_PRIORITY = 2; // above the static hold rules
const GATE_MARK_RULE_ID = 2;
const CSP_RULE_BASE = 1000;
// above the exemption: a modifyHeaders rule at or below an allow rule's priority is ignored
const CSP_RULE_PRIORITY = 3;
const RESOURCE_TYPES = [
  "main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
  "xmlhttprequest", "ping", "csp_report", "media", "websocket", "webtransport",
  "webbundle", "other",
];

// The hold rules (priority 1, below the exemption): an http(s) top-level navigation of a
// tab not gated yet goes to hold.html (GET: resumed once gated; any other method: the
// form is not sent). Session rules, set by this worker: measured, a static redirect to
// an extension page as Chromium starts (before the extension can serve it) leaves a blank
// tab that lost its URL; hold_check.js holds the documents of that start-up window.
const HOLD_URL = `chrome-extension://${chrome.runtime.id}/hold.html`;
const HOLD_RULES = [
  { id: 3, methods: { requestMethods: ["get"] }, query: "?url=" },
  { id: 4, methods: { excludedRequestMethods: ["get"] }, query: "?method=post&url=" },
].map(({ id, methods, query }) => ({
  id,
  priority: 1,
  action: { type: "redirect", redirect: { regexSubstitution: `${HOLD_URL}${query}\\0` } },
  condition: { regexFilter: "^https?://.*", resourceTypes: ["main_frame"], ...methods },
}));

export async function updateSafetyRule() {
  // the scripts of no tab of WAICT origins no tab shows stay blocked (sw/background_workers.js)
  await backgroundRulesReady();
  const gated = [...state.session.gatedTabs];
  const rules = [
    {
      id: SAFETY_RULE_ID,
      priority: SAFETY_RULE_PRIORITY,
      action: { type: "allow" },
      condition: { tabIds: [-1, ...gated], resourceTypes: RESOURCE_TYPES },
    },
  ];
  // (GATE_MARK_RULE_ID: the Server-Timing mark rule of earlier versions, removed; the mark
  // is now a script in the gated tab's session, see hold_check.js)
  await chrome.declarativeNetRequest.updateSessionRules({
    removeRuleIds: [SAFETY_RULE_ID, GATE_MARK_RULE_ID, ...HOLD_RULES.map((r) => r.id)],
    addRules: [...rules, ...HOLD_RULES],
  });
}

// The tabs the exemption rule lists now (it outlives this worker: set by an earlier one).
export async function safetyRuleExemptions() {
  const rules = await chrome.declarativeNetRequest.getSessionRules();
  const old = rules.find((r) => r.id === SAFETY_RULE_ID);
  return ((old && old.condition.tabIds) || []).filter((id) => id !== -1);
}

// The same CSP for the origin's later document loads, as a declarativeNetRequest rule: it
// applies even before this worker sees the response. Under the `cspRules` lock: two
// origins judged at once get distinct rule ids.
export function updateCspRule(origin, csp) {
  return withLock(keys.local.cspRules, () => writeCspRule(origin, csp));
}

async function writeCspRule(origin, csp) {
  const storeKey = keys.local.csp(origin);
  const { [keys.local.cspRules]: cspRules = {} } = await chrome.storage.local.get(keys.local.cspRules);
  let id = cspRules[origin];
  if (!csp) {
    if (id) {
      await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: [id] });
      delete cspRules[origin];
      await chrome.storage.local.set({ [keys.local.cspRules]: cspRules });
    }
    await chrome.storage.local.remove(storeKey);
    return;
  }
  if (id && (await cspRuleInForce(id, origin, csp))) return; // unchanged: no rule rewrite
  if (!id) {
    const used = new Set(Object.values(cspRules));
    id = CSP_RULE_BASE;
    while (used.has(id)) id++;
    cspRules[origin] = id;
    await chrome.storage.local.set({ [keys.local.cspRules]: cspRules });
  }
  await chrome.declarativeNetRequest.updateDynamicRules({
    removeRuleIds: [id],
    addRules: [
      {
        id,
        priority: CSP_RULE_PRIORITY,
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

// The origin's rule is in force with exactly this CSP (read back from Chromium, not from
// our own record of it): rewriting an unchanged rule cost 4-9 ms of every judged document
// (measured, session 4).
async function cspRuleInForce(id, origin, csp) {
  const storeKey = keys.local.csp(origin);
  const [[rule], stored] = await Promise.all([
    chrome.declarativeNetRequest.getDynamicRules({ ruleIds: [id] }),
    chrome.storage.local.get(storeKey).then((got) => got[storeKey]),
  ]);
  const h = rule && rule.action.responseHeaders && rule.action.responseHeaders[0];
  return !!h && !!stored && stored.header === csp.header && stored.value === csp.value
    && rule.priority === CSP_RULE_PRIORITY && rule.condition.urlFilter === `|${origin}/`
    && h.operation === "append" && h.header === csp.header && h.value === csp.value;
}

// The CSP our rule added to the origin's documents (stripped when a fresher one is set).
export async function ruleCsp(origin) {
  const storeKey = keys.local.csp(origin);
  return (await chrome.storage.local.get(storeKey))[storeKey];
}
