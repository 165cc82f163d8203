// Every paused response (Fetch.requestPaused): errors and redirects continue; documents go
// to documents.js, anything else to subresources.js. An exception fails the request
// (fail closed).

import * as py from "../python.js";
import { state, log } from "./state.js";
import { target, fail, cont } from "./cdp.js";
import { onDocument } from "./documents.js";
import { onSubresource } from "./subresources.js";

const { stats } = state.worker;

// Fetch.requestPaused
export async function onRequestPaused(src, p) {
  stats.paused++;
  const t = target(src);
  try {
    await py.ready;
    const status = p.responseStatusCode || 0;
    if (p.responseErrorReason || (status >= 300 && status < 400)) {
      await cont(t, p.requestId); // errors and redirects carry no code; the final hop is judged
      return;
    }
    if (p.resourceType === "Document") {
      await onDocument(src, t, p);
    } else {
      await onSubresource(src, t, p);
    }
  } catch (e) {
    stats.errors++;
    log("error while judging", p.request && p.request.url, String(e && e.stack ? e.stack : e));
    await fail(t, p.requestId); // fail closed
  }
}
