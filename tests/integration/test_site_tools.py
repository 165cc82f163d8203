"""Site-operator tools over real HTTP on loopback: manifest build, serve-site, verify,
publish (against a transparency-service TEST DOUBLE that answers real proofs from
tests/world.py), monitor, the preload tool, and every sample site in web/."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from world import DAY, HOUR, NOW, World

from verifier import decide
from verifier.browser import plugins
from verifier.chain import ZERO_HASH, encode_asset_hosts, resource_hash
from verifier.decide import evaluate_manifest
from verifier.devids import dev_sigs_payload, ed25519_identity, unsigned_dev_ids, verify_dev_sig
from verifier.encoding import b64encode
from verifier.manifest import parse_manifest
from verifier.preload import verify_preload_response
from verifier.trust import parse_trust
from verifier.urls import is_canonical
from waict.common.digests import digest_name
from waict.common.errors import KeyFileError, SiteToolError, UnexpectedLogError
from waict.log.assets import create_assets_app
from waict.site.asset_client import fetch_asset
from waict.site.commands import add_site_tool_parsers
from waict.site.http_client import make_client
from waict.site.log_client import TsClient
from waict.site.manifest import add_manifest_parser, build_manifest
from waict.site.monitor import MonitorState, add_monitor_parser, monitor_domain
from waict.site.names import manifest_id
from waict.site.preload import (
    add_preload_parser,
    build_preload_line,
    parse_hosts,
    preload_body_from_state,
)
from waict.site.publish import AssetUpload, PublishOptions, build_header, publish
from waict.site.publish.command import options_from_args
from waict.site.serve import create_site_app
from waict.site.state import SiteState
from waict.site.verify import add_verify_parser, scan_script, verify_site

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DEV_SIGS_PLUGIN = ROOT / "plugins" / "dev-sigs" / "sw.js"
ASSET_TOKEN = "asset-token"


def h(data: bytes) -> str:
    """b64u SHA-256, computed independently of the verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def proof_of(result: Any) -> Any:
    assert result.proof is not None
    return result.proof


