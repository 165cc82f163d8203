// The popup: what the service worker recorded for a tab's verdict (Python's verdict and
// the details derived from it in verifier.browser.navigation._info; plain words from
// verifier.browser.EXPLANATIONS). popup.html?tab=<id> shows that tab (tests, links);
// otherwise the active tab of the current window.
const LABELS = {
  verified: "Verified",
  report: "Report-only",
  blocked: "Blocked",
  none: "Not enrolled",
  tombstone: "Not enrolled (the site left WAICT)",
};
const SUMMARIES = {
  verified: "Every script, style, worker and frame this page loaded is the code the site publicly committed to.",
  report: "The site asks WAICT only to report problems: code that fails the checks still runs.",
  blocked: "WAICT stopped code of this page that the site did not prove.",
  none: "This site does not use WAICT: nothing is checked.",
  tombstone: "This site left WAICT with a logged tombstone: nothing is checked.",
};

function age(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function when(ts) {
  return new Date(ts * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function row(dl, name, value, id) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (id) dd.id = id;
  dl.append(dt, dd);
}

async function tabId() {
  const q = new URLSearchParams(location.search).get("tab");
  if (q !== null && /^\d+$/.test(q)) return Number(q);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab ? tab.id : null;
}

(async () => {
  const id = await tabId();
  const s = id === null ? null : await chrome.runtime.sendMessage({ type: "status", tabId: id });
  const h = document.getElementById("status");
  const dl = document.getElementById("details");
  if (!s || s.ok === false) {
    h.textContent = "No WAICT verdict for this tab";
    document.getElementById("summary").textContent = "Load or reload a page in this tab.";
    return;
  }
  const now = Date.now() / 1000;
  const badge = s.badge || "none";
  h.textContent = LABELS[badge] || badge;
  h.className = `status-${badge}`;
  document.getElementById("dot").className = `dot status-${badge}`;
  document.body.dataset.status = badge;
  const list = s.violations || [];
  const blockedCount = list.filter((v) => !v.allowed).length;
  document.getElementById("summary").textContent =
    badge === "verified" && blockedCount
      ? `The page is the code the site committed to, but WAICT blocked ${blockedCount} resource(s) that it did not commit to.`
      : SUMMARIES[badge] || "";
  let host = s.url;
  try {
    host = new URL(s.url).host;
  } catch (e) {
    host = s.url;
  }
  row(dl, "Site", host, "site");
  const info = s.info || {};
  if (info.mode) row(dl, "Mode", `${info.mode}${info.enforcing && info.mode !== "enforce" ? " (enforced: preloaded)" : ""}, max-age ${age(info.max_age)}`, "mode");
  if (s.manifest && s.manifest.status !== "none") {
    const m = s.manifest;
    row(dl, "Manifest", m.status === "valid" ? "valid" : `${m.status}${m.reason ? `: ${m.reason}` : ""}${m.detail ? ` (${m.detail})` : ""}`, "manifest");
  }
  if (info.explanation) row(dl, "Why", `${info.explanation.text} ${info.explanation.action}`, "why");
  if (info.manifest_url) row(dl, "Manifest URL", info.manifest_url, "manifest-url");
  if (info.manifest_hash) row(dl, "Manifest hash", `sha256-${info.manifest_hash}`, "manifest-hash");
  if (info.ts) row(dl, "Transparency service", info.ts, "ts");
  if (info.log_position !== undefined) {
    row(dl, "Log entry", `position ${info.log_position}, logged ${when(info.entry_time)} (${age(now - info.entry_time)} ago)`, "log-entry");
  }
  if (info.witnesses) {
    row(dl, "Witnesses", info.witnesses.map((w) => `${w.name}: cosigned ${age(now - w.timestamp)} ago`).join("; ") || "none", "witnesses");
  }
  if (info.preload) {
    const p = info.preload;
    let text = p.listed ? `listed${p.dev_ids_required ? ", developer ids required" : ""} (always enforced)` : "not listed";
    text += p.list ? `; list issued ${age(now - p.list.issued)} ago, ${p.list.hosts} hosts` : "; no usable preload list";
    row(dl, "Preload list", text, "preload");
  }
  if (info.dev_ids) {
    const c = info.dev_ids_committed;
    let text = info.dev_ids.join(", ") || "none (no developer signing)";
    if (c && c.entry_time) text += `; committed ${age(now - c.entry_time)} ago`;
    else if (c && c.cosigned) text += `; cosigned ${c.cosigned.map((t) => age(now - t)).join(", ")} ago`;
    row(dl, "Developer ids", text, "dev-ids");
  }
  if (info.dev_ids_next) row(dl, "Next developer ids", info.dev_ids_next.join(", ") || "none", "dev-ids-next");
  if (info.plugins && info.plugins.length) {
    row(dl, "Plugins", info.plugins.map((p) => `${p.id}: ${p.verdict}${p.reason ? ` (${p.reason})` : ""}`).join("; "), "plugins");
  }
  if (info.message && badge !== "verified") row(dl, "Message", info.message, "message");

  if (list.length) {
    const section = document.getElementById("resources");
    section.hidden = false;
    const blocked = blockedCount;
    document.getElementById("resources-title").textContent =
      blocked === list.length ? `Blocked resources (${list.length})` : `Resources that failed the checks (${list.length}, ${blocked} blocked)`;
    const ul = document.getElementById("resource-list");
    for (const v of list) {
      const li = document.createElement("li");
      li.className = v.allowed ? "reported" : "blocked";
      const what = document.createElement("span");
      what.textContent = `${v.allowed ? "Reported" : "Blocked"} ${v.destination || "resource"} ${v.url}: ${v.reason}${v.detail ? ` (${v.detail})` : ""}`;
      li.append(what);
      if (v.explanation) {
        const why = document.createElement("span");
        why.className = "why";
        why.textContent = v.explanation.text;
        li.append(why);
      }
      ul.append(li);
    }
  }
})();
