"""The extension's fast path (``extension/src/sw/fast_path.js``) against Python's rule.

The JavaScript function runs in Node (the very file the service worker loads) on every
case at once; Python's ``plan_navigation`` answers the same cases. The claim
(:mod:`verifier.browser.fast_path`): whenever the fast path lets a document go without
Python, Python says ``gated: false``. Checked on the WHATWG URL corpus and generated
hosts, with and without a header, a stored origin state, and a valid, signed preload list
naming some of the hosts (so Python really does gate them); plus that the fast path is not
vacuous (it answers for ordinary unknown hosts) and refuses facts for another list.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from url_corpus import corpus
from world import DAY, World

from verifier import browser
from verifier.browser import fast_path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "extension" / "src" / "sw" / "fast_path.js"
HEADER = "enforce; max-age=3600; manifest=/waict-manifest.json"
PRELOADED = ["preloaded.example", "shop.preloaded.example", "xn--bcher-kva.de", "flagless.example"]

NODE_RUNNER = """
import { unknownOrigin } from %s;
let data = "";
process.stdin.on("data", (c) => { data += c; });
process.stdin.on("end", () => {
  const cases = JSON.parse(data);
  process.stdout.write(JSON.stringify(cases.map((c) => unknownOrigin(c))));
});
"""


def run_js(cases: list[dict[str, Any]]) -> list[bool]:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup.sh installs it)"
    script = NODE_RUNNER % json.dumps(MODULE.as_uri())
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers: list[bool] = json.loads(out.stdout)
    return answers


def preload_body(world: World) -> bytes:
    entries = {h: {"transparency": True, "dev-ids": False} for h in PRELOADED}
    entries["flagless.example"] = {"transparency": False, "dev-ids": False}
    line = json.dumps(
        {
            "version": 1,
            "issued": world.now - DAY,
            "expires": world.now + 10 * DAY,
            "entries": entries,
        }
    ).encode()
    world.log("preload.example", line)
    return world.response(line, world.proof("preload.example"))


def generated_urls(rng: random.Random) -> list[str]:
    hosts = [
        *PRELOADED,
        "PRELOADED.example",
        "preloaded.example.",
        "bücher.de",
        "BÜCHER.de",
        "unknown.example",
        "a-b.c-d.example",
        "127.0.0.1",
        "0x7f.1",
        "1.2.3",
        "[::1]",
        "a.123",
        "xn--nxasmq6b.example",
    ]
    for _ in range(150):
        labels = [
            "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-")
                for _ in range(rng.randint(1, 12))
            )
            for _ in range(rng.randint(1, 4))
        ]
        hosts.append(".".join(labels))
    urls = []
    for h in hosts:
        for scheme in ("https", "http", "ftp"):
            urls.append(f"{scheme}://{h}/")
            urls.append(f"{scheme}://{h}:8443/p?q#f")
    return urls


def cases() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(JavaScript inputs, Python plan_navigation requests), pairwise."""
    world = World()
    trust = world.trust()
    body = preload_body(world)
    b64 = base64.b64encode(body).decode()
    facts = fast_path.facts({"preload": b64})
    state = {
        "mode": "enforce",
        "manifest": "https://x.example/m",
        "endpoints": [],
        "expiry": world.now + 600,
    }
    urls = [u for u, base in corpus() if base is None][:600] + generated_urls(random.Random(7))
    js, py = [], []
    for i, url in enumerate(urls):
        for header in (None, HEADER) if i % 3 == 0 else (None,):
            for origin_state in (None, state) if i % 5 == 0 else (None,):
                js.append(
                    {
                        "url": url,
                        "headerNames": [
                            "content-type",
                            *([fast_path.HEADER_NAME] if header else []),
                        ],
                        "originState": origin_state,
                        "preloadSha256": facts["preload_sha256"],
                        "facts": facts,
                    }
                )
                py.append(
                    {
                        "url": url,
                        "header": header,
                        "now": world.now,
                        "trust": trust,
                        "preload": b64,
                        "origin_state": origin_state,
                    }
                )
    return js, py


def test_the_fast_path_never_lets_through_what_python_gates() -> None:
    js, py = cases()
    answers = run_js(js)
    assert len(answers) == len(js)
    allowed = 0
    for case, request, answer in zip(js, py, answers, strict=True):
        if not answer:
            continue
        allowed += 1
        plan = json.loads(browser.plan_navigation(json.dumps(request)))
        assert "error" not in plan, (case["url"], plan)
        assert plan["gated"] is False, (case["url"], plan)
    # not vacuous: ordinary unknown hosts do go on without Python
    assert allowed > len(js) // 4, (allowed, len(js))


def test_python_gates_the_preloaded_hosts_and_the_fast_path_defers_them() -> None:
    js, py = cases()
    by_url = {
        c["url"]: i
        for i, c in enumerate(js)
        if c["originState"] is None and len(c["headerNames"]) == 1
    }
    urls = [f"https://{h}/" for h in PRELOADED if h != "flagless.example"]
    picked = [by_url[u] for u in urls]
    answers = run_js([js[i] for i in picked])
    assert answers == [False] * len(picked)
    for i in picked:
        assert json.loads(browser.plan_navigation(json.dumps(py[i])))["gated"] is True
    # an entry without the transparency flag: Python does not gate it, the fast path
    # still defers (it only looks up names)
    flagless = by_url["https://flagless.example/"]
    assert run_js([js[flagless]]) == [False]
    # an ordinary unknown host goes on
    assert run_js([js[by_url["https://unknown.example/"]]]) == [True]


@pytest.mark.parametrize(
    "change",
    [
        {"preloadSha256": "00" * 32},  # facts made for another preload list
        {"facts": None},  # no facts yet
        {
            "facts": {
                "header_name": fast_path.HEADER_NAME,
                "preload_sha256": None,
                "preload_hosts": None,
            }
        },
    ],
)
def test_the_fast_path_is_off_without_facts_for_the_list_in_force(change: dict[str, Any]) -> None:
    js, _py = cases()
    base = next(
        c for c in js if c["url"] == "https://unknown.example/" and c["originState"] is None
    )
    assert run_js([base]) == [True]
    assert run_js([{**base, **change}]) == [False]


def test_facts_of_an_unparsable_list_turn_the_fast_path_off() -> None:
    out = fast_path.facts({"preload": base64.b64encode(b"not a preload list").decode()})
    assert out["preload_hosts"] is None
    assert fast_path.facts({"preload": None})["preload_hosts"] == []
