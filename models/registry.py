"""Model registry: name -> ModelSpec; list, build by name, build with overridden widths, one call each.

Registry names equal the official checkpoint file stems, so ``<weights_dir>/<name>.pth`` resolves.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # "rlfn" or "slimrlfn"
    scale: int
    form: str  # "deploy" (plain convs, official key names) or "unfused" (training-time re-param form)
    description: str
    factory: Callable[..., nn.Module] = field(repr=False)
    official: bool = False  # an official checkpoint <name>.pth exists
    data_range: float = 255.0
    # The family's own rules, so transforms name no family: the deploy registry name for given inner widths
    # (None: the deploy form keeps its name), and the registry name of the re-parameterizable training form.
    deploy_name: Callable[[list], str] | None = field(default=None, repr=False)
    training_form: str | None = None


_REGISTRY: dict[str, ModelSpec] = {}


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UnknownModelError(f"unknown model {name!r}; {hint}known models: {', '.join(sorted(_REGISTRY))}") from None


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; ``pattern`` is a shell-style glob such as ``"slimrlfn*"``."""
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names


def build_overrides(model: nn.Module) -> dict:
    """Overrides that rebuild ``model``'s shapes: ``build_model(model.model_name, **build_overrides(model))``; the
    network says which (``model.build_overrides()``), a network without the method has none."""
    method = getattr(model, "build_overrides", None)
    return dict(method()) if callable(method) else {}


def build_model(name: str, **overrides) -> nn.Module:
    """Build a registered model; ``overrides`` replace widths (``channels``, ``inner_widths``, ``blocks``)."""
    spec = get_spec(name)
    model = spec.factory(**overrides)
    model.model_name = name
    return model
