// WebAssembly guard (see ../wasm_guard.js): registered per page/frame session before a
// document is released; the per-document policy travels in a Server-Timing entry.

import { state, keys, getSession, setSession, withLock } from "./state.js";
import { send } from "./cdp.js";
import { utf8ToB64 } from "./util.js";

// The secret Server-Timing entry name that carries the guard's policy; one per browser
// session (chrome.storage.session), since the registered scripts outlive this worker.
// Read or made under the lock: tabs gated at once (a first start) all get the same one.
// Read from storage once per instance of this worker (every released document needs it).
export function guardToken() {
  if (state.worker.guardToken) return Promise.resolve(state.worker.guardToken);
  return withLock(keys.session.guardToken, async () => {
    let token = await getSession(keys.session.guardToken);
    if (!token) {
      token = crypto.randomUUID().replace(/-/g, "");
      await setSession({ [keys.session.guardToken]: token });
    }
    state.worker.guardToken = token;
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

// The judged document's mark: the Server-Timing entry documents.js adds to every document
// it releases into a tab, which the script sw/gating.js registers in that tab's debugger
// session (gateMarkSource) looks for. Its name holds a secret of that one debugger
// session (`mark:<tabId>` in chrome.storage.session), made afresh each time the tab is
// attached. Pages read their own Server-Timing entries, so a judged page learns the
// secret of its tab's session; a browser-wide secret would let a server that learned it
// in one tab forge the mark for a document that reaches another tab unpaused (as the
// browser starts). Such a document only exists before its session's Fetch interception,
// when no document of that session has been judged yet, so no page knows that session's
// secret (docs/decisions.md). documents.js drops every `waict-` entry a server sends.
export function markSecret(tabId, fresh = false) {
  const name = keys.session.mark(tabId);
  const bySecret = state.worker.markSecretByTab;
  if (!fresh && bySecret.has(tabId)) return Promise.resolve(bySecret.get(tabId));
  return withLock(name, async () => {
    let secret = fresh ? null : await getSession(name);
    if (!secret) {
      secret = crypto.randomUUID().replace(/-/g, "");
      await setSession({ [name]: secret });
    }
    bySecret.set(tabId, secret);
    return secret;
  });
}

export function forgetMarkSecret(tabId) {
  state.worker.markSecretByTab.delete(tabId);
  return chrome.storage.session.remove(keys.session.mark(tabId));
}

export function judgedMarkName(secret) {
  return `waict-${secret}-judged`;
}

export function judgedMarkHeader(secret) {
  return { name: "Server-Timing", value: judgedMarkName(secret) };
}
