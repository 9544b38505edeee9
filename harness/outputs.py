"""Every file the harness writes goes through here: destinations checked before the work, writes atomic.

- ``Destination.check`` runs before a command starts its work: the target must be absent or a regular file of
  the same kind (an HTML writer never replaces a record or a checkpoint), its folder writable, and an existing
  file is replaced only where the command allows it (``--force`` for records).
- ``Destination.write`` writes a temp file in the same folder, fsyncs it, gives it the umask's mode (0644 by
  default) and then, holding a lock on the folder, checks that nobody wrote the target since ``check``: a new
  file is linked in exclusively, a replaced one must be the very file that was checked. A concurrent writer's
  file is never silently replaced: this run's result is kept under a ``.conflict-<pid>`` name instead.
- Temp files are named ``.<name>.<pid>.<random>.tmp``; a writer removes those of dead processes (a kill -9).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from . import HarnessError

KINDS = ("record", "report", "table", "checkpoint", "json", "state")
_SNIFF_BYTES = 4096


class OutputError(HarnessError):
    """A destination that cannot or must not be written; one line naming it and the fix."""


def sniff(path: Path, recognise: Callable[[bytes], bool] | None = None, kind: str = "other") -> str:
    """What an existing file holds: record, report, checkpoint, json, ``kind`` where ``recognise`` says so (a
    writer's own format, e.g. a CSV table), or other."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return "other"
    text = head.lstrip()
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return "checkpoint"  # torch.save zip archive or legacy pickle
    if text[:1] == b"{":
        return "record" if b'"sr-harness-run"' in head else "json"
    lowered = text[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "report"
    return kind if recognise is not None and recognise(head) else "other"


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _stat_key(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _first_existing(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate
    return Path("/")


def remove_stale_temps(folder: Path, name: str) -> None:
    """Delete ``.<name>.<pid>.*.tmp`` files whose writer process is gone."""
    with contextlib.suppress(OSError):
        for tmp in folder.glob(f".{name}.*.tmp"):
            pid = tmp.name[len(name) + 2:].split(".", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Destination:
    path: Path
    kind: str
    flag: str = "--out"  # how the user named it, for the messages
    replace: bool = False  # an existing file of the same kind may be replaced
    owned: bool = False  # the caller's own file (trainer state, progress): replaced atomically, not sniffed
    recognise: Callable[[bytes], bool] | None = None  # tells this kind's files by their first bytes (tables)
    _expected: object = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self):
        self.path = Path(self.path)
        if self.kind not in KINDS:
            raise ValueError(f"unknown output kind {self.kind!r}")

    def check(self) -> Destination:
        path = self.path
        if self.owned:
            self._expected, self._checked = _stat_key(path), True
            return self
        if path.is_symlink() or (path.exists() and not path.is_file()):
            what = "a directory" if path.is_dir() else "not a regular file"
            raise OutputError(f"{path}: {self.flag} is {what}; give the path of a file to write")
        anchor = _first_existing(path.parent)
        if not anchor.is_dir():
            raise OutputError(f"{path}: {self.flag} lies under {anchor}, which is a file, not a folder; "
                              "choose another path")
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise OutputError(f"{path}: folder {anchor} is not writable; choose another {self.flag} or fix its "
                              "permissions")
        if path.exists():
            found = sniff(path, self.recognise, self.kind)
            if found != self.kind and not (self.kind == "state" and found == "checkpoint"):
                raise OutputError(f"{path}: exists and holds a {found} file, not a {self.kind}; {self.flag} never "
                                  "replaces another kind of file; choose another path")
            if not self.replace:
                hint = "pass --force to replace it, or choose another path" if self.kind == "record" else \
                    "choose another path or remove the file"
                raise OutputError(f"{path}: exists; refusing to overwrite ({hint})")
            if not os.access(path, os.W_OK):
                raise OutputError(f"{path}: exists and is read-only; choose another {self.flag}")
        self._expected = _stat_key(path)
        self._checked = True
        return self

    def write(self, write: Callable[[BinaryIO], object]) -> Path:
        if not self._checked:
            self.check()
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent, path.name)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, _umask_mode())
            with _folder_lock(path.parent):
                if _stat_key(path) != self._expected:
                    kept = path.with_name(f"{path.stem}.conflict-{os.getpid()}{path.suffix}")
                    os.replace(tmp, kept)
                    raise OutputError(f"{path}: was written by someone else while this command ran; not replaced; "
                                      f"this result is kept as {kept}")
                if self._expected is None:
                    os.link(tmp, path)  # fails if the file appeared meanwhile: never replaces it
                    os.unlink(tmp)
                else:
                    os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._expected = _stat_key(path)
        return path

    def write_text(self, text: str) -> Path:
        data = text.encode("utf-8")
        return self.write(lambda fh: fh.write(data))


@contextlib.contextmanager
def _folder_lock(folder: Path):
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def owned_file(path: str | os.PathLike) -> Destination:
    """A file the caller owns (trainer state, progress, stage weights, exports): replaced atomically, readers see
    old or new, never half, with the umask's mode."""
    return Destination(Path(path), "state", replace=True, owned=True)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    owned_file(path).write(write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def distinct(*destinations: Destination) -> None:
    """Two writers of one command must not share a file (``--out r.json --report r.json``)."""
    seen: dict[Path, Destination] = {}
    for dest in destinations:
        key = dest.path.resolve()
        if key in seen:
            raise OutputError(f"{dest.path}: given to both {seen[key].flag} and {dest.flag}; give them different "
                              "files")
        seen[key] = dest
