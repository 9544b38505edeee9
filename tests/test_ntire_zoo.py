"""--ntire-repo: every NTIRE 2022 and 2024 ESR team the organizers' select_model builds here, judged by the
harness, equals what the organizers' own code gives for the same team (their utils_image pipeline, model_summary,
fvcore; 2022's FLOPs by its own model_summary.get_model_flops)."""

import contextlib
import importlib
import importlib.util
import math
import os
import re
import sys
import types
from pathlib import Path
import warnings

import pytest
import torch
from sr_harness.config.build import ConfigError, build_config
from sr_harness.models.cuda_redirect import redirected
from sr_harness.run.runner import run

pytestmark = [pytest.mark.data, pytest.mark.slow]

FOREIGN = ("models", "utils", "torchvision")


# What each repository's zoo is known to hold on a CPU-only machine: teams that must be rows, and teams that
# cannot be built with a word of their reason.
EXPECTED = {
    "NTIRE2024_ESR": {"rows": (0, 21, 23, 38, 39), "missing": {48: "team48_EfficientSRGAN_update.pth"}},
    "NTIRE2022_ESR": {"rows": (-1, 0, 4, 15), "missing": {}},
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def repo(shared_dir, request):
    return shared_dir / "third_party" / request.param


@pytest.fixture(scope="module")
def organizers(repo):
    """The organizers' test_demo.py imported as it is, from its folder. Stand-ins for this CPU-only machine only:
    torch.load maps to the CPU, and torchvision.utils.make_grid (imported by utils_image, never called by the
    evaluation) raises if it is ever called."""
    pytest.importorskip("cv2", reason="the organizers' utils_image needs OpenCV (the test extra installs it)")
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in FOREIGN}
    for name in saved:
        del sys.modules[name]
    if importlib.util.find_spec("torchvision") is None:
        vision = types.ModuleType("torchvision")
        vision.utils = types.ModuleType("torchvision.utils")
        vision.utils.make_grid = lambda *a, **k: (_ for _ in ()).throw(NotImplementedError("stand-in"))
        sys.modules["torchvision"], sys.modules["torchvision.utils"] = vision, vision.utils
    cwd, load = os.getcwd(), torch.load
    torch.load = lambda *a, **k: load(*a, **{"map_location": "cpu", **k})
    saved_path = list(sys.path)  # a checkout's own models/ (a regular package) would win over theirs (a namespace one)
    sys.path[:] = [str(repo), *(p for p in saved_path if not os.path.isfile(os.path.join(p or ".", "models",
                                                                                            "__init__.py")))]
    os.chdir(repo)
    try:
        spec = importlib.util.spec_from_file_location("organizers_test_demo", repo / "test_demo.py")
        demo = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # their imports' deprecation notices
            spec.loader.exec_module(demo)
        yield demo, importlib.import_module("utils.model_summary")
    finally:
        os.chdir(cwd)
        torch.load = load
        sys.path[:] = saved_path
        for name in [k for k in sys.modules if k.split(".")[0] in FOREIGN]:
            del sys.modules[name]
        sys.modules.update(saved)


def _organizers_team(demo, team):
    """Their select_model's result and whether it needed .cuda() sent to the CPU; None where it cannot build."""
    for redirect in (False, True):
        try:
            with warnings.catch_warnings(), redirected("cpu") if redirect else contextlib.nullcontext():
                warnings.simplefilter("ignore")
                return demo.select_model(types.SimpleNamespace(model_id=team), torch.device("cpu")), redirect
        except Exception:  # noqa: BLE001  (a team their code cannot build here)
            continue
    return None, False


def _organizers_psnr(demo, built, set5, team):
    model, _, data_range, tile = built
    util, forward = demo.util, getattr(demo, f"forward_team{team:02}", demo.forward)
    out = {}
    for hr_path in sorted((set5 / "HR").glob("*.png")):
        lr = util.uint2tensor4(util.imread_uint(str(set5 / "LR_bicubic_X4" / hr_path.name), n_channels=3), data_range)
        with torch.no_grad():
            sr = util.tensor2uint(forward(lr, model, tile), data_range)
        hr = util.modcrop(util.imread_uint(str(hr_path), n_channels=3).squeeze(), 4)
        out[hr_path.stem] = util.calculate_psnr(sr, hr, border=4)
    return out


@pytest.fixture(scope="module")
def zoo_record(repo, shared_dir):
    cfg = build_config("ntire-zoo", ntire_repo=str(repo), data=[str(shared_dir / "datasets" / "Set5")],
                       rounds=1, warmup=0, timing_size=32, isolation="none")
    assert cfg.headline == "psnr_rgb" and len(cfg.models) == len(_ids(repo))  # the named suite: every team
    return run(cfg)


