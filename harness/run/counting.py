"""The complexity pass of a run: fvcore counts once per model, after every timed quality pass."""

from __future__ import annotations

import sys

from sr_harness.config.build import RunConfig
from sr_harness.run.loading import LoadedModel
from sr_harness.run.progress import bar, phase
from sr_harness.run.timing import REFERENCE_KEY


def count_complexity(cfg: RunConfig, nets: list, in_run, reference, passes: list) -> tuple[dict, dict]:
    """fvcore counts per model (and an NTIRE team's FLOPs by its own script's counter), and the speed reference's (its row's when it is one of the run's models). A model
    that failed on every dataset is not counted; one whose count raises fails on every dataset. The reference's
    count is None in an isolated entry's process (``cfg.count_reference``): its parent counts it once."""
    from sr_harness.protocols.complexity import measure_complexity  # noqa: PLC0415

    complexity = {}
    failed_everywhere = {m.key for m in nets if passes and all(m.key in done["failed"] for done in passes)}
    counted = [m for m in nets if m.key not in failed_everywhere or m is in_run]
    if in_run is None and cfg.count_reference:
        counted.append(LoadedModel(REFERENCE_KEY, "", "", reference, None))
    for m in bar(counted, total=len(counted), desc="complexity (fvcore)"):
        with phase(f"complexity {m.key if m.key != REFERENCE_KEY else 'speed reference'}"):
            measured = getattr(m.module, "complexity_module", m.module)  # an NTIRE team: the net they measure
            try:
                complexity[m.key] = measure_complexity(measured, input_hw=cfg.protocol.complexity_hw,
                                                       device=cfg.device).to_dict()
                if hasattr(m.module, "own_flops"):  # an NTIRE team: also FLOPs as its year's script counts them
                    complexity[m.key] |= m.module.own_flops(cfg.protocol.complexity_hw)
            except Exception as exc:  # noqa: BLE001  (foreign code: its row fails, the run goes on)
                if m.key == REFERENCE_KEY or m is in_run:
                    raise
                reason = f"complexity count raised {type(exc).__name__}: {exc}"
                for done in passes:
                    done["failed"].setdefault(m.key, reason)
                    done["per_model"].pop(m.key, None)
                print(f"error: {m.key}: {reason}", file=sys.stderr)
    own = complexity.pop(REFERENCE_KEY, None)
    return complexity, own if in_run is None else complexity[in_run.key]
