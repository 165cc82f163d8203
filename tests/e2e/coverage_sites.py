"""Fixture sites for the coverage paths of issue 9 (``test_coverage.py``).

Each site is enrolled (enforce) with a manifest logged in the fixture's World, and reaches
code through one path that used to escape the extension: a redirect (looked up by the URL
before the redirect, design.md 5), a 3xx response without ``Location`` (a final
response), a back/forward-cache restore, a worker started by a worker, ``blob:`` and
``data:`` code in workers, a service worker registered before the site enrolled, a
prerendered document. Scripts mark what ran with ``data-m-<name>`` on ``<html>`` (workers
post the name to the page, which marks it).

Sites (label -> what it holds):

- ``x-redirect``: ``/`` loads ``/r/app.js`` (302 to an unlisted URL; the bytes are listed
  under ``/r/app.js``) and ``/r/evil.js`` (302 to ``/lib/evil.js``, listed with the evil
  bytes; ``/r/evil.js`` itself is listed with other bytes); ``/go`` redirects to
  ``/sub/index.html``, whose header names a relative manifest URL (``waict-manifest``,
  so ``/sub/waict-manifest``) and whose bytes are listed under ``/go``;
- ``x-doc300``: the document is a ``300`` without ``Location`` with bytes the manifest does
  not list (an inline script marks ``evil``);
- ``x-s300``: a listed document loading a listed script and an unlisted one, both
  answered ``300`` without ``Location``;
- ``x-bfc``: a cacheable page (so the back/forward cache keeps it) that, when restored,
  adds a listed and an unlisted script;
- ``x-nested``: a page whose worker starts two workers (one listed, one not); the listed
  one imports an unlisted script;
- ``x-blob``: a listed worker that imports ``data:`` and ``blob:`` code, and a listed
  module worker that imports ``data:`` code;
- ``x-latesw``: served without WAICT first (its page registers an uncommitted service
  worker), then enrolled (the test flips it, :func:`enroll_late_sw`);
- ``x-pre``: a page that prerenders ``/target.html`` and ``x-pre2``'s ``/`` (speculation
  rules; the latter also ``<link rel=prefetch>``); both are served with other bytes than
  listed (an unlisted inline script marks ``pre-evil``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from world import h64u, manifest_line

MARK = "function mark(n) { document.documentElement.setAttribute('data-m-' + n, '1'); }\n"
HEADER = 'max-age=3600, mode=enforce, manifest="/.well-known/waict-manifest"'
HTML = "text/html; charset=utf-8"
JS = "text/javascript"


def page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{body}"
        "</head><body><h1>" + title + "</h1></body></html>\n"
    ).encode()


def script(body: str) -> bytes:
    return (MARK + body).encode()


# workers post names; the page marks them
FORWARD = (
    "const fwd = (w) => {\n"
    "  w.onmessage = (e) => mark(e.data);\n"
    "  w.onerror = () => mark('worker-error');\n"
    "};\n"
)

# --- x-redirect -------------------------------------------------------------------------
R_INDEX = page("redirect", '<script src="/r/app.js"></script><script src="/r/evil.js"></script>')
R_APP = script("mark('redirected');\n")
R_EVIL = script("mark('evil');\n")
R_SUB = page("sub", '<script src="/r/app.js"></script>')
R_SUB_HEADER = 'max-age=3600, mode=enforce, manifest="waict-manifest"'

# --- 3xx without Location -----------------------------------------------------------------
D300 = (
    b"<!doctype html><title>300</title>"
    b"<script>document.documentElement.setAttribute('data-m-evil', '1')</script>\n"
)
S300_INDEX = page("s300", '<script src="/ok300.js"></script><script src="/evil300.js"></script>')
S300_OK = script("mark('ok300');\n")
S300_EVIL = script("mark('evil300');\n")

# --- back/forward cache ---------------------------------------------------------------------
BFC_INDEX = page("bfcache", '<script src="/bfc.js"></script>')
BFC_JS = script(
    """mark('script');
addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  mark('restored');
  for (const src of ['/late-ok.js', '/late-evil.js']) {
    const s = document.createElement('script');
    s.src = src;
    s.onerror = () => mark('blocked-' + src.slice(1, -3));
    document.head.appendChild(s);
  }
});
"""
)
BFC_LATE_OK = script("mark('late-ok');\n")
BFC_LATE_EVIL = script("mark('late-evil');\n")

# --- nested dedicated workers ----------------------------------------------------------------
N_INDEX = page("nested", '<script src="/nest.js"></script>')
N_JS = script(FORWARD + "mark('script');\nfwd(new Worker('/w1.js'));\n")
N_W1 = (
    b"for (const src of ['/w2-ok.js', '/w2-evil.js']) {\n"
    b"  const w = new Worker(src);\n"
    b"  w.onmessage = (e) => postMessage(e.data);\n"
    b"  w.onerror = () => postMessage('error-' + src.slice(1, -3));\n"
    b"}\npostMessage('w1');\n"
)
N_W2_OK = (
    b"postMessage('nested-ok');\n"
    b"try { importScripts('/nested-import.js'); }\n"
    b"catch (e) { postMessage('nested-import-blocked'); }\n"
)
N_W2_EVIL = b"postMessage('nested-evil');\n"
N_IMPORT = b"postMessage('nested-import-evil');\n"

# --- blob: and data: code in workers --------------------------------------------------------
B_INDEX = page("blob", '<script src="/blob.js"></script>')
B_JS = script(
    FORWARD
    + """mark('script');
fwd(new Worker('/wb.js'));
fwd(new Worker('/wbm.js', { type: 'module' }));
try {
  const code = ["postMessage('blob-worker-evil')"];
  const url = URL.createObjectURL(new Blob(code, { type: 'text/javascript' }));
  fwd(new Worker(url));
} catch (e) { mark('blob-worker-blocked'); }
"""
)
B_WORKER = (
    b"postMessage('wb');\n"
    b"try { importScripts('data:text/javascript,postMessage(%22data-import-evil%22)'); }\n"
    b"catch (e) { postMessage('data-import-blocked'); }\n"
    b"try { importScripts(URL.createObjectURL(new Blob([\"postMessage('blob-import-evil')\"],"
    b" { type: 'text/javascript' }))); }\n"
    b"catch (e) { postMessage('blob-import-blocked'); }\n"
    b"try { eval(\"postMessage('worker-eval-evil')\"); }\n"
    b"catch (e) { postMessage('worker-eval-blocked'); }\n"
)
B_MODULE_WORKER = (
    b"postMessage('wbm');\n"
    b"import('data:text/javascript,postMessage(%22module-data-evil%22)')"
    b".catch(() => postMessage('module-data-blocked'));\n"
)

# --- service worker registered before the site enrolled --------------------------------------
L_INDEX_BEFORE = page("late sw", '<script src="/before.js"></script>')
L_BEFORE = script(
    """navigator.serviceWorker.register('/sw.js')
  .then(() => navigator.serviceWorker.ready)
  .then(() => mark('registered'), () => mark('register-error'));
"""
)
L_SW_EVIL = (
    b"self.addEventListener('install', () => self.skipWaiting());\n"
    b"self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\n"
    b"self.addEventListener('message', (e) => e.source.postMessage('sw-evil'));\n"
)
L_INDEX = page("late sw", '<script src="/after.js"></script>')
L_AFTER = script(
    """mark('script');
