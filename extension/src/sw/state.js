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
// | worker.guardToken              | -                 | this instance         | session `guardToken`                |
// | worker.gatingByTab             | tab               | until tab detaches    | -                                   |
// | worker.swGatingBySession       | worker session    | until it detaches     | - (`wsession:` once gated)          |
// | worker.pausedWorkerSessions    | worker session    | until it detaches     | -                                   |
// | worker.markSecretByTab         | tab               | until tab detaches    | `mark:<tabId>` (sw/guard.js)        |
// | worker.backgroundRules         | origin            | this instance         | session rules >= 10000 (read back)  |
// | worker.shownUntilByTabOrigin   | tab + origin      | 2 s after a release, 60 s after the tab left it | -         |
// | worker.originsShownByTab       | tab               | until the next recompute | -                                |
// | worker.parentByFrame           | frame             | until frame or tab go | -                                   |
// | worker.tabByFrame              | frame             | until frame or tab go | -                                   |
// | worker.lockByName              | storage key       | while a lock is held  | -                                   |
// | worker.secFetchDestByRequest   | request           | until its response    | -                                   |
// | worker.destWaiterByRequest     | request           | until its response    | -                                   |
// | worker.firstUrlByRequest       | request           | until its response    | - (URL before the redirects)        |
// | worker.keyByLoader             | document (loader) | this instance (2000)  | - (bfcache restores; else reload)   |
// | worker.reportBatchByNavigation | tab + verdict key | until tab's next top  | - (unsent reports are lost)         |
// | worker.reportBatchByKey        | verdict key       | until next navigation | -                                   |
// | worker.attachedWorkers         | shared worker     | until it detaches     | -                                   |
// | session.gatedTabs              | tab               | browser session       | exemption rule tabIds (DNR session) |
// | session.keyByFrame             | frame             | until frame or tab go | `frame:<tabId>:<frameId>`, `top:`   |
// | session.verdictByKey           | verdict key       | while referenced      | `verdict:`, `inputs:`, `blob:`      |
// | session.keyByOrigin            | origin            | while a tab shows it  | `okey:<origin>`                     |
// | session.workerByTarget         | worker target     | while the target runs | `worker:<targetId>`                 |
// | session.workerBySession        | worker session    | while the target runs | `wsession:<sessionId>`              |
//
// Nothing in chrome.storage.session outlives what it is for (sw/cleanup.js): a closed tab's
// `tab:`, `top:` and `frame:<tabId>:*` go at once, a removed frame's `frame:` too, and a
// sweep (after a closed tab, after judged navigations, debounced) removes verdicts,
// inputs and blobs no tab, frame or origin refers to, origins no tab shows and workers
// whose target is gone. The judged inputs (`inputs:<key>`, to re-judge after a restart)
// are small: the manifest response, the preload list and the trust settings are stored
// once per content digest, compressed (`blob:<digest>`), and referenced by digest.
//
// Stored only (no in-memory copy):
// - chrome.storage.session: `started` (a worker of this browser session ran before),
//   `guardToken` (the WebAssembly guard's secret), `top:<tabId>` (the verdict key of a
//   tab's top document), `inputs:<key>` (the judged inputs, to re-judge after a restart;
//   large parts by digest), `blob:<digest>` (a manifest response, preload list or trust
//   settings, gzip + base64), `tab:<tabId>` (what the popup and the badge show for a tab).
//
// Every read-modify-write of a stored key (a tab's status, `cspRules`, `plugins`,
// `guardToken`, the sweep against the writes of a verdict) runs under withLock(name): one
// mechanism. A write that exceeds chrome.storage.session's quota is counted
// (stats.quotaErrors) and raised as StorageFullError; a navigation then gets the block
// page (fail closed, never silently).
// - chrome.storage.local: `settings` (trust and preload chosen in the options),
//   `plugins` (registered plugins), `origin:<origin>` (the origin's ratchet state),
//   `csp:<origin>` (the CSP of the origin's declarativeNetRequest rule), `cspRules`
//   (origin -> that rule's id). The rules themselves are dynamic DNR rules (ids >= 1000).
//   `fastPathFacts` (Python's facts for the fast path, for one preload list: sw/fast_path.js).

