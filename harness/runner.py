"""The one place that wires models, checkpoints, data and protocols together into a run record.

run(cfg) -> record (JSON-ready; records.write_record stores it): every dataset's quality passes first (timed per
image in NTIRE mode), then complexity once per model, then steady timing interleaved with the reference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from . import PROJECT_ROOT, HarnessError
from .config import BICUBIC, FILE_VARIANT, RunConfig
from .env import fingerprint
from .progress import bar, phase
from .records import RECORD_KIND, SCHEMA_VERSION
from .timing import REFERENCE_KEY, ntire_average, ntire_timing, scaled_module, time_models
from .training import training_summary


class RunError(HarnessError):
    """A run that cannot go on (an empty dataset, an input the model cannot take); one line."""


class ModelFailed(Exception):
    """A model produced no usable output on an image (NaN or Inf): its row is marked failed, the run goes on."""


@dataclasses.dataclass
class LoadedModel:
    key: str  # row label
    name: str  # architecture (registry name) or "bicubic"
    variant: str
    module: torch.nn.Module | None  # None for the bicubic row
    checkpoint: dict | None
    training: dict | None = None  # summary of the checkpoint's <stem>.train.json (harness.training)


def _shown(path) -> str:
    """Project paths are recorded relative to it: committed records carry no home folder."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def load_models(cfg: RunConfig) -> tuple[list[LoadedModel], list[dict]]:
    """Build and load every model of the config; optional entries whose checkpoint is absent go to `missing`."""
    from sr_harness.models import build_model, load_model  # noqa: PLC0415  (heavy import, only when running)

    loaded, missing = [], []
    for entry in cfg.models:
        if entry.name == BICUBIC:
            loaded.append(LoadedModel(entry.key, BICUBIC, entry.variant, None, None))
            continue
        if entry.external is not None and "team" in entry.external:
            team = _ntire_team(entry, cfg.device)
            if isinstance(team, LoadedModel):
                loaded.append(team)
            else:
                missing.append(team)
            continue
        if entry.external is not None:
            from sr_harness.models.external import ExternalSpec, load_external  # noqa: PLC0415

            module, info = load_external(ExternalSpec(**entry.external))
            loaded.append(LoadedModel(entry.key, info["class"], entry.variant, module, info))
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
        info = _jsonable(dataclasses.asdict(info)) | {"path": _shown(path)}
        loaded.append(LoadedModel(entry.key, getattr(module, "model_name", entry.name), entry.variant,
                                  module.eval(), info, training_summary(path, info.get("extra"))))
    return loaded, missing


def _ntire_team(entry, device: str):
    """A team built by the organizers' select_model, or (when it cannot be built) its entry for ``missing``."""
    from sr_harness.models.ntire import TeamUnbuildable, build_team  # noqa: PLC0415

    spec = entry.external
    try:
        module, info = build_team(spec["ntire_repo"], spec["team"], device)
    except TeamUnbuildable as exc:
        return {"model": entry.key, "checkpoint": f"{spec['ntire_repo']}/test_demo.py select_model",
                "variant": entry.variant, "reason": str(exc)}
    return LoadedModel(entry.key, module.model_name, entry.variant, module.eval(), _jsonable(info))


def open_datasets(cfg: RunConfig) -> list:
    from .data import DEFAULT_MAX_PIXELS, open_dataset  # noqa: PLC0415

    limit = cfg.max_pixels or DEFAULT_MAX_PIXELS
    return [open_dataset(spec, scale=cfg.scale, max_pixels=limit) for spec in cfg.data]


def _where(dataset, pair) -> str:
    return str(pair.lr_path) if pair.lr_path else f"{dataset.name}:{pair.name}"


def _to_input(lr, device: str) -> torch.Tensor:
    return torch.from_numpy(lr).permute(2, 0, 1)[None].float().to(device)


