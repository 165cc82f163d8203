"""``waict-violation`` reports to the endpoints a site names (see sites.py, ``REPORT_SITES``).

The site's header names endpoints (``endpoints=("waict" ...)``); the document's
``Reporting-Endpoints`` header maps the names to URLs (here: the fixture server itself, which
records every POST). Reports are built by Python (``verifier.browser.build_reports``) in the
Reporting API shape, batched per navigation, and POSTed as ``application/reports+json``
after the page was released.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from typing import Any

import sites
from harness import Browser, wait_settled
from playwright.sync_api import expect

from verifier import browser

BLOCK_PAGE = re.compile(r"^chrome-extension://[a-p]{32}/block\.html\?")
DOC = "https://site.example/app/index.html"


def build(**request: Any) -> dict[str, Any]:
    out = json.loads(browser.build_reports(json.dumps(request)))
    assert isinstance(out, dict)
    return out


# --- the report shape (no browser) ------------------------------------------------------


def test_reports_have_the_reporting_api_shape() -> None:
    out = build(
        document_url=DOC,
        endpoints=["main", "missing", "copy"],
        reporting_endpoints='main="/r/waict", copy="https://collector.example/r", bad=1',
        user_agent="UA/1",
        now_ms=10_000,
        violations=[
            {
                "url": "https://site.example/app/app.js",
                "destination": "script",
                "reason": "no_manifest_match",
                "detail": None,
                "report_only": False,
                "time_ms": 9_250,
            }
        ],
    )
    assert out["unresolved"] == ["missing"]  # not in Reporting-Endpoints: nothing sent
    assert [p["url"] for p in out["posts"]] == [
        "https://site.example/r/waict",  # relative to the document
        "https://collector.example/r",
    ]
    post = out["posts"][0]
    assert post["content_type"] == "application/reports+json"
    assert json.loads(post["body"]) == [
        {
            "type": "waict-violation",
            "age": 750,
            "url": DOC,
            "user_agent": "UA/1",
            "body": {
                "documentURL": DOC,
                "blockedURL": "https://site.example/app/app.js",
                "destination": "script",
                "reportOnly": False,
                "reason": "no_manifest_match",
                "detail": None,
            },
        }
    ]


def test_reports_need_a_named_and_defined_endpoint() -> None:
    violation = {"url": DOC, "destination": "document", "reason": "invalid_manifest"}
    assert build(document_url=DOC, endpoints=[], violations=[violation])["posts"] == []
    # a Reporting-Endpoints that is not a structured-field dictionary names nothing
    out = build(
        document_url=DOC, endpoints=["a"], reporting_endpoints="a=(", violations=[violation]
    )
    assert out["posts"] == [] and out["unresolved"] == ["a"]
    # non-http endpoints are ignored; two names for one URL give one POST
    out = build(
        document_url=DOC,
        endpoints=["a", "b", "c"],
        reporting_endpoints='a="/r", b="https://site.example/r", c="javascript:alert(1)"',
        violations=[violation],
    )
    assert [p["url"] for p in out["posts"]] == ["https://site.example/r"]
    assert out["unresolved"] == ["c"]


# --- in the browser ---------------------------------------------------------------------


def reports(post: Any) -> list[dict[str, Any]]:
    assert post.headers["content-type"] == "application/reports+json"
    body = json.loads(post.body)
    assert isinstance(body, list)
    return body


def test_report_mode_reports_the_tampered_script(browser_env: Browser) -> None:
    env = browser_env
    page = env.new_page()
    page.goto(env.fixture.url("r-report"), wait_until="load")
    wait_settled(page)
    posts = env.server.wait_posts("/reports/r-report")
    assert len(posts) == 1 and posts[0].host == f"r-report.{sites.DOMAIN}"
    [report] = reports(posts[0])
    assert report["type"] == "waict-violation"
    assert report["url"] == env.fixture.url("r-report")
    assert report["user_agent"] and isinstance(report["age"], int) and report["age"] >= 0
    assert report["body"] == {
        "documentURL": env.fixture.url("r-report"),
        "blockedURL": env.fixture.url("r-report", "/app.js"),
        "destination": "script",
        "reportOnly": True,
        "reason": "no_manifest_match",
        "detail": None,
    }
    page.close()


def test_enforce_mode_reports_to_every_endpoint_without_delaying_the_page(
    browser_env: Browser,
) -> None:
    env = browser_env
    env.server.post_delays["/collect/"] = 4.0  # a slow collector
    try:
        page = env.new_page()
        started = time.monotonic()
        page.goto(env.fixture.url("r-enforce"), wait_until="load")
        seen = wait_settled(page)
        settled = time.monotonic() - started
        assert seen == {"inline", "iframe"}  # the tampered app.js was blocked
        assert settled < 3.0, f"the page took {settled:.1f} s"
        mine = env.server.wait_posts("/reports/r-enforce")
        collector = env.server.wait_posts("/collect/r-enforce")
        assert collector[0].host == f"{sites.COLLECTOR}.{sites.DOMAIN}"
        for post in (mine[0], collector[0]):
            [report] = reports(post)
            assert report["body"]["blockedURL"] == env.fixture.url("r-enforce", "/app.js")
            assert report["body"]["reportOnly"] is False
            assert report["body"]["reason"] == "no_manifest_match"
        # one batch per navigation: a reload sends one more POST per endpoint
        page.reload(wait_until="load")
        wait_settled(page)
        assert len(env.server.wait_posts("/reports/r-enforce", count=2)) == 2
        page.close()
    finally:
        env.server.post_delays.clear()


def test_a_manifest_level_failure_is_reported(browser_env: Browser) -> None:
    env = browser_env
    page = env.new_page()
    with contextlib.suppress(Exception):
        page.goto(env.fixture.url("r-manifest"), wait_until="load")
    expect(page).to_have_url(BLOCK_PAGE, timeout=15000)
    [post] = env.server.wait_posts("/reports/r-manifest")
    [report] = reports(post)
    assert report["body"] == {
        "documentURL": env.fixture.url("r-manifest"),
        "blockedURL": env.fixture.url("r-manifest"),
        "destination": "document",
        "reportOnly": False,
        "reason": "invalid_manifest",
        "detail": "tree_proof_failed",
    }
    page.close()


def test_sites_without_endpoints_send_no_reports(browser_env: Browser) -> None:
    env = browser_env
    page = env.new_page()
    page.goto(env.fixture.url("report"), wait_until="load")  # report mode, no endpoints
    wait_settled(page)
    page.wait_for_timeout(1500)
    assert [p for p in env.server.posts if p.host == f"report.{sites.DOMAIN}"] == []
    page.close()
