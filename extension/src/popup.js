// The popup: what the service worker recorded for the active tab's verdict.
const LABELS = { verified: "Verified", report: "Report-only", blocked: "Blocked", none: "Not enrolled", tombstone: "Not enrolled (left WAICT)" };

function age(seconds) {
  if (seconds === undefined || seconds === null) return "?";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function row(dl, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

(async () => {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  const s = tab ? await chrome.runtime.sendMessage({ type: "status", tabId: tab.id }) : null;
  const h = document.getElementById("status");
  const dl = document.getElementById("details");
  if (!s) {
    h.textContent = "WAICT: no verdict for this tab";
    return;
  }
  h.textContent = `WAICT: ${LABELS[s.badge] || s.badge}`;
  h.className = `status-${s.badge}`;
  row(dl, "Page", s.url);
  const info = s.info || {};
  if (s.manifest) row(dl, "Manifest", `${s.manifest.status}${s.manifest.detail ? ` (${s.manifest.detail})` : ""}`);
  if (info.manifest_hash) row(dl, "Manifest hash", info.manifest_hash);
  if (info.mode) row(dl, "Mode", `${info.mode}, max-age ${info.max_age} s${info.preloaded ? ", preloaded" : ""}`);
  if (info.ts) row(dl, "Transparency service", info.ts);
  if (info.log_position !== undefined) row(dl, "Log position", `${info.log_position}, logged ${age(info.entry_age)} ago`);
  if (info.witnesses) row(dl, "Witnesses", info.witnesses.map((w) => `${w.name} (${age(w.age)} ago)`).join(", "));
  if (info.dev_ids) row(dl, "Developer ids", `${info.dev_ids.join(", ") || "none"}${info.dev_ids_ages ? `; committed ${info.dev_ids_ages.map(age).join(", ")} ago` : ""}`);
  if (info.message) row(dl, "Explanation", info.message);
  for (const v of s.violations || []) row(dl, v.allowed ? "Reported" : "Blocked", `${v.destination} ${v.url}: ${v.reason}`);
})();