def csp(text: str) -> str:
    return h(text.encode())


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def run_cli(add: Callable[[Any], None], argv: list[str], capsys: Any) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="waict")
    add(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


# --- manifest build ----------------------------------------------------------------------------

KNOWN_TREE: dict[str, bytes | str] = {
    "index.html": "<!doctype html><p>hi</p>\n",
    "app.js": "console.log(1);\n",
    "sub/index.html": "<p>sub</p>\n",
    "sub/mod.wasm": b"\x00asm\x01\x00\x00\x00",
    ".hidden": "not listed",
    ".waict/token": "secret",
    ".well-known/waict-enroll": "{}",
    "sub/.env": "not listed",
}


def test_manifest_exact_bytes_for_a_known_tree(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "site", KNOWN_TREE)
    built = build_manifest(root, "https://example.com", show_progress=False)
    idx, app, sub, wasm = (
        h(b"<!doctype html><p>hi</p>\n"),
        h(b"console.log(1);\n"),
        h(b"<p>sub</p>\n"),
        h(b"\x00asm\x01\x00\x00\x00"),
    )
    expected = (
        '{"hashes":{'
        f'"https://example.com/":"{idx}",'
        f'"https://example.com/app.js":"{app}",'
        f'"https://example.com/index.html":"{idx}",'
        f'"https://example.com/sub/":"{sub}",'
        f'"https://example.com/sub/index.html":"{sub}",'
        f'"https://example.com/sub/mod.wasm":"{wasm}"'
        "},"
        f'"wasm_hashes":["{wasm}"]'
        "}"
    )
    assert built.line == expected.encode()
    assert [f.rel for f in built.files] == [
        "app.js",
        "index.html",
        "sub/index.html",
        "sub/mod.wasm",
    ]


def test_manifest_keys_are_canonical_and_map_back_to_files(tmp_path: Path, serve: Any) -> None:
    files: dict[str, bytes | str] = {
        "a b.js": "1",
        "ü/ö.css": "2",
        "q?x#y.js": "3",
        "100%.txt": "4",
        "UPPER.PNG": "5",
        "sub/index.html": "6",
    }
    root = write_tree(tmp_path / "site", files)
    built = build_manifest(root, "HTTPS://Example.COM:443", show_progress=False)
    keys = set(built.members["hashes"])
    assert keys == {
        "https://example.com/a%20b.js",
        "https://example.com/%C3%BC/%C3%B6.css",
        "https://example.com/q%3Fx%23y.js",
        "https://example.com/100%25.txt",
        "https://example.com/UPPER.PNG",
        "https://example.com/sub/",
        "https://example.com/sub/index.html",
    }
    assert all(is_canonical(k) for k in keys)
    # the web server maps each URL back to its file
    server = serve(create_site_app(root))
    for key, value in built.members["hashes"].items():
        got = httpx.get(server.url + urlsplit(key).path)
        assert got.status_code == 200, key
        assert h(got.content) == value


def test_manifest_wasm_globs_fallback_and_port(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "s", {"engine.bin": b"\x00asm", "x.wasm": b"w", "404.html": "<p>gone</p>"}
    )
    built = build_manifest(
        root,
        "http://localhost:8080/",
        wasm_globs=["*.bin"],
        fallback=[root / "404.html"],
        show_progress=False,
    )
    assert "http://localhost:8080/engine.bin" in built.members["hashes"]
    assert built.members["wasm_hashes"] == sorted([h(b"\x00asm"), h(b"w")])
    assert built.members["fallback_hashes"] == [h(b"<p>gone</p>")]


def test_manifest_inline_hashes_are_csp_hashes(tmp_path: Path) -> None:
    page = (
        "<html><head>\r\n"
        "<script>let a = 1 &amp;&amp; 2;\r\nconsole.log(a)</script>\n"
        "<script type=module>import('x')</script>\n"
        '<script type="application/ld+json">{"not": "code"}</script>\n'
        "<script></script>\n"
        '<script src="/app.js"></script>\n'
        "<style>p { color: red }</style>\n"
        '</head><body onclick="go()"><p style="color: blue">x</p>'
        "<svg><style>circle{fill:red}</style></svg></body></html>"
    )
    root = write_tree(tmp_path / "s", {"index.html": page, "frame.htm": "<script>f()</script>"})
    built = build_manifest(root, "https://example.com", inline=True, show_progress=False)
    assert built.members["inline_js_hashes"] == sorted(
        {
            csp("let a = 1 &amp;&amp; 2;\nconsole.log(a)"),  # raw text, CR LF normalised
            csp("import('x')"),
            csp("f()"),
        }
    )
    assert built.members["inline_css_hashes"] == sorted(
        {csp("p { color: red }"), csp("circle{fill:red}")}
    )
    # without --inline: no inline lists at all (inline code is not held to the manifest)
    plain = build_manifest(root, "https://example.com", show_progress=False)
    assert "inline_js_hashes" not in plain.members
    # with --inline on a site without inline code: present and empty (all inline blocked)
    bare = write_tree(tmp_path / "b", {"index.html": "<p>x</p>"})
    empty = build_manifest(bare, "https://example.com", inline=True, show_progress=False)
    assert empty.members["inline_js_hashes"] == [] and empty.members["inline_css_hashes"] == []
    assert b'"inline_css_hashes":[],"inline_js_hashes":[]' in empty.line


def test_manifest_build_command(tmp_path: Path, capsys: Any) -> None:
    root = write_tree(tmp_path / "site", KNOWN_TREE)
    out = tmp_path / "manifest.json"
    code, _, err = run_cli(
        add_manifest_parser,
        ["manifest", "build", str(root), "--origin", "https://example.com", "--out", str(out)],
        capsys,
    )
    assert code == 0 and "6 URLs, 1 wasm hashes" in err
    line = out.read_bytes()
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    parse_manifest(line[:-1], "https://example.com")

    code, stdout, _ = run_cli(
        add_manifest_parser,
        ["manifest", "build", str(root), "--origin", "https://example.com"],
        capsys,
    )
    assert code == 0 and stdout.encode() == line

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(
        add_manifest_parser, ["manifest", "build", str(empty), "--origin", "https://e.com"], capsys
    )
    assert code == 2 and "no files" in err and "hint:" in err
    code, _, err = run_cli(
        add_manifest_parser, ["manifest", "build", str(root), "--origin", "ftp://e.com"], capsys
    )
    assert code == 2 and "not an http(s) origin" in err


# --- serve-site --------------------------------------------------------------------------------


def test_serve_site_header_manifest_and_types(tmp_path: Path, serve: Any) -> None:
    root = write_tree(
        tmp_path / "site",
        {
            "index.html": "<p>home</p>",
            "a.wasm": b"\x00asm",
            "m.mjs": "export {}",
            "s.css": "p{}",
            "i.png": b"\x89PNG",
            "docs/index.html": "<p>docs</p>",
            ".well-known/waict-enroll": '{"resource_hash": "x"}',
        },
    )
    state = SiteState(root / ".waict")
    state.write_token("very-secret")
    body = b'{"hashes":{}}\n\n'
    header = build_header(
        max_age=0, mode="enforce", manifest_url="/.well-known/waict/manifests/" + manifest_id(body)
    )
    state.install(body, header)
    server = serve(create_site_app(root))

    home = httpx.get(server.url + "/")
    assert home.text == "<p>home</p>"
    assert home.headers["integrity-policy-waict-v1"] == header
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert home.headers["cache-control"] == "no-cache"

    manifest = httpx.get(server.url + "/.well-known/waict/manifests/" + manifest_id(body))
    assert manifest.status_code == 200 and manifest.content == body
    assert manifest.headers["content-type"] == "application/waict-integrity-manifest"

    types = {
        "/a.wasm": "application/wasm",
        "/m.mjs": "text/javascript; charset=utf-8",
        "/s.css": "text/css; charset=utf-8",
        "/i.png": "image/png",
        "/.well-known/waict-enroll": "application/json",
    }
    for path, ctype in types.items():
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200 and answer.headers["content-type"] == ctype, path
        assert answer.headers["integrity-policy-waict-v1"] == header  # on every response

    moved = httpx.get(server.url + "/docs")
    assert moved.status_code == 301 and moved.headers["location"] == "/docs/"
    assert httpx.get(server.url + "/docs/").text == "<p>docs</p>"

    for secret in (
        "/.waict/token",
        "/.waict/state.json",
        "/.waict",
        "/../etc/passwd",
        "/.well-known/other",
        "/.well-known/waict/manifests/nope",
        "/missing.js",
    ):
        answer = httpx.get(server.url + secret)
        assert answer.status_code == 404, secret
        assert "very-secret" not in answer.text


def test_serve_site_picks_up_a_new_publish(tmp_path: Path, serve: Any) -> None:
    root = write_tree(tmp_path / "site", {"index.html": "x"})
    server = serve(create_site_app(root))
    assert "integrity-policy-waict-v1" not in httpx.get(server.url + "/").headers
    state = SiteState(root / ".waict")
    first = build_header(max_age=0, mode="report", manifest_url="/m1")
    state.install(b"a\n\n", first)
    assert httpx.get(server.url + "/").headers["integrity-policy-waict-v1"] == first
    second = build_header(max_age=60, mode="enforce", manifest_url="/m2-longer")
    state.install(b"b\n\n", second)
    assert httpx.get(server.url + "/").headers["integrity-policy-waict-v1"] == second
    # both manifest responses stay available
    for body in (b"a\n\n", b"b\n\n"):
        path = "/.well-known/waict/manifests/" + manifest_id(body)
        assert httpx.get(server.url + path).content == body


def test_serve_site_virtual_hosts(tmp_path: Path, serve: Any) -> None:
    a = write_tree(tmp_path / "a", {"index.html": "site a"})
    b = write_tree(tmp_path / "b", {"index.html": "site b"})
    server = serve(create_site_app(sites={"a.test": a, "B.test": b}))
    assert httpx.get(server.url, headers={"Host": "a.test"}).text == "site a"
    assert httpx.get(server.url, headers={"Host": f"b.test:{server.port}"}).text == "site b"
    assert httpx.get(server.url, headers={"Host": "c.test"}).status_code == 404


# --- a site logged in the test world, checked with `waict verify` -------------------------------


@dataclass
class WorldSite:
    root: Path
    host: str
    origin: str
    world: World
    server: Any

    @property
    def url(self) -> str:
        return self.origin + "/"

    def client(self) -> httpx.Client:
        return make_client(resolve={self.host: "127.0.0.1"}, follow_redirects=True)

    def verify(self, **kw: Any) -> Any:
        with self.client() as client:
            return verify_site(self.url, self.world.trust(), now=NOW, client=client, **kw)


def world_site(
    tmp_path: Path, serve: Any, source: Path, *, inline: bool = True, mode: str = "enforce"
) -> WorldSite:
    """Copy a site, serve it, build its manifest and log it in a test World."""
    root = tmp_path / "site"
    shutil.copytree(source, root)
    host = "valid.waict.test"
    server = serve(create_site_app(root))
    origin = f"http://{host}:{server.port}"
    built = build_manifest(root, origin, inline=inline, show_progress=False)
    world = World()
    world.log(host, built.line)
    body = world.response(built.line, world.proof(host))
    header = build_header(
        max_age=3600, mode=mode, manifest_url="/.well-known/waict/manifests/" + manifest_id(body)
    )
    SiteState(root / ".waict").install(body, header)
    return WorldSite(root, host, origin, world, server)


def test_verify_valid_site_allows_everything(tmp_path: Path, serve: Any) -> None:
    site = world_site(tmp_path, serve, WEB / "valid" / "public")
    report = site.verify()
    assert report.exit_code == 0
    assert report.verdict["navigation"] == "allow"
    assert report.verdict["manifest"] == {"status": "valid", "reason": None, "detail": None}
    destinations = {urlsplit(f.url).path: f.destination for f in report.resources}
    assert destinations == {
        "/": "document",
        "/index.html": "iframe",
        "/style.css": "style",
        "/app.js": "script",
        "/logo.png": "image",
        "/frame.html": "iframe",
        "/frame.js": "script",
        "/worker.js": "worker",
        "/shared-worker.js": "sharedworker",
        "/sw.js": "serviceworker",
        "/add.wasm": "wasm",
    }
    assert all(r["allowed"] and r["reason"] is None for r in report.verdict["resources"])
    assert [f.reason for f in report.inline] == [None]  # the listed inline script
    assert report.manifest_verdict.proven is not None


VERIFY_MAIN = """
import argparse, sys
from waict.site.verify import add_verify_parser
parser = argparse.ArgumentParser(prog="waict")
add_verify_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_verify_command_tampered_script(tmp_path: Path, serve: Any) -> None:
    site = world_site(tmp_path, serve, WEB / "valid" / "public")
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(site.world.trust()))
    argv = [
        sys.executable,
        "-c",
        VERIFY_MAIN,
        "verify",
        site.url,
        "--trust",
        str(trust),
        "--now",
        str(NOW),
        "--resolve",
        f"{site.host}=127.0.0.1",
    ]

    ok = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "navigation ALLOW" in ok.stdout and "verdict: allowed" in ok.stdout
    assert "cosigned by w1.example" in ok.stdout

    (site.root / "app.js").write_text("alert('tampered');\n")
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    blocked = [ln for ln in bad.stdout.splitlines() if "BLOCKED" in ln and "/app.js" in ln]
    assert blocked and "script" in blocked[0] and "no_manifest_match" in blocked[0]
    assert "verdict: BLOCKED (1 blocked)" in bad.stdout

    dump = tmp_path / "scenario.json"
    js = subprocess.run(
        [*argv, "--json", "--dump-scenario", str(dump)], capture_output=True, text=True, timeout=60
    )
    assert js.returncode == 1
    verdict = json.loads(js.stdout)
    assert set(verdict) == {"navigation", "manifest", "resources"}
    assert decide(json.loads(dump.read_text())) == verdict  # replayable with `waict check`
    app = next(r for r in verdict["resources"] if r["url"].endswith("/app.js"))
    assert app == {"url": site.origin + "/app.js", "allowed": False, "reason": "no_manifest_match"}


def test_verify_report_mode_and_inline(tmp_path: Path, serve: Any) -> None:
    site = world_site(tmp_path, serve, WEB / "valid" / "public", mode="report")
    (site.root / "style.css").write_text("body{}")
    report = site.verify()
    assert report.exit_code == 0
    style = next(r for r in report.verdict["resources"] if r["url"].endswith("/style.css"))
    assert style["allowed"] and style["reason"] == "no_manifest_match"


def test_verify_unlisted_inline_script_is_blocked(tmp_path: Path, serve: Any) -> None:
    src = write_tree(tmp_path / "src", {"index.html": "<script>ok()</script><p>x</p>"})
    site = world_site(tmp_path, serve, src)
    (site.root / "frame.html").write_text("<script>evil()</script><p onclick='x()'>")
    (site.root / "index.html").write_text("<script>ok()</script><p>x</p>")  # unchanged bytes
    with site.client() as client:
        report = verify_site(site.origin + "/", site.world.trust(), now=NOW, client=client)
    # frame.html is not listed (missing_from_manifest is reported only when something loads
    # it); the page's own inline script is listed
    assert [(f.code.kind, f.reason) for f in report.inline] == [("script", None)]

    (site.root / "index.html").write_text("<script>evil()</script><p>x</p>")
    with site.client() as client:
        report = verify_site(site.origin + "/", site.world.trust(), now=NOW, client=client)
    assert report.exit_code == 1  # the document itself no longer matches ...
    assert [(f.code.kind, f.allowed, f.reason) for f in report.inline] == [
        ("script", False, "not_in_inline_js_hashes")  # ... and its inline script is unlisted
    ]


def test_verify_errors_exit_2(tmp_path: Path, capsys: Any) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(World().trust()))
    code, _, err = run_cli(
        add_verify_parser, ["verify", "http://127.0.0.1:9/", "--trust", str(trust)], capsys
    )
    assert code == 2 and "is the server running" in err
    trust.write_text("{")
    code, _, err = run_cli(
        add_verify_parser, ["verify", "http://127.0.0.1:9/", "--trust", str(trust)], capsys
    )
    assert code == 2 and "not JSON" in err
    code, _, err = run_cli(
        add_verify_parser, ["verify", "http://x/", "--trust", str(tmp_path / "none")], capsys
    )
    assert code == 2 and "does not exist" in err


def test_scan_script_destinations() -> None:
    js = (
        'const w = new Worker(new URL("./w.js", import.meta.url));\n'
        "new SharedWorker('/s.js'); navigator.serviceWorker.register(`/sw.js`);\n"
        "importScripts('lib.js'); import('./lazy.mjs');\n"
        "import x from './dep.js';\nexport * from \"./re.js\";\n"
        'WebAssembly.instantiateStreaming(fetch("/m.wasm")); new Worker(`${base}/x.js`);\n'
    )
    assert sorted((u, d) for u, d, _ in scan_script(js)) == sorted(
        [
            ("./w.js", "worker"),
            ("/s.js", "sharedworker"),
            ("/sw.js", "serviceworker"),
            ("lib.js", "script"),
            ("./lazy.mjs", "script"),
            ("./dep.js", "script"),
            ("./re.js", "script"),
            ("/m.wasm", "wasm"),
        ]
    )


# --- publish against the transparency-service test double ---------------------------------------


@dataclass
class Ecosystem:
    fake: Any  # FakeTransparencyService (conftest.py): a TEST DOUBLE of the service
    ts: Any  # LiveServer
    assets: Any
    assets_dir: Path
    site_server: Any
    tmp: Path

    def origin(self, host: str) -> str:
        return f"http://{host}:{self.site_server.port}"

    def options(self, root: Path, host: str, **kw: Any) -> PublishOptions:
        defaults: dict[str, Any] = {
            "ts_url": self.ts.url,
            "assets": (AssetUpload(self.assets.url, ASSET_TOKEN),),
            "trust": parse_trust(self.fake.world.trust(preload_domain="preload.waict.test")),
            "now": self.fake.now,
            "quiet": True,
            "timeout": 30,
        }
        defaults.update(kw)
        return PublishOptions(site_dir=root, origin=self.origin(host), **defaults)

    def verify(self, host: str, **kw: Any) -> Any:
        with make_client(resolve={host: "127.0.0.1"}, follow_redirects=True) as client:
            return verify_site(
                self.origin(host) + "/",
                self.fake.world.trust(preload_domain="preload.waict.test"),
                now=NOW,
                client=client,
                **kw,
            )


def ecosystem(tmp_path: Path, serve: Any, sites: dict[str, Path], harness: Any) -> Ecosystem:
    fake = harness.FakeTransparencyService()
    assets_dir = tmp_path / "assets"
    assets = serve(create_assets_app(assets_dir, ASSET_TOKEN))
    site_server = serve(create_site_app(sites=sites))
    fake.site_port = site_server.port
    ts = serve(fake.app())
    return Ecosystem(fake, ts, assets, assets_dir, site_server, tmp_path)


def copy_site(tmp_path: Path, name: str, source: Path | None = None) -> Path:
    root = tmp_path / name
    shutil.copytree(source or WEB / "valid" / "public", root)
    return root


def test_publish_enroll_then_append(tmp_path: Path, serve: Any, harness: Any) -> None:
    host = "shop.waict.test"
    root = copy_site(tmp_path, "shop")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)

    first = publish(eco.options(root, host, inline=True))
    assert first.enrolled and first.kind == "manifest"
    # the enrollment request and the well-known document
    assert [(r.method, r.path) for r in eco.fake.requests[:2]] == [
        ("GET", f"/leaf/{host}"),
        ("POST", f"/enroll/{host}"),
    ]
    state = SiteState(root / ".waict")
    token = state.read_token()
    assert token and stat.S_IMODE(state.token_file.stat().st_mode) == 0o600
    doc = json.loads((root / ".well-known" / "waict-enroll").read_text())
    assert doc == {
        "resource_hash": b64encode(resource_hash(first.line)),
        "asset_hosts": [eco.assets.url],
        "token_sha256": h(token.encode()),
    }
    # what is installed
    body = state.manifest_file.read_bytes()
    line, proof, end = body.split(b"\n")
    assert line == first.line and end == b"" and proof.decode() == proof_of(first).to_b64()
    assert first.manifest_url == "/.well-known/waict/manifests/" + h(body)[:22]
    assert state.read_header() == (f'max-age=3600, mode=enforce, manifest="{first.manifest_url}"')
    assert first.proven is not None and first.proven.head.position == 0
    # every file and the manifest line are on the asset host
    for f in [p for p in root.iterdir() if p.is_file()]:
        assert fetch_asset(eco.assets.url, digest_name(f.read_bytes())) == f.read_bytes()
    assert fetch_asset(eco.assets.url, digest_name(line)) == line

    # second publish: an authenticated append that names the head it follows
    (root / "app.js").write_text((root / "app.js").read_text() + "\n// v2\n")
    eco.fake.requests.clear()
    eco.fake.now += 60
    second = publish(eco.options(root, host, inline=True))
    assert not second.enrolled and proof_of(second).head.position == 1
    append = next(r for r in eco.fake.requests if r.path == f"/append/{host}")
    assert append.headers["authorization"] == f"Bearer {token}"
    assert append.headers["content-type"] == "application/json"
    assert json.loads(append.body) == {
        "resource_hash": b64encode(resource_hash(second.line)),
        "asset_hosts": [eco.assets.url],
        "prev": b64encode(proof_of(first).head.next_chain_hash()),
    }
    assert [e.position for e in state.history()] == [0, 1]
    report = eco.verify(host)
    assert report.exit_code == 0, report.verdict
    assert report.manifest_verdict.proven.head.position == 1


def test_publish_unenroll_serves_a_tombstone(tmp_path: Path, serve: Any, harness: Any) -> None:
    host = "gone.waict.test"
    root = copy_site(tmp_path, "gone")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    publish(eco.options(root, host))
    result = publish(eco.options(root, host, unenroll=True))
    assert result.kind == "tombstone"
    assert result.line == b'{"emergency_opt_out":true,"hashes":{}}'
    assert proof_of(result).head.entry.resource_hash == ZERO_HASH
    report = eco.verify(host)
    assert report.verdict["manifest"]["status"] == "tombstone"
    assert report.exit_code == 0


def test_publish_refuses_a_log_that_moved_without_us(
    tmp_path: Path, serve: Any, harness: Any
) -> None:
    host = "watched.waict.test"
    root = copy_site(tmp_path, "watched")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    publish(eco.options(root, host))
    publish(eco.options(root, host))
    eco.fake.add(host, b"\x01" * 32, [eco.assets.url])  # someone else appended
    with pytest.raises(UnexpectedLogError, match="did not publish") as info:
        publish(eco.options(root, host))
    assert "--accept-log-head" in str(info.value)
    assert proof_of(publish(eco.options(root, host, accept_log_head=True))).head.position == 3

    eco.fake.rewrite(host, 1)  # the service rewrites history
    with pytest.raises(UnexpectedLogError, match="rewritten"):
        publish(eco.options(root, host))


def test_publish_errors_say_what_to_do(tmp_path: Path, serve: Any, harness: Any) -> None:
    host = "err.waict.test"
    root = copy_site(tmp_path, "err")
    # the site is not served (another one is): enrollment cannot work
    eco = ecosystem(tmp_path, serve, {"other.waict.test": root}, harness)
    with pytest.raises(SiteToolError) as info:
        publish(eco.options(root, host))
    assert "enroll_fetch_failed" in str(info.value) and "waict serve-site" in str(info.value)
    assert SiteState(root / ".waict").read_token() is None  # nothing kept from a failed enroll

    eco2 = ecosystem(tmp_path / "2", serve, {host: root}, harness)
    publish(eco2.options(root, host))
    SiteState(root / ".waict").write_token("a-wrong-token")
    with pytest.raises(SiteToolError) as info:
        publish(eco2.options(root, host))
    assert "HTTP 401" in str(info.value) and "--re-enroll" in str(info.value)
    assert publish(eco2.options(root, host, re_enroll=True)).enrolled

    fresh = copy_site(tmp_path, "fresh")
    with pytest.raises(SiteToolError, match="nothing to unenroll"):
        publish(eco2.options(fresh, "fresh.waict.test", unenroll=True))
    with pytest.raises(SiteToolError, match="--ts URL is required"):
        publish(PublishOptions(site_dir=root, origin="https://x.test"))
    with pytest.raises(SiteToolError, match="needs --max-age 0"):
        publish(PublishOptions(site_dir=root, origin="https://x.test", v1=("script",)))


def test_the_fake_service_enforces_the_enroll_rule(
    tmp_path: Path, serve: Any, harness: Any
) -> None:
    """The test double refuses what the real service refuses (docs/decisions.md: an enrolled
    domain changes only through its token or a document whose prev names its head, once),
    so the publish tests cannot pass against a laxer fake."""
    host = "rule.waict.test"
    root = copy_site(tmp_path, "rule")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    publish(eco.options(root, host))
    token = SiteState(root / ".waict").read_token()
    # anyone may call /enroll, and the site still serves its document (without prev): the
    # request that made the entry, sent again, is answered with that entry; nothing changes
    first = httpx.post(f"{eco.ts.url}/enroll/{host}", timeout=30)
    assert first.status_code == 200, first.text
    assert len(eco.fake.nodes(host)) == 1
    # a document without prev for an enrolled domain that is not that retry: refused
    doc_path = root / ".well-known" / "waict-enroll"
    served = doc_path.read_text()
    other = json.loads(served)
    other["resource_hash"] = base64.b64encode(bytes(32)).decode()
    doc_path.write_text(json.dumps(other))
    refused = httpx.post(f"{eco.ts.url}/enroll/{host}", timeout=30)
    assert refused.status_code == 409 and refused.json()["detail"] == "already_enrolled"
    doc_path.write_text(served)
    assert len(eco.fake.nodes(host)) == 1
    # the lost-token path: --re-enroll serves a document whose prev names the head
    eco.fake.now += 60
    again = publish(eco.options(root, host, re_enroll=True))
    assert again.enrolled and len(eco.fake.nodes(host)) == 2
    assert json.loads((root / ".well-known" / "waict-enroll").read_text())["prev"]
    assert SiteState(root / ".waict").read_token() != token
    # that document applies once: replayed, it is answered with the entry it made
    replay = httpx.post(f"{eco.ts.url}/enroll/{host}", timeout=30)
    assert replay.status_code == 200, replay.text
    assert len(eco.fake.nodes(host)) == 2
    assert (
        eco.fake.tokens[host]
        == hashlib.sha256(
            SiteState(root / ".waict").read_token().encode()  # type: ignore[union-attr]
        ).digest()
    )


def test_publish_with_a_trust_the_proof_does_not_meet(
    tmp_path: Path, serve: Any, harness: Any
) -> None:
    host = "t.waict.test"
    root = copy_site(tmp_path, "t")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    strict = parse_trust(eco.fake.world.trust(quorum=3, witnesses=eco.fake.world.witness_names))
    with pytest.raises(UnexpectedLogError, match="quorum_not_met") as info:
        publish(eco.options(root, host, trust=strict))
    assert "is logged (position 0) and installed" in str(info.value)


def test_publish_v1_and_unlogged(tmp_path: Path, serve: Any, harness: Any) -> None:
    host = "old.waict.test"
    root = copy_site(tmp_path, "old")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    result = publish(eco.options(root, host, ts_url=None, v1=("script",), max_age=0))
    assert result.header is not None and "blocked-destinations=(script)" in result.header
    body = json.loads(result.body)
    assert body["hashes"]["/app.js"].endswith("=")  # padded base64, relative keys
    assert eco.fake.requests == []  # nothing logged
    report = eco.verify(host)
    assert report.exit_code == 0 and report.verdict["manifest"]["status"] == "valid"

    result = publish(eco.options(root, host, ts_url=None, no_log=True, max_age=0))
    assert result.body.endswith(b"\n\n")
    assert eco.verify(host).verdict["manifest"]["status"] == "valid"


def test_publish_dev_ids_carry_their_inclusion_proof(
    tmp_path: Path, serve: Any, harness: Any
) -> None:
    host = "dev.waict.test"
    dev = "ed25519:" + h(b"key")[:43]
    root = copy_site(tmp_path, "dev")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    with pytest.raises(SiteToolError, match="announced these dev-ids") as info:
        publish(eco.options(root, host, dev_ids=(dev,)))
    assert "--dev-ids-next" in str(info.value)

    eco.fake.now = NOW - 2 * DAY
    announce = publish(eco.options(root, host, dev_ids_next=(dev,)))
    eco.fake.now = NOW - HOUR
    carry = publish(eco.options(root, host, dev_ids=(dev,)))
    members = json.loads(carry.line)
    assert members["dev-ids"] == [dev]
    assert members["dev-ids-inclusion"] == {
        "manifest": announce.line.decode(),
        "proof": proof_of(announce).to_b64(),
    }
    assert eco.verify(host).verdict["manifest"]["status"] == "valid"
    # carrying them again keeps pointing at the oldest announcement of the unbroken run
    again = publish(eco.options(root, host, dev_ids=(dev,)))
    assert json.loads(again.line)["dev-ids-inclusion"]["manifest"] == announce.line.decode()


def _judge_in_plugin(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shipped dev-sigs plugin's own check (plugins/dev-sigs/sw.js ``judge``), in Node."""
    done = subprocess.run(
        ["node", str(Path(__file__).with_name("dev_sigs_judge.mjs")), str(DEV_SIGS_PLUGIN)],
        input=json.dumps(views),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _plugin_view(eco: Ecosystem, root: Path, host: str) -> dict[str, Any]:
    """What the extension hands a plugin for the installed manifest (verifier's own view)."""
    state = SiteState(root / ".waict")
    url = eco.origin(host) + "/"
    verdict = evaluate_manifest(
        url=url,
        header=state.read_header(),
        manifest_response=state.manifest_file.read_bytes(),
        trust=parse_trust(eco.fake.world.trust(preload_domain="preload.waict.test")),
        now=NOW,
    )
    assert verdict.status == "valid", verdict
    return plugins.view(verdict, url, None)


def test_publish_signed_dev_sigs_pass_the_verifier_and_the_plugin(
    tmp_path: Path, serve: Any, harness: Any
) -> None:
    host = "signed.waict.test"
    root = copy_site(tmp_path, "signed")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    seed = hashlib.sha256(b"developer key").digest()
    key_file = tmp_path / "dev.key"
    key_file.write_text(base64.b64encode(seed).decode() + "\n")
    dev = ed25519_identity(seed)
    other = ed25519_identity(hashlib.sha256(b"another key").digest())

    eco.fake.now = NOW - 2 * DAY
    publish(eco.options(root, host, dev_ids_next=(dev, other)))
    publish(eco.options(root, host, dev_ids_next=(dev,)))
    eco.fake.now = NOW - HOUR
    # a key for only one of two ed25519 dev-ids: the plugin would block it, nothing is logged
    logged = len(eco.fake.nodes(host))
    (root / "app.js").write_text((root / "app.js").read_text() + "\n// v2\n")
    eco.fake.now = NOW - 2 * DAY + 1
    with pytest.raises(SiteToolError, match="no valid --sign key for dev-ids") as info:
        publish(eco.options(root, host, dev_ids=(dev, other), sign=(seed,)))
    assert other in str(info.value) and "--sign" in str(info.value.hint)
    assert len(eco.fake.nodes(host)) == logged
    eco.fake.now = NOW - HOUR

    # signed through the command line: the key file of `waict keygen`
    opts = options_from_args(
        _publish_args(eco, root, host, "--dev-ids", dev, "--sign", str(key_file))
    )
    assert opts.sign == (seed,)
    result = publish(opts)
    members = json.loads(result.line)
    assert members["dev-ids"] == [dev]
    assert [s["id"] for s in members["dev-sigs"]] == [dev]
    assert not [w for w in result.warnings if "not signed" in w]
    # the verifier: the signature is over the canonical payload, every dev-id is signed
    payload = dev_sigs_payload(members)
    assert b"dev-sigs" not in payload and b"dev-ids-inclusion" not in payload
    sig = base64.urlsafe_b64decode(members["dev-sigs"][0]["sig"] + "==")
    assert verify_dev_sig(dev, sig, payload)
    assert unsigned_dev_ids(members) == []
    assert eco.verify(host).verdict["manifest"]["status"] == "valid"
    # the plugin, on the view the extension gives it: approves; and vetoes a forged copy
    good = _plugin_view(eco, root, host)
    assert good["dev_sigs"] == members["dev-sigs"]
    forged = dict(good, dev_sigs=[{"id": dev, "sig": members["dev-sigs"][0]["sig"][::-1]}])
    unsigned = dict(good, dev_sigs=[])
    verdicts = _judge_in_plugin([good, forged, unsigned])
    assert [v["verdict"] for v in verdicts] == ["approve", "veto", "veto"], verdicts
    assert "1 developer signature(s) verified" in verdicts[0]["reason"]


def test_publish_bad_sign_key_file_publishes_nothing(
    tmp_path: Path, serve: Any, capsys: Any, harness: Any
) -> None:
    host = "badkey.waict.test"
    root = copy_site(tmp_path, "badkey")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    cases = {
        "missing.key": (None, "does not exist"),
        "short.key": (base64.b64encode(b"x" * 16).decode(), "holds 16 bytes"),
        "garbage.key": ("not base64 at all!", "is not a base64 Ed25519 seed"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_text(content + "\n")
        args = _publish_args(eco, root, host, "--sign", str(path))
        with pytest.raises(KeyFileError, match=message) as info:
            options_from_args(args)
        assert "waict keygen" in str(info.value.hint)
        argv = ["publish", *_publish_argv(eco, root, host), "--sign", str(path)]
        code, out, err = run_cli(add_site_tool_parsers, argv, capsys)
        assert code == 2 and message in err and "waict keygen" in err and out == ""
    assert eco.fake.requests == []  # nothing logged
    assert not (tmp_path / "assets").exists() or not any((tmp_path / "assets").rglob("*-*"))
    assert not (root / ".waict").exists() and not (root / ".well-known").exists()


def _publish_argv(eco: Ecosystem, root: Path, host: str, *more: str) -> list[str]:
    token_file = eco.tmp / "assets.token"
    token_file.write_text(ASSET_TOKEN + "\n")
    return [
        str(root),
        "--origin",
        eco.origin(host),
        "--ts",
        eco.ts.url,
        "--assets",
        eco.assets.url,
        "--assets-token-file",
        str(token_file),
        "--timeout",
        "30",
        "--quiet",
        *more,
    ]


def _publish_args(eco: Ecosystem, root: Path, host: str, *more: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="waict")
    add_site_tool_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(["publish", *_publish_argv(eco, root, host, *more)])


def test_publish_to_two_asset_hosts(tmp_path: Path, serve: Any, capsys: Any, harness: Any) -> None:
    host = "two.waict.test"
    root = copy_site(tmp_path, "two")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    other = serve(create_assets_app(tmp_path / "assets2", "second-token"))
    other_token = tmp_path / "second.token"
    other_token.write_text("second-token\n")
    argv = _publish_argv(eco, root, host, "--assets", other.url, "--assets-token-file")
    argv.append(str(other_token))
    code, out, err = run_cli(add_site_tool_parsers, ["publish", *argv], capsys)
    assert code == 0, err
    assert f"published: {host} position 0" in out
    both = sorted([eco.assets.url, other.url])
    # both hosts are logged (the enrollment document and the entry commit to the pair) ...
    assert json.loads((root / ".well-known" / "waict-enroll").read_text())["asset_hosts"] == both
    node = eco.fake.nodes(host)[-1]
    assert eco.fake.vectors[node.entry.asset_hosts_hash] == encode_asset_hosts(both)
    # ... and both serve every object: the files and the manifest line
    line = SiteState(root / ".waict").manifest_file.read_bytes().split(b"\n")[0]
    objects = [p.read_bytes() for p in root.iterdir() if p.is_file()] + [line]
    for base in both:
        for data in objects:
            assert fetch_asset(base, digest_name(data)) == data
    # one token file per host, in order: a wrong pairing is refused by the host
    swapped = _publish_argv(eco, root, host, "--assets", other.url, "--assets-token-file")
    swapped[swapped.index("--assets-token-file") + 1] = str(other_token)
    swapped.append(str(eco.tmp / "assets.token"))
    (root / "app.js").write_text("// changed\n")
    code, _, err = run_cli(add_site_tool_parsers, ["publish", *swapped], capsys)
    assert code == 2 and "refused the upload token" in err
    assert len(eco.fake.nodes(host)) == 1  # nothing logged
    # a count of token files that fits neither rule
    three = _publish_argv(eco, root, host, "--assets", other.url, "--assets", "http://x.test")
    three += ["--assets-token-file", str(other_token)]
    code, _, err = run_cli(add_site_tool_parsers, ["publish", *three], capsys)
    assert code == 2 and "3 --assets hosts but 2 --assets-token-file" in err


def test_publish_line_and_preload_body(tmp_path: Path, serve: Any, harness: Any) -> None:
    host = "preload.waict.test"
    root = write_tree(tmp_path / "vendor", {"index.html": "<p>vendor</p>"})
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    line = build_preload_line(parse_hosts("bank.waict.test dev-ids\n"), NOW - HOUR, NOW + DAY)
    (tmp_path / "preload.json").write_bytes(line + b"\n")
    result = publish(eco.options(root, host, line_file=tmp_path / "preload.json"))
    assert result.kind == "line" and result.line == line and result.header is None
    state = SiteState(root / ".waict")
    assert not state.header_file.exists()
    body = preload_body_from_state(state.path)
    assert body == line + b"\n" + proof_of(result).to_b64().encode() + b"\n"
    trust = parse_trust(eco.fake.world.trust(preload_domain=host))
    plist = verify_preload_response(body, trust, NOW)
    assert plist.lookup("bank.waict.test") is not None
    # a preloaded host without a header is blocked
    bank = write_tree(tmp_path / "bank", {"index.html": "<p>bank</p>"})
    server = serve(create_site_app(bank))
    with make_client(resolve={"bank.waict.test": "127.0.0.1"}, follow_redirects=True) as client:
        report = verify_site(
            f"http://bank.waict.test:{server.port}/",
            eco.fake.world.trust(preload_domain=host),
            preload=body,
            now=NOW,
            client=client,
        )
    assert report.verdict["navigation"] == "block"
    assert report.verdict["manifest"]["detail"] == "preload_unsatisfied"


def test_preload_body_command(tmp_path: Path, serve: Any, capsys: Any, harness: Any) -> None:
    host = "preload.waict.test"
    root = write_tree(tmp_path / "vendor", {"index.html": "v"})
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("a.waict.test\n")
    out = tmp_path / "preload.json"
    code, _, _ = run_cli(
        add_preload_parser,
        [
            "preload",
            "build",
            str(hosts),
            "--issued",
            str(NOW - HOUR),
            "--expires",
            "+20d",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    publish(eco.options(root, host, line_file=out))
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(eco.fake.world.trust(preload_domain=host)))
    target = tmp_path / "preload.waict"
    code, _, err = run_cli(
        add_preload_parser,
        [
            "preload",
            "body",
            "--state",
            str(root / ".waict"),
            "--out",
            str(target),
            "--trust",
            str(trust),
            "--now",
            str(NOW),
        ],
        capsys,
    )
    assert code == 0, err
    assert target.read_bytes().startswith(out.read_bytes()[:-1] + b"\n")
    code, _, err = run_cli(
        add_preload_parser,
        [
            "preload",
            "body",
            "--state",
            str(root / ".waict"),
            "--out",
            str(target),
            "--trust",
            str(trust),
            "--now",
            str(NOW + 9 * DAY),
        ],
        capsys,
    )
    assert code == 2 and "stale_cosignature" in err


def test_publish_command_prints_what_to_serve(
    tmp_path: Path, serve: Any, capsys: Any, harness: Any
) -> None:
    host = "cli.waict.test"
    root = copy_site(tmp_path, "cli")
    eco = ecosystem(tmp_path, serve, {host: root}, harness)
    token_file = tmp_path / "assets.token"
    token_file.write_text(ASSET_TOKEN + "\n")
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(eco.fake.world.trust()))
    code, out, err = run_cli(
        add_site_tool_parsers,
        [
            "publish",
            str(root),
            "--origin",
            eco.origin(host),
            "--ts",
            eco.ts.url,
            "--assets",
            eco.assets.url,
            "--assets-token-file",
            str(token_file),
            "--trust",
            str(trust),
            "--now",
            str(NOW),
            "--mode",
            "report",
            "--max-age",
            "600",
        ],
        capsys,
    )
    assert code == 0, err
    assert f"published: {host} position 0" in out and "(new enrollment)" in out
    assert "verified against the trust file: ts.example, w1.example, w2.example" in out
    assert "Integrity-Policy-WAICT-v1: max-age=600, mode=report, manifest=" in out
    assert "/.well-known/waict/manifests/" in out
    assert "wrote" in err and "waict-enroll" in err


# --- monitor ----------------------------------------------------------------------------------


def test_monitor_reports_changes_and_catches_rewrites(
    tmp_path: Path, serve: Any, capsys: Any, harness: Any
) -> None:
    fake = harness.FakeTransparencyService()
    ts = serve(fake.app())
    host = "m.waict.test"
    fake.add(host, b"\x01" * 32, ["https://assets-a.test"])
    fake.now += 10
    fake.add(host, b"\x02" * 32, ["https://assets-a.test"])
    state_file = tmp_path / "monitor.json"
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(fake.world.trust()))
    argv = [
        "monitor",
        host,
        "--ts",
        ts.url,
        "--state",
        str(state_file),
        "--trust",
        str(trust),
        "--now",
        str(NOW),
    ]

    code, out, err = run_cli(add_monitor_parser, argv, capsys)
    assert code == 0, out + err
    assert "#0" in out and "#1" in out and "asset hosts ['https://assets-a.test']" in out
    assert "cosigned by w1.example" in err
    assert json.loads(state_file.read_text())["domains"][host]["size"] == 2

    code, out, _ = run_cli(add_monitor_parser, argv, capsys)
    assert code == 0 and out.strip() == f"{host}: nothing new"

    for i in range(300):  # cross a full entries tile
        fake.add(host, bytes([3 + i % 200]) * 32, ["https://assets-a.test"])
    fake.add(host, ZERO_HASH, ["https://assets-b.test"])
    fake.add(host, b"\x09" * 32, ["https://assets-b.test"])
    code, out, _ = run_cli(add_monitor_parser, [*argv, "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    kinds = [e["kind"] for e in result["events"]]
    assert kinds.count("entry") == 300 and "tombstone" in kinds and "reenrolled" in kinds
    change = next(e for e in result["events"] if e["kind"] == "asset_hosts")
    assert (
        "https://assets-a.test" in change["message"]
        and "https://assets-b.test" in change["message"]
    )
    assert result["size"] == 304 and result["problems"] == []

    fake.rewrite(host, 5)
    code, out, _ = run_cli(add_monitor_parser, argv, capsys)
    assert code == 1
    assert "UNEXPECTED" in out and "rewritten" in out
    assert json.loads(state_file.read_text())["domains"][host]["size"] == 304  # not advanced

    # the alarm repeats; a shrunken log is caught too
    fake.world.chains[host] = fake.world.chains[host][:100]
    code, out, _ = run_cli(add_monitor_parser, argv, capsys)
    assert code == 1 and "shrank" in out


def test_monitor_api_not_enrolled_and_forged_head(tmp_path: Path, serve: Any, harness: Any) -> None:
    fake = harness.FakeTransparencyService()
    ts = serve(fake.app())
    with make_client() as client:
        tc = TsClient(ts.url, client)
        result = monitor_domain("none.test", tc, MonitorState("none.test", ts.url), now=NOW)
        assert result.exit_code == 0 and result.info == [
            "none.test is not enrolled at this service"
        ]
        fake.add("x.test", b"\x01" * 32, [])
        first = monitor_domain("x.test", tc, MonitorState("x.test", ts.url), now=NOW)
        assert first.exit_code == 0 and first.state is not None
        # the service drops the domain
        del fake.world.chains["x.test"]
        gone = monitor_domain("x.test", tc, first.state, now=NOW)
        assert gone.exit_code == 1 and "dropped" in gone.problems[0]


# --- preload build ---------------------------------------------------------------------------


def test_preload_build_output_bytes(tmp_path: Path, capsys: Any) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# the list\nBank.Example.\n\nwallet.example   dev-ids  # signed releases\n")
    out = tmp_path / "preload.json"
    code, _, err = run_cli(
        add_preload_parser,
        [
            "preload",
            "build",
            str(hosts),
            "--issued",
            "1790000000",
            "--expires",
            "1792592000",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    assert out.read_bytes() == (
        b'{"entries":{"bank.example":{"dev-ids":false,"transparency":true},'
        b'"wallet.example":{"dev-ids":true,"transparency":true}},'
        b'"expires":1792592000,"issued":1790000000,"version":1}\n'
    )
    code, stdout, _ = run_cli(
        add_preload_parser,
        ["preload", "build", str(hosts), "--issued", "1790000000", "--expires", "+30d"],
        capsys,
    )
    assert code == 0 and stdout.encode() == out.read_bytes()

    for text, message in [
        ("a.example\na.example\n", "listed twice"),
        ("a.example hsts\n", "unknown flag"),
        ("bad host!\n", "line 1"),
    ]:
        hosts.write_text(text)
        code, _, err = run_cli(add_preload_parser, ["preload", "build", str(hosts)], capsys)
        assert code == 2 and message in err
    hosts.write_text("a.example\n")
    code, _, err = run_cli(
        add_preload_parser,
        ["preload", "build", str(hosts), "--issued", "100", "--expires", "100"],
        capsys,
    )
    assert code == 2 and "after --issued" in err


# --- the sample sites in web/ ----------------------------------------------------------------

SAMPLES = sorted(p.parent.name for p in WEB.glob("*/expected.json"))
CLOCKS = {"old": NOW - 2 * DAY, "now": NOW - 5 * 60}


def test_sample_sites_are_generated() -> None:
    check = subprocess.run(
        [sys.executable, str(WEB / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout
    assert len(SAMPLES) == 20  # valid, 10 tampered, report, v1, unenrolled, 2 tombstones,
    # 2 dev-ids; and the room and tampered-room (issue 13, scripts/build_room.py)


def publish_args(site: dict[str, Any], step: dict[str, Any], preload_json: Path) -> dict[str, Any]:
    """PublishOptions from a site.json step (the same flags the demo passes to the CLI)."""
    args = [a.replace("{preload_json}", str(preload_json)) for a in step["args"]]
    parser = argparse.ArgumentParser()
    add_site_tool_parsers(parser.add_subparsers())
    ns = parser.parse_args(["publish", "DIR", "--origin", "https://x.test", *args])
    return {
        "mode": ns.mode,
        "max_age": ns.max_age,
        "inline": ns.inline,
        "unenroll": ns.unenroll,
        "v1": tuple(ns.v1) if ns.v1 is not None else None,
        "dev_ids": tuple(ns.dev_ids) if ns.dev_ids is not None else None,
        "dev_ids_next": tuple(ns.dev_ids_next) if ns.dev_ids_next is not None else None,
        "line_file": Path(ns.line) if ns.line else None,
        **({"ts_url": None} if ns.v1 is not None else {}),
    }


@pytest.fixture(scope="module")
def published_samples(tmp_path_factory: Any, harness: Any) -> Any:
    """Publish every sample site as the demo does (old clock first, then now), tamper."""
    LiveServer = harness.LiveServer
    tmp = tmp_path_factory.mktemp("samples")
    sites = {
        name: json.loads((WEB / name / "site.json").read_text()) for name in [*SAMPLES, "preload"]
    }
    roots = {}
    for name in sites:
        roots[name] = tmp / name / "public"
        shutil.copytree(WEB / name / "public", roots[name])
    servers = []
    fake = harness.FakeTransparencyService()
    assets = LiveServer(create_assets_app(tmp / "assets", ASSET_TOKEN)).__enter__()
    site_server = LiveServer(
        create_site_app(sites={s["host"]: roots[n] for n, s in sites.items()})
    ).__enter__()
    fake.site_port = site_server.port
    ts = LiveServer(fake.app()).__enter__()
    servers = [ts, site_server, assets]
    eco = Ecosystem(fake, ts, assets, tmp / "assets", site_server, tmp)

    preload_site = sites["preload"]
    plist = preload_site["preload_list"]
    preload_json = tmp / "preload.json"
    entries = parse_hosts((WEB / "preload" / plist["hosts"]).read_text())
    issued = NOW - HOUR
    preload_json.write_bytes(
        build_preload_line(entries, issued, issued + plist["expires_in"]) + b"\n"
    )
    for clock in ("old", "now"):
        fake.now = CLOCKS[clock]
        for name, site in sites.items():
            for step in site["steps"]:
                if step["clock"] == clock:
                    opts = eco.options(
                        roots[name], site["host"], **publish_args(site, step, preload_json)
                    )
                    publish(opts)
    for name, site in sites.items():
        if site.get("tamper"):
            shutil.copyfile(
                WEB / name / site["tamper"]["with"], roots[name] / site["tamper"]["file"]
            )
    preload_body = preload_body_from_state(roots["preload"] / ".waict")
    yield eco, sites, preload_body
    for server in servers:
        server.__exit__(None, None, None)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_site_verdict(name: str, published_samples: Any) -> None:
    eco, sites, preload_body = published_samples
    site = sites[name]
    expected = json.loads((WEB / name / "expected.json").read_text())
    report = eco.verify(site["host"], preload=preload_body)
    verdict = report.verdict
    assert verdict["navigation"] == expected["navigation"], report.manifest_verdict.message
    assert verdict["manifest"] == expected["manifest"], report.manifest_verdict.message
    default = expected["resources"].get("*", {"allowed": True, "reason": None})
    seen = set()
    destinations = {urlsplit(f.url).path: f.destination for f in report.resources}
    for r in verdict["resources"]:
        path = urlsplit(r["url"]).path
        seen.add(path)
        want = expected["resources"].get(path, default)
        assert (r["allowed"], r["reason"]) == (want["allowed"], want["reason"]), path
        if "destination" in want:
            assert destinations[path] == want["destination"]
    assert {p for p in expected["resources"] if p != "*"} <= seen
    # page, style, scripts, workers, wasm, image, frame; the room: page, script, style, worker
    assert len(verdict["resources"]) >= (5 if name.endswith("room") else 9)
    blocked = not expected["browser"]["block_page"] and any(
        not r["allowed"] for r in verdict["resources"]
    )
    assert report.exit_code == (1 if expected["navigation"] == "block" or blocked else 0)
