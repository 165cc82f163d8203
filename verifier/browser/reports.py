"""``waict-violation`` reports: what a navigation blocked or would block, for the site's endpoints.

Design section 6: the extension sends ``waict-violation`` reports to the site's endpoints.
The ``Integrity-Policy-WAICT-v1`` header (after the ratchet) names its reporting endpoints;
the document's ``Reporting-Endpoints`` header (an RFC 9651 dictionary) maps each name to a
URL. Each POST is a Reporting API list (``application/reports+json``) of at most
:data:`MAX_REPORTS_PER_POST` reports; a name that ``Reporting-Endpoints`` does not define
gets nothing, and two names for one URL get one POST.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import http_sf

REPORT_TYPE = "waict-violation"
REPORTS_MEDIA_TYPE = "application/reports+json"
MAX_REPORTS_PER_POST = 100


def _reporting_endpoints(value: Any, document_url: str) -> dict[str, str]:
    """``Reporting-Endpoints`` (an RFC 9651 dictionary of name -> URL string) resolved
    against the document's URL; members that are not strings or not http(s) URLs are
    ignored (Reporting API)."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dictionary")
    except Exception:  # an unparseable header names no endpoint
        return {}
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, str] = {}
    for name, member in parsed.items():
        bare = member[0] if isinstance(member, tuple) else member
        if not isinstance(bare, str) or isinstance(bare, http_sf.Token):
            continue
        target = urljoin(document_url, bare)
        if urlsplit(target).scheme in ("http", "https"):
            out[str(name)] = target
    return out


def build(obj: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``build_reports`` (its doc has the request and the answer)."""
    document_url = obj.get("document_url")
    if not isinstance(document_url, str):
        raise ValueError("document_url must be a string")
    names = obj.get("endpoints") or []
    if not isinstance(names, list):
        raise ValueError("endpoints must be a list of names")
    resolved = _reporting_endpoints(obj.get("reporting_endpoints"), document_url)
    now_ms = obj.get("now_ms")
    if isinstance(now_ms, bool) or not isinstance(now_ms, int | float):
        now_ms = int(time.time() * 1000)
    user_agent = obj.get("user_agent") if isinstance(obj.get("user_agent"), str) else ""
    reports: list[dict[str, Any]] = []
    for v in obj.get("violations") or []:
        if not isinstance(v, dict) or not isinstance(v.get("url"), str):
            continue
        when = v.get("time_ms")
        age = int(now_ms - when) if isinstance(when, int | float) else 0
        reports.append(
            {
                "type": REPORT_TYPE,
                "age": max(age, 0),
                "url": document_url,
                "user_agent": user_agent,
                "body": {
                    "documentURL": document_url,
                    "blockedURL": v["url"],
                    "destination": str(v.get("destination") or ""),
                    "reportOnly": bool(v.get("report_only")),
                    "reason": v.get("reason"),
                    "detail": v.get("detail"),
                },
            }
        )
    posts: list[dict[str, Any]] = []
    unresolved: list[str] = []
    seen: set[str] = set()
    for name in names:
        target = resolved.get(name) if isinstance(name, str) else None
        if target is None:
            unresolved.append(str(name))
            continue
        if target in seen or not reports:
            continue
        seen.add(target)
        for i in range(0, len(reports), MAX_REPORTS_PER_POST):
            posts.append(
                {
                    "endpoint": name,
                    "url": target,
                    "content_type": REPORTS_MEDIA_TYPE,
                    "body": json.dumps(
                        reports[i : i + MAX_REPORTS_PER_POST], separators=(",", ":")
                    ),
                }
            )
    return {"posts": posts, "unresolved": unresolved, "count": len(reports)}
