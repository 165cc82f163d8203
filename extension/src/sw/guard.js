// WebAssembly guard (see ../wasm_guard.js): registered per page/frame session before a
// document is released; the per-document policy travels in a Server-Timing entry.

import { state, keys, getSession } from "./state.js";
import { send } from "./cdp.js";
import { utf8ToB64 } from "./util.js";

// The secret Server-Timing entry name that carries the guard's policy; one per browser
// session (chrome.storage.session), since the registered scripts outlive this worker.
// One read (or creation) per worker instance: the gates a start-up runs at once must not
// each create a token (the guard of one would miss the policy entry of another).
export function guardToken() {
  if (state.worker.guardTokenRead === null) {
    state.worker.guardTokenRead = (async () => {
      let token = await getSession(keys.session.guardToken);
      if (!token) {
        token = crypto.randomUUID().replace(/-/g, "");
        await chrome.storage.session.set({ [keys.session.guardToken]: token });
      }
      return token;
    })();
  }
  return state.worker.guardTokenRead;
}

export async function registerGuard(t) {
  if (state.worker.guardSource === null) {
    const text = await (await fetch(chrome.runtime.getURL("wasm_guard.js"))).text();
    state.worker.guardSource = text.replace("__WAICT_TOKEN__", await guardToken());
  }
  await send(t, "Page.addScriptToEvaluateOnNewDocument", { source: state.worker.guardSource });
}

export function guardHeader(token, wasm) {
  if (!wasm || !wasm.covered) return null;
  const policy = { covered: true, enforcing: wasm.enforcing, allowed: wasm.allowed };
  const b64u = utf8ToB64(JSON.stringify(policy)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return { name: "Server-Timing", value: `waict-${token};desc="${b64u}"` };
}
