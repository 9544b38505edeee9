"""`python -m harness.trainer train|prune|fuse ...` (the same subcommands as `python -m harness`)."""

import sys

from .cli import main

sys.exit(main())
