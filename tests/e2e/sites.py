"""Fixture sites for the extension's end-to-end tests, built with the test World.

Every site is a small static app (document, inline script, external script, style, image,
iframe, dedicated worker, shared worker, WebAssembly) whose manifest is logged in one
deterministic :class:`world.World`, so its proofs really verify under the trust settings
made from the World's witness keys (:func:`trust_json`). Each page script marks what ran
by setting ``data-m-<name>`` on ``<html>``; a test reads the markers.

Hosts (all under ``.waict.test``, mapped to 127.0.0.1 by ``--host-resolver-rules``):

- ``valid``: everything listed and served as listed;
- ``t-<asset>``: as ``valid`` but one asset is served with other bytes than the listed
  ones (``TAMPERS``); ``t-inline`` carries an inline script that is not listed;
- ``m-<case>``: manifest-level failures (``MANIFEST_FAILURES``);
- ``report``: a tampered script, in report mode;
- ``plain``: no WAICT at all;
- ``slow``: valid, but its manifest is answered only when the test releases it;
- ``sw`` (and ``sw-update``, whose files a test changes): a page that registers a service
  worker (which imports a script) and starts a shared worker that imports a script;
  ``t-serviceworker``, ``t-swimport`` and
  ``t-sharedimport`` serve one of those scripts tampered (``SW_TAMPERS``);
- ``r-*``: sites that name reporting endpoints (``REPORT_SITES``); their reports go to
  the fixture server, which records every POST;
- ``d-*``: sites with developer identities proven a cooldown ago and developer
  signatures (``DEV_SIG_SITES``), for the dev-sigs plugin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import coverage_sites
import wpt_sites
from world import DAY, HOUR, World, b64, h64u, manifest_line

from verifier.crypto import ed25519_public_key, ed25519_sign, sha256
from verifier.devids import dev_sigs_payload
from verifier.encoding import b64uencode

DOMAIN = "waict.test"
PRELOAD_DOMAIN = "preload.waict.test"
HEADER = 'max-age=3600, mode=enforce, manifest="/.well-known/waict-manifest"'
REPORT_HEADER = 'max-age=3600, mode=report, manifest="/.well-known/waict-manifest"'
MANIFEST_PATH = "/.well-known/waict-manifest"

# (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
ADD_WASM = bytes.fromhex(
    "0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b"
)
# The same module with the body computing a - b (i32.sub) instead: a tampered module.
SUB_WASM = ADD_WASM[:-2] + b"\x6b\x0b"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_1PX_RED = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

INLINE_JS = "document.documentElement.dataset.mInline = '1';"
EVIL_INLINE_JS = "document.documentElement.dataset.mEvilInline = '1';"

MARK = "function mark(n) { document.documentElement.setAttribute('data-m-' + n, '1'); }\n"

APP_JS = (
    MARK
    + """mark('script');
try { eval('1'); mark('eval'); } catch (e) { mark('eval-blocked'); }
try {
  const w = new Worker('/worker.js');
  w.onmessage = (e) => mark(e.data);
  w.onerror = () => mark('worker-error');
  w.postMessage('go');
} catch (e) { mark('worker-error'); }
try {
  const s = new SharedWorker('/shared.js');
  s.port.onmessage = (e) => mark(e.data);
  s.onerror = () => mark('sharedworker-error');
  s.port.start();
} catch (e) { mark('sharedworker-error'); }
WebAssembly.instantiateStreaming(fetch('/add.wasm')).then(
  (r) => mark(r.instance.exports.add(2, 3) === 5 ? 'wasm' : 'wasm-wrong'),
  () => mark('wasm-error'));
const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
try { new WebAssembly.Module(b64bytes('ADD_B64')); mark('wasm-bytes'); }
catch (e) { mark('wasm-bytes-blocked'); }
WebAssembly.instantiate(b64bytes('SUB_B64')).then(
  () => mark('wasm-evil'), () => mark('wasm-evil-blocked'));
