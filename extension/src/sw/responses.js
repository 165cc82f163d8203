// Every paused response (Fetch.requestPaused): network errors continue; a redirect (a
// redirect status WITH a Location header) continues after its first URL is remembered;
// every other response, of any status (a 3xx without Location is a final response that
// Chromium renders or runs), is judged: documents go to documents.js, anything else to
// subresources.js, with the URL the fetch was made for before any redirect (design.md 5:
// the manifest lookup uses it). An exception fails the request (fail closed).

import * as py from "../python.js";
import { state, keys, log, setSession } from "./state.js";
import { parentOf } from "./verdicts.js";
import { target, fail, cont } from "./cdp.js";
import { headerValue, timed } from "./util.js";
import { onDocument } from "./documents.js";
import { onSubresource } from "./subresources.js";

const { stats, firstUrlByRequest } = state.worker;

// net::HttpResponseHeaders::IsRedirect: only these statuses, and only with a Location
const REDIRECT_STATUSES = new Set([300, 301, 302, 303, 307, 308]);

export function isRedirect(p) {
  return REDIRECT_STATUSES.has(p.responseStatusCode || 0) && headerValue(p.responseHeaders, "location") !== null;
}

// The URL a paused response's fetch was made for (before its redirects), and forget it.
function takeRequestUrl(p) {
  const id = p.networkId || p.requestId;
  const first = firstUrlByRequest.get(id);
  firstUrlByRequest.delete(id);
  return first || p.request.url;
}

// How long each paused response was held here, by resource type (waict.heldStats: the
// benchmark's profile; the time from the event to its release or refusal).
export const heldStats = {};

// Fetch.requestPaused
export async function onRequestPaused(src, p) {
  const kind = p.responseErrorReason ? "error" : isRedirect(p) ? "redirect" : p.resourceType;
  return timed(heldStats, kind, handlePaused(src, p));
}

async function handlePaused(src, p) {
  stats.paused++;
  py.noteActivity(); // an idle boot of Python waits until the pages are served
  if (src.tabId !== undefined) state.worker.pausedTabs.add(src.tabId);
  const t = target(src);
  try {
    if (p.responseErrorReason) {
      firstUrlByRequest.delete(p.networkId || p.requestId);
      await cont(t, p.requestId); // a network error carries no code
      return;
    }
    if (isRedirect(p)) {
      // the redirect is followed by the browser; its final response is judged
      const id = p.networkId || p.requestId;
      if (!firstUrlByRequest.has(id)) firstUrlByRequest.set(id, p.request.url);
      if (firstUrlByRequest.size > 5000) firstUrlByRequest.delete(firstUrlByRequest.keys().next().value);
      await cont(t, p.requestId);
      return;
    }
    const requestUrl = takeRequestUrl(p);
    if (p.resourceType === "Document" && src.tabId !== undefined && !src.sessionId && !parentOf(p.frameId)) {
      // what the next instance needs if this one stops before releasing it (gating.js)
      // (not awaited; if it is lost, the next instance treats the navigation as not a GET)
      setSession({ [keys.session.nav(src.tabId)]: { url: p.request.url, method: p.request.method } })
        .catch((e) => log("navigation not recorded", String(e)));
    }
    // (no wait for Python here: every Python call waits for it, and what needs none goes
    // on at once: responses of frames not gated, the fast path of sw/fast_path.js)
    if (p.resourceType === "Document") {
      await onDocument(src, t, p, requestUrl);
    } else {
      await onSubresource(src, t, p, requestUrl);
    }
  } catch (e) {
    stats.errors++;
    log("error while judging", p.request && p.request.url, String(e && e.stack ? e.stack : e));
    await fail(t, p.requestId); // fail closed
  }
}
