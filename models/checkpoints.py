"""Checkpoints: official RLFN / SlimRLFN files, NTIRE 2022 alias keys, and the project's self-describing format.

Every read goes through ``torch.load(..., weights_only=True, map_location=...)``: files are untrusted,
and four official files hold CUDA tensors that fail on a CPU-only machine without ``map_location``.
Every failure is a ``CheckpointError`` whose message is one line naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from .registry import UnknownModelError, build_model, build_overrides, get_spec, list_models

FORMAT = "sr-harness-model"
FORMAT_VERSION = 1
OFFICIAL_SOURCES = ("https://github.com/bytedance/RLFN/tree/main/model_zoo (RLFN family) and "
                    "https://github.com/Blcony/SlimRLFN/tree/main/model_zoo (SlimRLFN)")
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "network")
# NTIRE 2022 (ofsoundof/NTIRE2022_ESR team04_rlfn.pth) key prefixes -> RLFN key prefixes.
_NTIRE2022_ALIASES = ((re.compile(r"^fea_conv\."), "conv_1."), (re.compile(r"^B(\d+)\."), r"block_\1."),
                      (re.compile(r"^LR_conv\."), "conv_2."))


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file and what to do."""


@dataclass
class CheckpointInfo:
    path: str
    sha256: str
    model_name: str
    key_style: str  # "rlfn", "ntire2022" (alias keys remapped), "slimrlfn", or "project" (save_model file)
    n_tensors: int
    strict: bool
    extra: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # the training config stored by save_model (project files)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fail(path, problem: str, fix: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}; {fix}")


def read_checkpoint(path: str | os.PathLike, *, map_location="cpu") -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state_dict, project metadata or None) of a file; raises CheckpointError on anything else."""
    path = pathlib.Path(path)
    if not path.is_file():
        what = "is a directory, not a checkpoint file" if path.is_dir() else "no such checkpoint file"
        raise _fail(path, what, f"check the path; official weights are published at {OFFICIAL_SOURCES}")
    try:
        with warnings.catch_warnings():  # the weights-only unpickler warns about pickle protocols it then refuses
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch raises many types for bad bytes)
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if refused:
            raise _fail(path, f"holds a Python object ({refused.group(1)}) that weights_only=True refuses to load, "
                              "so it is not a plain state dict of tensors", "re-save it from code you trust with "
                              "torch.save(model.state_dict(), path)") from None
        text = str(exc).strip()
        operand = re.search(r"Unsupported operand \d+", text)
        first = operand.group(0) if operand else text.splitlines()[0].split(". ")[0][:100] if text else "no data"
        raise _fail(path, f"is corrupt, truncated or not a PyTorch checkpoint ({type(exc).__name__}: {first})",
                    "download or save it again") from None
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        if obj.get("format_version") != FORMAT_VERSION:
            raise _fail(path, f"has {FORMAT} format_version {obj.get('format_version')!r}, this version reads "
                              f"{FORMAT_VERSION}", "save it again with this version of the project")
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        return _plain_state_dict(path, obj.get("state_dict")), meta
    return _plain_state_dict(path, obj), None


def _plain_state_dict(path, obj) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise _fail(path, f"holds a {type(obj).__name__}, not a state dict",
                    "save model.state_dict() (a dict of tensor names to tensors)")
    wrapped = [k for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)]
    if wrapped:
        raise _fail(path, f"is a wrapper dict whose weights sit under key {wrapped[0]!r}, not a plain state dict",
                    f"extract them: torch.save(torch.load(path, weights_only=True, map_location='cpu')"
                    f"[{wrapped[0]!r}], 'plain.pth')")
    bad = next((k for k, v in obj.items() if not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise _fail(path, f"is not a plain state dict: entry {bad!r} is a {type(obj[bad]).__name__}, not a tensor",
                    "save model.state_dict() (a dict of tensor names to tensors)")
    return dict(obj)


def _remap_keys(state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], str]:
    """Adapt DataParallel ``module.`` prefixes and the NTIRE 2022 alias names to ``model``'s key names."""
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    style = getattr(model, "key_style", "rlfn")
    if style == "rlfn" and any(k.startswith(("fea_conv.", "LR_conv.")) or re.match(r"B\d+\.", k) for k in state):
        remapped = {}
        for key, value in state.items():
            for pattern, repl in _NTIRE2022_ALIASES:
                key = pattern.sub(repl, key)
            remapped[key] = value
        return remapped, "ntire2022"
    return state, style


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _mismatch(path, state: dict[str, torch.Tensor], model: nn.Module, strict: bool) -> CheckpointError | None:
    expected = model.state_dict()
    name = getattr(model, "model_name", type(model).__name__)
    for key, value in expected.items():
        if key in state and _shape(state[key]) != _shape(value):
            return _fail(path, f"does not fit {name}: first mismatched key {key!r} has shape {_shape(state[key])} "
                               f"in the file but {_shape(value)} in the model", _which_model_hint(state))
    if not strict:
        return None
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first {unexpected[0]!r})")
        return _fail(path, f"does not fit {name}: {', '.join(parts)}", _which_model_hint(state))
    return None