def quality_pass(model: LoadedModel, dataset, pairs, inputs, *, scale: int, crop: int, rounded_y: bool,
                 clock: dict, progress: Callable, references, extras: tuple[str, ...] = (), timer=None,
                 samples: list | None = None) -> list[dict]:
    """Per-image metrics of one model (or the bicubic row) over the dataset; ``references`` (shared by all
    models) holds the HR-side work. Image i's metrics run on a worker thread while image i+1 goes through the
    model (``clock``: ``metrics`` = wall time waiting for them, ``metrics_cpu`` = their compute time). With a
    ``timer`` (NTIRE mode) each forward is timed into ``samples`` in dataset order and the metrics run between
    forwards, as in the organizers' script, never beside a timed forward."""
    from sr_harness.models import InputError, check_input  # noqa: PLC0415
    from sr_harness.protocols.imresize import bicubic_upscale  # noqa: PLC0415
    from sr_harness.protocols.quality import image_metrics, to_uint8  # noqa: PLC0415

    def measured_metrics(sr, hr, index):
        start = time.perf_counter()
        metrics = image_metrics(sr, hr, crop=crop, rounded_y=rounded_y, reference=references.get(index, hr),
                                extras=extras)
        return metrics, time.perf_counter() - start

    net = scaled_module(model.module) if model.module is not None else None
    pending = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for index, (pair, x) in enumerate(progress(zip(pairs, inputs), total=len(pairs),
                                                   desc=f"{model.key} on {dataset.name}")):
            t0 = time.perf_counter()
            if model.module is None:
                sr = bicubic_upscale(pair.lr, scale)
            else:
                try:
                    check_input(model.module, tuple(x.shape))
                except InputError as exc:
                    raise RunError(f"{_where(dataset, pair)}: {exc}") from None
                with torch.inference_mode():
                    if timer is None:
                        out = net(x)
                    else:
                        out, ms = timer.timed(net, x)
                        samples.append(ms)
                if not bool(torch.isfinite(out).all()):
                    bad = int((~torch.isfinite(out)).sum())
                    raise ModelFailed(f"{_where(dataset, pair)}: output has {bad} NaN/Inf value(s); no metric is "
                                      "reported for this model (check its weights)")
                sr = to_uint8(out, data_range=model.module.data_range)
            clock["forward" if model.module is not None else "bicubic"] += time.perf_counter() - t0
            if sr.shape != pair.hr.shape:
                raise RunError(f"{_where(dataset, pair)}: SR output {sr.shape[1]}x{sr.shape[0]} does not match HR "
                               f"{pair.hr.shape[1]}x{pair.hr.shape[0]}; check that the LR is the HR / {scale}")
            pending.append((pair.name, pool.submit(measured_metrics, sr, pair.hr, index)))
            if timer is not None:
                pending[-1][1].result()  # serial, as the official loop: nothing runs beside the next forward
        t0 = time.perf_counter()
        per_image = []
        for name, future in pending:
            metrics, cpu_s = future.result()
            clock["metrics_cpu"] += cpu_s
            per_image.append({"name": name, **metrics})
        clock["metrics"] += time.perf_counter() - t0
    return per_image


def _dataset_pass(cfg: RunConfig, dataset, loaded: list[LoadedModel], reference, *, clock: dict, cold: bool) -> dict:
    """Decode a dataset once, then every model's quality pass over it (timed per image in NTIRE mode; the
    reference architecture, when not a row of the run, gets a timed pass of its own first)."""
    from sr_harness.protocols.quality import ReferenceCache  # noqa: PLC0415
    from sr_harness.protocols.runtime import ForwardTimer  # noqa: PLC0415

    ntire = cfg.protocol.runtime_mode == "ntire"
    t0 = time.perf_counter()
    pairs = list(dataset)  # decode (and, for HR-only sets, make the LR) once for all models
    if not pairs:
        raise RunError(f"{dataset.name}: dataset has no images")
    inputs = [_to_input(p.lr, cfg.device) for p in pairs]
    clock["decode"] += time.perf_counter() - t0
    crop = cfg.protocol.crop if cfg.protocol.crop is not None else cfg.scale
    samples, per_model, failed = {}, {}, {}
    if reference is not None:
        timer, net = ForwardTimer(cfg.device), scaled_module(reference)
        with torch.inference_mode():
            samples[REFERENCE_KEY] = [timer.timed(net, x)[1] for x in inputs]
    references = ReferenceCache(crop=crop)  # each HR image's share of the metrics, done once for all models
    for m in loaded:
        timer = ForwardTimer(cfg.device) if ntire and m.module is not None else None
        taken: list[float] = []
        try:
            with phase(f"quality {m.key} on {dataset.name}" + (" (NTIRE-timed)" if timer else "")):
                per_model[m.key] = quality_pass(m, dataset, pairs, inputs, scale=cfg.scale, crop=crop,
                                                rounded_y=cfg.protocol.rounded_y, clock=clock, progress=bar,
                                                references=references, extras=cfg.protocol.extra_metrics,
                                                timer=timer, samples=taken)
        except ModelFailed as exc:
            failed[m.key] = str(exc)
            print(f"error: {m.key}: {exc}", file=sys.stderr)
        if timer is not None:
            samples[m.key] = taken
    memory = torch.cuda.max_memory_allocated() / 2**20 if cfg.device == "cuda" else None  # never reset
    return {"info": {"name": dataset.name, "n_images": len(pairs), **_jsonable(dataset.describe())},
            "n": len(pairs), "inputs": inputs, "per_model": per_model, "failed": failed, "samples": samples,
            "cold": cold, "memory_mib": memory}


def _row(m: LoadedModel, dataset, done: dict, runtime: dict, speed: dict, timing_input, complexity: dict) -> dict:
    from sr_harness.protocols.quality import mean_metrics  # noqa: PLC0415

    ok = m.key not in done["failed"]
    return {"model": m.key, "arch": m.name, "variant": m.variant, "dataset": dataset.name,
            "status": "ok" if ok else "failed", "error": done["failed"].get(m.key), "n_images": done["n"],
            "checkpoint": m.checkpoint, "metrics": mean_metrics(done["per_model"][m.key]) if ok else {},
            "per_image": done["per_model"].get(m.key, []), "runtime": runtime.get(m.key),
            "timing_input": timing_input if m.module is not None else None, "speed": speed.get(m.key),
            "complexity": complexity.get(m.key), "training": m.training}


