"""Browser end-to-end harness: Chromium, the built extension, page observations.

One session: a :class:`server.FixtureServer` on a free loopback port serving every site of
:func:`sites.build` (built at the real clock, so the cosignatures are fresh), the extension
built by ``scripts/build_extension.py`` into a temporary folder with a ``trust.json`` made
from the World's witness keys and the World's ``preload.waict``, and Debian's Chromium
(headless, fresh profile) with the extension loaded. Test host names are mapped to
127.0.0.1 with ``--host-resolver-rules``; the sites are HTTPS, their leaf certificate (from
a local CA, ``server.py``) trusted by its key (``--ignore-certificate-errors-spki-list``), so
they are secure contexts (``Sec-Fetch-Dest``, shared and service workers) with no
insecure-origin flag.

Needs ``bash scripts/setup.sh`` (chromium, playwright, node_modules, wheels). Missing
pieces FAIL the browser tests with the command to run; they are never skipped. The glue
tests (``test_browser_glue.py``) need none of this.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sites
from server import FixtureServer

from waict.demo.chromium import QUIET_FLAGS
from waict.demo.chromium import chromium_path as demo_chromium_path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
#: The dev-sigs plugin (loaded from source, next to the built extension).
DEV_SIGS_PLUGIN = REPO_ROOT / "plugins" / "dev-sigs"
#: A second plugin that does nothing on its own (tests send its messages).
SECOND_PLUGIN = Path(__file__).resolve().parent / "second-plugin"
#: The extension's id, pinned by the ``key`` in extension/src/manifest.json.
EXTENSION_ID = "jjjinacfkghmlcgnadipofmhdmcgflbb"
SETUP_HINT = "run `bash scripts/setup.sh` from the repository root"


def chromium_path() -> str | None:
    """Debian's Chromium (or ``$WAICT_CHROMIUM``), found the same way as the demo does."""
    return demo_chromium_path()