def test_every_team_is_a_row_or_listed_with_its_reason(zoo_record, repo):
    rows = {r["model"]: r for r in zoo_record["results"]}
    missing = {m["model"]: m["reason"] for m in zoo_record["missing"]}
    expected = EXPECTED[repo.name]
    assert {f"team{t:02}" for t in expected["rows"]} <= set(rows)
    for team, words in expected["missing"].items():
        assert words in missing[f"team{team:02}"]
    assert set(rows) | set(missing) == {f"team{t:02}" for t in _ids(repo)}
    assert not set(rows) & set(missing)
    assert all(reason and "\n" not in reason for reason in missing.values())


def _counts_with_model_summary(script) -> bool:
    """Whether the script calls get_model_flops on a line that is not a comment (2022 does, 2024 commented it)."""
    lines = Path(script).read_text(encoding="utf-8").splitlines()
    return any("get_model_flops(" in line and not line.strip().startswith(("#", "from", "def")) for line in lines)


def _ids(repo):
    """Every id the script's select_model compares model_id with, read as text (negative ones included)."""
    return {int(i) for i in re.findall(r"model_id == (-?\d+)", (repo / "test_demo.py").read_text())}


def test_built_teams_equal_the_organizers_own_numbers(zoo_record, organizers, shared_dir):
    demo, summary = organizers
    from fvcore.nn import FlopCountAnalysis  # noqa: PLC0415

    rows = {r["model"]: r for r in zoo_record["results"]}
    built_by_organizers, redirected_by_organizers = {}, set()
    for key in sorted(rows) + [m["model"] for m in zoo_record["missing"]]:
        built, redirect = _organizers_team(demo, int(key.removeprefix("team")))
        built_by_organizers[key] = built is not None
        if redirect:
            redirected_by_organizers.add(key)
        if built is None or key not in rows:
            continue
        row, team, model = rows[key], int(key.removeprefix("team")), built[0]
        assert row["arch"] == built[1] and row["checkpoint"]["data_range"] == built[2]
        theirs = _organizers_psnr(demo, built, shared_dir / "datasets" / "Set5", team)
        ours = {p["name"]: p["psnr_rgb"] for p in row["per_image"]}
        assert ours.keys() == theirs.keys(), key
        for name, value in theirs.items():
            assert math.isclose(ours[name], value, abs_tol=1e-9), (key, name, ours[name], value)
        activations, convs = summary.get_model_activation(model, (3, 256, 256))
        with torch.no_grad():
            flops = FlopCountAnalysis(model, torch.rand(1, 3, 256, 256)).unsupported_ops_warnings(False) \
                .uncalled_modules_warnings(False).total()
        complexity = row["complexity"]
        assert complexity["params"] == sum(p.numel() for p in model.parameters()), key
        assert complexity["convs"] == convs, key
        assert complexity["activations_m"] == pytest.approx(activations / 1e6, abs=1e-12), key
        assert complexity["flops_g"] == pytest.approx(flops / 1e9, abs=1e-12), key
        if _counts_with_model_summary(demo.__file__):
            own = demo.get_model_flops(model, (3, 256, 256), False)  # 2022: the counter its script calls
            assert complexity["flops_g_own"] == pytest.approx(own / 1e9, abs=1e-12), key
        else:
            assert complexity["flops_g_own"] is None, key
    # the harness builds exactly the teams the organizers' code builds here, with .cuda() sent to the CPU where
    # their code calls it, and says which
    assert {k for k, ok in built_by_organizers.items() if ok} == set(rows)
    assert {k for k, r in rows.items() if r["checkpoint"]["cuda_redirected"]} == redirected_by_organizers


@pytest.fixture(scope="module")
def repo2024(shared_dir):
    return shared_dir / "third_party" / "NTIRE2024_ESR"


def test_team_options_are_checked_before_any_work(repo2024, tmp_path):
    repo = repo2024
    chosen = build_config("ntire2024-zoo", ntire_repo=str(repo), teams=["21", "0"], data=["embedded"])
    assert [m.key for m in chosen.models] == ["team21", "team00"]
    with pytest.raises(ConfigError, match="go together"):
        build_config(ntire_repo=str(repo), data=["embedded"])
    with pytest.raises(ConfigError, match="has no such team"):
        build_config(ntire_repo=str(repo), teams=["2"], data=["embedded"])
    with pytest.raises(ConfigError, match="test_demo.py: not found"):
        build_config(ntire_repo=str(tmp_path), teams=["0"], data=["embedded"])


def test_a_suite_file_can_name_teams(repo2024, tmp_path):
    repo = repo2024
    suite = tmp_path / "zoo.toml"
    suite.write_text(f'[zoo]\ndata = ["embedded"]\n[[zoo.models]]\nntire_repo = "{repo}"\nteam = 21\n'
                     '[[zoo.models]]\nntire_repo = "' + str(repo) + '"\nteam = 0\nlabel = "baseline"\n')
    cfg = build_config(suites_file=suite)
    assert [(m.key, m.external["team"]) for m in cfg.models] == [("team21", 21), ("baseline", 0)]
    suite.write_text(suite.read_text().replace("team = 0", "team = 0\nweights = 'x.pth'"))
    with pytest.raises(ConfigError, match="unknown key.*'weights'"):
        build_config(suites_file=suite)
