"""The ``waict check`` scenario: every input of one client decision, as JSON.

```
{ "now": 1790000000,
  "trust": {...},                          # see verifier.trust
  "preload": null | "<b64 preload response body>",
  "url": "https://site.example/index.html",
  "header": null | "<Integrity-Policy-WAICT-v1 value>",
  "manifest_response": null | "<b64 manifest response body>",
  "resources": [{"url": "...", "destination": "script", "body": "<b64>",
                 "request_url": "..."}] }          # request_url optional, see below
```
A resource's ``request_url`` (optional) is the URL the fetch was made for, before any
redirect; the manifest lookup uses it (design.md 5), while ``url`` (the URL of the response
finally delivered, or the same URL when there was no redirect) is only echoed in the
verdict. Without ``request_url`` the lookup uses ``url``. ``body`` is always the bytes
finally delivered.
A scenario that does not have this shape is unusable (:class:`ScenarioError`); everything
inside the byte fields is judged by ``decide``, never rejected here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.encoding import b64decode
from verifier.errors import EncodingError, ScenarioError, TrustConfigError
from verifier.trust import TrustConfig, parse_trust


@dataclass(frozen=True)
class Resource:
    url: str
    destination: str
    body: bytes
    request_url: str | None = None  # the URL the fetch was made for, before any redirect

    @property
    def lookup_url(self) -> str:
        """The URL the manifest lookup uses (design.md 5)."""
        return self.url if self.request_url is None else self.request_url


@dataclass(frozen=True)
class Scenario:
    now: int
    trust: TrustConfig
    preload: bytes | None
    url: str
    header: str | None
    manifest_response: bytes | None
    resources: tuple[Resource, ...]


def _bytes(value: Any, what: str) -> bytes:
    try:
        return b64decode(value, what=what)
    except EncodingError as exc:
        raise ScenarioError(f"scenario: {exc}") from None


def _optional_bytes(obj: dict[str, Any], key: str) -> bytes | None:
    value = obj.get(key)
    return None if value is None else _bytes(value, key)


def parse_scenario(obj: Any) -> Scenario:
    if not isinstance(obj, dict):
        raise ScenarioError("scenario must be a JSON object")
    now = obj.get("now")
    if isinstance(now, bool) or not isinstance(now, int) or now < 0:
        raise ScenarioError("scenario: now must be unix seconds (a non-negative integer)")
    try:
        trust = parse_trust(obj.get("trust"))
    except TrustConfigError as exc:
        raise ScenarioError(f"scenario: {exc}") from None
    url = obj.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ScenarioError("scenario: url must be an absolute http(s) URL")
    header = obj.get("header")
    if header is not None and not isinstance(header, str):
        raise ScenarioError("scenario: header must be null or a string")
    raw_resources = obj.get("resources", [])
    if not isinstance(raw_resources, list):
        raise ScenarioError("scenario: resources must be a list")
    resources: list[Resource] = []
    for i, r in enumerate(raw_resources):
        if not isinstance(r, dict):
            raise ScenarioError(f"scenario: resources[{i}] must be an object")
        if not isinstance(r.get("url"), str) or not isinstance(r.get("destination"), str):
            raise ScenarioError(f"scenario: resources[{i}] needs url and destination strings")
        request_url = r.get("request_url")
        if request_url is not None and not isinstance(request_url, str):
            raise ScenarioError(f"scenario: resources[{i}].request_url must be a string")
        body = _bytes(r.get("body"), f"resources[{i}].body")
        resources.append(Resource(r["url"], r["destination"], body, request_url))
    return Scenario(
        now=now,
        trust=trust,
        preload=_optional_bytes(obj, "preload"),
        url=url,
        header=header,
        manifest_response=_optional_bytes(obj, "manifest_response"),
        resources=tuple(resources),
    )
