// Pyodide in the extension's service worker: boot, wheels, and the calls into verifier.browser.
//
// Everything is loaded from the extension's own files (no network): the Pyodide runtime in
// pyodide/ and, when the build made one, its memory snapshot (pyodide/snapshot.bin: Python
// booted with the wheels extracted and imported), restored instead of a boot; else the
// wheels listed in wheels.json are extracted into site-packages with zipfile (no micropip,
// no loadPackage). Every call into Python goes through one queue (Python runs one call at
// a time); a call that has a signature to verify goes through `callPromising`, so that the
// WebCrypto backend can block on crypto.subtle promises with JSPI (pyodide.ffi.run_sync),
// the others are plain synchronous calls (see call()).
// Response bodies are hashed here (sha256Hex) and Python decides from the digest.

import createPyodideModule from "./pyodide/pyodide.asm.mjs";
import { loadPyodide } from "./pyodide/pyodide.mjs";

const BOOT_PY = `
import json, sys, zipfile, io, site
def _install(names, blobs):
    target = site.getsitepackages()[0]
    for name, blob in zip(names, blobs):
        with zipfile.ZipFile(io.BytesIO(bytes(blob))) as zf:
            zf.extractall(target)
    import importlib
    importlib.invalidate_caches()
`;

// What the build-time snapshot holds besides a booted Python (see makeSnapshot): every
// module of the wheels imported, and the pure Ed25519 base table built. Nothing here may
// refer to JavaScript (a snapshot holds WebAssembly memory only).
const SNAPSHOT_PY = `
def _import_all():
    import importlib, pkgutil
    import verifier, http_sf, rfc8785, typing_extensions
    count = 0
    for pkg in (verifier, http_sf, rfc8785):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith(("__main__", "cryptography_backend")):
                continue
            importlib.import_module(info.name)
            count += 1
    import json, base64, hashlib
    from pyodide.ffi import run_sync, can_run_sync, to_js
    from verifier.crypto.pure_ed25519 import _get_base_table
    _get_base_table()
    return count
`;

const SETUP_PY = `
import json
from verifier import browser as _browser
from verifier import crypto as _crypto
from verifier.crypto.webcrypto import WebCryptoBackend as _WebCryptoBackend
from verifier.crypto.webcrypto import NeedsPromisingCall as _NeedsPromisingCall

_webcrypto = _WebCryptoBackend()

def _use_backend(name):
    if name == "webcrypto":
        _crypto.set_backend(_webcrypto)
    else:
        _crypto.set_backend(_crypto.backend_by_name(name))
    return _crypto.get_backend().name

_use_backend("webcrypto")

def _call(fn_name, request):
    fn = getattr(_browser, fn_name)
    return fn(request)

def _call_plain(fn_name, request):
    # a plain call: None when a signature must be verified (then JS calls promising)
    _webcrypto.defer_to_promising = True
    try:
        return getattr(_browser, fn_name)(request)
    except _NeedsPromisingCall:
        return None
    finally:
        _webcrypto.defer_to_promising = False

def _backend_info():
    return json.dumps({"backend": _crypto.get_backend().name, "available": _webcrypto.available,
                       "stats": _webcrypto.stats})
`;

let pyodide = null;
let callFn = null;
let plainFn = null;
let queue = Promise.resolve();
export const timings = {};
// Work done in JavaScript for Python (counted, so tests and benchmarks can see it).
export const jsCounters = { sha256_subtle: 0, sha256_bytes: 0, sha256_ms: 0 };

