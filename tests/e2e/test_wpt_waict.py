"""What Firefox's WAICT web-platform tests check, in Chromium with the extension, where this
project's contract agrees (fixture: ``wpt_sites.py``; see its doc for the differences).

Covered subtests (by their names in ``waict/script-enforce.https.html`` and
``image-enforce.https.html``): a script with the correct hash loads and runs; a script with
an incorrect hash is blocked; a script whose hash is in ``any_hashes`` loads; one whose
hash is not is blocked; a script not in the manifest is blocked; the same for images
(correct hash loads, incorrect hash blocked). Not covered: the in-page
``ReportingObserver`` reports (the extension POSTs ``waict-violation`` reports to the
site's endpoints instead), the header without ``mode`` and the header without ``max-age``
(both void the header in design.md 3.1, so nothing is enforced).
"""

from __future__ import annotations

from harness import Browser, markers


def test_v1_scripts_and_images_as_the_waict_web_platform_tests_expect(
    browser_env: Browser,
) -> None:
    env = browser_env
    page = env.new_page()
    page.goto(env.fixture.url("x-v1"), wait_until="load")
    page.wait_for_function(
        """() => ['correct', 'incorrect'].every((n) =>
            document.documentElement.hasAttribute('data-m-img-' + n) ||
            document.documentElement.hasAttribute('data-m-img-' + n + '-blocked'))"""
    )
    assert markers(page) == {"correct", "correct-any", "img-correct", "img-incorrect-blocked"}
    blocked = page.evaluate(
        "[...document.scripts].filter((s) => s.dataset.blocked).map((s) => s.src)"
    )
    assert sorted(u.rsplit("/", 1)[1] for u in blocked) == [
        "incorrect-any.js",
        "incorrect.js",
        "no-hash.js",
    ]
    page.close()