def run(cfg: RunConfig, *, datasets: list | None = None) -> dict:
    """Run the configured models over the datasets and return the record (not yet written)."""
    if cfg.protocol.threads is not None:
        previous = torch.get_num_threads()
        torch.set_num_threads(cfg.protocol.threads)
        try:
            return _run(cfg, datasets)
        finally:
            torch.set_num_threads(previous)
    return _run(cfg, datasets)


def _run(cfg: RunConfig, datasets: list | None) -> dict:
    from sr_harness.models import build_model  # noqa: PLC0415
    from sr_harness.protocols.complexity import measure_complexity  # noqa: PLC0415
    from sr_harness.protocols.runtime import ntire_pass  # noqa: PLC0415

    started = dt.datetime.now(dt.timezone.utc)
    clock = defaultdict(float)
    env = fingerprint(cfg.device)
    loaded, missing = load_models(cfg)
    t0 = time.perf_counter()
    datasets = datasets if datasets is not None else open_datasets(cfg)
    clock["open_data"] += time.perf_counter() - t0

    device = cfg.device
    nets = [m for m in loaded if m.module is not None]
    for m in nets:
        m.module.to(device)
    in_run = next((m for m in nets if m.name == cfg.protocol.speed_reference), None)
    if in_run is not None:
        reference = in_run.module
    else:
        torch.manual_seed(0)
        reference = build_model(cfg.protocol.speed_reference).eval().to(device)

    ntire = cfg.protocol.runtime_mode == "ntire"
    # Every quality pass first: in NTIRE mode a model's first image is its first forward on this device.
    passes = []
    with ntire_pass() if ntire else contextlib.nullcontext():
        for first, dataset in enumerate(datasets):
            passes.append(_dataset_pass(cfg, dataset, loaded, reference if ntire and in_run is None else None,
                                        clock=clock, cold=first == 0))
    t0 = time.perf_counter()  # complexity after the timed passes: fvcore's trace is a forward of the model
    complexity = {}
    counted = nets if in_run is not None else [*nets, LoadedModel(REFERENCE_KEY, "", "", reference, None)]
    for m in bar(counted, total=len(counted), desc="complexity (fvcore)"):
        with phase(f"complexity {m.key if m.key != REFERENCE_KEY else 'speed reference'}"):
            measured = getattr(m.module, "complexity_module", m.module)  # an NTIRE team: the net they measure
            complexity[m.key] = measure_complexity(measured, input_hw=cfg.protocol.complexity_hw,
                                                   device=device).to_dict()
    ref_complexity = complexity.pop(REFERENCE_KEY, None) or complexity[in_run.key]
    clock["complexity"] += time.perf_counter() - t0

    results, dataset_info, ref_runtime = [], [], {}
    for dataset, done in zip(datasets, passes):
        dataset_info.append(done["info"])
        t0 = time.perf_counter()
        runtime, speed, timing_input = ({}, {}, None)
        if nets and ntire:
            ref_key = in_run.key if in_run is not None else REFERENCE_KEY
            # A failed row keeps no runtime, except the reference: its times still pace the others' ratios.
            timed = {k: v for k, v in done["samples"].items() if k not in done["failed"] or k == ref_key}
            runtime, speed, timing_input = ntire_timing(timed, ref_key, cfg, cold=done["cold"],
                                                        memory_mib=done["memory_mib"])
        elif nets:
            ref_key = REFERENCE_KEY
            timed = {m.key: m.module for m in nets if m.key not in done["failed"]} | {REFERENCE_KEY: reference}
            with phase(f"timing (steady, {len(timed)} models interleaved) on {dataset.name}"):
                runtime, speed, timing_input = time_models(timed, done["inputs"], cfg, progress=bar)
        if nets:
            ref_runtime[dataset.name] = {"runtime": runtime[ref_key], "speed": speed[ref_key]}
        clock["timing"] += time.perf_counter() - t0
        results += [_row(m, dataset, done, runtime, speed, timing_input, complexity) for m in loaded]

    run_id = started.strftime("%Y%m%d_%H%M%S") + f"_{(env['git']['commit'] or 'nogit')[:12]}" + (
        "_dirty" if env["git"]["dirty"] else "")
    summary = {"ntire_average": ntire_average(results)} if ntire and len(datasets) > 1 else {}
    return {
        "kind": RECORD_KIND, "schema_version": SCHEMA_VERSION, "run_id": run_id,
        "created_utc": started.isoformat(timespec="seconds"), "suite": cfg.suite, "headline": cfg.headline,
        "description": cfg.description, "config": _jsonable(cfg.to_dict()), "env": env, "datasets": dataset_info,
        "missing": missing, "results": results,
        "speed_reference": {"model": cfg.protocol.speed_reference, "complexity": ref_complexity,
                            "per_dataset": ref_runtime},
        "phase_seconds": dict(clock), "wall_seconds": (dt.datetime.now(dt.timezone.utc) - started).total_seconds(),
        **summary,
    }
