"""What an HTML page makes the browser fetch or run: its subresource references (with the
fetch destination each gets) and its inline code (with the CSP hash each needs).

One parser (:mod:`html.parser`) serves both ``waict manifest build --inline`` (the hashes of
inline ``<script>`` and ``<style>`` elements) and ``waict verify`` (which resources to fetch
and check, and whether inline code is listed), so the two can never disagree.

Inline hashes are computed as CSP does: SHA-256 over the UTF-8 bytes of the element's text
exactly as written (no entity decoding), after the HTML input-stream newline normalisation
(CR LF and lone CR become LF). Empty elements are skipped (an empty script never runs).
Inline scripts that are data blocks (a ``type`` that is not JavaScript, ``module``,
``importmap`` or ``speculationrules``) are not executed and are not covered. Event-handler
attributes (``onclick=...``), ``style=`` attributes and ``javascript:`` URLs are reported as
inline code too: a CSP with hashes and no ``'unsafe-hashes'`` blocks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from verifier.crypto import sha256

_JS_TYPES = frozenset(
    {
        "",
        "module",
        "importmap",
        "speculationrules",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
_PRELOAD_AS = {
    "script": "script",
    "style": "style",
    "image": "image",
    "font": "font",
    "audio": "audio",
    "video": "video",
    "worker": "worker",
    "sharedworker": "sharedworker",
    "document": "iframe",
    "json": "json",
}


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def inline_hash(text: str) -> bytes:
    """The CSP hash of an inline element's text (newlines normalised as the parser does)."""
    return sha256(normalize_newlines(text).encode("utf-8"))


@dataclass(frozen=True)
class Reference:
    """A URL the page makes the browser fetch, as written (resolve it against the base)."""

    url: str
    destination: str
    element: str
    line: int


@dataclass(frozen=True)
class InlineCode:
    """Inline code: ``kind`` is script, style, script-attribute, style-attribute or
    javascript-url. ``covered`` is False for data blocks (never executed)."""

    kind: str
    text: str
    line: int
    covered: bool = True

    @property
    def digest(self) -> bytes:
        return inline_hash(self.text)


@dataclass
class HtmlScan:
    base: str | None = None
    references: list[Reference] = field(default_factory=list)
    inline: list[InlineCode] = field(default_factory=list)

    def resolved(self, page_url: str) -> list[tuple[str, Reference]]:
        """References resolved to absolute http(s) URLs (fragments dropped), in page order."""
        base = urljoin(page_url, self.base) if self.base else page_url
        out: list[tuple[str, Reference]] = []
        for ref in self.references:
            absolute = urljoin(base, ref.url.strip()).split("#", 1)[0]
            if urlsplit(absolute).scheme in ("http", "https"):
                out.append((absolute, ref))
        return out

    @property
    def inline_scripts(self) -> list[InlineCode]:
        return [c for c in self.inline if c.kind == "script" and c.covered]

    @property
    def inline_styles(self) -> list[InlineCode]:
        return [c for c in self.inline if c.kind == "style"]


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = HtmlScan()
        self._open: tuple[str, bool, int] | None = None  # (tag, covered, line)
        self._text: list[str] = []
        self._media: str | None = None  # enclosing <audio>/<video>

    def _ref(self, url: str | None, destination: str, element: str) -> None:
        if url is not None and url.strip():
            line = self.getpos()[0]
            self.scan.references.append(Reference(url.strip(), destination, element, line))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        line = self.getpos()[0]
        for name, value in a.items():
            if name.startswith("on") and len(name) > 2:
                self.scan.inline.append(InlineCode("script-attribute", value, line))
            elif name == "style":
                self.scan.inline.append(InlineCode("style-attribute", value, line))
            elif name in (
                "href",
                "src",
                "action",
                "formaction",
            ) and value.strip().lower().startswith("javascript:"):
                self.scan.inline.append(InlineCode("javascript-url", value.strip(), line))
        if tag == "script":
            if "src" in a:
                self._ref(a["src"], "script", tag)
            else:
                kind = a.get("type", "").strip().lower()
                self._open = ("script", kind.split(";")[0].strip() in _JS_TYPES, line)
                self._text = []
        elif tag == "style":
            self._open = ("style", True, line)
            self._text = []
        elif tag == "link":
            rels = set(a.get("rel", "").lower().split())
            href = a.get("href")
            if "stylesheet" in rels:
                self._ref(href, "style", tag)
            elif "modulepreload" in rels:
                self._ref(href, "script", tag)
            elif "preload" in rels and a.get("as", "").lower() in _PRELOAD_AS:
                self._ref(href, _PRELOAD_AS[a["as"].lower()], tag)
            elif rels & {"icon", "apple-touch-icon", "shortcut"}:
                self._ref(href, "image", tag)
        elif tag == "base":
            if self.scan.base is None and a.get("href"):
                self.scan.base = a["href"]
        elif tag == "img":
            self._ref(a.get("src"), "image", tag)
            for candidate in a.get("srcset", "").split(","):
                parts = candidate.split()
                if parts:
                    self._ref(parts[0], "image", tag)
        elif tag == "input" and a.get("type", "").lower() == "image":
            self._ref(a.get("src"), "image", tag)
        elif tag in ("iframe", "frame"):
            self._ref(a.get("src"), tag, tag)
        elif tag in ("audio", "video"):
            self._media = tag
            self._ref(a.get("src"), tag, tag)
            if tag == "video":
                self._ref(a.get("poster"), "image", tag)
        elif tag == "source" and self._media is not None:
            self._ref(a.get("src"), self._media, tag)
        elif tag == "object":
            self._ref(a.get("data"), "object", tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open[0]:
            kind, covered, line = self._open
            text = "".join(self._text)
            if text:
                self.scan.inline.append(InlineCode(kind, text, line, covered))
            self._open = None
            self._text = []
        elif tag in ("audio", "video"):
            self._media = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)


def scan_html(text: str) -> HtmlScan:
    """Parse a page (already decoded) into its references and inline code."""
    scanner = _Scanner()
    scanner.feed(normalize_newlines(text))
    scanner.close()
    if scanner._open is not None:  # an unclosed <script>/<style> runs to the end
        kind, covered, line = scanner._open
        text = "".join(scanner._text)
        if text:
            scanner.scan.inline.append(InlineCode(kind, text, line, covered))
    return scanner.scan


def decode_html(data: bytes) -> str:
    """Decode a page as the browser would for our purposes: UTF-8 (BOM stripped)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")
