"""Exit codes and the one error policy of every command: chosen by the exception's type, never its module.

0 ok; 1 regression found; 2 bad input or usage (one line naming the file or flag and the fix); 3 the trainer
stopped at --max-steps (resume it); 4 a model failed during eval (its row is marked failed in the record);
5 a speed verdict is inconclusive (flagged, re-timed, still over the threshold without being significant);
7 the speed check's base revision cannot be built here (the line names the flag that fixes it); 70 an unexpected
error (a bug: one line, the traceback with --debug); 130 interrupted.
"""

from __future__ import annotations

import sys

from . import HarnessError

EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_FAILED_ROWS = 4
EXIT_INCONCLUSIVE = 5
EXIT_NO_BASE = 7
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = ("exit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 trainer stopped at --max-steps, "
                   "4 a model failed (row marked failed), 5 speed verdict inconclusive, 7 the speed check's base revision "
                   "cannot be built (see --base), 70 unexpected error "
                   "(rerun with --debug), 130 interrupted")


def positive_int(text: str) -> int:
    """argparse type for counts (threads, rounds, pixels): a bad value is argparse's usage error, exit 2."""
    import argparse  # noqa: PLC0415

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def available_cpus() -> int:
    """The CPUs this process may run on: the most torch threads a run may ask for (far more crashed its pool)."""
    import os  # noqa: PLC0415

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def thread_count(text: str) -> int:
    """argparse type for --threads: 1 up to the CPUs this process may run on (far more crashed torch's pool)."""
    import argparse  # noqa: PLC0415

    value = positive_int(text)
    available = available_cpus()
    if value > available:
        raise argparse.ArgumentTypeError(f"must be at most {available} (the CPUs this machine gives the process), "
                                         f"got {value}")
    return value


def positive_number(text: str, example: str = "e.g. 0.03 for 3 %") -> float:
    """argparse type: a finite number > 0 (nan or inf would make every check pass, or never stop)."""
    import argparse  # noqa: PLC0415
    import math  # noqa: PLC0415

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; {example}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0 ({example}), got {text}")
    return value


def positive_fraction(text: str) -> float:
    """argparse type for relative thresholds."""
    return positive_number(text)


def seconds(text: str) -> float:
    return positive_number(text, "seconds, e.g. 600")


def gibibytes(text: str) -> float:
    """A memory size in GiB, at most this machine's memory (a limit past it stops nothing)."""
    import argparse  # noqa: PLC0415
    import os  # noqa: PLC0415

    value = positive_number(text, "GiB, e.g. 8")
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    if value > total:
        raise argparse.ArgumentTypeError(f"must be at most this machine's {total:.0f} GiB of memory, got {text}")
    return value


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors whose message is written for the user (one line naming the file and the fix)."""
    types: list[type[BaseException]] = [HarnessError]
    if "sr_harness.models" in sys.modules:  # only an imported package can have raised its errors
        from sr_harness.models import CheckpointError, InputError, UnknownModelError  # noqa: PLC0415
        types += [CheckpointError, InputError, UnknownModelError]
    return tuple(types)


def run_command(func, args, *, debug: bool = False) -> int:
    """Run one parsed command with the policy above; ``debug`` re-raises so the traceback is shown."""
    try:
        return func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted: nothing was written for the unfinished work", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as exc:  # noqa: BLE001  (the policy: every failure is one line and an exit code)
        if debug or isinstance(exc, SystemExit):
            raise
        if isinstance(exc, user_error_types()):
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return getattr(exc, "exit_code", EXIT_USAGE)
        if isinstance(exc, MemoryError):
            print("error: out of memory; use smaller inputs (see --max-pixels) or a machine with more memory",
                  file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OSError) and exc.errno is not None:
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}; check the path, permissions and free disk space",
                  file=sys.stderr)
            return EXIT_USAGE
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)}; rerun with --debug for the traceback",
              file=sys.stderr)
        return EXIT_INTERNAL


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:400] if text else type(exc).__name__
