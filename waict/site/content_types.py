"""Content types a site's files are served with, and the fetch destination a browser gives a
URL by its file extension."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".xsl": "application/xslt+xml",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".vtt": "text/vtt",
    ".pdf": "application/pdf",
}


# Fetch destination a browser gives a resource of this kind when nothing else says
# (used by `waict verify` for manifest URLs the page does not reference itself).
DESTINATIONS_BY_SUFFIX: Mapping[str, str] = {
    ".js": "script",
    ".mjs": "script",
    ".css": "style",
    ".wasm": "wasm",
    ".html": "iframe",
    ".htm": "iframe",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".svg": "image",
    ".webp": "image",
    ".avif": "image",
    ".ico": "image",
    ".woff": "font",
    ".woff2": "font",
    ".ttf": "font",
    ".otf": "font",
    ".mp3": "audio",
    ".ogg": "audio",
    ".wav": "audio",
    ".mp4": "video",
    ".webm": "video",
    ".json": "json",
    ".xsl": "xslt",
}


def content_type_for(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


def destination_for_url(url: str) -> str | None:
    """The destination inferred from a URL's file extension (directory URLs are pages)."""
    path = urlsplit(url).path
    if path.endswith("/"):
        return "iframe"
    return DESTINATIONS_BY_SUFFIX.get(os.path.splitext(path)[1].lower())
