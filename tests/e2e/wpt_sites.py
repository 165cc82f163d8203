"""A v1 fixture site modelled on what Firefox's WAICT web-platform tests check (the ``waict/``
folder of Firefox's prototype fork: ``script-enforce``, ``image-enforce``), written for this
project's contract (design.md 3.1: a v1 header needs ``max-age=0``; the WPT headers have no
``max-age`` and would be void here).

``x-v1``: header ``blocked-destinations=(script image)``; the v1 manifest (one JSON object,
no proof line, relative keys, padded standard base64, ``any_hashes``) lists a correct
script, a script with a wrong hash, a correct image and an image with a wrong hash, and
names two more scripts' bytes in ``any_hashes`` (one of them served with other bytes).
``/no-hash.js`` is not listed at all; ``/free.css`` is a destination v1 does not cover.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from coverage_sites import page, script

V1_HEADER = (
    'max-age=0, mode=enforce, blocked-destinations=(script image), manifest="/v1-manifest.json"'
)
NAMES = ("correct", "incorrect", "correct-any", "incorrect-any", "no-hash")
SCRIPTS = {f"/{n}.js": script(f"mark('{n}');\n") for n in NAMES}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
INDEX_JS = script(
    """for (const name of ['correct', 'incorrect']) {
  const img = new Image();
  img.onload = () => mark('img-' + name);
  img.onerror = () => mark('img-' + name + '-blocked');
  img.src = '/' + name + '.png';
}
"""
)
INDEX = page(
    "v1",
    '<script src="/index.js"></script>'
    + "".join(f'<script src="/{n}.js" onerror="this.dataset.blocked=1"></script>' for n in NAMES)
    + '<link rel=stylesheet href="/free.css">',
)


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def v1_manifest() -> bytes:
    wrong = _b64(b"other bytes")
    return json.dumps(
        {
            "hashes": {
                "/": _b64(INDEX),
                "/index.js": _b64(INDEX_JS),
                "/correct.js": _b64(SCRIPTS["/correct.js"]),
                "/incorrect.js": wrong,
                "/correct.png": _b64(PNG),
                "/incorrect.png": wrong,
            },
            "any_hashes": sorted({_b64(SCRIPTS["/correct-any.js"]), wrong}),
        },
        indent=2,
    ).encode()


def add_sites(add: Callable[..., None], sites: dict[str, Any]) -> None:
    files = {
        "/": INDEX,
        "/index.js": INDEX_JS,
        **SCRIPTS,
        "/incorrect-any.js": script("mark('incorrect-any'); /* other bytes */\n"),
        "/correct.png": PNG,
        "/incorrect.png": PNG,
        "/free.css": b"html { --free: 1; }\n",
    }
    add("x-v1", files, None, V1_HEADER)
    sites["x-v1"].responses["/v1-manifest.json"] = (
        200,
        {"Content-Type": "application/json"},
        v1_manifest(),
    )
