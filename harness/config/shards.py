"""``--shard K/N``: a deterministic slice of a run's (entry, dataset) pairs, so N machines split one evaluation.

Pairs are numbered entry-major in the run's order (entry 0 on every dataset, then entry 1 ...); pair j goes to
shard j mod N (shards count from 1). Every shard computes the same numbering from the same options, so the
slices are disjoint and together cover the run; ``sr-harness merge`` joins the shard records.
"""

from __future__ import annotations

import argparse
import re


def shard_spec(text: str) -> str:
    """argparse type for K/N with 1 <= K <= N."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N (e.g. 2/4), got {text!r}")
    return f"{int(found.group(1))}/{int(found.group(2))}"


def parse(spec: str) -> tuple[int, int]:
    k, n = spec.split("/")
    return int(k), int(n)


def shard_pairs(spec: str, entries: list[str], n_datasets: int) -> frozenset[tuple[str, int]]:
    """The (entry key, dataset index) pairs of shard ``spec`` among ``entries`` x ``n_datasets`` datasets."""
    k, n = parse(spec)
    return frozenset((key, d) for i, key in enumerate(entries) for d in range(n_datasets)
                     if (i * n_datasets + d) % n == k - 1)
