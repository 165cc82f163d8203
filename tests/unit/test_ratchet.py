"""The header ratchet as a pure state transition (``verifier.ratchet``).

Rules (module docstring, after the integrity spec's "Upgrades and Downgrades"):
endpoints and manifest URL are always overwritten; no live state -> store the header;
report -> enforce upgrades at once; same mode only moves the expiry later; anything else
(downgrade, shorter expiry) waits until the stored expiry lapses; expired state is gone,
so ``max-age=0`` never leaves state behind.
"""

from __future__ import annotations

import pytest

from verifier.header import Policy, parse_policy
from verifier.ratchet import OriginState, apply_header, effective_mode

T = 1_790_000_000


def pol(mode: str, max_age: int, manifest: str = "/m", endpoints: tuple[str, ...] = ()) -> Policy:
    return Policy(max_age=max_age, mode=mode, manifest=manifest, endpoints=endpoints)


def state(
    mode: str, expiry: int, manifest: str = "/m", endpoints: tuple[str, ...] = ()
) -> OriginState:
    return OriginState(mode=mode, manifest=manifest, endpoints=endpoints, expiry=expiry)


def test_live_is_strictly_before_expiry() -> None:
    s = state("enforce", T + 10)
    assert s.live(T) is True
    assert s.live(T + 9) is True
    assert s.live(T + 10) is False
    assert s.live(T + 11) is False


# --- first header -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_first_header_is_stored(mode: str) -> None:
    p = pol(mode, 3600, "/.well-known/waict/m", ("main", "backup"))
    assert apply_header(None, p, T) == OriginState(
        mode, "/.well-known/waict/m", ("main", "backup"), T + 3600
    )


def test_first_header_from_parsed_value() -> None:
    p = parse_policy('max-age=86400, mode=enforce, manifest="/m", endpoints=(a "b")')
    assert apply_header(None, p, T) == OriginState("enforce", "/m", ("a", "b"), T + 86400)


# --- upgrades and downgrades ------------------------------------------------------------------


@pytest.mark.parametrize("max_age", [1, 60, 10 * 86400])
def test_report_to_enforce_upgrades_at_once(max_age: int) -> None:
    """Upgrade takes mode and expiry from the header, even when that expiry is shorter."""
    s = state("report", T + 3600)
    assert apply_header(s, pol("enforce", max_age), T + 100) == state("enforce", T + 100 + max_age)


def test_enforce_to_report_ignored_until_expiry() -> None:
    s = state("enforce", T + 3600)
    for now in (T, T + 1, T + 3599):
        after = apply_header(s, pol("report", 10 * 86400), now)
        assert after == s, now
        assert effective_mode(s, pol("report", 10 * 86400), now) == "enforce"
    # at the expiry the enforce state has lapsed: the report header is stored fresh
    assert apply_header(s, pol("report", 600), T + 3600) == state("report", T + 3600 + 600)
    assert effective_mode(s, pol("report", 600), T + 3600) == "report"


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_same_mode_extends_to_later_expiry(mode: str) -> None:
    s = state(mode, T + 3600)
    assert apply_header(s, pol(mode, 7200), T + 100) == state(mode, T + 7300)


@pytest.mark.parametrize("mode", ["enforce", "report"])
@pytest.mark.parametrize("max_age", [0, 1, 3499, 3500])
def test_same_mode_never_shortens(mode: str, max_age: int) -> None:
    """now + max_age <= stored expiry: nothing changes (3500 reaches exactly the same expiry)."""
    s = state(mode, T + 3600)
    assert apply_header(s, pol(mode, max_age), T + 100) == s


def test_repeated_headers_keep_a_sliding_window() -> None:
    s = apply_header(None, pol("enforce", 100), T)
    for step in range(1, 6):
        s = apply_header(s, pol("enforce", 100), T + 50 * step)
        assert s == state("enforce", T + 50 * step + 100)


# --- endpoints and manifest URL ---------------------------------------------------------------


