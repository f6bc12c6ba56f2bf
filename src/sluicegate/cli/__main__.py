"""``python -m sluicegate.cli``: the same command line as ``sluicegate``."""

import sys

from sluicegate.cli import main

sys.exit(main())
