"""``decide``: the whole client decision as one pure function.

Inputs are a scenario (see :mod:`verifier.scenario`); the output is the verdict::

    {"navigation": "allow" | "block",
     "manifest": {"status": "none" | "valid" | "invalid" | "tombstone",
                  "reason": null | spec reason, "detail": null | specific code},
     "resources": [{"url": ..., "allowed": bool, "reason": null | spec reason}]}

The extension gathers these inputs and applies the verdict; nothing else decides.
:func:`evaluate_manifest` is the manifest half, which the extension also uses on its own
(to judge a manifest once and then check each resource as it arrives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier import urls
from verifier.check import check_fetch_digest, is_covered
from verifier.devids import verify_dev_ids
from verifier.errors import ProofError, WaictError
from verifier.header import Policy, parse_policy
from verifier.manifest import Manifest, parse_manifest_response
from verifier.preload import PreloadEntry, PreloadList, usable_preload_list
from verifier.scenario import Scenario, parse_scenario
from verifier.transparency import ProvenHead, verify_logged
from verifier.trust import TrustConfig

# Spec reasons for manifest-level failures
MANIFEST_UNAVAILABLE = "manifest_unavailable"
INVALID_MANIFEST = "invalid_manifest"
INVALID_TRANSPARENCY_PROOF = "invalid_transparency_proof"


@dataclass
class ManifestVerdict:
    """The manifest half of a decision."""

    status: str  # none | valid | invalid | tombstone
    reason: str | None = None
    detail: str | None = None
    message: str | None = None
    policy: Policy | None = None
    manifest: Manifest | None = None
    proven: ProvenHead | None = None
    preload: PreloadEntry | None = None
    dev_ids_cosignatures: tuple[int, ...] = field(default_factory=tuple)

    @property
    def enforcing(self) -> bool:
        """Failures block: enforce mode, or a preloaded host (which is always enforced)."""
        if self.preload is not None:
            return True
        return self.policy is not None and self.policy.enforcing

    @property
    def blocks_navigation(self) -> bool:
        return self.status == "invalid" and self.enforcing

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "detail": self.detail}


def _invalid(reason: str, detail: str, message: str, **kw: Any) -> ManifestVerdict:
    return ManifestVerdict("invalid", reason, detail, message, **kw)


def _reason_for(exc: WaictError) -> str:
    return INVALID_TRANSPARENCY_PROOF if isinstance(exc, ProofError) else INVALID_MANIFEST


def evaluate_manifest(
    *,
    url: str,
    header: str | None,
    manifest_response: bytes | None,
    trust: TrustConfig,
    now: int,
    preload_list: PreloadList | None = None,
) -> ManifestVerdict:
    """Judge the navigation's header and manifest response (and the preload rule)."""
    try:
        host: str | None = urls.tree_host(url)
    except WaictError:
        host = None  # a URL we cannot read cannot be preloaded, nor judged below
    preload = preload_list.lookup(host) if preload_list is not None and host else None

    policy: Policy | None
    try:
        policy = parse_policy(header) if header is not None else None
    except WaictError:
        policy = None
    if policy is None:
        if preload is not None:
            return _invalid(
                INVALID_MANIFEST,
                "preload_unsatisfied",
                f"{host} is on the preload list but sent no valid WAICT header",
                preload=preload,
            )
        return ManifestVerdict("none")

    kw: dict[str, Any] = {"policy": policy, "preload": preload}
    if host is None:
        return _invalid(
            INVALID_MANIFEST, "invalid_url", f"cannot read the page URL {url[:100]!r}", **kw
        )
    if manifest_response is None:
        return _invalid(MANIFEST_UNAVAILABLE, "manifest_unavailable", "no manifest response", **kw)
    try:
        response = parse_manifest_response(manifest_response, url, v1=policy.is_v1)
    except WaictError as exc:
        return _invalid(_reason_for(exc), exc.detail, str(exc), **kw)
    manifest = response.manifest
    kw["manifest"] = manifest

    if policy.is_v1:
        if policy.max_age > 0:
            return _invalid(
                INVALID_MANIFEST,
                "v1_transparency_unsupported",
                "a v1 header (blocked-destinations) is supported only with max-age=0",
                **kw,
            )
        if preload is not None:
            return _invalid(
                INVALID_MANIFEST,
                "preload_unsatisfied",
                f"{host} is preloaded but its v1 manifest carries no transparency proof",
                **kw,
            )
        return ManifestVerdict("tombstone" if manifest.tombstone else "valid", **kw)

    proven: ProvenHead | None = None
    needs_proof = policy.max_age > 0 or preload is not None
    if needs_proof:
        if not response.proof:
            if policy.max_age > 0:
                return _invalid(
                    INVALID_TRANSPARENCY_PROOF,
                    "malformed_proof",
                    "the proof line is empty but max-age is positive",
                    **kw,
                )
            return _invalid(
                INVALID_MANIFEST,
                "preload_unsatisfied",
                f"{host} is preloaded but its manifest carries no transparency proof",
                **kw,
            )
        try:
            proven = verify_logged(
                host=host,
                line=manifest.line,
                proof_text=response.proof,
                trust=trust,
                now=now,
                allow_tombstone_head=manifest.tombstone,
            )
        except WaictError as exc:
            return _invalid(_reason_for(exc), exc.detail, str(exc), **kw)
        kw["proven"] = proven

    if manifest.tombstone:
        if preload is not None:
            assert proven is not None
            if not proven.head.entry.is_tombstone:
                return _invalid(
                    INVALID_MANIFEST,
                    "preload_unsatisfied",
                    f"{host} is preloaded: an emergency opt-out needs a logged transparency "
                    "tombstone (all-zero resource hash)",
                    **kw,
                )
            age = now - proven.head.entry.time_created
            if age < trust.cooldown:
                return _invalid(
                    INVALID_MANIFEST,
                    "tombstone_too_recent",
                    f"{host} unenrolled {age} s ago; a preloaded site may leave only after "
                    f"{trust.cooldown} s",
                    **kw,
                )
        return ManifestVerdict("tombstone", **kw)

    if proven is not None and proven.head.entry.is_tombstone:
        return _invalid(
            INVALID_MANIFEST,
            "resource_hash_mismatch",
            "the log holds a transparency tombstone for this host, but the manifest is not one",
            **kw,
        )
    dev = manifest.dev
    requires_dev_ids = preload is not None and preload.dev_ids
    if (dev is not None and dev.ids is not None) or requires_dev_ids:
        try:
            kw["dev_ids_cosignatures"] = verify_dev_ids(dev, host, trust, now)
        except WaictError as exc:
            return _invalid(INVALID_MANIFEST, exc.detail, str(exc), **kw)
    return ManifestVerdict("valid", **kw)


