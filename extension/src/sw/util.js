// Small pure helpers: base64, headers, the clock, profile tallies. No chrome.* calls.

export function bytesToB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

// Standard base64 -> bytes (native Uint8Array.fromBase64 where the browser has it).
export function b64ToBytes(b64) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function utf8ToB64(text) {
  return bytesToB64(new TextEncoder().encode(text));
}

export function headerValue(headers, name) {
  const values = (headers || [])
    .filter((h) => h.name.toLowerCase() === name)
    .map((h) => h.value);
  return values.length ? values.join(", ") : null;
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// Profile tallies (waict.cdpStats, waict.heldStats, waict.documentPhases): count and time
// `work` (a promise) under `name` in `table` ({n, ms, max_ms} per name), whatever its end.
export async function timed(table, name, work) {
  const started = performance.now();
  try {
    return await work;
  } finally {
    const ms = performance.now() - started;
    const c = table[name] || (table[name] = { n: 0, ms: 0, max_ms: 0 });
    c.n++;
    c.ms += ms;
    c.max_ms = Math.max(c.max_ms, ms);
  }
}
