"""Instructions of one ``agentspans.analysis.analyze`` of each ``analysis_scaling`` shape.

    python benchmarks/analysis_instructions.py                 # 10k spans
    python benchmarks/analysis_instructions.py --spans 100000
    python benchmarks/analysis_instructions.py --short          # CI: 1k spans

Each shape runs in a fresh process under ``valgrind --tool=callgrind --instr-atstart=no``: the
records are built and analysed once at valgrind's uninstrumented speed, the collector is
emptied (``gc.collect()``), and only the second ``analyze`` is counted. The count does not move
with the machine's load (timings on a shared machine swing by 20 to 40%), and it is the same
from run to run within about 0.1%. The collector stays on, as an application leaves it, so its
passes over what the analysis allocates are counted. Needs valgrind and x86-64 Linux (see
``_callgrind.py``). PYTHONPATH picks the agentspans that is measured.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import _callgrind as cg
from analysis_scaling import SHAPES

from agentspans.analysis import analyze

_TOTALS = re.compile(rb"^totals:\s*(\d+)", re.MULTILINE)


def _child(shape: str, spans: int) -> None:
    records = SHAPES[shape](spans, random.Random(spans))
    analyze(records)
    gc.collect()
    cg.start_instrumentation()
    analyze(records)
    cg.request(cg.STOP_INSTRUMENTATION)


def _count(shape: str, spans: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                shape,
                "--spans",
                str(spans),
            ],
            check=True,
            capture_output=True,
        )
        found = _TOTALS.search(out.read_bytes())
        return int(found.group(1)) if found else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int)
    parser.add_argument("--short", action="store_true", help="CI mode: 1k spans")
    parser.add_argument("--child", choices=sorted(SHAPES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.spans is None:
        args.spans = 1_000 if args.short else 10_000
    if args.child:
        _child(args.child, args.spans)
        return 0
    if shutil.which("valgrind") is None or not cg.can_start_instrumentation():
        print("needs valgrind on x86-64 Linux", file=sys.stderr)
        return 1
    print(f"instructions of one analyze() of {args.spans} spans (callgrind, collector on)")
    for shape in SHAPES:
        print(f"{shape:<6} {_count(shape, args.spans) / 1e6:>10.1f}M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
