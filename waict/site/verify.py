"""``waict verify URL``: what a WAICT browser would decide about a live site, from the command
line.

It fetches the page, reads ``Integrity-Policy-WAICT-v1``, fetches the manifest response, and
fetches the resources the page makes the browser load, each with the fetch destination the
browser would give it:

- from the HTML (:mod:`waict.site.html`): ``<script src>`` (script), ``<link
  rel=stylesheet>`` (style), ``rel=modulepreload`` (script), ``rel=preload as=...``,
  ``<img>`` / icons (image), ``<iframe>`` / ``<frame>``, ``<audio>``, ``<video>``,
  ``<object>``; same-origin frame documents are scanned the same way;
- from the scripts (string literals only): ``new Worker(...)`` (worker),
  ``new SharedWorker(...)`` (sharedworker), ``serviceWorker.register(...)``
  (serviceworker), ``importScripts``/``import`` (script), ``"....wasm"`` (wasm);
- every URL in the manifest's ``hashes``, the destination inferred from its extension
  (pages other than the navigated one are checked as frames).

Then it builds a ``waict check`` scenario and runs :func:`verifier.decide` on it: exactly the
browser's decision. Inline code is checked the way the browser's CSP would check it against
the manifest's ``inline_js_hashes`` / ``inline_css_hashes`` (when present).

Exit status: 0 when the navigation is allowed and nothing is blocked; 1 when something is
blocked; 2 on usage or network errors. ``--json`` prints the verdict; ``--dump-scenario``
writes the scenario (replay it with ``waict check``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

from verifier import decide
from verifier.crypto import sha256
from verifier.decide import ManifestVerdict, evaluate_manifest
from verifier.encoding import b64encode
from verifier.errors import WaictError
from verifier.header import parse_policy, resolve_manifest_url
from verifier.preload import usable_preload_list
from verifier.trust import TrustConfig, parse_trust
from waict.common.commands import report_error
from waict.common.errors import NetworkError, SiteToolError
from waict.common.files import read_bytes_file, read_text_file
from waict.site.content_types import destination_for_url
from waict.site.html import InlineCode, decode_html, scan_html
from waict.site.http_client import make_client, network_errors
from waict.site.names import HEADER_NAME, MANIFEST_MEDIA_TYPE
from waict.site.report import Fetched, InlineFinding, VerifyReport, render, same_origin
from waict.site.wiring import ClientSettings, add_client_options

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

MAX_RESOURCES = 500
_STR = r"""(['"`])([^'"`\s]+?)\1"""
_JS_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    # (pattern, destination, base: "document" = the page's URL, "self" = the script's URL)
    (re.compile(r"new\s+Worker\s*\(\s*(?:new\s+URL\s*\(\s*)?" + _STR), "worker", "document"),
    (
        re.compile(r"new\s+SharedWorker\s*\(\s*(?:new\s+URL\s*\(\s*)?" + _STR),
        "sharedworker",
        "document",
    ),
    (re.compile(r"serviceWorker\s*\.\s*register\s*\(\s*" + _STR), "serviceworker", "document"),
    (re.compile(r"importScripts\s*\(\s*" + _STR), "script", "self"),
    (re.compile(r"\bimport\s*\(\s*" + _STR), "script", "self"),
    (re.compile(r"(?:^|[;\n}])\s*import\s+(?:[\w*{}\s,$]+?\s+from\s+)?" + _STR), "script", "self"),
    (re.compile(r"(?:^|[;\n}])\s*export\s+[\w*{}\s,$]+?\s+from\s+" + _STR), "script", "self"),
    (re.compile(r"""(['"`])([^'"`\s]+?\.wasm)\1"""), "wasm", "document"),
)
_WORKER_DESTINATIONS = ("worker", "sharedworker", "serviceworker")
_HTML_DESTINATIONS = ("document", "iframe", "frame")


def scan_script(text: str) -> list[tuple[str, str, str]]:
    """(URL as written, destination, base kind) for each reference a script makes."""
    out: list[tuple[str, str, str]] = []
    for pattern, destination, base in _JS_PATTERNS:
        for match in pattern.finditer(text):
            url = match.group(2)
            if "${" not in url:
                out.append((url, destination, base))
    return out


def _http_get(client: httpx.Client, url: str) -> httpx.Response:
    with network_errors(f"GET {url}"):
        return client.get(url)


def verify_site(
    url: str,
    trust: Mapping[str, Any],
    *,
    preload: bytes | None = None,
    now: int | None = None,
    client: httpx.Client | None = None,
    max_resources: int = MAX_RESOURCES,
) -> VerifyReport:
    """Fetch ``url`` and everything it loads, and decide as the browser would."""
    try:
        trust_config = parse_trust(trust)
    except WaictError as exc:
        raise SiteToolError(f"trust configuration: {exc}") from None
    if urlsplit(url).scheme not in ("http", "https"):
        raise SiteToolError(f"{url!r} is not an http(s) URL")
    now = int(time.time()) if now is None else now
    own = client is None
    http = client or make_client(follow_redirects=True)
    try:
        return _verify(url, dict(trust), trust_config, preload, now, http, max_resources)
    finally:
        if own:
            http.close()


def _verify(
    url: str,
    trust: dict[str, Any],
    trust_config: TrustConfig,
    preload: bytes | None,
    now: int,
    http: httpx.Client,
    max_resources: int,
) -> VerifyReport:
    notes: list[str] = []
    page = _http_get(http, url)
    if page.status_code >= 400:
        raise NetworkError(f"{url} answered HTTP {page.status_code}", "is the site up?")
    page_url = str(page.url)
    header = page.headers.get(HEADER_NAME)

    # the manifest response
    manifest_url: str | None = None
    manifest_response: bytes | None = None
    policy = None
    if header is not None:
        try:
            policy = parse_policy(header)
        except WaictError as exc:
            notes.append(f"the {HEADER_NAME} header is ignored: {exc}")
    if policy is not None:
        manifest_url = resolve_manifest_url(policy.manifest, page_url)
        try:
            answer = _http_get(http, manifest_url) if manifest_url is not None else None
        except NetworkError as exc:
            notes.append(f"manifest: {exc}")
            answer = None
        if answer is not None and answer.status_code == 200:
            manifest_response = answer.content
            ctype = answer.headers.get("content-type", "").split(";")[0].strip()
            if not policy.is_v1 and ctype != MANIFEST_MEDIA_TYPE:
                notes.append(
                    f"the manifest is served as {ctype or 'no type'}, not {MANIFEST_MEDIA_TYPE}"
                )
        elif answer is not None:
            notes.append(f"manifest {manifest_url} answered HTTP {answer.status_code}")

    preload_list = usable_preload_list(preload, trust_config, now)
    if preload is not None and preload_list is None:
        notes.append("the preload list does not verify or is stale: it is not used")
    mverdict = evaluate_manifest(
        url=page_url,
        header=header,
        manifest_response=manifest_response,
        trust=trust_config,
        now=now,
        preload_list=preload_list,
    )

    # what to fetch
    order: list[str] = []
    items: dict[str, Fetched] = {}

    def add(target: str, destination: str, found_in: str, *, refine: bool = False) -> None:
        target = target.split("#", 1)[0]
        if urlsplit(target).scheme not in ("http", "https"):
            return
        known = items.get(target)
        if known is not None:
            if refine and known.found_in == "manifest":
                known.destination = destination
                known.found_in = found_in
            return
        if len(order) >= max_resources:
            return
        items[target] = Fetched(target, destination, found_in)
        order.append(target)

    doc = Fetched(
        page_url,
        "document",
        "navigation",
        page.content,
        page.status_code,
        page.headers.get("content-type", ""),
    )
    items[page_url] = doc
    order.append(page_url)
    inline_pages: list[tuple[str, list[InlineCode]]] = []

    scanned: set[bytes] = set()

    def scan_page(page_at: str, body: bytes) -> None:
        digest = sha256(body)
        if digest in scanned:  # the same page under two URLs (/ and /index.html)
            return
        scanned.add(digest)
        scan = scan_html(decode_html(body))
        inline_pages.append((page_at, scan.inline))
        for absolute, ref in scan.resolved(page_at):
            add(absolute, ref.destination, page_at, refine=True)

    scan_page(page_url, page.content)
    manifest = mverdict.manifest
    if manifest is not None and not manifest.tombstone:
        for listed in sorted(manifest.hashes):
            if listed in items:
                continue
            destination = destination_for_url(listed)
            if destination is None:
                notes.append(f"not checked (destination unknown): {listed}")
                continue
            add(listed, destination, "manifest")

    i = 1
    while i < len(order):
        item = items[order[i]]
        i += 1
        try:
            answer = _http_get(http, item.url)
        except NetworkError as exc:
            item.error = str(exc)
            continue
        item.status = answer.status_code
        item.content_type = answer.headers.get("content-type", "")
        if answer.status_code != 200:
            item.error = f"HTTP {answer.status_code}"
            continue
        item.body = answer.content
        if item.destination in ("script", *_WORKER_DESTINATIONS):
            text = answer.content.decode("utf-8", errors="replace")
            is_worker = item.destination in _WORKER_DESTINATIONS or (
                item.found_in in items
                and (items[item.found_in].destination in _WORKER_DESTINATIONS)
            )
            for ref, destination, base in scan_script(text):
                base_url = item.url if base == "self" or is_worker else page_url
                add(urljoin(base_url, ref), destination, item.url, refine=True)
        elif (
            item.destination in _HTML_DESTINATIONS
            and same_origin(item.url, page_url)
            and ("html" in item.content_type or item.url.endswith((".html", ".htm", "/")))
        ):
            scan_page(item.url, answer.content)

    fetched = [items[u] for u in order if items[u].body is not None]
    skipped = [items[u] for u in order if items[u].body is None]
    scenario: dict[str, Any] = {
        "now": now,
        "trust": trust,
        "preload": None if preload is None else b64encode(preload),
        "url": page_url,
        "header": header,
        "manifest_response": None if manifest_response is None else b64encode(manifest_response),
        "resources": [
            {"url": f.url, "destination": f.destination, "body": b64encode(f.body or b"")}
            for f in fetched
        ],
    }
    try:
        verdict = decide(scenario)
    except WaictError as exc:  # cannot happen for a scenario we built; say so plainly
        raise SiteToolError(f"internal error: the scenario is unusable: {exc}") from None

    inline = _check_inline(mverdict, inline_pages)
    return VerifyReport(
        url=page_url,
        scenario=scenario,
        verdict=verdict,
        manifest_verdict=mverdict,
        header=header,
        manifest_url=manifest_url,
        resources=fetched,
        skipped=skipped,
        inline=inline,
        notes=notes,
    )


def _check_inline(
    mverdict: ManifestVerdict, pages: list[tuple[str, list[InlineCode]]]
) -> list[InlineFinding]:
    """Inline code as the browser's CSP treats it (see :mod:`verifier.csp`)."""
    manifest = mverdict.manifest
    if mverdict.status != "valid" or manifest is None or not manifest.covers_inline:
        return []
    enforcing = mverdict.enforcing
    out: list[InlineFinding] = []
    for page, codes in pages:
        for code in codes:
            if code.kind in ("script", "script-attribute", "javascript-url"):
                listed = manifest.inline_js_hashes
                what = "inline_js_hashes"
            else:
                listed = manifest.inline_css_hashes
                what = "inline_css_hashes"
            if listed is None or not code.covered:
                continue
            if code.kind in ("script", "style"):
                ok = code.digest in listed
                reason = None if ok else f"not_in_{what}"
            else:
                ok, reason = False, f"{code.kind.replace('-', '_')}_blocked"
            out.append(InlineFinding(page, code, ok or not enforcing, reason))
    return out


# --- command line --------------------------------------------------------------------------


def _cmd_verify(args: argparse.Namespace) -> int:
    try:
        trust_text = read_text_file(Path(args.trust), "trust file")
        try:
            trust = json.loads(trust_text)
        except ValueError as exc:
            raise SiteToolError(f"trust file {args.trust} is not JSON: {exc}") from None
        if not isinstance(trust, dict):
            raise SiteToolError(f"trust file {args.trust} must hold a JSON object")
        preload = read_bytes_file(Path(args.preload), "preload file") if args.preload else None
        now = int(time.time()) if args.now is None else args.now
        with ClientSettings.from_args(args).client(follow_redirects=True) as client:
            report = verify_site(
                args.url,
                trust,
                preload=preload,
                now=now,
                client=client,
                max_resources=args.max_resources,
            )
        if args.dump_scenario:
            Path(args.dump_scenario).write_text(json.dumps(report.scenario, indent=2) + "\n")
    except SiteToolError as exc:
        return report_error("verify", exc)
    if args.json:
        sys.stdout.write(json.dumps(report.verdict) + "\n")
        for finding in report.inline:
            if not finding.allowed:
                print(
                    f"waict verify: blocked inline code: {json.dumps(finding.as_json())}",
                    file=sys.stderr,
                )
    else:
        sys.stdout.write(render(report, now))
    return report.exit_code


def add_verify_parser(subparsers: Subparsers) -> None:
    """Register ``waict verify``."""
    p = subparsers.add_parser(
        "verify",
        help="fetch a live site and decide as a WAICT browser would",
        description="Fetch URL, its header, manifest and every resource it loads, run the "
        "browser's decision (verifier.decide) and print a summary. Exit 0 when the navigation "
        "is allowed and nothing is blocked, 1 when something is blocked, 2 on usage or "
        "network errors.",
    )
    p.add_argument("url", help="the page to navigate to")
    p.add_argument("--trust", required=True, help="trust configuration (trust.json)")
    p.add_argument("--preload", default=None, help="preload list response body (preload.waict)")
    p.add_argument("--now", type=int, default=None, help="unix time to decide at (default: now)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument(
        "--dump-scenario",
        default=None,
        metavar="FILE",
        help="write the `waict check` scenario to FILE",
    )
    add_client_options(p, insecure=True)
    p.add_argument(
        "--max-resources",
        type=int,
        default=MAX_RESOURCES,
        help=f"fetch at most this many resources (default {MAX_RESOURCES})",
    )
    p.set_defaults(func=_cmd_verify)
