"""The command line: argument parsing and the commands, the only layer that imports every other one."""

from sr_harness.cli.main import main

__all__ = ["main"]
