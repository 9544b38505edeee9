"""Runner: wires model, data and protocols into a complete record; bad input is one line naming the file."""

import dataclasses

import numpy as np
import pytest
import torch

from sr_harness.config.build import ModelEntry, ProtocolConfig, RunConfig
from sr_harness.errors import available_cpus
from sr_harness.run.data import ImagePair
from sr_harness.records.run import load_record, write_record
from sr_harness.run.runner import RunError, run
from sr_harness.run.timing import page_kind, timing_order
from sr_harness.protocols.imresize import bicubic_downscale


class TinySet:
    """In-memory dataset with the harness.data interface."""

    def __init__(self, sizes, name="tiny"):
        rng = np.random.default_rng(0)
        self.name, self.scale = name, 4
        self.pairs = []
        for i, (h, w) in enumerate(sizes):
            hr = rng.integers(0, 256, (h * 4, w * 4, 3), dtype=np.uint8)
            self.pairs.append(ImagePair(f"img{i}", bicubic_downscale(hr, 4), hr, None, None))

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)

    def describe(self):
        return {"name": self.name, "scale": 4, "n_images": len(self), "kind": "synthetic"}


def config(*models, **protocol):
    settings = {"warmup": 0, "rounds": 2, "timing_size": 24, "complexity_hw": (32, 32), **protocol}
    return RunConfig(suite=None, models=tuple(models), data=(), protocol=ProtocolConfig(**settings))


@pytest.mark.skipif(available_cpus() < 2, reason="times with 2 threads; this machine gives the process one CPU")
def test_record_has_every_section(tmp_path):
    entries = (ModelEntry("bicubic", variant="reference"), ModelEntry("slimrlfn_x4"),
               ModelEntry("rlfn_ntire_x4", checkpoint=str(tmp_path / "absent.pth"), optional=True))
    record = run(config(*entries, threads=2), datasets=[TinySet([(24, 32), (30, 30)])])
    rows = {r["model"]: r for r in record["results"]}
    assert set(rows) == {"bicubic", "slimrlfn_x4"}
    assert record["missing"][0]["model"] == "rlfn_ntire_x4" and "not found" in record["missing"][0]["reason"]
    slim = rows["slimrlfn_x4"]
    assert [p["name"] for p in slim["per_image"]] == ["img0", "img1"]
    assert slim["metrics"]["psnr_y"] == pytest.approx(np.mean([p["psnr_y"] for p in slim["per_image"]]))
    assert slim["runtime"]["mode"] == "steady" and len(slim["runtime"]["samples_ms"]) == 2 * 2
    assert slim["speed"]["reference"] == "rlfn_ntire_x4" and slim["speed"]["low"] <= slim["speed"]["high"]
    assert slim["speed"]["input_hw"] == [24, 24]  # equal-shape crops, capped by the smallest image
    # two threads: work runs off the timing thread, so the wall clock
    assert slim["speed"]["clock"] == "wall"
    assert slim["complexity"]["params"] == 207774 and slim["complexity"]["input_hw"] in ([32, 32], (32, 32))
    assert rows["bicubic"]["runtime"] is None and rows["bicubic"]["metrics"]["psnr_y"] > 0
    assert record["env"]["torch"] and "commit" in record["env"]["git"]
    path = write_record(record, tmp_path / "r.json")
    assert load_record(path)["results"][1]["per_image"][0]["name"] == "img0"


def test_one_thread_takes_speed_ratios_on_thread_cpu_time_and_ntire_mode_on_the_wall():
    steady = run(config(ModelEntry("slimrlfn_x4"), threads=1), datasets=[TinySet([(24, 24)])])["results"][0]
    ntire = run(config(ModelEntry("slimrlfn_x4"), threads=1, runtime_mode="ntire"),
                datasets=[TinySet([(24, 24)])])["results"][0]
    assert steady["speed"]["clock"] == "thread CPU time" and len(steady["runtime"]["cpu_samples_ms"]) == 2
    assert ntire["speed"]["clock"] == "wall"  # the organizers time the wall


