"""The demo's browser part: every sample site in Debian Chromium with the real extension.

Given a running :class:`waict.demo.ecosystem.DemoEcosystem`, :class:`DemoBrowser`

1. builds the extension (``scripts/build_extension.py``) into ``<workdir>/extension`` with
   the demo's ``trust.json`` and ``preload.waict`` (build log: ``<workdir>/logs``);
2. launches Chromium (fresh profile ``<workdir>/chromium-profile``; headless when there is
   no ``DISPLAY``, headed otherwise, unless told) with the extension loaded,
   ``*.waict.test`` mapped to 127.0.0.1 (``--host-resolver-rules``) and the servers' leaf
   certificate trusted by its key (``--ignore-certificate-errors-spki-list``: the sites are
   real HTTPS origins, no insecure-origin flag);
3. visits ``https://<site>.waict.test:<port>/`` in a new tab per site, waits until the page
   settled (``data-waict-done`` set, or ``app.js`` did not run by the ``load`` event, or
   the extension's block page is shown, or a timeout), reads the ``data-waict-*`` markers on
   ``<html>``, saves ``<workdir>/screenshots/<site>.png``;
4. compares with the ``browser`` section of the site's ``expected.json`` (``block_page``;
   ``markers``, the exact set once settled; ``absent``) and prints a table.

Playwright's sync API runs on a thread of its own (one per :class:`DemoBrowser`), so the
class can be used from any thread, including next to another sync Playwright session.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from waict.demo.chromium import (
    QUIET_FLAGS,
    SETUP_HINT,
    browser_pids,
    build_extension,
    chromium_args,
    chromium_path,
    default_headless,
)
from waict.demo.observation import (
    Observation,
    compare_browser,
    describe_expected,
    describe_observed,
    expected_browser,
)
from waict.demo.sites import DemoSite, EcosystemView, say

BLOCK_PAGE = re.compile(r"^chrome-extension://([a-p]{32})/block\.html\?")
DEFAULT_TIMEOUT = 30.0


#: In the page: false while it has not settled, else why it settled.
SETTLED_JS = """() => {
    if (location.protocol === 'chrome-extension:') {
        return location.pathname === '/block.html' && document.readyState === 'complete'
            ? 'block page' : false;
    }
    if (location.protocol !== 'http:' && location.protocol !== 'https:') return false;
    if (document.readyState !== 'complete') return false;
    const el = document.documentElement;
    if (el.hasAttribute('data-waict-done')) return 'done';
    // app.js is deferred: by the load event it has run (marked "app") or failed
    if (!el.hasAttribute('data-waict-app')) return 'app.js did not run';
    return false;
}"""
MARKERS_JS = """() => Object.fromEntries([...document.documentElement.attributes]
    .filter((a) => a.name.startsWith('data-waict-'))
    .map((a) => [a.name.slice('data-waict-'.length), a.value]))"""


def _within(expression: str, seconds: float) -> str:
    """A service-worker expression that gives up after ``seconds`` (resolves "timeout")."""
    ms = int(seconds * 1000)
    return (
        f"Promise.race([Promise.resolve({expression}), "
        f"new Promise((r) => setTimeout(() => r('timeout'), {ms}))])"
    )


#: In the extension's service worker: resolves once Pyodide and the verifier are loaded
#: and the worker's start-up (``recoverTabs``) is over. The first tab must be opened after
#: that: measured, a tab gated while the start-up ran lost its exemption from the safety
#: rule, and its navigations were then blocked and retried in a loop. Tolerant of a worker
#: without these test hooks.
READY_JS = _within(
    "Promise.all([globalThis.waict?.py?.ready, globalThis.waict?.startup]).then(() => true)", 90
)
#: resolves once the extension attached its debugger to every tab
GATED_JS = _within("globalThis.waict?.whenAllTabsGated?.() ?? null", 15)
#: how long the browser thread may take beyond a page's own timeout before we give up on it
GRACE = 30.0

T = TypeVar("T")


class _Thread:
    """One thread that runs every call given to it (Playwright's sync API is per thread)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="waict-demo-browser", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

    def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future.result(timeout)

    def stop(self, timeout: float) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)


