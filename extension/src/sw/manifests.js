// A site's manifest: fetched within Python's bounds (plan_navigation), and started early.
//
// Prefetch: when a navigation to an origin starts (chrome.webNavigation.onBeforeNavigate,
// before its request is sent), the manifest URL that origin's latest judged navigation
// used in this worker instance is fetched at once, with the same bounds. The document's
// response then finds it under way instead of fetching it only after its own round trip:
// on the network that is one round trip less per WAICT navigation (on loopback, measured,
// the manifest fetch was 6 ms of a 22 ms document hold). What Python judges is the same:
// a fetch of the URL its plan names, with the bounds its plan names, started moments
// earlier; a prefetch of another URL, other bounds, older than PREFETCH_TTL_MS, or
// already taken by another navigation is not used (the manifest is fetched then). Its
// result is used whatever it is (bytes, or an error: fetching again would double the wait
// on a dripping or huge manifest). Counted: stats.manifestPrefetches, ...PrefetchUsed,
// ...PrefetchUnused (found but not usable).

import { state } from "./state.js";

const { stats } = state.worker;

const PREFETCH_TTL_MS = 2000;
const PLANS_MAX = 256;
const PREFETCHES_MAX = 32;
const lastPlanByOrigin = new Map(); // origin -> {url, maxBytes, deadlineMs} (this instance)
const prefetchByUrl = new Map(); // manifest URL -> {started, maxBytes, deadlineMs, result}

// Fetch a manifest within Python's bounds (plan_navigation): the body is read chunk by
// chunk and dropped as soon as it is over `maxBytes`, and one deadline covers the headers
// and the whole body (a server that drips a byte at a time cannot extend it).
// -> {bytes: Uint8Array|null, error: null|"too_large"|"timeout"}; bytes null and no
// error: unavailable (a network error or a non-2xx answer).
export async function fetchManifest(url, maxBytes, deadlineMs) {
  const ctl = new AbortController();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    ctl.abort();
  }, deadlineMs);
  const tooLarge = () => {
    ctl.abort();
    return { bytes: null, error: "too_large" };
  };
  try {
    const r = await fetch(url, { credentials: "omit", cache: "no-store", signal: ctl.signal });
    if (!r.ok) {
      ctl.abort();
      return { bytes: null, error: null };
    }
    if (Number(r.headers.get("content-length") || 0) > maxBytes) return tooLarge();
    const reader = r.body.getReader();
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) return tooLarge();
      chunks.push(value);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return { bytes, error: null };
  } catch (e) {
    if (late) return { bytes: null, error: "timeout" };
    return { bytes: null, error: null }; // unavailable: judged as manifest_unavailable
  } finally {
    clearTimeout(timer);
  }
}

// After plan_navigation named a manifest for an origin: what to prefetch next time.
export function rememberPlan(origin, url, maxBytes, deadlineMs) {
  lastPlanByOrigin.delete(origin);
  lastPlanByOrigin.set(origin, { url, maxBytes, deadlineMs });
  if (lastPlanByOrigin.size > PLANS_MAX) lastPlanByOrigin.delete(lastPlanByOrigin.keys().next().value);
}

// chrome.webNavigation.onBeforeNavigate
export function onBeforeNavigate(d) {
  let origin;
  try {
    origin = new URL(d.url).origin;
  } catch (e) {
    return;
  }
  const last = lastPlanByOrigin.get(origin);
  if (!last) return;
  const under = prefetchByUrl.get(last.url);
  if (under && performance.now() - under.started < PREFETCH_TTL_MS) return; // one at a time
  prefetchByUrl.delete(last.url);
  prefetchByUrl.set(last.url, {
    started: performance.now(),
    maxBytes: last.maxBytes,
    deadlineMs: last.deadlineMs,
    result: fetchManifest(last.url, last.maxBytes, last.deadlineMs),
  });
  stats.manifestPrefetches++;
  if (prefetchByUrl.size > PREFETCHES_MAX) prefetchByUrl.delete(prefetchByUrl.keys().next().value);
}

// The manifest response for a planned navigation: a usable prefetch (taken: once), or a
// fetch now. -> {bytes, error} as fetchManifest; counted: manifestTooLarge, ...Timeouts.
export async function manifestFor(url, maxBytes, deadlineMs) {
  const pre = prefetchByUrl.get(url);
  let got = null;
  if (pre) {
    prefetchByUrl.delete(url);
    const fresh = performance.now() - pre.started < PREFETCH_TTL_MS;
    if (fresh && pre.maxBytes === maxBytes && pre.deadlineMs === deadlineMs) {
      stats.manifestPrefetchUsed++;
      got = await pre.result;
    } else {
      stats.manifestPrefetchUnused++;
    }
  }
  if (got === null) got = await fetchManifest(url, maxBytes, deadlineMs);
  if (got.error === "too_large") stats.manifestTooLarge++;
  if (got.error === "timeout") stats.manifestTimeouts++;
  return got;
}
