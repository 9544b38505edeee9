"""Recipe files: bundled recipes parse, unknown keys and bad values are one clear error naming file and key."""

import pytest
from test_train_support import write_images, write_recipe

from sr_harness.trainer.config import RecipeError, load_recipe


@pytest.mark.parametrize("name", ["cpu_default", "slimrlfn_factsheet", "rlfn_paper"])
def test_bundled_recipes_load(name):
    recipe = load_recipe(name)
    assert recipe.stages and recipe.models
    assert all(s.model in recipe.models for s in recipe.stages)


def test_factsheet_recipe_matches_the_factsheet():
    recipe = load_recipe("slimrlfn_factsheet")
    runs = {r.name: r for r in recipe.expanded_stages()}
    teacher = recipe.models["teacher"]
    assert teacher.name == "rlfn_teacher_x4" and not teacher.overrides  # 6 blocks x 196 channels
    assert (runs["teacher"].hr_patch, runs["teacher"].lr, runs["teacher"].t_max, runs["teacher"].epochs,
            runs["teacher"].eta_min) == (256, 1e-3, 100, 100, 1e-5)
    assert runs["student_distill"].teacher == "teacher"
    assert [n for n in runs if n.startswith("student_repeat")] == ["student_repeat", "student_repeat.2"]
    assert not runs["student_repeat.2"].teacher
    assert [runs[n].lr for n in ("patch384", "patch384.2", "patch384.3")] == [5e-4] * 3
    assert [runs[n].lr for n in ("patch512", "patch512.2", "patch512.3")] == [2.5e-4] * 3
    assert (runs["patch640"].loss, runs["patch640"].lr, runs["patch640"].eta_min) == ("l2", 1e-4, 1e-6)
    assert list(runs)[-1] == "prune" and runs["prune"].kind == "prune"
    assert {r.batch_size for r in runs.values()} == {64}


def test_unknown_key_names_file_and_key(tmp_path):
    data = write_images(tmp_path / "img")
    path = write_recipe(tmp_path / "bad.toml", data, '[[stages]]\nname = "s"\nmodel = "student"\nsteps = 2\nlearning_rate = 1\n')
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert "bad.toml" in message and "learning_rate" in message and "\n" not in message


@pytest.mark.parametrize("body, words", [
    ('[[stages]]\nmodel = "nobody"\nsteps = 2\n', "nobody"),
    ('[[stages]]\nmodel = "student"\n', "epochs or steps"),
    ('[[stages]]\nmodel = "student"\nsteps = "ten"\n', "steps must be int"),
    ('[[stages]]\nmodel = "student"\nsteps = 2\nloss = "l3"\n', "loss"),
    ('[bogus]\n', "unknown table"),
])
def test_bad_values_are_one_line(tmp_path, body, words):
    data = write_images(tmp_path / "img")
    with pytest.raises(RecipeError, match=words):
        load_recipe(write_recipe(tmp_path / "r.toml", data, body))