def test_endpoints_and_manifest_overwritten_on_ignored_downgrade() -> None:
    s = state("enforce", T + 3600, "/old", ("old",))
    after = apply_header(s, pol("report", 60, "/new", ("new",)), T)
    assert after == state("enforce", T + 3600, "/new", ("new",))


def test_endpoints_and_manifest_overwritten_on_shorter_expiry() -> None:
    s = state("report", T + 3600, "/old", ("a", "b"))
    after = apply_header(s, pol("report", 1, "/new", ()), T)
    assert after == state("report", T + 3600, "/new", ())


def test_endpoints_and_manifest_overwritten_on_upgrade_and_extension() -> None:
    s = state("report", T + 3600, "/old", ("old",))
    assert apply_header(s, pol("enforce", 60, "/n1", ("e1",)), T) == state(
        "enforce", T + 60, "/n1", ("e1",)
    )
    s = state("enforce", T + 60, "/old", ("old",))
    assert apply_header(s, pol("enforce", 600, "/n2", ("e2",)), T) == state(
        "enforce", T + 600, "/n2", ("e2",)
    )


# --- expiry -----------------------------------------------------------------------------------


def test_expired_state_is_dropped_without_header() -> None:
    s = state("enforce", T + 10)
    assert apply_header(s, None, T + 9) == s
    assert apply_header(s, None, T + 10) is None
    assert apply_header(s, None, T + 10_000) is None
    assert effective_mode(s, None, T + 9) == "enforce"
    assert effective_mode(s, None, T + 10) is None


def test_expired_state_is_replaced_by_new_header() -> None:
    s = state("enforce", T + 10, "/old", ("old",))
    assert apply_header(s, pol("report", 5, "/new"), T + 20) == state("report", T + 25, "/new")


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_max_age_zero_creates_no_state(mode: str) -> None:
    assert apply_header(None, pol(mode, 0), T) is None
    # ... but the header itself still applies to this response
    assert effective_mode(None, pol(mode, 0), T) == mode


def test_max_age_zero_after_expired_state() -> None:
    assert apply_header(state("enforce", T), pol("report", 0), T) is None
    assert effective_mode(state("enforce", T), pol("report", 0), T) == "report"


def test_max_age_zero_cannot_shorten_live_enforce() -> None:
    s = state("enforce", T + 3600)
    assert apply_header(s, pol("enforce", 0), T) == s
    assert apply_header(s, pol("report", 0), T) == s
    assert effective_mode(s, pol("report", 0), T) == "enforce"


# --- no header --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_none_header_keeps_live_state(mode: str) -> None:
    s = state(mode, T + 3600, "/m", ("ep",))
    assert apply_header(s, None, T) == s
    assert apply_header(s, None, T + 3599) == s
    assert effective_mode(s, None, T) == mode


def test_none_header_and_no_state() -> None:
    assert apply_header(None, None, T) is None
    assert effective_mode(None, None, T) is None


# --- a whole timeline -------------------------------------------------------------------------


def test_timeline() -> None:
    s = apply_header(None, pol("report", 1000), T)
    assert s == state("report", T + 1000)
    s = apply_header(s, pol("enforce", 100), T + 10)  # upgrade at once
    assert s == state("enforce", T + 110)
    s = apply_header(s, pol("report", 5000), T + 20)  # downgrade ignored
    assert s == state("enforce", T + 110)
    s = apply_header(s, None, T + 50)  # no header: state kept
    assert s == state("enforce", T + 110)
    s = apply_header(s, pol("enforce", 200), T + 60)  # extended
    assert s == state("enforce", T + 260)
    s = apply_header(s, pol("report", 5000), T + 259)  # still live: ignored
    assert s == state("enforce", T + 260)
    s = apply_header(s, pol("report", 5000), T + 260)  # lapsed: downgrade stored
    assert s == state("report", T + 5260)
    assert apply_header(s, None, T + 5260) is None
