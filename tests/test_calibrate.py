"""Calibration statistics on synthetic samples (deterministic: no wall clock)."""

import numpy as np
import pytest
import torch
from sr_harness.calibrate import Planted, calibrate
from sr_harness.gate_rates import COPY, REF, SLOWDOWNS, SUBJECT, combinations, planted_name, rates


def fake_run(rng, *, noise=0.01, copy_bias=1.0, rounds=10, offset=1.0):
    base = rng.normal(30, 1, (rounds, 2))
    run = {REF: base * rng.normal(1, noise, base.shape), COPY: copy_bias * base * rng.normal(1, noise, base.shape),
           SUBJECT: offset * 0.8 * base * rng.normal(1, noise, base.shape)}
    for share in SLOWDOWNS:
        run[planted_name(share)] = run[SUBJECT] * (1 + share) * rng.normal(1, noise, base.shape)
    return run


def test_clean_samples_give_no_false_alarm_and_full_detection():
    rng = np.random.default_rng(0)
    result = rates([fake_run(rng, rounds=60) for _ in range(5)], replicates=50)
    real = result["0.03"]["real"]
    assert real["false_alarm_rate"]["regressed"] == 0 and real["false_alarm_rate"]["conclusive"] > 0
    # 10 and 20 % stand out of the run-to-run offset the verdict allows for; 5 % does not (z 1.3)
    assert real["detection_rate"]["10%"]["rate"] == real["detection_rate"]["20%"]["rate"] == 1.0
    assert result["0.10"]["real"]["detection_rate"]["5%"]["rate"] == 0.0  # below the threshold: never called


def test_a_reference_copy_off_one_makes_every_comparison_inconclusive():
    rng = np.random.default_rng(1)
    result = rates([fake_run(rng, copy_bias=1.2) for _ in range(4)], replicates=20)
    fa = result["0.05"]["replayed"]["false_alarm_rate"]
    assert fa["conclusive"] == 0 and fa["inconclusive"] == 20 and fa["rate"] is None


def test_planted_model_returns_the_model_output_and_does_its_extra_products(monkeypatch):
    products = []
    monkeypatch.setattr(torch, "mm", lambda a, b: products.append(a.shape) or a)
    x = torch.rand(1, 3, 8, 8)
    out = Planted(torch.nn.Identity(), 0.10, repeats=7)(x)
    assert torch.equal(out, x) and products == [(128, 128)] * 7


def test_too_few_runs_is_refused_before_any_timing():
    with pytest.raises(ValueError, match=">= 3 runs"):
        calibrate(n_runs=2, baseline_runs=1)
    with pytest.raises(ValueError, match=r">= 5 runs per condition \(3 pooled for the baseline"):
        calibrate(n_runs=4, baseline_runs=3)


def test_each_comparison_pools_distinct_runs_for_the_baseline():
    combos = combinations(5, 3)
    assert len(combos) == 10 * 2  # 3 of 5 runs for the baseline, then the other two in either order
    assert all(len({*base, j, k}) == 5 and base == tuple(sorted(base)) for base, j, k in combos)
    assert combinations(4, 1) == [((i,), j, k) for i in range(4) for j in range(4) for k in range(4)
                                  if len({i, j, k}) == 3]  # one run: every ordered triple, as before
    with pytest.raises(ValueError, match=">= 5 runs"):
        combinations(4, 3)


