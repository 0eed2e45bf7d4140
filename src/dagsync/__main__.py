"""`python -m dagsync` runs the command line."""

from __future__ import annotations

import sys

from dagsync.cli import main

sys.exit(main())
