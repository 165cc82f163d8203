// The hold page. Session declarativeNetRequest rules (sw/rules.js) redirect every http(s)
// top-level navigation of a tab the extension does not gate yet (not attached with
// chrome.debugger, so its responses would not be paused) to this page; hold_check.js
// sends here a start-up document that came before any rule was in force:
//   GET:      hold.html?url=<the URL>
//   not GET:  hold.html?method=post&url=<the URL>   (the form is not sent)
// This page asks the service worker (waking it) to gate its tab, then resumes the GET with
// location.replace: no extra history entry, and the navigation is now paused and judged
// like any other. Nothing of the site was fetched before. The URL is everything after the
// first "url=" (the rule writes it unescaped, last), plus the fragment Chromium carried over.
//
// Bounded: if gating fails, takes too long, or the same URL comes back here too often (the
// tab is not exempt after all), the block page says why. Never a Chromium error page.

const MAX_HOLDS = 3; // the same URL held this often within HOLD_WINDOW_MS: give up
const HOLD_WINDOW_MS = 30000;
const DEADLINE_MS = 60000; // the service worker must gate the tab within this time
const SHOW_AFTER_MS = 1000; // show "getting ready" only when it takes this long

const search = location.search;
const at = search.indexOf("url=");
const target = at >= 0 ? search.slice(at + 4) + location.hash : "";
const isPost = search.startsWith("?method=post&");

let site = "this page";
try {
  const u = new URL(target);
  if (u.protocol === "http:" || u.protocol === "https:") site = u.host;
} catch (e) {
  site = "this page";
}
for (const el of document.querySelectorAll(".site")) el.textContent = site;
document.title = site;

function blockPage(reason, message) {
  const params = new URLSearchParams({
    url: target,
    reason,
    detail: "",
    message,
    text: `WAICT could not start checking ${site} in this tab, so it did not load it: nothing of the site ran.`,
    action: "Try again. If this keeps happening, restart the browser or reinstall WAICT.",
  });
  location.replace(chrome.runtime.getURL(`block.html?${params}`));
}

// How often this tab held this URL lately (sessionStorage: per tab, survives navigations).
function countHold() {
  const key = "waict-hold";
  let seen = null;
  try {
    seen = JSON.parse(sessionStorage.getItem(key) || "null");
  } catch (e) {
    seen = null;
  }
  const now = Date.now();
  const n = seen && seen.url === target && now - seen.t < HOLD_WINDOW_MS ? seen.n + 1 : 1;
  sessionStorage.setItem(key, JSON.stringify({ url: target, n, t: now }));
  return n;
}

async function askGate() {
  const deadline = Date.now() + DEADLINE_MS;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const r = await chrome.runtime.sendMessage({ type: "hold", url: target });
      if (r && r.ok) return { ok: true };
      last = (r && r.error) || "the tab could not be gated";
      if (r && r.final) break;
    } catch (e) {
      last = String(e && e.message ? e.message : e); // the worker is (re)starting
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  return { ok: false, error: last };
}

async function main() {
  if (!/^https?:\/\//.test(target)) {
    blockPage("hold_bad_url", "the held address is not an http(s) URL");
    return;
  }
  if (isPost) {
    document.getElementById("post-url").textContent = target;
    document.getElementById("back").addEventListener("click", () => history.back());
    document.getElementById("post").hidden = false;
    return;
  }
  if (countHold() > MAX_HOLDS) {
    blockPage("hold_loop", `held ${MAX_HOLDS} times in a row: the tab stays ungated`);
    return;
  }
  const shown = setTimeout(() => { document.getElementById("waiting").hidden = false; }, SHOW_AFTER_MS);
  const r = await askGate();
  clearTimeout(shown);
  if (r.ok) location.replace(target);
  else blockPage("hold_failed", r.error);
}

main();
