"""Calibration statistics on synthetic samples (deterministic: no wall clock)."""

import numpy as np
import pytest
import torch
from sr_harness.calibrate import COPY, REF, SLOWDOWNS, SUBJECT, Planted, calibrate, planted_name, rates


def fake_run(rng, *, noise=0.01, copy_bias=1.0, rounds=10):
    base = rng.normal(30, 1, (rounds, 2))
    run = {REF: base * rng.normal(1, noise, base.shape), COPY: copy_bias * base * rng.normal(1, noise, base.shape),
           SUBJECT: 0.8 * base * rng.normal(1, noise, base.shape)}
    for share in SLOWDOWNS:
        run[planted_name(share)] = run[SUBJECT] * (1 + share) * rng.normal(1, noise, base.shape)
    return run


def test_clean_samples_give_no_false_alarm_and_full_detection():
    rng = np.random.default_rng(0)
    result = rates([fake_run(rng) for _ in range(5)], replicates=50)
    real = result["0.03"]["real"]
    assert real["false_alarm_rate"]["regressed"] == 0 and real["false_alarm_rate"]["conclusive"] > 0
    assert all(v["rate"] == 1.0 for v in real["detection_rate"].values())
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
        calibrate(n_runs=2)
