"""The options that shape an evaluation, declared once: ``RunOptions``' fields build eval's parser, are what
``build_config`` takes, and turn back into a command line for the fresh processes of ``--ntire-runs``.

Each field's metadata is its command-line flag and argparse settings. ``names`` and ``external`` come from the
``--model FILE.py:Class`` group (``cli.eval``), whose options follow the --model they belong to.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass, field

from sr_harness.config.shards import shard_spec
from sr_harness.config.types import SUITES_FILE
from sr_harness.errors import gibibytes, positive_int, seconds, thread_count


def comma_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _opt(flag: str, help: str, **argparse_settings) -> dict:
    return {"flag": flag, "help": help, **argparse_settings}


@dataclass(frozen=True)
class RunOptions:
    suite: str | None = field(default=None, metadata=_opt(
        "--suite", "suite from harness/config/suites.toml (default, official, ntire2024), or of --suite-file"))
    suites_file: str | os.PathLike = field(default=SUITES_FILE, metadata=_opt(
        "--suite-file", "your own suites file, in the format of harness/config/suites.toml; model tables may also "
        "name a class (source = 'net.py:Net', weights, data_range, ...) or an NTIRE team (ntire_repo, team); a "
        "file with one suite needs no --suite", metavar="TOML"))
    models: list[str] | None = field(default=None, metadata=_opt(
        "--models", "comma-separated registry names, 'bicubic', or paths to checkpoint files", type=comma_list))
    names: list[str] | None = None  # --name without --model: labels for --models, in order
    external: list[dict] | None = None  # the --model FILE.py:Class group
    ntire_repo: str | None = field(default=None, metadata=_opt(
        "--ntire-repo", "an NTIRE ESR challenge repository (test_demo.py, models/, model_zoo/): its teams are built "
        "by the organizers' own select_model, nothing in DIR is changed", metavar="DIR"))
    teams: list[str] | None = field(default=None, metadata=_opt(
        "--team", "with --ntire-repo: team ids (as select_model numbers them), or 'all'", metavar="N[,M...]",
        type=comma_list))
    trust_repo: bool = field(default=False, metadata=_opt(
        "--trust-repo", "with --ntire-repo: also load whole pickled modules stored inside DIR (unpickling runs code "
        "from those files; its Python scripts run anyway). Without it only tensors load (weights_only)",
        action="store_true"))
    fused: bool = field(default=False, metadata=_opt(
        "--fused", "a model with a fold method (switch_to_deploy, reparameterize, fuse, fuse_model: --model and "
        "--team networks, the project's unfused form) is also evaluated folded, as a row <label>_fused",
        action="store_true"))
    data: list[str] | None = field(default=None, metadata=_opt(
        "--data", "dataset folder, or 'embedded' (repeatable)", action="append"))
    weights_dir: str | None = field(default=None, metadata=_opt(
        "--weights-dir", "folder with official <model>.pth files (or SR_WEIGHTS_DIR)"))
    device: str | None = field(default=None, metadata=_opt("--device", "cpu or cuda", choices=("cpu", "cuda")))
    runtime_mode: str | None = field(default=None, metadata=_opt(
        "--runtime-mode", "ntire (the organizers' pass) or steady (interleaved rounds)", choices=("ntire", "steady")))
    rounds: int | None = field(default=None, metadata=_opt(
        "--rounds", "timed rounds per model (steady timing)", type=positive_int))
    warmup: int | None = field(default=None, metadata=_opt("--warmup", "untimed rounds per model", type=int))
    timing_size: int | None = field(default=None, metadata=_opt(
        "--timing-size", "LR side of the steady-timing crops", type=int))
    timing_processes: int | None = field(default=None, metadata=_opt(
        "--timing-processes", "split the steady rounds over N fresh processes (default: the suite's; at most "
        "--rounds)", type=positive_int, metavar="N"))
    for_baseline: bool = field(default=False, metadata=_opt(
        "--for-baseline", "time a run that is to become the baseline: rounds and timing processes x the suite's "
        "baseline_timing (default suite: 3, 180 rounds in 18 processes; README: regression check)",
        action="store_true"))
    threads: int | None = field(default=None, metadata=_opt(
        "--threads", "torch CPU threads (overrides the suite's; recorded in the fingerprint)", type=thread_count))
    extra_metrics: list[str] | None = field(default=None, metadata=_opt(
        "--metric", "also compute an optional metric (ssim_rgb: the NTIRE script's --ssim, mean SSIM over R, G, "
        "B); repeatable", action="append", metavar="NAME"))
    isolation: str | None = field(default=None, metadata=_opt(
        "--isolation", "where foreign entries (--model, source = models, NTIRE teams) run: process (default: each in "
        "its own, under the limits below) or none (in this process, fastest, one bad entry can end the run)",
        choices=["process", "none"]))
    entry_time_limit: float | None = field(default=None, metadata=_opt(
        "--entry-time-limit", "seconds a foreign entry's process may run (default 900)", type=seconds,
        metavar="S"))
    entry_memory_limit: float | None = field(default=None, metadata=_opt(
        "--entry-memory-limit", "address space a foreign entry's process may map, GiB (default 12)",
        type=gibibytes, metavar="GIB"))
    shard: str | None = field(default=None, metadata=_opt(
        "--shard", "run only slice K of N of the (entry, dataset) pairs, deterministically (join the shard records "
        "with `sr-harness merge`)", type=shard_spec, metavar="K/N"))
    max_pixels: int | None = field(default=None, metadata=_opt(
        "--max-pixels", "refuse images with more pixels than this (default 36,000,000), checked before decoding",
        type=positive_int))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for f in dataclasses.fields(cls):
            if f.metadata:
                settings = {k: v for k, v in f.metadata.items() if k != "flag"}
                parser.add_argument(f.metadata["flag"], dest=f.name, default=None, **settings)

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> RunOptions:
        given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.metadata}
        given = {k: v for k, v in given.items() if v is not None}
        label = getattr(args, "name", None)
        return cls(**given, names=label.split(",") if label is not None else None,
                   external=getattr(args, "external", None))

    def to_argv(self) -> list[str]:
        """The command line that gives these options back (for a child process running the same evaluation)."""
        argv = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not f.metadata or value is None or value is False or value == f.default:
                continue
            flag = f.metadata["flag"]
            if f.metadata.get("action") == "store_true":
                argv.append(flag)
            elif f.metadata.get("action") == "append":
                argv += [part for item in value for part in (flag, str(item))]
            elif f.metadata.get("type") is comma_list:
                argv += [flag, ",".join(value)]
            else:
                argv += [flag, str(value)]
        if self.names is not None:
            argv += ["--name", ",".join(self.names)]
        for model in self.external or ():
            argv += _external_argv(model)
        return argv


# The --model FILE.py:Class group: key in the model's dict -> (flag, metavar, help); the options after --model
# belong to it. cli.eval adds them to the parser, to_argv writes them back.
EXTERNAL_OPTIONS = {
    "label": ("--name", None, "after --model: its row label; else comma-separated row labels for --models, in order "
              "(an empty item keeps the default)"),
    "source": ("--model", "FILE.py:Class", "a network class from any source file, as it is (repeatable; the options "
               "below follow it)"),
    "weights": ("--weights", "PTH", "after --model: its state dict, loaded strict (weights_only)"),
    "state_key": ("--state-key", "KEY", "after --model: the nested state dict to load (params, params_ema, "
                  "state_dict)"),
    "data_range": ("--data-range", "1|255", "after --model: input range the network expects (default 1)"),
    "scale": ("--scale", "N", "after --model: its upscaling factor (default 4)"),
    "args": ("--model-args", "JSON", "after --model: constructor keyword arguments, e.g. "
             "'{\"feature_channels\": 52}'"),
}


def _external_argv(model: dict) -> list[str]:
    argv = ["--model", model["source"]]
    for key, (flag, _, _) in EXTERNAL_OPTIONS.items():
        if key == "source":
            continue
        if key in model:
            value = model[key]
            text = json.dumps(value) if key == "args" else str(int(value) if key == "data_range" else value)
            argv += [flag, text]
    return argv
