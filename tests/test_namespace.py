"""Installed, the project is one package (sr_harness): a user's own models/, protocols/ or utils/ neither shadows it
nor is shadowed by it."""

import subprocess
import sys

import pytest


@pytest.fixture
def foreign_repo(tmp_path):
    for package in ("models", "protocols", "utils", "harness"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"raise ImportError('the user repository {package}')\n")
    return tmp_path


def _cli(cwd, *argv):
    return subprocess.run([sys.executable, "-m", "sr_harness", *argv], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=300)


def test_list_works_inside_a_repository_with_its_own_packages(foreign_repo):
    done = _cli(foreign_repo, "list")
    assert done.returncode == 0, done.stderr
    assert "rlfn_x4" in done.stdout


def test_the_project_does_not_install_top_level_models_or_protocols(foreign_repo):
    code = ("import importlib.util as u, sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
            "print([n for n in ('models', 'protocols') if u.find_spec(n)])")
    done = subprocess.run([sys.executable, "-c", code], cwd=foreign_repo.parent, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.data
def test_list_and_eval_inside_the_organizers_repository(shared_dir, tmp_path):
    repo = shared_dir / "third_party" / "NTIRE2024_ESR"
    assert (repo / "models").is_dir() and (repo / "utils").is_dir()
    assert _cli(repo, "list").returncode == 0
    out = tmp_path / "r.json"
    done = _cli(repo, "eval", "--models", "bicubic", "--data", str(shared_dir / "datasets" / "Set5"),
                "--rounds", "1", "--warmup", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["list"], ["eval", "--help"]])
def test_help_version_and_list_start_without_torch(argv, tmp_path):
    code = ("import runpy, sys; sys.argv = ['sr-harness', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('sr_harness', run_name='__main__')\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "heavy = sorted(m for m in ('torch', 'fvcore', 'skimage', 'matplotlib') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("HEAVY []"), done.stdout[-300:]
