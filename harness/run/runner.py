"""The one place that wires models, checkpoints, data and protocols together into a run record.

run(cfg) -> record (JSON-ready; records.write_record stores it): every dataset's quality passes first (timed per
image in NTIRE mode), then complexity once per model, then steady timing interleaved with the reference.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from sr_harness import HarnessError
from sr_harness.metrics import extra_computations
from sr_harness.config.build import RunConfig
from sr_harness.run.counting import count_complexity
from sr_harness.run.env import fingerprint
from sr_harness.run.loading import LoadedModel, jsonable, load_models
from sr_harness.run.progress import bar, phase
from sr_harness.records.run import RECORD_KIND, SCHEMA_VERSION
from sr_harness.run.timing import REFERENCE_KEY, ntire_average, ntire_timing, scaled_module, time_models, timing_order


class RunError(HarnessError):
    """A run that cannot go on (an empty dataset, an input the model cannot take); one line."""


class ModelFailed(Exception):
    """A model produced no usable output on an image (NaN or Inf): its row is marked failed, the run goes on."""


def open_datasets(cfg: RunConfig) -> list:
    from sr_harness.run.data import DEFAULT_MAX_PIXELS, open_dataset  # noqa: PLC0415

    limit = cfg.max_pixels or DEFAULT_MAX_PIXELS
    return [open_dataset(spec, scale=cfg.scale, max_pixels=limit) for spec in cfg.data]


def _where(dataset, pair) -> str:
    return str(pair.lr_path) if pair.lr_path else f"{dataset.name}:{pair.name}"


def _to_input(lr, device: str) -> torch.Tensor:
    return torch.from_numpy(lr).permute(2, 0, 1)[None].float().to(device)


def _forward(net, x, timer, samples: list | None, where: str) -> torch.Tensor:
    """One forward (timed into ``samples`` with a ``timer``); what foreign code raises or returns wrongly fails
    its row only."""
    try:
        with torch.inference_mode():
            if timer is None:
                out = net(x)
            else:
                out, ms = timer.timed(net, x)
                samples.append(ms)
    except (Exception, SystemExit) as exc:
        raise ModelFailed(f"{where}: forward raised {type(exc).__name__}: {exc}") from None
    _check_output(out, where)
    return out


def _check_output(out, where: str) -> None:
    """A forward must return one RGB image, 1 x 3 x H x W (a failed row otherwise, with what it returned)."""
    if not isinstance(out, torch.Tensor):
        raise ModelFailed(f"{where}: forward returned a {type(out).__name__}, not one image tensor")
    if out.dim() != 4 or out.shape[0] != 1 or out.shape[1] != 3:
        raise ModelFailed(f"{where}: forward returned shape {tuple(out.shape)}, expected 1 x 3 x H x W (one RGB image)")


def quality_pass(model: LoadedModel, dataset, pairs, inputs, *, scale: int, crop: int, rounded_y: bool,
                 clock: dict, progress: Callable, references, extras: dict | None = None, timer=None,
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
                out = _forward(net, x, timer, samples, _where(dataset, pair))
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
                                                references=references, extras=extra_computations(cfg.protocol.extra_metrics),
                                                timer=timer, samples=taken)
        except ModelFailed as exc:
            failed[m.key] = str(exc)
            print(f"error: {m.key}: {exc}", file=sys.stderr)
        if timer is not None:
            samples[m.key] = taken
    memory = torch.cuda.max_memory_allocated() / 2**20 if cfg.device == "cuda" else None  # never reset
    return {"info": {"name": dataset.name, "n_images": len(pairs), **jsonable(dataset.describe())},
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


def speed_reference(cfg: RunConfig, nets: list[LoadedModel]) -> tuple[LoadedModel | None, torch.nn.Module]:
    """The speed reference: its row in the run when it is one (the same module), else built seeded (every
    process builds the same weights); the row too, or None."""
    from sr_harness.models import build_model  # noqa: PLC0415

    in_run = next((m for m in nets if m.name == cfg.protocol.speed_reference), None)
    if in_run is not None:
        return in_run, in_run.module
    torch.manual_seed(0)
    return None, build_model(cfg.protocol.speed_reference).eval()


def timing_nets(cfg: RunConfig, keys: tuple[str, ...]) -> dict:
    """The run's models ``keys`` (REFERENCE_KEY: the speed reference), built as ``_run`` builds them, ready to
    time: what each fresh timing process runs."""
    loaded, _ = load_models(cfg)
    nets = [m for m in loaded if m.module is not None]
    modules = {m.key: m.module for m in nets}
    if REFERENCE_KEY in keys:
        modules[REFERENCE_KEY] = speed_reference(cfg, nets)[1]
    return {key: scaled_module(modules[key].to(cfg.device)) for key in keys}


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


def _timed(cfg: RunConfig, dataset, done: dict, nets: list, in_run, reference) -> tuple:
    """(runtime, speed, timing input, reference key) of one dataset: NTIRE per-image times from the quality pass,
    or steady timing interleaved in fresh processes."""
    if not nets:
        return {}, {}, None, None
    if cfg.protocol.runtime_mode == "ntire":
        ref_key = in_run.key if in_run is not None else REFERENCE_KEY
        # A failed row keeps no runtime, except the reference: its times still pace the others' ratios.
        timed = {k: v for k, v in done["samples"].items() if k not in done["failed"] or k == ref_key}
        return (*ntire_timing(timed, ref_key, cfg, cold=done["cold"], memory_mib=done["memory_mib"]), ref_key)
    rows = {m.key: m.module for m in nets if m.key not in done["failed"]}
    twin = in_run.key if in_run is not None and in_run.key in rows else None
    timed = {key: rows.get(key, reference) for key in timing_order(list(rows), twin, REFERENCE_KEY)}
    where = f", {cfg.protocol.timing_processes} fresh processes" if cfg.protocol.timing_processes > 1 else ""
    with phase(f"timing (steady, {len(timed)} models interleaved{where}) on {dataset.name}"):
        return (*time_models(timed, done["inputs"], cfg, progress=bar, rebuild=(timing_nets, (cfg, tuple(timed)))),
                REFERENCE_KEY)


def _sliced(cfg: RunConfig, loaded: list, datasets: list) -> tuple[list, dict]:
    """The datasets this run (or --shard slice) touches, and per dataset name the models that run on it."""
    def entry_key(m: LoadedModel) -> str:  # a folded row runs where its entry does
        return ((m.checkpoint or {}).get("folded") or {}).get("from", m.key)

    on = {d.name: [m for m in loaded if cfg.runs_on(entry_key(m), i)] for i, d in enumerate(datasets)}
    return [d for d in datasets if on[d.name] or cfg.shard is None], on


def _run(cfg: RunConfig, datasets: list | None) -> dict:
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
    in_run, reference = speed_reference(cfg, nets if cfg.shard is None else [])  # a slice: the reference apart
    reference.to(device)
    names, (datasets, on) = [d.name for d in datasets], _sliced(cfg, loaded, datasets)

    ntire = cfg.protocol.runtime_mode == "ntire"
    # Every quality pass first: in NTIRE mode a model's first image is its first forward on this device.
    passes = []
    with ntire_pass() if ntire else contextlib.nullcontext():
        for first, dataset in enumerate(datasets):
            passes.append(_dataset_pass(cfg, dataset, on[dataset.name], reference if ntire and in_run is None else None,
                                        clock=clock, cold=first == 0))
    t0 = time.perf_counter()  # complexity after the timed passes: fvcore's trace is a forward of the model
    complexity, ref_complexity = count_complexity(cfg, nets, in_run, reference, passes)
    clock["complexity"] += time.perf_counter() - t0

    results, dataset_info, ref_runtime = [], [], {}
    for dataset, done in zip(datasets, passes):
        dataset_info.append(done["info"])
        t0 = time.perf_counter()
        here = [m for m in on[dataset.name] if m.module is not None]
        runtime, speed, timing_input, ref_key = _timed(cfg, dataset, done, here, in_run, reference)
        if here:
            ref_runtime[dataset.name] = {"runtime": runtime[ref_key], "speed": speed[ref_key]}
        clock["timing"] += time.perf_counter() - t0
        results += [_row(m, dataset, done, runtime, speed, timing_input, complexity) for m in on[dataset.name]]

    run_id = started.strftime("%Y%m%d_%H%M%S") + f"_{(env['git']['commit'] or 'nogit')[:12]}" + (
        "_dirty" if env["git"]["dirty"] else "")
    summary = {"ntire_average": ntire_average(results)} if ntire and len(datasets) > 1 else {}
    return {
        "kind": RECORD_KIND, "schema_version": SCHEMA_VERSION, "run_id": run_id,
        "created_utc": started.isoformat(timespec="seconds"), "suite": cfg.suite, "headline": cfg.headline,
        "description": cfg.description, "config": jsonable(cfg.to_dict()), "env": env, "datasets": dataset_info,
        "missing": missing, "results": results,
        "speed_reference": {"model": cfg.protocol.speed_reference, "complexity": ref_complexity,
                            "per_dataset": ref_runtime},
        "phase_seconds": dict(clock), "wall_seconds": (dt.datetime.now(dt.timezone.utc) - started).total_seconds(),
        **summary, **({"shard": {"spec": cfg.shard, "entries": cfg.shard_entries, "datasets": names}} if cfg.shard else {}),
    }
