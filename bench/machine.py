"""What the machine did while a bench measured: how busy its CPUs were, how much of their time
the hypervisor took (steal), and how much CPU one process used (Linux `/proc`).

A latency tail moves with both: on a virtual machine whose host took 9.5% of the CPUs' time in
one 10-second window, one build's ack p99 in `bench.soak` was 46.9 ms in one run and 57.6 ms
in another an hour later. Each figure comes with what the machine was doing, so runs can be
compared.

Run on its own (`.venv/bin/python -m bench.machine [--seconds 10]`) it watches the machine
for a while and prints the same figures, the last line one JSON object: how loaded the
machine is before a bench starts.
"""

from __future__ import annotations

import argparse
import json
import os
import time
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


def main() -> None:
    """Watch the machine for `--seconds` and print its figures (the last line is one JSON
    object): how loaded it is before a bench starts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    before = CpuTimes.now()
    time.sleep(args.seconds)
    share = MachineShare.between(before, CpuTimes.now())
    figures = {
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "machine_busy_pct": share.busy_pct if share else None,
        "machine_steal_pct": share.steal_pct if share else None,
    }
    if share is not None:
        print(
            f"over {args.seconds:g} s: CPUs {share.busy_pct:.1f}% busy, "
            f"{share.steal_pct:.1f}% taken by the host; load average {figures['load_average']}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
