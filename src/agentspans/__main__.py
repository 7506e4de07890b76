"""``python -m agentspans``: the ``agentspans`` command."""

import sys

from agentspans.cli import main

sys.exit(main())
