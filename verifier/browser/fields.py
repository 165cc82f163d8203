"""Reading the members of an entry point's request that several entry points share.

A request is one JSON object (see :mod:`verifier.browser.entry_points`); bytes travel as
standard base64, the clock as unix seconds (``now``), the trust settings as the scenario's
``trust`` object. A member that cannot be read raises :class:`ValueError` (or the
verifier's own :class:`~verifier.errors.WaictError`), which the entry point returns as
``{"error": ...}``.
"""

from __future__ import annotations

import time
from typing import Any

from verifier.encoding import b64decode
from verifier.errors import EncodingError
from verifier.trust import TrustConfig, parse_trust


def bytes_or_none(obj: dict[str, Any], key: str) -> bytes | None:
    """The bytes of member ``key`` (standard base64), None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return b64decode(value, what=key)
    except EncodingError as exc:
        raise ValueError(str(exc)) from None


def clock(obj: dict[str, Any]) -> int:
    """The caller's clock, member ``now`` (unix seconds); this runtime's clock when absent."""
    now = obj.get("now")
    if now is None:
        return int(time.time())
    if isinstance(now, bool) or not isinstance(now, int | float) or now < 0:
        raise ValueError("now must be unix seconds")
    return int(now)


def trust_settings(obj: dict[str, Any]) -> TrustConfig:
    """The trust settings, member ``trust`` (:func:`verifier.trust.parse_trust`)."""
    return parse_trust(obj.get("trust"))
