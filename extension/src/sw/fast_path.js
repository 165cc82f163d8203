// The fast path for origins nothing is known about, while Python is not ready (after the
// worker was stopped, Python takes about a second to come back). Python decides what may
// be decided here: verifier/browser/fast_path.py states and backs the claim, and hands the
// facts (the header name, every host its preload list names, the list's digest) that this
// module only looks up. Pure: no chrome.* here, so tests/unit/test_fast_path.py runs it in
// Node against Python's plan_navigation.
//
// A document may go on without Python only when all of these hold; anything else waits
// for Python exactly as before:
// - http(s), and the host is a plain lower-case ASCII DNS name (URL.hostname then equals
//   Python's tree_host; IP addresses, IDNA and odd forms go to Python);
// - the response has no WAICT header (by the name Python gave);
// - no origin state is stored for the origin (never enrolled, or forgotten);
// - the facts are for the very preload list in force (same SHA-256), that list could be
//   parsed, and it names no entry for the host.

const PLAIN_HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4_LIKE = /^[0-9.]+$|\.[0-9]+$|^0x|\.0x/i;

// { url, headerNames: [lower-case response header names], originState, preloadSha256,
//   facts } -> true when the document is provably not gated (Python would say so).
export function unknownOrigin({ url, headerNames, originState, preloadSha256, facts }) {
  if (!facts || !Array.isArray(facts.preload_hosts)) return false;
  if ((facts.preload_sha256 || null) !== (preloadSha256 || null)) return false;
  if (originState !== null && originState !== undefined) return false;
  if (headerNames.includes(facts.header_name)) return false;
  let u;
  try {
    u = new URL(url);
  } catch (e) {
    return false;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  const host = u.hostname;
  if (!PLAIN_HOST.test(host) || IPV4_LIKE.test(host)) return false;
  return !facts.preload_hosts.includes(host);
}
