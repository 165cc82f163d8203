"""``waict check`` through a real subprocess: verdicts, output shape, exit codes, stdin."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SCENARIOS = VECTORS / "scenarios"
SCENARIO_FILES = sorted(
    p for p in SCENARIOS.glob("*.json") if not p.name.endswith(".expected.json")
)
WAICT = [sys.executable, "-m", "waict.cli"]
ENTRY_POINT = Path(sys.executable).parent / "waict"


def waict(
    *args: str, stdin: str | None = None, cmd: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(cmd or WAICT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_verdict_shape(verdict: Any) -> None:
    """Exactly the keys of design.md section 5, with the right types."""
    assert isinstance(verdict, dict)
    assert set(verdict) == {"navigation", "manifest", "resources"}
    assert verdict["navigation"] in ("allow", "block")
    assert set(verdict["manifest"]) == {"status", "reason", "detail"}
    assert verdict["manifest"]["status"] in ("none", "valid", "invalid", "tombstone")
    assert verdict["manifest"]["reason"] is None or isinstance(verdict["manifest"]["reason"], str)
    assert verdict["manifest"]["detail"] is None or isinstance(verdict["manifest"]["detail"], str)
    assert isinstance(verdict["resources"], list)
    for r in verdict["resources"]:
        assert set(r) == {"url", "allowed", "reason"}
        assert isinstance(r["url"], str)
        assert isinstance(r["allowed"], bool)
        assert r["reason"] is None or isinstance(r["reason"], str)


def assert_matches_expected(verdict: dict[str, Any], expected: dict[str, Any]) -> None:
    """The comparison tests/vectors/scenarios/README.md describes."""
    assert verdict["navigation"] == expected["navigation"]
    status = expected["manifest"]["status"]
    acceptable = status if isinstance(status, list) else [status]
    assert verdict["manifest"]["status"] in acceptable
    assert verdict["manifest"]["reason"] == expected["manifest"]["reason"]
    got = [(r["url"], r["allowed"], r["reason"]) for r in verdict["resources"]]
    want = [(r["url"], r["allowed"], r["reason"]) for r in expected["resources"]]
    assert got == want


def test_there_are_scenarios() -> None:
    assert len(SCENARIO_FILES) >= 6
    for path in SCENARIO_FILES:
        assert path.with_name(path.stem + ".expected.json").is_file(), path


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_verdicts(path: Path) -> None:
    result = waict("check", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1  # one JSON line
    verdict = json.loads(result.stdout)
    assert_verdict_shape(verdict)
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    assert_matches_expected(verdict, expected)
    scenario = json.loads(path.read_text())
    assert [r["url"] for r in verdict["resources"]] == [r["url"] for r in scenario["resources"]]


def test_pretty_output_is_the_same_verdict() -> None:
    path = SCENARIOS / "valid-enforce.json"
    plain = waict("check", str(path))
    pretty = waict("check", "--pretty", str(path))
    assert pretty.returncode == 0
    assert pretty.stdout.count("\n") > 5
    assert json.loads(pretty.stdout) == json.loads(plain.stdout)


def test_stdin() -> None:
    path = SCENARIOS / "untrusted-ts.json"
    from_file = waict("check", str(path))
    from_stdin = waict("check", "-", stdin=path.read_text())
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    verdict = json.loads(from_stdin.stdout)
    assert verdict["navigation"] == "block"
    assert verdict["manifest"]["status"] == "invalid"


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="console script not installed next to python")
def test_console_script_entry_point() -> None:
    path = SCENARIOS / "tampered-script.json"
    result = waict("check", str(path), cmd=[str(ENTRY_POINT)])
    assert result.returncode == 0, result.stderr
    expected = json.loads(path.with_name("tampered-script.expected.json").read_text())
    assert_matches_expected(json.loads(result.stdout), expected)


# --- unusable input: exit 2, exactly one line on stderr, nothing on stdout --------------------


def _valid_scenario() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCENARIOS / "valid-enforce.json").read_text())
    return data


def _unusable_cases(tmp: Path) -> dict[str, Path]:
    cases: dict[str, Path] = {}

    def write(name: str, text: str | bytes) -> None:
        p = tmp / f"{name}.json"
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        cases[name] = p

    cases["missing-file"] = tmp / "does-not-exist.json"
    cases["directory"] = tmp
    write("not-json", "this is not JSON {")
    write("empty", "")
    write("not-utf8", b"\xff\xfe{}")
    write("array", json.dumps([_valid_scenario()]))
    write("string", '"scenario"')
    no_now = _valid_scenario()
    del no_now["now"]
    write("missing-now", json.dumps(no_now))
    bad_now = _valid_scenario()
    bad_now["now"] = "tomorrow"
    write("bad-now", json.dumps(bad_now))
    bad_b64 = _valid_scenario()
    bad_b64["manifest_response"] = "%%% not base64 %%%"
    write("bad-base64-manifest-response", json.dumps(bad_b64))
    unpadded = _valid_scenario()
    unpadded["manifest_response"] = base64.b64encode(b"ab").decode().rstrip("=")
    write("unpadded-base64-manifest-response", json.dumps(unpadded))
    no_trust = _valid_scenario()
    del no_trust["trust"]
    write("missing-trust", json.dumps(no_trust))
    return cases


UNUSABLE = [
    "missing-file",
    "directory",
    "not-json",
    "empty",
    "not-utf8",
    "array",
    "string",
    "missing-now",
    "bad-now",
    "bad-base64-manifest-response",
    "unpadded-base64-manifest-response",
    "missing-trust",
]


@pytest.mark.parametrize("case", UNUSABLE)
def test_unusable_scenario_exits_2_with_one_line(case: str, tmp_path: Path) -> None:
    path = _unusable_cases(tmp_path)[case]
    result = waict("check", str(path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith("\n")
    assert lines[0].startswith("waict check: ")
    assert "Traceback" not in result.stderr


def test_unusable_stdin_exits_2() -> None:
    result = waict("check", "-", stdin="[1, 2, 3]")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1


# --- help -------------------------------------------------------------------------------------


def test_help() -> None:
    result = waict("--help")
    assert result.returncode == 0
    assert "check" in result.stdout
    assert "usage: waict" in result.stdout


def test_check_help() -> None:
    result = waict("check", "--help")
    assert result.returncode == 0
    assert "check" in result.stdout
    assert "usage: waict check" in result.stdout
    assert "scenario" in result.stdout.lower()


def test_no_command_exits_2() -> None:
    result = waict()
    assert result.returncode == 2
    assert "check" in result.stdout + result.stderr
