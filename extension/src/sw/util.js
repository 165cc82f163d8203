// Small pure helpers: base64, headers, the clock. No state, no chrome.* calls.

export function bytesToB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
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
