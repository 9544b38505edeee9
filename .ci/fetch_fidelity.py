#!/usr/bin/env python3
"""Fetch the fidelity tests' reference files from their public sources into a ../shared-like folder.

    python .ci/fetch_fidelity.py --to DIR            # then: SR_SHARED_DIR=DIR tox
    python .ci/fetch_fidelity.py --to DIR --mirror ../shared   # the same checks, bytes read from a local copy

Each file is checked against the sha256 in .ci/fidelity_sources.toml before it is put in place (a mismatch
leaves nothing behind and exits 1); each repository is checked out at its pinned commit. Standard library only,
so it runs before anything is installed. Only the GitHub workflow calls it: a default `tox` run downloads nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

MANIFEST = Path(__file__).with_name("fidelity_sources.toml")
MAX_BYTES = 64 << 20  # the largest listed file is 2.2 MB


class FetchError(Exception):
    pass


def _read(entry: dict, mirror: Path | None) -> bytes:
    if mirror is not None:
        return (mirror / entry["path"]).read_bytes()
    with urllib.request.urlopen(entry["url"], timeout=60) as response:  # noqa: S310  (https URLs from the manifest)
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FetchError(f"{entry['url']}: larger than {MAX_BYTES} bytes")
    return data


def fetch_file(entry: dict, to: Path, mirror: Path | None) -> bool:
    """Put one file in place after checking its sha256; False when it was already there with that hash."""
    target = to / entry["path"]
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"]:
        return False
    data = _read(entry, mirror)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise FetchError(f"{entry['path']}: sha256 {digest} from {entry['url']}, expected {entry['sha256']}; "
                         "the source changed: check it and update .ci/fidelity_sources.toml")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return True


def fetch_repository(entry: dict, to: Path, mirror: Path | None) -> None:
    target = to / entry["path"]
    if mirror is not None:
        if not target.exists():
            shutil.copytree(mirror / entry["path"], target, ignore=shutil.ignore_patterns("__pycache__"))
        return
    if not target.exists():
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", entry["url"], str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", entry["commit"]], check=True)
    head = subprocess.run(["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if head != entry["commit"]:
        raise FetchError(f"{entry['path']}: at {head}, expected commit {entry['commit']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=Path, required=True, help="folder to fill (the SR_SHARED_DIR of the tests)")
    parser.add_argument("--mirror", type=Path, help="read the bytes from this local copy instead of the URLs")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)
    try:
        manifest = tomllib.loads(args.manifest.read_text(encoding="utf-8"))
        fetched = sum(fetch_file(entry, args.to, args.mirror) for entry in manifest.get("file", []))
        for entry in manifest.get("repository", []):
            fetch_repository(entry, args.to, args.mirror)
    except (FetchError, OSError, tomllib.TOMLDecodeError, subprocess.CalledProcessError, KeyError) as exc:
        print(f"fetch_fidelity: {exc}", file=sys.stderr)
        return 1
    print(f"{args.to}: {fetched} file(s) fetched, {len(manifest.get('file', [])) - fetched} already in place, "
          f"{len(manifest.get('repository', []))} repositories at their commits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
