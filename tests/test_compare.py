"""Regression check rules on synthetic records: tolerances, direction, exact counts; speed against a baseline
informational; the two-run speed statistics calibrate judges."""

import copy

import pytest

from sr_harness.cli.main import main
from sr_harness.gate.compare import compare, has_regression
from sr_harness.records.run import SCHEMA_VERSION, write_record

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


def test_unchanged_run_passes_and_every_check_is_made():
    deltas = compare(record(row()), record(row()))
    checked = {d.metric: d.status for d in deltas}
    assert checked == {"psnr_y": "ok", "psnr_rgb": "ok", "ssim_y": "ok", "params": "ok", "convs": "ok",
                       "flops_g": "ok", "activations_m": "ok", "time_ratio": "info", "median_ms": "info"}
    assert not has_regression(deltas)


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


def speed_deltas(run, base):
    return [d for d in compare(run, base) if d.metric == "time_ratio"]


def test_speed_against_the_baseline_is_informational_and_says_how_it_moved(tmp_path, capsys):
    base = record(row(ratio=1.0, low=0.98, high=1.02))
    slow = record(row(ratio=1.2, low=1.17, high=1.23))
    speed = speed_deltas(slow, base)
    assert [d.status for d in speed] == ["info"] and "+20.0% against the baseline's ratio" in speed[0].note
    assert not has_regression(compare(slow, base))
    b, s = write_record(base, tmp_path / "b.json"), write_record(slow, tmp_path / "s.json")
    assert main(["compare", str(s), "--baseline", str(b), "--base", "none"]) == 0
    assert "speed: not checked (--base none)" in capsys.readouterr().out


@pytest.mark.parametrize("field, value, why", [
    ("clock", "thread CPU time", "clock in the baseline and the thread CPU time clock"),
    ("pages", "huge", "on regular memory pages in the baseline and on huge pages"),
])
def test_ratios_timed_unlike_the_baselines_say_why_they_do_not_compare(field, value, why):
    other = row(ratio=1.5, low=1.49, high=1.51)
    other["speed"][field] = value
    speed = speed_deltas(record(other), record(row()))
    assert [d.status for d in speed] == ["info"] and why in speed[0].note and "%" not in speed[0].note


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


def test_a_speed_entry_on_one_side_only_is_named_and_fails():
    timed, untimed = row(), row()
    untimed.pop("speed")
    for run, base, side in ((record(untimed), record(timed), "run"), (record(timed), record(untimed), "baseline")):
        deltas = compare(run, base)
        speed = [d for d in deltas if d.metric == "time_ratio"]
        assert [d.status for d in speed] == ["missing"] and f"absent from the {side}" in speed[0].note
        assert has_regression(deltas)
    assert not [d for d in compare(record(untimed), record(untimed)) if d.metric == "time_ratio"]


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf", "0", "-0.03", "abc"])
def test_a_speed_threshold_that_is_not_a_finite_positive_number_is_refused(tmp_path, capsys, threshold):
    base = write_record(record(row()), tmp_path / "base.json")
    slow = write_record(record(row(ratio=1.5, low=1.45, high=1.55)), tmp_path / "slow.json")
    assert main(["compare", str(slow), "--baseline", str(base), f"--speed-threshold={threshold}"]) == 2
    err = capsys.readouterr().err
    assert "--speed-threshold" in err and "ok:" not in err


def test_cli_compare_exits_1_with_a_table_of_what_moved(tmp_path, capsys):
    base = write_record(record(row()), tmp_path / "base.json")
    planted = copy.deepcopy(record(row()))
    planted["results"][0]["metrics"]["psnr_y"] -= 0.01
    run = write_record(planted, tmp_path / "run.json")
    assert main(["compare", str(run), "--baseline", str(base), "--base", "none"]) == 1
    out = capsys.readouterr()
    assert "REGRESSED" in out.out and "psnr_y" in out.out and "-0.0100" in out.out
    assert "baseline update" in out.err
    assert main(["compare", str(base), "--baseline", str(base), "--base", "none"]) == 0


def test_speed_z_is_the_log_step_over_the_combined_standard_error():
    import math

    from sr_harness.gate.stats import RUN_OFFSET_SD, speed_z

    base, cur = {"ratio": 1.0, "low": math.exp(-0.0196), "high": math.exp(0.0196)}, {"ratio": math.exp(0.05)}
    # se 0.01 from the baseline's interval, none from the run's, the run-to-run offset on both sides
    assert speed_z(base, cur) == pytest.approx(0.05 / math.sqrt(0.01 ** 2 + 2 * RUN_OFFSET_SD ** 2))
    cur.update(low=math.exp(0.05 - 0.0196), high=math.exp(0.05 + 0.0196))
    assert speed_z(base, cur) == pytest.approx(0.05 / math.sqrt(2 * 0.01 ** 2 + 2 * RUN_OFFSET_SD ** 2))


