"""Everything under tests/bench measures wall time: it runs in `tox -e perf`, never in the default `tox` run."""

import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in pathlib.Path(item.fspath).parents:
            item.add_marker(pytest.mark.bench)

sys.path.insert(0, str(HERE))  # imresize_reference, the benchmark's reference implementation
