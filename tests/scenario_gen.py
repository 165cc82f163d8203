"""A corpus of `decide` scenarios generated with the test world, each with the verdict
essentials it must give. Used to run the same decisions in CPython and in Pyodide and to
compare the two verdicts byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from world import DAY, World, h64u, manifest_line

from verifier.crypto import ed25519_public_key, sha256
from verifier.encoding import b64encode, b64uencode
from verifier.note import key_id
from verifier.proof import ChainHeadWithProof

HOST = "gen.example"
ORIGIN = f"https://{HOST}"
HEADER = 'max-age=86400, mode=enforce, manifest="/m"'
PAGE = b"<!doctype html><script src=/a.js></script>"
APP = b"app()"
WASM = b"\x00asm\x01\x00\x00\x00"
EVIL = b"evil()"

Expect = tuple[str, str, str | None]  # navigation, status, detail


def _manifest(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "hashes": {
            f"{ORIGIN}/": h64u(PAGE),
            f"{ORIGIN}/a.js": h64u(APP),
            f"{ORIGIN}/i.png": h64u(b"img"),
        },
        "wasm_hashes": [h64u(WASM)],
    }
    obj.update(extra)
    return obj


def _resources(app: bytes = APP, page: bytes = PAGE) -> list[tuple[str, str, bytes]]:
    return [
        (f"{ORIGIN}/", "document", page),
        (f"{ORIGIN}/a.js", "script", app),
        (f"{ORIGIN}/i.png", "image", b"img"),
        (f"{ORIGIN}/m.wasm", "wasm", WASM),
        (f"{ORIGIN}/api", "fetch", EVIL),
    ]


def _site(manifest: dict[str, Any] | None = None, **kw: Any) -> tuple[World, bytes]:
    world = World(**kw)
    line = manifest_line(manifest or _manifest())
    world.log(HOST, line)
    return world, line


def _scenario(
    world: World,
    line: bytes,
    proof: Any = None,
    *,
    header: str | None = HEADER,
    resources: list[tuple[str, str, bytes]] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    proof = world.proof(HOST) if proof is None else proof
    return world.scenario(
        f"{ORIGIN}/",
        header,
        world.response(line, proof),
        resources if resources is not None else _resources(),
        **kw,
    )


def _flip(proof: ChainHeadWithProof, index: int) -> str:
    raw = bytearray(proof.encode())
    raw[index % len(raw)] ^= 0x40
    return b64encode(bytes(raw))


def generate() -> Iterator[tuple[str, dict[str, Any], Expect]]:
    w, line = _site()
    yield "valid", _scenario(w, line), ("allow", "valid", None)
    yield (
        "tampered-script",
        _scenario(w, line, resources=_resources(app=EVIL)),
        ("allow", "valid", None),
    )
    yield (
        "tampered-page",
        _scenario(w, line, resources=_resources(page=EVIL)),
        ("block", "valid", None),
    )
    yield (
        "report",
        _scenario(
            w,
            line,
            header=HEADER.replace("enforce", "report"),
            resources=_resources(app=EVIL, page=EVIL),
        ),
        ("allow", "valid", None),
    )
    yield "no-header", _scenario(w, line, header=None), ("allow", "none", None)
    yield (
        "bad-header",
        _scenario(w, line, header='max-age=1, mode=strict, manifest="/m"'),
        ("allow", "none", None),
    )
    s = _scenario(w, line)
    s["manifest_response"] = None
    yield "unavailable", s, ("block", "invalid", "manifest_unavailable")
    yield "empty-proof", _scenario(w, line, proof=""), ("block", "invalid", "malformed_proof")
    yield (
        "max-age-0",
        _scenario(w, line, proof="", header='max-age=0, mode=enforce, manifest="/m"'),
        ("allow", "valid", None),
    )
    good = w.proof(HOST)
    for i in (0, 50, 111, 113, 130, len(good.encode()) - 3):
        yield f"flip-{i}", _scenario(w, line, proof=_flip(good, i)), ("block", "invalid", None)
    yield (
        "untrusted-ts",
        _scenario(w, line, proof=w.proof(HOST, note=w.note(ts="x.example"))),
        ("block", "invalid", "untrusted_ts"),
    )
    yield (
        "stale",
        _scenario(w, line, proof=w.proof(HOST, note=w.note({"w1.example": w.now - 8 * DAY}))),
        ("block", "invalid", "stale_cosignature"),
    )
    yield (
        "future",
        _scenario(w, line, proof=w.proof(HOST, note=w.note({"w1.example": w.now + 3600}))),
        ("block", "invalid", "future_cosignature"),
    )
    yield (
        "quorum-2",
        _scenario(
            w,
            line,
            proof=w.proof(HOST, note=w.note({"w1.example": w.now - 60})),
            trust=w.trust(quorum=2),
        ),
        ("block", "invalid", "quorum_not_met"),
    )
    yield (
        "unknown-witness",
        _scenario(w, line, proof=w.proof(HOST, note=w.note({"w3.example": w.now - 60}))),
        ("block", "invalid", "quorum_not_met"),
    )
    other = manifest_line(_manifest(x=1))
    yield "resource-mismatch", _scenario(w, other), ("block", "invalid", "resource_hash_mismatch")
    for name, mutate in _invalid_manifests():
        m = _manifest()
        mutate(m)
        w2, line2 = _site(m)
        yield f"invalid-manifest-{name}", _scenario(w2, line2), ("block", "invalid", None)
    # wildcard and fallback
    parts = [b"one", b"two"]
    w3, line3 = _site(
        _manifest(
            wildcard_hashes=sorted(h64u(p) for p in parts),
            resource_delimiter="//",
            fallback_hashes=[h64u(b"fallback page")],
        )
    )
    yield (
        "wildcard",
        _scenario(
            w3,
            line3,
            resources=[
                (f"{ORIGIN}/b.js", "script", b"one//two"),
                (f"{ORIGIN}/c.js", "script", b"one//three"),
                (f"{ORIGIN}/x", "document", b"fallback page"),
            ],
        ),
        ("allow", "valid", None),
    )
    # tombstones and preload
    for age, nav, status, detail in (
        (2 * DAY, "allow", "tombstone", None),
        (DAY - 1, "block", "invalid", "tombstone_too_recent"),
    ):
        wt = World()
        wt.log(HOST, manifest_line(_manifest()), time_created=wt.now - 10 * DAY)
        wt.log(HOST, None, time_created=wt.now - age)
        pre = _preload(wt)
        tomb = manifest_line({"hashes": {}, "emergency_opt_out": True})
        yield (
            f"tombstone-{age}",
            _scenario(wt, tomb, resources=_resources(app=EVIL), preload=pre),
            (nav, status, detail),
        )
    wp = World()
    pre = _preload(wp)
    wp.log(HOST, manifest_line(_manifest()))
    yield (
        "preload-no-header",
        _scenario(wp, manifest_line(_manifest()), header=None, preload=pre),
        ("block", "invalid", "preload_unsatisfied"),
    )
    yield (
        "preload-stale-list",
        _scenario(wp, manifest_line(_manifest()), header=None, now=wp.now + 40 * DAY, preload=pre),
        ("allow", "none", None),
    )
    # dev-ids
    key = "ed25519:" + b64uencode(ed25519_public_key(b"\x07" * 32))
    for age, nav, status, detail in (
        (2 * DAY, "allow", "valid", None),
        (3600, "block", "invalid", "dev_ids_cooldown"),
    ):
        wd = World()
        earlier = manifest_line(_manifest(**{"dev-ids-next": [key]}))
        wd.log(HOST, earlier, time_created=wd.now - age)
        inc = wd.proof(HOST, note=wd.note({"w1.example": wd.now - age + 30}))
        current = manifest_line(
            _manifest(
                **{
                    "dev-ids": [key],
                    "dev-ids-inclusion": {"manifest": earlier.decode(), "proof": inc.to_b64()},
                }
            )
        )
        wd.log(HOST, current)
        yield f"dev-ids-{age}", _scenario(wd, current), (nav, status, detail)
    # v1
    v1 = json.dumps({"hashes": {"/a.js": h64u(APP)}}, indent=2).encode()
    s = w.scenario(
        f"{ORIGIN}/",
        'manifest="/v1.json", blocked-destinations=(script), mode=enforce, max-age=0',
        v1,
        _resources(),
    )
    yield "v1", s, ("allow", "valid", None)
    s = w.scenario(
        f"{ORIGIN}/",
        'manifest="/v1.json", blocked-destinations=(script), mode=enforce, max-age=5',
        v1,
        _resources(),
    )
    yield "v1-max-age", s, ("block", "invalid", "v1_transparency_unsupported")
    yield from _amendments(w)


def _stray_bits(text: str) -> str:
    """The same bytes with a non-zero padding bit in the last base64 character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    alphabet += "+/" if text.endswith("=") else "-_"
    i = len(text.rstrip("=")) - 1
    return text[:i] + alphabet[alphabet.index(text[i]) | 1] + text[i + 1 :]


