"""`calibrate --ab`: the speed A/B's error rates on this machine, from planted commits in a scratch clone.

The clone starts at the checkout's HEAD (the base). Each plant is one commit on top of it: a docs-only change
(README line: nothing may move), extra work in the ESA block's forward that every model runs (its size tuned to a
share of slimrlfn_x4's time), and extra work after slimrlfn_x4's forward only (a forward hook its factory adds).
Each trial is what CI runs: ``speed_ab.measure_and_judge`` of the plant's commit against the base, unpacked from
git, with the default suite's models, inputs and A/B settings, quiet and beside busy processes
(``Load``). Every model of every trial counts: unchanged ones (all four on the docs commit, the three
others on the single-model plant) toward false alarms, slowed ones toward detection at their plant's level,
with each model's slowdown as measured (median over its trials of the head/base ratio).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sr_harness import project_root
from sr_harness.gate.speed_ab import INCONCLUSIVE, base_side, measure_and_judge, timing_inputs
from sr_harness.gate.ab_timing import BASE, HEAD
from sr_harness.gate.base_tree import unpack
from sr_harness.gate.stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS, DEFAULT_SPEED_THRESHOLD, ab_change

SUBJECT = "slimrlfn_x4"  # the single-model plant's model, and the one the plants' sizes are tuned on
ESA_ANCHOR = "        return x * m\n"
SINGLE_ANCHOR = '    return RLFNNet(channels=channels, inner_widths=inner_widths, scale=scale, key_style="slimrlfn")\n'


def _plant_text(kind: str, path: Path, repeats: int) -> str:
    text = path.read_text(encoding="utf-8")
    if kind == "docs":
        return text + "\nA line that changes nothing a model runs.\n"
    anchor = ESA_ANCHOR if kind == "shared" else SINGLE_ANCHOR
    if text.count(anchor) != 1:
        raise RuntimeError(f"{path}: the plant's anchor line is not there exactly once; update harness/gate/calibrate.py")
    if kind == "shared":
        return text.replace(anchor, f"        for _ in range({repeats}):\n            torch.relu(x)\n{anchor}")
    body = ("    model = " + anchor.split("return ", 1)[1]
            + f"    if deploy_name(inner_widths) == {SUBJECT!r}:\n        model.register_forward_hook(_planted_work)\n"
            "    return model\n\n\ndef _planted_work(module, args, output):\n    import torch\n\n"
            f"    for _ in range({repeats}):\n        torch.relu(output)\n")
    return text.replace(anchor, body)


PLANT_FILES = {"docs": "README.md", "shared": "models/blocks.py", "single": "models/slimrlfn.py"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=sr-harness calibrate",
                           "-c", "user.email=calibrate@localhost", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def plant_commits(clone: Path, plants: list[tuple[str, float, int]]) -> tuple[str, dict]:
    """(base commit, plant name -> commit): each plant one commit on the clone's HEAD."""
    base = _git(clone, "rev-parse", "HEAD")
    commits = {}
    for kind, share, repeats in plants:
        _git(clone, "checkout", "-q", "--detach", base)
        path = clone / PLANT_FILES[kind]
        path.write_text(_plant_text(kind, path, repeats), encoding="utf-8")
        _git(clone, "commit", "-q", "-am", f"calibrate: {kind} plant {share:.0%} ({repeats} extra relu)")
        commits[plant_name(kind, share)] = _git(clone, "rev-parse", "HEAD")
    return base, commits


def plant_name(kind: str, share: float) -> str:
    return "docs" if kind == "docs" else f"{kind}_{round(share * 100)}pct"


def tune(inputs: list, levels: list[float]) -> dict[str, dict[float, int]]:
    """Extra relu calls per plant kind and level: share x slimrlfn_x4's forward time / one call's time (ESA: one
    call per block), timed on one thread in a fresh process."""
    from sr_harness.run.process_timing import call_in_timing_process  # noqa: PLC0415

    model_ms, esa_ms, out_ms, blocks = call_in_timing_process(_probe, inputs)
    return {"shared": {s: max(1, round(s * model_ms / (blocks * esa_ms))) for s in levels},
            "single": {s: max(1, round(s * model_ms / out_ms)) for s in levels}}


def _probe(inputs: list) -> tuple[float, float, float, int]:
    import torch  # noqa: PLC0415

    from sr_harness.models import build_model  # noqa: PLC0415

    torch.set_num_threads(1)
    net = build_model(SUBJECT).eval()
    x = inputs[0]

    def cost(fn, n):
        fn()
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        return (time.thread_time() - t0) * 1e3 / n

    with torch.inference_mode():
        out = net(x)
        feat = torch.rand(1, net.conv_1.out_channels, *x.shape[-2:])
        return cost(lambda: net(x), 10), cost(lambda: torch.relu(feat), 200), \
            cost(lambda: torch.relu(out), 200), len(net.blocks())


def _trial(head_root: Path, base_root: Path, inputs: list, threshold: float, settings: dict) -> dict:
    head = base_side(head_root, "default", label=HEAD)
    base = base_side(base_root, "default", label=BASE)
    t0 = time.perf_counter()
    first, again, verdicts = measure_and_judge(head, base, inputs, threshold, settings)
    return {"seconds": round(time.perf_counter() - t0, 1), "retimed": bool(again),
            "models": {k: {"status": status, "change": ab_change(entry)[0], "z": ab_change(entry)[1],
                           "first_change": ab_change(first[k])[0], "per_process": entry["per_process"]}
                       for k, (status, entry, _) in verdicts.items()}}


