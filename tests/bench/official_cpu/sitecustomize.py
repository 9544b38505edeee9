"""Lets the organizers' unmodified test_demo.py run on this CPU-only machine (benchmark use only): CUDA events
become perf_counter stamps, synchronize / empty_cache no-ops, the peak memory 0, torch.load maps CUDA-saved
checkpoints to the CPU; and, where torchvision is not
installed, a stand-in ``torchvision.utils.make_grid`` that raises (utils_image imports it; only its tensor2img
of image batches calls it, which the evaluation never does)."""

import importlib.util
import sys
import time
import types

import torch

if not torch.cuda.is_available():
    class _Event:
        def __init__(self, enable_timing=False):
            self.stamp = None

        def record(self, stream=None):
            self.stamp = time.perf_counter()

        def elapsed_time(self, end):
            return (end.stamp - self.stamp) * 1000.0

    torch.cuda.Event = _Event
    torch.cuda.synchronize = lambda *args, **kwargs: None
    torch.cuda.current_device = lambda: 0
    torch.cuda.empty_cache = lambda: None
    torch.cuda.max_memory_allocated = lambda *args, **kwargs: 0
    _load = torch.load

    def _load_on_cpu(*args, **kwargs):
        kwargs.setdefault("map_location", "cpu")
        return _load(*args, **kwargs)

    torch.load = _load_on_cpu

if importlib.util.find_spec("torchvision") is None:
    def _make_grid(*args, **kwargs):
        raise NotImplementedError("torchvision is not installed (benchmark stand-in)")

    vision = types.ModuleType("torchvision")
    vision.utils = types.ModuleType("torchvision.utils")
    vision.utils.make_grid = _make_grid
    sys.modules["torchvision"], sys.modules["torchvision.utils"] = vision, vision.utils
