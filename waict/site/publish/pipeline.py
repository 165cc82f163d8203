r"""``publish`` as a pipeline of named steps::

    check_options -> build -> asset_hosts -> upload -> log -> prove -> install
                          \-> install_unlogged (--v1 / --no-log: nothing is uploaded or logged)

Each step is one function below; :func:`publish` runs them in that order.

Killed at any point, ``publish`` run again converges to one log entry per manifest: the log
step writes its intent (``intent.json`` in the state directory) before calling the service,
and a re-run that finds that entry in the log takes it as its own (checking the proof like
any other) instead of appending again; install is idempotent and removes the intent last.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from verifier.chain import ZERO_HASH, ChainNode, resource_hash
from verifier.crypto import sha256
from verifier.devids import ed25519_identity, unsigned_dev_ids
from verifier.errors import WaictError
from verifier.manifest import load_json_object
from verifier.proof import ChainHeadWithProof
from verifier.transparency import ProvenHead, verify_logged
from verifier.urls import tree_host
from waict.common.errors import SiteToolError, UnexpectedLogError
from waict.common.files import atomic_write, read_text_file
from waict.site.asset_client import upload_asset
from waict.site.http_client import make_client
from waict.site.manifest import BuiltManifest, build_manifest, encode_manifest
from waict.site.names import manifest_path
from waict.site.origins import parse_origin
from waict.site.progress import Progress
from waict.site.publish.checks import check_proof
from waict.site.publish.devids import dev_members
from waict.site.publish.enroll import enroll_or_append
from waict.site.publish.faults import crash_point
from waict.site.publish.header import MODES, build_header
from waict.site.publish.options import (
    TOMBSTONE_MEMBERS,
    AssetUpload,
    PublishOptions,
    PublishResult,
    say,
)
from waict.site.state import HistoryEntry, SiteState


def publish(opts: PublishOptions) -> PublishResult:
    """Build the line, upload it and the site's files, log it, check the proof, install what
    the site must serve (see :mod:`waict.site.publish`)."""
    target = check_options(opts)
    crash_point("check_options")
    built = build(opts, target)
    crash_point("build")
    if opts.unlogged:
        return install_unlogged(opts, target, built)
    hosts, notes = asset_hosts(opts, target)
    crash_point("asset_hosts")
    with make_client(
        timeout=opts.timeout,
        resolve=opts.resolve,
        verify_tls=opts.verify_tls,
        ca_file=opts.ca_file,
    ) as client:
        upload(opts, built, client)
        crash_point("upload")
        logged = log(opts, target, built, hosts, client)
        crash_point("log")
    proved = prove(opts, target, built, logged)
    crash_point("prove")
    return install(opts, target, built, logged, proved, [*built.warnings, *notes])


# --- what the steps hand on ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where to publish: the site's origin and its host in the tree."""

    origin: str
    host: str


@dataclass(frozen=True)
class Built:
    """The line to log: a built manifest, a tombstone, or a given one-line document."""

    line: bytes
    resource_hash: bytes
    kind: str  # manifest | line | tombstone
    manifest: BuiltManifest | None  # the built manifest (kind "manifest")
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Logged:
    """The log's answer: the proof, whether this enrolled, the asset hosts logged, and the
    head the new node follows (the log's head before the call; None for a new chain)."""

    proof: ChainHeadWithProof
    enrolled: bool
    previous: ChainNode | None
    asset_hosts: list[str]


@dataclass(frozen=True)
class Proved:
    """The proof as a browser with ``--trust`` would see it (both None without ``--trust``)."""

    proven: ProvenHead | None
    trust_error: str | None


# --- the steps -----------------------------------------------------------------------------


def check_options(opts: PublishOptions) -> Target:
    """The origin and host; refuses options that contradict each other."""
    origin = parse_origin(opts.origin)
    host = tree_host(origin + "/")
    if not opts.site_dir.is_dir():
        raise SiteToolError(f"{opts.site_dir} is not a directory")
    if opts.mode not in MODES:
        raise SiteToolError(f"--mode must be enforce or report, not {opts.mode!r}")
    exclusive = [opts.unenroll, opts.line_file is not None, opts.v1 is not None, opts.no_log]
    if sum(exclusive) > 1:
        raise SiteToolError("--unenroll, --line, --v1 and --no-log exclude each other")
    if opts.unlogged and opts.max_age != 0:
        raise SiteToolError(
            "an unlogged manifest (--v1 / --no-log) needs --max-age 0",
            "browsers demand a transparency proof whenever max-age is positive",
        )
    if not opts.unlogged and opts.ts_url is None:
        raise SiteToolError("--ts URL is required to log the manifest")
    urls = [a.url.rstrip("/") for a in opts.assets]
    if len(set(urls)) != len(urls):
        raise SiteToolError("an asset host is given twice: " + ", ".join(urls))
    if opts.sign:
        if opts.unenroll or opts.line_file is not None or opts.v1 is not None:
            raise SiteToolError(
                "--sign signs a built v2 manifest: it excludes --unenroll, --line and --v1"
            )
        if any(len(seed) != 32 for seed in opts.sign):
            raise SiteToolError("a --sign key is not a 32-byte Ed25519 seed")
    return Target(origin, host)


