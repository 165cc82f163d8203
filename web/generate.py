"""Generate the sample sites in web/ (deterministic; the output is committed).

    .venv/bin/python web/generate.py           # (re)write every site
    .venv/bin/python web/generate.py --check   # exit 1 if a committed file differs

Every site shares one small application (HTML, scripts, style, three kinds of workers, a
WebAssembly module, an image, an iframe) whose scripts set DOM markers, so a browser test
can see what ran. Each site folder holds:

    public/         the files the site serves (what `waict publish` hashes)
    tamper/         replacement bytes copied over public/ after publishing (tampered sites)
    site.json       how the site is published (see web/README.md)
    expected.json   the verdict `waict verify` / the browser must reach, and the DOM markers

See web/README.md for the list of sites and how the demo publishes them.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parent
DOMAIN = "waict.test"
PRELOAD_HOST = f"preload.{DOMAIN}"
# A fixed developer identity: the Ed25519 public key of the seed SHA-256(b"waict-sample-dev").
# The core client checks only that dev-ids are proven; dev-sigs are checked by a plugin.
DEV_ID = "ed25519:xbYNAYGxqJGz2AXCRbCOx5nHe1OkpdprrtgUvR_0n2I"

# --- the shared application --------------------------------------------------------------

WASM_ADD = bytes.fromhex(
    "0061736d01000000"  # magic, version 1
    "01070160027f7f017f"  # type section: (i32, i32) -> i32
    "03020100"  # function section: one function of type 0
    "070701036164640000"  # export section: "add" = function 0
    "0a09010700200020016a0b"  # code: local.get 0, local.get 1, i32.add
)
WASM_SUB = WASM_ADD[:-2] + b"\x6b\x0b"  # the same module computing a - b: other bytes


def png(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * size
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * size, 9))
        + chunk(b"IEND", b"")
    )


INLINE_SCRIPT = 'document.documentElement.setAttribute("data-waict-inline", "ran");'


def index_html(name: str, description: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>WAICT sample: {name}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/style.css">
<script>{INLINE_SCRIPT}</script>
<script src="/app.js" defer></script>
</head>
<body>
<h1>WAICT sample site: {name}</h1>
<p>{description}</p>
<p><img id="logo" src="/logo.png" alt="a square logo" width="32" height="32"></p>
<iframe id="frame" src="/frame.html" title="an embedded page"></iframe>
<ul id="status"></ul>
</body>
</html>
"""


APP_JS = """\
// The sample application. Every check sets a marker attribute on <html>
// (data-waict-<name>) and a line in #status, so a browser test can see what ran.
"use strict";

const root = document.documentElement;

function mark(name, value) {
  root.setAttribute("data-waict-" + name, value);
  const item = document.createElement("li");
  item.textContent = name + ": " + value;
  document.getElementById("status")?.append(item);
}

function within(ms, promise) {
  const late = new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
  return Promise.race([promise, late]);
}

function loaded() {
  return document.readyState === "complete"
    ? Promise.resolve()
    : new Promise((resolve) => window.addEventListener("load", resolve, { once: true }));
}

mark("app", "ran");

try {
  (0, eval)("1");
  mark("eval", "allowed");
} catch (e) {
  mark("eval", "blocked");
}
/*INJECT*/
const checks = [];

checks.push(within(5000, new Promise((resolve) => {
  const worker = new Worker("/worker.js");
  worker.onmessage = (event) => resolve(event.data);
  worker.onerror = () => resolve("error");
})).then((v) => mark("worker", v)));

checks.push(within(5000, new Promise((resolve) => {
  if (typeof SharedWorker === "undefined") return resolve("unavailable");
  const shared = new SharedWorker("/shared-worker.js");
  shared.port.onmessage = (event) => resolve(event.data);
  shared.onerror = () => resolve("error");
  shared.port.start();
})).then((v) => mark("sharedworker", v)));

checks.push(within(5000, (async () => {
  if (!("serviceWorker" in navigator)) return "unavailable";
  try {
    await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    return "ran";
  } catch (e) {
    return "error";
  }
})()).then((v) => mark("serviceworker", v)));

checks.push(within(5000, (async () => {
  try {
    const { instance } = await WebAssembly.instantiateStreaming(fetch("/add.wasm"));
    return String(instance.exports.add(2, 3));
  } catch (e) {
    return "error";
  }
})()).then((v) => mark("wasm", v)));

checks.push(within(5000, new Promise((resolve) => {
  window.addEventListener("message", (event) => {
    if (event.data === "waict-frame:ran") resolve("ran");
  });
})).then((v) => mark("iframe", v)));

checks.push(within(5000, loaded().then(() => {
  const img = document.getElementById("logo");
  return img && img.complete && img.naturalWidth > 0 ? "loaded" : "error";
})).then((v) => mark("image", v)));

checks.push(loaded().then(() => {
  const value = getComputedStyle(root).getPropertyValue("--waict-style").trim();
  mark("style", value || "missing");
}));

Promise.allSettled(checks).then(() => mark("done", "1"));
"""