addEventListener('load', () => {
  const style = getComputedStyle(document.documentElement).getPropertyValue('--waict-style');
  mark(style.trim() === 'ok' ? 'style' : 'style-missing');
  const img = document.getElementById('img');
  mark(img && img.naturalWidth > 0 ? 'image' : 'image-error');
  mark('loaded');
});
mark('script-end');
"""
)
APP_JS = APP_JS.replace("ADD_B64", b64(ADD_WASM)).replace("SUB_B64", b64(SUB_WASM))
WORKER_JS = "onmessage = () => postMessage('worker');\n"
WORKER_IMPORT_JS = "self.importedOk = true;\n"
SHARED_JS = "onconnect = (e) => { e.ports[0].postMessage('sharedworker'); };\n"
STYLE_CSS = "html { --waict-style: ok; }\nbody { font-family: sans-serif; }\n"
FRAME_HTML = (
    "<!doctype html><meta charset=utf-8><title>frame</title>"
    "<p>frame</p><script src=/frame.js></script>\n"
)
FRAME_JS = "parent.document.documentElement.setAttribute('data-m-iframe', '1');\n"

TAMPERED_SUFFIX = "\n/* tampered */ document.documentElement.dataset.mEvil = '1';\n"

# The service-worker page: a service worker that imports a script (its evaluation fails,
# so register() rejects, when the import is refused) and a shared worker that imports one
# (it reports whether the import ran).
SW_APP_JS = (
    MARK
    + """mark('script');
const within = (ms, p) => Promise.race([p, new Promise((r) => setTimeout(() => r('timeout'), ms))]);
within(6000, navigator.serviceWorker.register('/sw.js')
  .then(() => navigator.serviceWorker.ready)
  .then(() => 'serviceworker', () => 'serviceworker-error'))
  .then((v) => mark(v === 'timeout' ? 'serviceworker-timeout' : v));
