// WAICT WebAssembly guard. Registered by the service worker in every page and frame session
// (CDP Page.addScriptToEvaluateOnNewDocument, once, when the tab is gated), so it runs in the
// MAIN world of every new document before any page script.
//
// Its policy for the document comes from Python (verifier.browser.judge_navigation(...).wasm:
// `covered`, `enforcing`, `allowed` base64url SHA-256 digests). The service worker hands it
// over in the document response it releases, as a Server-Timing entry named with a secret
// token (the site cannot forge it: the worker strips any such entry the server sent), which
// this script reads synchronously from the navigation timing entry. Page commands cannot be
// sent while a navigation is paused, so a per-document script cannot be registered then.
// The guard applies the verdict: it hashes the bytes handed to WebAssembly compilation and
// refuses them unless the digest is allowed (report mode: it logs and lets them compile).
(() => {
  const TOKEN = "__WAICT_TOKEN__";
  let policy = null;
  try {
    const nav = performance.getEntriesByType("navigation")[0];
    const entry = nav && nav.serverTiming.find((e) => e.name === `waict-${TOKEN}`);
    if (entry) {
      const b64 = entry.description.replace(/-/g, "+").replace(/_/g, "/");
      policy = JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
    }
  } catch (e) {
    policy = null;
  }
  if (!policy || !policy.covered) return;
  const allowed = new Set(policy.allowed);

  // SHA-256 (FIPS 180-4), synchronous: `new WebAssembly.Module(bytes)` cannot wait.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  function sha256(data) {
    const len = data.length;
    const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(data);
    padded[len] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
    view.setUint32(padded.length - 4, (len << 3) >>> 0);
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
    return out;
  }
  function b64u(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function bytesOf(source) {
    if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
    if (ArrayBuffer.isView(source)) {
      return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
    }
    return null; // not bytes: WebAssembly itself rejects it
  }
  const W = WebAssembly;
  const { compile, instantiate, validate } = W;
  const OriginalModule = W.Module;
  const CompileError = W.CompileError;
  function check(source) {
    const bytes = bytesOf(source);
    if (bytes === null) return source;
    const digest = b64u(sha256(bytes));
    if (allowed.has(digest)) return bytes;
    console.error(`WAICT: WebAssembly module sha256-${digest} is not in the manifest's wasm_hashes`);
    if (policy.enforcing) throw new CompileError("WAICT: wasm_hash_mismatch");
    return bytes;
  }
  W.compile = function (source) {
    try {
      return compile.call(W, check(source));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  W.instantiate = function (source, imports) {
    if (source instanceof OriginalModule) return instantiate.call(W, source, imports);
    try {
      return instantiate.call(W, check(source), imports);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  W.Module = new Proxy(OriginalModule, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, [check(args[0]), ...args.slice(1)], newTarget);
    },
  });
  // Streaming variants: read the whole body (a script can build a Response itself), check it.
  async function streamedBytes(source) {
    const response = await source;
    const type = (response.headers.get("Content-Type") || "").split(";")[0].trim().toLowerCase();
    if (type !== "application/wasm") throw new TypeError("WebAssembly: Incorrect response MIME type. Expected 'application/wasm'.");
    return response.arrayBuffer();
  }
  W.compileStreaming = async function (source) {
    return W.compile(await streamedBytes(source));
  };
  W.instantiateStreaming = async function (source, imports) {
    return W.instantiate(await streamedBytes(source), imports);
  };
  W.validate = validate;
})();