def load_build_extension() -> Any:
    path = REPO_ROOT / "scripts" / "build_extension.py"
    spec = importlib.util.spec_from_file_location("waict_build_extension", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def chromium_args(ext: Path, spki: str, extra: tuple[Path, ...] = ()) -> list[str]:
    """Chromium's flags (``spki``: the fixture server's leaf, ``server.tls.spki``);
    ``extra``: more unpacked extensions to load (plugins)."""
    exts = ",".join(str(e) for e in (ext, *extra))
    return [
        *QUIET_FLAGS,
        f"--disable-extensions-except={exts}",
        f"--load-extension={exts}",
        f"--host-resolver-rules=MAP *.{sites.DOMAIN} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki}",
    ]


@dataclass
class Browser:
    context: Any
    server: FixtureServer
    fixture: sites.Fixture
    ext_dir: Path
    extension_id: str

    @property
    def sw(self) -> Any:
        """The extension's service worker (waits for it when it is restarting)."""
        for worker in self.context.service_workers:
            if worker.url.startswith(f"chrome-extension://{self.extension_id}/"):
                return worker
        return self.context.wait_for_event("serviceworker", timeout=30000)

    def new_page(self) -> Any:
        """A new tab, once the extension has gated it (attached its debugger).

        ``chrome.tabs`` may list the new tab a moment after Playwright has it: wait for a
        tab id that was not there before, and until every tab is gated (else the first
        navigation goes through the extension's hold page, and ``goto`` returns on it).
        """
        before = self.sw.evaluate("chrome.tabs.query({}).then((all) => all.map((t) => t.id))")
        page = self.context.new_page()
        gated = self.sw.evaluate(
            """async (before) => {
                for (let i = 0; i < 400; i++) {
                    const all = await chrome.tabs.query({});
                    if (all.some((t) => !before.includes(t.id))) {
                        const state = await waict.whenAllTabsGated();
                        if (state.every(([, ok]) => ok)) return true;
                    }
                    await new Promise((r) => setTimeout(r, 25));
                }
                return false;
            }""",
            before,
        )
        assert gated, "the extension did not gate the new tab"
        return page

    def tab_id(self, page: Any) -> int:
        """The extension's tab id of a page (found by its URL)."""
        tab_id = self.sw.evaluate(
            """async (url) => {
                const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
                return tab ? tab.id : null;
            }""",
            page.url,
        )
        assert isinstance(tab_id, int), f"no tab shows {page.url}"
        return tab_id

    def extension_page(self, path: str) -> Any:
        """A new tab showing one of the extension's own pages (popup.html?tab=..., ...)."""
        page = self.new_page()
        page.goto(f"chrome-extension://{self.extension_id}/{path}", wait_until="load")
        return page


@dataclass
class PluginBrowser(Browser):
    """A browser with the extension and the dev-sigs plugin (``plugin_id``)."""

    plugin_id: str = ""

    @property
    def plugin_sw(self) -> Any:
        return extension_worker(self.context, self.plugin_id)

    @property
    def second_plugin_sw(self) -> Any:
        """The service worker of ``tests/e2e/second-plugin``."""
        for worker in self.context.service_workers:
            if worker.url.endswith("/second.js"):
                return worker
        return self.context.wait_for_event(
            "serviceworker", predicate=lambda w: w.url.endswith("/second.js"), timeout=30000
        )


def extension_worker(context: Any, extension_id: str, timeout: float = 30000) -> Any:
    """The service worker of the extension ``extension_id`` (waits for it to start)."""
    prefix = f"chrome-extension://{extension_id}/"
    for worker in context.service_workers:
        if worker.url.startswith(prefix):
            return worker
    return context.wait_for_event(
        "serviceworker", predicate=lambda w: w.url.startswith(prefix), timeout=timeout
    )


def markers(page: Any) -> set[str]:
    names = page.evaluate(
        "[...document.documentElement.attributes].map(a => a.name)"
        ".filter(n => n.startsWith('data-m-')).map(n => n.slice(7))"
    )
    return set(names)


def wait_settled(page: Any, timeout: float = 15000) -> set[str]:
    """Wait until the fixture page's script finished its asynchronous work (or never ran)."""
    groups = [list(g) for g in sites.SETTLED]
    page.wait_for_function(
        """(groups) => {
            const el = document.documentElement;
            if (document.readyState !== 'complete') return false;
            if (!el.hasAttribute('data-m-script')) return true;  // app.js did not run
            return groups.every(g => g.some(n => el.hasAttribute('data-m-' + n)));
        }""",
        arg=groups,
        timeout=timeout,
    )
    return markers(page)


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot of the page to ``test-artifacts/<name>.png``.

    Headless Chromium sometimes draws a freshly opened tab's content twice (a second copy
    below the first) in the first few hundred milliseconds after the viewport is set, even
    for a plain ``data:`` page; the DOM holds one copy. So frames are captured until two
    in a row are identical (at most ~3 s).
    """
    with contextlib.suppress(Exception):  # an artifact is nice to have, never a failure
        previous = None
        for _ in range(20):
            png = page.screenshot()
            if png == previous:
                break
            previous = png
            page.wait_for_timeout(150)
        (ARTIFACTS / f"{name}.png").write_bytes(png)


@contextlib.contextmanager
def slow_storage_reads(sw: Any, area: str, prefix: str, delay_ms: int = 400) -> Any:
    """Delay the answers to the extension's reads of ``chrome.storage.<area>`` keys starting
    with ``prefix`` (fault injection; the read itself happens at once): read-modify-writes
    of those keys that run at about the same time then all read before any of them writes,
    as they could by chance."""
    sw.evaluate(
        """([area, prefix, ms]) => {
            const store = chrome.storage[area];
            const original = store.__waictOriginalGet || store.get;
            store.__waictOriginalGet = original;
            store.get = function (keys, ...rest) {
                const names = typeof keys === 'string' ? [keys] : Array.isArray(keys) ? keys : [];
                const slow = names.some((k) => String(k).startsWith(prefix));
                const read = original.call(store, keys, ...rest);
                if (!slow) return read;
                // read now, answer later: the answer is stale by the time it arrives
                return read.then((r) => new Promise((done) => setTimeout(() => done(r), ms)));
            };
        }""",
        [area, prefix, delay_ms],
    )
    try:
        yield
    finally:
        sw.evaluate(
            """(area) => {
                const store = chrome.storage[area];
                if (store.__waictOriginalGet) store.get = store.__waictOriginalGet;
                delete store.__waictOriginalGet;
            }""",
            area,
        )