def test_steady_timing_in_fresh_processes_pairs_every_process_and_keeps_the_run_in_process():
    entries = (ModelEntry("slimrlfn_x4"), ModelEntry("rlfn_ntire_x4"))
    record = run(config(*entries, threads=1, rounds=3, timing_processes=2), datasets=[TinySet([(24, 24), (26, 30)])])
    slim, rlfn = record["results"]
    assert slim["runtime"]["processes"] == 2 and slim["speed"]["processes"] == 2
    assert slim["runtime"]["repeats"] == 3 and slim["runtime"]["n"] == 3 * 2  # rounds split 2 + 1 over 2 inputs
    assert slim["runtime"]["input_index"] == [0, 1] * 3 and slim["speed"]["n_pairs"] == 6
    assert slim["timing_input"]["processes"] == 2
    # the children built the run's models: the reference in the run is its own row, timed beside itself
    assert rlfn["speed"]["n_pairs"] == 6 and rlfn["speed"]["clock"] == "thread CPU time"
    # each child says how much of it the kernel put in huge pages; the speed entry names the kind
    assert len(slim["runtime"]["huge_pages_mib"]) == 2
    huge = [bool(m) for m in slim["runtime"]["huge_pages_mib"]]
    assert slim["speed"]["pages"] == ("huge" if all(huge) else "mixed" if any(huge) else "regular")
    if huge_pages_expected():
        assert slim["speed"]["pages"] == "huge" and min(slim["runtime"]["huge_pages_mib"]) > 0
    # the gate's replicates: one ratio per process (per_process_ratios below), and the reference's own time
    assert len(slim["speed"]["per_process"]) == 2 and min(slim["speed"]["per_process"]) > 0
    assert rlfn["speed"]["reference_clock_ms"] == slim["speed"]["reference_clock_ms"] > 0


def test_per_process_ratios_follow_the_rounds_each_process_timed():
    from sr_harness.run.timing import per_process_ratios

    model = [2.0, 2.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0]  # 4 rounds x 2 inputs over 3 processes: 2 + 1 + 1 rounds
    reference = [1.0] * 8
    assert per_process_ratios(model, reference, rounds=4, processes=3) == [3.0, 4.0, 3.0]
    assert per_process_ratios(model, reference, rounds=4, processes=1) == [3.5]


def huge_pages_expected() -> bool:
    """Linux with glibc >= 2.35 (the malloc tunable) and transparent huge pages not switched off."""
    import platform
    from pathlib import Path

    libc, version = platform.libc_ver()
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return (libc == "glibc" and tuple(map(int, version.split(".")[:2])) >= (2, 35) and thp.is_file()
            and "[never]" not in thp.read_text())


def test_timing_processes_ask_for_huge_pages_and_leave_this_processs_environment_as_it_was(monkeypatch):
    import os

    from sr_harness.run.process_timing import HUGE_PAGE_MALLOC, call_in_timing_process

    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert call_in_timing_process(os.getenv, "GLIBC_TUNABLES") == HUGE_PAGE_MALLOC
    assert "GLIBC_TUNABLES" not in os.environ
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")  # a user's own tunables are kept
    assert call_in_timing_process(os.getenv, "GLIBC_TUNABLES") == f"glibc.malloc.arena_max=2:{HUGE_PAGE_MALLOC}"
    assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"


def test_page_kind_is_huge_only_when_every_process_had_huge_pages():
    assert page_kind([96.0, 94.0]) == "huge"
    assert page_kind([96.0, 0.0]) == "mixed"
    assert page_kind([0.0, None]) == page_kind([]) == "regular"


def test_too_small_input_names_the_image():
    small = TinySet([(24, 24), (12, 20)])
    with pytest.raises(RunError, match=r"^tiny:img1: .*15"):
        run(config(ModelEntry("slimrlfn_x4")), datasets=[small])


