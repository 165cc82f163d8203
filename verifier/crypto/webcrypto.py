"""Ed25519 verification through the browser's WebCrypto (``crypto.subtle``), for Pyodide.

WebCrypto is asynchronous and the verifier is synchronous, so each verify blocks on the
promise with :func:`pyodide.ffi.run_sync`, which uses JavaScript Promise Integration
(JSPI; ``WebAssembly.Suspending``, on by default in Chromium 137+, and so in the extension's
service worker). ``run_sync`` works only when the Python call was entered through a
promising call (``PyCallable.callPromising`` / ``runPythonAsync``): the extension calls
every entry point that way. Where ``run_sync`` is not available
(:func:`pyodide.ffi.can_run_sync` is false) the backend answers with the pure-Python
backend instead: same verdicts, slower.

Agreement with the ref10 rule (``verifier.crypto``): Chromium's WebCrypto is BoringSSL's
Ed25519, itself ref10: it rejects ``S >= L`` and non-canonical ``R`` and uses the
cofactorless equation. Two classes of input are not left to it, because Web platform
implementations have differed on them (the WebCrypto spec lets an implementation reject
small-order or non-canonical keys at import): public keys whose ``y`` coordinate is not
canonical (``y >= p``) and public keys of small order. For those, and for any key
``importKey`` refuses, the verdict is the pure backend's. The browser end-to-end suite
(``tests/e2e``) runs all 914 edge-case vectors and the RFC 8032 vectors through this
backend in the service worker and compares with the ref10 verdicts.

``sign`` and ``public_key`` (servers and tests only) are the pure backend's.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from verifier.crypto.pure_ed25519 import PureBackend

_P = 2**255 - 19
_KEY_CACHE_SIZE = 64


def needs_reference(public_key: bytes) -> bool:
    """Whether this key's verdict is taken from the pure backend rather than WebCrypto.

    True for a non-canonical ``y`` (``y >= p``), for an encoding that is not a curve point
    and for a point of small order (``[8]A`` is the identity).
    """
    from verifier.crypto.pure_ed25519 import _decode_point, _double

    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    if y >= _P:
        return True
    point = _decode_point(public_key)
    if point is None:
        return True
    for _ in range(3):
        point = _double(point)
    x, y_, z = point[0] % _P, point[1] % _P, point[2] % _P
    return x == 0 and y_ == z


class WebCryptoBackend:
    """Ed25519 verify via ``crypto.subtle`` (JSPI), gated by the pure backend (module doc)."""

    name = "webcrypto"

    def __init__(self, subtle: Any = None) -> None:
        self._pure = PureBackend()
        self._keys: OrderedDict[bytes, Any] = OrderedDict()
        self.stats = {"webcrypto": 0, "reference": 0}
        try:
            from pyodide.ffi import can_run_sync, run_sync, to_js  # type: ignore[import-not-found]
        except ImportError:  # CPython: no browser here
            self._run_sync: Any = None
            self._to_js: Any = None
            self._subtle: Any = None
            return
        if subtle is None:
            import js  # type: ignore[import-not-found]

            subtle = js.crypto.subtle
        self._subtle = subtle
        self._run_sync = run_sync if can_run_sync() else None
        self._to_js = to_js

    @property
    def available(self) -> bool:
        """True when verifies really go to WebCrypto (JSPI present, inside a promising call)."""
        if self._subtle is None:
            return False
        try:
            from pyodide.ffi import can_run_sync

            return bool(can_run_sync())
        except ImportError:
            return False

    def _key(self, public_key: bytes) -> Any:
        key = self._keys.get(public_key)
        if key is not None:
            self._keys.move_to_end(public_key)
            return key
        algorithm = self._to_js({"name": "Ed25519"}, dict_converter=_js_object)
        usages = self._to_js(["verify"])
        key = self._run_sync(
            self._subtle.importKey("raw", self._to_js(public_key), algorithm, False, usages)
        )
        self._keys[public_key] = key
        while len(self._keys) > _KEY_CACHE_SIZE:
            self._keys.popitem(last=False)
        return key

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        if not self.available or needs_reference(public_key):
            self.stats["reference"] += 1
            return self._pure.verify(public_key, signature, message)
        try:
            key = self._key(public_key)
        except Exception:  # importKey refused the key: the reference decides
            self.stats["reference"] += 1
            return self._pure.verify(public_key, signature, message)
        algorithm = self._to_js({"name": "Ed25519"}, dict_converter=_js_object)
        ok = self._run_sync(
            self._subtle.verify(algorithm, key, self._to_js(signature), self._to_js(message))
        )
        self.stats["webcrypto"] += 1
        return bool(ok)

    def sign(self, seed: bytes, message: bytes) -> bytes:
        return self._pure.sign(seed, message)

    def public_key(self, seed: bytes) -> bytes:
        return self._pure.public_key(seed)


def _js_object(entries: Any) -> Any:
    import js

    return js.Object.fromEntries(entries)