def build(opts: PublishOptions, target: Target) -> Built:
    """The line to log: a tombstone (``--unenroll``), the ``--line`` file, or the manifest
    built from the site's files (with the dev-ids members the history proves)."""
    if opts.unenroll:
        return Built(encode_manifest(TOMBSTONE_MEMBERS), ZERO_HASH, "tombstone", None)
    if opts.line_file is not None:
        line = read_line_file(opts.line_file)
        return Built(line, resource_hash(line), "line", None)
    extra, warnings = dev_members(opts, opts.state.history())
    built = build_manifest(
        opts.site_dir,
        target.origin,
        wasm_globs=opts.wasm_globs,
        fallback=opts.fallback,
        inline=opts.inline,
        extra=extra,
        sign=opts.sign,
        show_progress=not opts.quiet,
    )
    warnings += check_dev_sigs(opts, built.members)
    say(opts, f"manifest: {len(built.members['hashes'])} URLs, {len(built.line)} bytes")
    return Built(built.line, resource_hash(built.line), "manifest", built, tuple(warnings))


def install_unlogged(opts: PublishOptions, target: Target, built: Built) -> PublishResult:
    """Install a v1 manifest (``--v1``) or a v2 one with an empty proof (``--no-log``)."""
    assert built.manifest is not None
    line = built.line
    if opts.v1 is not None:
        body, kind = _v1_body(built.manifest), "v1"
    else:
        body, kind = line + b"\n\n", "unlogged"
    url = manifest_path(body)
    header = build_header(
        max_age=0,
        mode=opts.mode,
        manifest_url=url,
        preload=opts.header_preload,
        endpoints=opts.endpoints,
        blocked_destinations=opts.v1,
    )
    state = opts.state
    state.install(body, header)
    state.append_history(HistoryEntry(line.decode(), "", None, None, kind, int(time.time())))
    return PublishResult(
        target.host, kind, line, body, header, url, None, None, False, built.warnings
    )


def asset_hosts(opts: PublishOptions, target: Target) -> tuple[list[str], list[str]]:
    """The asset hosts to log (``--assets``, else those logged before), and a note when
    nothing is uploaded to them."""
    meta = opts.state.load_meta()
    notes: list[str] = []
    if opts.assets:
        hosts = [a.url.rstrip("/") for a in opts.assets]
    else:
        stored = meta.get("asset_hosts") if meta.get("host") == target.host else None
        hosts = list(stored) if isinstance(stored, list) else []
        if hosts:
            notes.append(
                "no --assets given: the logged asset hosts stay "
                + ", ".join(hosts)
                + ", but nothing was uploaded to them"
            )
    return sorted(set(hosts)), notes


def upload(opts: PublishOptions, built: Built, client: httpx.Client) -> None:
    """Upload the line and every file of the manifest to every asset host (``--assets``),
    one host after the other; a failure stops the publish before anything is logged."""
    for target in opts.assets:
        count = upload_all(opts, target, built.manifest, built.line, client)
        say(opts, f"uploaded {count} distinct objects to {target.url}")


def log(
    opts: PublishOptions, target: Target, built: Built, hosts: list[str], client: httpx.Client
) -> Logged:
    """Enroll or append the line's resource hash; wait for the cosigned proof."""
    proof, enrolled, previous = enroll_or_append(
        opts,
        host=target.host,
        rh=built.resource_hash,
        hosts=hosts,
        client=client,
        line=built.line.decode("utf-8"),
        kind=built.kind,
    )
    return Logged(proof, enrolled, previous, hosts)


def prove(opts: PublishOptions, target: Target, built: Built, logged: Logged) -> Proved:
    """Check the proof before anything is installed: structurally always (a failure raises),
    and with ``--trust`` as a browser would (a failure is raised after installing)."""
    check_proof(
        logged.proof,
        host=target.host,
        expected_resource_hash=built.resource_hash,
        asset_hosts=logged.asset_hosts,
        previous=logged.previous,
    )
    if opts.trust is None:
        return Proved(None, None)
    now = opts.now if opts.now is not None else int(time.time())
    try:
        proven = verify_logged(
            host=target.host,
            line=built.line,
            proof_text=logged.proof.to_b64(),
            trust=opts.trust,
            now=now,
            allow_tombstone_head=opts.unenroll,
        )
    except WaictError as exc:
        return Proved(None, f"{exc} ({exc.detail})")
    return Proved(proven, None)


