"""The extension's entry points: what the service worker asks Python, JSON text in and out.

The Chromium extension (``extension/``) loads this package in Pyodide and calls its entry
points by name (``extension/src/python.js``: ``from verifier import browser``, then
``getattr(browser, name)(request)``), so every name below stays importable from
``verifier.browser``. Each concept lives in its own module:

- :mod:`verifier.browser.entry_points`: the entry points, JSON text in and out;
- :mod:`verifier.browser.navigation`: judging a navigation and its resources;
- :mod:`verifier.browser.effective_header`: the header after the ratchet;
- :mod:`verifier.browser.cache`: the judged-verdict and preload-list caches;
- :mod:`verifier.browser.plain_words`: the plain words for reason and detail codes;
- :mod:`verifier.browser.plugins`: plugin registration, approve and veto;
- :mod:`verifier.browser.settings`: the options page's trust settings and preload list;
- :mod:`verifier.browser.reports`: ``waict-violation`` reports;
- :mod:`verifier.browser.destinations`: the fetch destination of an intercepted response;
- :mod:`verifier.browser.fields`: reading the members of a request;
- :mod:`verifier.browser.fast_path`: what JavaScript may decide alone (nothing known).

The submodules never import this package's ``__init__``; it only re-exports.
"""

from verifier.browser.cache import CACHE_SIZE, PRELOAD_TTL, VERDICT_TTL, clear_cache, has_verdict
from verifier.browser.destinations import WASM_MEDIA_TYPE
from verifier.browser.entry_points import (
    build_reports,
    check_resource,
    crypto_stats,
    explain_codes,
    explanations,
    fast_path_facts,
    fetch_destination,
    judge_navigation,
    manifest_view,
    plan_navigation,
    plugin_registration,
    validate_settings,
)
from verifier.browser.plain_words import EXPLANATIONS, explain
from verifier.browser.plugins import (
    PLUGIN_TIMEOUT_DEFAULT_MS,
    PLUGIN_TIMEOUT_MAX_MS,
    PLUGIN_TIMEOUT_MIN_MS,
    PLUGIN_VETO,
)
from verifier.browser.reports import MAX_REPORTS_PER_POST, REPORT_TYPE, REPORTS_MEDIA_TYPE

__all__ = [
    "CACHE_SIZE",
    "EXPLANATIONS",
    "MAX_REPORTS_PER_POST",
    "PLUGIN_TIMEOUT_DEFAULT_MS",
    "PLUGIN_TIMEOUT_MAX_MS",
    "PLUGIN_TIMEOUT_MIN_MS",
    "PLUGIN_VETO",
    "PRELOAD_TTL",
    "REPORTS_MEDIA_TYPE",
    "REPORT_TYPE",
    "VERDICT_TTL",
    "WASM_MEDIA_TYPE",
    "build_reports",
    "check_resource",
    "clear_cache",
    "crypto_stats",
    "explain",
    "explain_codes",
    "explanations",
    "fast_path_facts",
    "fetch_destination",
    "has_verdict",
    "judge_navigation",
    "manifest_view",
    "plan_navigation",
    "plugin_registration",
    "validate_settings",
]
