"""The real Collector absent at start, SIGKILLed and restarted, black-holed and slow, for both
OTLP protocols: the app sees no exception, spans flow again after recovery, exit is quick.

The scenario is benchmarks/soak.py's (one shorter cycle); it skips, saying why, when the
Collector binary (scripts/build-stack.sh) is not built on this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import soak
from benchmarks._faults import collector_binary


@pytest.mark.parametrize("protocol", soak.PROTOCOLS)
def test_faults_never_reach_the_app_and_spans_flow_after_recovery(
    protocol: str, tmp_path: Path
) -> None:
    binary, why = collector_binary()
    if binary is None:
        pytest.skip(why)
    run = soak.run_protocol(binary, tmp_path, protocol, cycles=1, scale=0.75)
    assert not run.problems, run.problems
    assert run.instrumented["exceptions"] == 0
    wanted = run.must_deliver()
    assert wanted, "the run was too short to have workflows after recovery"
    assert all(index in run.delivered for index in wanted)
    assert run.delivered  # and some made it during the healthy phase between the faults
    assert run.exit_s < 3.0 + 2.0  # shutdown_timeout_s (3 s), and the interpreter's own exit
