// The destination of a paused response. Fetch.requestPaused does not carry Sec-Fetch-Dest
// (added later in the network stack): it is taken from Network.requestWillBeSentExtraInfo
// (same request id), waited for up to 150 ms; Python maps it (fetch_destination).

import * as py from "../python.js";
import { state } from "./state.js";
import { headerValue } from "./util.js";

const { secFetchDestByRequest, destWaiterByRequest } = state.worker;

// Network.requestWillBeSentExtraInfo
export function onExtraInfo(params) {
  const h = params.headers || {};
  const dest = h["Sec-Fetch-Dest"] || h["sec-fetch-dest"];
  if (dest) {
    secFetchDestByRequest.set(params.requestId, dest);
    const w = destWaiterByRequest.get(params.requestId);
    if (w) w(dest);
    if (secFetchDestByRequest.size > 5000) secFetchDestByRequest.delete(secFetchDestByRequest.keys().next().value);
  }
}

// The request's Sec-Fetch-Dest as the browser sent it (undefined when none arrived within
// 150 ms); read once per paused response and kept on it (`p.secFetchDest`).
export async function secFetchDest(p) {
  if ("secFetchDest" in p) return p.secFetchDest;
  let sec = secFetchDestByRequest.get(p.networkId);
  if (sec === undefined && p.networkId) {
    const waited = performance.now();
    sec = await new Promise((resolve) => {
      destWaiterByRequest.set(p.networkId, resolve);
      setTimeout(() => resolve(undefined), 150);
    });
    destWaiterByRequest.delete(p.networkId);
    // counted: a response that waited for its Sec-Fetch-Dest, and one that never got it
    // (Python then maps the resource type alone; the wait is time the page loses)
    const stats = state.worker.stats;
    stats.destWaits++;
    stats.destWaitMs += Math.round(performance.now() - waited);
    if (sec === undefined) stats.destWaitTimeouts++;
  }
  secFetchDestByRequest.delete(p.networkId);
  p.secFetchDest = sec;
  return sec;
}

// The inputs Python's destination rule takes (fetch_destination, or check_resource's
// `fetch`, which works the destination out in the same call).
export async function destinationInputs(p, isMainFrame, workerScript = null) {
  const sec = await secFetchDest(p);
  return {
    sec_fetch_dest: sec || null,
    resource_type: p.resourceType,
    content_type: headerValue(p.responseHeaders, "content-type"),
    main_frame: isMainFrame,
    worker_script: workerScript,
  };
}

export async function destinationOf(p, isMainFrame, workerScript = null) {
  const out = await py.call("fetch_destination", await destinationInputs(p, isMainFrame, workerScript));
  return out.destination;
}
