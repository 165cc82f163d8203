// WAICT dev-sigs plugin (docs/plugin-api.md): for a manifest that carries `dev-ids`, every
// `ed25519:` identity must have a valid Ed25519 signature in `dev-sigs` over the payload
// the WAICT extension computed with verifier.devids.dev_sigs_payload (the RFC 8785
// canonical JSON of the manifest without `dev-sigs` and `dev-ids-inclusion`). Verified
// with WebCrypto. A missing or wrong signature is a veto; otherwise the manifest is
// approved. Identities of other kinds (`sigstore:`) are not checked by this plugin.
//
// The plugin registers with the WAICT extension (pinned id below) for every origin and
// answers its `waict.approve` requests; it answers nobody else.

export const WAICT_EXTENSION_IDS = ["jjjinacfkghmlcgnadipofmhdmcgflbb"];
const PATTERNS = ["<all_urls>"];
const TIMEOUT_MS = 5000;
const decisions = []; // recent decisions (tests, debugging)
const state = { registered: null, error: null, attempts: 0 };

function b64ToBytes(text, url = false) {
  let t = text;
  if (url) t = t.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((t.length + 3) % 4);
  const bin = atob(t);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function verifyEd25519(keyBytes, sig, payload) {
  try {
    const key = await crypto.subtle.importKey("raw", keyBytes, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, payload);
  } catch (e) {
    return false; // a key WebCrypto refuses cannot carry a valid signature here
  }
}

// The decision for one manifest view (see docs/plugin-api.md for its fields).
export async function judge(view) {
  if (!view || view.status !== "valid") return { verdict: "approve", reason: "not a verified manifest" };
  const ids = Array.isArray(view.dev_ids) ? view.dev_ids : null;
  if (!ids) return { verdict: "approve", reason: "no dev-ids" };
  const required = ids.filter((id) => typeof id === "string" && id.startsWith("ed25519:"));
  if (!required.length) return { verdict: "approve", reason: "no ed25519 dev-ids" };
  if (!view.dev_sigs_payload) {
    return { verdict: "veto", reason: `cannot compute the signed payload: ${view.dev_sigs_payload_error || "missing"}` };
  }
  const payload = b64ToBytes(view.dev_sigs_payload);
  const sigs = Array.isArray(view.dev_sigs) ? view.dev_sigs : [];
  for (const id of required) {
    const mine = sigs.filter((s) => s && s.id === id && typeof s.sig === "string");
    if (!mine.length) return { verdict: "veto", reason: `no developer signature from ${id}` };
    let key;
    try {
      key = b64ToBytes(id.slice("ed25519:".length), true);
    } catch (e) {
      return { verdict: "veto", reason: `cannot read the key of ${id}` };
    }
    let ok = false;
    for (const s of mine) {
      let sig;
      try {
        sig = b64ToBytes(s.sig, true);
      } catch (e) {
        continue;
      }
      if (sig.length === 64 && key.length === 32 && (await verifyEd25519(key, sig, payload))) {
        ok = true;
        break;
      }
    }
    if (!ok) return { verdict: "veto", reason: `the developer signature of ${id} does not verify` };
  }
  return { verdict: "approve", reason: `${required.length} developer signature(s) verified` };
}

async function register() {
  for (let i = 0; i < 20; i++) {
    state.attempts++;
    try {
      const out = await chrome.runtime.sendMessage(WAICT_EXTENSION_IDS[0], {
        type: "waict.register",
        name: "WAICT dev-sigs",
        patterns: PATTERNS,
        timeout_ms: TIMEOUT_MS,
      });
      if (out && out.ok) {
        state.registered = out;
        state.error = null;
        return out;
      }
      state.error = (out && out.error) || "no answer";
    } catch (e) {
      state.error = String(e && e.message ? e.message : e); // WAICT not running yet: retry
    }
    await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** i, 5000)));
  }
  return null;
}

chrome.runtime.onMessageExternal.addListener((msg, sender, reply) => {
  if (!WAICT_EXTENSION_IDS.includes(sender.id) || !msg || msg.type !== "waict.approve") return false;
  judge(msg.manifest).then(
    (d) => {
      decisions.push({ time: Date.now(), url: msg.url, ...d });
      if (decisions.length > 100) decisions.shift();
      reply(d);
    },
    (e) => reply({ verdict: "veto", reason: `plugin error: ${e}` }),
  );
  return true;
});

chrome.runtime.onInstalled.addListener(() => register());
chrome.runtime.onStartup.addListener(() => register());
const registered = register();

// Read a verified manifest of a tab or an origin (what a plugin may ask at any time).
async function readManifest(where) {
  return chrome.runtime.sendMessage(WAICT_EXTENSION_IDS[0], { type: "waict.getManifest", ...where });
}

globalThis.devSigs = { decisions, state, registered, register, judge, readManifest };
