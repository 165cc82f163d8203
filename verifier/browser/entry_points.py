"""The extension's entry points: what the service worker asks Python, JSON text in and out.

The Chromium extension (``extension/``) runs this package in Pyodide and calls these
functions by name (``extension/src/python.js``; :mod:`verifier.browser` re-exports them).
JavaScript gathers the inputs (the navigation's URL and header, the manifest response
bytes, the response bodies, the clock, the trust settings, the stored per-origin state)
and applies the answers (continue or fail a response, show the block page, set the badge,
install a CSP). This module only converts JSON text to a request object and the answer
back, and calls the module of the concept; each function's doc is the request and answer
schema. Every rule comes from :mod:`verifier.decide`, :mod:`verifier.ratchet` and
:mod:`verifier.csp`; nothing in :mod:`verifier.browser` re-implements one. The functions
are pure (no I/O); the only state is :mod:`verifier.browser.cache`.

Entry points (each takes and returns one JSON text; bytes travel as standard base64):

- :func:`plan_navigation`: is this navigation gated, and which manifest URL to fetch;
- :func:`judge_navigation`: the manifest verdict (+ the document's own check), the new
  ratchet state, the inline CSP, what the popup and badge show; returns a ``key``;
- :func:`check_resource`: one response body (or its SHA-256) against the verdict named by
  ``key``;
- :func:`fast_path_facts`: what JavaScript may decide alone while Python is not ready
  (an origin nothing is known about; :mod:`verifier.browser.fast_path`);
- :func:`crypto_stats`: which crypto backend answered each operation, and every fallback;
- :func:`fetch_destination`: the fetch destination of an intercepted request (see its doc);
- :func:`manifest_view`: what plugins see of a verified manifest (extension members,
  dev-ids, dev-sigs and the RFC 8785 payload the dev-sigs are over);
- :func:`plugin_registration`: validate a plugin's origin patterns;
- :func:`validate_settings`: the options page's trust settings and preload list;
- :func:`build_reports`: ``waict-violation`` reports for the site's reporting endpoints;
- :func:`explain_codes` / :func:`explanations`: the plain words for reason and detail
  codes (:data:`~verifier.browser.plain_words.EXPLANATIONS`, the one table the block page
  and the popup use).

A failure inside an entry point is returned as ``{"error": "..."}``, never raised, so the
caller can fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from verifier import crypto
from verifier.browser import (
    destinations,
    fast_path,
    navigation,
    plain_words,
    plugins,
    reports,
    settings,
)
from verifier.errors import WaictError


def _entry(fn: Callable[[dict[str, Any]], dict[str, Any]], request: str) -> str:
    """``fn`` of the request's JSON object, as JSON text; a failure as ``{"error"}``."""
    try:
        obj = json.loads(request)
        if not isinstance(obj, dict):
            raise ValueError("the request must be a JSON object")
        out = fn(obj)
    except (ValueError, TypeError, KeyError, WaictError) as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    return json.dumps(out, separators=(",", ":"))


def plan_navigation(request: str) -> str:
    """Whether a navigation response is gated by WAICT and which manifest to fetch.

    Request: ``{"url", "header": str|null, "now", "trust", "preload": b64|null,
    "origin_state": {...}|null}``. Answer: ``{"gated": bool, "manifest_url": str|null,
    "preloaded": bool, "mode": "enforce"|"report"|null, "manifest_max_bytes",
    "manifest_deadline_ms"}`` (the caller reads at most that many bytes of the manifest
    response, and stops at that deadline after the fetch started:
    :mod:`verifier.browser.bounds`). When ``gated`` is false the
    document and its subresources are not WAICT's business (``judge_navigation`` would say
    ``status: none``); when ``manifest_url`` is null but ``gated`` is true (a preloaded host
    without a header) the navigation is judged without a manifest response.
    """
    return _entry(navigation.plan, request)


