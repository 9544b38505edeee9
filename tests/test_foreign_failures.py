"""A foreign model whose forward misbehaves is a failed row with the reason; every other model is still measured."""

import json
import sys
from pathlib import Path

import pytest

from sr_harness.cli.main import main

sys.path.insert(0, str(Path(__file__).parent / "corpus"))

from foreign_nets import NETS  # noqa: E402  (the corpus's misbehaving classes, one source for both)


EXPECTED = {
    "Raises": "forward raised RuntimeError: boom",
    "Tuple": "forward returned a tuple, not one image tensor",
    "OneChannel": "forward returned shape (1, 1, 512, 512), expected 1 x 3 x H x W",
    "Batch2": "forward returned shape (2, 3, 512, 512), expected 1 x 3 x H x W",
    "SysExit": "forward raised SystemExit: 0",
    "RaisesAtComplexity": "complexity count raised ValueError: no 256",
}


def test_misbehaving_forwards_fail_their_rows_in_process_and_the_others_are_measured(tmp_path, capsys):
    source = tmp_path / "nets.py"
    source.write_text(NETS)
    argv = ["eval", "--data", "embedded", "--rounds", "2", "--threads", "1", "--isolation", "none",
            "--out", str(tmp_path / "r.json")]
    for name in [*EXPECTED, "Good"]:
        argv += ["--model", f"{source}:{name}"]
    assert main(argv) == 4  # failed rows: a record is written, the exit says some rows failed
    rows = {r["model"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    for name, reason in EXPECTED.items():
        assert rows[name]["status"] == "failed" and reason in rows[name]["error"], (name, rows[name]["error"])
        assert rows[name]["metrics"] == {} and rows[name]["speed"] is None
    good = rows["Good"]
    assert good["status"] == "ok" and 0 < good["metrics"]["psnr_y"] < 60 and good["speed"]["ratio"] > 0
    assert good["complexity"]["params"] == 3 * 3 * 3 * 3 + 3
    assert "forward raised RuntimeError: boom" in capsys.readouterr().err



ISOLATED = {
    "Raises": "forward raised RuntimeError: boom",
    "OsExit": "its process exited with code 0 without writing its record",
    "Sleeps": "ran past the time limit of 20 s (--entry-time-limit) and was stopped",
    "Allocates": "can't allocate memory",
    "Segfault": "its process was killed by signal SIGSEGV",
}


@pytest.mark.slow  # one fresh interpreter per entry: about 8 s each on 2 cores
def test_each_foreign_entry_in_its_own_process_fails_alone(tmp_path, capsys):
    (tmp_path / "nets.py").write_text(NETS)
    out = tmp_path / "r.json"
    argv = ["eval", "--data", "embedded", "--rounds", "2", "--threads", "1", "--entry-time-limit", "20",
            "--entry-memory-limit", "6", "--models", "bicubic", "--out", str(out)]
    for name in ISOLATED:
        argv += ["--model", f"{tmp_path / 'nets.py'}:{name}"]
    argv += ["--model", f"{tmp_path / 'nets.py'}:Good"]
    assert main(argv) == 4
    record = json.loads(out.read_text())
    rows = {r["model"]: r for r in record["results"]}
    assert list(rows) == ["bicubic", *ISOLATED, "Good"]  # the run's order, not the order the processes ended
    for name, reason in ISOLATED.items():
        assert rows[name]["status"] == "failed" and reason in rows[name]["error"], (name, rows[name]["error"])
    assert rows["Good"]["status"] == "ok" and rows["Good"]["speed"]["ratio"] > 0 and rows["bicubic"]["status"] == "ok"
    assert record["config"]["isolation"]["entries"] == [*ISOLATED, "Good"]
    phases = record["phase_seconds"]  # the children's own phases, summed: only Good's child wrote a record
    assert phases["entries.forward"] > 0 and phases["entries.timing"] > 0
    assert 0 < phases["entries.inside_children"] < phases["isolated_entries"]
    assert record["speed_reference"]["complexity"]["params"] == 317218  # RLFN's, counted once in this process
    assert "Sleeps on embedded-eval failed: ran past the time limit" in capsys.readouterr().err