def test_ntire_mode_times_full_images_once_each():
    record = run(config(ModelEntry("slimrlfn_x4"), runtime_mode="ntire"), datasets=[TinySet([(20, 24), (24, 20)])])
    rt = record["results"][0]["runtime"]
    assert rt["mode"] == "ntire" and rt["n"] == 2 and record["results"][0]["speed"]["n_pairs"] == 2
    assert rt["cold"] is True and rt["source"] == "quality pass" and rt["ntire_comparable"] is False  # CPU


def test_ntire_mode_first_sample_is_the_models_first_forward():
    """Every forward of each network, in call order, seen by a global hook (independent of the runner)."""
    import torch

    calls = []

    def log(module, args):
        name = getattr(module, "model_name", None)
        if name is not None:
            calls.append((name, tuple(args[0].shape[-2:])))

    sizes = [(20, 24), (24, 20), (22, 22)]
    handle = torch.nn.modules.module.register_module_forward_pre_hook(log)
    try:
        record = run(config(ModelEntry("slimrlfn_x4"), ModelEntry("rlfn_s_x4"), runtime_mode="ntire"),
                     datasets=[TinySet(sizes), TinySet([(20, 20)], name="second")])
    finally:
        handle.remove()
    for name in ("slimrlfn_x4", "rlfn_s_x4"):
        mine = [shape for who, shape in calls if who == name]
        assert mine[:4] == [*sizes, (20, 20)]  # the dataset images in order come before any other forward
        assert len(mine) > 4  # complexity counting (and nothing else timed) only afterwards
    rows = {(r["model"], r["dataset"]): r for r in record["results"]}
    first, second = rows[("slimrlfn_x4", "tiny")]["runtime"], rows[("slimrlfn_x4", "second")]["runtime"]
    assert first["n"] == 3 and first["cold"] is True and second["cold"] is False
    assert first["mean_ms"] == pytest.approx(sum(first["samples_ms"]) / 3)  # the mean includes the first image
    reference = [shape for who, shape in calls if who == "rlfn_ntire_x4"]
    assert reference[:3] == sizes  # the reference (not a row) gets its own cold pass over the same images


def test_project_checkpoints_are_picked_up_when_they_exist(tmp_path):
    from sr_harness.config.build import build_config
    from sr_harness.models import build_model, save_model

    suites = tmp_path / "suites.toml"
    ckpt = tmp_path / "slimrlfn_x4.pth"
    suites.write_text(f'[s]\ndata = ["embedded"]\n[[s.models]]\nname = "slimrlfn_x4"\ncheckpoint = "{ckpt}"\n'
                      'optional = true\nvariant = "project"\n')
    assert build_config("s", suites_file=suites).models[0].checkpoint == str(ckpt)
    info = save_model(build_model("slimrlfn_x4"), ckpt)
    cfg = dataclasses.replace(build_config("s", suites_file=suites), protocol=config().protocol)
    record = run(cfg, datasets=[TinySet([(20, 20)])])
    assert record["missing"] == [] and record["results"][0]["checkpoint"]["sha256"] == info.sha256



def test_the_speed_reference_is_timed_half_a_rotation_from_its_own_row():
    assert timing_order(["rlfn", "unfused", "slim", "prune"], "rlfn", "ref") == ["rlfn", "unfused", "ref", "slim",
                                                                                   "prune"]
    assert timing_order(["slim", "rlfn"], "rlfn", "ref") == ["rlfn", "ref", "slim"]
    assert timing_order(["slim", "prune"], None, "ref") == ["slim", "prune", "ref"]
    for n in range(1, 8):  # never next to each other in the cycle the rotation repeats
        keys = [f"m{i}" for i in range(n)]
        order = timing_order(keys, "m0", "ref")
        gap = abs(order.index("ref") - order.index("m0"))
        assert sorted(order) == sorted([*keys, "ref"]) and (n < 3 or min(gap, n + 1 - gap) > 1)  # 3 in a cycle: all adjacent
