"""Loading a run's models: registry checkpoints, foreign classes, NTIRE teams, and their folded second rows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from sr_harness import project_root, shipped_checkpoints
from sr_harness.config.build import BICUBIC, FILE_VARIANT, RunConfig
from sr_harness.run.training_summary import training_summary


@dataclasses.dataclass
class LoadedModel:
    key: str  # row label
    name: str  # architecture (registry name) or "bicubic"
    variant: str
    module: torch.nn.Module | None  # None for the bicubic row
    checkpoint: dict | None
    training: dict | None = None  # summary of the checkpoint's <stem>.train.json (run.training_summary)


def _shown(path) -> str:
    """Project paths are recorded relative to it: committed records carry no home folder."""
    path, root, shipped = Path(path).resolve(), project_root(), shipped_checkpoints().resolve()
    if path.is_relative_to(root):
        return str(path.relative_to(root))
    if path.is_relative_to(shipped):  # an installed package's own copy: no site-packages path in the record
        return str(Path("sr_harness/checkpoints") / path.relative_to(shipped))
    return str(path)


def jsonable(value):
    return json.loads(json.dumps(value, default=str))


def load_models(cfg: RunConfig) -> tuple[list[LoadedModel], list[dict]]:
    """Build and load every model of the config; optional entries whose checkpoint is absent go to `missing`."""
    from sr_harness.models import build_model, load_model  # noqa: PLC0415  (heavy import, only when running)
    from sr_harness.models.fusion_audit import fusion_audit  # noqa: PLC0415

    loaded, missing = [], []
    for entry in cfg.models:
        if entry.name == BICUBIC:
            loaded.append(LoadedModel(entry.key, BICUBIC, entry.variant, None, None))
            continue
        if entry.external is not None and "team" in entry.external:
            team = _ntire_team(entry, cfg.device, cfg.trust_repo)
            if isinstance(team, LoadedModel):
                loaded += [team, *_folded_row(team, cfg)]
            else:
                missing.append(team)
            continue
        if entry.external is not None:
            from sr_harness.models.external import ExternalSpec, load_external  # noqa: PLC0415

            module, info = load_external(ExternalSpec(**entry.external))
            loaded.append(LoadedModel(entry.key, info["class"], entry.variant, module, info))
            loaded += _folded_row(loaded[-1], cfg)
            continue
        if entry.checkpoint is None:  # timing-only rows (benchmarks, tests): seeded random weights
            torch.manual_seed(0)
            module = build_model(entry.name)
            loaded.append(LoadedModel(entry.key, entry.name, entry.variant or "random weights (timing only)",
                                      module.eval(), None))
            continue
        path = Path(entry.checkpoint)
        if not path.is_file():
            missing.append({"model": entry.key, "checkpoint": _shown(path), "variant": entry.variant,
                            "reason": "checkpoint file not found (not trained yet?)"})
            continue
        # Project files say what they hold; asking for the suite's architecture makes a wrong file an error.
        name = None if entry.variant.startswith(FILE_VARIANT) else entry.name
        module, info = load_model(path, map_location="cpu", model_name=name)
        info = jsonable(dataclasses.asdict(info)) | {"path": _shown(path)}
        audit = fusion_audit(module, data_range=module.data_range)  # the same audit as foreign models get
        if audit and not audit.get("already_folded"):
            info["fusion_audit"] = audit
        loaded.append(LoadedModel(entry.key, getattr(module, "model_name", entry.name), entry.variant,
                                  module.eval(), info, training_summary(path, info.get("extra"))))
        loaded += _folded_row(loaded[-1], cfg)
    return loaded, missing


def _folded_row(model: LoadedModel, cfg: RunConfig) -> list[LoadedModel]:
    """``--fused``: a model whose audit folded it cleanly is evaluated a second time in its folded form."""
    audit = (model.checkpoint or {}).get("fusion_audit")
    if not cfg.fused_rows or not audit or "max_abs_diff" not in audit:
        return []
    from sr_harness.models.fusion_audit import folded_copy  # noqa: PLC0415

    folded = folded_copy(model.module)  # the wrapper (and a team's forward helper) has nothing to fold itself
    info = {**model.checkpoint, "folded": {"from": model.key, "methods": audit["methods"]}}
    return [LoadedModel(f"{model.key}_fused", model.name, f"{model.variant}, folded by {', '.join(audit['methods'])}",
                        folded.eval(), info)]


def _ntire_team(entry, device: str, trust_repo: bool = False):
    """A team built by the organizers' select_model, or (when it cannot be built) its entry for ``missing``."""
    from sr_harness.models.ntire import TeamUnbuildable, build_team  # noqa: PLC0415

    spec = entry.external
    try:
        module, info = build_team(spec["ntire_repo"], spec["team"], device, trust_repo=trust_repo)
    except TeamUnbuildable as exc:
        return {"model": entry.key, "checkpoint": f"{spec['ntire_repo']}/test_demo.py select_model",
                "variant": entry.variant, "team": spec["team"], "reason": str(exc)}
    return LoadedModel(entry.key, module.model_name, entry.variant, module.eval(), jsonable(info))
