// WebAssembly guard (see ../wasm_guard.js): registered per page/frame session before a
// document is released; the per-document policy travels in a Server-Timing entry.

import { state, keys, getSession, setSession, withLock } from "./state.js";
import { send } from "./cdp.js";
import { utf8ToB64 } from "./util.js";

// The secret Server-Timing entry name that carries the guard's policy; one per browser
// session (chrome.storage.session), since the registered scripts outlive this worker.
// Read or made under the lock: tabs gated at once (a first start) all get the same one.
export function guardToken() {
  return withLock(keys.session.guardToken, async () => {
    let token = await getSession(keys.session.guardToken);
    if (!token) {
      token = crypto.randomUUID().replace(/-/g, "");
      await setSession({ [keys.session.guardToken]: token });
    }
    return token;
  });
}

// The guard's source with the token, made once per worker instance (a promise, so tabs
// gated at once share it).
function guardSource() {
  if (state.worker.guardSource === null) {
    state.worker.guardSource = (async () => {
      const text = await (await fetch(chrome.runtime.getURL("wasm_guard.js"))).text();
      return text.replace("__WAICT_TOKEN__", await guardToken());
    })();
    state.worker.guardSource.catch(() => {
      state.worker.guardSource = null; // try again with the next tab
    });
  }
  return state.worker.guardSource;
}

export async function registerGuard(t) {
  await send(t, "Page.addScriptToEvaluateOnNewDocument", { source: await guardSource() });
}

export function guardHeader(token, wasm) {
  if (!wasm || !wasm.covered) return null;
  const policy = { covered: true, enforcing: wasm.enforcing, allowed: wasm.allowed };
  const b64u = utf8ToB64(JSON.stringify(policy)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return { name: "Server-Timing", value: `waict-${token};desc="${b64u}"` };
}

// The Server-Timing entry of every document documents.js releases: the judged document's
// mark that the script registered by sw/gating.js (gateMarkSource) looks for. Its name
// holds the secret token, so a server cannot send it (documents.js strips any entry
// naming the token).
export function judgedMarkName(token) {
  return `waict-${token}-judged`;
}

export function judgedMarkHeader(token) {
  return { name: "Server-Timing", value: judgedMarkName(token) };
}
