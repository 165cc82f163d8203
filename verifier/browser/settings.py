"""The options page's settings: the trust settings and the preload list, checked before saving.

Design section 6: the extension reads its default trust from ``trust.json`` and its default
preload list from ``preload.waict`` at its root, and the options page overrides them. What
the user saves must be what Python accepts: the trust settings go through
:func:`verifier.trust.parse_trust`, an uploaded preload list through
:func:`verifier.preload.verify_preload_response` under the new trust settings (and must not
be stale); a bundled list that does not verify is only a warning.
"""

from __future__ import annotations

from typing import Any

from verifier.browser import fields
from verifier.errors import WaictError
from verifier.preload import verify_preload_response
from verifier.trust import parse_trust


def validate(obj: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``validate_settings`` (its doc has the request and the answer)."""
    now = fields.clock(obj)
    try:
        trust = parse_trust(obj.get("trust"))
    except WaictError as exc:
        return {"ok": False, "field": "trust", "error": str(exc)}
    warnings: list[str] = []
    if not trust.transparency_services:
        warnings.append(
            "no transparency service is trusted: every WAICT site that proves its code "
            "with a transparency log will be blocked"
        )
    if len(trust.witnesses) < trust.quorum:
        warnings.append(
            f"the quorum ({trust.quorum}) is larger than the number of trusted witnesses "
            f"({len(trust.witnesses)}): no proof can be accepted"
        )
    source = obj.get("preload_source", "upload")
    if source not in ("upload", "default", "none"):
        return {"ok": False, "field": "preload", "error": "unknown preload list source"}
    summary = None
    try:
        body = fields.bytes_or_none(obj, "preload")
    except ValueError as exc:
        return {"ok": False, "field": "preload", "error": f"preload list: {exc}"}
    if source != "none" and body is not None:
        problem = None
        try:
            plist = verify_preload_response(body, trust, now)
        except WaictError as exc:
            problem = f"the preload list does not verify under these trust settings: {exc}"
        else:
            if plist.stale(now):
                problem = (
                    f"the preload list is stale (issued {plist.issued}, expires "
                    f"{plist.expires}): a stale list is not enforced; get a fresh one"
                )
            summary = {
                "issued": plist.issued,
                "expires": plist.expires,
                "hosts": sorted(plist.entries),
                "domain": trust.preload_domain,
            }
        if problem is not None:
            if source == "upload":
                return {"ok": False, "field": "preload", "error": problem}
            warnings.append(f"the bundled preload list will not be used: {problem}")
            summary = None
    elif source == "upload":
        return {"ok": False, "field": "preload", "error": "choose a preload.waict file"}
    return {
        "ok": True,
        "trust": trust.to_json(),
        "preload_source": source,
        "preload": summary,
        "warnings": warnings,
    }
