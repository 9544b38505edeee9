"""The fidelity fixtures' public sources (.ci/fidelity_sources.toml) and their fetcher (.ci/fetch_fidelity.py)."""

import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FETCH = ROOT / ".ci" / "fetch_fidelity.py"
MANIFEST = tomllib.loads((ROOT / ".ci" / "fidelity_sources.toml").read_text())
PINNED = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/")


def test_every_source_is_pinned_to_a_commit_and_names_its_licence():
    files, repositories = MANIFEST["file"], MANIFEST["repository"]
    assert len(files) == 27 and len(repositories) == 2  # 7 official weights, Set5 twice (HR + LR), 2 NTIRE repos
    assert len({f["path"] for f in files}) == len(files)
    for entry in files:
        assert PINNED.match(entry["url"]) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) and entry["licence"]
    for entry in repositories:
        assert entry["url"].startswith("https://github.com/") and re.fullmatch(r"[0-9a-f]{40}", entry["commit"])


@pytest.mark.data
def test_the_listed_hashes_are_those_of_the_reference_copies(shared_dir):
    for entry in MANIFEST["file"]:
        assert hashlib.sha256((shared_dir / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    for entry in MANIFEST["repository"]:
        assert (shared_dir / entry["path"] / "test_demo.py").is_file()


def fetch(*args):
    return subprocess.run([sys.executable, str(FETCH), *map(str, args)], capture_output=True, text=True, check=False)


def test_a_file_is_put_in_place_only_with_its_hash(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "reference").mkdir(parents=True)
    good, bad = b"official weights", b"tampered weights"
    (mirror / "reference" / "a.pth").write_bytes(good)
    (mirror / "reference" / "b.pth").write_bytes(bad)
    manifest = tmp_path / "sources.toml"
    entries = [("reference/a.pth", good), ("reference/b.pth", good)]
    manifest.write_text("".join(f'[[file]]\npath = "{p}"\nurl = "https://example.invalid/{p}"\n'
                                f'sha256 = "{hashlib.sha256(b).hexdigest()}"\nlicence = "test"\n\n' for p, b in entries))
    out = tmp_path / "shared"
    result = fetch("--to", out, "--mirror", mirror, "--manifest", manifest)
    assert result.returncode == 1 and "reference/b.pth: sha256" in result.stderr and "expected" in result.stderr
    assert (out / "reference" / "a.pth").read_bytes() == good
    assert sorted(p.name for p in (out / "reference").iterdir()) == ["a.pth"]  # nothing of b, not even a temp file
    (mirror / "reference" / "b.pth").write_bytes(good)
    result = fetch("--to", out, "--mirror", mirror, "--manifest", manifest)
    assert result.returncode == 0 and "1 file(s) fetched, 1 already in place" in result.stdout