def resource_verdict(
    verdict: ManifestVerdict,
    url: str,
    destination: str,
    body: bytes | None,
    request_url: str | None = None,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """One resource's entry in the verdict, given the manifest verdict.

    Redirects (design.md 5): the fetch is looked up by ``request_url``, the URL it was made
    for before any redirect (``url`` when not given), and judged on ``body``, the bytes
    finally delivered, or on their SHA-256 ``digest`` alone (``body`` None): then
    :class:`verifier.check.BodyNeeded` is raised when only the bytes can decide. ``url`` is
    echoed.
    """
    policy = verdict.policy
    blocked = policy.blocked_destinations if policy is not None else None
    reason: str | None = None
    if verdict.status == "invalid":
        if is_covered(destination, blocked):
            reason = verdict.reason
    elif verdict.status == "valid" and verdict.manifest is not None:
        lookup = url if request_url is None else request_url
        reason = check_fetch_digest(verdict.manifest, lookup, destination, digest, blocked, body)
    allowed = reason is None or not verdict.enforcing
    return {"url": url, "allowed": allowed, "reason": reason}


def request_url_of(resource: dict[str, Any]) -> str | None:
    """The optional ``request_url`` of a resource given as JSON (the URL the fetch was made
    for, before any redirect); raises ValueError when it is present but not a string."""
    value = resource.get("request_url")
    if value is not None and not isinstance(value, str):
        raise ValueError("a resource's request_url must be a string")
    return value


def decide_parsed(scenario: Scenario) -> dict[str, Any]:
    preload_list = usable_preload_list(scenario.preload, scenario.trust, scenario.now)
    verdict = evaluate_manifest(
        url=scenario.url,
        header=scenario.header,
        manifest_response=scenario.manifest_response,
        trust=scenario.trust,
        now=scenario.now,
        preload_list=preload_list,
    )
    resources = [
        resource_verdict(verdict, r.url, r.destination, r.body, r.request_url)
        for r in scenario.resources
    ]
    document_blocked = any(
        r.destination == "document" and not out["allowed"]
        for r, out in zip(scenario.resources, resources, strict=True)
    )
    navigation = "block" if verdict.blocks_navigation or document_blocked else "allow"
    return {"navigation": navigation, "manifest": verdict.as_json(), "resources": resources}


def decide(scenario: Any) -> dict[str, Any]:
    """The verdict for a scenario (a parsed JSON object). Raises ScenarioError if unusable."""
    return decide_parsed(parse_scenario(scenario))
