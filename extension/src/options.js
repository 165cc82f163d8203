// Options: trust settings and the preload list source. Validation is Python's
// (verifier.browser.validate_settings: verifier.trust.parse_trust and
// verifier.preload.verify_preload_response), done by the service worker before it saves;
// a refused setting is shown with the verifier's message and nothing is saved.
const $ = (id) => document.getElementById(id);
const msg = $("msg");
const NUMBERS = ["quorum", "max_cosignature_age", "max_future_skew", "cooldown"];
let uploaded = null; // b64 of the chosen preload.waict file
let current = null;

function bytesToB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function show(kind, text, items = []) {
  msg.className = kind;
  msg.textContent = text;
  if (items.length) {
    const ul = document.createElement("ul");
    for (const item of items) {
      const li = document.createElement("li");
      li.textContent = item;
      ul.append(li);
    }
    msg.append(ul);
  }
}

function witnessRow(w = { name: "", key: "" }) {
  const tr = document.createElement("tr");
  tr.className = "witness";
  const name = Object.assign(document.createElement("input"), { type: "text", value: w.name, className: "w-name", spellcheck: false });
  const key = Object.assign(document.createElement("input"), { type: "text", value: w.key, className: "w-key", spellcheck: false });
  const rm = Object.assign(document.createElement("button"), { type: "button", textContent: "Remove", className: "button" });
  rm.addEventListener("click", () => tr.remove());
  for (const el of [name, key, rm]) {
    const td = document.createElement("td");
    td.append(el);
    tr.append(td);
  }
  $("witnesses").append(tr);
}

function fill(view) {
  current = view;
  const t = view.trust || {};
  $("ts").value = (t.transparency_services || []).join("\n");
  $("witnesses").textContent = "";
  for (const w of t.witnesses || []) witnessRow(w);
  for (const n of NUMBERS) $(n).value = t[n] === undefined ? "" : String(t[n]);
  $("preload_domain").value = t.preload_domain || "";
  for (const r of document.querySelectorAll("input[name=preload_source]")) r.checked = r.value === view.preload_source;
  $("source").textContent = view.trust_source === "options" ? "Showing your saved settings." : "Showing the settings shipped with the extension.";
  const p = view.preload;
  $("preload_summary").textContent = p
    ? `In use: a list for ${p.hosts.length} host(s) proven by ${p.domain}, issued ${new Date(p.issued * 1000).toISOString().slice(0, 10)}, expires ${new Date(p.expires * 1000).toISOString().slice(0, 10)}.`
    : view.preload_source === "none" ? "No preload list is used." : `No usable preload list${view.preload_problem ? `: ${view.preload_problem}` : ""}.`;
  const ul = $("plugins");
  ul.textContent = "";
  if (!view.plugins.length) {
    const li = document.createElement("li");
    li.textContent = "No plugin is registered.";
    ul.append(li);
  }
  for (const p of view.plugins) {
    const li = document.createElement("li");
    li.className = "plugin";
    li.textContent = `${p.name || p.id} (${p.id}): ${p.patterns.join(" ")}, answers within ${p.timeout_ms} ms `;
    const rm = Object.assign(document.createElement("button"), { type: "button", textContent: "Remove", className: "button" });
    rm.addEventListener("click", async () => {
      await chrome.runtime.sendMessage({ type: "remove-plugin", id: p.id });
      await load();
    });
    li.append(rm);
    ul.append(li);
  }
}

async function load() {
  fill(await chrome.runtime.sendMessage({ type: "get-settings" }));
}

// Numbers are passed as numbers when they look like one and as typed otherwise, so that
// Python's message names the problem; empty optional fields take the defaults.
function number(id) {
  const v = $(id).value.trim();
  if (v === "") return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

function collect() {
  const trust = {
    transparency_services: $("ts").value.split(/\s+/).map((x) => x.trim()).filter(Boolean),
    witnesses: [...document.querySelectorAll("tr.witness")].map((tr) => ({
      name: tr.querySelector(".w-name").value.trim(),
      key: tr.querySelector(".w-key").value.trim(),
    })).filter((w) => w.name || w.key),
  };
  for (const n of NUMBERS) {
    const v = number(n);
    if (v !== undefined) trust[n] = v;
  }
  const pd = $("preload_domain").value.trim();
  if (pd) trust.preload_domain = pd;
  const source = document.querySelector("input[name=preload_source]:checked").value;
  return { trust, preload_source: source, preload: source === "upload" ? uploaded : null };
}

function highlight(field, error) {
  for (const el of document.querySelectorAll(".invalid")) el.classList.remove("invalid");
  let el = null;
  if (field === "preload") el = $("preload_file");
  else if (/quorum/.test(error)) el = $("quorum");
  else if (/max_cosignature_age/.test(error)) el = $("max_cosignature_age");
  else if (/max_future_skew/.test(error)) el = $("max_future_skew");
  else if (/cooldown/.test(error)) el = $("cooldown");
  else if (/preload_domain/.test(error)) el = $("preload_domain");
  else if (/transparency service/.test(error)) el = $("ts");
  else if (/witness/.test(error)) el = $("witnesses");
  if (el) el.classList.add("invalid");
}

$("preload_file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  uploaded = file ? bytesToB64(new Uint8Array(await file.arrayBuffer())) : null;
  if (file) document.querySelector("input[name=preload_source][value=upload]").checked = true;
});
$("add-witness").addEventListener("click", () => witnessRow());
$("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = await chrome.runtime.sendMessage({ type: "save-settings", ...collect() });
  if (!out || !out.ok) {
    const error = (out && out.error) || "the settings could not be saved";
    highlight(out && out.field, error);
    show("error", `Not saved: ${error}`);
    return;
  }
  highlight(null, "");
  await load();
  show("ok", "Saved. New navigations use these settings.", out.warnings || []);
});
$("reset").addEventListener("click", async () => {
  await chrome.runtime.sendMessage({ type: "reset-settings" });
  uploaded = null;
  await load();
  show("ok", "The shipped defaults are in use again.");
});

load();
