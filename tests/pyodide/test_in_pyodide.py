"""The verifier under Pyodide gives the expected answer on every shipped vector.

The answers are computed in ONE Pyodide run by the session fixture ``pyodide_results``
(conftest.py); each test here compares one vector's answer with its expected value.
Expected values are read here, in CPython, straight from ``tests/vectors``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from scenario_gen import generate

from verifier import decide

pytestmark = pytest.mark.pyodide

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
MPT = VECTORS / "waict-mpt"
SCENARIOS = VECTORS / "scenarios"
ED25519 = VECTORS / "ed25519" / "ed25519vectors.json"
RFC8032 = VECTORS / "rfc8032.json"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _params(cases: list[dict[str, Any]], key: str) -> list[Any]:
    return [pytest.param(i, case, id=str(case[key])) for i, case in enumerate(cases)]


ROOT_KATS = _jsonl(MPT / "mpt_root_kats.jsonl")
INCLUSION_KATS = _jsonl(MPT / "mpt_inclusion_kats.jsonl")
INVALID_KATS = _jsonl(MPT / "mpt_invalid_inclusion_kats.jsonl")
SCENARIO_NAMES = sorted(
    p.name.removesuffix(".json")
    for p in SCENARIOS.glob("*.json")
    if not p.name.endswith(".expected.json")
)
RFC8032_VECTORS: list[dict[str, Any]] = json.loads(RFC8032.read_text()) if RFC8032.exists() else []


def _cases(results: dict[str, Any], group: str, expected_count: int) -> Any:
    """The per-case answers of one group; fails on a group-level error or a count mismatch."""
    entry = results["groups"].get(group)
    assert entry is not None, f"the Pyodide run returned no {group!r} group"
    if "error" in entry:
        pytest.fail(f"{group} failed as a whole inside Pyodide:\n{entry['error']}", pytrace=False)
    cases = entry["cases"]
    assert len(cases) == expected_count, f"{group}: {len(cases)} answers for {expected_count}"
    return cases


def _ok(outcome: dict[str, Any], what: str) -> Any:
    """The value of a step that must not have raised."""
    if "error" in outcome:
        pytest.fail(f"{what} raised in Pyodide: {outcome['error']}\n{outcome.get('traceback', '')}")
    return outcome["ok"]


def test_environment(pyodide_results: dict[str, Any]) -> None:
    env = pyodide_results["environment"]
    assert env["platform"] == "emscripten"
    assert env["python"][:2] == [3, 14]
    for name, where in env["modules"].items():
        assert isinstance(where, str) and not where.startswith("ERROR"), f"{name}: {where}"
        assert "site-packages" in where, f"{name} not loaded from a wheel: {where}"


@pytest.mark.parametrize(("index", "case"), _params(ROOT_KATS, "label"))
def test_mpt_root(pyodide_results: dict[str, Any], index: int, case: dict[str, Any]) -> None:
    answer = _cases(pyodide_results, "mpt_root", len(ROOT_KATS))[index]
    assert answer["label"] == case["label"]
    assert _ok(answer["root"], "compute_root") == case["root"]


@pytest.mark.parametrize(("index", "case"), _params(INCLUSION_KATS, "label"))
def test_mpt_inclusion(pyodide_results: dict[str, Any], index: int, case: dict[str, Any]) -> None:
    answer = _cases(pyodide_results, "mpt_inclusion", len(INCLUSION_KATS))[index]
    assert answer["label"] == case["label"]
    assert _ok(answer["root"], "compute_root") == case["root"]
    assert _ok(answer["proof"], "prove_inclusion") == case["proof"]
    assert _ok(answer["verify"], "verify_inclusion") is True


@pytest.mark.parametrize(("index", "case"), _params(INVALID_KATS, "label"))
def test_mpt_invalid_rejected(
    pyodide_results: dict[str, Any], index: int, case: dict[str, Any]
) -> None:
    answer = _cases(pyodide_results, "mpt_invalid", len(INVALID_KATS))[index]
    assert answer["label"] == case["label"]
    outcome = answer["verify"]
    if "error" in outcome:
        assert outcome["waict_error"], (
            f"must return False or raise WaictError, raised {outcome['error']}\n"
            f"{outcome['traceback']}"
        )
    else:
        assert outcome["ok"] is False, f"accepted an invalid proof ({case['exploit']})"


def _verdict_view(verdict: dict[str, Any]) -> dict[str, Any]:
    """The compared part of a verdict (scenarios/README.md)."""
    manifest = verdict.get("manifest") or {}
    return {
        "navigation": verdict.get("navigation"),
        "manifest.status": manifest.get("status"),
        "manifest.reason": manifest.get("reason"),
        "resources": [
            {k: r.get(k) for k in ("url", "allowed", "reason")}
            for r in verdict.get("resources") or []
        ],
    }


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_scenario(pyodide_results: dict[str, Any], name: str) -> None:
    answers = _cases(pyodide_results, "scenarios", len(SCENARIO_NAMES))
    assert name in answers, f"no answer for scenario {name}"
    actual = _verdict_view(_ok(answers[name], f"decide({name}.json)"))
    expected = _verdict_view(json.loads((SCENARIOS / f"{name}.expected.json").read_text()))
    acceptable = expected["manifest.status"]
    if isinstance(acceptable, list) and actual["manifest.status"] in acceptable:
        expected["manifest.status"] = actual["manifest.status"]  # any listed value is right
    diffs = [
        f"{field}: expected {expected[field]!r}, got {actual[field]!r}"
        for field in ("navigation", "manifest.status", "manifest.reason")
        if actual[field] != expected[field]
    ]
    if len(actual["resources"]) != len(expected["resources"]):
        diffs.append(
            f"resources: expected {len(expected['resources'])}, got {len(actual['resources'])}"
        )
    for got, want in zip(actual["resources"], expected["resources"], strict=False):
        if got != want:
            diffs.append(f"resource {want['url']}: expected {want}, got {got}")
    assert not diffs, f"{name}: verdict differs:\n" + "\n".join(diffs)


def _ref10_accepts(flags: list[str] | None) -> bool:
    return not {"non_canonical_R", "low_order_residue"} & set(flags or [])


def test_ed25519_vectors_pure_backend(pyodide_results: dict[str, Any]) -> None:
    """All 914 CCTV vectors with the pure backend: the ref10 rule (208 accepted, 706 rejected)."""
    vectors = json.loads(ED25519.read_text())
    answers = _cases(pyodide_results, "ed25519", len(vectors))
    wrong = []
    for vector, answer in zip(vectors, answers, strict=True):
        assert answer["number"] == vector["number"]
        outcome = answer["verify"]
        expected = _ref10_accepts(vector["flags"])
        actual = outcome.get("ok", f"raised {outcome.get('error')}")
        if actual is not expected:
            wrong.append(
                f"#{vector['number']} flags={vector['flags']}: expected {expected}, got {actual}"
            )
    assert not wrong, f"{len(wrong)} of {len(vectors)} vectors wrong:\n" + "\n".join(wrong[:40])


@pytest.mark.parametrize(("index", "case"), _params(RFC8032_VECTORS, "name"))
def test_rfc8032_pure_backend(
    pyodide_results: dict[str, Any], index: int, case: dict[str, Any]
) -> None:
    answer = _cases(pyodide_results, "rfc8032", len(RFC8032_VECTORS))[index]
    assert answer["name"] == case["name"]
    assert _ok(answer["verify"], "ed25519_verify") is True
    public_key = base64.b64decode(_ok(answer["public_key"], "ed25519_public_key"))
    assert public_key.hex() == case["public_key"].lower()
    signature = base64.b64decode(_ok(answer["sign"], "ed25519_sign"))
    assert signature.hex() == case["signature"].lower()


GENERATED = list(generate())


@pytest.mark.parametrize("name", [name for name, _, _ in GENERATED])
def test_generated_scenario_same_verdict_as_cpython(
    pyodide_results: dict[str, Any], name: str
) -> None:
    """The whole decision, byte for byte the same in Pyodide as in CPython."""
    cases = _cases(pyodide_results, "generated", len(GENERATED))
    scenario = next(s for n, s, _ in GENERATED if n == name)
    assert _ok(cases[name], name) == decide(scenario)


def test_url_serialization_same_as_cpython(pyodide_results: dict[str, Any]) -> None:
    """The WHATWG URL corpus (tests/url_corpus.py) serializes alike in Pyodide and CPython
    (the IDNA subset must not depend on the Python's Unicode version)."""
    from url_corpus import corpus

    from verifier import urls

    cases = corpus()
    answers = _cases(pyodide_results, "urls", len(cases))
    wrong = []
    for (text, base), got in zip(cases, answers, strict=True):
        try:
            want = urls.serialize(text, base)
        except urls.UnsupportedURL:
            want = "!unsupported"
        except urls.InvalidURL:
            want = "!invalid"
        if got != want:
            wrong.append(f"{text!r} base={base!r}: pyodide={got!r} cpython={want!r}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ:\n" + "\n".join(wrong[:40])
