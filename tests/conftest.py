"""Shared fixtures: the ../shared reference folder and the compute device."""

import os
import pathlib

import numpy as np
import pytest
import torch
from skimage import io as skio

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("SR_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    if not SHARED.is_dir():
        pytest.skip("reference folder ../shared not present (set SR_SHARED_DIR to point at it)")
    return SHARED


@pytest.fixture(scope="session")
def shared_file(shared_dir):
    """A path inside ../shared; the test skips where this copy lacks it (the workflow fetches only the files that
    have public sources, .ci/fidelity_sources.toml)."""
    def find(*parts: str) -> pathlib.Path:
        path = shared_dir.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"{path} not in this reference folder")
        return path
    return find


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


@pytest.fixture()
def hr_folder(tmp_path):
    """Two random 64 x 80 HR images in a plain folder: a dataset for a quick eval."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "hr"
    folder.mkdir()
    for name in ("a", "b"):
        skio.imsave(folder / f"{name}.png", rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), check_contrast=False)
    return folder
