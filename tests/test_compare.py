"""Regression check rules on synthetic records: tolerances, direction, exact counts; speed against a baseline
informational; the two-run speed statistics calibrate judges."""

import copy

import pytest

from sr_harness.cli.main import main
from sr_harness.gate.compare import compare, has_regression
from sr_harness.records.run import SCHEMA_VERSION, RecordError, write_record
from sr_harness.records.schema import Speed

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


def test_a_row_on_one_side_only_fails_either_way():
    base = record(row("a"), row("b"))
    assert statuses(compare(record(row("a")), base), "result") == {"missing"}
    deltas = compare(record(row("a"), row("b"), row("c")), base)
    new = [d for d in deltas if d.metric == "result"]
    assert [(d.model, d.status) for d in new] == [("c", "new")] and has_regression(deltas)  # named, never "ok"


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


def typed(entry: dict) -> Speed:
    """A speed entry as the gate reads it (records.schema), naming a reference where the test does not."""
    return Speed.of({"reference": "rlfn_ntire_x4", **entry})


def test_speed_z_is_the_log_step_over_the_combined_standard_error():
    import math

    from sr_harness.gate.stats import RUN_OFFSET_SD, speed_z

    base, cur = {"ratio": 1.0, "low": math.exp(-0.0196), "high": math.exp(0.0196)}, {"ratio": math.exp(0.05)}
    # se 0.01 from the baseline's interval, none from the run's, the run-to-run offset on both sides
    assert speed_z(typed(base), typed(cur)) == pytest.approx(0.05 / math.sqrt(0.01 ** 2 + 2 * RUN_OFFSET_SD ** 2))
    cur.update(low=math.exp(0.05 - 0.0196), high=math.exp(0.05 + 0.0196))
    assert speed_z(typed(base), typed(cur)) == pytest.approx(0.05 / math.sqrt(2 * 0.01 ** 2 + 2 * RUN_OFFSET_SD ** 2))


def test_the_run_to_run_offset_is_averaged_over_the_entrys_timing_processes():
    import math

    from sr_harness.gate.stats import RUN_OFFSET_SD, offset_sd, speed_change, speed_z

    assert offset_sd(typed({"ratio": 1.0})) == RUN_OFFSET_SD  # a record from before timing processes: one process
    assert offset_sd(typed({"ratio": 1.0, "processes": 4})) == pytest.approx(RUN_OFFSET_SD / 2)
    base, cur = {"ratio": 1.0, "processes": 4}, {"ratio": math.exp(0.03), "processes": 9}
    assert speed_z(typed(base), typed(cur)) == pytest.approx(0.03 / math.hypot(RUN_OFFSET_SD / 2, RUN_OFFSET_SD / 3))
    # the same 3 % step is significant from 6-process runs and not from single-process ones
    six = {"ratio": 1.0, "low": 0.995, "high": 1.005, "processes": 6}
    assert speed_change(typed(six), typed({**six, "ratio": 1.045, "low": 1.04, "high": 1.05}))[1] > 2.326
    one = {k: v for k, v in six.items() if k != "processes"}
    assert speed_change(typed(one), typed({**one, "ratio": 1.045, "low": 1.04, "high": 1.05}))[1] < 2.326


