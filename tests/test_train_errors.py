"""Bad input: one clear line, a non-zero exit, and the last good checkpoint never lost."""

import errno

import pytest
import torch
from test_train_support import write_images, write_recipe

from sr_harness import models
from sr_harness.errors import EXIT_USAGE as EXIT_ERROR
from sr_harness.trainer import checkpointing
from sr_harness.trainer.cli import main
from sr_harness.trainer.config import load_recipe
from sr_harness.trainer.stages import RecipeRun

STAGE = '[[stages]]\nname = "s"\nmodel = "student"\nsteps = 6\n'


def fails(argv, capsys) -> str:
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def train_argv(recipe, out, *extra):
    return ["train", "--recipe", str(recipe), "--out", str(out), "--device", "cpu", "--no-progress", *extra]


@pytest.fixture()
def recipe(tmp_path):
    return write_recipe(tmp_path / "r.toml", write_images(tmp_path / "img"), STAGE)


def test_missing_data_folder(tmp_path, recipe, capsys):
    err = fails(train_argv(recipe, tmp_path / "out", "--data", str(tmp_path / "nowhere")), capsys)
    assert "nowhere" in err


def test_empty_data_folder(tmp_path, recipe, capsys):
    (tmp_path / "empty").mkdir()
    err = fails(train_argv(recipe, tmp_path / "out", "--data", str(tmp_path / "empty")), capsys)
    assert "empty" in err


@pytest.mark.parametrize("spec", ["embedded:eval", "embedded", "embedded:"])
def test_eval_images_are_refused(tmp_path, recipe, capsys, spec):
    assert "never used" in fails(train_argv(recipe, tmp_path / "out", "--data", spec), capsys)


def test_patch_larger_than_image(tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.toml", write_images(tmp_path / "img", size=64),
                          STAGE + "hr_patch = 128\n")
    err = fails(train_argv(recipe, tmp_path / "out"), capsys)
    assert "img0" in err and "hr_patch" in err


def test_teacher_checkpoint_for_the_wrong_architecture(tmp_path, capsys):
    wrong = tmp_path / "wrong.pth"
    models.save_model(models.build_model("slimrlfn_x4"), wrong)
    stage = ('[[stages]]\nname = "d"\nmodel = "student"\nteacher = "teacher"\nsteps = 2\n')
    recipe = write_recipe(tmp_path / "r.toml", write_images(tmp_path / "img"), stage)
    text = recipe.read_text().replace('name = "rlfn_teacher_x4"', f'name = "rlfn_teacher_x4"\ncheckpoint = "{wrong}"')
    recipe.write_text(text)
    err = fails(train_argv(recipe, tmp_path / "out"), capsys)
    assert "wrong.pth" in err


def test_unwritable_checkpoint_folder(tmp_path, recipe, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = fails(train_argv(recipe, blocker / "out"), capsys)
    assert "a-file" in err and "--out" in err


def test_full_disk_keeps_the_last_good_checkpoint(tmp_path, recipe, monkeypatch, capsys):
    saves = []
    real_save = torch.save

    def save_then_fill_disk(obj, handle, *args, **kwargs):
        saves.append(1)
        if len(saves) > 1:
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpointing.torch, "save", save_then_fill_disk)
    err = fails(train_argv(recipe, tmp_path / "out") + ["--threads", "1"], capsys)
    assert "No space left" in err and "previous one is kept" in err
    monkeypatch.undo()
    state = torch.load(tmp_path / "out" / "state.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 3  # the first checkpoint survives the failed second write
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == []
    # and the run resumes from it
    runner = RecipeRun(load_recipe(recipe), out=tmp_path / "out", device="cpu", progress=False, resume=True)
    runner.run()
    assert runner.finished["runs"]["s"]["steps"] == 6


def test_damaged_progress_file_on_resume(tmp_path, recipe, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "progress.json").write_text('{"recipe": "r", "runs": {')
    err = fails(train_argv(recipe, out, "--resume"), capsys)
    assert "progress.json" in err and "--out" in err


def test_resume_with_another_recipe_is_refused_and_changes_nothing(tmp_path, recipe, capsys):
    out = tmp_path / "out"
    assert main(train_argv(recipe, out, "--max-steps", "4", "--threads", "1")) == 3  # stopped, state.pt kept
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = write_recipe(tmp_path / "other.toml", tmp_path / "img", STAGE.replace("steps = 6", "steps = 9"))
    err = fails(train_argv(other, out, "--resume"), capsys)
    assert "another recipe" in err and "recipe hash" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_torch_save_runtime_error_on_a_full_disk_is_one_line(tmp_path, recipe, monkeypatch, capsys):
    def full(obj, handle, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpointing.torch, "save", full)
    err = fails(train_argv(recipe, tmp_path / "out", "--threads", "1"), capsys)
    assert "state.pt" in err and "failed writing file" in err


def test_state_with_the_right_tag_and_wrong_contents(tmp_path, recipe, capsys):
    out = tmp_path / "out"
    assert main(train_argv(recipe, out, "--max-steps", "4", "--threads", "1")) == 3
    capsys.readouterr()
    state = torch.load(out / "state.pt", weights_only=True)
    state["model"] = {"x": torch.zeros(2)}
    torch.save(state, out / "state.pt")
    err = fails(train_argv(recipe, out, "--resume"), capsys)
    assert "state.pt" in err and "does not fit" in err
    state["model"] = "not a dict"
    torch.save(state, out / "state.pt")
    assert "damaged training state" in fails(train_argv(recipe, out, "--resume"), capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only torch")
def test_cuda_on_a_cpu_only_torch(tmp_path, recipe, capsys):
    argv = ["train", "--recipe", str(recipe), "--out", str(tmp_path / "out"), "--device", "cuda", "--no-progress"]
    assert "sees no CUDA device" in fails(argv, capsys)


def test_a_training_image_equal_to_an_evaluation_image_is_an_error(tmp_path, capsys):
    data = write_images(tmp_path / "img")
    evaluation = tmp_path / "eval" / "HR"
    evaluation.mkdir(parents=True)
    (evaluation / "copy.png").write_bytes((data / "img1.png").read_bytes())
    recipe = write_recipe(tmp_path / "r.toml", data, STAGE)
    recipe.write_text(recipe.read_text().replace("num_workers = 0", f'num_workers = 0\nexclude = ["{evaluation.parent}"]'))
    err = fails(train_argv(recipe, tmp_path / "out"), capsys)
    assert "img1.png" in err and "copy.png" in err