class DemoBrowser:
    """Chromium with the extension built for a running demo ecosystem.

    ``with DemoBrowser(eco) as browser: browser.visit(eco.sites["valid"])``; or
    :meth:`start`, :meth:`check_sites` (visits and prints the table), :meth:`close`.
    """

    def __init__(
        self,
        eco: EcosystemView,
        *,
        headless: bool | None = None,
        chromium: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        quiet: bool = False,
        extra_args: tuple[str, ...] = (),
        permissions: tuple[str, ...] = (),
    ) -> None:
        self.eco = eco
        self.extra_args = extra_args  # more Chromium flags (e.g. fake media devices)
        self.permissions = permissions  # granted to every origin (Playwright's names)
        self.headless = default_headless() if headless is None else headless
        self.chromium = chromium
        self.timeout = timeout
        self.quiet = quiet
        self.ext_dir = eco.workdir / "extension"
        self.profile_dir = eco.workdir / "chromium-profile"
        self.screenshots = eco.workdir / "screenshots"
        self.extension_id = ""
        self.exe = ""
        self._thread: _Thread | None = None
        self._stuck = False
        self._step = ""  # what the browser thread is doing (for "did not answer" errors)
        self._pw: Any = None
        self._context: Any = None

    def _say(self, message: str) -> None:
        if not self.quiet:
            say(message)

    # --- life cycle ---------------------------------------------------------------------
    def start(self) -> DemoBrowser:
        exe = chromium_path(self.chromium)
        if exe is None:
            raise RuntimeError(f"Chromium is not installed: {SETUP_HINT}")
        self.exe = exe
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            raise RuntimeError(f"playwright is not installed: {SETUP_HINT}") from None
        started = time.monotonic()
        self._say(f"build the extension into {self.ext_dir} (demo trust.json, preload.waict)")
        build_extension(self.eco, self.ext_dir, self.eco.workdir / "logs" / "extension-build.log")
        mode = "headless" if self.headless else "headed"
        self._say(f"start Chromium ({exe}, {mode}) with the extension")
        self._thread = _Thread()
        try:
            self._thread.call(self._launch, timeout=120 + GRACE)
        except FutureTimeout:
            step = self._step
            self._abort()
            self.close()
            raise RuntimeError(f"Chromium with the extension did not start ({step})") from None
        except BaseException:
            self.close()
            raise
        self._say(
            f"extension {self.extension_id} ready in {time.monotonic() - started:.1f} s "
            "(Pyodide and the verifier loaded)"
        )
        return self

    def _launch(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        if self.profile_dir.exists():
            shutil.rmtree(self.profile_dir)
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self._step = "starting Playwright"
        self._pw = sync_playwright().start()
        self._step = "launching Chromium"
        try:
            self._context = self._pw.chromium.launch_persistent_context(
                str(self.profile_dir),
                executable_path=self.exe,
                headless=self.headless,
                # the window's own size, no viewport emulation: with an emulated viewport,
                # screenshots of the block page (which the extension opens with
                # chrome.tabs.update) sometimes showed a stale copy of it in the lower part
                args=[
                    *chromium_args(self.ext_dir, [self.eco.spki]),
                    "--window-size=1000,900",
                    *self.extra_args,
                ],
                no_viewport=True,
                permissions=list(self.permissions),
            )
        except Error as exc:
            raise RuntimeError(f"Chromium did not start: {exc.message.splitlines()[0]}") from None
        self._step = "waiting for the extension's service worker"
        sw = self._sw()
        self.extension_id = sw.url.split("/")[2]
        self._step = "waiting for Pyodide in the extension"
        sw.evaluate(READY_JS)
        self._step = ""

    def _sw(self) -> Any:
        """The extension's service worker (waits for it when it is (re)starting)."""
        for worker in self._context.service_workers:
            if worker.url.startswith("chrome-extension://"):
                return worker
        return self._context.wait_for_event("serviceworker", timeout=30000)

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(Exception):
            thread.call(self._shutdown, timeout=30)
        thread.stop(timeout=5)

    def _abort(self) -> None:
        """Give up on a browser that stopped answering: SIGTERM our Chromium (the browser
        process of our own profile), so the call the browser thread is stuck in fails."""
        self._stuck = True
        for pid in browser_pids(self.profile_dir):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)

    def _shutdown(self) -> None:
        context, self._context = self._context, None
        pw, self._pw = self._pw, None
        if context is not None:
            with contextlib.suppress(Exception):
                context.close()
        if pw is not None:
            with contextlib.suppress(Exception):
                pw.stop()

    def __enter__(self) -> DemoBrowser:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- visiting -----------------------------------------------------------------------
    def visit(self, site: DemoSite) -> Observation:
        """Open the site in a new tab, wait until it settled, observe it, screenshot it."""
        if self._thread is None:
            raise RuntimeError("the browser is not running")
        if self._stuck:
            return self._failed(site, "not visited: Chromium stopped answering before", 0.0)
        started = time.monotonic()
        try:
            return self._thread.call(lambda: self._visit(site), timeout=self.timeout + GRACE)
        except FutureTimeout:
            # stuck in a Playwright call without a timeout: stop this browser
            seconds = time.monotonic() - started
            error = f"Chromium did not answer in {seconds:.0f} s ({self._step})"
            self._abort()
            return self._failed(site, error, seconds)

    def run(self, scenario: Callable[[Callable[[str], Any]], T], timeout: float = 120.0) -> T:
        """Run ``scenario(open_tab)`` on the browser thread (Playwright's sync API is per
        thread). ``open_tab(url)`` opens a tab once the extension gated it, navigates to
        ``url`` and returns its Playwright page; the tabs are closed afterwards."""
        if self._thread is None or self._stuck:
            raise RuntimeError("the browser is not running")
        pages: list[Any] = []

        def open_tab(url: str) -> Any:
            from playwright.sync_api import Error

            page = self._context.new_page()
            pages.append(page)
            self._sw().evaluate(GATED_JS)
            with contextlib.suppress(Error):
                page.goto(url, wait_until="commit", timeout=self.timeout * 1000)
            return page

        def call() -> T:
            try:
                return scenario(open_tab)
            finally:
                for page in pages:
                    with contextlib.suppress(Exception):
                        page.close()

        return self._thread.call(call, timeout=timeout + GRACE)

    def _failed(self, site: DemoSite, error: str, seconds: float) -> Observation:
        url = self.eco.url(site)
        return Observation(site.name, url, "", False, {}, None, seconds, error=error)

    def _visit(self, site: DemoSite) -> Observation:
        from playwright.sync_api import Error

        url = self.eco.url(site)
        started = time.monotonic()
        deadline = started + self.timeout
        self._step = "opening a tab"
        page = self._context.new_page()
        try:
            self._step = "waiting for the extension to attach to the tab"
            self._sw().evaluate(GATED_JS)
            # a blocked navigation fails (ERR_BLOCKED_BY_CLIENT, or ERR_ABORTED when the
            # block page replaces it): the settling below sees the block page
            self._step = "navigating"
            with contextlib.suppress(Error):
                page.goto(url, wait_until="commit", timeout=self.timeout * 1000)
            self._step = "waiting for the page to settle"
            settled = self._settle(page, deadline)
            return self._observe(site, page, url, settled, time.monotonic() - started)
        except Error as exc:
            return Observation(
                site.name, url, page.url, False, {}, None, time.monotonic() - started,
                error=exc.message.splitlines()[0],
            )  # fmt: skip
        finally:
            self._step = "closing the tab"
            with contextlib.suppress(Error):
                page.close()
            self._step = ""

    def _settle(self, page: Any, deadline: float) -> str | None:
        from playwright.sync_api import Error, TimeoutError

        while (remaining := deadline - time.monotonic()) > 0:
            try:
                handle = page.wait_for_function(SETTLED_JS, timeout=remaining * 1000, polling=100)
                return str(handle.json_value())
            except TimeoutError:
                return None
            except Error:
                # the document was replaced under the poll (the block page, an error page)
                if page.is_closed():
                    return None
                with contextlib.suppress(Error):
                    page.wait_for_load_state("domcontentloaded", timeout=1000)
        return None

    def _observe(
        self, site: DemoSite, page: Any, url: str, settled: str | None, seconds: float
    ) -> Observation:
        from playwright.sync_api import Error

        final = page.url
        block = BLOCK_PAGE.match(final)
        obs = Observation(site.name, url, final, block is not None, {}, settled, seconds)
        if block is not None:
            query = parse_qs(urlsplit(final).query)
            obs.block_reason = query.get("reason", [""])[0]
            obs.block_detail = query.get("detail", [""])[0]
        elif final.startswith(url):
            with contextlib.suppress(Error):
                obs.markers = {str(k): str(v) for k, v in page.evaluate(MARKERS_JS).items()}
        path = self.screenshots / f"{site.name}.png"
        self._step = "taking a screenshot"
        with contextlib.suppress(Error):  # a screenshot is nice to have, never a failure
            page.screenshot(path=str(path), timeout=10000)
            obs.screenshot = path
        return obs

    def show(self, site: DemoSite) -> None:
        """Open the site in a new tab and leave it open (the headed demo's last view)."""
        from playwright.sync_api import Error

        def open_tab() -> None:
            page = self._context.new_page()
            self._sw().evaluate(GATED_JS)
            with contextlib.suppress(Error):
                page.goto(self.eco.url(site), wait_until="commit")

        if self._thread is not None and not self._stuck:
            with contextlib.suppress(FutureTimeout):
                self._thread.call(open_tab, timeout=GRACE)

    # --- the demo's table ---------------------------------------------------------------
    def check_sites(self, sites: Iterable[DemoSite] | None = None) -> int:
        """Visit every site that has a ``browser`` expectation, print the table; the number
        of sites whose observation differs."""
        chosen = [s for s in (sites or self.eco.sites.values()) if expected_browser(s)]
        started = time.monotonic()
        print()
        print(f"{'site':24} {'expected in Chromium':42} {'observed':50} {'time':>5}  ok")
        failures = 0
        for site in chosen:
            expected = expected_browser(site)
            assert expected is not None
            obs = self.visit(site)
            problems = compare_browser(expected, obs)
            failures += bool(problems)
            ok = "yes" if not problems else "NO"
            want, got = describe_expected(expected), describe_observed(obs)
            print(f"{site.name:24} {want:42} {got:50} {obs.seconds:4.1f}s  {ok}", flush=True)
            for problem in problems:
                print(f"    {problem}")
        print()
        print(
            f"{len(chosen)} sites in Chromium in {time.monotonic() - started:.1f} s; "
            f"screenshots: {self.screenshots}/<site>.png"
        )
        if failures:
            say(f"{failures} site(s) did not behave as expected in Chromium")
        return failures

    def manual_command(self) -> str:
        """A command line that opens Chromium with the demo's extension, to explore by hand."""
        args = [
            self.exe or "chromium",
            f"--user-data-dir={self.eco.workdir / 'chromium-explore'}",
            *chromium_args(self.ext_dir, [self.eco.spki])[len(QUIET_FLAGS) :],
            self.eco.url(self.eco.sites["valid"]) if "valid" in self.eco.sites else "",
        ]
        return shlex.join(a for a in args if a)
