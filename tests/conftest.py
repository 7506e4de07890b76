"""Shared fixtures. Internal errors raise under the test suite (see agentspans._errors)."""

from __future__ import annotations

import os

os.environ.setdefault("AGENTSPANS_STRICT", "1")
