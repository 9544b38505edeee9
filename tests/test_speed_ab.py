"""The speed A/B against a base revision: its verdict statistics and confirmation on synthetic entries, the base
revision's errors in throw-away git repositories, and one real A/B of the shipped models (tiny settings)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout
from sr_harness.gate.speed_ab import base_side, default_base, judge, one_side_only
from sr_harness.gate.ab_timing import BASE, HEAD, Side
from sr_harness.gate.base_tree import BaseRevisionError, import_models, resolve, unpack
from sr_harness.cli.main import main
from sr_harness.errors import EXIT_NO_BASE
from sr_harness.records.run import SCHEMA_VERSION, write_record
from sr_harness.gate.stats import ab_change, ab_verdict
from sr_harness.records.schema import Record


def entry(*ratios, ms=10.0):
    return {"per_process": list(ratios), "processes": len(ratios), "rounds": 6 * len(ratios), "clock": "thread CPU time",
            "head_median_ms": ms * sorted(ratios)[len(ratios) // 2], "base_median_ms": ms,
            "head_clock_ms_per_process": [ms * r for r in ratios], "base_clock_ms_per_process": [ms] * len(ratios)}


def test_the_change_is_the_median_process_ratio_and_z_comes_from_the_processes_spread():
    import numpy as np

    ratios = (1.04, 1.05, 1.06, 1.05, 1.05, 1.07)
    change, z = ab_change(entry(*ratios))
    assert change == pytest.approx(0.05)
    logs = np.log(ratios)
    se = 1.2533 * 1.4826 * np.median(np.abs(logs - np.median(logs))) / np.sqrt(6)  # robust SE of a median
    assert z == pytest.approx(np.log(1.05) / se, rel=1e-3) and z == pytest.approx(13.6, abs=0.1)
    assert ab_change(entry(1.0, 1.0, 1.0, 1.0))[1] == 0.0  # no spread: the least assumed SD, no division by zero


@pytest.mark.parametrize("ratios, verdict", [
    ((1.05, 1.04, 1.06, 1.05, 1.05, 1.06), "regressed"),  # +5 %, processes within 1 %
    ((1.05, 0.99, 1.11, 0.98, 1.12, 1.05), "ok"),  # +5 % but processes 6 % apart: not significant
    ((1.02, 1.025, 1.02, 1.02, 1.018, 1.022), "ok"),  # significant but below the 3 % threshold
    ((0.90, 0.91, 0.90, 0.89, 0.90, 0.905), "improved"),
    ((1.0, 0.995, 1.005, 1.0, 1.002, 1.35), "ok"),  # one process far off does not decide it
])
def test_a_slowdown_fails_only_beyond_the_threshold_and_when_significant(ratios, verdict):
    assert ab_verdict(entry(*ratios), 0.03) == verdict


def test_a_flagged_model_is_judged_on_both_measurements_processes():
    slow, calm = entry(1.06, 1.05, 1.07, 1.06, 1.05, 1.06), entry(1.0, 0.99, 1.01, 1.0, 1.0, 1.01)
    again_slow = entry(1.05, 1.06, 1.05, 1.07, 1.06, 1.05)
    verdicts = judge({"a": slow, "b": calm}, {"a": again_slow, "b": calm}, 0.03)
    assert verdicts["a"][0] == "regressed" and verdicts["a"][1]["processes"] == 12
    assert verdicts["b"][0] == "ok" and verdicts["b"][2] == "one measurement"
    # the re-timing does not repeat it: pooled +3.0 %, at the threshold, no longer significant -> not a failure
    assert judge({"a": slow}, {"a": calm}, 0.03)["a"][0] == "ok"
    # pooled still over the threshold but not significant: inconclusive (exit 5), never a pass or a failure
    tight = entry(1.045, 1.04, 1.05, 1.045, 1.04, 1.05)
    noisy = entry(1.20, 0.85, 1.25, 0.80, 1.15, 0.9)
    assert ab_verdict(tight, 0.03) == "regressed"
    assert judge({"a": tight}, {"a": noisy}, 0.03)["a"][0] == "inconclusive"


def test_models_on_one_side_only_are_listed_not_judged():
    head = Side(HEAD, "h", (("a", "a.pth"), ("new", "n.pth")))
    base = Side(BASE, "b", (("a", "a.pth"), ("gone", "g.pth")))
    assert one_side_only(head, base) == {HEAD: ["new"], BASE: ["gone"]}


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("from .part import VALUE\n")
    (root / "models" / "part.py").write_text("VALUE = 'first'\n")
    (root / "harness").mkdir()
    (root / "harness" / "suites.toml").write_text(
        '[default]\nmodels = [{ name = "m", checkpoint = "results/checkpoints/m.pth" },'
        ' { name = "absent", checkpoint = "results/checkpoints/absent.pth" }]\n')
    (root / "results" / "checkpoints").mkdir(parents=True)
    (root / "results" / "checkpoints" / "m.pth").write_bytes(b"weights")
    git(tmp_path, "init", "-q", str(root))
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    (root / "models" / "part.py").write_text("VALUE = 'second'\n")
    git(root, "commit", "-qam", "second")
    return root


def test_the_base_revision_is_unpacked_apart_and_imported_under_its_own_name(repo, tmp_path):
    first = resolve(repo, "HEAD~1")
    assert len(first) == 40
    (tmp_path / "base").mkdir()
    root = unpack(repo, first, tmp_path / "base")
    package = import_models(root / "models", "_test_ab_base_models")
    assert package.VALUE == "first" and (repo / "models" / "part.py").read_text() == "VALUE = 'second'\n"
    side = base_side(root, "default")
    assert side.checkpoints == (("m", str(root / "results/checkpoints/m.pth")),)  # absent checkpoint left out
    assert base_side(root, "no-such-suite").checkpoints == ()
    del sys.modules["_test_ab_base_models"], sys.modules["_test_ab_base_models.part"]


def test_a_base_that_cannot_be_built_says_which_flag_fixes_it(repo, tmp_path):
    with pytest.raises(BaseRevisionError, match="is not a commit of .*pass --base REV"):
        resolve(repo, "no-such-branch")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)], check=True)
    with pytest.raises(BaseRevisionError, match=r"shallow clone.*git fetch --unshallow.*fetch-depth: 0.*--base REV"):
        resolve(shallow, git(repo, "rev-parse", "HEAD~1"))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(BaseRevisionError, match="not a git checkout.*--base none"):
        resolve(plain, "HEAD")
    assert BaseRevisionError.exit_code == EXIT_NO_BASE == 7


def baseline_record(git_state):
    return {"kind": "sr-harness-run", "schema_version": SCHEMA_VERSION, "run_id": "b", "created_utc": "t",
            "suite": "default", "config": {}, "env": {"device": "cpu", "git": git_state}, "results": []}


def typed_baseline(git_state):
    return Record.of(baseline_record(git_state))


def test_the_default_base_is_the_baselines_clean_commit():
    assert default_base(typed_baseline({"commit": "a" * 40, "dirty": False}), "b.json") == "a" * 40
    with pytest.raises(BaseRevisionError, match="uncommitted changes.*--for-baseline.*--base REV"):
        default_base(typed_baseline({"commit": "a" * 40, "dirty": True}), "b.json")
    with pytest.raises(BaseRevisionError, match="no git commit"):
        default_base(typed_baseline({}), "b.json")


def test_compare_exits_7_with_one_line_when_the_base_cannot_be_built(tmp_path, capsys):
    dirty = write_record(baseline_record({"commit": "a" * 40, "dirty": True}), tmp_path / "dirty.json")
    assert main(["compare", str(dirty), "--baseline", str(dirty)]) == EXIT_NO_BASE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "uncommitted changes" in err[0]
    clean = write_record(baseline_record({"commit": "a" * 40, "dirty": False}), tmp_path / "clean.json")
    assert main(["compare", str(clean), "--baseline", str(clean), "--base", "no-such-rev-xyz"]) == EXIT_NO_BASE
    assert not (tmp_path / "speed_ab.json").exists()  # nothing written for a check that did not run


@pytest.mark.slow
def test_a_real_ab_of_the_shipped_models_against_head(tmp_path):
    if subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout: the A/B needs the repository's history")
    from sr_harness.gate.speed_ab import speed_ab

    deltas, record = speed_ab("default", "HEAD", threshold=0.03, rounds=2, processes=2)
    judged = [d for d in deltas if d.status != "info"]
    assert {d.model for d in judged} == {"rlfn_ntire_x4", "slimrlfn_unfused_x4", "slimrlfn_x4", "slimrlfn_prune_x4"}
    assert all(d.metric == "time_ab" and d.baseline > 0 and d.current > 0 for d in judged)
    model = record["models"]["slimrlfn_x4"]["first"]
    assert len(model["per_process"]) == 2 and model["clock"] == "thread CPU time" and model["input_hw"] == [75, 75]
    assert record["base"]["commit"] == subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
                                                      capture_output=True, text=True).stdout.strip()
    json.dumps(record)  # the record is plain JSON


def ab_record_file(tmp_path, run_id="r", **change):
    model = {"status": "regressed", "change": 0.08, "z": 6.0, "first": entry(1.08, 1.07, 1.09), "again": None}
    model.update(change)
    record = {"kind": "sr-harness-speed-ab", "run_id": run_id, "base": {"rev": "HEAD", "commit": "c" * 40},
              "head": {"commit": "d" * 40, "dirty": False}, "threshold": 0.03,
              "settings": {"processes": 3, "rounds": 18, "threads": 1}, "only_in": {"head": ["<b>new</b>"], "base": []},
              "models": {"slim<script>": model}}
    path = tmp_path / "speed_ab.json"
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize("change, field", [({"status": "fine"}, "status"), ({"z": None}, "z"),
                                           ({"first": {"head_median_ms": -1}}, "head_median_ms")])
def test_a_damaged_ab_record_is_one_line_naming_the_field(tmp_path, capsys, change, field):
    from sr_harness.records.speed_ab import load_ab_record

    path = ab_record_file(tmp_path, **change)
    with pytest.raises(Exception, match=field):
        load_ab_record(path)


def test_the_report_shows_the_ab_of_its_own_run_escaped_and_leaves_out_another_runs(tmp_path, capsys):
    run = json.loads((PROJECT_ROOT / "results" / "baseline.json").read_text())
    rec = write_record({**run, "run_id": "r"}, tmp_path / "run.json")
    ab = ab_record_file(tmp_path)
    assert main(["report", str(rec), "--speed-ab", str(ab), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "Speed A/B vs base revision" in html and "+8.0 %" in html and "cccccccccccc" in html
    assert "slim&lt;script&gt;" in html and "&lt;b&gt;new&lt;/b&gt;" in html and "<script>" not in html
    ab_record_file(tmp_path, run_id="another")
    assert main(["report", str(rec), "--speed-ab", str(ab), "-o", str(tmp_path / "r.html")]) == 0
    assert "Speed A/B vs base revision" not in (tmp_path / "r.html").read_text()
    assert "judged run another" in capsys.readouterr().err


def test_the_calibration_plants_are_real_code_changes_at_their_anchors(tmp_path):
    from sr_harness.gate.calibrate import PLANT_FILES, _plant_text

    for kind in ("shared", "single"):
        original = (PROJECT_ROOT / PLANT_FILES[kind]).read_text()
        planted = _plant_text(kind, PROJECT_ROOT / PLANT_FILES[kind], 7)
        assert planted != original and "range(7)" in planted
        compile(planted, PLANT_FILES[kind], "exec")  # still valid Python
    broken = tmp_path / "blocks.py"
    broken.write_text("nothing to anchor to\n")
    with pytest.raises(RuntimeError, match="anchor"):
        _plant_text("shared", broken, 3)


def test_calibration_counts_unchanged_models_as_false_alarm_trials_and_slowed_ones_by_level():
    from sr_harness.gate.calibrate import summarize

    def trial(plant, kind, share, **models):
        return {"plant": plant, "kind": kind, "share": share,
                "models": {k: {"status": s, "change": c} for k, (s, c) in models.items()}}

    trials = [trial("docs", "docs", 0.0, slimrlfn_x4=("regressed", 0.04), rlfn_ntire_x4=("ok", 0.0)),
              trial("shared_10pct", "shared", 0.10, slimrlfn_x4=("regressed", 0.10), rlfn_ntire_x4=("ok", 0.08),
                    slimrlfn_unfused_x4=("ok", 0.02)),
              trial("single_10pct", "single", 0.10, slimrlfn_x4=("inconclusive", 0.09),
                    rlfn_ntire_x4=("ok", 0.001))]
    summary = summarize(trials, [0.10])
    fa = summary["false_alarms"]
    assert (fa["false_alarms"], fa["n"]) == (1, 3)  # docs x2, the single plant's other model
    detect = summary["detection"]["0.10"]
    # the unfused model slowed 2 % by a plant tuned to 10 % is not counted at 10 %, but listed with its size
    assert (detect["detected"], detect["n"], detect["inconclusive"]) == (1, 3, 1)
    assert summary["measured_sizes"]["shared_10pct:slimrlfn_unfused_x4"] == 0.02


def test_a_base_without_any_of_the_suites_models_is_refused_not_passed(repo, monkeypatch):
    import sr_harness.gate.speed_ab as ab_gate

    # the base's suite names a model the head does not have: nothing in common, nothing timed, no "ok"
    monkeypatch.setattr(ab_gate, "head_side", lambda suite: (Side(HEAD, "h", (("other", "o.pth"),)), object()))
    with pytest.raises(BaseRevisionError, match="none of suite 'default'.s models"):
        ab_gate.speed_ab("default", "HEAD", threshold=0.03, repo=repo)


@pytest.mark.parametrize("status, banner", [("regressed", "<strong>Regression</strong>: the check fails"),
                                            ("inconclusive", "<strong>Inconclusive</strong>"),
                                            ("ok", "No regression: every check is within tolerance")])
def test_the_reports_verdict_is_compares_with_the_ab_in_it(tmp_path, status, banner):
    baseline = PROJECT_ROOT / "results" / "baseline.json"
    run = json.loads(baseline.read_text())
    rec = write_record({**run, "run_id": "r"}, tmp_path / "run.json")
    ab = ab_record_file(tmp_path, status=status)
    out = tmp_path / "r.html"
    assert main(["report", str(rec), "--baseline", str(baseline), "--speed-ab", str(ab), "-o", str(out)]) == 0
    html = out.read_text()
    assert banner in html
    assert sum(text in html for text in ("<strong>Regression</strong>", "<strong>Inconclusive</strong>",
                                         "No regression:")) == 1
