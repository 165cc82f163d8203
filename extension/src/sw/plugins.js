// Plugins (docs/plugin-api.md): other extensions read verified manifests and approve or
// veto manifests of the origins they registered for. Their answers go to Python
// (judge_navigation "plugins"), which turns anything but an approval into
// invalid_manifest / plugin_veto:<id>. Registrations live in chrome.storage.local.

import * as py from "../python.js";
import { state, keys, log, getSession, withLock } from "./state.js";
import { originKey, manifestView } from "./verdicts.js";

const PLUGIN_API = 1;

export async function pluginTable() {
  const { [keys.local.plugins]: plugins = {} } = await chrome.storage.local.get(keys.local.plugins);
  return plugins;
}

export async function pluginRegistrations() {
  const table = await pluginTable();
  return Object.keys(table).sort().map((id) => ({ id, patterns: table[id].patterns }));
}

// Every change of the registrations reads and rewrites the table under the `plugins` lock
// (concurrent registrations and removals are all kept).
function changePlugins(change) {
  return withLock(keys.local.plugins, async () => {
    const table = await pluginTable();
    change(table);
    await chrome.storage.local.set({ [keys.local.plugins]: table });
  });
}

export async function removePlugin(id) {
  await changePlugins((table) => {
    delete table[id];
  });
  return { ok: true };
}

async function askPlugin(id, timeoutMs, message) {
  let timer = null;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ id, verdict: "timeout", reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const asked = chrome.runtime.sendMessage(id, message).then(
    (answer) => {
      if (answer && (answer.verdict === "approve" || answer.verdict === "veto")) {
        return { id, verdict: answer.verdict, reason: typeof answer.reason === "string" ? answer.reason : null };
      }
      return { id, verdict: "invalid", reason: "the answer is not {verdict: \"approve\"|\"veto\"}" };
    },
    (e) => ({ id, verdict: "unreachable", reason: String(e && e.message ? e.message : e) }),
  );
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function askPlugins(ids, view, where) {
  const table = await pluginTable();
  const requestId = crypto.randomUUID();
  const message = {
    type: "waict.approve",
    api: PLUGIN_API,
    request_id: requestId,
    url: where.url,
    tabId: where.tabId,
    frameId: where.frameId,
    main_frame: where.isMain,
    manifest: view,
  };
  state.worker.stats.pluginAsks++;
  const answers = await Promise.all(ids.map((id) => askPlugin(id, (table[id] && table[id].timeout_ms) || 3000, message)));
  const pluginLog = state.worker.pluginLog;
  for (const a of answers) {
    pluginLog.push({ time: Date.now(), url: where.url, ...a });
    if (pluginLog.length > 100) pluginLog.shift();
    if (a.verdict !== "approve") log("plugin", a.id, a.verdict, where.url, a.reason || "");
  }
  return answers;
}

// chrome.runtime.onMessageExternal: the plugin API.
export async function onExternal(msg, sender) {
  if (!msg || typeof msg.type !== "string") return { ok: false, error: "a message needs a type" };
  const id = sender && sender.id;
  if (!id) return { ok: false, error: "only extensions may use the WAICT plugin API" };
  const table = await pluginTable();
  switch (msg.type) {
    case "waict.hello":
      return { ok: true, api: PLUGIN_API, version: chrome.runtime.getManifest().version, registered: !!table[id] };
    case "waict.register": {
      const out = await py.call("plugin_registration", { patterns: msg.patterns, timeout_ms: msg.timeout_ms });
      if (out.error) return { ok: false, error: out.error };
      if (!out.ok) return out;
      const entry = { patterns: out.patterns, timeout_ms: out.timeout_ms, name: typeof msg.name === "string" ? msg.name.slice(0, 80) : "", since: Date.now() };
      await changePlugins((now) => {
        now[id] = entry;
      });
      log("plugin registered", id, out.patterns.join(" "));
      return { ok: true, api: PLUGIN_API, patterns: out.patterns, timeout_ms: out.timeout_ms };
    }
    case "waict.unregister":
      return removePlugin(id);
    case "waict.getManifest": {
      let key = null;
      let url = typeof msg.url === "string" ? msg.url : null;
      if (Number.isInteger(msg.tabId)) {
        if (!table[id]) return { ok: false, error: "register first to ask about a tab" };
        const status = await getSession(keys.session.tab(msg.tabId));
        key = status ? status.key || "none" : null;
        url = status ? status.url : null;
      } else if (typeof msg.origin === "string") {
        let origin = null;
        try {
          origin = new URL(msg.origin).origin;
        } catch (e) {
          return { ok: false, error: "origin must be an http(s) origin" };
        }
        key = await originKey(origin);
        url = url || `${origin}/`;
      } else {
        return { ok: false, error: "name a tabId or an origin" };
      }
      if (!key) return { ok: false, error: "no navigation was judged in that tab" };
      if (key === "none" || key === "no_verdict") return { ok: true, manifest: { status: "none", url } };
      const view = await manifestView(key, url);
      if (view.error) return { ok: false, error: view.error };
      return { ok: true, manifest: view };
    }
    default:
      return { ok: false, error: `unknown message type ${msg.type}` };
  }
}
