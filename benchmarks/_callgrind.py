"""Callgrind's client requests from Python, and reading its output files.

``CALLGRIND_START_INSTRUMENTATION`` and friends are C macros: a magic sequence of instructions
that is a no-op on a real CPU and that valgrind's JIT recognises. Python cannot emit it, so on
x86-64 Linux this module writes those 26 bytes of machine code into an executable page and calls
them through ctypes. Run under ``valgrind --tool=callgrind --instr-atstart=no``, a benchmark can
then import and warm up at valgrind's uninstrumented speed (about 5x native rather than 50x) and
switch instrumentation on just before the part it measures. Elsewhere (another architecture, or
where an executable page cannot be mapped) :func:`start_instrumentation` returns False and the
caller runs with instrumentation on from the start: the counts are the same, only slower.

Stdlib only: it is imported in the peers' virtual environments too.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import re
import sys
from pathlib import Path

# VG_USERREQ_TOOL_BASE('C', 'T') and the order of Vg_CallgrindClientRequest in callgrind.h.
_BASE = (ord("C") << 24) | (ord("T") << 16)
DUMP_STATS, ZERO_STATS, TOGGLE_COLLECT, DUMP_STATS_AT, START_INSTRUMENTATION = (
    _BASE + i for i in range(5)
)
STOP_INSTRUMENTATION = _BASE + 5

# uint64 request(uint64 *args): valgrind.h's VALGRIND_DO_CLIENT_REQUEST_EXPR for amd64.
_AMD64_CLIENT_REQUEST = bytes.fromhex(
    "4889f8"  # mov rax, rdi        ; &args[0], where valgrind reads the request
    "31d2"  # xor edx, edx          ; the default result (what a real CPU leaves)
    "48c1c703"
    "48c1c70d"
    "48c1c73d"
    "48c1c733"  # rol rdi, 3/13/61/51: the preamble
    "4887db"  # xchg rbx, rbx       ; rdx = client_request(rax)
    "4889d0"  # mov rax, rdx
    "c3"  # ret
)

_call: ctypes._CFuncPtr | None = None  # type: ignore[name-defined]
_page: mmap.mmap | None = None


def _client_request() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    global _call, _page
    if _call is not None:
        return _call
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError):
        return None
    page.write(_AMD64_CLIENT_REQUEST)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    _page = page  # the mapping must outlive the function pointer
    _call = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)(address)
    return _call


def request(code: int, *args: int) -> int | None:
    """Send one client request; None where this platform cannot. Returns valgrind's answer
    (0 when not running under valgrind)."""
    call = _client_request()
    if call is None:
        return None
    block = (ctypes.c_uint64 * 6)(code, *args, *([0] * (5 - len(args))))
    return int(call(ctypes.addressof(block)))


def start_instrumentation() -> bool:
    """Switch callgrind's instrumentation on; False where that cannot be done from here."""
    return request(START_INSTRUMENTATION) is not None


def can_start_instrumentation() -> bool:
    return _client_request() is not None


# -- output files --------------------------------------------------------------------------------
_TOTALS = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_THREAD = re.compile(r"-(\d+)$")


def thread_counts(prefix: Path) -> dict[int, int]:
    """Instructions per thread from ``--separate-threads=yes`` output files ``PREFIX-<tid>``
    (thread 1 is the main thread); a single file counts as thread 1."""
    counts: dict[int, int] = {}
    for path in prefix.parent.glob(prefix.name + "*"):
        match = _THREAD.search(path.name)
        tid = int(match.group(1)) if match and path.name != prefix.name else 1
        found = _TOTALS.search(path.read_bytes())
        counts[tid] = counts.get(tid, 0) + (int(found.group(1)) if found else 0)
    return counts
