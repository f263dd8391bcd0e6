"""The C allocator's part of the bot's memory, on Linux with glibc: fewer arenas, free pages back.

Python keeps its small objects in arenas of its own, but bigger buffers (rows read by SQLite's
thread, the JSON of a portal answer, TLS buffers) come from glibc's `malloc`. glibc gives a
thread that allocates an arena of its own and keeps freed pages for reuse, so a long run holds
megabytes that nothing uses: in the soak bench most of the bot's RSS growth was in those pages,
not in Python objects, whose count stayed flat. Two of glibc's own calls bound it:
`mallopt(M_ARENA_MAX, n)` before threads start, and `malloc_trim(0)` now and then. Where they
do not exist (musl, macOS) nothing here does anything.
"""

from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable

M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most arenas threads may share."""

ARENAS = 2
"""The event loop's thread and SQLite's worker thread each keep one; more only add idle pages."""

TRIM_SECONDS = 10.0
"""A big read (a re-read of the portal's users, a 2,500-lead page) frees megabytes at once;
once a minute left them in the RSS for up to a minute. A trim takes under a millisecond."""


class Allocator:
    """glibc's knobs, when the process runs on glibc."""

    def __init__(self, libc: ctypes.CDLL) -> None:
        self._mallopt = libc.mallopt
        self._mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        self._mallopt.restype = ctypes.c_int
        self._trim = libc.malloc_trim
        self._trim.argtypes = (ctypes.c_size_t,)
        self._trim.restype = ctypes.c_int

    @classmethod
    def load(cls) -> Allocator | None:
        """glibc's allocator, or None on a C library without these calls.

        The symbols are looked up in the running process itself, which has its C library
        loaded: `ctypes.util.find_library` would start `ldconfig` at every start."""
        try:
            libc = ctypes.CDLL(None)
        except OSError:
            return None
        if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
            return None
        return cls(libc)

    def limit_arenas(self, count: int = ARENAS) -> bool:
        """Let threads share at most `count` arenas; call it before threads start."""
        return bool(self._mallopt(M_ARENA_MAX, count))

    def trim(self) -> float:
        """Give the pages freed since the last time back to the system; returns the seconds it
        took (it holds malloc's lock meanwhile)."""
        started = time.perf_counter()
        self._trim(0)
        return time.perf_counter() - started


async def trim_forever(
    allocator: Allocator,
    observe: Callable[[float], None],
    every: float = TRIM_SECONDS,
) -> None:
    """Trim every `every` seconds until cancelled; `observe` gets the seconds each took."""
    while True:
        await asyncio.sleep(every)
        observe(allocator.trim())
