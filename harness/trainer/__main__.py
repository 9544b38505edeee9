"""`python -m sr_harness.trainer train|prune|fuse ...` (the same subcommands as `python -m sr_harness`)."""

import sys

from .cli import main

sys.exit(main())