def install(
    opts: PublishOptions,
    target: Target,
    built: Built,
    logged: Logged,
    proved: Proved,
    warnings: list[str],
) -> PublishResult:
    """Write the manifest response and the header into the state directory, the history
    entry and the state; then report a proof the trust configuration rejects."""
    state = opts.state
    proof, kind, line, host = logged.proof, built.kind, built.line, target.host
    body = line + b"\n" + proof.to_b64().encode("ascii") + b"\n"
    header: str | None = None
    url: str | None = None
    if kind == "line":
        state.ensure()
        atomic_write(state.manifest_file, body)
        if state.header_file.exists():
            os.unlink(state.header_file)  # a logged line is not a manifest: serve no header
    else:
        url = manifest_path(body)
        header = build_header(
            max_age=opts.max_age,
            mode=opts.mode,
            manifest_url=url,
            preload=opts.header_preload,
            endpoints=opts.endpoints,
        )
        state.install(body, header)
    crash_point("install:files")
    history = state.history()
    if not history or (history[-1].proof, history[-1].line) != (proof.to_b64(), line.decode()):
        state.append_history(  # once, also when an interrupted install is finished
            HistoryEntry(
                line.decode("utf-8"),
                proof.to_b64(),
                proof.head.position,
                proof.head.entry.time_created,
                kind,
                int(time.time()),
            )
        )
    crash_point("install:history")
    state.save_meta(
        {
            "host": host,
            "origin": target.origin,
            "ts": opts.ts_url,
            "asset_hosts": logged.asset_hosts,
            "head": SiteState.encode_head(proof.head),
            "kind": kind,
            "manifest_path": url,
            "mode": opts.mode,
            "max_age": opts.max_age,
        }
    )
    crash_point("install:meta")
    state.clear_intent()  # last: the append is recorded as ours
    if proved.trust_error is not None:
        raise UnexpectedLogError(
            f"{host} is logged (position {proof.head.position}) and installed, but the proof "
            f"does not verify against the trust configuration: {proved.trust_error}",
            "browsers with this trust configuration will reject the manifest; check the "
            "witnesses and the trust file",
        )
    return PublishResult(
        host, kind, line, body, header, url, proof, proved.proven, logged.enrolled, tuple(warnings)
    )


# --- helpers of the steps ------------------------------------------------------------------


def read_line_file(path: Path) -> bytes:
    """A one-line JSON object from a file (one trailing newline allowed)."""
    text = read_text_file(path, "line file")
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if "\n" in text or "\r" in text:
        raise SiteToolError(
            f"{path} has more than one line", "a logged resource is one line of compact JSON"
        )
    try:
        load_json_object(text, str(path))
    except WaictError as exc:
        raise SiteToolError(str(exc)) from None
    return text.encode("utf-8")


def upload_all(
    opts: PublishOptions,
    target: AssetUpload,
    built: BuiltManifest | None,
    line: bytes,
    client: httpx.Client,
) -> int:
    items: list[tuple[str, Path | None, bytes | None]] = [("manifest line", None, None)]
    if built is not None:
        items += [(f.rel, opts.site_dir / f.rel, f.digest) for f in built.files]
    progress = None if opts.quiet else Progress(f"uploading to {target.url}", len(items))
    seen: set[bytes] = set()
    for name, path, listed in items:
        if path is None:
            data = line
        else:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SiteToolError(f"cannot read {path}: {exc}") from None
        digest = sha256(data)
        if listed is not None and digest != listed:
            raise SiteToolError(
                f"{path} changed while publishing (after it was hashed)",
                "publish again once the build has finished writing files",
            )
        if digest not in seen:
            seen.add(digest)
            upload_asset(target.url, target.token, data, client=client)
        if progress:
            progress.step(name)
    return len(seen)


def check_dev_sigs(opts: PublishOptions, members: dict[str, Any]) -> list[str]:
    """The shipped dev-sigs plugin's rule (:func:`verifier.devids.unsigned_dev_ids`) on the
    built manifest: with ``--sign``, an ``ed25519:`` dev-id left unsigned is an error (the
    plugin would block the site); without, a warning. Returns the warnings."""
    try:
        unsigned = unsigned_dev_ids(members)
    except WaictError as exc:
        raise SiteToolError(f"the built manifest's developer members: {exc}") from None
    warnings: list[str] = []
    signed = [ed25519_identity(seed) for seed in opts.sign]
    ids = members.get("dev-ids") or []
    for identity in signed:
        if identity not in ids:
            warnings.append(
                f"signed as {identity}, which is not in dev-ids: the dev-sigs plugin checks "
                "only the signatures of the dev-ids"
            )
    if unsigned and opts.sign:
        raise SiteToolError(
            "no valid --sign key for dev-ids "
            + ", ".join(unsigned)
            + " (signed as "
            + ", ".join(signed)
            + ")",
            "pass --sign with the key file of each ed25519 dev-id: browsers with the dev-sigs "
            "plugin block a manifest whose dev-ids are not all signed",
        )
    if unsigned:
        warnings.append(
            "dev-ids " + ", ".join(unsigned) + " are not signed: browsers with the dev-sigs "
            "plugin block this manifest (sign it with --sign KEYFILE)"
        )
    return warnings


def _v1_body(built: BuiltManifest) -> bytes:
    """A v1 manifest body: one JSON object, keys relative to the origin, padded base64."""
    import base64

    hashes: dict[str, str] = {}
    for url, value in built.members["hashes"].items():
        path = url[len(built.origin) :]
        pad = "=" * (-len(value) % 4)
        hashes[path] = base64.b64encode(base64.urlsafe_b64decode(value + pad)).decode()
    return (json.dumps({"hashes": hashes}, indent=4, sort_keys=True) + "\n").encode()
