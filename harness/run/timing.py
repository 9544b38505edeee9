"""Timing of a run's models: steady or NTIRE runtime per model, and speed ratios to the reference architecture
(always steady, interleaved in the same run, so machine noise hits every model alike)."""

from __future__ import annotations

import statistics

import torch

from sr_harness.config.build import RunConfig
from sr_harness.records.run import HUGE_PAGES, MIXED_PAGES, REGULAR_PAGES, THREAD_CPU_CLOCK, WALL_CLOCK

REFERENCE_KEY = "__speed_reference__"


def timing_order(keys: list[str], twin: str | None, added: str) -> list[str]:
    """``keys`` with ``added`` placed half a rotation from ``twin``, the same network under another key (the
    speed reference and its own row, whose ratio is the run's self-check), so that the interleaved rotation never
    times one right after the other: a model timed right after one of its own architecture ran ~1.5 % faster
    (calibrate, when the reference's copy followed it). Without a twin, ``added`` goes last."""
    if twin is None:
        return [*keys, added]
    at = keys.index(twin)
    order = keys[at:] + keys[:at]
    order.insert((len(order) + 1) // 2, added)
    return order


def centre_crops(tensors: list[torch.Tensor], side: int) -> list[torch.Tensor]:
    """Equal-shape timing inputs: identical shapes make every timed sample of a model comparable."""
    side = min(side, *(min(t.shape[-2:]) for t in tensors))
    crops = []
    for t in tensors:
        top, left = (t.shape[-2] - side) // 2, (t.shape[-1] - side) // 2
        crops.append(t[..., top:top + side, left:left + side].contiguous())
    return crops


def time_models(models: dict[str, torch.nn.Module], full_inputs, cfg: RunConfig, progress=None, *,
                rebuild: tuple | None = None) -> tuple[dict, dict, dict]:
    """Steady runtime per model and speed ratios to the reference, timed interleaved on equal centre crops; with
    ``protocol.timing_processes`` > 1, in that many fresh processes, each building the same models with
    ``rebuild`` = (function, args) (run.process_timing)."""
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    from sr_harness.run.process_timing import measure_in_processes  # noqa: PLC0415

    p = cfg.protocol
    crops = centre_crops(full_inputs, p.timing_size)
    if p.timing_processes > 1:
        if rebuild is None:
            raise ValueError("timing in fresh processes needs rebuild=(function, args) that builds the models there")
        interleaved = measure_in_processes(*rebuild, crops, processes=p.timing_processes, device=cfg.device,
                                           warmup=p.warmup, rounds=p.rounds, half=p.half, threads=p.threads,
                                           progress=progress)
    else:
        from sr_harness.protocols.machine import huge_pages_mib  # noqa: PLC0415

        scaled = {k: scaled_module(m) for k, m in models.items()}
        interleaved = measure_interleaved(scaled, crops, device=cfg.device, warmup=p.warmup, rounds=p.rounds,
                                          half=p.half, progress=progress)
        huge = [huge_pages_mib()]  # this one process
        for res in interleaved.values():
            res.huge_pages_mib = huge
    ref = interleaved[REFERENCE_KEY]
    clock = ratio_clock(interleaved.values())
    ref_samples = samples_on(ref, clock)
    speed = {key: dict(speed_ratio(samples_on(res, clock), ref_samples), reference=p.speed_reference,
                       clock=clock, median_ms=res.median_ms, reference_median_ms=ref.median_ms,
                       reference_clock_ms=statistics.median(ref_samples),
                       per_process=per_process_ratios(samples_on(res, clock), ref_samples, p.rounds, res.processes),
                       input_hw=list(crops[0].shape[-2:]), n_inputs=len(crops), rounds=p.rounds,
                       processes=res.processes, pages=page_kind(res.huge_pages_mib))
             for key, res in interleaved.items()}
    runtime = {k: r.to_dict() for k, r in interleaved.items()}
    timing_input = {"kind": "centre crops of the LR images, interleaved with the reference",
                    "hw": list(crops[0].shape[-2:]), "n": len(crops), "processes": p.timing_processes}
    return runtime, speed, timing_input


def ntire_timing(samples: dict[str, list[float]], reference_key: str, cfg: RunConfig, *, cold: bool,
                 memory_mib: float | None) -> tuple[dict, dict, dict]:
    """NTIRE mode: the per-image samples of the quality pass as each model's runtime, and speed ratios paired per
    image with the reference's samples (no forward beyond the quality pass's)."""
    from sr_harness.protocols.runtime import ntire_result  # noqa: PLC0415

    # The runner times every set in one process, in order, the first cold: later sets follow a cold one.
    runtime = {k: ntire_result(v, device=cfg.device, cold=cold, memory_mib=memory_mib, follows_cold_set=not cold)
               .to_dict() for k, v in samples.items()}
    ref = samples[reference_key]
    speed = {k: dict(speed_ratio(v, ref), reference=cfg.protocol.speed_reference, clock=WALL_CLOCK,
                     median_ms=runtime[k]["median_ms"], reference_median_ms=runtime[reference_key]["median_ms"], input_hw=None, n_inputs=len(v),
                     rounds=1) for k, v in samples.items()}
    timing_input = {"kind": "full LR images, timed in the quality pass in dataset order (NTIRE protocol)",
                    "hw": None, "n": len(ref), "cold": cold}
    return runtime, speed, timing_input


def per_process_ratios(samples_ms, reference_ms, rounds: int, processes: int) -> list[float]:
    """Each timing process's median paired ratio (samples in process order, ``rounds`` split as timed): the
    replicates the speed gate judges a run by (gate.stats.process_step)."""
    from sr_harness.run.process_timing import split_rounds  # noqa: PLC0415

    per_round = len(samples_ms) // rounds
    ratios, start = [], 0
    for share in split_rounds(rounds, processes):
        end = start + share * per_round
        ratios.append(statistics.median(a / b for a, b in zip(samples_ms[start:end], reference_ms[start:end])))
        start = end
    return ratios


def page_kind(huge_mib_per_process: list) -> str:
    """How the timing processes' memory was paged: huge where every process had memory in huge pages, regular
    where none had (or the OS did not say), mixed otherwise. Ratios on different kinds differ by far more than
    noise (results/speed_gate.md)."""
    huge = [bool(m) for m in huge_mib_per_process]
    return HUGE_PAGES if huge and all(huge) else MIXED_PAGES if any(huge) else REGULAR_PAGES


def ratio_clock(results) -> str:
    """The clock speed ratios are taken on. On CPU with one thread, the forwards' thread CPU time, which the
    scheduler handing the core away mid-forward does not inflate as it does the wall clock (results/speed_gate.md)."""
    return THREAD_CPU_CLOCK if all(r.cpu_samples_ms for r in results) else WALL_CLOCK


def samples_on(result, clock: str) -> list[float]:
    return result.cpu_samples_ms if clock == THREAD_CPU_CLOCK else result.samples_ms


def speed_ratio(samples_ms, reference_ms) -> dict:
    """Median of paired ratios (same round, same input) with a bootstrap 95% CI.

    Pairing cancels load changes between rounds on a shared machine; a ratio of the two medians does not
    (on this 2-core box it put a model 0.6-1.6x "away" from an identical copy of itself).
    """
    from sr_harness.protocols.runtime import bootstrap_ci  # noqa: PLC0415

    if len(samples_ms) != len(reference_ms):
        raise ValueError(f"paired timing needs equal sample counts, got {len(samples_ms)} and {len(reference_ms)}")
    ratios = [a / b for a, b in zip(samples_ms, reference_ms)]
    low, high = bootstrap_ci(ratios)
    return {"ratio": statistics.median(ratios), "low": low, "high": high, "n_pairs": len(ratios),
            "estimator": "median of paired ratios (same round, same input), bootstrap 95% CI"}


class _Scaled(torch.nn.Module):
    """Feeds the model its data range exactly as the NTIRE script's uint2tensor4 does (x / (255 / data_range);
    a multiplication by data_range / 255 differs from it in the last bit for some pixel values)."""

    def __init__(self, module):
        super().__init__()
        self.module, self.divisor = module, 255.0 / module.data_range

    def forward(self, x):
        return self.module(x / self.divisor) if self.divisor != 1.0 else self.module(x)


def scaled_module(module):
    return _Scaled(module).eval()


def ntire_average(rows: list[dict]) -> dict:
    """Per model, the mean over datasets of its NTIRE mean runtime: the organizers' "Ave Time" = (valid + test) / 2
    with their two sets. Only models timed on every dataset of the run are averaged."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    by_model: dict[str, dict] = {}
    for row in rows:
        if row.get("runtime") and row["runtime"].get("mode") == "ntire":
            by_model.setdefault(row["model"], {})[row["dataset"]] = row["runtime"]["mean_ms"]
    return {model: {"mean_ms": statistics.fmean(per[d] for d in datasets), "datasets": datasets,
                    "per_dataset_mean_ms": [per[d] for d in datasets],
                    "rule": "mean over datasets of the per-image mean (NTIRE: (valid + test) / 2)"}
            for model, per in by_model.items() if set(per) == set(datasets)}
