"""The client's trust configuration (``trust.json``; the scenario's ``trust`` object).

```json
{ "transparency_services": ["ts.example"],
  "witnesses": [{"name": "w1.example", "key": "<b64 32-byte ed25519>"}],
  "quorum": 1, "max_cosignature_age": 604800, "max_future_skew": 600,
  "cooldown": 86400, "preload_domain": "preload.example" }
```
Defaults: maximum cosignature age 7 days, future skew 10 minutes, cooldown 24 hours.
``quorum`` must be at least 1 (a quorum larger than the witness list is never met: every
proof then fails, closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verifier.encoding import b64decode
from verifier.errors import EncodingError, TrustConfigError, WaictError
from verifier.note import Witness
from verifier.urls import normalize_host

_NAME_RE = re.compile(r"^[\x21-\x7e]+$")

DEFAULT_MAX_COSIGNATURE_AGE = 7 * 24 * 3600
DEFAULT_MAX_FUTURE_SKEW = 600
DEFAULT_COOLDOWN = 24 * 3600


@dataclass(frozen=True)
class TrustConfig:
    transparency_services: tuple[str, ...]
    witnesses: tuple[Witness, ...]
    quorum: int
    max_cosignature_age: int = DEFAULT_MAX_COSIGNATURE_AGE
    max_future_skew: int = DEFAULT_MAX_FUTURE_SKEW
    cooldown: int = DEFAULT_COOLDOWN
    preload_domain: str | None = None

    def to_json(self) -> dict[str, Any]:
        from verifier.encoding import b64encode

        out: dict[str, Any] = {
            "transparency_services": list(self.transparency_services),
            "witnesses": [{"name": w.name, "key": b64encode(w.public_key)} for w in self.witnesses],
            "quorum": self.quorum,
            "max_cosignature_age": self.max_cosignature_age,
            "max_future_skew": self.max_future_skew,
            "cooldown": self.cooldown,
        }
        if self.preload_domain is not None:
            out["preload_domain"] = self.preload_domain
        return out


def _int(obj: dict[str, Any], key: str, default: int | None) -> int:
    value = obj.get(key, default)
    if value is None:
        raise TrustConfigError(f"trust: {key} is required")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TrustConfigError(f"trust: {key} must be a non-negative integer")
    return value


def parse_trust(obj: Any) -> TrustConfig:
    if not isinstance(obj, dict):
        raise TrustConfigError("trust must be a JSON object")
    services = obj.get("transparency_services")
    if not isinstance(services, list) or not all(isinstance(s, str) and s for s in services):
        raise TrustConfigError("trust: transparency_services must be a list of domain names")
    raw_witnesses = obj.get("witnesses")
    if not isinstance(raw_witnesses, list):
        raise TrustConfigError("trust: witnesses must be a list of {name, key}")
    witnesses: list[Witness] = []
    for w in raw_witnesses:
        if not isinstance(w, dict) or not isinstance(w.get("name"), str) or not w["name"]:
            raise TrustConfigError("trust: each witness needs a name and a key")
        name = w["name"]
        if not _NAME_RE.match(name):
            raise TrustConfigError(
                f"trust: witness name {name[:60]!r} must be printable ASCII without spaces"
            )
        try:
            key = b64decode(w.get("key"), what=f"key of witness {name}")  # type: ignore[arg-type]
        except EncodingError as exc:
            raise TrustConfigError(f"trust: {exc}") from None
        if len(key) != 32:
            raise TrustConfigError(f"trust: key of witness {name} must be 32 bytes (Ed25519)")
        witnesses.append(Witness(name, key))
    quorum = _int(obj, "quorum", None)
    if quorum < 1:
        raise TrustConfigError("trust: quorum must be at least 1")
    preload = obj.get("preload_domain")
    if preload is not None:
        if not isinstance(preload, str):
            raise TrustConfigError("trust: preload_domain must be a domain name")
        try:
            preload = normalize_host(preload)
        except WaictError:
            raise TrustConfigError(
                f"trust: preload_domain {preload[:60]!r} is not a host name"
            ) from None
    for ts in services:
        if not _NAME_RE.match(ts):
            raise TrustConfigError(f"trust: transparency service {ts[:60]!r} is not a domain name")
    return TrustConfig(
        transparency_services=tuple(services),
        witnesses=tuple(witnesses),
        quorum=quorum,
        max_cosignature_age=_int(obj, "max_cosignature_age", DEFAULT_MAX_COSIGNATURE_AGE),
        max_future_skew=_int(obj, "max_future_skew", DEFAULT_MAX_FUTURE_SKEW),
        cooldown=_int(obj, "cooldown", DEFAULT_COOLDOWN),
        preload_domain=preload,
    )
