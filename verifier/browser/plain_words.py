"""The plain words: what happened and what the user can do, for every reason and detail code.

A verdict names its failure with a spec reason (``invalid_manifest``,
``no_manifest_match``, ...) and a more precise detail code (``stale_cosignature``,
``plugin_veto:<plugin id>``, ...). :data:`EXPLANATIONS` is the one table that turns them
into words: the block page, the popup and the reports all take their words from here
(:func:`explain`); a test checks that every code the verifier can produce has an entry.
"""

from __future__ import annotations

from typing import Any

from verifier.browser.plugins import PLUGIN_VETO

_SITE = (
    "This is a problem on the site's side, and only its operator can fix it. Try again "
    "later, or tell the site's operator."
)
_TRUST = (
    "If it keeps happening on sites that work elsewhere, check the trusted transparency "
    "services and witnesses in the WAICT options."
)
_CLOCK = "Check that this computer's clock and time zone are right, then try again."
_LATER = "Try again later. If it keeps happening, tell the site's operator."
_ATTACK = (
    "Do not enter anything on this site now. The site's operator should be told: "
    "someone may have changed the site's code."
)


#: Plain words for every reason and detail code a verdict can carry: code -> (what
#: happened, what the user can do). The one table: the block page, the popup and the
#: reports take their words from here (:func:`explain`); a test checks that every code
#: the verifier can produce has an entry.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    # spec reasons
    "manifest_unavailable": (
        "The site's integrity manifest, the list of the code it committed to, could not be "
        "fetched.",
        _LATER,
    ),
    "invalid_manifest": (
        "The site's integrity manifest, or the proof that it was publicly logged, did not "
        "pass the checks.",
        _SITE,
    ),
    "invalid_transparency_proof": (
        "The proof that the site's manifest was publicly logged is damaged or incomplete.",
        _SITE,
    ),
    "missing_from_manifest": (
        "The site loaded a file that its manifest does not list.",
        _ATTACK,
    ),
    "no_manifest_match": (
        "A file the site served is not the one it publicly committed to: its content differs "
        "from the hash in the manifest.",
        _ATTACK,
    ),
    "wasm_hash_mismatch": (
        "The site tried to run a WebAssembly module that its manifest does not list.",
        _ATTACK,
    ),
    # manifest and header details
    "invalid": ("The site's WAICT data is not valid.", _SITE),
    "invalid_url": ("The page or a manifest entry has an address WAICT cannot read.", _SITE),
    "unsupported_url": (
        "The page or a manifest entry has an address in a form WAICT cannot check exactly.",
        _SITE,
    ),
    "non_canonical_url": (
        "The site's manifest lists an address in a form WAICT does not accept (it must be "
        "the exact, canonical form).",
        _SITE,
    ),
    "bad_encoding": ("The site's manifest or proof holds badly encoded data.", _SITE),
    "invalid_header": ("The site's WAICT header is not valid.", _SITE),
    "v1_transparency_unsupported": (
        "The site uses the old WAICT v1 format together with a transparency promise, which "
        "v1 cannot keep.",
        _SITE,
    ),
    # transparency proof details
    "malformed_proof": (
        "The proof that the manifest was logged is damaged, truncated or missing.",
        _SITE,
    ),
    "malformed_chain_node": ("The site's log entry in the proof is damaged.", _SITE),
    "malformed_tree_proof": ("The log's tree proof for this site is damaged.", _SITE),
    "malformed_note": ("The signed statement of the transparency log is damaged.", _SITE),
    "transparency_failed": ("The proof that the manifest was logged does not verify.", _SITE),
    "untrusted_ts": (
        "The manifest was logged by a transparency service this browser does not trust.",
        _TRUST,
    ),
    "resource_hash_mismatch": (
        "The manifest the site served is not the one its public log entry commits to.",
        _ATTACK,
    ),
    "tree_proof_failed": (
        "The proof does not show the site's log entry in the transparency log: it does not add up.",
        _SITE,
    ),
    "chain_discontinuity": ("The site's log history does not link up.", _SITE),
    "unknown_domain_without_hosts": ("The log has no record for this site.", _SITE),
    "bad_cosignature": (
        "A witness's signature on the transparency log does not verify: the log's statement "
        "was altered or forged.",
        _ATTACK,
    ),
    "quorum_not_met": (
        "Too few trusted witnesses confirmed the transparency log's current state.",
        _TRUST,
    ),
    "stale_cosignature": (
        "The witnesses' confirmations of the transparency log are too old: the site may be "
        "serving an outdated version.",
        "Try again later. " + _CLOCK,
    ),
    "future_cosignature": (
        "The witnesses' confirmations are dated in the future.",
        _CLOCK,
    ),
    "cooldown_not_met": (
        "The proof is newer than the waiting period (cooldown) this browser requires.",
        _LATER,
    ),
    # preload list and tombstones
    "preload_unsatisfied": (
        "This site is on the WAICT preload list, so it must always prove its code, and this "
        "time it did not.",
        _ATTACK,
    ),
    "tombstone_too_recent": (
        "The site left WAICT too recently: a preloaded site may leave only after the "
        "waiting period (cooldown), so that a sudden exit cannot hide an attack.",
        _LATER,
    ),
    "invalid_preload": ("The preload list is not valid.", _TRUST),
    # developer identities
    "dev_ids_invalid": ("The site's developer identities are not valid.", _SITE),
    "dev_ids_missing": (
        "The site must name the developers who sign its code, with a proof, and it did not.",
        _SITE,
    ),
    "dev_ids_cooldown": (
        "The site changed the developers allowed to sign its code less than the waiting "
        "period (cooldown) ago.",
        "Try again after the waiting period. If you did not expect this site to change "
        "hands, tell its operator.",
    ),
    "dev_ids_mismatch": (
        "The site's developer identities are not the ones it announced earlier.",
        _ATTACK,
    ),
    "dev_ids_unproven": (
        "The proof of the site's developer identities does not verify.",
        _SITE,
    ),
    "dev_ids_malformed": ("The site's developer identities are malformed.", _SITE),
    "dev_sigs_malformed": ("The site's developer signatures are malformed.", _SITE),
    # plugins (detail plugin_veto:<plugin id>)
    PLUGIN_VETO: (
        "A WAICT plugin you installed refused this site's manifest (for example because a "
        "developer signature is missing or wrong), or did not answer in time.",
        "See the plugin's message below. If you do not want this plugin to judge sites, "
        "remove it in the WAICT options.",
    ),
    # the extension's bounds on a manifest (verifier.browser.bounds)
    "manifest_too_large": (
        "The site's integrity manifest is larger than WAICT reads, so it was not checked.",
        _SITE,
    ),
    "manifest_timeout": (
        "The site's integrity manifest did not arrive in time, so it could not be checked.",
        _LATER,
    ),
    "manifest_too_many_entries": (
        "The site's integrity manifest lists more files than WAICT checks, so it was not checked.",
        _SITE,
    ),
    # the extension's own failures
    "storage_full": (
        "WAICT's storage for this browser session is full, so it could not keep what it "
        "verified about this site, and stopped it to be safe.",
        "Close tabs you no longer need and try again. If it keeps happening, restart the browser.",
    ),
    "internal_error": (
        "WAICT could not finish checking this site, so it stopped it to be safe.",
        "Reload the page. If it keeps happening, restart the browser.",
    ),
    "no_verdict": (
        "WAICT has no verified manifest for this code's site, so it stopped it to be safe.",
        "Reload the page.",
    ),
    # errors of the settings and tools (never in a page verdict, named for completeness)
    "invalid_trust": ("The trust settings are not valid.", "Fix them in the WAICT options."),
    "crypto_error": ("A key or signature has the wrong size.", _SITE),
    "invalid_scenario": ("The scenario file is not usable.", "Fix the file."),
    "invalid_event": ("The transparency log sent an invalid event.", _SITE),
}


