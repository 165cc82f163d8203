"""Developer identities in a manifest: ``dev-ids-next`` announces them; ``dev-ids`` carries
them, with ``dev-ids-inclusion`` taken from the oldest honest logged manifest that
announced them."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from verifier.devids import parse_identity
from verifier.errors import WaictError
from waict.common.errors import SiteToolError
from waict.site.publish.options import PublishOptions
from waict.site.state import HistoryEntry
from waict.site.times import format_age, format_time


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
