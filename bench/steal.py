"""CPU time the hypervisor took from this machine (``steal`` in /proc/stat), to read a run's figures by.

On a virtual machine a neighbour's load shows up as steal: this machine's CPUs were ready to run but the
host ran something else. A benchmark round taken while the host stole a large share is slower for reasons
that have nothing to do with the servers, so ``bench pages`` and ``bench.pagefloor`` print each round's
share beside their figures (``stolen_line``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CpuTimes", "cpu_times", "parse_cpu_line", "stolen_line", "stolen_share"]

PROC_STAT = Path("/proc/stat")

#: (steal, total) in clock ticks, summed over every CPU.
CpuTimes = tuple[int, int]


def parse_cpu_line(text: str) -> CpuTimes:
    """(steal, total) from the text of /proc/stat: its first line, ``cpu  user nice system idle iowait irq
    softirq steal guest guest_nice`` (guest time is already counted in user, so not added again)."""
    fields = text.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("not /proc/stat: no aggregate cpu line first")
    ticks = [int(n) for n in fields[1:9]]  # user .. steal
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def cpu_times() -> CpuTimes | None:
    """Now's (steal, total); None where there is no /proc/stat (not Linux)."""
    try:
        return parse_cpu_line(PROC_STAT.read_text())
    except (OSError, ValueError):
        return None


def stolen_share(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of all CPU time between two readings that the host stole; None if either is missing."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def stolen_line(stolen: list[float | None]) -> str:
    """Each round's stolen share as a paragraph to add to a report; "" unless every round's is known."""
    known = [share for share in stolen if share is not None]
    if not known or len(known) < len(stolen):  # unknown for a round (no /proc/stat): say nothing, not half
        return ""
    shares = ", ".join(f"{share * 100:.1f} %" for share in known)
    return f"\n\nCPU time stolen by the host (steal, /proc/stat), per round: {shares}"