def judge_navigation(request: str) -> str:
    """Judge a navigation: its header (after the ratchet) and manifest response.

    Request: ``{"url", "header": str|null, "manifest_response": b64|null,
    "manifest_error": "too_large"|"timeout"|null (why the caller stopped reading the
    manifest; the verdict is ``manifest_unavailable`` with detail ``manifest_too_large`` /
    ``manifest_timeout``), "now", "trust",
    "preload": b64|null, "origin_state": {...}|null, "resources": [{"url",
    "destination", "body": b64}], "registrations": [{"id", "patterns"}], "plugins":
    [{"id", "verdict", "reason"}]|null}`` (``resources`` optional: usually the document
    itself; ``registrations``: the plugins registered to approve or veto manifests).

    Answer: ``{"key", "navigation": "allow"|"block", "manifest": {status, reason, detail},
    "resources": [...], "gated", "enforcing", "badge": "verified"|"report"|"blocked"|
    "none"|"tombstone", "origin_state": {...}|null (store it for the origin),
    "forget_service_workers": bool (unregister the origin's service workers before the
    document is released: its first live state or a new manifest URL, design.md 6), "csp":
    str|null, "csp_header", "wasm": {...}, "info": {...}, "block": null|{reason, detail,
    message, explanation}}``.

    Plugins: when the manifest is valid and registered plugins match the URL, and
    ``plugins`` is null, the answer is ``{"navigation": "pending", "key": null,
    "ask_plugins": [ids], "plugin_view": {...}}``: the caller asks those plugins (see
    docs/plugin-api.md) and judges again with their answers in ``plugins``. Every plugin
    asked must answer ``approve``; anything else makes the manifest invalid
    (``invalid_manifest``, detail ``plugin_veto:<id>``), so the verdict stays Python's.

    Bounds (:mod:`verifier.browser.bounds`): a manifest response over
    ``MAX_MANIFEST_BYTES`` is ``manifest_unavailable`` / ``manifest_too_large``; one with
    more than ``MAX_MANIFEST_ENTRIES`` entries is ``invalid_manifest`` /
    ``manifest_too_many_entries``, refused before any entry is canonicalized or decoded.
    """
    return _entry(navigation.judge, request)


def check_resource(request: str) -> str:
    """Check one response against a judged verdict.

    Request: ``{"key", "url", "destination", "body": b64, "request_url"?}``, or instead of
    the body its SHA-256 ``"sha256": hex`` (64 hex digits; the caller hashed the decoded
    bytes, so large bodies need not cross into Python). ``request_url``: the URL the fetch
    was made for, before any redirect; the lookup uses it (design.md 5); the body or digest
    is of the bytes finally delivered. Answer: the verdict's resource entry
    ``{"url", "allowed", "reason", "enforcing"}``, or ``{"error": "unknown_key"}`` when the
    verdict is no longer cached (the caller judges the navigation again from its stored
    inputs and retries), or, for a digest only, ``{"body_needed": true}`` when only the
    bytes can decide (a URL the manifest does not list, and delimited ``wildcard_hashes``):
    the caller asks again with the body. The rule is the same either way
    (:func:`verifier.check.check_fetch_digest`).

    Instead of ``destination``, the request may carry ``"fetch"``: the inputs of
    :func:`fetch_destination` (``sec_fetch_dest``, ``resource_type``, ...). The destination
    is then worked out here by that same rule and named in the answer (``"destination"``):
    one call into Python per response instead of two (the extension's hot path).
    """
    return _entry(_check_fetch, request)


def _check_fetch(obj: dict[str, Any]) -> dict[str, Any]:
    fetch = obj.get("fetch")
    if fetch is None:
        return navigation.check(obj)
    if not isinstance(fetch, dict):
        raise ValueError("fetch must be an object (the inputs of fetch_destination)")
    if "destination" in obj:
        raise ValueError("give destination or fetch, not both")
    dest = destinations.destination(fetch)["destination"]
    return {**navigation.check({**obj, "destination": dest}), "destination": dest}


def fast_path_facts(request: str) -> str:
    """The facts for the extension's fast path (:mod:`verifier.browser.fast_path`).

    Request: ``{"preload": b64|null}`` (the preload list in force). Answer:
    ``{"header_name", "preload_sha256": hex|null, "preload_hosts": [str]|null}``.
    """
    return _entry(fast_path.facts, request)


def crypto_stats(request: str) -> str:
    """Which crypto backend answered, counted (:func:`verifier.crypto.crypto_stats`).

    Request: ``{"reset": bool}`` (optional: zero the counters after reading them). Answer:
    ``{"backend", "answered": {"ed25519_verify": {backend: n}, "sha256": {backend: n}},
    "fallbacks": {reason: n}, "fallback_count", "last_fallback"}``.
    """

    def stats(obj: dict[str, Any]) -> dict[str, Any]:
        out = crypto.crypto_stats()
        if obj.get("reset"):
            crypto.COUNTERS.reset()
        return out

    return _entry(stats, request)


