// Content script (top frames of http(s) pages, document_start: before any script of the
// page). Catches a document that reached a tab the extension did not gate yet while its
// hold rules were not in force: measured, as Chromium starts, the tabs it opens navigate
// before the extension's declarativeNetRequest rules apply.
//
// The mark of a judged document is not something the server can send: gating a tab
// registers a script with Page.addScriptToEvaluateOnNewDocument (sw/gating.js,
// gateMarkSource) that answers a cancelable "waict-gate-query" event on the new document
// when the document's response carries the Server-Timing entry the worker adds to each
// document it released (named with a secret token; one a server sends is stripped). It
// runs before this content script (measured: in every document of a gated tab, none
// elsewhere), and nothing of the page can have run yet, so no page can answer for itself.
// A gated tab is not enough: a navigation that started before the tab's interception
// reaches it unpaused. Works on plain http too. A document nobody answers for is stopped
// before any of its scripts run and goes through hold.html, which gates the tab and loads
// it again.
(() => {
  const query = new CustomEvent("waict-gate-query", { cancelable: true });
  if (!document.dispatchEvent(query)) return; // answered: the tab is gated
  window.stop();
  location.replace(`${chrome.runtime.getURL("hold.html")}?url=${location.href}`);
})();
