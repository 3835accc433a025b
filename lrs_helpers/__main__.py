"""``python -m lrs_helpers``: the same command line as ``lrs-helpers``."""

import sys

from .cli import main

sys.exit(main())
