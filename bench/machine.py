"""What the machine did while a bench measured: how busy its CPUs were, how much of their time
the hypervisor took (steal), and how much CPU one process used (Linux `/proc`).

A latency tail moves with both: on a virtual machine whose host takes its CPUs away for
milliseconds at a time, one build's ack p99 ranged from 41 to 78 ms in runs minutes apart.
Each figure comes with what the machine was doing, so runs can be compared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """The machine's CPU time so far, in clock ticks, all CPUs together."""

    busy: int
    steal: int
    total: int

    @classmethod
    def parse(cls, stat: str) -> CpuTimes:
        """From the text of `/proc/stat` (its first line sums every CPU)."""
        fields = stat.splitlines()[0].split()
        if fields[0] != "cpu":
            raise ValueError("not /proc/stat: its first line is the CPUs' total")
        ticks = [int(value) for value in fields[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is
        # counted in user time already.
        user, nice, system, idle, iowait, irq, softirq = ticks[:7]
        steal = ticks[7] if len(ticks) > 7 else 0
        return cls(
            busy=user + nice + system + irq + softirq,
            steal=steal,
            total=user + nice + system + idle + iowait + irq + softirq + steal,
        )

    @classmethod
    def now(cls) -> CpuTimes | None:
        """The machine's figures now; None where there is no `/proc/stat`."""
        try:
            return cls.parse(PROC_STAT.read_text())
        except (OSError, ValueError, IndexError):
            return None


@dataclass(frozen=True, slots=True)
class MachineShare:
    """Percent of all CPUs' time between two readings: busy, and taken by the hypervisor."""

    busy_pct: float
    steal_pct: float

    @classmethod
    def between(cls, before: CpuTimes | None, after: CpuTimes | None) -> MachineShare | None:
        """None when either reading is missing or no time passed."""
        if before is None or after is None or after.total <= before.total:
            return None
        total = after.total - before.total
        return cls(
            busy_pct=round(100 * (after.busy - before.busy) / total, 1),
            steal_pct=round(100 * (after.steal - before.steal) / total, 1),
        )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