INJECT_JS = """
// An attacker-style injection: an inline script that no manifest lists.
// With inline_js_hashes in the manifest the browser's CSP refuses to run it.
const injected = document.createElement("script");
injected.textContent = 'document.documentElement.setAttribute("data-waict-injected", "ran");';
document.body.append(injected);
"""

STYLE_CSS = """\
:root {
  --waict-style: ran;
  color-scheme: light;
}

body {
  font-family: system-ui, sans-serif;
  margin: 2rem;
  background: #f4f7f2;
}

iframe {
  width: 24rem;
  height: 5rem;
  border: 1px solid #8a8;
}
"""

WORKER_JS = """\
// A dedicated worker: answers the page once it runs.
postMessage("ran");
"""

SHARED_WORKER_JS = """\
// A shared worker: answers every page that connects.
onconnect = (event) => {
  const port = event.ports[0];
  port.postMessage("ran");
};
"""

SW_JS = """\
// A service worker: installs and takes control at once.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
"""

FRAME_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Embedded page</title>
<script src="/frame.js" defer></script>
</head>
<body>
<p>An embedded page with its own script.</p>
</body>
</html>
"""

FRAME_JS = """\
// Runs inside the iframe: marks the frame and tells the parent page.
document.documentElement.setAttribute("data-waict-frame", "ran");
parent.postMessage("waict-frame:ran", "*");
"""

TAMPER_JS = """
// tampered after publishing
document.documentElement.setAttribute("data-waict-tampered", "1");
"""
TAMPER_WORKER_JS = "\n// tampered after publishing\n"
TAMPER_CSS = "\n/* tampered after publishing */\nbody { background: #fdd; }\n"
TAMPER_HTML = "<!-- tampered after publishing -->\n"


def app_files(name: str, description: str, *, inject: bool = False) -> dict[str, bytes]:
    app = APP_JS.replace("/*INJECT*/", INJECT_JS if inject else "")
    return {
        "index.html": index_html(name, description).encode(),
        "app.js": app.encode(),
        "style.css": STYLE_CSS.encode(),
        "worker.js": WORKER_JS.encode(),
        "shared-worker.js": SHARED_WORKER_JS.encode(),
        "sw.js": SW_JS.encode(),
        "add.wasm": WASM_ADD,
        "logo.png": png((40, 120, 60)),
        "frame.html": FRAME_HTML.encode(),
        "frame.js": FRAME_JS.encode(),
    }


def tampered(files: dict[str, bytes], name: str) -> bytes:
    original = files[name]
    if name == "add.wasm":
        return WASM_SUB
    if name == "logo.png":
        return png((200, 30, 30))
    if name.endswith(".html"):
        return TAMPER_HTML.encode() + original
    if name.endswith(".css"):
        return original + TAMPER_CSS.encode()
    if name in ("app.js", "frame.js"):
        return original + TAMPER_JS.encode()
    return original + TAMPER_WORKER_JS.encode()


# --- the sites -----------------------------------------------------------------------------

ALL_RAN: dict[str, str] = {
    "inline": "ran",
    "app": "ran",
    "eval": "blocked",
    "worker": "ran",
    "sharedworker": "ran",
    "serviceworker": "ran",
    "wasm": "5",
    "iframe": "ran",
    "image": "loaded",
    "style": "ran",
    "done": "1",
}
NO_CSP = {**ALL_RAN, "eval": "allowed"}
VALID_MANIFEST = {"status": "valid", "reason": None, "detail": None}

# tampered file -> (destination, reason, markers in the browser)
TAMPERS: dict[str, tuple[str, str, str, dict[str, str] | None]] = {
    # site suffix: (file, destination, reason, markers; None = the block page)
    "document": ("index.html", "document", "no_manifest_match", None),
    "script": ("app.js", "script", "no_manifest_match", {"inline": "ran"}),
    "style": ("style.css", "style", "no_manifest_match", {**ALL_RAN, "style": "missing"}),
    "worker": ("worker.js", "worker", "no_manifest_match", {**ALL_RAN, "worker": "error"}),
    "sharedworker": (
        "shared-worker.js",
        "sharedworker",
        "no_manifest_match",
        {**ALL_RAN, "sharedworker": "error"},
    ),
    "serviceworker": (
        "sw.js",
        "serviceworker",
        "no_manifest_match",
        {**ALL_RAN, "serviceworker": "error"},
    ),
    "wasm": ("add.wasm", "wasm", "wasm_hash_mismatch", {**ALL_RAN, "wasm": "error"}),
    "iframe": ("frame.html", "iframe", "no_manifest_match", {**ALL_RAN, "iframe": "timeout"}),
    "image": ("logo.png", "image", "no_manifest_match", {**ALL_RAN, "image": "error"}),
}


def base_site(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "host": f"{name}.{DOMAIN}",
        "description": description,
        "enrolled": True,
        "mode": "enforce",
        "max_age": 3600,
        "v1": None,
        "inline": True,
        "preloaded": False,
        "tombstone": None,
        "dev_ids": None,
        "tamper": None,
    }


def steps_for(site: dict[str, Any]) -> list[dict[str, Any]]:
    """The `waict publish` calls that produce the site, in order (see web/README.md)."""
    if not site["enrolled"]:
        return []
    common = ["--mode", site["mode"], "--max-age", str(site["max_age"])]
    if site["inline"]:
        common.append("--inline")
    if site["v1"] is not None:
        return [
            {
                "clock": "now",
                "args": ["--v1", *site["v1"], "--mode", site["mode"], "--max-age", "0"],
            }
        ]
    if site["tombstone"] is not None:
        unenroll = {"clock": site["tombstone"], "args": ["--unenroll", *common]}
        return [{"clock": "old", "args": common}, unenroll]
    if site["dev_ids"] is not None:
        ids = site["dev_ids"]["ids"]
        committed = site["dev_ids"]["committed"]
        return [
            {"clock": committed, "args": [*common, "--dev-ids-next", *ids]},
            {"clock": "now", "args": [*common, "--dev-ids", *ids]},
        ]
    return [{"clock": "now", "args": common}]


def expectation(
    navigation: str,
    manifest: dict[str, Any],
    resources: dict[str, dict[str, Any]],
    markers: dict[str, str] | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "navigation": navigation,
        "manifest": manifest,
        "resources": resources,
        "browser": {"block_page": markers is None, "markers": markers or {}, **extra},
    }


def sites() -> dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, bytes], dict[str, bytes]]]:
    """name -> (site.json, expected.json, public files, tamper files)."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, bytes], dict[str, bytes]]] = {}

    def add(
        site: dict[str, Any],
        expected: dict[str, Any],
        *,
        inject: bool = False,
        tamper: str | None = None,
    ) -> None:
        files = app_files(site["name"], site["description"], inject=inject)
        tamper_files: dict[str, bytes] = {}
        if tamper is not None:
            tamper_files[tamper] = tampered(files, tamper)
            site["tamper"] = {"file": tamper, "with": f"tamper/{tamper}"}
        site["steps"] = steps_for(site)
        out[site["name"]] = (site, expected, files, tamper_files)

    add(
        base_site("valid", "Every asset is listed in a logged manifest: everything runs."),
        expectation("allow", VALID_MANIFEST, {}, ALL_RAN),
    )
    for suffix, (file, destination, reason, markers) in TAMPERS.items():
        name = f"tampered-{suffix}"
        site = base_site(name, f"{file} ({destination}) is changed after publishing.")
        navigation = "block" if destination == "document" else "allow"
        blocked = {f"/{file}": {"allowed": False, "reason": reason, "destination": destination}}
        if file == "index.html":  # the page is also listed under its directory URL
            blocked["/"] = {"allowed": False, "reason": reason, "destination": "document"}
            blocked["/index.html"]["destination"] = "iframe"
        add(site, expectation(navigation, VALID_MANIFEST, blocked, markers), tamper=file)
    add(
        base_site(
            "tampered-inline",
            "A listed script injects an inline script that no manifest lists: the browser's "
            "CSP refuses to run it (waict verify cannot see code injected at run time).",
        ),
        expectation("allow", VALID_MANIFEST, {}, ALL_RAN, absent=["injected"]),
        inject=True,
    )
    report = base_site("report", "Report-only: app.js is tampered but still runs; it is reported.")
    report["mode"] = "report"
    add(
        report,
        expectation(
            "allow",
            VALID_MANIFEST,
            {"/app.js": {"allowed": True, "reason": "no_manifest_match", "destination": "script"}},
            {**NO_CSP, "tampered": "1"},  # report mode blocks nothing: eval runs too
        ),
        tamper="app.js",
    )
    v1 = base_site(
        "v1",
        "The v1 header deployed demos send (max-age=0, blocked-destinations=(script)) with a "
        "plain JSON manifest. Only scripts are covered: the tampered style.css still loads.",
    )
    v1.update({"v1": ["script"], "max_age": 0, "inline": False})
    add(
        v1,
        expectation("allow", VALID_MANIFEST, {}, {**NO_CSP, "style": "ran"}),
        tamper="style.css",
    )
    unenrolled = base_site("unenrolled", "Not enrolled: no header, nothing is checked.")
    unenrolled.update({"enrolled": False, "inline": False, "max_age": None, "mode": None})
    add(
        unenrolled,
        expectation("allow", {"status": "none", "reason": None, "detail": None}, {}, NO_CSP),
    )
    old = base_site(
        "tombstone-old",
        "Preloaded, and unenrolled (transparency tombstone) 48 h ago: past the cooldown, the "
        "site has left WAICT.",
    )
    old.update({"preloaded": True, "tombstone": "old"})
    add(
        old,
        expectation("allow", {"status": "tombstone", "reason": None, "detail": None}, {}, NO_CSP),
    )
    fresh = base_site(
        "tombstone-fresh",
        "Preloaded, and unenrolled just now: a preloaded site may leave only after the "
        "cooldown, so the browser blocks it.",
    )
    fresh.update({"preloaded": True, "tombstone": "now"})
    invalid = {"allowed": False, "reason": "invalid_manifest"}
    add(
        fresh,
        expectation(
            "block",
            {"status": "invalid", "reason": "invalid_manifest", "detail": "tombstone_too_recent"},
            {"*": invalid},
            None,
        ),
    )
    dev_old = base_site(
        "dev-ids-old",
        "Developer identities announced (dev-ids-next) 48 h ago and carried now: proven past "
        "the cooldown.",
    )
    dev_old["dev_ids"] = {"ids": [DEV_ID], "committed": "old"}
    add(dev_old, expectation("allow", VALID_MANIFEST, {}, ALL_RAN))
    dev_new = base_site(
        "dev-ids-new",
        "Developer identities announced and carried just now: still inside the cooldown, so "
        "the manifest is invalid.",
    )
    dev_new["dev_ids"] = {"ids": [DEV_ID], "committed": "now"}
    add(
        dev_new,
        expectation(
            "block",
            {"status": "invalid", "reason": "invalid_manifest", "detail": "dev_ids_cooldown"},
            {"*": invalid},
            None,
        ),
    )
    return out


