"""Environment fingerprint stored with every run: what produced these numbers, and can two runs' times be compared."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from sr_harness.protocols.machine import cpu_identity, environment_flags

from sr_harness import project_root

PACKAGES = ("sr-harness", "torch", "numpy", "scikit-image", "scipy", "fvcore", "jinja2", "matplotlib", "tqdm",
            "pillow")

# Absolute times are comparable only when all of these agree (runtime ratios need only the same CPU: cpu_identity).
TIMING_KEYS = ("device", "cpu_model", "cpu_identity", "gpu_name", "torch", "cuda", "cudnn", "threads", "tf32_matmul",
               "tf32_cudnn", "cudnn_benchmark")


# Files the harness itself rewrites: a changed copy says nothing about the code or inputs that were measured.
HARNESS_OUTPUTS = ("results/report.html", "results/baseline.json")


def git_state(root: Path | None = None) -> dict:
    """Commit and dirty flag (tracked changes outside the harness outputs) of the checkout; None without git."""
    root = root or project_root()

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
        dirty = any(line[3:] not in HARNESS_OUTPUTS for line in changed)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint(device: str = "cpu") -> dict:
    """The one environment description of records and trainer exports: the runtime's timing flags (same keys,
    from ``protocols.machine.environment_flags``) plus the machine, packages and git state."""
    flags = environment_flags(device if device == "cpu" or torch.cuda.is_available() else "cpu")
    gpu = flags["gpu_name"]
    return flags | {
        "device": device,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_identity": cpu_identity(),
        "interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "gpu_capability": list(torch.cuda.get_device_capability(0)) if gpu else None,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "packages": package_versions(),
        "git": git_state(),
    }


def timing_mismatch(env_a: dict, env_b: dict) -> list[str]:
    """Names of the fingerprint fields that differ and make absolute times incomparable (empty = comparable)."""
    return [key for key in TIMING_KEYS if env_a.get(key) != env_b.get(key)]
