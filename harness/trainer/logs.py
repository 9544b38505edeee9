"""JSONL metrics log: one object per line (per logged step, per validation, per stage); rank 0 only."""

from __future__ import annotations

import json
import pathlib
import time


class JsonlLog:
    def __init__(self, path: pathlib.Path | None, *, enabled: bool = True):
        self.path = pathlib.Path(path) if path else None
        self.enabled = enabled and self.path is not None
        self.started = time.time()

    def write(self, **record) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time() - self.started, 3), **record}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=float) + "\n")