def _sizes(trials: list[dict]) -> dict[tuple[str, str], float]:
    """Per (plant, model): the median over its trials of the measured head/base change."""
    changes: dict[tuple[str, str], list[float]] = {}
    for t in trials:
        for model, m in t["models"].items():
            changes.setdefault((t["plant"], model), []).append(m["change"])
    return {key: statistics.median(v) for key, v in changes.items()}


def _slowed(trial: dict, model: str) -> bool:
    return trial["kind"] == "shared" or (trial["kind"] == "single" and model == SUBJECT)


def _tally(cases: list[tuple[dict, str]], key: str) -> dict:
    statuses = [t["models"][model]["status"] for t, model in cases]
    hits = statuses.count("regressed")
    return {key: hits, "n": len(cases), "rate": hits / len(cases) if cases else None,
            "inconclusive": statuses.count(INCONCLUSIVE), "improved": statuses.count("improved"),
            "cases": [f"{t['plant']}:{model}" for t, model in cases]}


def summarize(trials: list[dict], levels: list[float]) -> dict:
    """False alarms over every unchanged (trial, model); detection per level over the slowed ones measured at
    >= 3/4 of the level (the ESA plant is tuned on slimrlfn_x4 and costs other models another share); the
    remaining slowed cases are listed with their measured size."""
    sizes = _sizes(trials)
    null = [(t, m) for t in trials for m in t["models"] if not _slowed(t, m)]
    out = {"false_alarms": _tally(null, "false_alarms"), "detection": {}, "measured_sizes": {}}
    for level in levels:
        slowed = [(t, m) for t in trials for m in t["models"] if _slowed(t, m) and t["share"] == level]
        fit = [(t, m) for t, m in slowed if sizes[(t["plant"], m)] >= 0.75 * level]
        out["detection"][f"{level:.2f}"] = {**_tally(fit, "detected"), "median_change": statistics.median(
            sizes[(t["plant"], m)] for t, m in fit) if fit else None}
    out["measured_sizes"] = {f"{plant}:{model}": round(v, 4) for (plant, model), v in sizes.items()
                             if plant != "docs"}
    return out


class Load:
    """``n`` busy processes for at most ``seconds``; stopped on exit whatever happens."""

    def __init__(self, n: int, seconds: float):
        code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]

    def __enter__(self):
        time.sleep(0.5)  # let the load start before timing
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)


def calibrate_ab(*, levels: list[float], null_trials: int, slowed_trials: int, conditions: list[str],
                 load_seconds: float, threshold: float = DEFAULT_SPEED_THRESHOLD, rounds: int = DEFAULT_AB_ROUNDS,
                 processes: int = DEFAULT_AB_PROCESSES, progress=print) -> dict:
    from sr_harness.config.build import build_config  # noqa: PLC0415
    from sr_harness.run.env import fingerprint  # noqa: PLC0415

    cfg = build_config("default")
    dataset, inputs = timing_inputs(cfg)
    settings = dict(processes=processes, rounds=rounds, warmup=cfg.protocol.warmup, threads=cfg.protocol.threads or 1)
    repeats = tune(inputs, levels)
    progress(f"plant sizes (extra relu calls): {repeats}")
    plants = [("docs", 0.0, 0)] + [(k, s, repeats[k][s]) for k in ("shared", "single") for s in levels]
    schedule = [p for p in plants for _ in range(null_trials if p[0] == "docs" else slowed_trials)]
    result = {"kind": "sr-harness-calibration", "mode": "ab", "created_utc": dt.datetime.now(dt.UTC).isoformat(),
              "env": fingerprint("cpu"), "threshold": threshold, "settings": settings,
              "inputs": {"dataset": dataset, "n": len(inputs), "hw": list(inputs[0].shape[-2:])},
              "plants": {plant_name(k, s): {"kind": k, "share": s, "extra_relu_calls": n, "file": PLANT_FILES[k]}
                         for k, s, n in plants}, "conditions": {}}
    with tempfile.TemporaryDirectory(prefix="sr-harness-calibrate-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(project_root()), str(clone)], check=True)
        base, commits = plant_commits(clone, plants)
        result["base_commit"] = base
        roots = {"base": unpack(clone, base, _mkdir(Path(tmp) / "base"))}
        for name, commit in commits.items():
            roots[name] = unpack(clone, commit, _mkdir(Path(tmp) / name))
        for condition in conditions:
            trials = []
            with Load(2, load_seconds) if condition == "loaded" else contextlib.nullcontext():
                for i, (kind, share, _) in enumerate(schedule):
                    name = plant_name(kind, share)
                    trial = _trial(roots[name], roots["base"], inputs, threshold, settings)
                    trials.append({"plant": name, "kind": kind, "share": share, **trial})
                    progress(f"{condition} {i + 1}/{len(schedule)} {name}: " + ", ".join(
                        f"{k} {m['status']} {m['change']:+.1%}" for k, m in trial["models"].items()))
            result["conditions"][condition] = {"trials": trials, **summarize(trials, levels)}
    return result


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path

