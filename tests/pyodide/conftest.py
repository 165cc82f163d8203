"""Run the verifier under Pyodide (WebAssembly CPython 3.14) in Node, once per test session.

The session fixture :func:`pyodide_results` starts ONE Node process
(``tests/pyodide/runner.mjs``) that loads Pyodide from ``node_modules/pyodide``, loads the
dependency wheels from ``build/wheels`` plus a wheel of the project freshly built from the
work tree (so the tested code is never stale), mounts ``tests/vectors`` read-only at
``/vectors`` (NODEFS), and runs :func:`_pyodide_main` inside Pyodide. That function computes
the verifier's *actual* answers on every vector and returns them as JSON; the tests in
``test_in_pyodide.py`` compare them with the expected values, in CPython.

Needs ``bash scripts/setup.sh`` (node, ``npm ci``, ``python scripts/fetch_wheels.py``). When
something is missing the tests FAIL with a message naming the command; they never skip.

``WAICT_PYODIDE_SOURCE=DIR`` builds the project wheel from another source tree (for
developing this harness against a stub package).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scenario_gen import generate
from url_corpus import corpus as url_corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_DIR = REPO_ROOT / "tests" / "vectors"
RUNNER = Path(__file__).resolve().parent / "runner.mjs"
WHEELS_DIR = REPO_ROOT / "build" / "wheels"
PYODIDE_DIR = REPO_ROOT / "node_modules" / "pyodide"
SETUP_HINT = "run `bash scripts/setup.sh` from the repository root"
#: Where tests/vectors is mounted inside Pyodide.
GUEST_VECTORS = "/vectors"
#: Where the scenarios generated in CPython (tests/scenario_gen.py) are mounted.
GUEST_GENERATED = "/generated"
#: Upper bound for the whole Pyodide run (914 Ed25519 verifies in pure Python included).
RUN_TIMEOUT_S = 900

_timings: dict[str, str] = {}


def _load_fetch_wheels() -> ModuleType:
    path = REPO_ROOT / "scripts" / "fetch_wheels.py"
    spec = importlib.util.spec_from_file_location("waict_fetch_wheels", path)
    if spec is None or spec.loader is None:
        pytest.fail(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_prerequisites(fetch_wheels: ModuleType) -> list[Path]:
    """Fail (never skip) with the set-up command when something is missing."""
    if shutil.which("node") is None:
        pytest.fail(f"`node` is not on PATH: {SETUP_HINT}", pytrace=False)
    if not (PYODIDE_DIR / "pyodide.mjs").is_file():
        pytest.fail(
            f"Pyodide is not installed in {PYODIDE_DIR}: {SETUP_HINT} (or `npm ci`)",
            pytrace=False,
        )
    deps: list[Path] = []
    missing: list[str] = []
    for name, version in fetch_wheels.DEPENDENCY_PINS.items():
        found = fetch_wheels._find_wheel(WHEELS_DIR, name, version)
        if found is None:
            missing.append(f"{name}=={version}")
        else:
            deps.append(found)
    if missing:
        pytest.fail(
            f"dependency wheels missing from {WHEELS_DIR}: {', '.join(missing)}: "
            f"{SETUP_HINT} (or `.venv/bin/python scripts/fetch_wheels.py`)",
            pytrace=False,
        )
    return deps


def _pyodide_main(vectors_dir: str, generated_dir: str) -> dict[str, Any]:
    """Runs INSIDE Pyodide: the verifier's actual answers on every vector, JSON-ready.

    Self-contained (its source is sent to Pyodide): imports inside, no module globals.
    Each step's outcome is ``{"ok": value}`` or ``{"error": "Type: msg", "waict_error": bool,
    "traceback": ...}``; bytes are returned as standard base64.
    """
    import base64
    import importlib
    import json
    import sys
    import time
    import traceback
    from pathlib import Path

    vectors = Path(vectors_dir)
    out: dict[str, Any] = {"groups": {}, "timings_ms": {}}

    try:
        from verifier.errors import WaictError
    except Exception as exc:  # the verifier does not even import: every group fails
        waict_error: Any = None
        import_problem: str | None = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    else:
        waict_error = WaictError
        import_problem = None

    def jsonable(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode("ascii")
        return json.loads(json.dumps(value, default=repr))

    def step(fn: Any, *args: Any) -> dict[str, Any]:
        try:
            return {"ok": jsonable(fn(*args))}
        except Exception as exc:
            return {
                "error": f"{type(exc).__name__}: {exc}",
                "waict_error": waict_error is not None and isinstance(exc, waict_error),
                "traceback": traceback.format_exc()[-3000:],
            }

    def group(name: str, body: Any) -> None:
        started = time.perf_counter()
        if import_problem is not None:
            out["groups"][name] = {"error": f"importing verifier.errors: {import_problem}"}
        else:
            try:
                out["groups"][name] = {"cases": body()}
            except Exception as exc:
                out["groups"][name] = {
                    "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                }
        out["timings_ms"][name] = round((time.perf_counter() - started) * 1000)

    def b64(text: str) -> bytes:
        return base64.b64decode(text, validate=True)

    def jsonl(name: str) -> list[dict[str, Any]]:
        lines = (vectors / "waict-mpt" / name).read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def leaves_of(case: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        return [(b64(leaf["key"]), b64(leaf["value"])) for leaf in case["leaves"]]

    def mpt_root() -> list[dict[str, Any]]:
        mpt = importlib.import_module("verifier.mpt")
        return [
            {"label": c["label"], "root": step(mpt.compute_root, leaves_of(c))}
            for c in jsonl("mpt_root_kats.jsonl")
        ]

    def mpt_inclusion() -> list[dict[str, Any]]:
        mpt = importlib.import_module("verifier.mpt")
        cases = []
        for c in jsonl("mpt_inclusion_kats.jsonl"):
            leaves = leaves_of(c)
            key, value = leaves[c["target_index"]]
            cases.append(
                {
                    "label": c["label"],
                    "root": step(mpt.compute_root, leaves),
                    "proof": step(mpt.prove_inclusion, leaves, c["target_index"]),
                    "verify": step(
                        mpt.verify_inclusion, b64(c["root"]), key, value, b64(c["proof"])
                    ),
                }
            )
        return cases

    def mpt_invalid() -> list[dict[str, Any]]:
        mpt = importlib.import_module("verifier.mpt")
        return [
            {
                "label": c["label"],
                "verify": step(
                    mpt.verify_inclusion,
                    b64(c["root"]),
                    b64(c["key"]),
                    b64(c["value"]),
                    b64(c["proof"]),
                ),
            }
            for c in jsonl("mpt_invalid_inclusion_kats.jsonl")
        ]

    def scenarios() -> dict[str, Any]:
        verifier = importlib.import_module("verifier")
        results = {}
        for path in sorted((vectors / "scenarios").glob("*.json")):
            if path.name.endswith(".expected.json"):
                continue
            scenario = json.loads(path.read_text())
            results[path.stem] = step(verifier.decide, scenario)
        return results

    def generated() -> dict[str, Any]:
        verifier = importlib.import_module("verifier")
        return {
            path.stem: step(verifier.decide, json.loads(path.read_text()))
            for path in sorted(Path(generated_dir).glob("*.json"))
        }

    def url_corpus() -> list[Any]:
        urls = importlib.import_module("verifier.urls")
        corpus = json.loads((Path(generated_dir) / "urls.corpus").read_text())
        out: list[Any] = []
        for text, base in corpus:
            try:
                out.append(urls.serialize(text, base))
            except urls.UnsupportedURL:
                out.append("!unsupported")
            except urls.InvalidURL:
                out.append("!invalid")
        return out

    def with_pure_backend(body: Any) -> Any:
        def run() -> Any:
            crypto = importlib.import_module("verifier.crypto")
            crypto.set_backend(crypto.backend_by_name("pure"))
            try:
                return body(crypto)
            finally:
                crypto.set_backend(None)

        return run

    def ed25519(crypto: Any) -> list[dict[str, Any]]:
        data = json.loads((vectors / "ed25519" / "ed25519vectors.json").read_text())
        return [
            {
                "number": v["number"],
                "verify": step(
                    crypto.ed25519_verify,
                    bytes.fromhex(v["key"]),
                    bytes.fromhex(v["sig"]),
                    v["msg"].encode(),
                ),
            }
            for v in data
        ]

    def rfc8032(crypto: Any) -> list[dict[str, Any]]:
        data = json.loads((vectors / "rfc8032.json").read_text())
        cases = []
        for v in data:
            seed, pub = bytes.fromhex(v["secret_key"]), bytes.fromhex(v["public_key"])
            msg, sig = bytes.fromhex(v["message"]), bytes.fromhex(v["signature"])
            cases.append(
                {
                    "name": v["name"],
                    "verify": step(crypto.ed25519_verify, pub, sig, msg),
                    "public_key": step(crypto.ed25519_public_key, seed),
                    "sign": step(crypto.ed25519_sign, seed, msg),
                }
            )
        return cases

    def environment() -> dict[str, Any]:
        env: dict[str, Any] = {
            "python": list(sys.version_info[:3]),
            "platform": sys.platform,
            "modules": {},
        }
        for name in ("http_sf", "rfc8785", "typing_extensions", "verifier"):
            try:
                env["modules"][name] = getattr(importlib.import_module(name), "__file__", None)
            except Exception as exc:
                env["modules"][name] = f"ERROR {type(exc).__name__}: {exc}"
        return env

    out["environment"] = environment()
    group("mpt_root", mpt_root)
    group("mpt_inclusion", mpt_inclusion)
    group("mpt_invalid", mpt_invalid)
    group("scenarios", scenarios)
    group("generated", generated)
    group("urls", url_corpus)
    group("ed25519", with_pure_backend(ed25519))
    if (vectors / "rfc8032.json").is_file():
        group("rfc8032", with_pure_backend(rfc8032))
    return out


def _program() -> str:
    source = textwrap.dedent(inspect.getsource(_pyodide_main))
    call = f"_pyodide_main({GUEST_VECTORS!r}, {GUEST_GENERATED!r})"
    return f"from typing import Any\n\n{source}\n\nRESULT = {call}\n"


@pytest.fixture(scope="session")
def pyodide_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The verifier's answers on every vector, computed in one Pyodide run (see module doc)."""
    fetch_wheels = _load_fetch_wheels()
    deps = _check_prerequisites(fetch_wheels)
    workdir = tmp_path_factory.mktemp("pyodide")
    source = Path(os.environ.get("WAICT_PYODIDE_SOURCE") or REPO_ROOT)
    started = time.perf_counter()
    try:
        project_wheel = fetch_wheels.build_project_wheel(workdir / "wheels", source)
    except fetch_wheels.FetchError as exc:
        pytest.fail(f"could not build the project wheel for Pyodide: {exc}", pytrace=False)
    generated_dir = workdir / "generated"
    generated_dir.mkdir()
    for name, scenario, _ in generate():
        (generated_dir / f"{name}.json").write_text(json.dumps(scenario))
    # the WHATWG URL corpus of tests/unit/test_urls_differential.py (not *.json: not a scenario)
    (generated_dir / "urls.corpus").write_text(json.dumps(url_corpus()))
    program = workdir / "program.py"
    program.write_text(_program())
    cmd = ["node", str(RUNNER), str(program)]
    for wheel in [*deps, project_wheel]:
        cmd += ["--wheels", str(wheel)]
    cmd += ["--mount", f"{VECTORS_DIR}:{GUEST_VECTORS}"]
    cmd += ["--mount", f"{generated_dir}:{GUEST_GENERATED}"]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the Pyodide run took more than {RUN_TIMEOUT_S} s: {cmd}", pytrace=False)
    elapsed = time.perf_counter() - started
    (workdir / "stderr.txt").write_text(proc.stderr)
    if proc.returncode != 0:
        pytest.fail(
            f"the Pyodide runner failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stderr[-8000:]}",
            pytrace=False,
        )
    try:
        results: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"the Pyodide runner printed no JSON:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    cold = re.search(r"cold start: loadPyodide (\d+) ms", proc.stderr)
    _timings["cold start (loadPyodide)"] = f"{cold.group(1)} ms" if cold else "?"
    for name, value in results.get("timings_ms", {}).items():
        _timings[f"in Pyodide: {name}"] = f"{value} ms"
    _timings["whole harness (wheel build + node run)"] = f"{elapsed:.1f} s"
    return results


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _timings:
        terminalreporter.write_sep("-", "Pyodide harness timings")
        for name, value in _timings.items():
            terminalreporter.write_line(f"{name}: {value}")
