// The extension's own pages (popup, options, block page) talk to the service worker with
// chrome.runtime.sendMessage: {type: "status" | "get-settings" | "save-settings" |
// "reset-settings" | "remove-plugin" | "settings-changed", ...}.

import { tabStatusFor } from "./status.js";
import { settingsView, saveSettings, resetSettings, settingsChanged } from "./settings.js";
import { removePlugin } from "./plugins.js";

// chrome.runtime.onMessage: returns true when it will answer (asynchronously).
export function onPageMessage(msg, sender, reply) {
  // only this extension's own pages (popup, options, block page) talk to this listener
  if (!msg || sender.id !== chrome.runtime.id) return false;
  const handlers = {
    status: () => tabStatusFor(msg.tabId),
    "get-settings": () => settingsView(),
    "save-settings": () => saveSettings(msg),
    "reset-settings": () => resetSettings(),
    "remove-plugin": () => removePlugin(msg.id),
    "settings-changed": async () => {
      await settingsChanged();
      return true;
    },
  };
  const handler = handlers[msg.type];
  if (!handler) return false;
  handler().then(reply, (e) => reply({ ok: false, error: String(e && e.message ? e.message : e) }));
  return true;
}
