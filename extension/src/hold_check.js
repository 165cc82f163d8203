// Content script (top frames of http(s) pages, document_start: before any script of the
// page). Catches a document that reached a tab the extension did not gate yet while its
// hold rules were not in force: measured, as Chromium starts, the tabs it opens navigate
// before the extension's declarativeNetRequest rules apply.
//
// The mark of a gated tab is not something the server sends: gating a tab registers a
// script with Page.addScriptToEvaluateOnNewDocument (sw/gating.js, GATE_MARK_SOURCE) that
// answers a cancelable "waict-gate-query" event on the new document. It runs before this
// content script (measured: in every document of a gated tab, none elsewhere), and nothing
// of the page can have run yet, so no page can answer for itself (a fixed Server-Timing
// entry, used before, could be sent by a hostile server). Works on plain http too. A
// document nobody answers for is stopped before any of its scripts run and goes through
// hold.html, which gates the tab and loads it again.
(() => {
  const query = new CustomEvent("waict-gate-query", { cancelable: true });
  if (!document.dispatchEvent(query)) return; // answered: the tab is gated
  window.stop();
  location.replace(`${chrome.runtime.getURL("hold.html")}?url=${location.href}`);
})();
