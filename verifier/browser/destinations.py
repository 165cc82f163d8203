"""Destinations: the fetch destination of an intercepted response, which the check is per.

Design section 5: the per-fetch check is by destination (active ones such as ``document``,
``script``, ``style``, ``worker``; passive ones such as ``image``, ``font``; ``wasm`` for
bytes handed to WebAssembly compilation; anything else, ``""`` included, not covered). The
extension sees a response through CDP; this module names its destination from what
Chromium sent (``Sec-Fetch-Dest``), else from the CDP resource type, failing closed
(``script``) when neither says.
"""

from __future__ import annotations

from typing import Any

#: ``Sec-Fetch-Dest`` values that name a destination as they are.
_SEC_FETCH_DESTS = frozenset(
    (
        "audio",
        "audioworklet",
        "document",
        "embed",
        "font",
        "frame",
        "iframe",
        "image",
        "json",
        "manifest",
        "object",
        "paintworklet",
        "report",
        "script",
        "serviceworker",
        "sharedworker",
        "style",
        "track",
        "video",
        "worker",
        "xslt",
    )
)


#: CDP ``Network.ResourceType`` -> destination, used only when ``Sec-Fetch-Dest`` is absent.
#: ``Other`` and unknown types map to ``script``: the strictest active destination, so an
#: unknown request of a WAICT page fails closed unless its URL is in the manifest.
_RESOURCE_TYPES = {
    "Document": "document",
    "Stylesheet": "style",
    "Image": "image",
    "Media": "video",
    "Font": "font",
    "Script": "script",
    "TextTrack": "track",
    "XHR": "",
    "Fetch": "",
    "Prefetch": "",
    "EventSource": "",
    "WebSocket": "",
    "Manifest": "manifest",
    "SignedExchange": "",
    "Ping": "report",
    "CSPViolationReport": "report",
    "Preflight": "",
    "FedCM": "",
}


WASM_MEDIA_TYPE = "application/wasm"


def destination(obj: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``fetch_destination`` (its doc has the rules)."""
    sec = obj.get("sec_fetch_dest")
    rtype = obj.get("resource_type")
    ctype = obj.get("content_type") or ""
    main = bool(obj.get("main_frame"))
    media = ctype.split(";", 1)[0].strip().lower() if isinstance(ctype, str) else ""
    if isinstance(sec, str) and sec:
        sec = sec.lower()
        if sec == "empty":
            dest = ""
        elif sec in _SEC_FETCH_DESTS:
            dest = sec
        else:
            dest = "script"  # a destination this code does not know: strictest
        source = "sec-fetch-dest"
    elif rtype == "Document":
        dest = "document" if main else "iframe"
        source = "resource-type"
    elif obj.get("worker_script") in ("serviceworker", "sharedworker"):
        dest = str(obj["worker_script"])  # the main script of a worker we attached to
        source = "worker-target"
    else:
        dest = _RESOURCE_TYPES.get(str(rtype), "script")
        source = "resource-type"
    if dest == "" and media == WASM_MEDIA_TYPE:
        dest = "wasm"  # bytes meant for WebAssembly (compileStreaming demands this type)
    return {"destination": dest, "source": source}
