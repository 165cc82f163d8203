// The service worker's state: ONE object, `state`, whose groups say how long a field lives
// and where its persisted copy is. Every other module reads and writes these fields; none
// keeps module-level state of its own.
//
// A Manifest V3 service worker is stopped when idle and started again by the next event:
// everything in memory is then gone. So:
//
// - `state.worker.*` lives as long as this service-worker instance and is never persisted
//   (diagnostics, caches of the extension's own files, per-request and per-navigation
//   bookkeeping). Lost on a restart, and that is fine: it is rebuilt or not needed.
// - `state.session.*` is an in-memory cache of something that lives for the browser
//   session: chrome.storage.session (keys in `keys.session`) or the declarativeNetRequest
//   exemption session rule. The stored copy is the truth; a field is read back from it when
//   missing after a restart.
// - chrome.storage.local (keys in `keys.local`) is persisted across browser restarts and
//   has no in-memory copy: it is read at each use.
//
// | field                          | per               | lives                 | persisted as                        |
// |--------------------------------|-------------------|-----------------------|-------------------------------------|
// | worker.stats                   | counter           | this instance         | -                                   |
// | worker.logs                    | (last 300)        | this instance         | -                                   |
// | worker.violations              | (last 200)        | this instance         | - (a tab's: session `tab:<tabId>`)  |
// | worker.pluginLog               | (last 100)        | this instance         | -                                   |
// | worker.navigationErrors        | (last 200)        | this instance         | -                                   |
// | worker.defaults                | -                 | until settings change | - (files trust.json, preload.waict) |
// | worker.guardSource             | -                 | this instance         | - (wasm_guard.js + `guardToken`)    |
// | worker.guardTokenRead          | -                 | this instance         | - (session `guardToken`)            |
// | worker.gatingByTab             | tab               | until tab detaches    | -                                   |
// | worker.parentByFrame           | frame             | this instance         | -                                   |
// | worker.secFetchDestByRequest   | request           | until its response    | -                                   |
// | worker.destWaiterByRequest     | request           | until its response    | -                                   |
// | worker.firstUrlByRequest       | request           | until its response    | - (URL before the redirects)        |
// | worker.keyByLoader             | document (loader) | this instance         | - (bfcache restores; else reload)   |
// | worker.reportBatchByNavigation | tab + verdict key | until next navigation | - (unsent reports are lost)         |
// | worker.reportBatchByKey        | verdict key       | until next navigation | -                                   |
// | worker.attachedWorkers         | shared worker     | until it detaches     | -                                   |
// | session.gatedTabs              | tab               | browser session       | exemption rule tabIds (DNR session) |
// | session.keyByFrame             | frame             | browser session       | `frame:<frameId>`, `top:<tabId>`    |
// | session.verdictByKey           | verdict key       | browser session       | `verdict:<key>`, `inputs:<key>`     |
// | session.keyByOrigin            | origin            | browser session       | `okey:<origin>`                     |
// | session.workerByTarget         | worker target     | browser session       | `worker:<targetId>`                 |
// | session.workerBySession        | worker session    | browser session       | `wsession:<sessionId>`              |
//
// Stored only (no in-memory copy):
// - chrome.storage.session: `started` (a worker of this browser session ran before),
//   `guardToken` (the WebAssembly guard's secret), `top:<tabId>` (the verdict key of a
//   tab's top document), `inputs:<key>` (the judged inputs, to re-judge after a restart),
//   `tab:<tabId>` (what the popup and the badge show for a tab).
// - chrome.storage.local: `settings` (trust and preload chosen in the options),
//   `plugins` (registered plugins), `origin:<origin>` (the origin's ratchet state),
//   `csp:<origin>` (the CSP of the origin's declarativeNetRequest rule), `cspRules`
//   (origin -> that rule's id). The rules themselves are dynamic DNR rules (ids >= 1000).

export const state = {
  // --- this service-worker instance only; never persisted -------------------------------
  worker: {
    // diagnostics (tests, popup)
    stats: {
      paused: 0, checked: 0, blocked: 0, navigations: 0, rejudged: 0, errors: 0,
      pluginAsks: 0, reportsSent: 0, reportErrors: 0, workersGated: 0, holds: 0,
    },
    logs: [], // recent log lines
    violations: [], // recent blocked/reported resources (tests, popup)
    pluginLog: [], // recent plugin answers (tests, popup)
    navigationErrors: [], // recent webNavigation.onErrorOccurred (tests: no held tab shows one)
    // caches of the extension's own files
    defaults: null, // {trust, preload} shipped in the extension (null: read again)
    guardSource: null, // wasm_guard.js with this browser session's token
    guardTokenRead: null, // Promise of this browser session's guard token (read once)
    // per tab
    gatingByTab: new Map(), // tabId -> Promise<boolean> (gated?)
    // per frame
    parentByFrame: new Map(), // frameId -> parentFrameId (from Page.frameAttached)
    // per request
    secFetchDestByRequest: new Map(), // networkId -> Sec-Fetch-Dest
    destWaiterByRequest: new Map(), // networkId -> resolve
    firstUrlByRequest: new Map(), // networkId -> the URL it was requested for (before redirects)
    keyByLoader: new Map(), // loaderId of a judged document -> its verdict key (bfcache restores)
    // per navigation (see reports.js)
    reportBatchByNavigation: new Map(), // `${tabId}|${key}` -> batch
    reportBatchByKey: new Map(), // key -> latest batch (workers without a tab)
    // per shared-worker target
    attachedWorkers: new Set(), // shared worker target ids this instance attached to
  },
  // --- caches of browser-session state (chrome.storage.session, DNR session rule) -------
  session: {
    gatedTabs: new Set(), // tabIds exempt from the hold rules (the session rule's tabIds)
    keyByFrame: new Map(), // frameId -> verdict key ("none" when not gated)  `frame:<frameId>`
    verdictByKey: new Map(), // key -> {gated, enforcing, badge, ...} (small summary)  `verdict:<key>`
    keyByOrigin: new Map(), // origin -> the verdict key of its latest navigation  `okey:<origin>`
    workerByTarget: new Map(), // worker target id -> {origin, kind, url, targetId}  `worker:<targetId>`
    workerBySession: new Map(), // service worker session id -> {origin, kind, url}  `wsession:<sessionId>`
  },
};

// The storage keys, in one place.
export const keys = {
  session: {
    started: "started",
    guardToken: "guardToken",
    frame: (frameId) => `frame:${frameId}`,
    top: (tabId) => `top:${tabId}`,
    verdict: (key) => `verdict:${key}`,
    inputs: (key) => `inputs:${key}`,
    originKey: (origin) => `okey:${origin}`,
    worker: (targetId) => `worker:${targetId}`,
    workerSession: (sessionId) => `wsession:${sessionId}`,
    tab: (tabId) => `tab:${tabId}`,
  },
  local: {
    settings: "settings",
    plugins: "plugins",
    cspRules: "cspRules",
    origin: (origin) => `origin:${origin}`,
    csp: (origin) => `csp:${origin}`,
  },
};

export function log(...a) {
  const logs = state.worker.logs;
  console.log("[waict]", ...a);
  logs.push(a.map(String).join(" "));
  if (logs.length > 300) logs.shift();
}

export async function getSession(key) {
  const r = await chrome.storage.session.get(key);
  return r[key];
}
