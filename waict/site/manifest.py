"""``waict manifest build``: hash a site's files into an integrity manifest.

- Every regular file under DIR is hashed, except dotfiles and dot-directories (so the
  ``.waict/`` state directory and ``.well-known/`` are never listed).
- Keys are canonical absolute URLs (:func:`verifier.urls.canonicalize`): the origin plus
  the file's path, each path segment percent-encoded where a browser would encode it (and
  ``%`` itself, so the URL maps back to the file). ``index.html`` is listed under its own
  URL and under its directory's URL (``https://origin/dir/``).
- Values are b64u SHA-256 of the exact bytes.
- ``*.wasm`` files (and files matching ``--wasm`` globs) also go into ``wasm_hashes``;
  ``--fallback FILE`` puts a file's hash into ``fallback_hashes``; ``--inline`` adds
  ``inline_js_hashes`` and ``inline_css_hashes`` from the inline ``<script>``/``<style>``
  elements of every HTML file (see :mod:`waict.site.html`; present, possibly empty, whenever
  ``--inline`` is given: inline code is then held to the manifest and ``eval`` is blocked).
- Output: compact one-line JSON, keys sorted, lists sorted and unique, validated with
  :func:`verifier.manifest.parse_manifest` before it is written.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier import urls
from verifier.devids import sign_dev_sigs
from verifier.encoding import b64uencode
from verifier.errors import WaictError
from verifier.manifest import parse_manifest
from waict.common.commands import report_error
from waict.common.errors import SiteToolError
from waict.common.files import atomic_write
from waict.site.html import decode_html, scan_html
from waict.site.origins import parse_origin
from waict.site.progress import Progress

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

DEFAULT_WASM_GLOBS = ("*.wasm",)
HTML_SUFFIXES = (".html", ".htm")
# Characters a browser percent-encodes in a path (WHATWG path percent-encode set), plus
# "%" (so the URL decodes back to the file name) and "\" (a path separator to the parser).
_ENCODE = frozenset(' "#<>?`{}%\\')


def encode_path_segment(segment: str) -> str:
    out: list[str] = []
    for ch in segment:
        if ch in _ENCODE or ord(ch) < 0x21 or ord(ch) > 0x7E:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def url_for(origin: str, rel: str) -> str:
    """Canonical URL of the file at relative POSIX path ``rel``."""
    path = "/" + "/".join(encode_path_segment(s) for s in rel.split("/"))
    url = origin + path
    try:
        canon = urls.canonicalize(url)
    except WaictError as exc:
        raise SiteToolError(f"file {rel!r} has no usable URL: {exc}") from None
    if canon != url:
        raise SiteToolError(f"file {rel!r}: URL {url!r} is not canonical ({canon!r})")
    return canon


def iter_site_files(root: Path) -> list[str]:
    """Relative POSIX paths of every regular file under ``root``, sorted, without dotfiles."""
    if not root.is_dir():
        raise SiteToolError(f"{root} is not a directory", "give the site's build directory")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            full = Path(dirpath) / name
            if full.is_file():
                found.append(full.relative_to(root).as_posix())
    return sorted(found)


def file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise SiteToolError(f"cannot read {path}: {exc}") from None
    return h.digest()


def encode_manifest(members: Mapping[str, Any]) -> bytes:
    """Compact one-line JSON with sorted keys (lists must already be sorted)."""
    return json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode(
        "utf-8"
    )


def sorted_b64u(digests: Iterable[bytes]) -> list[str]:
    return sorted({b64uencode(d) for d in digests})


@dataclass(frozen=True)
class SiteFile:
    rel: str
    url: str
    digest: bytes


@dataclass(frozen=True)
class BuiltManifest:
    line: bytes
    members: dict[str, Any]
    files: tuple[SiteFile, ...]
    origin: str


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def build_manifest(
    root: Path,
    origin: str,
    *,
    wasm_globs: Sequence[str] = (),
    fallback: Sequence[Path] = (),
    inline: bool = False,
    extra: Mapping[str, Any] | None = None,
    sign: Sequence[bytes] = (),
    show_progress: bool = True,
) -> BuiltManifest:
    """Hash the site under ``root`` into a validated manifest for ``origin``; with ``sign``
    (Ed25519 seeds), ``dev-sigs`` by each key over everything else
    (:func:`verifier.devids.sign_dev_sigs`)."""
    origin = parse_origin(origin)
    rels = iter_site_files(root)
    if not rels:
        raise SiteToolError(f"{root} has no files to list", "build the site first")
    progress = Progress("hashing", len(rels)) if show_progress and len(rels) > 50 else None
    files: list[SiteFile] = []
    hashes: dict[str, str] = {}
    wasm: set[bytes] = set()
    js: set[bytes] = set()
    css: set[bytes] = set()
    patterns = (*DEFAULT_WASM_GLOBS, *wasm_globs)
    for rel in rels:
        path = root / rel
        digest = file_digest(path)
        url = url_for(origin, rel)
        files.append(SiteFile(rel, url, digest))
        hashes[url] = b64uencode(digest)
        name = rel.rsplit("/", 1)[-1]
        if name == "index.html":
            directory = url[: -len("index.html")]
            hashes[directory] = b64uencode(digest)
        if _matches(rel, patterns):
            wasm.add(digest)
        if inline and rel.lower().endswith(HTML_SUFFIXES):
            scan = scan_html(decode_html(path.read_bytes()))
            js.update(c.digest for c in scan.inline_scripts)
            css.update(c.digest for c in scan.inline_styles)
        if progress:
            progress.step(rel)

    members: dict[str, Any] = {"hashes": hashes}
    if wasm:
        members["wasm_hashes"] = sorted_b64u(wasm)
    if fallback:
        members["fallback_hashes"] = sorted_b64u(file_digest(f) for f in fallback)
    if inline:
        members["inline_js_hashes"] = sorted_b64u(js)
        members["inline_css_hashes"] = sorted_b64u(css)
    for key, value in (extra or {}).items():
        members[key] = value
    if sign:
        try:
            members["dev-sigs"] = sign_dev_sigs(members, list(sign))
        except WaictError as exc:
            raise SiteToolError(f"cannot sign the manifest: {exc}") from None
    line = encode_manifest(members)
    try:
        parse_manifest(line, origin)
    except WaictError as exc:
        raise SiteToolError(f"the built manifest does not validate: {exc}") from None
    return BuiltManifest(line, members, tuple(files), origin)


# --- command line --------------------------------------------------------------------------


def _cmd_manifest_build(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    try:
        fallback = [
            Path(f) if os.path.isabs(f) or Path(f).exists() else root / f for f in args.fallback
        ]
        built = build_manifest(
            root,
            args.origin,
            wasm_globs=args.wasm,
            fallback=fallback,
            inline=args.inline,
        )
        if args.out and args.out != "-":
            atomic_write(Path(args.out), built.line + b"\n")
            print(
                f"wrote {args.out}: {len(built.members['hashes'])} URLs, "
                f"{len(built.members.get('wasm_hashes', []))} wasm hashes",
                file=sys.stderr,
            )
        else:
            sys.stdout.write(built.line.decode("utf-8") + "\n")
    except SiteToolError as exc:
        return report_error("manifest build", exc)
    return 0


def add_manifest_parser(subparsers: Subparsers) -> None:
    """Register ``waict manifest build``."""
    p = subparsers.add_parser(
        "manifest",
        help="build an integrity manifest for a site directory",
        description="Integrity manifests of a site's files.",
    )
    sub = p.add_subparsers(dest="manifest_command", metavar="SUBCOMMAND", required=True)
    b = sub.add_parser(
        "build",
        help="hash every file under DIR into a manifest line",
        description="Hash every file under DIR (dotfiles and .waict/ skipped) into a one-line "
        "JSON manifest keyed by canonical absolute URL. index.html is also listed under its "
        "directory URL; *.wasm files also go into wasm_hashes.",
    )
    b.add_argument("dir", help="the site's built files (what the web server serves)")
    b.add_argument("--origin", required=True, help="the site's origin, e.g. https://example.com")
    b.add_argument("--out", default=None, help="write the manifest line here (default: stdout)")
    b.add_argument(
        "--wasm",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="more files whose hashes go into wasm_hashes (*.wasm always do)",
    )
    b.add_argument(
        "--fallback",
        nargs="+",
        default=[],
        metavar="FILE",
        help="documents whose hashes go into fallback_hashes (served for any URL)",
    )
    b.add_argument(
        "--inline",
        action="store_true",
        help="list the hashes of inline <script>/<style> (then unlisted inline code and eval "
        "are blocked)",
    )
    b.set_defaults(func=_cmd_manifest_build)
