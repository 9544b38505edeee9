"""Run the hostile-input corpus as a user would: every case in a fresh ``python -m sr_harness`` process with a time
limit, classified by its exit code against the codes that are right for it.

    python tests/corpus/run.py [--jobs 2] [--group foreign] [--out corpus.json] [--keep DIR]

Prints the count per group and exit code, then every problem: an exit 70 (unexpected error), a crash (killed by a
signal), a hang (past --case-timeout), a silent pass (exit 0 where the input is wrong), another wrong exit code, a
traceback, a refusal without its one ``error:`` line, a refusal that changed a file it was given, an exit 0 or 4
that left no record, or an unsafe label in a written table. Exit 1 when there is any problem, 2 when no case was
selected, else 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cases import Case, one_side_cases, record_cases  # noqa: E402
from cases_run import checkpoint_cases, flag_cases, foreign_cases, image_cases, label_cases, suite_cases  # noqa: E402
from fixtures import write_fixtures  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def write_files(folder: Path, files: dict, fix: Path) -> None:
    for name, content in files.items():
        path = folder / name
        if content == "FIFO":
            os.mkfifo(path)
        elif content == "DIR":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{fix}", str(fix)))


def _formula_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would evaluate: text starting with = + - @ that is not a number."""
    def number(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False
    with path.open(newline="") as f:
        return [c for row in csv.reader(f) for c in row if c and c[0] in "=+-@" and not number(c)]


def run_case(case: Case, folder: Path, fix: Path, timeout: float) -> dict:
    folder.mkdir(parents=True)
    write_files(folder, case.files, fix)
    before = {name: (folder / name).read_bytes() for name in case.unchanged}
    rc, err, started = 0, "", time.perf_counter()
    for argv in case.commands:
        argv = [a.replace("{dir}", str(folder)).replace("{fix}", str(fix)) for a in argv]
        try:
            proc = subprocess.run([sys.executable, "-m", "sr_harness", *argv], capture_output=True, text=True,
                                  timeout=timeout, cwd=folder, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
        except subprocess.TimeoutExpired:
            rc, err = "hang", f"no exit within {timeout:g} s"
            break
        rc, err = proc.returncode, proc.stderr
        if rc != 0:
            break
    problems = []
    lines = [line for line in err.splitlines() if line.strip()]
    if rc == "hang":
        problems.append("hang")
    elif rc == 70:
        problems.append("exit 70")
    elif rc < 0 or rc >= 128 and rc != 130:
        problems.append("crash")
    elif rc == 0 and 0 not in case.expect:
        problems.append("silent pass")
    elif rc not in case.expect:
        problems.append("wrong exit code")
    if "Traceback" in err:
        problems.append("traceback")
    if rc == 2 and not any("error:" in line for line in lines):
        problems.append("no error line")
    if rc != 0 and any((folder / name).read_bytes() != data for name, data in before.items()):
        problems.append("changed file")
    if case.record and rc in (0, 4) and not (folder / case.record).is_file():
        problems.append("no record")
    for out in folder.glob("t.*"):
        text = out.read_text(errors="replace")
        if any(bad in text for bad in case.absent) or out.suffix == ".csv" and _formula_cells(out):
            problems.append("unsafe label")
    first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
    return {"group": case.group, "name": case.name, "expect": list(case.expect), "exit": rc, "problems": problems,
            "first_line": first[:300], "seconds": round(time.perf_counter() - started, 2)}


def all_cases(baseline: dict) -> list[Case]:
    return (record_cases(baseline) + one_side_cases(baseline) + suite_cases() + flag_cases() + image_cases()
            + checkpoint_cases() + foreign_cases() + label_cases())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--group", action="append", help="only these groups (repeatable)")
    ap.add_argument("--case-timeout", type=float, default=300.0)
    ap.add_argument("--out", type=Path, help="every case's result as JSON")
    ap.add_argument("--keep", type=Path, help="work here and keep the cases' folders (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sr-corpus-") as tmp:
        work = args.keep or Path(tmp)
        fix = work / "fixtures"
        baseline = write_fixtures(fix, ROOT / "results" / "baseline.json")
        cases = [c for c in all_cases(baseline) if not args.group or c.group in args.group]
        if not cases:  # never "0 with a problem" having run nothing
            known = sorted({c.group for c in all_cases(baseline)})
            print(f"error: no case in group(s) {', '.join(args.group)}; known groups: {', '.join(known)}",
                  file=sys.stderr)
            return 2
        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda ic: run_case(ic[1], work / "cases" / f"{ic[0]:04d}", fix,
                                                        args.case_timeout), enumerate(cases)))
        if (fix / "pwned").exists():
            results.append({"group": "checkpoint", "name": "pickled object ran its code", "expect": [], "exit": None,
                            "problems": ["code ran at load"], "first_line": "", "seconds": 0})
    by_group = defaultdict(Counter)
    for r in results:
        by_group[r["group"]][str(r["exit"])] += 1
    codes = sorted({c for counts in by_group.values() for c in counts}, key=lambda c: (not c.isdigit(), c.zfill(4)))
    print(f"{len(results)} cases in {time.perf_counter() - started:.0f} s\n")
    print(f"{'group':<12}" + "".join(f"{'exit ' + c:>9}" for c in codes))
    for group, counts in by_group.items():
        print(f"{group:<12}" + "".join(f"{counts.get(c, 0):>9}" for c in codes))
    total = Counter(str(r["exit"]) for r in results)
    print(f"{'all':<12}" + "".join(f"{total.get(c, 0):>9}" for c in codes))
    bad = [r for r in results if r["problems"]]
    print(f"\n{len(bad)} with a problem: " + ", ".join(f"{n} {p}" for p, n in
                                                    Counter(p for r in bad for p in r["problems"]).most_common()))
    for r in bad:
        print(f"  [{r['group']}] {r['name']}: exit {r['exit']} (right: {r['expect']}) {r['problems']}: {r['first_line']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
