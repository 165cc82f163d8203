#!/usr/bin/env python3
"""Generate tests/vectors/waict-formats.json: our known-answer vectors for the WAICT formats.

Run ONCE; the output is then kept as data (tests/unit/test_format_vectors.py recomputes every
vector from its inputs and compares bytes exactly, so a change of an encoder shows up as a
test failure, not as a silently regenerated file). Deterministic: witness keys are derived
from their names (tests/world.py ``seed_for``), Ed25519 signatures are deterministic, and
every time is fixed.

    .venv/bin/python scripts/gen_format_vectors.py            # print to stdout
    .venv/bin/python scripts/gen_format_vectors.py --write    # (re)write the vector file

The schema is described in tests/vectors/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from world import DAY, HOUR, NOW, World, h64u, manifest_line, seed_for  # noqa: E402

from verifier import chain, mpt, urls  # noqa: E402
from verifier.crypto import ed25519_public_key, sha256  # noqa: E402
from verifier.encoding import b64encode  # noqa: E402
from verifier.note import COSIGNATURE_ALGORITHM, NoteBody, cosign, key_id, signed_message  # noqa: E402
from verifier.transparency import tree_key, tree_value  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "waict-formats.json"

SITE = "site.example"
IDN_URL = "https://Bücher.Example./index.html"  # normalized to the punycode host
WITNESSES = ("w1.example", "w2.example", "w3.example")
ASSET_HOSTS = ["https://assets2.example/", "https://assets.example/", "https://assets.example/"]


def hx(data: bytes) -> str:
    return data.hex()


def build() -> dict[str, Any]:
    world = World(now=NOW, ts="ts.example", witness_names=WITNESSES, batch=42, filler=5)

    # --- a 3-node chain for SITE: two manifests, then a transparency tombstone ----------------
    lines = [
        manifest_line({"hashes": {f"https://{SITE}/": h64u(b"<!doctype html>v1")}}),
        manifest_line(
            {
                "hashes": {
                    f"https://{SITE}/": h64u(b"<!doctype html>v2"),
                    f"https://{SITE}/app.js": h64u(b"console.log(2)"),
                }
            }
        ),
        None,
    ]
    times = [NOW - 30 * DAY, NOW - 10 * DAY, NOW - 2 * DAY]
    hosts: list[list[str]] = [[], ASSET_HOSTS, []]
    nodes = []
    for line, when, ah in zip(lines, times, hosts, strict=True):
        node = world.log(SITE, line, time_created=when, asset_hosts=ah)
        nodes.append(
            {
                "position": node.entry.position,
                "time_created": node.entry.time_created,
                "manifest_line": None if line is None else line.decode(),
                "asset_hosts": ah,
                "resource_hash": hx(node.entry.resource_hash),
                "asset_hosts_hash": hx(node.entry.asset_hosts_hash),
                "entry": hx(node.entry.encode()),
                "chain_hash": hx(node.chain_hash),
                "chain_node": hx(node.encode()),
                "next_chain_hash": hx(node.next_chain_hash()),
                "tombstone": node.entry.is_tombstone,
            }
        )

    # --- a second site under an IDN host: one manifest ----------------------------------------
    idn_host = urls.tree_host(IDN_URL)
    idn_line = manifest_line({"hashes": {f"https://{idn_host}/index.html": h64u(b"hallo")}})
    world.log(idn_host, idn_line, time_created=NOW - HOUR)

    # --- asset-hosts vectors ------------------------------------------------------------------
    asset_vectors = []
    for ah in (
        [],
        ["https://a.example/"],
        ASSET_HOSTS,
        ["https://z.example/", "https://ä.example/"],
    ):
        asset_vectors.append(
            {
                "urls": ah,
                "encoded": hx(chain.encode_asset_hosts(ah)),
                "hash": hx(chain.asset_hosts_hash(ah)),
            }
        )

    # --- resource hashes ----------------------------------------------------------------------
    resource_vectors = [
        {"manifest_line": text, "hash": hx(chain.resource_hash(text.encode()))}
        for text in ("", '{"hashes":{}}', lines[0].decode())  # type: ignore[union-attr]
    ]

    # --- tree keys ----------------------------------------------------------------------------
    tree_keys = []
    for url in (
        f"https://{SITE}/",
        "https://Site.Example:8443/x",
        "https://preload.example./",
        IDN_URL,
        "https://xn--bcher-kva.example/",
    ):
        host = urls.tree_host(url)
        tree_keys.append({"url": url, "host": host, "key": hx(tree_key(host))})

    # --- witnesses ----------------------------------------------------------------------------
    witnesses = []
    for name in WITNESSES:
        seed = seed_for(name)
        pub = ed25519_public_key(seed)
        witnesses.append(
            {"name": name, "seed": hx(seed), "public_key": hx(pub), "key_id": hx(key_id(name, pub))}
        )

    # --- the tree, a note with two cosignatures, one cosignature in detail --------------------
    leaves = world.leaves()
    root = mpt.compute_root(leaves)
    body = NoteBody.for_service(world.ts, world.batch, root)
    t1, t2 = NOW - 600, NOW - 540
    sig = cosign(body, WITNESSES[0], seed_for(WITNESSES[0]), t1)
    cosignature = {
        "witness": WITNESSES[0],
        "timestamp": t1,
        "body": body.encode().decode(),
        "signed_message": signed_message(body, t1).decode(),
        "key_id": hx(sig.key_id),
        "signature": hx(sig.signature),
        "blob": b64encode(sig.blob()),
        "line": sig.line(),
    }
    note = world.note({WITNESSES[0]: t1, WITNESSES[1]: t2}, root=root)
    signed_note = {
        "ts_domain": world.ts,
        "batch_count": world.batch,
        "root": b64encode(root),
        "cosigners": [
            {"name": WITNESSES[0], "timestamp": t1},
            {"name": WITNESSES[1], "timestamp": t2},
        ],
        "text": note.encode().decode(),
    }

    # --- ChainHeadWithProof for the IDN site --------------------------------------------------
    proof = world.proof(idn_host, note=note)
    leaf_json = [{"key": hx(k), "value": hx(v)} for k, v in leaves]
    chwp = {
        "host": idn_host,
        "manifest_line": idn_line.decode(),
        "head": hx(proof.head.encode()),
        "tree_key": hx(tree_key(idn_host)),
        "tree_value": hx(tree_value(proof.head)),
        "tree_proof": hx(proof.tree_proof),
        "note": proof.note.decode(),
        "encoded_length": len(proof.encode()),
        "b64": proof.to_b64(),
        "now": NOW,
        "trust": world.trust(quorum=2, witnesses=WITNESSES[:2]),
    }

    # --- non-inclusion ------------------------------------------------------------------------
    absent = "absent.example"
    non_inclusion = [
        {
            "host": absent,
            "key": hx(tree_key(absent)),
            "root": hx(root),
            "proof": hx(mpt.prove_non_inclusion(leaves, tree_key(absent))),
            "tree": "leaves",
        },
        {
            "host": absent,
            "key": hx(tree_key(absent)),
            "root": hx(mpt.EMPTY_ROOT),
            "proof": hx(mpt.prove_non_inclusion([], tree_key(absent))),
            "tree": "empty",
        },
    ]

    return {
        "description": "WAICT format known-answer vectors (design.md sections 3.3-3.6); "
        "generated once by scripts/gen_format_vectors.py, kept as data. Bytes are lower-case "
        "hex unless a field says b64; schema in tests/vectors/README.md.",
        "constants": {
            "cosignature_algorithm": COSIGNATURE_ALGORITHM,
            "empty_root": hx(mpt.EMPTY_ROOT),
            "empty_root_is_sha256_of_empty": sha256(b"") == mpt.EMPTY_ROOT,
        },
        "chain": {"host": SITE, "nodes": nodes},
        "asset_hosts": asset_vectors,
        "resource_hash": resource_vectors,
        "tree_keys": tree_keys,
        "witnesses": witnesses,
        "tree": {"leaves": leaf_json, "root": hx(root)},
        "cosignature": cosignature,
        "signed_note": signed_note,
        "chain_head_with_proof": chwp,
        "non_inclusion": non_inclusion,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args()
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if args.write:
        OUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} characters)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
