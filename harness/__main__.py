"""`python -m sr_harness ...`"""

import sys

from sr_harness.cli.main import main

sys.exit(main())
