"""TOML reader for suites, recipes and published numbers (the standard library's tomllib)."""

from tomllib import TOMLDecodeError, load, loads

__all__ = ["TOMLDecodeError", "load", "loads"]