navigator.serviceWorker.onmessage = (e) => mark(e.data);
(async () => {
  const old = await navigator.serviceWorker.getRegistration();
  if (old && old.active) old.active.postMessage('ping');
  else mark('no-old-sw');
  await new Promise((r) => setTimeout(r, 1500));
  mark('pinged');
})();
"""
)


# --- prerendered document -------------------------------------------------------------------
def p_rules(other: str) -> str:
    """Prerender a same-origin page and a same-site one (never visited before)."""
    return json.dumps({"prerender": [{"source": "list", "urls": ["/target.html", other + "/"]}]})


def p_index(rules: str, other: str) -> bytes:
    """Speculation rules, and a ``<link rel=prefetch>`` of the same-site page too."""
    return page(
        "prerender",
        f'<script type="speculationrules">{rules}</script><link rel=prefetch href="{other}/">'
        '<script src="/pre.js"></script>',
    )


P_JS = script("mark('script');\n")
P_TARGET = page("target", '<script src="/pre.js"></script>')
# served instead of the listed target: its inline script is not listed either
P_TARGET_EVIL = page("target", "<script>" + MARK + "mark('pre-evil');</script>")


def _hashes(origin: str, listed: dict[str, bytes]) -> dict[str, Any]:
    return {"hashes": {origin + path: h64u(body) for path, body in sorted(listed.items())}}


def add_sites(
    add: Callable[..., None], origin: Callable[[str], str], sites: dict[str, Any]
) -> None:
    """Add the coverage sites through ``sites.build``'s ``add`` (one World for all)."""
    o = origin("x-redirect")
    listed = {
        "/": R_INDEX,
        "/r/app.js": R_APP,
        "/r/evil.js": R_APP,  # other bytes than what the redirect target serves
        "/lib/evil.js": R_EVIL,  # the target's bytes, listed under another URL
        "/go": R_SUB,  # the document is looked up by the URL before the redirect
    }
    line = manifest_line({**_hashes(o, listed), "inline_js_hashes": []})
    add("x-redirect", {"/": R_INDEX, "/real/app.js": R_APP, "/lib/evil.js": R_EVIL}, line, HEADER)
    site = sites["x-redirect"]
    site.responses.update(
        {
            "/r/app.js": (302, {"Location": "/real/app.js"}, b""),
            "/r/evil.js": (302, {"Location": "/lib/evil.js"}, b""),
            "/go": (302, {"Location": "/sub/index.html"}, b""),
            "/sub/index.html": (
                200,
                {"Content-Type": HTML, "Integrity-Policy-WAICT-v1": R_SUB_HEADER},
                R_SUB,
            ),
        }
    )

    o = origin("x-doc300")
    line = manifest_line({**_hashes(o, {"/": page("300", "")}), "inline_js_hashes": []})
    add("x-doc300", {}, line, HEADER)
    sites["x-doc300"].responses["/"] = (
        300,
        {"Content-Type": HTML, "Integrity-Policy-WAICT-v1": HEADER},
        D300,
    )

    o = origin("x-s300")
    line = manifest_line(
        {**_hashes(o, {"/": S300_INDEX, "/ok300.js": S300_OK}), "inline_js_hashes": []}
    )
    add("x-s300", {"/": S300_INDEX}, line, HEADER)
    sites["x-s300"].responses.update(
        {
            "/ok300.js": (300, {"Content-Type": JS}, S300_OK),
            "/evil300.js": (300, {"Content-Type": JS}, S300_EVIL),
        }
    )

    o = origin("x-bfc")
    files = {"/bfc.js": BFC_JS, "/late-ok.js": BFC_LATE_OK, "/late-evil.js": BFC_LATE_EVIL}
    listed = {"/": BFC_INDEX, "/bfc.js": BFC_JS, "/late-ok.js": BFC_LATE_OK}
    add("x-bfc", files, manifest_line({**_hashes(o, listed), "inline_js_hashes": []}), HEADER)
    sites["x-bfc"].responses["/"] = (  # cacheable: no-store keeps a page out of the bfcache
        200,
        {"Content-Type": HTML, "Integrity-Policy-WAICT-v1": HEADER, "Cache-Control": "max-age=0"},
        BFC_INDEX,
    )

    o = origin("x-nested")
    files = {
        "/": N_INDEX,
        "/nest.js": N_JS,
        "/w1.js": N_W1,
        "/w2-ok.js": N_W2_OK,
        "/w2-evil.js": N_W2_EVIL,
        "/nested-import.js": N_IMPORT,
    }
    listed = {k: v for k, v in files.items() if "evil" not in k and "import" not in k}
    add("x-nested", files, manifest_line({**_hashes(o, listed), "inline_js_hashes": []}), HEADER)

    o = origin("x-blob")
    files = {"/": B_INDEX, "/blob.js": B_JS, "/wb.js": B_WORKER, "/wbm.js": B_MODULE_WORKER}
    add("x-blob", files, manifest_line({**_hashes(o, files), "inline_js_hashes": []}), HEADER)

    o = origin("x-latesw")
    files = {"/": L_INDEX_BEFORE, "/before.js": L_BEFORE, "/sw.js": L_SW_EVIL}
    listed = {"/": L_INDEX, "/after.js": L_AFTER}
    line = manifest_line({**_hashes(o, listed), "inline_js_hashes": []})
    add("x-latesw", files, line, None)

    o = origin("x-pre")
    rules = p_rules(origin("x-pre2"))
    index = p_index(rules, origin("x-pre2"))
    files = {"/": index, "/pre.js": P_JS, "/target.html": P_TARGET_EVIL}
    listed = {"/": index, "/pre.js": P_JS, "/target.html": P_TARGET}
    inline = sorted({h64u(rules.encode())})
    add("x-pre", files, manifest_line({**_hashes(o, listed), "inline_js_hashes": inline}), HEADER)
    o = origin("x-pre2")
    line = manifest_line({**_hashes(o, {"/": P_TARGET}), "inline_js_hashes": []})
    add("x-pre2", {}, line, HEADER)
    sites["x-pre2"].responses["/"] = (
        200,
        {
            "Content-Type": HTML,
            "Integrity-Policy-WAICT-v1": HEADER,
            "Supports-Loading-Mode": "credentialed-prerender",
        },
        P_TARGET_EVIL,
    )


def enroll_late_sw(site: Any) -> None:
    """``x-latesw`` enrolls: its header and its committed page are served from now on."""
    site.header = HEADER
    site.files["/"] = L_INDEX
    site.files["/after.js"] = L_AFTER
