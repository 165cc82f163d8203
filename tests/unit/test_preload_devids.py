"""Preload list, tombstone cooldown and developer-identity rules (design.md section 4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from world import DAY, HOUR, World, b64, h64u, manifest_line

from verifier import decide
from verifier.crypto import ed25519_public_key
from verifier.encoding import b64uencode

BANK = "bank.example"
DEV = "dev.example"
HEADER = 'max-age=86400, mode=enforce, manifest="/m"'
PAGE = b"<!doctype html><title>bank</title><script src=/app.js></script>"
APP = b"console.log('bank');"
EVIL = b"steal()"


def page_manifest(host: str, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "hashes": {f"https://{host}/": h64u(PAGE), f"https://{host}/app.js": h64u(APP)}
    }
    obj.update(extra)
    return obj


def resources(host: str, app: bytes = APP) -> list[tuple[str, str, bytes]]:
    return [(f"https://{host}/", "document", PAGE), (f"https://{host}/app.js", "script", app)]


def preload_body(
    world: World,
    entries: dict[str, dict[str, bool]],
    *,
    issued: int | None = None,
    expires: int | None = None,
    cosigners: Any = None,
) -> bytes:
    issued = world.now - DAY if issued is None else issued
    expires = world.now + 14 * DAY if expires is None else expires
    line = json.dumps(
        {"version": 1, "issued": issued, "expires": expires, "entries": entries},
        separators=(",", ":"),
    ).encode()
    world.log("preload.example", line)
    return world.response(line, world.proof("preload.example", note=world.note(cosigners)))


LISTED = {
    BANK: {"transparency": True, "dev-ids": False},
    DEV: {"transparency": True, "dev-ids": True},
}


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    return decide(json.loads(json.dumps(scenario)))


def bank_scenario(
    world: World,
    preload: bytes | None,
    *,
    header: str | None = HEADER,
    response: bytes | str | None = "log",
    app: bytes = APP,
    **kw: Any,
) -> dict[str, Any]:
    if response == "log":
        line = manifest_line(page_manifest(BANK))
        world.log(BANK, line)
        response = world.response(line, world.proof(BANK))
    assert not isinstance(response, str)
    return world.scenario(
        f"https://{BANK}/", header, response, resources(BANK, app), preload=preload, **kw
    )


# --- preload list -------------------------------------------------------------------------


def test_preloaded_host_with_valid_proof() -> None:
    world = World()
    verdict = run(bank_scenario(world, preload_body(world, LISTED)))
    assert verdict["navigation"] == "allow" and verdict["manifest"]["status"] == "valid"


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_preloaded_host_without_header_is_blocked(mode: str) -> None:
    world = World()
    verdict = run(bank_scenario(world, preload_body(world, LISTED), header=None))
    assert verdict["navigation"] == "block"
    assert verdict["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": "preload_unsatisfied",
    }
    assert all(not r["allowed"] for r in verdict["resources"])


def test_preloaded_host_cannot_escape_with_max_age_zero_and_no_proof() -> None:
    world = World()
    line = manifest_line(page_manifest(BANK))
    verdict = run(
        bank_scenario(
            world,
            preload_body(world, LISTED),
            header='max-age=0, mode=report, manifest="/m"',
            response=world.response(line, ""),
        )
    )
    assert verdict["navigation"] == "block"
    assert verdict["manifest"]["detail"] == "preload_unsatisfied"


def test_preloaded_host_in_report_mode_with_bad_proof_is_still_blocked() -> None:
    world = World()
    line = manifest_line(page_manifest(BANK))
    world.log(BANK, line)
    proof = world.proof(BANK, note=world.note(ts="evil.example"))
    verdict = run(
        bank_scenario(
            world,
            preload_body(world, LISTED),
            header='max-age=60, mode=report, manifest="/m"',
            response=world.response(line, proof),
        )
    )
    assert verdict["navigation"] == "block"
    assert verdict["manifest"]["detail"] == "untrusted_ts"


def test_preloaded_host_with_v1_header_is_blocked() -> None:
    world = World()
    header = 'manifest="/m.json", blocked-destinations=(script), mode=enforce, max-age=0'
    body = json.dumps(page_manifest(BANK)).encode()
    verdict = run(bank_scenario(world, preload_body(world, LISTED), header=header, response=body))
    assert verdict["navigation"] == "block"
    assert verdict["manifest"]["detail"] == "preload_unsatisfied"


@pytest.mark.parametrize(
    "kw",
    [
        {"issued": 1790000000 - 31 * DAY, "expires": 1790000000 + DAY},  # 30 days after issue
        {"issued": 1790000000 - 2 * DAY, "expires": 1790000000 - 1},  # expired
        {"cosigners": {"w1.example": 1790000000 - 8 * DAY}},  # fails verification: stale
        {"cosigners": {}},  # fails verification: no quorum
    ],
)
def test_stale_or_unverified_preload_list_is_not_enforced(kw: dict[str, Any]) -> None:
    world = World()
    verdict = run(bank_scenario(world, preload_body(world, LISTED, **kw), header=None))
    assert verdict["manifest"]["status"] == "none"
    assert verdict["navigation"] == "allow"


def test_preload_list_must_be_proven_for_the_preload_domain() -> None:
    world = World()
    body = preload_body(world, LISTED)
    trust = world.trust(preload_domain="other-vendor.example")
    verdict = run(bank_scenario(world, body, header=None, trust=trust))
    assert verdict["manifest"]["status"] == "none"


def test_preload_entry_without_transparency_is_not_enforced() -> None:
    world = World()
    body = preload_body(world, {BANK: {"transparency": False, "dev-ids": False}})
    assert run(bank_scenario(world, body, header=None))["manifest"]["status"] == "none"


def test_preload_list_tampered_after_logging_is_not_used() -> None:
    world = World()
    body = preload_body(world, LISTED)
    tampered = body.replace(b'"bank.example"', b'"bonk.example"')
    assert run(bank_scenario(world, tampered, header=None))["manifest"]["status"] == "none"
    assert run(bank_scenario(world, body, header=None))["manifest"]["status"] == "invalid"


# --- tombstones ---------------------------------------------------------------------------

TOMBSTONE = manifest_line({"hashes": {}, "emergency_opt_out": True})


def tombstone_scenario(
    world: World, preload: bytes | None, *, age: int, zero_head: bool = True
) -> dict[str, Any]:
    world.log(BANK, manifest_line(page_manifest(BANK)), time_created=world.now - 30 * DAY)
    world.log(BANK, None if zero_head else TOMBSTONE, time_created=world.now - age)
    response = world.response(TOMBSTONE, world.proof(BANK))
    return world.scenario(
        f"https://{BANK}/", HEADER, response, resources(BANK, EVIL), preload=preload
    )


def test_preloaded_old_tombstone_lets_the_site_leave() -> None:
    world = World()
    verdict = run(tombstone_scenario(world, preload_body(world, LISTED), age=DAY))
    assert verdict["manifest"]["status"] == "tombstone"
    assert verdict["navigation"] == "allow"
    assert all(r["allowed"] for r in verdict["resources"])


def test_preloaded_fresh_tombstone_is_blocked() -> None:
    world = World()
    verdict = run(tombstone_scenario(world, preload_body(world, LISTED), age=DAY - 1))
    assert verdict["navigation"] == "block"
    assert verdict["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": "tombstone_too_recent",
    }


def test_preloaded_integrity_tombstone_needs_a_transparency_tombstone() -> None:
    world = World()
    verdict = run(
        tombstone_scenario(world, preload_body(world, LISTED), age=10 * DAY, zero_head=False)
    )
    assert verdict["navigation"] == "block"
    assert verdict["manifest"]["detail"] == "preload_unsatisfied"


@pytest.mark.parametrize("zero_head", [True, False])
def test_unlisted_host_tombstone_simply_leaves(zero_head: bool) -> None:
    world = World()
    verdict = run(tombstone_scenario(world, None, age=60, zero_head=zero_head))
    assert verdict["manifest"]["status"] == "tombstone"
    assert verdict["navigation"] == "allow"


def test_transparency_tombstone_head_with_a_normal_manifest_is_invalid() -> None:
    world = World()
    line = manifest_line(page_manifest(BANK))
    world.log(BANK, line)
    world.log(BANK, None)
    verdict = run(
        world.scenario(
            f"https://{BANK}/", HEADER, world.response(line, world.proof(BANK)), resources(BANK)
        )
    )
    assert verdict["manifest"]["detail"] == "resource_hash_mismatch"
    assert verdict["navigation"] == "block"


# --- developer identities -----------------------------------------------------------------

DEV_KEY = "ed25519:" + b64uencode(ed25519_public_key(b"\x05" * 32))
DEV_KEY2 = "ed25519:" + b64uencode(ed25519_public_key(b"\x06" * 32))


def dev_world(
    *,
    committed_age: int = 2 * DAY,
    earlier_extra: dict[str, Any] | None = None,
    current_ids: list[str] | None = None,
    cosign_age: int | None = None,
    include: bool = True,
) -> tuple[World, dict[str, Any]]:
    world = World()
    earlier = page_manifest(DEV, **{"dev-ids": [DEV_KEY]}, **(earlier_extra or {}))
    earlier_line = manifest_line(earlier)
    t = world.now - committed_age
    world.log(DEV, earlier_line, time_created=t)
    cosign_t = t + 60 if cosign_age is None else world.now - cosign_age
    earlier_proof = world.proof(
        DEV, note=world.note({"w1.example": cosign_t, "w2.example": cosign_t})
    )
    current: dict[str, Any] = page_manifest(
        DEV, **{"dev-ids": current_ids if current_ids is not None else [DEV_KEY]}
    )
    if include:
        current["dev-ids-inclusion"] = {
            "manifest": earlier_line.decode(),
            "proof": earlier_proof.to_b64(),
        }
    line = manifest_line(current)
    world.log(DEV, line)
    scenario = world.scenario(
        f"https://{DEV}/", HEADER, world.response(line, world.proof(DEV)), resources(DEV)
    )
    return world, scenario


def test_dev_ids_committed_two_days_ago_are_valid() -> None:
    _, scenario = dev_world()
    verdict = run(scenario)
    assert verdict["manifest"]["status"] == "valid" and verdict["navigation"] == "allow"


def test_dev_ids_inside_the_cooldown_are_invalid() -> None:
    _, scenario = dev_world(committed_age=HOUR)
    verdict = run(scenario)
    assert verdict["manifest"] == {
        "status": "invalid",
        "reason": "invalid_manifest",
        "detail": "dev_ids_cooldown",
    }
    assert verdict["navigation"] == "block"


def test_dev_ids_cooldown_uses_cosignature_times_and_ignores_max_age() -> None:
    _, ok = dev_world(committed_age=60 * DAY)  # far beyond the 7-day maximum cosignature age
    assert run(ok)["manifest"]["status"] == "valid"
    _, young = dev_world(committed_age=2 * DAY, cosign_age=DAY - 1)
    assert run(young)["manifest"]["detail"] == "dev_ids_cooldown"


def test_dev_ids_without_inclusion_are_invalid() -> None:
    _, scenario = dev_world(include=False)
    assert run(scenario)["manifest"]["detail"] == "dev_ids_missing"


def test_changed_dev_ids_need_an_announcement() -> None:
    _, scenario = dev_world(current_ids=[DEV_KEY2])
    assert run(scenario)["manifest"]["detail"] == "dev_ids_mismatch"
    _, announced = dev_world(current_ids=[DEV_KEY2], earlier_extra={"dev-ids-next": [DEV_KEY2]})
    assert run(announced)["manifest"]["status"] == "valid"


def test_empty_dev_ids_still_need_proof() -> None:
    _, scenario = dev_world(current_ids=[])
    assert run(scenario)["manifest"]["detail"] == "dev_ids_mismatch"


def test_dev_ids_inclusion_for_another_host_fails() -> None:
    world, scenario = dev_world()
    body = json.loads(__import__("base64").b64decode(scenario["manifest_response"]).split(b"\n")[0])
    other_line = manifest_line(page_manifest("other.example", **{"dev-ids": [DEV_KEY]}))
    world.log("other.example", other_line, time_created=world.now - 3 * DAY)
    body["dev-ids-inclusion"] = {
        "manifest": other_line.decode(),
        "proof": world.proof(
            "other.example", note=world.note({"w1.example": world.now - 3 * DAY})
        ).to_b64(),
    }
    line = manifest_line(body)
    world.log(DEV, line)
    scenario["manifest_response"] = b64(world.response(line, world.proof(DEV)))
    assert run(scenario)["manifest"]["detail"] == "dev_ids_unproven"


@pytest.mark.parametrize(
    "bad",
    [["ed25519:short"], ["rsa:abc"], [DEV_KEY2, DEV_KEY][:: 1 if DEV_KEY2 > DEV_KEY else -1], "x"],
)
def test_malformed_dev_ids_make_the_manifest_invalid(bad: Any) -> None:
    world = World()
    line = manifest_line(page_manifest(DEV, **{"dev-ids": bad}))
    world.log(DEV, line)
    verdict = run(
        world.scenario(
            f"https://{DEV}/", HEADER, world.response(line, world.proof(DEV)), resources(DEV)
        )
    )
    assert verdict["manifest"]["status"] == "invalid"
    assert verdict["manifest"]["reason"] == "invalid_manifest"


def test_preload_requiring_dev_ids() -> None:
    world = World()
    body = preload_body(world, LISTED)
    line = manifest_line(page_manifest(DEV))
    world.log(DEV, line)
    verdict = run(
        world.scenario(
            f"https://{DEV}/",
            HEADER,
            world.response(line, world.proof(DEV)),
            resources(DEV),
            preload=body,
        )
    )
    assert verdict["manifest"]["detail"] == "dev_ids_missing"
    assert verdict["navigation"] == "block"


def test_dev_sigs_payload_and_signature() -> None:
    from verifier.crypto import ed25519_sign
    from verifier.devids import dev_sigs_payload, verify_dev_sig

    members = page_manifest(DEV, **{"dev-ids": [DEV_KEY], "dev-sigs": [], "dev-ids-inclusion": {}})
    payload = dev_sigs_payload(members)
    assert b"dev-sigs" not in payload and b"dev-ids-inclusion" not in payload
    assert payload.startswith(b'{"dev-ids":')  # RFC 8785 sorts keys
    sig = ed25519_sign(b"\x05" * 32, payload)
    assert verify_dev_sig(DEV_KEY, sig, payload)
    assert not verify_dev_sig(DEV_KEY2, sig, payload)
    assert not verify_dev_sig(DEV_KEY, sig, payload + b" ")
