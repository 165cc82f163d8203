"""``waict publish``: build the manifest, upload it and every asset to the asset host, log it
with the transparency service, check the proof, and install what the site must serve.

Order of operations (the service checks that you control the domain by fetching
``/.well-known/waict-enroll`` from it, so the site must be up before the first publish)::

    waict serve-site DIR --port 8443 &          # serves the tree, the header, the manifest
    waict publish DIR --origin https://site.example --ts https://ts.example \\
        --assets https://assets.example --assets-token-file assets.token

First publish (no append token in the state directory, or ``--re-enroll``): a random token is
generated, ``.well-known/waict-enroll`` = ``{"resource_hash": b64, "asset_hosts": [...],
"token_sha256": b64u}`` is written into the served tree, ``POST /enroll/<host>`` is called,
and the token is kept in the state directory (mode 0600). Later publishes call
``POST /append/<host>`` with the bearer token and ``prev`` = ``H("waict-ch" || head)``, the
head read from ``GET /leaf/<host>`` (checked against the head this state directory last saw:
a log that moved back or on without us is reported, not papered over).

The answer (``ChainHeadWithProof``) is checked before anything is installed: it must commit
to this line and these asset hosts, link to the previous head, and prove the head in the
signed root; with ``--trust`` it is also verified exactly as a browser would
(:func:`verifier.transparency.verify_logged`). Then the state directory gets the manifest
response (``line \\n b64 proof \\n``), the header, and a history entry.

Variants: ``--unenroll`` (an ``emergency_opt_out`` tombstone manifest, logged as an all-zero
resource hash: a transparency tombstone); ``--line FILE`` (log an arbitrary one-line JSON
document, e.g. a preload list, instead of a built manifest; no header is installed);
``--v1 DEST...`` (an unlogged v1 manifest with ``blocked-destinations``, max-age 0);
``--no-log`` (a v2 manifest with an empty proof line, max-age 0); ``--dev-ids``/
``--dev-ids-next`` (developer identities; ``dev-ids-inclusion`` is taken from the history).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import http_sf
import httpx

from verifier import mpt
from verifier.chain import ZERO_HASH, ChainNode, asset_hosts_hash, resource_hash
from verifier.crypto import sha256
from verifier.devids import parse_identity
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError
from verifier.header import parse_policy
from verifier.manifest import load_json_object
from verifier.note import SignedNote, parse_note
from verifier.proof import ChainHeadWithProof
from verifier.transparency import ProvenHead, tree_key, tree_value, verify_logged
from verifier.trust import TrustConfig, parse_trust
from verifier.urls import tree_host
from waict.common.commands import report_error
from waict.common.errors import SiteToolError, UnexpectedLogError
from waict.common.files import atomic_write, read_text_file
from waict.site.asset_client import read_token, upload_asset
from waict.site.http_client import make_client, parse_resolve
from waict.site.log_client import TsClient, TsHttpError
from waict.site.manifest import BuiltManifest, build_manifest, encode_manifest
from waict.site.names import WELL_KNOWN_ENROLL, default_state_dir, manifest_path
from waict.site.origins import parse_origin
from waict.site.progress import Progress, info
from waict.site.state import HistoryEntry, SiteState
from waict.site.times import format_age, format_time

if TYPE_CHECKING:
    from waict.common.commands import Subparsers

MODES = ("enforce", "report")
TOMBSTONE_MEMBERS: dict[str, Any] = {"emergency_opt_out": True, "hashes": {}}


@dataclass
class PublishOptions:
    site_dir: Path
    origin: str
    ts_url: str | None = None
    state_dir: Path | None = None
    assets_url: str | None = None
    assets_token: str | None = None
    max_age: int = 3600
    mode: str = "enforce"
    header_preload: bool = False
    endpoints: tuple[str, ...] = ()
    dev_ids: tuple[str, ...] | None = None
    dev_ids_next: tuple[str, ...] | None = None
    line_file: Path | None = None
    unenroll: bool = False
    v1: tuple[str, ...] | None = None
    no_log: bool = False
    wasm_globs: tuple[str, ...] = ()
    fallback: tuple[Path, ...] = ()
    inline: bool = False
    trust: TrustConfig | None = None
    now: int | None = None
    re_enroll: bool = False
    accept_log_head: bool = False
    timeout: float = 120.0
    resolve: dict[str, str] = field(default_factory=dict)
    verify_tls: bool = True
    quiet: bool = False

    @property
    def state(self) -> SiteState:
        return SiteState(self.state_dir or default_state_dir(self.site_dir))


@dataclass(frozen=True)
class PublishResult:
    host: str
    kind: str  # manifest | line | tombstone | v1 | unlogged
    line: bytes
    body: bytes  # the manifest response body installed (or the logged line + proof)
    header: str | None
    manifest_url: str | None
    proof: ChainHeadWithProof | None
    proven: ProvenHead | None
    enrolled: bool
    warnings: tuple[str, ...] = ()


# --- the line to log -------------------------------------------------------------------------


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


def _identities(values: Sequence[str], flag: str) -> list[str]:
    out: list[str] = []
    for value in values:
        try:
            out.append(parse_identity(value))
        except WaictError as exc:
            raise SiteToolError(f"{flag} {value!r}: {exc}") from None
    return sorted(set(out))


def _announces(line: str, ids: list[str]) -> bool:
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    if not isinstance(obj, dict):
        return False
    return any(obj.get(k) == ids for k in ("dev-ids", "dev-ids-next"))


def find_dev_ids_inclusion(history: Sequence[HistoryEntry], ids: list[str]) -> HistoryEntry | None:
    """The earliest entry of the newest unbroken run of logged manifests announcing ``ids``
    (as ``dev-ids`` or ``dev-ids-next``): its proof is the oldest honest inclusion proof."""
    found: HistoryEntry | None = None
    for entry in reversed(history):
        if entry.kind not in ("manifest",) or not entry.proof:
            if found is not None:
                break
            continue
        if _announces(entry.line, ids):
            found = entry
        elif found is not None:
            break
    return found


def dev_members(
    opts: PublishOptions, history: Sequence[HistoryEntry]
) -> tuple[dict[str, Any], list[str]]:
    members: dict[str, Any] = {}
    warnings: list[str] = []
    if opts.dev_ids_next is not None:
        members["dev-ids-next"] = _identities(opts.dev_ids_next, "--dev-ids-next")
    if opts.dev_ids is not None:
        ids = _identities(opts.dev_ids, "--dev-ids")
        entry = find_dev_ids_inclusion(history, ids)
        if entry is None:
            raise SiteToolError(
                "no earlier logged manifest of this site announced these dev-ids",
                "publish once with --dev-ids-next " + " ".join(ids or ["''"]) + " and wait for "
                "the cooldown (24 h by default) before publishing with --dev-ids",
            )
        members["dev-ids"] = ids
        members["dev-ids-inclusion"] = {"manifest": entry.line, "proof": entry.proof}
        if entry.time_created is not None:
            age = int(time.time()) - entry.time_created
            warnings.append(
                f"dev-ids proven by the manifest logged at {format_time(entry.time_created)} "
                f"({format_age(age)} ago); browsers accept them once its cosignatures are at "
                "least the cooldown (24 h by default) old"
            )
    return members, warnings


# --- header ----------------------------------------------------------------------------------


def build_header(
    *,
    max_age: int,
    mode: str,
    manifest_url: str,
    preload: bool = False,
    endpoints: Sequence[str] = (),
    blocked_destinations: Sequence[str] | None = None,
) -> str:
    """The Integrity-Policy-WAICT-v1 value, serialized by http_sf and re-parsed as a check."""
    if mode not in MODES:
        raise SiteToolError(f"mode must be enforce or report, not {mode!r}")
    if max_age < 0:
        raise SiteToolError("max-age must be >= 0")
    members: dict[str, Any] = {
        "max-age": max_age,
        "mode": http_sf.Token(mode),
        "manifest": manifest_url,
    }
    if preload:
        members["preload"] = True
    if endpoints:
        members["endpoints"] = [http_sf.Token(e) for e in endpoints]
    if blocked_destinations is not None:
        members["blocked-destinations"] = [http_sf.Token(d) for d in blocked_destinations]
    try:
        value = str(http_sf.ser(members))
        parse_policy(value)
    except (ValueError, WaictError) as exc:
        raise SiteToolError(f"cannot build the header: {exc}") from None
    return value


# --- proof checks ----------------------------------------------------------------------------


def check_proof(
    proof: ChainHeadWithProof,
    *,
    host: str,
    expected_resource_hash: bytes,
    asset_hosts: Sequence[str],
    previous: ChainNode | None,
) -> SignedNote:
    """Structural checks of a returned proof (no trust needed): commits to our resource and
    asset hosts, links to the previous head, and the tree proof places it under the root."""
    head = proof.head
    if head.entry.resource_hash != expected_resource_hash:
        raise UnexpectedLogError(
            f"the service logged resource hash {b64encode(head.entry.resource_hash)} for "
            f"{host}, not ours ({b64encode(expected_resource_hash)})",
            "do not serve this proof; check the service with `waict monitor`",
        )
    if head.entry.asset_hosts_hash != asset_hosts_hash(asset_hosts):
        raise UnexpectedLogError(f"the service logged other asset hosts for {host}")
    if previous is not None:
        if head.position != previous.position + 1:
            raise UnexpectedLogError(
                f"the new head of {host} is at position {head.position}, expected "
                f"{previous.position + 1}",
                "someone else appended to this chain: run `waict monitor`",
            )
        if head.chain_hash != previous.next_chain_hash():
            raise UnexpectedLogError(
                f"the new head of {host} does not link to the previous head",
                "the log's history was rewritten: run `waict monitor` and alert",
            )
    try:
        note = parse_note(proof.note)
        included = mpt.verify_inclusion(
            note.body.root, tree_key(host), tree_value(head), proof.tree_proof
        )
    except WaictError as exc:
        raise UnexpectedLogError(f"the returned proof is malformed: {exc}") from None
    if not included:
        raise UnexpectedLogError(
            f"the returned tree proof does not place the head of {host} under the signed root"
        )
    return note


def _check_leaf_against_state(
    leaf: ChainNode | None, last: ChainNode | None, host: str, accept: bool
) -> None:
    if last is None or leaf is None:
        if last is not None and leaf is None:
            raise UnexpectedLogError(
                f"the service has no chain for {host}, but this state directory published "
                f"position {last.position}",
                "the service lost or dropped the domain: alert its operator; to start a new "
                "chain anyway, remove state.json from the state directory and publish again",
            )
        return
    if leaf.position < last.position or (
        leaf.position == last.position and leaf.encode() != last.encode()
    ):
        raise UnexpectedLogError(
            f"the log's head of {host} (position {leaf.position}) is not the head this state "
            f"directory published (position {last.position})",
            "the log's history was rewritten or rolled back: run `waict monitor` and alert",
        )
    if leaf.position > last.position and not accept:
        raise UnexpectedLogError(
            f"the log holds {leaf.position - last.position} entr"
            f"{'y' if leaf.position - last.position == 1 else 'ies'} for {host} that this "
            "state directory did not publish",
            "run `waict monitor` to see them; if you published them from elsewhere, pass "
            "--accept-log-head",
        )


# --- uploads ---------------------------------------------------------------------------------


def upload_all(
    opts: PublishOptions, built: BuiltManifest | None, line: bytes, client: httpx.Client
) -> int:
    assert opts.assets_url is not None and opts.assets_token is not None
    items: list[tuple[str, Path | None, bytes | None]] = [("manifest line", None, None)]
    if built is not None:
        items += [(f.rel, opts.site_dir / f.rel, f.digest) for f in built.files]
    progress = None if opts.quiet else Progress("uploading to the asset host", len(items))
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
            upload_asset(opts.assets_url, opts.assets_token, data, client=client)
        if progress:
            progress.step(name)
    return len(seen)


# --- publish ---------------------------------------------------------------------------------


def _say(opts: PublishOptions, message: str) -> None:
    if not opts.quiet:
        info(message)


def _log(
    opts: PublishOptions,
    *,
    host: str,
    rh: bytes,
    hosts: list[str],
    client: httpx.Client,
) -> tuple[ChainHeadWithProof, bool, ChainNode | None]:
    """Enroll or append. Returns the proof, whether this was an enrollment, and the head the
    new node must follow (the log's head before the call; None for a new chain)."""
    assert opts.ts_url is not None
    ts = TsClient(opts.ts_url, client)
    state = opts.state
    meta = state.load_meta()
    token = None if opts.re_enroll else state.read_token()
    last = state.last_head() if meta.get("host") == host else None
    try:
        leaf_proof = ts.leaf(host)
    except TsHttpError as exc:
        if token is not None or exc.detail != "not_cosigned":
            raise
        leaf_proof = None  # a fresh service with no cosigned root yet: nothing to compare
    leaf = leaf_proof.head if leaf_proof is not None else None
    _check_leaf_against_state(leaf, last, host, opts.accept_log_head or opts.re_enroll)
    if token is None and rh == ZERO_HASH:
        raise SiteToolError(
            f"this state directory has no append token for {host}: nothing to unenroll",
            "unenrolling appends to an existing enrollment; give the --state it was published with",
        )
    if token is None:
        token = state.new_token()
        enroll_doc = {
            "resource_hash": b64encode(rh),
            "asset_hosts": hosts,
            "token_sha256": b64uencode(sha256(token.encode("utf-8"))),
        }
        enroll_path = opts.site_dir / WELL_KNOWN_ENROLL
        atomic_write(enroll_path, json.dumps(enroll_doc, separators=(",", ":")).encode() + b"\n")
        _say(opts, f"wrote {enroll_path}; asking {opts.ts_url} to enroll {host}")
        proof = _wait_on_not_cosigned(
            lambda: ts.enroll(host, timeout=opts.timeout), ts, host, rh, leaf, opts
        )
        state.write_token(token)
        return proof, True, leaf
    if leaf is None:
        raise SiteToolError(
            f"the service has no cosigned head for {host}",
            "if the domain was never enrolled there, publish with --re-enroll",
        )
    _say(opts, f"appending to {host} at {opts.ts_url} (after position {leaf.position})")
    append_token = token
    proof = _wait_on_not_cosigned(
        lambda: ts.append(
            host, append_token, rh, hosts, leaf.next_chain_hash(), timeout=opts.timeout
        ),
        ts,
        host,
        rh,
        leaf,
        opts,
    )
    return proof, False, leaf


def _wait_on_not_cosigned(
    call: Callable[[], ChainHeadWithProof],
    ts: TsClient,
    host: str,
    rh: bytes,
    previous: ChainNode | None,
    opts: PublishOptions,
) -> ChainHeadWithProof:
    """Run ``call``; when the entry was recorded but not yet cosigned (503 not_cosigned),
    poll ``/leaf`` until the head carrying our resource hash is cosigned."""
    try:
        return call()
    except TsHttpError as exc:
        if exc.detail != "not_cosigned" or exc.status != 503:
            raise
    _say(opts, "recorded, waiting for the witnesses to cosign ...")
    deadline = time.monotonic() + opts.timeout
    while time.monotonic() < deadline:
        leaf = ts.leaf(host)
        if (
            leaf is not None
            and leaf.head.entry.resource_hash == rh
            and (previous is None or leaf.head.position > previous.position)
        ):
            return leaf
        time.sleep(1.0)
    raise SiteToolError(
        f"the entry for {host} is recorded but no cosigned root includes it after "
        f"{opts.timeout:.0f} s",
        "are the witnesses running? publish again later (it appends a new entry)",
    )


def _v1_body(built: BuiltManifest) -> bytes:
    """A v1 manifest body: one JSON object, keys relative to the origin, padded base64."""
    import base64

    hashes: dict[str, str] = {}
    for url, value in built.members["hashes"].items():
        path = url[len(built.origin) :]
        pad = "=" * (-len(value) % 4)
        hashes[path] = base64.b64encode(base64.urlsafe_b64decode(value + pad)).decode()
    return (json.dumps({"hashes": hashes}, indent=4, sort_keys=True) + "\n").encode()


def publish(opts: PublishOptions) -> PublishResult:
    origin = parse_origin(opts.origin)
    host = tree_host(origin + "/")
    state = opts.state
    warnings: list[str] = []
    if not opts.site_dir.is_dir():
        raise SiteToolError(f"{opts.site_dir} is not a directory")
    if opts.mode not in MODES:
        raise SiteToolError(f"--mode must be enforce or report, not {opts.mode!r}")
    exclusive = [opts.unenroll, opts.line_file is not None, opts.v1 is not None, opts.no_log]
    if sum(exclusive) > 1:
        raise SiteToolError("--unenroll, --line, --v1 and --no-log exclude each other")
    unlogged = opts.v1 is not None or opts.no_log
    if unlogged and opts.max_age != 0:
        raise SiteToolError(
            "an unlogged manifest (--v1 / --no-log) needs --max-age 0",
            "browsers demand a transparency proof whenever max-age is positive",
        )
    if not unlogged and opts.ts_url is None:
        raise SiteToolError("--ts URL is required to log the manifest")
    if opts.assets_url is not None and opts.assets_token is None:
        raise SiteToolError("--assets needs --assets-token-file (the asset host's upload token)")

    # 1. the line
    built: BuiltManifest | None = None
    kind = "manifest"
    if opts.unenroll:
        line, rh, kind = encode_manifest(TOMBSTONE_MEMBERS), ZERO_HASH, "tombstone"
    elif opts.line_file is not None:
        line = read_line_file(opts.line_file)
        rh, kind = resource_hash(line), "line"
    else:
        extra, dev_warnings = dev_members(opts, state.history())
        warnings += dev_warnings
        built = build_manifest(
            opts.site_dir,
            origin,
            wasm_globs=opts.wasm_globs,
            fallback=opts.fallback,
            inline=opts.inline,
            extra=extra,
            show_progress=not opts.quiet,
        )
        line, rh = built.line, resource_hash(built.line)
        _say(opts, f"manifest: {len(built.members['hashes'])} URLs, {len(line)} bytes")

    # 2. unlogged variants
    if unlogged:
        assert built is not None
        if opts.v1 is not None:
            body, kind = _v1_body(built), "v1"
        else:
            body, kind = line + b"\n\n", "unlogged"
        v1_url = manifest_path(body)
        v1_header = build_header(
            max_age=0,
            mode=opts.mode,
            manifest_url=v1_url,
            preload=opts.header_preload,
            endpoints=opts.endpoints,
            blocked_destinations=opts.v1,
        )
        state.install(body, v1_header)
        state.append_history(HistoryEntry(line.decode(), "", None, None, kind, int(time.time())))
        return PublishResult(
            host, kind, line, body, v1_header, v1_url, None, None, False, tuple(warnings)
        )

    # 3. asset hosts, uploads, the log
    meta = state.load_meta()
    if opts.assets_url is not None:
        hosts = [opts.assets_url.rstrip("/")]
    else:
        stored = meta.get("asset_hosts") if meta.get("host") == host else None
        hosts = list(stored) if isinstance(stored, list) else []
        if hosts:
            warnings.append(
                "no --assets given: the logged asset hosts stay "
                + ", ".join(hosts)
                + ", but nothing was uploaded to them"
            )
    hosts = sorted(set(hosts))
    with make_client(
        timeout=opts.timeout, resolve=opts.resolve, verify_tls=opts.verify_tls
    ) as client:
        if opts.assets_url is not None:
            count = upload_all(opts, built, line, client)
            _say(opts, f"uploaded {count} distinct objects to {opts.assets_url}")
        proof, enrolled, previous = _log(opts, host=host, rh=rh, hosts=hosts, client=client)

    # 4. check before installing anything
    check_proof(
        proof,
        host=host,
        expected_resource_hash=rh,
        asset_hosts=hosts,
        previous=previous,
    )
    proven: ProvenHead | None = None
    trust_error: str | None = None
    if opts.trust is not None:
        now = opts.now if opts.now is not None else int(time.time())
        try:
            proven = verify_logged(
                host=host,
                line=line,
                proof_text=proof.to_b64(),
                trust=opts.trust,
                now=now,
                allow_tombstone_head=opts.unenroll,
            )
        except WaictError as exc:
            trust_error = f"{exc} ({exc.detail})"

    # 5. install
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
    state.append_history(
        HistoryEntry(
            line.decode("utf-8"),
            proof.to_b64(),
            proof.head.position,
            proof.head.entry.time_created,
            kind,
            int(time.time()),
        )
    )
    state.save_meta(
        {
            "host": host,
            "origin": origin,
            "ts": opts.ts_url,
            "asset_hosts": hosts,
            "head": SiteState.encode_head(proof.head),
            "kind": kind,
            "manifest_path": url,
            "mode": opts.mode,
            "max_age": opts.max_age,
        }
    )
    if trust_error is not None:
        raise UnexpectedLogError(
            f"{host} is logged (position {proof.head.position}) and installed, but the proof "
            f"does not verify against the trust configuration: {trust_error}",
            "browsers with this trust configuration will reject the manifest; check the "
            "witnesses and the trust file",
        )
    return PublishResult(
        host, kind, line, body, header, url, proof, proven, enrolled, tuple(warnings)
    )


# --- command line --------------------------------------------------------------------------


def _print_result(result: PublishResult, state: SiteState, site_dir: Path) -> None:
    out = sys.stdout
    if result.proof is not None:
        head = result.proof.head
        what = {
            "tombstone": "unenrolled (transparency tombstone)",
            "line": "logged the line",
            "manifest": "published",
        }[result.kind]
        out.write(
            f"{what}: {result.host} position {head.position}, "
            f"logged at {format_time(head.entry.time_created)}"
            + (" (new enrollment)" if result.enrolled else "")
            + "\n"
        )
        if result.proven is not None:
            names = ", ".join(c.witness for c in result.proven.counted)
            out.write(f"verified against the trust file: {result.proven.ts_domain}, {names}\n")
    else:
        out.write(f"installed an unlogged ({result.kind}) manifest for {result.host}\n")
    for warning in result.warnings:
        out.write(f"note: {warning}\n")
    if result.kind == "line":
        out.write(
            f"the logged line and its proof are in {state.manifest_file} "
            "(for a preload list: `waict preload body --state "
            f"{state.path} --out preload.waict`)\n"
        )
        return
    out.write(
        "serve on every page:\n"
        f"  Integrity-Policy-WAICT-v1: {result.header}\n"
        f"serve {state.manifest_file} at {result.manifest_url}\n"
        "  as Content-Type: application/waict-integrity-manifest\n"
        f"(`waict serve-site {site_dir}` does both, and picks up changes while running)\n"
    )


def _load_trust(path: str | None) -> TrustConfig | None:
    if path is None:
        return None
    text = read_text_file(Path(path), "trust file")
    try:
        return parse_trust(json.loads(text))
    except ValueError as exc:
        raise SiteToolError(f"trust file {path} is not JSON: {exc}") from None
    except WaictError as exc:
        raise SiteToolError(f"trust file {path}: {exc}") from None


def options_from_args(args: argparse.Namespace) -> PublishOptions:
    site_dir = Path(args.dir)
    return PublishOptions(
        site_dir=site_dir,
        origin=args.origin,
        ts_url=args.ts,
        state_dir=Path(args.state) if args.state else None,
        assets_url=args.assets,
        assets_token=read_token(Path(args.assets_token_file)) if args.assets_token_file else None,
        max_age=args.max_age,
        mode=args.mode,
        header_preload=args.header_preload,
        endpoints=tuple(args.endpoints),
        dev_ids=tuple(args.dev_ids) if args.dev_ids is not None else None,
        dev_ids_next=tuple(args.dev_ids_next) if args.dev_ids_next is not None else None,
        line_file=Path(args.line) if args.line else None,
        unenroll=args.unenroll,
        v1=tuple(args.v1) if args.v1 is not None else None,
        no_log=args.no_log,
        wasm_globs=tuple(args.wasm),
        fallback=tuple(Path(f) if os.path.isabs(f) else site_dir / f for f in args.fallback),
        inline=args.inline,
        trust=_load_trust(args.trust),
        now=args.now,
        re_enroll=args.re_enroll,
        accept_log_head=args.accept_log_head,
        timeout=args.timeout,
        resolve=parse_resolve(args.resolve),
        verify_tls=not args.insecure,
        quiet=args.quiet,
    )


def _cmd_publish(args: argparse.Namespace) -> int:
    try:
        opts = options_from_args(args)
        result = publish(opts)
    except SiteToolError as exc:
        return report_error("publish", exc)
    _print_result(result, opts.state, opts.site_dir)
    return 0


def add_publish_parser(subparsers: Subparsers) -> None:
    """Register ``waict publish``."""
    p = subparsers.add_parser(
        "publish",
        help="log a site's manifest and install the header and manifest to serve",
        description="Build the manifest of DIR, upload it and every file to the asset host, "
        "enroll (first time) or append to the transparency service, check the returned proof "
        "and write the manifest response and header into the state directory. The site must "
        "already be served (`waict serve-site DIR`) when enrolling: the service fetches "
        "/.well-known/waict-enroll from it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", help="the site's built files (what the web server serves)")
    p.add_argument("--origin", required=True, help="the site's origin, e.g. https://example.com")
    p.add_argument("--ts", default=None, help="base URL of the transparency service")
    p.add_argument("--assets", default=None, help="base URL of the asset host")
    p.add_argument("--assets-token-file", default=None, help="the asset host's upload token file")
    p.add_argument("--state", default=None, help="state directory (default DIR/.waict)")
    p.add_argument("--max-age", type=int, default=3600, help="header max-age (default 3600)")
    p.add_argument("--mode", choices=MODES, default="enforce", help="header mode")
    p.add_argument("--header-preload", action="store_true", help="add `preload` to the header")
    p.add_argument("--endpoints", nargs="+", default=[], metavar="NAME", help="report endpoints")
    p.add_argument(
        "--dev-ids",
        nargs="*",
        default=None,
        metavar="ID",
        help="developer identities (ed25519:<b64u key>); proven by an earlier "
        "manifest that announced them (see --dev-ids-next)",
    )
    p.add_argument(
        "--dev-ids-next",
        nargs="*",
        default=None,
        metavar="ID",
        help="announce the dev-ids a later manifest will carry",
    )
    p.add_argument(
        "--line",
        default=None,
        metavar="FILE",
        help="log this one-line JSON document (e.g. a preload list) instead of a built manifest",
    )
    p.add_argument(
        "--unenroll",
        action="store_true",
        help="leave WAICT: log a transparency tombstone and serve an emergency_opt_out manifest",
    )
    p.add_argument(
        "--v1",
        nargs="+",
        default=None,
        metavar="DEST",
        help="install an unlogged v1 manifest with blocked-destinations=(DEST...)",
    )
    p.add_argument(
        "--no-log",
        action="store_true",
        help="install a v2 manifest with an empty proof line (needs --max-age 0)",
    )
    p.add_argument(
        "--wasm",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="more files for wasm_hashes (*.wasm always)",
    )
    p.add_argument(
        "--fallback", nargs="+", default=[], metavar="FILE", help="documents for fallback_hashes"
    )
    p.add_argument(
        "--inline",
        action="store_true",
        help="list inline <script>/<style> hashes (unlisted inline code is blocked)",
    )
    p.add_argument(
        "--trust",
        default=None,
        metavar="TRUST.JSON",
        help="verify the returned proof as a browser with this trust would",
    )
    p.add_argument("--now", type=int, default=None, help="unix time for the --trust check")
    p.add_argument(
        "--re-enroll",
        action="store_true",
        help="enroll again with a new append token (after losing the token)",
    )
    p.add_argument(
        "--accept-log-head",
        action="store_true",
        help="accept log entries this state directory did not publish",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a proof")
    p.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST=ADDR",
        help="connect to ADDR for HOST (like curl --resolve)",
    )
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_publish)
