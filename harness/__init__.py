"""SR benchmark harness: run suites of models over datasets, write records, compare, render reports.

Layers (imports go downwards only): cli -> {gate, report} -> run -> {config, records} -> {errors, metrics, outputs};
the trainer sits beside run; models and protocols import nothing from the harness.
"""

import os
from pathlib import Path

ROOT_ENV = "SR_HARNESS_ROOT"


class HarnessError(Exception):
    """A user-facing error: its str() is one line saying what is wrong and how to fix it."""


def project_root() -> Path:
    """The project folder commands work in (results/, the git checkout of the speed A/B): $SR_HARNESS_ROOT, else
    the current directory; never the folder the package is installed in."""
    return Path(os.environ.get(ROOT_ENV) or os.getcwd()).resolve()


def shipped_checkpoints() -> Path:
    """The project's own checkpoints as installed: sr_harness/checkpoints in a wheel, the checkout's
    results/checkpoints in an editable install."""
    package = Path(__file__).resolve().parent
    wheel = package / "checkpoints"
    return wheel if wheel.is_dir() else package.parent / "results" / "checkpoints"