# --- the room (issue 13): its own application, built by scripts/build_room.py ---------------

ROOM_RAN = {"app": "ran", "worker": "ran", "done": "1"}


def room_sites() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (site.json, expected.json) of the room sample sites. Their served files are
    not generated here: scripts/build_room.py copies the page from web/room/src and bundles
    the MLS worker (ts-mls, esbuild) into web/<site>/public (and tamper/)."""
    room = base_site(
        "room",
        "An end-to-end encrypted room: MLS (ts-mls) in a dedicated worker, the designated "
        "committer, a safety number from the epoch authenticator. Join one with "
        "#ds=ws://HOST:PORT&room=NAME (waict serve-room).",
    )
    room["inline"] = False  # the page has no inline code
    room["steps"] = steps_for(room)
    tampered_room = base_site(
        "tampered-room",
        "The room with its MLS worker (mls-worker.js) changed after publishing: the browser "
        "must refuse the worker, so the page never joins and no frame leaves it.",
    )
    tampered_room["inline"] = False
    tampered_room["tamper"] = {"file": "mls-worker.js", "with": "tamper/mls-worker.js"}
    tampered_room["steps"] = steps_for(tampered_room)
    worker = {"allowed": False, "reason": "no_manifest_match", "destination": "worker"}
    return {
        "room": (room, expectation("allow", VALID_MANIFEST, {}, ROOM_RAN)),
        "tampered-room": (
            tampered_room,
            expectation(
                "allow",
                VALID_MANIFEST,
                {"/mls-worker.js": worker},
                {**ROOM_RAN, "worker": "error"},
            ),
        ),
    }


PRELOAD_INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>WAICT sample preload list</title>
</head>
<body>
<h1>The sample preload list's domain</h1>
<p>Its chain logs the preload list (preload.json), not a site manifest.</p>
</body>
</html>
"""