def manifest_view(request: str) -> str:
    """What a plugin sees of the verdict named by ``key``.

    Request: ``{"key", "url"}``. Answer: ``{"key", "url", "origin", "status", "reason",
    "detail"}``, and for a verified manifest also ``"manifest_hash", "manifest_url",
    "mode", "ts", "extension_members": {name: value} (the members WAICT does not define),
    "dev_ids", "dev_ids_next", "dev_sigs" (as in the manifest, or null), "dev_ids_proven",
    "dev_sigs_payload": b64|null`` (the RFC 8785 canonical JSON of the manifest without
    ``dev-sigs`` and ``dev-ids-inclusion``, :func:`verifier.devids.dev_sigs_payload`;
    present when the manifest has ``dev-ids`` or ``dev-sigs``) and
    ``"dev_sigs_payload_error"``. ``{"error": "unknown_key"}`` when the verdict is no longer
    cached (judge again, then retry).
    """
    return _entry(plugins.view_by_key, request)


def plugin_registration(request: str) -> str:
    """Validate a plugin's registration.

    Request: ``{"patterns": [origin pattern], "timeout_ms": int}``. Answer: ``{"ok": true,
    "patterns", "timeout_ms"}`` (patterns sorted, timeout clamped to
    [:data:`PLUGIN_TIMEOUT_MIN_MS`, :data:`PLUGIN_TIMEOUT_MAX_MS`]) or ``{"ok": false,
    "error"}``.
    """
    return _entry(plugins.registration, request)


def validate_settings(request: str) -> str:
    """Check the options page's settings before anything is saved.

    Request: ``{"trust": {...trust.json...}, "preload_source": "upload"|"default"|"none",
    "preload": b64|null (the uploaded or bundled preload response body), "now"}``.
    Answer: ``{"ok": true, "trust": normalised trust, "preload_source", "preload":
    {issued, expires, hosts, domain}|null, "warnings": [...]}`` or ``{"ok": false, "field":
    "trust"|"preload", "error": message}``. The trust settings go through
    :func:`verifier.trust.parse_trust`, an uploaded preload list through
    :func:`verifier.preload.verify_preload_response` with the new trust settings (and must
    not be stale); a bundled list that does not verify is only a warning.
    """
    return _entry(settings.validate, request)


def build_reports(request: str) -> str:
    """The ``waict-violation`` reports of one navigation, per endpoint.

    Request: ``{"document_url", "endpoints": [names from the WAICT header (after the
    ratchet)], "reporting_endpoints": the document's Reporting-Endpoints value|null,
    "user_agent", "now_ms", "violations": [{"url", "destination", "reason", "detail",
    "report_only", "time_ms"}]}``.

    Answer: ``{"posts": [{"endpoint", "url", "content_type": "application/reports+json",
    "body": JSON text}], "unresolved": [names], "count"}``. Each body is a Reporting API
    list: ``[{"type": "waict-violation", "age" (ms), "url", "user_agent", "body":
    {"documentURL", "blockedURL", "destination", "reportOnly", "reason", "detail"}}]``.
    A name that ``Reporting-Endpoints`` does not define gets nothing (as in the Reporting
    API); two names for one URL get one POST.
    """
    return _entry(reports.build, request)


def fetch_destination(request: str) -> str:
    """The WAICT destination of an intercepted response.

    Request: ``{"sec_fetch_dest": str|null, "resource_type": CDP type, "content_type":
    str|null, "main_frame": bool, "worker_script": "serviceworker"|"sharedworker"|null}``
    (``worker_script``: the request is the main script of that worker's own target).

    - ``Sec-Fetch-Dest`` (what Chromium sent, from ``Network.requestWillBeSentExtraInfo``)
      is the fetch destination itself; ``empty`` is ``""``.
    - A ``""`` destination whose response is ``application/wasm`` is ``wasm``:
      ``WebAssembly.compileStreaming`` / ``instantiateStreaming`` accept only that type.
    - Without the header (Chromium sends it only to potentially trustworthy origins), the
      CDP resource type decides (table ``_RESOURCE_TYPES``); ``Document`` is ``document``
      for the main frame and ``iframe`` otherwise; ``Other`` and unknown types are
      ``script``, the strictest choice.
    """
    return _entry(destinations.destination, request)


def explain_codes(request: str) -> str:
    """``{"items": [{"reason", "detail"}]}`` -> ``{"explanations": [explain(...)|null]}``."""
    return _entry(plain_words.explain_items, request)


def explanations(request: str) -> str:
    """The whole table: ``{"codes": {code: {"text", "action"}}}`` (the request is ignored)."""
    return _entry(plain_words.table, request or "{}")
