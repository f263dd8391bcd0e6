"""The bench's reading of what the machine did: `/proc/stat` in, shares of CPU time out."""

from __future__ import annotations

import os

import pytest

from bench.machine import CpuTimes, MachineShare, process_cpu_seconds

STAT = "cpu  100 5 20 800 10 1 4 60 0 0\ncpu0 50 2 10 400 5 0 2 30 0 0\nintr 1\n"


def test_the_first_line_gives_busy_stolen_and_all_ticks() -> None:
    assert CpuTimes.parse(STAT) == CpuTimes(busy=130, steal=60, total=1000)


def test_a_kernel_without_a_steal_column_steals_nothing() -> None:
    assert CpuTimes.parse("cpu 10 0 10 80 0 0 0\n") == CpuTimes(busy=20, steal=0, total=100)


def test_text_that_is_not_proc_stat_is_refused() -> None:
    with pytest.raises(ValueError, match="first line"):
        CpuTimes.parse("intr 1 2 3\n")


def test_shares_are_of_the_time_between_two_readings() -> None:
    before = CpuTimes(busy=130, steal=60, total=1000)
    after = CpuTimes(busy=330, steal=110, total=2000)
    assert MachineShare.between(before, after) == MachineShare(busy_pct=20.0, steal_pct=5.0)
    assert MachineShare.between(after, after) is None  # no time passed
    assert MachineShare.between(None, after) is None


def test_this_machine_and_this_process_can_be_read() -> None:
    now = CpuTimes.now()
    assert now is not None
    assert now.total > now.busy >= 0
    sum(range(200_000))  # some CPU of our own
    assert process_cpu_seconds(os.getpid()) > 0