try {
  const s = new SharedWorker('/shared-imp.js');
  within(6000, new Promise((resolve) => {
    s.port.onmessage = (e) => resolve(e.data);
    s.onerror = () => resolve('sharedimport-error');
    s.port.start();
  })).then((v) => mark(v === 'timeout' ? 'sharedimport-timeout' : v));
} catch (e) { mark('sharedimport-error'); }
"""
)
SW_JS = (
    "importScripts('/sw-import.js');\n"
    "self.addEventListener('install', () => self.skipWaiting());\n"
    "self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\n"
)
SW_IMPORT_JS = "self.importedOk = true;\n"
SHARED_IMP_JS = (
    "let imported = false;\n"
    "try { importScripts('/shared-import.js'); imported = self.importedOk === true; }\n"
    "catch (e) { imported = false; }\n"
    "onconnect = (e) => e.ports[0].postMessage(imported ? 'sharedimport' : "
    "'sharedimport-blocked');\n"
)
SHARED_IMPORT_JS = "self.importedOk = true;\n"
SW_INDEX_HTML = (
    "<!doctype html><html><head><meta charset=utf-8><title>WAICT service worker fixture"
    '</title><script src="/swapp.js"></script></head><body><h1>service worker</h1>'
    "</body></html>\n"
)

#: The service-worker page's markers when everything runs.
SW_MARKERS = frozenset({"script", "serviceworker", "sharedimport"})
#: Markers that say the service-worker page settled (one of each group).
SW_SETTLED = (
    ("serviceworker", "serviceworker-error", "serviceworker-timeout"),
    ("sharedimport", "sharedimport-blocked", "sharedimport-error", "sharedimport-timeout"),
)


def index_html(extra_inline: str | None = None, frame: bool = True) -> str:
    evil = f"<script>{extra_inline}</script>" if extra_inline else ""
    iframe = '<iframe id=frame src="/frame.html"></iframe>' if frame else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>WAICT fixture</title>"
        '<link rel=stylesheet href="/style.css">'
        f"<script>{INLINE_JS}</script>{evil}"
        '<script src="/app.js"></script></head>'
        '<body><h1>WAICT fixture</h1><img id=img src="/img.png" alt="">'
        f"{iframe}</body></html>\n"
    )


CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".wasm": "application/wasm",
}


def content_type(path: str) -> str:
    for ext, ctype in CONTENT_TYPES.items():
        if path.endswith(ext):
            return ctype
    if path == "/":
        return CONTENT_TYPES[".html"]
    return "application/octet-stream"


def base_files() -> dict[str, bytes]:
    return {
        "/": index_html().encode(),
        "/app.js": APP_JS.encode(),
        "/style.css": STYLE_CSS.encode(),
        "/img.png": PNG_1PX,
        "/frame.html": FRAME_HTML.encode(),
        "/frame.js": FRAME_JS.encode(),
        "/worker.js": WORKER_JS.encode(),
        "/shared.js": SHARED_JS.encode(),
        "/add.wasm": ADD_WASM,
    }


#: benchmark pages (scripts/bench_extension.py): label -> (number of scripts, bytes each)
BENCH_PAGES = {"b-many": (20, 5 * 1024), "b-big": (1, 2 * 1024 * 1024)}


def bench_files(count: int, size: int) -> dict[str, bytes]:
    """A page with ``count`` classic scripts of ``size`` bytes; each counts itself in
    ``data-scripts`` on ``<html>`` (so the page ran them all when it equals ``count``)."""
    tags = "".join(f'<script src="/s{i}.js"></script>' for i in range(count))
    files = {
        "/": f"<!doctype html><html><head><meta charset=utf-8>{tags}</head><body>bench</body>"
        "</html>\n".encode(),
        "/add.wasm": ADD_WASM,
    }
    for i in range(count):
        code = (
            "document.documentElement.dataset.scripts = "
            "String(Number(document.documentElement.dataset.scripts || 0) + 1);\n"
        )
        pad = max(size - len(code) - 5, 0)
        files[f"/s{i}.js"] = (code + "/*" + chr(ord("a") + i % 26) * pad + "*/\n").encode()
    return files


def sw_files() -> dict[str, bytes]:
    return {
        "/": SW_INDEX_HTML.encode(),
        "/swapp.js": SW_APP_JS.encode(),
        "/sw.js": SW_JS.encode(),
        "/sw-import.js": SW_IMPORT_JS.encode(),
        "/shared-imp.js": SHARED_IMP_JS.encode(),
        "/shared-import.js": SHARED_IMPORT_JS.encode(),
        "/add.wasm": ADD_WASM,  # listed in wasm_hashes by every fixture manifest
    }


#: Service-worker tamper cases: host label -> (path served with other bytes, the
#: markers the page must show).
SW_TAMPERS: dict[str, tuple[str, frozenset[str]]] = {
    "t-serviceworker": ("/sw.js", frozenset({"script", "serviceworker-error", "sharedimport"})),
    "t-swimport": ("/sw-import.js", frozenset({"script", "serviceworker-error", "sharedimport"})),
    "t-sharedimport": (
        "/shared-import.js",
        frozenset({"script", "serviceworker", "sharedimport-blocked"}),
    ),
}

#: Sites that name reporting endpoints: label -> (header, what is wrong). Their documents
#: carry ``Reporting-Endpoints: waict="/reports/<label>", other=...``.
REPORT_SITES: dict[str, tuple[str, str]] = {
    "r-report": (
        'max-age=3600, mode=report, manifest="/.well-known/waict-manifest", endpoints=("waict")',
        "script",
    ),
    "r-enforce": (
        'max-age=3600, mode=enforce, manifest="/.well-known/waict-manifest", '
        'endpoints=("waict" "collector")',
        "script",
    ),
    "r-manifest": (
        'max-age=3600, mode=enforce, manifest="/.well-known/waict-manifest", endpoints=("waict")',
        "proof",
    ),
}
COLLECTOR = "collector"  # the host label of the absolute reporting endpoint

#: Developer-signature sites: label -> what the dev-sigs plugin must say.
DEV_SIG_SITES: dict[str, str] = {
    "d-signed": "approve",
    "d-badsig": "veto",
    "d-nosig": "veto",
}
#: The developer key of the d-* sites (Ed25519 seed), and its identity.
DEV_SEED = sha256(b"waict-e2e-developer")
DEV_ID = "ed25519:" + b64uencode(ed25519_public_key(DEV_SEED))
#: An extension member the d-* manifests carry (the plugin API returns it).
EXTENSION_MEMBER = ("x-e2e-note", {"release": "2026.1", "signed": True})


#: Tamper cases: host label -> (path served with other bytes, the tampered bytes, the
#: marker that must be missing). ``t-inline`` is special: an unlisted inline script.
TAMPERS: dict[str, tuple[str, bytes, str]] = {
    "t-document": ("/", index_html().replace("WAICT fixture", "WAICT f1xture").encode(), ""),
    "t-script": ("/app.js", (APP_JS + TAMPERED_SUFFIX).encode(), "script"),
    "t-style": ("/style.css", b"html { --waict-style: evil; }\n", "style"),
    "t-worker": ("/worker.js", (WORKER_JS + "/* x */\n").encode(), "worker"),
    "t-sharedworker": ("/shared.js", (SHARED_JS + "/* x */\n").encode(), "sharedworker"),
    "t-wasm": ("/add.wasm", SUB_WASM, "wasm"),
    "t-iframe": ("/frame.html", FRAME_HTML.replace("frame</p>", "fr4me</p>").encode(), "iframe"),
    "t-image": ("/img.png", PNG_1PX_RED, "image"),
    "t-inline": ("/", index_html(EVIL_INLINE_JS).encode(), "evil-inline"),
}

#: Markers a fully working fixture page sets (``eval-blocked``: the inline CSP forbids eval).
ALL_MARKERS = frozenset(
    {
        "inline",
        "script",
        "script-end",
        "eval-blocked",
        "style",
        "image",
        "iframe",
        "worker",
        "sharedworker",
        "wasm",
        "wasm-bytes",
        "wasm-evil-blocked",
        "loaded",
    }
)

#: What a page without WAICT enforcement shows: no CSP (eval runs), no WebAssembly guard.
UNGUARDED_MARKERS = (ALL_MARKERS - {"eval-blocked", "wasm-evil-blocked"}) | {"eval", "wasm-evil"}

#: Markers that say the page's script has finished its asynchronous work (one of each pair).
SETTLED = (
    ("loaded",),
    ("worker", "worker-error"),
    ("sharedworker", "sharedworker-error"),
    ("wasm", "wasm-error", "wasm-wrong"),
    ("wasm-evil", "wasm-evil-blocked"),
)

#: Manifest-level failures: host label -> the detail code the block page must name.
MANIFEST_FAILURES: dict[str, str] = {
    "m-badproof": "tree_proof_failed",
    "m-untrusted": "quorum_not_met",
    "m-stale": "stale_cosignature",
    "m-preload": "preload_unsatisfied",
    "m-tombstone": "tombstone_too_recent",
    "m-devids": "dev_ids_cooldown",
}


#: Manifests the server streams instead of answering (no Content-Length, chunked):
#: ``huge``: 64 MiB in 64 KiB chunks as fast as the client reads; ``drip``: one byte every
#: 200 ms for up to a minute. The server counts the bytes it could send.
STREAMS: dict[str, str] = {"h-huge": "huge", "h-drip": "drip"}
HUGE_STREAM_BYTES = 64 << 20
#: A valid manifest with this many extra entries (``h-big``), logged with a real proof.
BIG_ENTRIES = 20000
#: A manifest with this many wildcard hashes (``h-many``): more entries than the extension
#: judges, in fewer bytes than it fetches.
MANY_ENTRIES = 60000
#: Copies of ``valid`` that tests use once each (fresh origins: nothing stored for them).
FRESH_SITES = ("q-valid", "g-valid", "s-valid")
#: Fresh copies of ``valid`` without the iframe (so each page judges one document only).
NO_FRAME_SITES = ("c-one", "c-two")


@dataclass
class Site:
    host: str
    files: dict[str, bytes]
    header: str | None
    manifest_response: bytes | None = None
    manifest_gate: bool = False  # the server holds the manifest until released
    manifest_stream: str | None = None  # "huge" / "drip": see STREAMS
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: path -> (status, headers, body), sent as given (3xx without Location, redirects...)
    responses: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)


@dataclass
class Fixture:
    world: World
    port: int
    sites: dict[str, Site]
    trust: dict[str, Any]
    preload: bytes

    def origin(self, label: str) -> str:
        return f"https://{label}.{DOMAIN}:{self.port}"

    def url(self, label: str, path: str = "/") -> str:
        return self.origin(label) + path


def _manifest(origin: str, files: Mapping[str, bytes], **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "hashes": {origin + path: h64u(body) for path, body in sorted(files.items())},
        "wasm_hashes": sorted({h64u(files["/add.wasm"])}),
        "inline_js_hashes": sorted({h64u(INLINE_JS.encode())}),
    }
    obj.update(extra)
    return obj


def build(port: int, now: int) -> Fixture:
    """Every fixture site, logged in one World at ``now``, for a server on ``port``."""
    world = World(now=now, ts="ts.waict.test")
    sites: dict[str, Site] = {}
    pending: list[tuple[str, bytes, dict[str, Any]]] = []  # (label, line, proof options)

    def host(label: str) -> str:
        return f"{label}.{DOMAIN}"

    def origin(label: str) -> str:
        return f"https://{host(label)}:{port}"

    def add(
        label: str,
        files: dict[str, bytes],
        line: bytes | None,
        header: str | None,
        **proof_opts: Any,
    ) -> None:
        sites[label] = Site(host(label), files, header)
        if line is not None:
            pending.append((label, line, proof_opts))

    # valid, slow, report, plain and the tamper cases
    for label in ("valid", "valid2", "slow"):
        files = base_files()
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)
    sites["slow"].manifest_gate = True
    for label in FRESH_SITES:
        files = base_files()
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)
    for label in NO_FRAME_SITES:
        files = base_files()
        files["/"] = index_html(frame=False).encode()
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)
    # bounds: a huge and a dripping manifest, too many entries, a large valid manifest
    for label, stream in STREAMS.items():
        sites[label] = Site(host(label), base_files(), HEADER, manifest_stream=stream)
    files = base_files()
    big = _manifest(origin("h-big"), files)
    big["hashes"].update(
        {
            f"{origin('h-big')}/big/asset-{i:05d}.js": h64u(i.to_bytes(4, "big"))
            for i in range(BIG_ENTRIES)
        }
    )
    big["hashes"] = dict(sorted(big["hashes"].items()))
    add("h-big", files, manifest_line(big), HEADER)
    files = base_files()
    many = _manifest(
        origin("h-many"),
        files,
        wildcard_hashes=sorted({h64u(i.to_bytes(4, "big")) for i in range(MANY_ENTRIES)}),
    )
    add("h-many", files, manifest_line(many), HEADER)
    # several assets tampered at once: their violations are noted concurrently
    files = base_files()
    served = dict(files)
    served["/app.js"] = (APP_JS + TAMPERED_SUFFIX).encode()
    served["/style.css"] = b"html { --waict-style: evil; }\n"
    served["/img.png"] = PNG_1PX_RED
    add("t-multi", served, manifest_line(_manifest(origin("t-multi"), files)), HEADER)
    files = base_files()  # a tampered script, for the storage growth test only
    served = dict(files)
    served["/app.js"] = (APP_JS + TAMPERED_SUFFIX).encode()
    add("s-script", served, manifest_line(_manifest(origin("s-script"), files)), HEADER)
    for label, (path, bad, _marker) in TAMPERS.items():
        files = base_files()
        served = dict(files)
        served[path] = bad
        if label == "t-inline":
            files = served  # the document is listed as served; its extra inline code is not
        line = manifest_line(_manifest(origin(label), files))
        add(label, served, line, HEADER)
    # a tampered script served with the Server-Timing entry that marked gated tabs before
    # (a hostile server forging it must not get past the start-up check)
    files = base_files()
    served = dict(files)
    served["/app.js"] = (APP_JS + TAMPERED_SUFFIX).encode()
    add("t-forge", served, manifest_line(_manifest(origin("t-forge"), files)), HEADER)
    sites["t-forge"].extra_headers["Server-Timing"] = "waict-gate"
    files = base_files()
    report_line = manifest_line(_manifest(origin("report"), files))
    served = dict(files)
    served["/app.js"] = (APP_JS + TAMPERED_SUFFIX).encode()
    add("report", served, report_line, REPORT_HEADER)
    sites["plain"] = Site(host("plain"), base_files(), None)

    # manifest-level failures
    for label in ("m-badproof", "m-untrusted", "m-stale"):
        files = base_files()
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)
    files = base_files()
    sites["m-preload"] = Site(
        host("m-preload"),
        files,
        'max-age=0, mode=enforce, manifest="/.well-known/waict-manifest"',
        manifest_line(_manifest(origin("m-preload"), files)) + b"\n\n",
    )
    # a preloaded host that unenrolled an hour ago (cooldown: a day)
    tomb_host = host("m-tombstone")
    files = base_files()
    world.log(tomb_host, manifest_line(_manifest(origin("m-tombstone"), files)), now - 30 * DAY)
    world.log(tomb_host, None, time_created=now - HOUR)
    tomb_line = manifest_line({"hashes": {}, "emergency_opt_out": True})
    sites["m-tombstone"] = Site(tomb_host, files, HEADER)
    pending.append(("m-tombstone", tomb_line, {"relog": False}))
    # dev-ids committed an hour ago (cooldown: a day)
    dev_host = host("m-devids")
    files = base_files()
    dev_key = "ed25519:" + b64uencode(bytes(range(32)))
    earlier_line = manifest_line(_manifest(origin("m-devids"), files, **{"dev-ids": [dev_key]}))
    world.log(dev_host, earlier_line, time_created=now - HOUR)
    earlier_proof = world.proof(dev_host, note=world.note({"w1.example": now - HOUR + 60}))
    current = _manifest(
        origin("m-devids"),
        files,
        **{
            "dev-ids": [dev_key],
            "dev-ids-inclusion": {
                "manifest": earlier_line.decode(),
                "proof": earlier_proof.to_b64(),
            },
        },
    )
    add("m-devids", files, manifest_line(current), HEADER)

    # the service-worker page, valid and tampered
    for label in ("sw", "sw-update"):
        files = sw_files()
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)
    for label, (path, _markers) in SW_TAMPERS.items():
        files = sw_files()
        served = dict(files)
        served[path] = files[path] + b"/* tampered */\n"
        add(label, served, manifest_line(_manifest(origin(label), files)), HEADER)

    # reporting: each site names its endpoints in Reporting-Endpoints
    for label, (header, wrong) in REPORT_SITES.items():
        files = base_files()
        served = dict(files)
        if wrong == "script":
            served["/app.js"] = (APP_JS + TAMPERED_SUFFIX).encode()
        add(label, served, manifest_line(_manifest(origin(label), files)), header)
        sites[label].extra_headers["Reporting-Endpoints"] = (
            f'waict="/reports/{label}", collector="{origin(COLLECTOR)}/collect/{label}"'
        )
    sites[COLLECTOR] = Site(host(COLLECTOR), {}, None)

    # developer signatures: dev-ids announced two days ago (cooled), then signed manifests
    for label in DEV_SIG_SITES:
        h = host(label)
        files = base_files()
        earlier = manifest_line(_manifest(origin(label), files, **{"dev-ids": [DEV_ID]}))
        world.log(h, earlier, time_created=now - 2 * DAY)
        inclusion = world.proof(h, note=world.note({"w1.example": now - 2 * DAY + 60}))
        members = _manifest(
            origin(label),
            files,
            **{
                "dev-ids": [DEV_ID],
                EXTENSION_MEMBER[0]: EXTENSION_MEMBER[1],
                "dev-ids-inclusion": {"manifest": earlier.decode(), "proof": inclusion.to_b64()},
            },
        )
        payload = dev_sigs_payload(members)
        if label == "d-signed":
            members["dev-sigs"] = [
                {"id": DEV_ID, "sig": b64uencode(ed25519_sign(DEV_SEED, payload))}
            ]
        elif label == "d-badsig":
            wrong_payload = payload.replace(b"2026.1", b"2026.2")
            members["dev-sigs"] = [
                {"id": DEV_ID, "sig": b64uencode(ed25519_sign(DEV_SEED, wrong_payload))}
            ]
        add(label, files, manifest_line(members), HEADER)

    # benchmark pages: many small scripts, one big script
    for label, (count, size) in BENCH_PAGES.items():
        files = bench_files(count, size)
        add(label, files, manifest_line(_manifest(origin(label), files)), HEADER)

    # the coverage paths of issue 9 (coverage_sites.py)
    coverage_sites.add_sites(add, origin, sites)
    wpt_sites.add_sites(add, sites)  # what Firefox's WAICT web-platform tests check

    # log every pending line first, then make the proofs (one tree for all of them)
    for label, line, opts in pending:
        if opts.get("relog", True):
            world.log(sites[label].host, line)
    preload_line = json.dumps(
        {
            "version": 1,
            "issued": now - DAY,
            "expires": now + 14 * DAY,
            "entries": {
                host("m-preload"): {"transparency": True, "dev-ids": False},
                host("m-tombstone"): {"transparency": True, "dev-ids": False},
            },
        },
        separators=(",", ":"),
    ).encode()
    world.log(PRELOAD_DOMAIN, preload_line)
    for label, line, _opts in pending:
        h = sites[label].host
        note = None
        if label == "m-untrusted":
            note = world.note({"w3.example": now - 600})
        elif label == "m-stale":
            note = world.note({"w1.example": now - 8 * DAY, "w2.example": now - 9 * DAY})
        proof = world.proof(h, note=note)
        if label in ("m-badproof", "r-manifest"):
            raw = bytearray(proof.tree_proof)
            raw[-1] ^= 0x01  # flip a bit of the last sibling hash
            proof = type(proof)(proof.head, bytes(raw), proof.note)
        sites[label].manifest_response = world.response(line, proof)
    preload = world.response(preload_line, world.proof(PRELOAD_DOMAIN))
    trust = world.trust(quorum=1, preload_domain=PRELOAD_DOMAIN)
    return Fixture(world, port, sites, trust, preload)


def trust_json(fixture: Fixture) -> str:
    return json.dumps(fixture.trust, indent=2) + "\n"


def digest_b64(data: bytes) -> str:
    return b64(sha256(data))