// The memory snapshot made at build time (scripts/make_snapshot.py: Python booted, the
// wheels extracted and every module imported), or null when the build has none or it
// cannot be read (then Pyodide boots and imports the wheels here; timings say which).
// The file is sparse (scripts/make_snapshot.py): a header, a bitmap of the pages that are
// not all zero, those pages; expanded here into the memory image.
async function readSnapshot() {
  try {
    const r = await fetch(chrome.runtime.getURL("pyodide/snapshot.bin"));
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const data = new Uint8Array(await r.arrayBuffer());
    if (new TextDecoder().decode(data.subarray(0, 8)) !== "WAICTSS1") throw new Error("not a WAICT snapshot");
    const head = new DataView(data.buffer, data.byteOffset + 8, 12);
    const [size, page, count] = [0, 4, 8].map((o) => head.getUint32(o, true));
    const bitmap = data.subarray(20, 20 + Math.ceil(count / 8));
    const memory = new Uint8Array(size);
    let at = 20 + bitmap.length;
    for (let i = 0; i < count; i++) {
      if ((bitmap[i >> 3] >> (i & 7)) & 1) {
        const n = Math.min(page, size - i * page);
        memory.set(data.subarray(at, at + n), i * page);
        at += n;
      }
    }
    if (at !== data.length) throw new Error("a truncated snapshot");
    return memory;
  } catch (e) {
    timings.snapshot_error = String(e && e.message ? e.message : e);
    return null;
  }
}

const options = {
  indexURL: chrome.runtime.getURL("pyodide/"),
  createPyodideModule,
  stdout: (m) => console.log("[py]", m),
  stderr: (m) => console.warn("[py]", m),
};

async function installWheels(py) {
  const names = await (await fetch(chrome.runtime.getURL("wheels/wheels.json"))).json();
  const blobs = await Promise.all(
    names.map(async (n) => new Uint8Array(await (await fetch(chrome.runtime.getURL(`wheels/${n}`))).arrayBuffer())),
  );
  py.runPython(BOOT_PY);
  py.globals.get("_install")(names, blobs);
}

async function boot() {
  const t0 = performance.now();
  const snapshot = await readSnapshot();
  timings.snapshot_read_ms = Math.round(performance.now() - t0);
  timings.snapshot = false;
  if (snapshot) {
    try {
      pyodide = await loadPyodide({ ...options, _loadSnapshot: snapshot });
      timings.snapshot = true;
    } catch (e) {
      timings.snapshot_error = String(e && e.message ? e.message : e);
      console.warn("waict: the Pyodide snapshot did not load, booting without it:", e);
    }
  }
  if (!timings.snapshot) {
    pyodide = await loadPyodide(options);
  }
  timings.runtime_ms = Math.round(performance.now() - t0);
  if (!timings.snapshot) await installWheels(pyodide);
  pyodide.runPython(SETUP_PY);
  callFn = pyodide.globals.get("_call");
  plainFn = pyodide.globals.get("_call_plain");
  timings.ready_ms = Math.round(performance.now() - t0);
  // from the start of this worker (its time origin): module loading included
  timings.worker_ready_ms = Math.round(performance.now());
  timings.jspi = typeof WebAssembly.Suspending === "function";
  return pyodide;
}

// Python boots when it is first needed (a call), or once the browser has given this worker
// no work for BOOT_IDLE_MS, and at the latest BOOT_LATEST_MS after the worker started.
// Not at once: the boot's synchronous parts (restoring the snapshot) hold this worker's
// only thread for most of a second, and a page that needs no Python (an origin nothing is
// known about: sw/fast_path.js) then waited for them anyway (measured after a stop: the
// first load of such a page 1.1-2.7 s while Python booted, 0.4 s when it did not).
// Nothing is let through for lack of Python: every decision that needs it waits for it.
const BOOT_IDLE_MS = 300;
const BOOT_LATEST_MS = 3000;
let resolveReady;
let rejectReady;
export const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
// true once `ready` resolved (the fast path of sw/fast_path.js applies only before that)
let readyNow = false;
ready.then(() => { readyNow = true; }, () => {});
export function isReady() {
  return readyNow;
}

let bootStarted = false;
let idleTimer = null;
export function startBoot(reason) {
  if (bootStarted) return;
  bootStarted = true;
  clearTimeout(idleTimer);
  timings.boot_reason = reason;
  timings.boot_start_ms = Math.round(performance.now()); // from this worker's start
  boot().then(resolveReady, rejectReady);
}

// Work arrived (a paused response): postpone an idle boot.
export function noteActivity() {
  if (bootStarted) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => startBoot("idle"), BOOT_IDLE_MS);
}
noteActivity();
setTimeout(() => startBoot("latest"), BOOT_LATEST_MS);

