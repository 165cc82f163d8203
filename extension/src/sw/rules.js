// declarativeNetRequest rules: the safety session rule (blocks every request of a tab that
// is not gated yet) and the per-origin dynamic CSP rules (the inline CSP of an origin's
// latest verdict, for its later document loads).

import { state, keys, withLock } from "./state.js";

const SAFETY_RULE_ID = 1;
const CSP_RULE_BASE = 1000;
const RESOURCE_TYPES = [
  "main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
  "xmlhttprequest", "ping", "csp_report", "media", "websocket", "webtransport",
  "webbundle", "other",
];

export async function updateSafetyRule() {
  // Block every request of a tab that is not gated yet (tabId -1: the browser's and
  // extensions' own requests, which no tab session sees).
  const rule = {
    id: SAFETY_RULE_ID,
    priority: 1,
    action: { type: "block" },
    condition: {
      regexFilter: "^https?://",
      excludedTabIds: [-1, ...state.session.gatedTabs],
      resourceTypes: RESOURCE_TYPES,
    },
  };
  await chrome.declarativeNetRequest.updateSessionRules({
    removeRuleIds: [SAFETY_RULE_ID],
    addRules: [rule],
  });
}

// The tabs the safety rule exempts now (it outlives this worker: set by an earlier one).
export async function safetyRuleExemptions() {
  const rules = await chrome.declarativeNetRequest.getSessionRules();
  const old = rules.find((r) => r.id === SAFETY_RULE_ID);
  return ((old && old.condition.excludedTabIds) || []).filter((id) => id !== -1);
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

// The CSP our rule added to the origin's documents (stripped when a fresher one is set).
export async function ruleCsp(origin) {
  const storeKey = keys.local.csp(origin);
  return (await chrome.storage.local.get(storeKey))[storeKey];
}
