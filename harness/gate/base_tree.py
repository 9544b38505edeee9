"""The base revision of a speed A/B: resolved in the checkout's git history and unpacked apart from the working tree.

Only what timing needs is unpacked (``git archive`` of ``models/``, the suites file and the shipped checkpoints into
a temporary folder): the base's model code is then imported under a private package name beside the working tree's,
so one process can time both. Nothing is installed and the working tree is never touched.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.errors import EXIT_NO_BASE

# The suites file moved to harness/config/ with the layered layout; older revisions have it at harness/.
SUITES_PATHS = ("harness/config/suites.toml", "harness/suites.toml")
BASE_PATHS = ("models", *SUITES_PATHS, "results/checkpoints")


class BaseRevisionError(HarnessError):
    """The base revision of the speed A/B cannot be built here; the message names the flag or command that fixes it."""

    exit_code = EXIT_NO_BASE


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary, check=False)
    except FileNotFoundError:
        raise BaseRevisionError("git not found: the speed A/B reads the base revision from the repository's "
                                "history; install git, or pass --base none to skip the speed check") from None


def resolve(repo: Path, rev: str) -> str:
    """The full commit id of ``rev``; one line saying why not (not a checkout, shallow history, unknown name)."""
    if _git(repo, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise BaseRevisionError(f"{repo} is not a git checkout: the speed A/B times the base revision {rev} from its "
                                "history; run from a clone, or pass --base none to skip the speed check")
    found = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.strip()
    shallow = _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if shallow:
        raise BaseRevisionError(f"base revision {rev} is not in this shallow clone: fetch the history "
                                "(git fetch --unshallow; in GitHub Actions: actions/checkout with fetch-depth: 0) "
                                "or pass --base REV with a commit the clone has")
    raise BaseRevisionError(f"base revision {rev!r} is not a commit of {repo}: pass --base REV with a commit, tag or "
                            "branch the repository has (default: the commit recorded in the baseline)")


def unpack(repo: Path, commit: str, dest: Path) -> Path:
    """The base's model code, suites file and shipped checkpoints under ``dest`` (which must exist)."""
    listed = _git(repo, "ls-tree", "--name-only", commit, "--", *BASE_PATHS).stdout.split()
    if "models" not in listed:
        raise BaseRevisionError(f"base revision {commit[:12]} has no models/ folder to time: pass --base REV with a "
                                "later commit")
    archive = _git(repo, "archive", "--format=tar", commit, "--", *listed, binary=True)
    if archive.returncode != 0:
        raise BaseRevisionError(f"git archive of base revision {commit[:12]} failed "
                                f"({archive.stderr.decode(errors='replace').strip()[:200]}): pass another --base REV")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def import_models(models_dir: Path, alias: str):
    """The package in ``models_dir`` imported as ``alias`` (its modules import each other relatively)."""
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(alias, models_dir / "__init__.py",
                                                  submodule_search_locations=[str(models_dir)])
    if spec is None or spec.loader is None:
        raise BaseRevisionError(f"{models_dir}: no importable models package in the base revision; pass another --base")
    package = importlib.util.module_from_spec(spec)
    sys.modules[alias] = package
    try:
        spec.loader.exec_module(package)
    except Exception:
        del sys.modules[alias]
        raise
    return package