def spread_processes(run, rng, sd, processes=6):
    """The run with each process's rounds of the unchanged model (and its planted copies) at an offset of its own."""
    rounds = run[REF].shape[0]
    offsets = np.repeat(np.exp(rng.normal(0, sd, processes)), rounds // processes)[:, None]
    return {k: v * offsets if k not in (REF, COPY) else v for k, v in run.items()}


def test_the_gate_takes_the_spread_of_processes_from_the_runs_themselves():
    rng = np.random.default_rng(4)
    # processes that agree within 0.3 %: a 5 % slowdown is always found, an unchanged model never called
    tight = [spread_processes(fake_run(rng, rounds=60, noise=0.002), rng, 0.003) for _ in range(6)]
    real = rates(tight, replicates=0, processes=6, baseline_runs=3)["0.03"]["real"]
    assert real["detection_rate"]["5%"]["rate"] == 1.0 and real["false_alarm_rate"]["regressed"] == 0
    # processes 8 % apart: the same 5 % is mostly within their noise, and still no false alarm
    wide = [spread_processes(fake_run(rng, rounds=60, noise=0.002), rng, 0.08) for _ in range(6)]
    real = rates(wide, replicates=0, processes=6, baseline_runs=3)["0.03"]["real"]
    assert real["detection_rate"]["5%"]["rate"] < 0.5 and real["detection_rate"]["20%"]["rate"] > 0.5
    assert real["false_alarm_rate"]["regressed"] == 0 and real["false_alarm_rate"]["conclusive"] == 120


def test_a_real_run_is_timed_in_fresh_processes_and_returns_every_models_samples():
    from sr_harness.calibrate import calibration_inputs, real_run

    by_clock, huge_mib = real_run(calibration_inputs(24, 2), 3, {share: 1 for share in SLOWDOWNS}, processes=2)
    assert set(by_clock) == {"wall", "thread CPU time"}  # one thread: both clocks of the same forwards
    assert len(huge_mib) == 2  # one per process (None where the OS does not say)
    for samples in by_clock.values():
        assert set(samples) == {REF, COPY, SUBJECT, *map(planted_name, SLOWDOWNS)}
        assert all(v.shape == (3, 2) and (v > 0).all() for v in samples.values())  # rounds x inputs, in ms


def test_replayed_runs_resample_rounds_inside_each_process():
    from sr_harness.gate_rates import process_blocks, resampled_rounds

    blocks = process_blocks(10, 3)
    assert blocks == [(0, 4), (4, 7), (7, 10)]  # as split_rounds shares them: 4 + 3 + 3
    rows = resampled_rounds(np.random.default_rng(5), blocks)
    # each process keeps its own number of rounds, drawn from its own rounds only (its offset stays in the run)
    assert [int(((rows >= a) & (rows < b)).sum()) for a, b in blocks] == [4, 3, 3]
    assert all(a <= r < b for (a, b), part in zip(blocks, np.split(rows, [4, 7])) for r in part)


def test_replay_rejudges_the_recorded_samples_without_timing(tmp_path, capsys):
    import json

    from sr_harness.gate_rates import replay, summarize
    from sr_harness.cli import main

    rng = np.random.default_rng(3)
    runs = [fake_run(rng) for _ in range(4)]
    wall = [fake_run(rng) for _ in range(4)]
    recorded = {"kind": "sr-harness-calibration", "settings": {"replicates": 30},
                "conditions": {"quiet": summarize(runs, 30) | {"wall_clock": summarize(wall, 30)}}}
    recorded = json.loads(json.dumps(recorded))  # as read back from the file
    again = replay(recorded)
    as_recorded = [{k: np.round(v, 4) for k, v in run.items()} for run in runs]  # samples are kept to 0.1 us
    assert again["conditions"]["quiet"]["by_threshold"] == rates(as_recorded, replicates=30)
    wall_recorded = [{k: np.round(v, 4) for k, v in run.items()} for run in wall]
    assert again["conditions"]["quiet"]["wall_clock"]["by_threshold"] == rates(wall_recorded, replicates=30)
    assert "per-process ratios" in again["settings"]["verdict"]
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(recorded))
    assert main(["calibrate", "--replay", str(path), "--out", str(tmp_path / "again.json")]) == 0
    del recorded["conditions"]["quiet"]["samples_ms"]
    path.write_text(json.dumps(recorded))
    assert main(["calibrate", "--replay", str(path), "--out", str(tmp_path / "other.json")]) == 2
    assert "not a calibration with raw samples" in capsys.readouterr().err
