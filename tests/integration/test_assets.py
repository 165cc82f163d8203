"""The asset host over real HTTP on loopback: upload, fetch, immutability headers, errors,
restart persistence, the client helper, and the `serve-assets` command."""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from waict.common.digests import digest_name
from waict.common.errors import NetworkError
from waict.log.assets import add_serve_assets_parser, create_assets_app, load_or_create_token
from waict.site.asset_client import AssetHostError, fetch_asset, upload_asset

TOKEN = "test-upload-token"


def b64u_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def put(url: str, data: bytes, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.put(f"{url}/upload", content=data, headers=headers)


def test_upload_then_fetch_with_immutable_headers(tmp_path: Path, serve: Any) -> None:
    server = serve(create_assets_app(tmp_path / "store", TOKEN))
    data = b"console.log('hello');\n"
    answer = put(server.url, data)
    assert answer.status_code == 200
    assert answer.json() == {"digest": f"sha256-{b64u_sha256(data)}"}

    got = httpx.get(f"{server.url}/fetch/sha256-{b64u_sha256(data)}")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert got.headers["content-type"] == "application/octet-stream"

    head = httpx.head(f"{server.url}/fetch/sha256-{b64u_sha256(data)}")
    assert head.status_code == 200 and head.content == b""

    # stored under its digest, nothing left in the temporary directory
    assert (tmp_path / "store" / "objects" / b64u_sha256(data)).read_bytes() == data
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_same_bytes_twice_and_empty_body(tmp_path: Path, serve: Any) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN))
    assert put(server.url, b"x").json() == put(server.url, b"x").json()
    empty = put(server.url, b"")
    assert empty.json()["digest"] == f"sha256-{b64u_sha256(b'')}"
    assert httpx.get(f"{server.url}/fetch/{empty.json()['digest']}").content == b""


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_bad_token_is_401_and_stores_nothing(tmp_path: Path, serve: Any, token: str | None) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN))
    answer = put(server.url, b"secret", token)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "unauthorized"
    assert "Bearer" in answer.headers["www-authenticate"]
    assert list((tmp_path / "objects").iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "sha256-abc",  # too short
        "sha512-" + b64u_sha256(b"x"),  # other algorithm
        "sha256-" + b64u_sha256(b"x") + "=",  # padding
        "sha256-" + base64.b64encode(hashlib.sha256(b"?>").digest()).decode(),  # b64, not b64u
        b64u_sha256(b"x"),  # no prefix
    ],
)
def test_malformed_digest_is_400(tmp_path: Path, serve: Any, name: str) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN))
    answer = httpx.get(f"{server.url}/fetch/{name}")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "bad_digest"
    assert "sha256-" in answer.json()["error"]


def test_unknown_digest_is_404_json(tmp_path: Path, serve: Any) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN))
    answer = httpx.get(f"{server.url}/fetch/sha256-{b64u_sha256(b'never uploaded')}")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "not_found"


def test_too_large_upload_is_413(tmp_path: Path, serve: Any) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN, max_upload=10))
    assert put(server.url, b"0123456789").status_code == 200
    answer = put(server.url, b"01234567890")
    assert answer.status_code == 413
    assert len(list((tmp_path / "objects").iterdir())) == 1


def test_restart_keeps_files(tmp_path: Path, serve: Any) -> None:
    first = serve(create_assets_app(tmp_path, TOKEN))
    digest = put(first.url, b"persistent bytes").json()["digest"]
    first.__exit__(None, None, None)
    (tmp_path / "tmp" / "partial-upload").write_bytes(b"half")  # a crashed upload

    second = serve(create_assets_app(tmp_path, TOKEN))
    assert httpx.get(f"{second.url}/fetch/{digest}").content == b"persistent bytes"
    assert list((tmp_path / "tmp").iterdir()) == []  # cleaned at start


def test_client_helpers(tmp_path: Path, serve: Any) -> None:
    server = serve(create_assets_app(tmp_path, TOKEN))
    data = os.urandom(5000)
    digest = upload_asset(server.url, TOKEN, data)
    assert digest == digest_name(data) == f"sha256-{b64u_sha256(data)}"
    assert fetch_asset(server.url, digest) == data
    with pytest.raises(AssetHostError, match="refused the upload token"):
        upload_asset(server.url, "nope", data)
    with pytest.raises(AssetHostError, match="HTTP 404"):
        fetch_asset(server.url, digest_name(b"other"))


def test_client_rejects_a_host_that_lies_about_the_digest(tmp_path: Path, serve: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def lying_upload(request: Any) -> JSONResponse:
        return JSONResponse({"digest": digest_name(b"something else")})

    server = serve(Starlette(routes=[Route("/upload", lying_upload, methods=["PUT"])]))
    with pytest.raises(AssetHostError, match="expected sha256-"):
        upload_asset(server.url, TOKEN, b"data")


def test_client_network_error_says_what_to_do() -> None:
    with pytest.raises(NetworkError) as info:
        upload_asset("http://127.0.0.1:9", TOKEN, b"x", timeout=2)
    assert "is the server running" in str(info.value)


def test_token_file_is_generated_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    token, created = load_or_create_token(path)
    assert created and len(token) >= 40
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_or_create_token(path) == (token, False)


def test_parser_registration() -> None:
    parser = argparse.ArgumentParser(prog="waict")
    add_serve_assets_parser(parser.add_subparsers())
    args = parser.parse_args(["serve-assets", "--dir", "d", "--token-file", "t", "--port", "1"])
    assert args.dir == "d" and args.port == 1 and callable(args.func)


SERVE_ASSETS = """
import argparse, sys
from waict.log.assets import add_serve_assets_parser
parser = argparse.ArgumentParser(prog="waict")
add_serve_assets_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_serve_assets_command_in_a_subprocess(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token_file = tmp_path / "assets.token"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE_ASSETS,
            "serve-assets",
            "--dir",
            str(tmp_path / "store"),
            "--port",
            str(port),
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/fetch/sha256-x", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("serve-assets did not start") from None
                time.sleep(0.1)
        token = token_file.read_text().strip()
        assert upload_asset(url, token, b"from the cli") == digest_name(b"from the cli")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"generated a new upload token in {token_file}" in err
    assert f"upload token in {token_file}" in out
