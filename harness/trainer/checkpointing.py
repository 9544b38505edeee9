"""Training files (resumable state, progress and curve JSON), written atomically: a kill or a full disk never
destroys the last good file."""

from __future__ import annotations

import json
import pathlib
import random
import tempfile

import numpy as np
import torch

from sr_harness import HarnessError
from sr_harness.outputs import atomic_write, atomic_write_text

STATE_FORMAT = "sr-harness-train-state"


class CheckpointWriteError(HarnessError, OSError):
    """The checkpoint folder cannot take the file; the message is one line naming it and the fix."""


def rng_states() -> dict:
    """Every RNG a step may touch, as tensors and plain Python values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos,
                                                       has_gauss, cached],
            "python": list(random.getstate()),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def check_writable(folder: pathlib.Path) -> None:
    """Fail before training starts if ``folder`` cannot hold checkpoints."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CheckpointWriteError(f"{folder}: cannot write checkpoints there ({exc.strerror or exc}); "
                                   "choose another --out folder or fix its permissions") from None


def atomic_save(obj, path: pathlib.Path) -> None:
    """torch.save ``obj`` over ``path`` atomically; a failed write keeps the previous file."""
    try:
        atomic_write(path, lambda handle: torch.save(obj, handle))
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as a RuntimeError of its writer
        reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:120]
        raise CheckpointWriteError(f"{path}: checkpoint not written ({reason}); the previous one "
                                   "is kept; free disk space or choose another --out folder") from None


def json_write(path: pathlib.Path, data) -> None:
    try:
        atomic_write_text(path, json.dumps(data, indent=2, default=float) + "\n")
    except OSError as exc:
        raise CheckpointWriteError(f"{path}: not written ({exc.strerror or exc}); free disk space or choose "
                                   "another --out folder") from None


def save_state(path: pathlib.Path, *, stage: str, step: int, model, optimizer, scheduler, extra: dict) -> None:
    atomic_save({"format": STATE_FORMAT, "stage": stage, "step": step, "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states(),
                 "extra": extra}, path)


def load_state_file(path: pathlib.Path) -> dict | None:
    """The saved training state, or None if there is none."""
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch raises many types for truncated or foreign bytes)
        raise CheckpointWriteError(f"{path}: unreadable training state ({exc.__class__.__name__}); delete it "
                                   "to restart, or choose another --out folder") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointWriteError(f"{path}: not a training state file; delete it or choose another --out folder")
    expected = {"stage": str, "step": int, "model": dict, "optimizer": dict, "scheduler": dict, "rng": dict,
                "extra": dict}
    bad = next((k for k, t in expected.items() if not isinstance(state.get(k), t)), None)
    if bad is not None or not all(isinstance(v, torch.Tensor) for v in state["model"].values()):
        raise CheckpointWriteError(f"{path}: damaged training state (field {bad or 'model'!r}); delete it to "
                                   "restart the stage, or choose another --out folder")
    return state
