"""Suites file: the three shipped suites parse; unknown keys anywhere are errors."""
import os

import pytest

from sr_harness.config.build import ConfigError, build_config, load_suites


def test_shipped_suites():
    suites = load_suites()
    assert set(suites) == {"default", "official", "ntire2024", "trained", "ntire2024-zoo", "ntire-zoo"}
    default = suites["default"]
    assert default.data == ("embedded",) and default.weights == "project"
    assert [m.name for m in default.models][0] == "bicubic"
    assert all(m.optional and m.checkpoint.startswith("results/checkpoints/") for m in default.models[1:])
    assert suites["ntire2024"].headline == "psnr_rgb" and suites["ntire2024"].protocol.runtime_mode == "ntire"


def test_default_suite_resolves_without_any_checkpoint():
    cfg = build_config("default")  # missing project checkpoints are optional: noted in the record, not an error
    assert cfg.data == ("embedded",) and cfg.models[0].name == "bicubic"


@pytest.mark.parametrize("text, where", [
    ('[s]\ndescription = "x"\ndata = ["embedded"]\nmodel = []\n', "[s]: unknown key(s) 'model'"),
    ('[s]\ndata = ["embedded"]\n[[s.models]]\nname = "rlfn_x4"\ncheckpiont = "x.pth"\n', "models[0]: unknown key"),
    ('[s]\ndata = ["embedded"]\nprotocol = { rounds = 3, repeat = 2 }\n', "protocol: unknown key(s) 'repeat'"),
    ('[s]\ndata = ["embedded"]\nprotocol = { runtime_mode = "warm" }\n', "runtime_mode must be"),
    ('[s]\ndata = ["embedded"]\nprotocol = { rounds = 3, timing_processes = 4 }\n', "timing_processes must be a whole number from 1 to 3 (rounds: each process times at least one), got 4"),
    ('[s]\ndata = ["embedded"]\nprotocol = { baseline_timing = 0 }\n', "baseline_timing must be a whole number from 1 to 100, got 0"),
    ('[s]\ndata = ["embedded"]\nprotocol = { rounds = 2.5 }\n', "[s].protocol: rounds must be a whole number from 1 to 100000, got 2.5"),
    ('[s]\ndata = ["embedded"]\nprotocol = { warmup = 0.5 }\n', "warmup must be a whole number from 0 to 1000, got 0.5"),
    ('[s]\ndata = ["embedded"]\nprotocol = { complexity_hw = [1] }\n', "complexity_hw must be two whole numbers from 15 to 4096 (LR height, width), got [1]"),
    ('[s]\ndata = ["embedded"]\nprotocol = { crop = -3 }\n', "crop must be a whole number from 0 to 64, got -3"),
    ('[s]\ndata = ["embedded"]\nprotocol = { timing_size = 100000000 }\n', "timing_size must be a whole number from 15"),
    ('[s]\ndata = ["embedded"]\nprotocol = { threads = 100000 }\n', "threads must be a whole number from 1 to"),
    ('[s]\ndata = ["embedded"]\nprotocol = { half = 1 }\n', "half must be true or false, got 1"),
])
def test_unknown_keys_and_bad_values_are_errors(tmp_path, text, where):
    path = tmp_path / "suites.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_suites(path)


def test_fewer_rounds_than_the_suites_timing_processes_time_one_round_per_process():
    from sr_harness.config.build import build_config

    assert build_config("default").protocol.timing_processes == 6
    assert build_config("default", rounds=4).protocol.timing_processes == 4
    assert build_config("default", rounds=30).protocol.timing_processes == 6
    assert build_config("default", rounds=4, timing_processes=2).protocol.timing_processes == 2
    with pytest.raises(ConfigError, match=r"timing_processes must be a whole number from 1 to 4 \(rounds: .*got 5"):
        build_config("default", rounds=4, timing_processes=5)


def test_a_run_for_the_baseline_times_the_suites_baseline_timing_times_longer():
    from sr_harness.config.build import build_config

    regular, baseline = build_config("default"), build_config("default", for_baseline=True)
    assert not regular.timed_for_baseline and baseline.timed_for_baseline
    factor = regular.protocol.baseline_timing
    assert factor == 3
    assert (baseline.protocol.rounds, baseline.protocol.timing_processes) == (60 * factor, 6 * factor)
    assert build_config("default", rounds=10, for_baseline=True).protocol.rounds == 10 * factor


def test_required_checkpoint_missing_is_an_error(tmp_path):
    path = tmp_path / "suites.toml"
    path.write_text('[s]\ndata = ["embedded"]\n[[s.models]]\nname = "rlfn_x4"\ncheckpoint = "nowhere/rlfn_x4.pth"\n')
    with pytest.raises(ConfigError, match="nowhere/rlfn_x4.pth: weights file for model 'rlfn_x4' not found"):
        build_config("s", suites_file=path)


def test_the_zoo_suite_asks_for_the_organizers_repository():
    with pytest.raises(ConfigError, match="ntire2024-zoo.*--ntire-repo DIR"):
        build_config("ntire2024-zoo", data=["embedded"])


def test_ntire_teams_must_be_a_string(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text("[zoo]\nntire_teams = [0, 21]\n")
    with pytest.raises(ConfigError, match="ntire_teams must be a string"):
        load_suites(bad)


@pytest.mark.parametrize("make, says", [
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.write_bytes(b"[mine]\ndescription = \"\xff\xfe\"\n"), "cannot read suites file"),
    (lambda p: p.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n"), "suites"),
    (lambda p: p.write_bytes(b"#" * (2 << 20)), "limit"),
])
def test_a_suites_file_that_cannot_be_read_is_one_line_and_exit_2(tmp_path, capsys, make, says):
    from sr_harness.cli.main import main

    path = tmp_path / "mine.toml"
    make(path)
    assert main(["eval", "--suite-file", str(path), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and says in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("body, says", [("models = 3", "models must be a list of tables"),
                                        ("models = [3]", "models must be a list of tables"),
                                        ("data = 3", "data must be a list of folder names"),
                                        ("protocol = 3", "protocol must be a table")])
def test_suite_containers_of_the_wrong_type_are_named(tmp_path, body, says):
    path = tmp_path / "mine.toml"
    path.write_text(f'[mine]\ndescription = "x"\n{body}\n')
    with pytest.raises(ConfigError, match=says):
        load_suites(path)
