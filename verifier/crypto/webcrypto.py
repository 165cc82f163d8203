"""Ed25519 verification through the browser's WebCrypto (``crypto.subtle``), for Pyodide.

WebCrypto is asynchronous and the verifier is synchronous, so each verify blocks on the
promise with :func:`pyodide.ffi.run_sync`, which uses JavaScript Promise Integration
(JSPI; ``WebAssembly.Suspending``, on by default in Chromium 137+, and so in the extension's
service worker). ``run_sync`` works only when the Python call was entered through a
promising call (``PyCallable.callPromising`` / ``runPythonAsync``): the extension calls
every entry point that way. Where ``run_sync`` is not available
(:func:`pyodide.ffi.can_run_sync` is false at the time of the call) the backend answers
with the pure-Python backend instead: same verdicts, slower, and counted as a fallback
(:data:`verifier.crypto.COUNTERS`), never silent.

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
from collections.abc import Sequence
from typing import Any

from verifier.crypto import record, record_fallback
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


class NeedsPromisingCall(BaseException):
    """Raised instead of a pure-Python fallback when ``defer_to_promising`` is set and JSPI
    is unusable (a plain call): the caller (python.js) makes the same call again as a
    promising one. A ``BaseException``, so no ``except Exception`` on the way swallows it."""


class WebCryptoBackend:
    """Ed25519 verify via ``crypto.subtle`` (JSPI), gated by the pure backend (module doc).

    Every answer is counted in :data:`verifier.crypto.COUNTERS` under the backend that gave
    it (``webcrypto`` or ``pure``), and every time the pure backend answers instead of
    WebCrypto the reason is counted too (``record_fallback``): ``no_webcrypto`` (not in a
    browser), ``no_jspi`` (``run_sync`` unusable: not inside a promising call),
    ``reference_key`` (a key the module doc leaves to the reference), ``import_key_error``
    and ``verify_error`` (WebCrypto failed; the message is kept). ``self.stats`` keeps the
    per-instance ``webcrypto`` / ``reference`` split.
    """

    name = "webcrypto"
    counts_itself = True
    #: set by python.js around a plain (not promising) call: a verify then raises
    #: NeedsPromisingCall (the call is made again, promising) instead of falling back
    defer_to_promising = False

    def __init__(self, subtle: Any = None) -> None:
        self._pure = PureBackend()
        self._keys: OrderedDict[bytes, Any] = OrderedDict()
        self.stats = {"webcrypto": 0, "reference": 0}
        try:
            from pyodide.ffi import run_sync, to_js  # type: ignore[import-not-found]
        except ImportError:  # CPython: no browser here
            self._run_sync: Any = None
            self._to_js: Any = None
            self._subtle: Any = None
            return
        if subtle is None:
            import js  # type: ignore[import-not-found]

            subtle = js.crypto.subtle
        self._subtle = subtle
        # run_sync is taken as is: whether it can run is asked at each call (can_run_sync is
        # false while this object is built by a plain runPython, true inside callPromising)
        self._run_sync = run_sync
        self._to_js = to_js

    @property
    def available(self) -> bool:
        """True when verifies really go to WebCrypto (JSPI present, inside a promising call)."""
        return self._unavailable_reason() is None

    def _unavailable_reason(self) -> str | None:
        if self._subtle is None or self._run_sync is None:
            return "no_webcrypto"
        try:
            from pyodide.ffi import can_run_sync
        except ImportError:  # pragma: no cover - _subtle is only set under Pyodide
            return "no_webcrypto"
        return None if can_run_sync() else "no_jspi"

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

    def _reference(
        self, reason: str, public_key: bytes, signature: bytes, message: bytes, detail: str = ""
    ) -> bool:
        self.stats["reference"] += 1
        record_fallback(reason, detail or None)
        ok = self._pure.verify(public_key, signature, message)
        record("ed25519_verify", "pure")
        return ok

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        reason = self._unavailable_reason()
        if reason == "no_jspi" and self.defer_to_promising:
            raise NeedsPromisingCall
        if reason is not None:
            return self._reference(reason, public_key, signature, message)
        if needs_reference(public_key):
            return self._reference("reference_key", public_key, signature, message)
        try:
            key = self._key(public_key)
        except Exception as exc:  # importKey refused the key: the reference decides
            detail = f"{type(exc).__name__}: {exc}"
            return self._reference("import_key_error", public_key, signature, message, detail)
        algorithm = self._to_js({"name": "Ed25519"}, dict_converter=_js_object)
        try:
            ok = self._run_sync(
                self._subtle.verify(algorithm, key, self._to_js(signature), self._to_js(message))
            )
        except Exception as exc:  # WebCrypto failed (not a "false"): counted, reference decides
            detail = f"{type(exc).__name__}: {exc}"
            return self._reference("verify_error", public_key, signature, message, detail)
        self.stats["webcrypto"] += 1
        record("ed25519_verify", "webcrypto")
        return bool(ok)

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """:meth:`verify` of each item, the WebCrypto ones awaited together (one wait)."""
        answers: list[bool | None] = [None] * len(items)
        pending: list[tuple[int, Any]] = []
        reason = self._unavailable_reason()
        if reason == "no_jspi" and self.defer_to_promising:
            raise NeedsPromisingCall
        if reason is None:
            for i, (public_key, signature, message) in enumerate(items):
                if needs_reference(public_key):
                    continue
                try:
                    key = self._key(public_key)
                    algorithm = self._to_js({"name": "Ed25519"}, dict_converter=_js_object)
                    promise = self._subtle.verify(
                        algorithm, key, self._to_js(signature), self._to_js(message)
                    )
                except Exception:  # verify() below falls back and counts it
                    continue
                pending.append((i, promise))
        if pending:
            import js

            try:
                results = self._run_sync(js.Promise.all(self._to_js([p for _, p in pending])))
                for (i, _), ok in zip(pending, results, strict=True):
                    answers[i] = bool(ok)
                    self.stats["webcrypto"] += 1
                    record("ed25519_verify", "webcrypto")
            except Exception as exc:  # counted; then each is verified one by one below
                record_fallback("verify_many_error", f"{type(exc).__name__}: {exc}")
        return [self.verify(*items[i]) if ok is None else ok for i, ok in enumerate(answers)]

    def sign(self, seed: bytes, message: bytes) -> bytes:
        return self._pure.sign(seed, message)

    def public_key(self, seed: bytes) -> bytes:
        return self._pure.public_key(seed)


def _js_object(entries: Any) -> Any:
    import js

    return js.Object.fromEntries(entries)
