"""SR benchmark harness: run suites of models over datasets, write records, compare, render reports."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # repository root (results/, tox.ini)


class HarnessError(Exception):
    """A user-facing error: its str() is one line saying what is wrong and how to fix it."""
