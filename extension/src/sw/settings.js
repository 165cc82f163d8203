// Settings: trust and preload (defaults shipped in the extension, overridable in options).
// The options page reads and saves them here (Python validates them: validate_settings).

import * as py from "../python.js";
import { state, keys } from "./state.js";
import { bytesToB64, nowSeconds } from "./util.js";
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
}
