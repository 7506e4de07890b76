"""No function in src/ rated worse than C by radon's cyclomatic complexity (C is up to 20).

Run by scripts/test.sh; radon is a dev dependency only. Functions that other branches are
simplifying today are listed in KNOWN, with their owner; the lead drops each entry at merge once
that branch is in, and a stale entry fails the check so the list cannot rot.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from radon.complexity import cc_rank, cc_visit
from radon.visitors import Class, Function

SRC = Path(__file__).resolve().parents[1] / "src"
WORST_RANK = "C"

# "path relative to src:qualified name" -> owner (issue #17).
KNOWN: dict[str, str] = {
}


def _functions(blocks: list[Function | Class], prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, complexity) of every function, method and closure."""
    for block in blocks:
        if isinstance(block, Class):
            # cc_visit lists a class's methods on their own too (with ``classname`` set).
            yield from _functions(list(block.methods), f"{prefix}{block.name}.")
            yield from _functions(list(block.inner_classes), f"{prefix}{block.name}.")
            continue
        if block.is_method and not prefix:
            continue  # met again under its class
        name = f"{prefix}{block.name}"
        yield name, block.complexity
        yield from _functions(list(block.closures), f"{name}.")


def main() -> int:
    too_complex: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        blocks = cc_visit(path.read_text(encoding="utf-8"))
        for name, complexity in _functions(blocks):
            if cc_rank(complexity) > WORST_RANK:
                too_complex[f"{path.relative_to(SRC).as_posix()}:{name}"] = complexity
    failures = [
        f"{where}: complexity {value} (rank {cc_rank(value)}); "
        f"split it to rank {WORST_RANK} or better"
        for where, value in sorted(too_complex.items())
        if where not in KNOWN
    ]
    failures += [
        f"{where}: now rank {WORST_RANK} or better; drop it from KNOWN in {Path(__file__).name}"
        for where in sorted(KNOWN)
        if where not in too_complex
    ]
    for line in failures:
        print(line, file=sys.stderr)
    if not failures:
        allowed = ", ".join(f"{w.split(':')[1]} ({KNOWN[w]})" for w in sorted(too_complex))
        print(
            f"complexity: no function worse than {WORST_RANK} (still allowed: {allowed or 'none'})"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