_UNKNOWN = (
    "WAICT could not verify this site's code, so it stopped it to be safe.",
    _SITE,
)


def explain(reason: str | None, detail: str | None = None) -> dict[str, Any] | None:
    """The plain words for a verdict's reason and detail (the detail is more precise).

    ``{"code", "text", "action"}``; None when there is nothing to explain.
    """
    if reason is None and detail is None:
        return None
    for code in (detail, reason):
        if code is None:
            continue
        base = code.split(":", 1)[0]
        if base in EXPLANATIONS:
            text, action = EXPLANATIONS[base]
            return {"code": code, "text": text, "action": action}
    text, action = _UNKNOWN
    return {"code": detail or reason, "text": text, "action": action}


def explain_items(obj: dict[str, Any]) -> dict[str, Any]:
    """:func:`explain` of each ``{"reason", "detail"}`` in ``items`` (``explain_codes``)."""
    items = obj.get("items") or []
    if not isinstance(items, list):
        raise ValueError("items must be a list of {reason, detail}")
    out = []
    for item in items:
        item = item if isinstance(item, dict) else {}
        reason, detail = item.get("reason"), item.get("detail")
        out.append(
            explain(
                reason if isinstance(reason, str) else None,
                detail if isinstance(detail, str) else None,
            )
        )
    return {"explanations": out}


def table(_obj: dict[str, Any]) -> dict[str, Any]:
    """The whole table, ``{"codes": {code: {"text", "action"}}}``."""
    return {"codes": {k: {"text": t, "action": a} for k, (t, a) in EXPLANATIONS.items()}}
