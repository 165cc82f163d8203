#!/usr/bin/env python3
"""Benchmark ``waict.log.tree.PrefixTree`` (the transparency service's incremental prefix tree).

For each N (default 10k, 100k and 1M; ``-n`` to choose), over N realistic leaves
(key ``H("waict-kh" || host)``, value a 32-byte hash):

- bulk build time (``PrefixTree.build``) and the root;
- memory: the bytes the finished tree retains (tracemalloc, in a second, traced build) and
  the growth of the process's peak RSS (``resource.getrusage`` maxrss) over the untraced build;
- ``set``: median time of 1000 single updates of existing keys, and of 1000 inserts;
- ``set_many``: time for one batch of 1000 updates (median of 5 batches);
- ``prove_inclusion``: median time over 1000 keys, and the proof size (mean / max);
- for comparison, the reference ``verifier.mpt.compute_root`` at N <= ``--reference-max``
  (default 100k), which must give the same root.

Progress goes to stderr; the Markdown table to stdout. Example::

    .venv/bin/python scripts/bench_tree.py -n 1000000
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from verifier import mpt
from verifier.crypto import sha256
from verifier.transparency import tree_key
from waict.log.tree import PrefixTree

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SAMPLES = 1000

Leaf = tuple[bytes, bytes]


# -- progress ---------------------------------------------------------------------------


class Progress:
    """A one-line bar on a terminal; a line every 25% otherwise. Writes to stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 1)
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.shown = -1

    def update(self, done: int) -> None:
        step = 50 if self.tty else 4
        mark = done * step // self.total
        if mark == self.shown:
            return
        self.shown = mark
        elapsed = time.perf_counter() - self.start
        if self.tty:
            bar = "#" * mark + "." * (step - mark)
            sys.stderr.write(
                f"\r  {self.label:<28} [{bar}] {done:>9,}/{self.total:,} {elapsed:6.1f}s"
            )
            if done >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"  {self.label}: {done:,}/{self.total:,} ({elapsed:.1f}s)\n")
        sys.stderr.flush()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(label: str, fn: Callable[[], object]) -> tuple[float, object]:
    say(f"  {label} ...")
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    say(f"  {label}: {elapsed:.2f} s")
    return elapsed, result


# -- measurements -------------------------------------------------------------------------


@dataclass
class Row:
    n: int
    build_s: float = 0.0
    root: bytes = b""
    retained_bytes: int | None = None
    build_peak_bytes: int | None = None
    maxrss_delta_kib: int = 0
    set_update_us: float = 0.0
    set_insert_us: float = 0.0
    set_many_ms: float = 0.0
    prove_us: float = 0.0
    proof_mean: float = 0.0
    proof_max: int = 0
    reference_s: float | None = None


def make_leaves(n: int, offset: int = 0) -> list[Leaf]:
    progress = Progress(f"generating {n:,} leaves", n)
    leaves: list[Leaf] = []
    for i in range(offset, offset + n):
        leaves.append((tree_key(f"site{i}.example"), sha256(b"waict-ch" + i.to_bytes(8, "big"))))
        if (i - offset) % 4096 == 0:
            progress.update(i - offset)
    progress.update(n)
    return leaves


def maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def median_us(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1000


def bench_size(n: int, rng: random.Random, reference_max: int, trace: bool) -> Row:
    say(f"== N = {n:,}")
    row = Row(n)
    leaves = make_leaves(n)
    gc.collect()

    rss_before = maxrss_kib()
    row.build_s, built = timed("PrefixTree.build", lambda: PrefixTree.build(leaves))
    row.maxrss_delta_kib = maxrss_kib() - rss_before
    assert isinstance(built, PrefixTree)
    tree = built
    row.root = tree.root()
    assert len(tree) == n

    if n <= reference_max:
        row.reference_s, ref_root = timed(
            "verifier.mpt.compute_root", lambda: mpt.compute_root(leaves)
        )
        assert ref_root == row.root, "PrefixTree root differs from verifier.mpt"
        say("  roots match")

    if trace:
        del tree, built
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        _, traced = timed("traced build (memory)", lambda: PrefixTree.build(leaves))
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row.retained_bytes = current - before
        row.build_peak_bytes = peak - before
        assert isinstance(traced, PrefixTree)
        tree = traced
        assert tree.root() == row.root

    # Single updates of existing keys (new values), each on the current version.
    progress = Progress("set (update) x1000", SAMPLES)
    samples: list[int] = []
    version = tree
    for i in range(SAMPLES):
        key = leaves[rng.randrange(n)][0]
        value = rng.randbytes(32)
        start = time.perf_counter_ns()
        version = version.set(key, value)
        samples.append(time.perf_counter_ns() - start)
        progress.update(i + 1)
    row.set_update_us = median_us(samples)

    fresh = make_leaves(SAMPLES, offset=n)
    progress = Progress("set (insert) x1000", SAMPLES)
    samples = []
    version = tree
    for i, (key, value) in enumerate(fresh):
        start = time.perf_counter_ns()
        version = version.set(key, value)
        samples.append(time.perf_counter_ns() - start)
        progress.update(i + 1)
    row.set_insert_us = median_us(samples)
    assert len(version) == n + SAMPLES

    progress = Progress("set_many (1000 updates) x5", 5)
    batch_times: list[float] = []
    for i in range(5):
        batch = [(leaves[rng.randrange(n)][0], rng.randbytes(32)) for _ in range(SAMPLES)]
        began = time.perf_counter()
        tree.set_many(batch)
        batch_times.append(time.perf_counter() - began)
        progress.update(i + 1)
    row.set_many_ms = statistics.median(batch_times) * 1000

    progress = Progress("prove_inclusion x1000", SAMPLES)
    samples = []
    sizes: list[int] = []
    for i in range(SAMPLES):
        key, value = leaves[rng.randrange(n)]
        start = time.perf_counter_ns()
        proof = tree.prove_inclusion(key)
        samples.append(time.perf_counter_ns() - start)
        sizes.append(len(proof))
        if i < 20:
            assert mpt.verify_inclusion(row.root, key, value, proof)
        progress.update(i + 1)
    row.prove_us = median_us(samples)
    row.proof_mean = statistics.fmean(sizes)
    row.proof_max = max(sizes)
    return row


# -- report -------------------------------------------------------------------------------


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f}"


def table(rows: list[Row]) -> str:
    header = [
        "N",
        "build (s)",
        "root (first 8 B)",
        "tree memory, MiB (B/leaf)",
        "build peak, MiB",
        "maxrss Δ, MiB",
        "set update, µs (median)",
        "set insert, µs (median)",
        "set_many 1000 updates, ms",
        "prove_inclusion, µs (median)",
        "proof size, B (mean / max)",
        "mpt.compute_root (s)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        memory = (
            "n/a"
            if r.retained_bytes is None
            else f"{mib(r.retained_bytes)} ({r.retained_bytes / r.n:,.0f})"
        )
        peak = "n/a" if r.build_peak_bytes is None else mib(r.build_peak_bytes)
        cells = [
            f"{r.n:,}",
            f"{r.build_s:.2f}",
            r.root[:8].hex(),
            memory,
            peak,
            mib(r.maxrss_delta_kib * 1024),
            f"{r.set_update_us:.1f}",
            f"{r.set_insert_us:.1f}",
            f"{r.set_many_ms:.1f}",
            f"{r.prove_us:.1f}",
            f"{r.proof_mean:.0f} / {r.proof_max}",
            "—" if r.reference_s is None else f"{r.reference_s:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "-n",
        "--size",
        type=int,
        action="append",
        help="number of leaves (repeatable; default: 10000, 100000 and 1000000)",
    )
    parser.add_argument(
        "--reference-max",
        type=int,
        default=100_000,
        help="also time verifier.mpt.compute_root up to this N (default 100000)",
    )
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip the traced build (memory column)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for the samples")
    args = parser.parse_args(argv)
    sizes = args.size or list(DEFAULT_SIZES)
    rng = random.Random(args.seed)
    say(f"Python {sys.version.split()[0]}; sizes {', '.join(f'{n:,}' for n in sizes)}")
    rows = []
    for n in sizes:
        rows.append(bench_size(n, rng, args.reference_max, not args.no_tracemalloc))
        gc.collect()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
