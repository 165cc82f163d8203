// What the user sees: the toolbar badge per tab, the tab status the popup shows
// (chrome.storage.session `tab:<tabId>`), the block page, and the recent violations.

import * as py from "../python.js";
import { state, keys, log, getSession, setSession, withLock } from "./state.js";
import { nowSeconds } from "./util.js";

const BADGES = {
  verified: { text: "✓", color: "#1a7f37", title: "WAICT: verified" },
  report: { text: "R", color: "#bf8700", title: "WAICT: report-only" },
  blocked: { text: "✗", color: "#cf222e", title: "WAICT: blocked" },
  none: { text: "", color: "#57606a", title: "WAICT: not enrolled" },
  tombstone: { text: "", color: "#57606a", title: "WAICT: not enrolled (site left WAICT)" },
};

export function recordViolation(tabId, entry) {
  const violations = state.worker.violations;
  violations.push({ tabId, time: Date.now(), ...entry });
  if (violations.length > 200) violations.shift();
}

// A tab's status is read and rewritten under the lock named by its key (tab:<tabId>).
export async function setTabStatus(tabId, status) {
  const key = keys.session.tab(tabId);
  await withLock(key, () => setSession({ [key]: status }));
  await showBadge(tabId, status);
}

// Chromium clears a tab's badge when a navigation commits: set it at judgement time and
// again on commit (webNavigation.onCommitted).
export async function showBadge(tabId, status) {
  const b = BADGES[status.badge] || BADGES.none;
  await chrome.action.setBadgeText({ tabId, text: b.text }).catch(() => {});
  await chrome.action.setBadgeBackgroundColor({ tabId, color: b.color }).catch(() => {});
  await chrome.action.setTitle({ tabId, title: b.title }).catch(() => {});
}

// chrome.webNavigation.onCommitted
export async function onCommitted(d) {
  if (d.frameId !== 0) return;
  const status = await getSession(keys.session.tab(d.tabId));
  if (status && status.url === d.url) await showBadge(d.tabId, status);
  else if (/^https?:/.test(d.url)) await showBadge(d.tabId, { badge: "none" });
}

// A violation joins the tab's status only when it was checked against a verdict of the
// page the status is about (`verdictKey`: its top document's or one of its frames'): one
// of the previous page that arrives late is not noted on the new one. Under the tab
// status's lock: concurrent violations are all kept.
export async function noteViolation(tabId, url, destination, res, verdict = null, verdictKey = null) {
  if (tabId === undefined) return;
  const key = keys.session.tab(tabId);
  const detail = verdict ? verdict.detail || null : null;
  await withLock(key, async () => {
    const status = await getSession(key);
    if (!status) return;
    if (verdictKey !== null && status.key !== verdictKey && !(status.frameKeys || []).includes(verdictKey)) return;
    status.violations = [...(status.violations || []), { url, destination, reason: res.reason, detail, allowed: res.allowed }].slice(-50);
    await setSession({ [key]: status });
  });
}

// A frame of the tab's page was judged under its own verdict: its violations belong to the
// page's status too.
export async function addFrameKey(tabId, verdictKey) {
  if (tabId === undefined) return;
  const key = keys.session.tab(tabId);
  await withLock(key, async () => {
    const status = await getSession(key);
    if (!status || status.key === verdictKey || (status.frameKeys || []).includes(verdictKey)) return;
    status.frameKeys = [...(status.frameKeys || []), verdictKey].slice(-20);
    await setSession({ [key]: status });
  });
}

// What the popup shows for a tab (the violations with their plain words).
export async function tabStatusFor(tabId) {
  const s = await getSession(keys.session.tab(tabId));
  if (!s) return null;
  const items = (s.violations || []).map((v) => ({ reason: v.reason, detail: v.detail || null }));
  if (items.length) {
    const out = await py.call("explain_codes", { items });
    if (!out.error) s.violations.forEach((v, i) => { v.explanation = out.explanations[i]; });
  }
  s.now = nowSeconds();
  return s;
}

// The block page reads everything from its URL (it works even when this worker is gone):
// the page, Python's block reason, detail, technical message and plain-word explanation.
export async function showBlockPage(tabId, url, out) {
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
