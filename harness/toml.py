"""TOML reader for suites, recipes and published numbers: tomllib from Python 3.11, its tomli backport before."""

try:
    from tomllib import TOMLDecodeError, load, loads
except ModuleNotFoundError:  # Python 3.10
    from tomli import TOMLDecodeError, load, loads

__all__ = ["TOMLDecodeError", "load", "loads"]
