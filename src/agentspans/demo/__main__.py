"""``python -m agentspans.demo``: the same as ``agentspans demo``."""

from __future__ import annotations

import sys

from agentspans.demo.cli import main

sys.exit(main(sys.argv[1:]))
