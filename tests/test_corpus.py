"""The hostile-input corpus's cases that stop before any model runs (damaged records and baselines, one-sided
comparisons, suite files, flag values), in this process: each ends in an exit code that is right for it, with no
traceback and its files unchanged. ``tox -e corpus`` runs the whole corpus, one fresh process per case."""

import json
import sys
from pathlib import Path

import pytest

from sr_harness.cli.main import main

sys.path.insert(0, str(Path(__file__).parent / "corpus"))

from cases import one_side_cases, record_cases  # noqa: E402
from cases_run import flag_cases, suite_cases  # noqa: E402
from run import write_files  # noqa: E402

BASELINE = json.loads((Path(__file__).parents[1] / "results" / "baseline.json").read_text())
CASES = record_cases(BASELINE) + one_side_cases(BASELINE) + suite_cases() + [
    c for c in flag_cases() if not any("--device" in argv for argv in c.commands)]


@pytest.fixture(scope="module")
def fix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fix")
    (folder / "good.json").write_text(json.dumps(BASELINE))
    (folder / "hr").mkdir()
    (folder / "nets.py").write_text("")
    return folder


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.name}"[:90] for c in CASES])
def test_corpus_case_ends_in_its_exit_code(case, fix, tmp_path, capsys):
    write_files(tmp_path, case.files, fix)
    before = {name: (tmp_path / name).read_bytes() for name in case.unchanged}
    for argv in case.commands:
        try:
            code = main([a.replace("{dir}", str(tmp_path)).replace("{fix}", str(fix)) for a in argv])
        except SystemExit as exc:  # argparse refuses a flag value itself
            code = exc.code
        if code:
            break
    err = capsys.readouterr().err
    assert code in case.expect, err[-500:]
    assert code != 70 and "Traceback" not in err
    assert code != 2 or "error:" in err
    if code:  # a refusal leaves every file as it was (`baseline update` that succeeds replaces its baseline)
        assert {name: (tmp_path / name).read_bytes() for name in case.unchanged} == before
