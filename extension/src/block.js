// The block page: everything comes from its URL (set by the service worker from Python's
// verdict: reason, detail, technical message and the plain-word explanation of
// verifier.browser.EXPLANATIONS), so it renders even when the service worker is gone.
// There is deliberately no "proceed anyway": "Try again" navigates to the page again,
// which is judged again from scratch.
const q = new URLSearchParams(location.search);
const get = (name) => q.get(name) || "";
const url = get("url");

let site = "this page";
try {
  const u = new URL(url);
  if (u.protocol === "http:" || u.protocol === "https:") site = u.host;
} catch (e) {
  site = "this page";
}
document.getElementById("site").textContent = site;
if (get("text")) document.getElementById("text").textContent = get("text");
document.getElementById("action").textContent =
  get("action") || "Try again later, or tell the site's operator.";
document.getElementById("url").textContent = url || "—";
document.getElementById("reason").textContent = get("reason") || "—";
document.getElementById("detail").textContent = get("detail") || "—";
document.getElementById("message").textContent = get("message") || "—";
const enforcing = get("enforcing") !== "0";
document.getElementById("mode").textContent =
  `${get("mode") || "enforce"}${enforcing ? " (failures block)" : ""}`;

const retry = document.getElementById("retry");
if (/^https?:\/\//.test(url)) retry.href = url;
else retry.remove();
document.getElementById("back").addEventListener("click", () => history.back());
document.title = `Blocked by WAICT: ${get("detail") || get("reason")} (${site})`;
