"""An app that forks while spans are held, queued and being written: run by test_fork.

Usage: ``python fork_app.py METHOD CHILDREN`` with METHOD ``fork``, ``spawn`` or ``os.fork``.
The parent holds an open trace (its root not ended) with finished children when it forks, keeps
a thread exporting spans the whole time, and ends the trace after the children exit.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

import agentspans

agentspans.instrument()  # at import, so spawned children instrument themselves too


@agentspans.tool
def work(label: str) -> str:
    return label.upper()


@agentspans.agent(name="child-agent")
def child_agent(index: int) -> None:
    for step in range(5):
        work(f"child-{index}-{step}")


def child_main(index: int) -> None:  # a plain function: spawn pickles the target by name
    child_agent(index)


def _busy(stop: threading.Event) -> None:
    """Spans ending all the time, so the fork lands mid-export now and then."""
    while not stop.is_set():
        with agentspans.workflow_span("busy"):
            work("busy")


def main(method: str, children: int) -> None:
    stop = threading.Event()
    busy = threading.Thread(target=_busy, args=(stop,), daemon=True)
    busy.start()
    try:
        _fork_inside_a_held_trace(method, children)
    finally:
        stop.set()
        busy.join()


def _fork_inside_a_held_trace(method: str, children: int) -> None:
    with agentspans.agent_span("parent-held"):
        for step in range(3):
            work(f"parent-{step}")
        instrumentation = agentspans.instrumentation()
        assert instrumentation is not None
        time.sleep(0.3)  # the held spans reach the worker; busy spans reach the exporter
        started = time.monotonic()
        if method == "os.fork":
            pids = []
            for index in range(children):
                pid = os.fork()
                if pid == 0:
                    child_main(index)
                    instrumentation.force_flush()
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
        else:
            context = multiprocessing.get_context(method)
            processes = [context.Process(target=child_main, args=(i,)) for i in range(children)]
            for process in processes:
                process.start()
            for process in processes:
                process.join(timeout=60)
                assert process.exitcode == 0, process.exitcode
        print(f"children took {time.monotonic() - started:.2f}s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
