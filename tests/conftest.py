"""Shared fixtures: the ../shared reference folder and the compute device."""

import os
import pathlib

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("SR_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    if not SHARED.is_dir():
        pytest.skip("reference folder ../shared not present (set SR_SHARED_DIR to point at it)")
    return SHARED


@pytest.fixture(scope="session")
def weights_dir(shared_dir) -> pathlib.Path:
    return shared_dir / "reference" / "weights"


@pytest.fixture(scope="session")
def cuda_device() -> str:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return "cuda"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _quiet_progress(monkeypatch):
    """Phase lines off, so tests of error output see only the error (tests/test_progress.py turns them on)."""
    monkeypatch.setenv("SR_HARNESS_PROGRESS", "0")