def preload_site(all_sites: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    hosts = sorted(s[0]["host"] for s in all_sites.values() if s[0]["preloaded"])
    lines = ["# Hosts on the sample preload list (one per line; add `dev-ids` to require them)"]
    lines += hosts
    site = {
        "name": "preload",
        "host": PRELOAD_HOST,
        "description": "The vendor's preload domain: its chain logs the preload list.",
        "kind": "preload",
        "preload_list": {"hosts": "hosts.txt", "expires_in": 30 * 24 * 3600},
        "steps": [{"clock": "now", "args": ["--line", "{preload_json}"]}],
    }
    files = {
        "hosts.txt": ("\n".join(lines) + "\n").encode(),
        "public/index.html": PRELOAD_INDEX.encode(),
    }
    return site, files


def render_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


def planned_files() -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    all_sites = sites()
    for name, (site, expected, public, tamper) in all_sites.items():
        folder = WEB / name
        files[folder / "site.json"] = render_json(site)
        files[folder / "expected.json"] = render_json(expected)
        for rel, data in public.items():
            files[folder / "public" / rel] = data
        for rel, data in tamper.items():
            files[folder / "tamper" / rel] = data
    for name, (site_json, expected) in room_sites().items():
        files[WEB / name / "site.json"] = render_json(site_json)
        files[WEB / name / "expected.json"] = render_json(expected)
    site, extra = preload_site(all_sites)
    files[WEB / "preload" / "site.json"] = render_json(site)
    for rel, data in extra.items():
        files[WEB / "preload" / rel] = data
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    differ = []
    for path, data in sorted(planned_files().items()):
        current = path.read_bytes() if path.exists() else None
        if current == data:
            continue
        differ.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    verb = "differ from the generator" if check else "written"
    for path in differ:
        print(f"{path.relative_to(WEB)}: {verb}")
    return 1 if check and differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
