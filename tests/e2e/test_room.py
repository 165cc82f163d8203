"""The room sample site (web/room, issue 13) in Debian Chromium with fake media devices:
real pages, the real MLS worker (ts-mls bundled by scripts/build_room.py), the real
delivery service and SFU (``waict serve-room``, ``waict serve-sfu``: processes on
loopback; tests/e2e/room_servers.py).

No extension here (tests/e2e/test_sample_sites.py checks the room under WAICT): the pages
are served by a plain static server from ``web/room/public``, so these tests are about
the room itself (docs/room.md, "Tests"):

- three pages join one room and agree on one epoch and one safety number (the epoch
  authenticator) and decrypt each other's MLS messages; when the designated committer
  leaves, the next one removes it and everyone moves to a new safety number;
- video through the SFU: rising counts of decrypted frames, every forwarded frame an MLS
  private message of the current epoch (and frames in clear fail that check), a member
  that left decrypts nothing more and its frames are not shown;
- a lying SFU cannot show one member's frames as another's;
- the committer dies between a Welcome and its Add: "latest Welcome wins" converges,
  "first Welcome wins" strands the joiner on a dead fork.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import REPO_ROOT, SETUP_HINT, chromium_path
from room_servers import MEDIA_FLAGS, room_stats, running_delivery, running_sfu

from waict.demo.chromium import QUIET_FLAGS

pytestmark = pytest.mark.e2e

PUBLIC = REPO_ROOT / "web" / "room" / "public"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def room_site() -> Iterator[str]:
    """``web/room/public`` on a loopback origin (a secure context: 127.0.0.1)."""
    if not (PUBLIC / "mls-worker.js").is_file():
        pytest.fail(f"the room site is not built (web/room/public): {SETUP_HINT}", pytrace=False)
    handler = functools.partial(_Quiet, directory=str(PUBLIC))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_delivery(tmp_path_factory.mktemp("room")) as url:
        yield url


@pytest.fixture(scope="module")
def sfu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_sfu(tmp_path_factory.mktemp("sfu")) as url:
        yield url


@pytest.fixture(scope="module")
def lying_sfu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_sfu(tmp_path_factory.mktemp("lying-sfu"), lying=True) as url:
        yield url


@pytest.fixture(scope="module")
def chromium(_pw_driver: Any) -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        pytest.fail(f"Chromium is not installed: {SETUP_HINT}", pytrace=False)
    browser = _pw_driver.chromium.launch(
        executable_path=exe, headless=True, args=[*QUIET_FLAGS, *MEDIA_FLAGS]
    )
    try:
        yield browser
    finally:
        with contextlib.suppress(Exception):
            browser.close()


def status(page: Any) -> dict[str, Any]:
    value = page.evaluate("window.roomStatus || null")
    return dict(value) if value else {}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def open_member(
    context: Any, site: str, ds: str, room: str, chat_ms: int = 400, extra: str = ""
) -> Any:
    page = context.new_page()
    page.goto(f"{site}/#ds={ds}&room={room}&chat={chat_ms}{extra}")
    page.wait_for_function("document.documentElement.dataset.waictDone === '1'", timeout=30000)
    assert page.evaluate("document.documentElement.dataset.waictWorker") == "ran"
    return page


def describe(pages: list[Any]) -> str:
    rows = []
    for page in pages:
        s = status(page)
        # age: how long ago the worker last posted (it posts every second): a frozen
        # worker shows here (docs/room.md, "Not done")
        age = time.time() - s["at"] / 1000 if "at" in s else None
        rows.append(
            f"uid {s.get('uid')} epoch {s.get('epoch')} members {s.get('members')} "
            f"dc {s.get('dc')} safety {s.get('safety')} failures {s.get('failures')} "
            f"queued {s.get('queued')} age {age if age is None else round(age, 1)} s "
            f"stats {s.get('stats')}"
        )
    return "; ".join(rows)


def converged(pages: list[Any], epoch: int, members: list[int]) -> bool:
    states = [status(p) for p in pages]
    return (
        all(
            s.get("epoch") == epoch and s.get("members") == members and s.get("confirmed")
            for s in states
        )
        and len({s.get("safety") for s in states}) == 1
    )


def test_three_members_one_safety_number_then_the_committer_leaves(
    chromium: Any, room_site: str, delivery: str
) -> None:
    context = chromium.new_context()
    try:
        pages = [open_member(context, room_site, delivery, "three") for _ in range(3)]
        wait_for(
            f"three members at epoch 2 ({describe(pages)})",
            lambda: converged(pages, 2, [1, 2, 3]),
        )
        # each page's uid, in the order they joined (read once converged: a page reports
        # its uid with the worker's next status post, which came after the read once)
        uids = [status(p).get("uid") for p in pages]
        assert uids == [1, 2, 3]
        before = [status(p) for p in pages]
        safety = before[0]["safety"]
        assert len(safety.split()) == 6 and all(len(g) == 5 for g in safety.split())
        shown = pages[1].locator("#safety").inner_text()
        assert shown == safety
        assert [s["dc"] for s in before] == [True, False, False]
        assert all(not s["failures"] for s in before), describe(pages)
        assert all(s["initKeyErased"] for s in before)  # once confirmed, Welcomes are closed

        # every member decrypts the others' MLS application messages, and more over time
        def decrypted(page: Any) -> dict[str, int]:
            return {k: int(v) for k, v in status(page)["stats"]["chatDecrypted"].items()}

        first = [decrypted(p) for p in pages]
        wait_for(
            "rising counts of decrypted messages",
            lambda: all(
                all(decrypted(p).get(str(u), 0) > first[i].get(str(u), 0) for u in uids if u != uid)
                for i, (p, uid) in enumerate(zip(pages, uids, strict=True))
            ),
        )

        # the committer (uid 1) leaves: uid 2 is the next DC and removes it
        pages[0].close()
        rest = pages[1:]
        wait_for(f"uid 1 removed ({describe(rest)})", lambda: converged(rest, 3, [2, 3]))
        after = [status(p) for p in rest]
        assert after[0]["safety"] != safety
        assert [s["dc"] for s in after] == [True, False]
        assert all(not s["failures"] for s in after), describe(rest)
    finally:
        context.close()


# --- media through the SFU ----------------------------------------------------------------


def frame_problems(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], epoch: int
) -> list[str]:
    """Why the frames the SFU forwarded between two snapshots are not all MLS private
    messages (application data) of ``epoch``; empty when they all are."""
    problems = []
    for uid, now in after.items():
        then = before.get(uid, {"frames": 0, "not_mls": 0, "epochs": {}, "content_types": {}})
        frames = now["frames"] - then["frames"]
        in_epoch = now["epochs"].get(str(epoch), 0) - then["epochs"].get(str(epoch), 0)
        not_mls = now["not_mls"] - then["not_mls"]
        if frames <= 0:
            problems.append(f"uid {uid}: no frame forwarded")
        if not_mls:
            problems.append(f"uid {uid}: {not_mls} of {frames} frames are not MLS messages")
        if in_epoch != frames:
            problems.append(
                f"uid {uid}: {frames - in_epoch} of {frames} frames not of epoch {epoch}"
            )
    return problems


def decrypted_frames(page: Any) -> dict[int, int]:
    return {int(k): int(v) for k, v in status(page)["stats"]["decrypted"].items()}


def test_three_members_video_through_the_sfu_is_mls_ciphertext(
    chromium: Any, room_site: str, delivery: str, sfu: str
) -> None:
    context = chromium.new_context()
    room = "video"
    try:
        pages = [
            open_member(context, room_site, delivery, room, extra=f"&sfu={sfu}") for _ in range(3)
        ]
        wait_for(
            f"three members at epoch 2 ({describe(pages)})", lambda: converged(pages, 2, [1, 2, 3])
        )
        uids = [1, 2, 3]

        def everyone_decrypts(baseline: list[dict[int, int]]) -> bool:
            return all(
                all(
                    decrypted_frames(p).get(u, 0) > baseline[i].get(u, 0) + 10
                    for u in uids
                    if u != me
                )
                for i, (p, me) in enumerate(zip(pages, uids, strict=True))
            )

        wait_for(
            f"every member decrypts the others' video ({describe(pages)}; {room_stats(sfu, room)})",
            lambda: everyone_decrypts([{} for _ in pages]),
            timeout=45,
        )
        before = room_stats(sfu, room)
        counts = [decrypted_frames(p) for p in pages]
        wait_for("rising counts of decrypted frames", lambda: everyone_decrypts(counts))
        after = room_stats(sfu, room)
        assert set(after) == {"1", "2", "3"}
        assert frame_problems(before, after, 2) == []
        for uid, counts_of in after.items():
            assert counts_of["content_types"] == {"1": counts_of["mls"]}, uid  # application
        for page in pages:
            s = status(page)
            assert s["stats"]["sent"] > 0 and not s["failures"], describe(pages)
            assert page.locator("video[data-uid]").count() == 2
        # the decrypted frames decode: every member's page shows the two others' video
        for page in pages:
            page.wait_for_function(
                "[...document.querySelectorAll('video[data-uid]')]"
                ".filter((v) => v.videoWidth > 0).length === 2",
                timeout=20000,
            )

        # uid 1 (the committer) leaves the room but keeps its page, its old group state and
        # its connections to the SFU: uid 2 removes it; uid 1 can no longer decrypt
        # anything, and its frames are not rendered by the others
        safety = status(pages[1])["safety"]
        pages[0].locator("#leave").click()
        rest = pages[1:]
        wait_for(f"uid 1 removed ({describe(rest)})", lambda: converged(rest, 3, [2, 3]))
        assert status(pages[1])["safety"] != safety
        for page in rest:
            page.wait_for_function("!document.querySelector('video[data-uid=\"1\"]')")
        gone = status(pages[0])["stats"]
        wait_for(
            "the removed member's frames of epoch 3 fail to decrypt",
            lambda: status(pages[0])["stats"]["undecryptable"] > gone["undecryptable"] + 10,
        )
        late = [decrypted_frames(p) for p in pages]
        time.sleep(2)
        assert decrypted_frames(pages[0]) == late[0]  # nothing more decrypts for uid 1
        for i, page in ((1, pages[1]), (2, pages[2])):
            now = decrypted_frames(page)
            assert now.get(1, 0) == late[i].get(1, 0)  # uid 1's frames: never rendered
            other = 3 if i == 1 else 2
            assert now[other] > late[i][other]  # while the remaining member's still are
        # what the SFU forwards of the remaining members is ciphertext of the new epoch
        # (uid 1's frames stay of epoch 2: it left with its old state)
        before = {u: c for u, c in room_stats(sfu, room).items() if u != "1"}
        wait_for(
            "frames of epoch 3",
            lambda: all(
                room_stats(sfu, room)[u]["frames"] > before[u]["frames"] + 10 for u in before
            ),
        )
        after = {u: c for u, c in room_stats(sfu, room).items() if u != "1"}
        assert frame_problems(before, after, 3) == []
        assert room_stats(sfu, room)["1"]["last_epoch"] == 2
    finally:
        context.close()


def test_frames_in_clear_fail_the_ciphertext_check(
    chromium: Any, room_site: str, delivery: str, sfu: str
) -> None:
    """The check of the test above, on a room whose pages send frames in clear: it fails
    (so its passing there means something)."""
    context = chromium.new_context()
    room = "clear"
    try:
        extra = f"&sfu={sfu}&encrypt=0"
        pages = [open_member(context, room_site, delivery, room, extra=extra) for _ in range(2)]
        wait_for(f"two members at epoch 1 ({describe(pages)})", lambda: converged(pages, 1, [1, 2]))
        before = room_stats(sfu, room)
        wait_for(
            f"frames forwarded ({room_stats(sfu, room)})",
            lambda: all(
                room_stats(sfu, room).get(u, {}).get("frames", 0)
                > before.get(u, {}).get("frames", 0) + 10
                for u in ("1", "2")
            ),
            timeout=45,
        )
        problems = frame_problems(before, room_stats(sfu, room), 1)
        assert any("not MLS" in p for p in problems), problems
    finally:
        context.close()


# --- the committer dies between a Welcome and its Add ------------------------------------


@pytest.mark.parametrize("rule", ["latest", "first"])
def test_committer_dies_between_welcome_and_add(
    chromium: Any, room_site: str, delivery: str, rule: str
) -> None:
    """docs/room.md's counterexample, in browsers with real MLS: uid 1 sends uid 3's
    Welcome and dies before the Add; uid 2, the next committer, sends uid 3 another
    Welcome (another state at the same epoch), the Add, then uid 1's Remove. Under "latest
    Welcome wins" uid 3 converges with uid 2; under "first Welcome wins" it is stranded on
    the dead fork (another safety number, every later commit ignored)."""
    context = chromium.new_context()
    room = f"dies-{rule}"
    try:
        extra = f"&welcome={rule}"
        p1 = open_member(context, room_site, delivery, room, extra=f"{extra}&die=3")
        p2 = open_member(context, room_site, delivery, room, extra=extra)
        wait_for(f"two members ({describe([p1, p2])})", lambda: converged([p1, p2], 1, [1, 2]))
        p3 = open_member(context, room_site, delivery, room, extra=extra)
        pages = [p2, p3]
        if rule == "latest":
            wait_for(f"uid 3 converges ({describe(pages)})", lambda: converged(pages, 3, [2, 3]))
            assert all(not status(p)["failures"] for p in pages), describe(pages)
            assert status(p3)["welcomesTaken"] == 2  # uid 1's, then uid 2's: the latest won
            return
        wait_for(
            f"uid 2 removes uid 1 ({describe(pages)})",
            lambda: status(p2).get("epoch") == 3 and status(p3).get("confirmed") is True,
        )
        time.sleep(1)
        s2, s3 = status(p2), status(p3)
        assert s2["members"] == [2, 3]
        assert s3["epoch"] == 2 and s3["safety"] != s2["safety"], describe(pages)
        assert s3["ignoredCommits"] >= 2  # uid 2's Add and Remove: parents it does not hold
        assert s3["welcomesTaken"] == 1  # uid 1's, on the dead fork
    finally:
        context.close()


def test_frames_the_sfu_labels_as_another_members_are_not_shown(
    chromium: Any, room_site: str, delivery: str, lying_sfu: str
) -> None:
    """An SFU that answers a subscription to uid 2 with uid 3's frames
    (tests/e2e/lying_sfu.py): MLS names each frame's sender, so the pages drop what is
    labeled wrong and still show what is labeled right."""
    context = chromium.new_context()
    room = "liar"
    try:
        pages = [
            open_member(context, room_site, delivery, room, extra=f"&sfu={lying_sfu}")
            for _ in range(3)
        ]
        wait_for(
            f"three members at epoch 2 ({describe(pages)})", lambda: converged(pages, 2, [1, 2, 3])
        )

        # asked for uid 2, the liar serves uid 3's frames: uid 1 gets them twice (as 2 and
        # as 3), uid 3 gets its own (as 2); uid 2 does not subscribe to itself
        def counts() -> list[tuple[int, dict[int, int]]]:
            return [(status(p)["stats"]["mislabeled"], decrypted_frames(p)) for p in pages]

        def settled() -> bool:
            (m1, d1), (_, d2), (m3, d3) = counts()
            return (
                m1 > 10
                and m3 > 10
                and all(d.get(u, 0) > 10 for d, u in ((d1, 3), (d2, 1), (d2, 3), (d3, 1)))
            )

        wait_for(f"labels checked ({counts()})", settled, timeout=45)
        (_, d1), (m2, _), (_, d3) = counts()
        assert d1.get(2, 0) == 0 and d3.get(2, 0) == 0  # nothing shown as uid 2's
        assert m2 == 0  # uid 2's subscriptions were served truthfully
        assert all(status(p)["stats"]["undecryptable"] == 0 for p in pages)
    finally:
        context.close()
