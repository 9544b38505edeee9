"""Regression check rules on synthetic records: tolerances, direction, exact counts, noise-aware speed."""

import copy

import pytest

from sr_harness.cli import main
from sr_harness.compare import compare, has_regression
from sr_harness.records import SCHEMA_VERSION, write_record

ENV = {"device": "cpu", "cpu_model": "x", "torch": "2", "threads": 1}


def row(model="slim", *, psnr_y=32.0, ssim=0.89, params=1000, ratio=1.0, low=0.97, high=1.03, median=10.0):
    return {"model": model, "arch": model, "variant": "v", "dataset": "set", "n_images": 4,
            "metrics": {"psnr_y": psnr_y, "psnr_rgb": 30.0, "ssim_y": ssim},
            "complexity": {"params": params, "convs": 10, "flops_g": 1.5, "activations_m": 2.0},
            "speed": {"reference": "rlfn_ntire_x4", "ratio": ratio, "low": low, "high": high, "input_hw": [96, 96],
                      "n_pairs": 20},
            "runtime": {"mode": "steady", "median_ms": median, "ci_low_ms": median * 0.97, "ci_high_ms": median * 1.03}}


def record(*rows, env=ENV):
    return {"kind": "sr-harness-run", "schema_version": SCHEMA_VERSION, "run_id": "r", "created_utc": "t",
            "config": {}, "env": dict(env), "results": list(rows)}


def statuses(deltas, metric):
    return {d.status for d in deltas if d.metric == metric}


def test_unchanged_run_passes():
    deltas = compare(record(row()), record(row()))
    assert not has_regression(deltas) and {d.status for d in deltas} <= {"ok", "info"}


@pytest.mark.parametrize("change, status", [(-0.01, "regressed"), (-0.004, "ok"), (+0.004, "ok"), (+0.01, "improved")])
def test_psnr_tolerance_is_0005_db_and_direction_aware(change, status):
    deltas = compare(record(row(psnr_y=32.0 + change)), record(row(psnr_y=32.0)))
    assert statuses(deltas, "psnr_y") == {status}
    assert has_regression(deltas) == (status == "regressed")


def test_ssim_tolerance_and_exact_counts():
    assert has_regression(compare(record(row(ssim=0.889)), record(row(ssim=0.89))))
    assert not has_regression(compare(record(row(ssim=0.8896)), record(row(ssim=0.89))))
    deltas = compare(record(row(params=1001)), record(row(params=1000)))
    assert statuses(deltas, "params") == {"changed"} and has_regression(deltas)


def test_slowdown_fails_only_beyond_threshold_and_outside_the_run_ci():
    base = record(row(ratio=1.0, low=0.98, high=1.02))
    assert statuses(compare(record(row(ratio=1.2, low=1.17, high=1.23)), base), "time_ratio") == {"regressed"}
    # +20 % but the run's own CI still contains the baseline ratio: too noisy to call.
    assert statuses(compare(record(row(ratio=1.2, low=0.95, high=1.5)), base), "time_ratio") == {"ok"}
    # Significant but below the threshold.
    assert statuses(compare(record(row(ratio=1.06, low=1.04, high=1.08)), base), "time_ratio") == {"ok"}
    # Faster is an improvement, never a failure.
    deltas = compare(record(row(ratio=0.7, low=0.68, high=0.72)), base)
    assert statuses(deltas, "time_ratio") == {"improved"} and not has_regression(deltas)


def test_absolute_times_only_with_matching_fingerprint():
    slow = record(row(median=20.0))
    assert statuses(compare(slow, record(row(median=10.0))), "median_ms") == {"info"}
    assert statuses(compare(slow, record(row(median=10.0)), absolute_gate=True), "median_ms") == {"regressed"}
    other = record(row(median=10.0), env={**ENV, "cpu_model": "another"})
    assert statuses(compare(slow, other, absolute_gate=True), "median_ms") == set()


def test_missing_row_fails_and_new_row_does_not():
    base = record(row("a"), row("b"))
    assert statuses(compare(record(row("a")), base), "result") == {"missing"}
    deltas = compare(record(row("a"), row("b"), row("c")), base)
    assert statuses(deltas, "result") == {"new"} and not has_regression(deltas)


def test_cli_compare_exits_1_with_a_table_of_what_moved(tmp_path, capsys):
    base = write_record(record(row()), tmp_path / "base.json")
    planted = copy.deepcopy(record(row()))
    planted["results"][0]["metrics"]["psnr_y"] -= 0.01
    run = write_record(planted, tmp_path / "run.json")
    assert main(["compare", str(run), "--baseline", str(base)]) == 1
    out = capsys.readouterr()
    assert "REGRESSED" in out.out and "psnr_y" in out.out and "-0.0100" in out.out
    assert "baseline update" in out.err
    assert main(["compare", str(base), "--baseline", str(base)]) == 0


def test_speed_verdict_uses_both_sides_uncertainty():
    from sr_harness.compare import speed_verdict

    base = {"ratio": 1.0, "low": 0.98, "high": 1.02}
    assert speed_verdict(base, {"ratio": 1.15, "low": 1.03, "high": 1.3}, 0.1) == "regressed"
    # +15 %, the run's interval clears the baseline ratio but not the baseline's own interval: not called
    assert speed_verdict({"ratio": 1.0, "low": 0.9, "high": 1.05}, {"ratio": 1.15, "low": 1.03, "high": 1.3},
                         0.1) == "ok"
    assert speed_verdict(base, {"ratio": 0.8, "low": 0.75, "high": 0.85}, 0.1) == "improved"


def test_reference_against_its_own_copy_off_one_makes_speed_inconclusive(tmp_path, capsys):
    base = record(row(), row("rlfn_ntire_x4"))
    noisy = record(row(ratio=1.3, low=1.2, high=1.4), row("rlfn_ntire_x4", ratio=0.79, low=0.6, high=0.95))
    for rec in (base, noisy):
        rec["speed_reference"] = {"model": "rlfn_ntire_x4"}
    deltas = compare(noisy, base)
    assert statuses(deltas, "time_ratio") == {"inconclusive"} and not has_regression(deltas)
    b, n = write_record(base, tmp_path / "b.json"), write_record(noisy, tmp_path / "n.json")
    assert main(["compare", str(n), "--baseline", str(b)]) == 5
    assert "INCONCLUSIVE" in capsys.readouterr().err
    worse = copy.deepcopy(noisy)
    worse["results"][0]["metrics"]["psnr_y"] -= 0.1  # an accuracy regression still fails: exit 1, not 5
    assert main(["compare", str(write_record(worse, tmp_path / "w.json")), "--baseline", str(b)]) == 1
