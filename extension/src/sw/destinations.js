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
    sec = await new Promise((resolve) => {
      destWaiterByRequest.set(p.networkId, resolve);
      setTimeout(() => resolve(undefined), 150);
    });
    destWaiterByRequest.delete(p.networkId);
  }
  secFetchDestByRequest.delete(p.networkId);
  p.secFetchDest = sec;
  return sec;
}

export async function destinationOf(p, isMainFrame, workerScript = null) {
  const sec = await secFetchDest(p);
  const out = await py.call("fetch_destination", {
    sec_fetch_dest: sec || null,
    resource_type: p.resourceType,
    content_type: headerValue(p.responseHeaders, "content-type"),
    main_frame: isMainFrame,
    worker_script: workerScript,
  });
  return out.destination;
}
