"""Wall time, CPU time and peak memory of one report case of ``benchmarks/bench_reporting.py``'s ReportScale.

    python tools/profile_report.py CASE RUNS PER_RUN [REPEATS] [--src DIR]

CASE is ``cold`` (no history cache), ``warm`` or ``new`` (one new run on a warm
history; both after one untimed call, as ``nox -s scale`` takes them).  Each of
REPEATS (3) timed calls runs in this one process, as the scale worker runs them;
the synthetic tree is ``bench_reporting.synthetic_tree``'s (under ``$TMPDIR``).
Printed: each call's wall seconds, its CPU seconds (this process and the child
processes it waited for: the report's readers, fitters and drawer), and the peak
memory of the whole process tree summed, RSS and PSS (sampled from /proc every 50 ms),
so a figure taken on a busy machine can be told from a slow report: the CPU
seconds barely move with the load, the wall seconds do.  ``--src DIR``: time
another checkout's report (DIR holds src/ and benchmarks/), for a before/after.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) bytes of ``pid`` and all its descendants, summed.  RSS counts a page shared by forked processes
    once per process (an over-count: the readers and fitters are forks); PSS splits it among them."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    todo, rss, pss = [pid], 0, 0
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith("0"))
            rss += int(fields["Rss"].split()[0]) * 1024
            pss += int(fields["Pss"].split()[0]) * 1024
        except (OSError, KeyError, IndexError, ValueError):
            pass
    return rss, pss


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str]) -> int:
    src = Path(argv[argv.index("--src") + 1]) if "--src" in argv else Path(__file__).resolve().parents[1]
    args = [a for i, a in enumerate(argv) if a != "--src" and (i == 0 or argv[i - 1] != "--src")]
    case, runs, per_run = args[0], int(args[1]), int(args[2])
    repeats = int(args[3]) if len(args) > 3 else 3
    sys.path[:0] = [str(src / "src"), str(src / "benchmarks")]
    import bench_reporting

    scale = bench_reporting.ReportScale()
    scale.setup(runs * per_run, runs)
    call = {"cold": scale.time_report, "warm": scale.time_report_warm, "new": scale.time_report_new_run}[case]
    if case != "cold":
        call(runs * per_run, runs)
    peak, spent, done = [0, 0], [0.0], threading.Event()

    def sample() -> None:  # its own CPU time is taken off the report's
        while not done.wait(0.05):
            rss, pss = tree_memory(os.getpid())
            peak[:] = [max(peak[0], rss), max(peak[1], pss)]
            spent[0] = time.thread_time()

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    walls, cpus = [], []
    for _ in range(repeats):
        c, t, s = cpu_seconds(), time.perf_counter(), spent[0]
        call(runs * per_run, runs)
        walls.append(time.perf_counter() - t)
        cpus.append(cpu_seconds() - c - (spent[0] - s))
    done.set()
    watcher.join()
    scale.teardown(runs * per_run, runs)
    load = open("/proc/loadavg").read().split()[0]
    print(f"{src.name} {case} {runs}x{per_run}: wall median {statistics.median(walls):.2f} s "
          f"({', '.join(f'{w:.2f}' for w in walls)}); CPU median {statistics.median(cpus):.2f} s "
          f"({', '.join(f'{c:.2f}' for c in cpus)}); peak tree RSS {peak[0] / 2**20:.0f} MiB, "
          f"PSS {peak[1] / 2**20:.0f} MiB; load {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
