"""Progress of a run's long phases: a tqdm bar per phase on a terminal, one line per finished phase otherwise
(CI logs, pipes), with its elapsed time. ``SR_HARNESS_PROGRESS=0`` silences both."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from tqdm import tqdm


def _enabled() -> bool:
    return os.environ.get("SR_HARNESS_PROGRESS", "1") != "0"


def _terminal() -> bool:
    return sys.stderr.isatty()


def bar(iterable, *, total: int, desc: str):
    """``iterable`` with a transient bar on a terminal."""
    return tqdm(iterable, total=total, desc=desc, leave=False, disable=not (_enabled() and _terminal()))


@contextlib.contextmanager
def phase(desc: str):
    """Time a phase; off a terminal, print ``desc: 1.2 s`` when it ends (the bar's place in a log)."""
    start = time.perf_counter()
    yield
    if _enabled() and not _terminal():
        print(f"{desc}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