export const state = {
  // --- this service-worker instance only; never persisted -------------------------------
  worker: {
    // diagnostics (tests, popup)
    stats: {
      paused: 0, checked: 0, blocked: 0, navigations: 0, rejudged: 0, errors: 0,
      pluginAsks: 0, reportsSent: 0, reportErrors: 0, workersGated: 0, holds: 0,
      backgroundRuleUpdates: 0, backgroundRulesCapped: 0, backgroundRuleErrors: 0, // background_workers.js
      workerPausesUnchecked: 0, // workers.js: a script paused in a worker session, resumed without a check
      workerStartsReleasedByOthers: 0, // workers.js: a service worker another debugger client let run first
      workerDebuggerGone: 0, workerDebuggerErrors: 0, // workers.js: a worker's Debugger command failed
      quotaErrors: 0, sweeps: 0, swept: 0, manifestTooLarge: 0, manifestTimeouts: 0,
      failRequestErrors: 0, failRequestGone: 0, continueRequestErrors: 0, continueRequestGone: 0,
      continueResponseErrors: 0, continueResponseGone: 0, unknownWorkerPauses: 0, workersForgotten: 0,
      startupNavigationsRestored: 0, fastPath: 0, restartReloads: 0, restartReloadsSpared: 0,
      destWaits: 0, destWaitMs: 0, destWaitTimeouts: 0, // Sec-Fetch-Dest waits (destinations.js)
      manifestPrefetches: 0, manifestPrefetchUsed: 0, manifestPrefetchUnused: 0, // manifests.js
    },
    logs: [], // recent log lines
    violations: [], // recent blocked/reported resources (tests, popup)
    pluginLog: [], // recent plugin answers (tests, popup)
    navigationErrors: [], // recent webNavigation.onErrorOccurred (tests: no held tab shows one)
    // caches of the extension's own files
    defaults: null, // {trust, preload} shipped in the extension (null: read again)
    guardSource: null, // Promise<wasm_guard.js with this browser session's token>
    guardToken: null, // copy of session `guardToken` (sw/guard.js)
    markSecretByTab: new Map(), // tabId -> the judged mark's secret (copy of `mark:<tabId>`)
    backgroundRules: { all: false, origins: new Set() }, // as written (sw/background_workers.js): origins blocked, or with `all` the ones let through
    shownUntilByTabOrigin: new Map(), // `<tabId> <origin>` -> {tabId, origin, until}: counts as shown (same)
    originsShownByTab: new Map(), // tabId -> Set(origin) its frames showed at the last recompute (same)
    // read-modify-writes of stored keys (withLock)
    lockByName: new Map(), // name -> the tail of its queue
    sweepTimer: null, // the pending debounced sweep (cleanup.js)
    // per tab
    gatingByTab: new Map(), // tabId -> Promise<boolean> (gated?)
    swGatingBySession: new Map(), // service-worker session id -> Promise<boolean> (a WAICT origin's, gated?)
    pausedWorkerSessions: new Set(), // worker session ids that paused at our breakpoint (workers.js)
    testDelays: { serviceWorkerGatingMs: 0 }, // tests only: widen a race on purpose (waict.testDelays)
    testLimits: { backgroundRules: Infinity }, // tests only: a lower cap (waict.testLimits)
    pausedTabs: new Set(), // tabIds with a response paused in this instance (restart reloads)
    // per frame
    parentByFrame: new Map(), // frameId -> parentFrameId (from Page.frameAttached)
    tabByFrame: new Map(), // frameId -> tabId (to forget a closed tab's frames)
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
    keyByFrame: new Map(), // frameId -> verdict key ("none" when not gated)  `frame:<tabId>:<frameId>`
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
    frame: (tabId, frameId) => `frame:${tabId}:${frameId}`,
    tabFrames: (tabId) => `frame:${tabId}:`, // prefix of a tab's frame keys
    top: (tabId) => `top:${tabId}`,
    nav: (tabId) => `nav:${tabId}`, // {url, method} of the tab's latest top-level response paused
    verdict: (key) => `verdict:${key}`,
    inputs: (key) => `inputs:${key}`,
    blob: (digest) => `blob:${digest}`,
    originKey: (origin) => `okey:${origin}`,
    worker: (targetId) => `worker:${targetId}`,
    workerSession: (sessionId) => `wsession:${sessionId}`,
    tab: (tabId) => `tab:${tabId}`,
    mark: (tabId) => `mark:${tabId}`, // the judged mark's secret of the tab's debugger session
  },
  local: {
    settings: "settings",
    plugins: "plugins",
    cspRules: "cspRules",
    origin: (origin) => `origin:${origin}`,
    csp: (origin) => `csp:${origin}`,
    fastPathFacts: "fastPathFacts",
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

// chrome.storage.session is full: the write was refused (counted in stats.quotaErrors).
export class StorageFullError extends Error {
  constructor(message) {
    super(message);
    this.name = "StorageFullError";
  }
}

// chrome.storage.session.set, with a quota error made explicit: counted, logged, raised
// as StorageFullError (the caller fails closed; a navigation gets the block page).
export async function setSession(items) {
  try {
    await chrome.storage.session.set(items);
  } catch (e) {
    const message = String(e && e.message ? e.message : e);
    if (!/quota/i.test(message)) throw e;
    state.worker.stats.quotaErrors++;
    log("session storage full:", message);
    throw new StorageFullError(message);
  }
}

// Run fn() after every earlier fn() queued under the same name has settled: every
// read-modify-write of a stored key goes through here (this worker instance is the only
// writer of those keys, so an in-memory queue is enough; a killed worker drops its queue
// with it). Returns what fn returns (or throws what it throws).
export function withLock(name, fn) {
  const locks = state.worker.lockByName;
  const run = (locks.get(name) || Promise.resolve()).then(() => fn());
  const tail = run.then(() => {}, () => {});
  locks.set(name, tail);
  tail.then(() => {
    if (locks.get(name) === tail) locks.delete(name);
  });
  return run;
}
