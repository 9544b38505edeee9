"""Foreign model classes that misbehave in every way a forward can (and a good one), as the source of one file;
the corpus and tests/test_foreign_failures.py load it as ``--model nets.py:Class``."""

import textwrap

NETS = textwrap.dedent('''
    import ctypes, os, sys, time
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Good(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return F.interpolate(self.conv(x), scale_factor=4, mode="nearest")

    class Raises(Good):
        def forward(self, x): raise RuntimeError("boom")
    class Tuple(Good):
        def forward(self, x): return super().forward(x), 1
    class OneChannel(Good):
        def forward(self, x): return super().forward(x)[:, :1]
    class FourChannel(Good):
        def forward(self, x): return torch.cat([super().forward(x), x.new_zeros(1, 1, 4 * x.shape[2], 4 * x.shape[3])], 1)
    class Batch2(Good):
        def forward(self, x): return torch.cat([super().forward(x)] * 2)
    class WrongSize(Good):
        def forward(self, x): return F.interpolate(self.conv(x), scale_factor=2, mode="nearest")
    class NaNOutput(Good):
        def forward(self, x): return super().forward(x) * float("nan")
    class ReturnsNumpy(Good):
        def forward(self, x): return super().forward(x).detach().numpy()
    class ReturnsNone(Good):
        def forward(self, x): return None
    class SysExit(Good):
        def forward(self, x): sys.exit(0)
    class OsExit(Good):
        def forward(self, x): os._exit(0)
    class Segfault(Good):
        def forward(self, x): return ctypes.string_at(0)
    class Sleeps(Good):
        def forward(self, x): time.sleep(3600)
    class Allocates(Good):
        def forward(self, x): return torch.ones(32 * 2**30 // 4)  # 32 GiB, past any --entry-memory-limit here
    class InitRaises(Good):
        def __init__(self): raise ValueError("no init")
    class NotAModule:
        def __call__(self, x): return x
    class RaisesAtComplexity(Good):
        def forward(self, x):
            if x.shape[-1] == 256:
                raise ValueError("no 256")
            return super().forward(x)
    class ChangesDirectory(Good):
        def forward(self, x):
            os.chdir("/")
            return super().forward(x)
    class PrintsALot(Good):
        def forward(self, x):
            print("x" * 100000)
            print("y" * 100000, file=sys.stderr)
            return super().forward(x)
''')