def processes(*ratios, ratio=None):
    """A speed entry timed in len(ratios) fresh processes with these per-process ratios."""
    mid = sorted(ratios)[len(ratios) // 2] if ratio is None else ratio
    return {"reference": "rlfn_ntire_x4", "ratio": mid, "low": mid * 0.99, "high": mid * 1.01, "input_hw": [96, 96],
            "n_pairs": 40 * len(ratios), "processes": len(ratios), "per_process": list(ratios)}


def test_runs_in_several_processes_are_judged_by_the_spread_of_their_processes():
    from sr_harness.gate.stats import speed_change

    tight_base = processes(*[0.80 * f for f in (0.995, 1.0, 1.005) * 6])  # 18 processes within 0.5 %
    tight_run = processes(*[0.84 * f for f in (0.995, 1.0, 1.005, 0.998, 1.002, 1.0)])  # +5 %
    change, z, how = speed_change(typed(tight_base), typed(tight_run))
    assert change == pytest.approx(0.05) and how == "medians of per-process ratios" and z > 5
    # the same +5 % from processes that spread 6 % apart on this machine: within their noise, not called
    wide_base = processes(*[0.80 * f for f in (0.94, 1.0, 1.06) * 6])
    wide_run = processes(*[0.84 * f for f in (0.94, 1.0, 1.06, 0.97, 1.03, 1.0)])
    assert speed_change(typed(wide_base), typed(wide_run))[1] < 2.326


def test_entries_from_one_process_keep_the_fixed_offset_rule():
    from sr_harness.gate.stats import speed_change

    one = {"ratio": 1.0, "low": 0.99, "high": 1.01, "per_process": [1.0]}
    assert speed_change(typed(one), typed({**one, "ratio": 1.05, "per_process": [1.05]}))[2] == "pooled ratios"
    assert speed_change(typed(processes(1.0, 1.0)), typed({"ratio": 1.05, "low": 1.04, "high": 1.06}))[2] == "pooled ratios"


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


def only(deltas, metric):
    return [d for d in deltas if d.metric == metric]


def test_a_metric_on_one_side_only_is_named_and_a_required_one_refused_at_the_door():
    extra = row()
    extra["metrics"]["ssim_rgb"] = 0.8  # optional: computed by one run only
    run_side = only(compare(record(row()), record(extra)), "ssim_rgb")
    assert [d.status for d in run_side] == ["missing"] and "absent from the run" in run_side[0].note
    assert run_side[0].delta is None and run_side[0].baseline == 0.8
    base_side = only(compare(record(extra), record(row())), "ssim_rgb")
    assert "absent from the baseline" in base_side[0].note and base_side[0].delta is None
    assert has_regression(base_side) and has_regression(run_side)
    assert not only(compare(record(row()), record(row())), "ssim_rgb")  # optional, absent from both: no check
    trimmed = row()
    del trimmed["metrics"]["psnr_rgb"]
    with pytest.raises(RecordError, match=r"^run: results\[0\] \(slim on set\) lacks the metric 'psnr_rgb'"):
        compare(record(trimmed), record(row()))


def test_a_count_on_one_side_only_is_a_change_and_on_neither_no_check():
    trimmed = row()
    del trimmed["complexity"]["convs"]
    convs = only(compare(record(trimmed), record(row())), "convs")
    assert [(d.status, d.baseline, d.current) for d in convs] == [("changed", 10, None)]
    assert not only(compare(record(trimmed), record(copy.deepcopy(trimmed))), "convs")
    other = row()
    other["n_images"] = 5
    assert [d.status for d in only(compare(record(other), record(row())), "n_images")] == ["changed"]


@pytest.mark.parametrize("run_ms, alike", [(15.0, True), (15.2, False), (6.6, False), (6.7, True)])
def test_another_machine_is_a_reference_more_than_1_5x_apart(run_ms, alike):
    base, run = row(), row(ratio=1.1, low=1.09, high=1.11)
    base["speed"]["reference_clock_ms"], run["speed"]["reference_clock_ms"] = 10.0, run_ms
    note = speed_deltas(record(run), record(base))[0].note
    assert ("another machine" not in note and "+10.0% against" in note) if alike else "another machine" in note


@pytest.mark.parametrize("field, value", [("reference", "slimrlfn_x4"), ("input_hw", [64, 64])])
def test_ratios_against_another_reference_or_input_do_not_compare(field, value):
    other = row(ratio=1.3, low=1.29, high=1.31)
    other["speed"][field] = value
    note = speed_deltas(record(other), record(row()))[0].note
    assert note == "informational: different speed reference or timing input size"


@pytest.mark.parametrize("median, low, gated", [(10.2, 10.1, "info"), (20.0, 9.9, "info"), (20.0, 10.0, "info"),
                                               (20.0, 19.4, "regressed")])
def test_the_absolute_gate_needs_a_change_over_the_threshold_that_its_interval_confirms(median, low, gated):
    run = row(median=median)
    run["runtime"]["ci_low_ms"] = low
    absolute = only(compare(record(run), record(row(median=10.0)), absolute_gate=True, speed_threshold=0.05),
                    "median_ms")
    assert [d.status for d in absolute] == [gated]
    assert f"{median / 10.0 - 1:+.1%} absolute (gated" in absolute[0].note


def test_a_failed_row_fails_with_its_error():
    broken = {**row(), "status": "failed", "error": "forward raised RuntimeError: boom", "metrics": {}}
    deltas = compare(record(broken), record(row()))
    assert [(d.metric, d.status, d.note) for d in deltas] == [("result", "failed", "forward raised RuntimeError: boom")]
    silent = {**broken, "error": None}
    assert compare(record(silent), record(row()))[0].note == "the model failed"


def test_the_terminal_table_lists_what_moved():
    from sr_harness.gate.compare import Delta, format_table

    assert format_table(compare(record(row()), record(row()))) == "no changes beyond tolerance"
    moved = [Delta("slim", "set", "psnr_y", 32.0, 31.98, "regressed", "tolerance 0.005"),
             Delta("slim", "set", "flops_g", 12345.678, None, "changed", "must match exactly"),
             Delta("slim", "set", "ssim_y", 0.9, 0.91, "improved", "tolerance 0.0005"),
             Delta("slim", "set", "psnr_rgb", 30.0, 30.0, "ok", "")]
    lines = format_table(moved).splitlines()
    assert lines[0].split() == ["status", "model", "dataset", "metric", "baseline", "current", "delta", "note"]
    assert lines[1].split()[:7] == ["REGRESSED", "slim", "set", "psnr_y", "32.0000", "31.9800", "-0.0200"]
    assert lines[2].split()[:7] == ["CHANGED", "slim", "set", "flops_g", "1.235e+04", "-", "-"]
    assert lines[3].split()[0] == "improved"  # moved, not failing: lower case
    assert len(lines) == 4 and lines[1].endswith("  tolerance 0.005")
    assert len(format_table(moved, only_moved=False).splitlines()) == 5


def test_compare_against_a_baseline_without_rows_is_refused_not_ok(tmp_path, capsys):
    base = write_record(record(), tmp_path / "empty.json")
    run = write_record(record(row()), tmp_path / "run.json")
    assert main(["compare", str(run), "--baseline", str(base), "--base", "none"]) == 2
    out = capsys.readouterr()
    assert "nothing was checked" in out.err and str(base) in out.err and "ok:" not in out.out