def matching_models(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Registered models (default widths) whose keys and shapes equal those of ``state``."""
    found = []
    for name in list_models():
        model = build_model(name)
        candidate, _ = _remap_keys(dict(state), model)  # a state that fits without remapping comes back as is
        if {k: _shape(v) for k, v in model.state_dict().items()} == {k: _shape(v) for k, v in candidate.items()}:
            found.append(name)
    return found


def _which_model_hint(state: Mapping[str, torch.Tensor]) -> str:
    found = matching_models(state)
    if found:
        return f"it fits {', '.join(found)}: pick that model"
    if any(".conv3x3." in k for k in state):
        return "it is an unfused (training-form) checkpoint: load it with load_model, then models.fuse()"
    return "pick the model this checkpoint was trained for (see `sr-harness list`)"


def load_state(model: nn.Module, path: str | os.PathLike, *, strict: bool = True,
               map_location="cpu") -> CheckpointInfo:
    """Load ``path``'s weights into ``model`` in place (official, NTIRE 2022 alias or project files)."""
    state, meta = read_checkpoint(path, map_location=map_location)
    return _apply(model, path, state, meta, strict)


def _check_values(path, state: dict[str, torch.Tensor], model: nn.Module) -> None:
    """Weights the model keeps in floating point must be floating and finite in the file too."""
    expected = model.state_dict()
    for key, value in state.items():
        want = expected.get(key)
        if want is None or not want.is_floating_point():
            continue  # integer buffers (e.g. BatchNorm's num_batches_tracked) stay as they are
        if not value.is_floating_point():
            raise _fail(path, f"tensor {key!r} is {str(value.dtype).replace('torch.', '')}, not floating point",
                        "save the model's own float weights (model.state_dict()) again")
        if not bool(torch.isfinite(value).all()):
            raise _fail(path, f"tensor {key!r} holds NaN or Inf values",
                        "the training that wrote it diverged; use an earlier checkpoint or retrain")


def _apply(model: nn.Module, path, state: dict[str, torch.Tensor], meta: dict | None, strict: bool) -> CheckpointInfo:
    state, style = _remap_keys(state, model)
    error = _mismatch(path, state, model, strict)
    if error is not None:
        raise error
    _check_values(path, state, model)
    model.load_state_dict(state, strict=strict)
    return CheckpointInfo(path=str(path), sha256=sha256_file(path), model_name=getattr(model, "model_name", ""),
                          key_style="project" if meta else style, n_tensors=len(state), strict=strict,
                          extra=dict(meta.get("extra") or {}) if meta else {},
                          config=dict(meta.get("config") or {}) if meta else {})


def save_model(model: nn.Module, target, *, config: dict | None = None,
               extra: dict | None = None) -> CheckpointInfo:
    """Write a self-describing checkpoint to ``target``: a path (a plain ``torch.save``), or a writer whose
    ``write(fill)`` calls ``fill(binary_file)`` and returns the path it wrote (the harness passes its
    ``outputs.Destination``, which writes atomically, with the umask's mode, and never replaces an unchecked file).

    ``config`` and ``extra`` must hold only plain data (dict, list, str, int, float, bool, None) so the
    file loads with weights_only=True.
    """
    name = getattr(model, "model_name", None)
    if name is None:
        raise ValueError("model has no model_name; build it with models.build_model")
    get_spec(name)
    config, extra = dict(config or {}), dict(extra or {})
    _check_plain(config, "config")
    _check_plain(extra, "extra")
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model_name": name,
               "build_overrides": build_overrides(model),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "config": config, "extra": extra}
    if hasattr(target, "write"):
        path = pathlib.Path(target.write(lambda fh: torch.save(payload, fh)))
    else:
        path = pathlib.Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)
    return CheckpointInfo(path=str(path), sha256=sha256_file(path), model_name=name, key_style="project",
                          n_tensors=len(payload["state_dict"]), strict=True, extra=extra, config=config)


