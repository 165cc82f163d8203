// Settings: trust and preload (defaults shipped in the extension, overridable in options).
// The options page reads and saves them here (Python validates them: validate_settings).

import * as py from "../python.js";
import { state, keys } from "./state.js";
import { bytesToB64, b64ToBytes, nowSeconds } from "./util.js";
import { pluginTable } from "./plugins.js";

export async function loadDefaults() {
  if (state.worker.defaults) return state.worker.defaults;
  const trust = await (await fetch(chrome.runtime.getURL("trust.json"))).json();
  let preload = null;
  try {
    const r = await fetch(chrome.runtime.getURL("preload.waict"));
    if (r.ok) preload = bytesToB64(new Uint8Array(await r.arrayBuffer()));
  } catch (e) {
    preload = null; // optional file
  }
  state.worker.defaults = { trust, preload };
  return state.worker.defaults;
}

export async function settings() {
  const d = await loadDefaults();
  const { [keys.local.settings]: s } = await chrome.storage.local.get(keys.local.settings);
  let source = s && s.preload_source;
  if (!source) source = s && s.preload ? "upload" : "default";
  const preload = source === "upload" ? s.preload : source === "none" ? null : d.preload;
  return {
    trust: s && s.trust ? s.trust : d.trust,
    trustSource: s && s.trust ? "options" : "default",
    preload: preload || null,
    preloadSource: source,
  };
}

// What the options page shows.
export async function settingsView() {
  const d = await loadDefaults();
  const s = await settings();
  const check = await py.call("validate_settings", {
    trust: s.trust,
    preload_source: s.preloadSource,
    preload: s.preloadSource === "none" ? null : s.preload,
    now: nowSeconds(),
  });
  const table = await pluginTable();
  return {
    trust: s.trust,
    trust_source: s.trustSource,
    preload_source: s.preloadSource,
    bundled_preload: !!d.preload,
    preload: check.ok ? check.preload : null,
    preload_problem: check.ok ? null : check.error,
    warnings: check.ok ? check.warnings : [],
    plugins: Object.keys(table).sort().map((id) => ({ id, ...table[id] })),
  };
}

export async function saveSettings(msg) {
  const d = await loadDefaults();
  const source = msg.preload_source;
  let body = null;
  if (source === "upload") body = msg.preload || null;
  else if (source === "default") body = d.preload;
  const out = await py.call("validate_settings", { trust: msg.trust, preload_source: source, preload: body, now: nowSeconds() });
  if (out.error) return { ok: false, field: "trust", error: out.error };
  if (!out.ok) return out; // refused: nothing is saved
  const stored = { trust: out.trust, preload_source: source };
  if (source === "upload") stored.preload = body;
  await chrome.storage.local.set({ [keys.local.settings]: stored });
  await settingsChanged();
  return { ok: true, warnings: out.warnings, preload: out.preload };
}

export async function resetSettings() {
  await chrome.storage.local.remove(keys.local.settings);
  await settingsChanged();
  return { ok: true };
}

export async function settingsChanged() {
  state.worker.defaults = null;
  await py.runPython("from verifier import browser\nbrowser.clear_cache()");
  await refreshFastPathFacts();
}

// Python's facts for the fast path (sw/fast_path.js), for the preload list in force; made
// once Python is ready and again whenever the settings change. Until they match the list
// in force (by digest), the fast path is off.
export async function refreshFastPathFacts() {
  const { preload } = await settings();
  const facts = await py.call("fast_path_facts", { preload });
  if (facts.error) {
    await chrome.storage.local.remove(keys.local.fastPathFacts);
    return;
  }
  await chrome.storage.local.set({ [keys.local.fastPathFacts]: facts });
}

// SHA-256 (hex) of a base64 preload list, or null; the last one is remembered.
let lastDigest = { b64: undefined, hex: null };
export async function preloadSha256(b64) {
  if (!b64) return null;
  if (lastDigest.b64 === b64) return lastDigest.hex;
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", b64ToBytes(b64)));
  const hex = [...h].map((x) => x.toString(16).padStart(2, "0")).join("");
  lastDigest = { b64, hex };
  return hex;
}