def _amendments(w: World) -> Iterator[tuple[str, dict[str, Any], Expect]]:
    """design.md amendments of 2026-11-30 (issue 9)."""
    m = _manifest()
    m["hashes"] = {k: _stray_bits(v) for k, v in m["hashes"].items()}
    m["wasm_hashes"] = [_stray_bits(h) for h in m["wasm_hashes"]]
    wb, lineb = _site(m)
    yield "hash-padding-bits", _scenario(wb, lineb), ("allow", "valid", None)
    yield (
        "hash-padding-bits-tampered-page",
        _scenario(wb, lineb, resources=_resources(page=EVIL)),
        ("block", "valid", None),
    )
    # a checkpoint that also carries the service's own signature and other signature types
    wn, linen = _site()
    good = wn.proof(HOST)
    extra = "".join(
        f"\u2014 {name} {b64encode(blob)}\n"
        for name, blob in (
            (wn.ts, b"\x01\x02\x03\x04" + bytes(64)),
            ("other.example", bytes(100)),
            ("other.example", b"\x05"),
        )
    ).encode()
    noted = ChainHeadWithProof(good.head, good.tree_proof, good.note + extra)
    yield "note-other-signatures", _scenario(wn, linen, proof=noted), ("allow", "valid", None)
    w1 = wn.witness_names[0]
    kid = key_id(w1, wn.public_key(w1))
    bad = good.note + f"\u2014 {w1} {b64encode(kid + bytes(64))}\n".encode()
    yield (
        "note-witness-line-not-cosignature",
        _scenario(wn, linen, proof=ChainHeadWithProof(good.head, good.tree_proof, bad)),
        ("block", "invalid", "bad_cosignature"),
    )
    # v1 any_hashes: accepted at any URL of a covered destination
    v1any = json.dumps(
        {"hashes": {"/a.js": h64u(APP)}, "any_hashes": [b64encode(sha256(b"lib()"))]}, indent=2
    ).encode()
    v1res = [
        (f"{ORIGIN}/", "document", PAGE),
        (f"{ORIGIN}/a.js", "script", APP),
        (f"{ORIGIN}/vendor/lib.js", "script", b"lib()"),
        (f"{ORIGIN}/evil.js", "script", EVIL),
    ]
    yield (
        "v1-any-hashes",
        w.scenario(
            f"{ORIGIN}/",
            'manifest="/v1.json", blocked-destinations=(script), mode=enforce, max-age=0',
            v1any,
            v1res,
        ),
        ("allow", "valid", None),
    )

    # blob: and data: code is blocked when inline code is covered
    wi, linei = _site(_manifest(inline_js_hashes=[], wildcard_hashes=[h64u(APP)]))
    yield (
        "inline-covered-blob-data",
        _scenario(
            wi,
            linei,
            resources=[
                *_resources(),
                (f"blob:{ORIGIN}/0b9c11", "script", APP),
                ("data:text/javascript,app()", "worker", APP),
                ("data:image/png;base64,AAAA", "image", b"img"),
            ],
        ),
        ("allow", "valid", None),
    )

    # redirects: looked up by request_url (before any redirect), judged on the final bytes
    wr, liner = _site()
    s = _scenario(wr, liner)
    s["resources"] = [
        {**r, "request_url": f"{ORIGIN}/a.js", "url": "https://cdn.example/a.js"}
        for r in s["resources"]
        if r["destination"] == "script"
    ] + [
        {
            "url": f"{ORIGIN}/a.js",
            "request_url": f"{ORIGIN}/new.js",
            "destination": "script",
            "body": b64encode(APP),
        }
    ]
    yield "redirected-fetches", s, ("allow", "valid", None)

    # canonical URLs: WHATWG serialization of keys and request URLs; v1 keys vs document URL
    wu, lineu = _site(_manifest(hashes={f"{ORIGIN}/%C3%A4/a.js?q=%C3%B6%20x": h64u(APP)}))
    yield (
        "whatwg-request-url",
        _scenario(
            wu,
            lineu,
            resources=[
                (f"{ORIGIN}/\u00e4/a.js?q=\u00f6 x", "script", APP),
                ("https://GEN.example:443/x/../%C3%A4/a.js?q=%C3%B6%20x#f", "script", APP),
                (f"{ORIGIN}/\u00e4/a.js?q=\u00f6", "script", APP),
            ],
        ),
        ("allow", "valid", None),
    )
    wk, linek = _site(_manifest(hashes={f"{ORIGIN}/\u00e4.js": h64u(APP)}))
    yield "whatwg-raw-key", _scenario(wk, linek), ("block", "invalid", "non_canonical_url")
    v1doc = json.dumps({"hashes": {"a.js": h64u(APP)}}).encode()
    yield (
        "v1-relative-to-document",
        w.scenario(
            f"{ORIGIN}/dir/page.html",
            'manifest="/v1.json", blocked-destinations=(script), mode=enforce, max-age=0',
            v1doc,
            [(f"{ORIGIN}/dir/a.js", "script", APP), (f"{ORIGIN}/a.js", "script", APP)],
        ),
        ("allow", "valid", None),
    )


def _preload(world: World) -> bytes:
    line = json.dumps(
        {
            "version": 1,
            "issued": world.now - DAY,
            "expires": world.now + 10 * DAY,
            "entries": {HOST: {"transparency": True, "dev-ids": False}},
        }
    ).encode()
    world.log("preload.example", line)
    return world.response(line, world.proof("preload.example"))


def _invalid_manifests() -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    return [
        ("relative-key", lambda m: m["hashes"].update({"/x": h64u(b"x")})),
        ("padded-hash", lambda m: m["hashes"].update({f"{ORIGIN}/y": b64encode(bytes(32))})),
        (
            "unsorted",
            lambda m: m.update(wasm_hashes=sorted([h64u(b"1"), h64u(b"2")], reverse=True)),
        ),
        ("opt-out-type", lambda m: m.update(emergency_opt_out=1)),
        ("no-hashes", lambda m: m.pop("hashes")),
    ]
