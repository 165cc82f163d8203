// Content script (top frames of http(s) pages, document_start: before any script of the
// page). Catches a document that reached a tab the extension did not gate yet while its
// hold rules were not in force: measured, as Chromium starts, the tabs it opens navigate
// before the extension's declarativeNetRequest rules apply. A document
// whose response passed a gated tab carries the `waict-gate` Server-Timing entry that the
// extension's session rule adds there (rules.js); one without it is stopped before any of
// its scripts run and goes through hold.html, which gates the tab and loads it again.
// (Server-Timing is exposed in secure contexts only: plain-http pages are not checked here.)
(() => {
  if (!window.isSecureContext) return;
  const nav = performance.getEntriesByType("navigation")[0];
  if (!nav || nav.serverTiming.some((e) => e.name === "waict-gate")) return;
  window.stop();
  location.replace(`${chrome.runtime.getURL("hold.html")}?url=${location.href}`);
})();