// Per entry point: calls, time waiting in the queue, time in Python (tests, benchmarks).
export const callStats = {};

function newStats() {
  return { n: 0, promising: 0, queue_ms: 0, run_ms: 0, max_queue_ms: 0 };
}

function noteCall(name, queued, started) {
  const now = performance.now();
  const c = callStats[name] || (callStats[name] = newStats());
  c.n++;
  c.queue_ms += started - queued;
  c.run_ms += now - started;
  c.max_queue_ms = Math.max(c.max_queue_ms, started - queued);
}

// Call verifier.browser.<name>(JSON) -> parsed JSON. Serialized; never concurrent (a
// promising call suspended on WebCrypto holds the queue, so Python is never re-entered).
// Each call is first made plain (synchronous: no stack switch, no event-loop turn before
// it starts); only when it has a signature to verify does Python stop it (the WebCrypto
// backend raises NeedsPromisingCall, before any answer) and it is made again through
// callPromising, where WebCrypto can be awaited (JSPI). The entry points are pure, so the
// second call gives what one promising call would have. Counted in callStats (promising).
export function call(name, request) {
  const queued = performance.now();
  startBoot("call");
  const run = async () => {
    await ready;
    const started = performance.now();
    try {
      const text = JSON.stringify(request);
      let out = plainFn(name, text);
      if (out === undefined || out === null) {
        (callStats[name] || (callStats[name] = newStats())).promising++;
        out = await callFn.callPromising(name, text);
      }
      return JSON.parse(out);
    } finally {
      noteCall(name, queued, started);
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => {});
  return p;
}

// Make the memory snapshot (build time: scripts/make_snapshot.py calls this in a headless
// Chromium, so that the snapshot records this browser's WebAssembly features, JSPI and the
// call trampoline, which a Node-made one would not). A fresh Pyodide with the wheels
// extracted (zipfile, never loadPackage) and every module imported; gzip, base64.
export async function makeSnapshot() {
  const t0 = performance.now();
  const py = await loadPyodide({ ...options, _makeSnapshot: true });
  await installWheels(py);
  py.runPython(SNAPSHOT_PY);
  const importAll = py.globals.get("_import_all");
  const modules = importAll();
  importAll.destroy();
  py.runPython("del _install, _import_all");
  const raw = py.makeMemorySnapshot();
  const gz = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
  return { modules, size: raw.length, ms: Math.round(performance.now() - t0), gzip_b64: gz.toBase64() };
}

// A plain Pyodide boot (no wheels, no verifier) in this worker, for the benchmark's
// reference: how long loadPyodide alone takes here and now (ms). The instance is dropped.
export async function plainBootMs() {
  const t0 = performance.now();
  await loadPyodide({ indexURL: chrome.runtime.getURL("pyodide/"), createPyodideModule });
  return Math.round(performance.now() - t0);
}

// Run arbitrary Python (tests and benchmarks only), serialized with the calls.
export function runPython(code) {
  startBoot("call");
  const run = async () => {
    await ready;
    const r = await pyodide.runPythonAsync(code);
    return r && r.toJs ? r.toJs({ dict_converter: Object.fromEntries }) : r;
  };
  const p = queue.then(run, run);
  queue = p.catch(() => {});
  return p;
}

// SHA-256 of a body's bytes in JavaScript (crypto.subtle.digest), as 64 hex digits: what
// check_resource takes instead of the body. Only the digest is computed here; the rule
// that uses it is Python's.
export async function sha256Hex(bytes) {
  const t0 = performance.now();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  jsCounters.sha256_subtle++;
  jsCounters.sha256_bytes += bytes.length;
  jsCounters.sha256_ms += performance.now() - t0;
  let hex = "";
  for (const b of digest) hex += (b < 16 ? "0" : "") + b.toString(16);
  return hex;
}

// Which crypto backend answered in Python (verifier.browser.crypto_stats), with the
// JavaScript digests: {backend, answered, fallbacks, fallback_count, last_fallback, js}.
export async function cryptoStats(reset = false) {
  const out = await call("crypto_stats", { reset });
  out.js = { ...jsCounters };
  return out;
}