def test_the_run_to_run_offset_is_averaged_over_the_entrys_timing_processes():
    import math

    from sr_harness.gate.stats import RUN_OFFSET_SD, offset_sd, speed_change, speed_z

    assert offset_sd({"ratio": 1.0}) == RUN_OFFSET_SD  # a record from before timing processes: one process
    assert offset_sd({"ratio": 1.0, "processes": 4}) == pytest.approx(RUN_OFFSET_SD / 2)
    base, cur = {"ratio": 1.0, "processes": 4}, {"ratio": math.exp(0.03), "processes": 9}
    assert speed_z(base, cur) == pytest.approx(0.03 / math.hypot(RUN_OFFSET_SD / 2, RUN_OFFSET_SD / 3))
    # the same 3 % step is significant from 6-process runs and not from single-process ones
    six = {"ratio": 1.0, "low": 0.995, "high": 1.005, "processes": 6}
    assert speed_change(six, {**six, "ratio": 1.045, "low": 1.04, "high": 1.05})[1] > 2.326
    one = {k: v for k, v in six.items() if k != "processes"}
    assert speed_change(one, {**one, "ratio": 1.045, "low": 1.04, "high": 1.05})[1] < 2.326


def processes(*ratios, ratio=None):
    """A speed entry timed in len(ratios) fresh processes with these per-process ratios."""
    mid = sorted(ratios)[len(ratios) // 2] if ratio is None else ratio
    return {"reference": "rlfn_ntire_x4", "ratio": mid, "low": mid * 0.99, "high": mid * 1.01, "input_hw": [96, 96],
            "n_pairs": 40 * len(ratios), "processes": len(ratios), "per_process": list(ratios)}


def test_runs_in_several_processes_are_judged_by_the_spread_of_their_processes():
    from sr_harness.gate.stats import speed_change

    tight_base = processes(*[0.80 * f for f in (0.995, 1.0, 1.005) * 6])  # 18 processes within 0.5 %
    tight_run = processes(*[0.84 * f for f in (0.995, 1.0, 1.005, 0.998, 1.002, 1.0)])  # +5 %
    change, z, how = speed_change(tight_base, tight_run)
    assert change == pytest.approx(0.05) and how == "medians of per-process ratios" and z > 5
    # the same +5 % from processes that spread 6 % apart on this machine: within their noise, not called
    wide_base = processes(*[0.80 * f for f in (0.94, 1.0, 1.06) * 6])
    wide_run = processes(*[0.84 * f for f in (0.94, 1.0, 1.06, 0.97, 1.03, 1.0)])
    assert speed_change(wide_base, wide_run)[1] < 2.326


def test_entries_from_one_process_keep_the_fixed_offset_rule():
    from sr_harness.gate.stats import speed_change

    one = {"ratio": 1.0, "low": 0.99, "high": 1.01, "per_process": [1.0]}
    assert speed_change(one, {**one, "ratio": 1.05, "per_process": [1.05]})[2] == "pooled ratios"
    assert speed_change(processes(1.0, 1.0), {"ratio": 1.05, "low": 1.04, "high": 1.06})[2] == "pooled ratios"


def test_ratios_from_another_cpu_or_a_much_slower_reference_say_so():
    milan = {**ENV, "cpu_identity": {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "1"}}
    genoa = {**ENV, "cpu_identity": {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17"}}
    base = record(row(ratio=0.83, low=0.82, high=0.84), env=genoa)
    run = record(row(ratio=0.75, low=0.74, high=0.76), env=milan)
    speed = speed_deltas(run, base)
    assert [d.status for d in speed] == ["info"] and "another CPU (model differ)" in speed[0].note
    slow = record(row(ratio=1.2, low=1.19, high=1.21), env=genoa)
    base["results"][0]["speed"]["reference_clock_ms"] = 28.7
    slow["results"][0]["speed"]["reference_clock_ms"] = 53.7  # the reference itself 1.87x slower
    speed = speed_deltas(slow, base)
    assert [d.status for d in speed] == ["info"] and "another machine" in speed[0].note
    slow["results"][0]["speed"]["reference_clock_ms"] = 33.0  # 1.15x: the same machine, a busier hour
    assert "+44.6% against the baseline's ratio" in speed_deltas(slow, base)[0].note