def _check_plain(value, where: str) -> None:
    """Refuse values that weights_only=True could not read back (the file would be unloadable)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string; use plain data in saved configs")
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, (str, int, float, bool, type(None), torch.Tensor)):
        raise TypeError(f"{where} is a {type(value).__name__}; saved configs hold only plain data "
                         "(dict, list, str, number, bool, None, tensor)")


def _plain_overrides(path, meta: dict) -> dict:
    for key in ("build_overrides", "extra", "config"):
        if meta.get(key) is not None and not isinstance(meta[key], Mapping):
            raise _fail(path, f"has a {key!r} entry that is a {type(meta[key]).__name__}, not a dict",
                        "re-save it with models.save_model")
    overrides = dict(meta.get("build_overrides") or {})
    if not isinstance(meta.get("model_name"), str):
        raise _fail(path, "has no model_name string", "re-save it with models.save_model")
    return overrides


def load_model(path: str | os.PathLike, *, map_location="cpu",
               model_name: str | None = None) -> tuple[nn.Module, CheckpointInfo]:
    """Build and load a model from a file: project files by path alone, official files by name or file stem."""
    state, meta = read_checkpoint(path, map_location=map_location)
    overrides: dict = {}
    if meta is not None:
        stored = meta.get("model_name")
        if model_name is not None and model_name != stored:
            raise _fail(path, f"holds a {stored} model, not {model_name}", f"ask for {stored} or use another file")
        name, overrides = stored, _plain_overrides(path, meta)
    else:
        name = model_name or pathlib.Path(path).stem
    try:
        # Shapes first, on the meta device (no memory): a file's config can ask for any width, its tensors cannot.
        with torch.device("meta"):
            probe = build_model(name, **overrides)
        state_for_probe, _ = _remap_keys(dict(state), probe)
        error = _mismatch(path, state_for_probe, probe, strict=True)
        if error is not None:
            raise error
        model = build_model(name, **overrides)
    except (TypeError, ValueError, RuntimeError) as exc:  # e.g. a negative width: torch cannot make the tensor
        if isinstance(exc, CheckpointError):
            raise
        raise _fail(path, f"holds build settings the model cannot use ({' '.join(str(exc).split())[:160]})",
                    "re-save it with models.save_model") from None
    except UnknownModelError:
        if meta is not None or model_name is not None:
            raise _fail(path, f"names unknown model {name!r}", "use a registered name (see `sr-harness list`)") \
                from None
        found = matching_models(state)
        if len(found) != 1:
            raise _fail(path, f"cannot tell the model from the file name {pathlib.Path(path).name!r}",
                        "pass model_name (see `sr-harness list`)") from None
        name = found[0]
        model = build_model(name)
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    return model.eval(), _apply(model, path, state, meta, strict=True)
