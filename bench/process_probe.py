"""Runs one command and measures it: wall time, CPU from ``os.wait4`` rusage (children included), and
the resident memory of the process and of each of its descendants, sampled from ``/proc`` every 0.5 s."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MB (10^6 bytes), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def cpu_seconds(pid: int, thread: int | None = None) -> float | None:
    """User + system CPU of a live process (itself only), or of one of its threads, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """Direct children of a process (threads' children included)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(x) for x in text]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children(child)
    return found


@dataclass(slots=True)
class Measured:
    """Outcome of one measured command."""

    returncode: int
    wall: float
    user: float
    system: float
    stdout: str
    stderr: str
    # (seconds since start, crawler RSS MB, {child pid: RSS MB})
    samples: list[tuple[float, float, dict[int, float]]] = field(default_factory=list)
    child_cpu: dict[int, float] = field(default_factory=dict)
    # CPU of the process's main thread (Scrapy's reactor) at its last sample: a floor.
    main_thread_cpu: float | None = None
    maxrss_mb: float = 0.0  # ru_maxrss: the peak of the process or of any one waited-for descendant

    @property
    def cpu(self) -> float:
        return self.user + self.system

    def as_dict(self) -> dict:
        return {"returncode": self.returncode, "wall_s": round(self.wall, 3),
                "cpu_s": round(self.cpu, 3), "user_s": round(self.user, 3),
                "system_s": round(self.system, 3), "maxrss_mb": round(self.maxrss_mb, 1)}


def run(command: list[str], *, cpus: str | None = None, cwd: Path | None = None,
        sample: bool = False, interval: float = 0.5, env: dict[str, str] | None = None,
        timeout: float | None = None) -> Measured:
    """Run ``command`` (under ``taskset -c cpus`` when given) to completion and measure it."""
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.monotonic_ns()}"
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        started = time.monotonic()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=env)
        measured = Measured(0, 0.0, 0.0, 0.0, "", "")
        stop = threading.Event()

        def sampler() -> None:
            while not stop.wait(interval):
                own = rss_mb(proc.pid)
                if own is None:
                    return
                if (main := cpu_seconds(proc.pid, proc.pid)) is not None:
                    measured.main_thread_cpu = main
                kids = {}
                for child in descendants(proc.pid):
                    if (mb := rss_mb(child)) is not None:
                        kids[child] = mb
                    if (cpu := cpu_seconds(child)) is not None:
                        measured.child_cpu[child] = cpu
                measured.samples.append((time.monotonic() - started, own, kids))

        thread = threading.Thread(target=sampler, daemon=True)
        if sample:
            thread.start()
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.05)
        measured.wall = time.monotonic() - started
        stop.set()
        if sample:
            thread.join()
        # wait4 reaped it: tell Popen, so it neither waits again nor warns.
        proc.returncode = os.waitstatus_to_exitcode(status)
        measured.returncode = proc.returncode
        measured.user, measured.system = usage.ru_utime, usage.ru_stime
        measured.maxrss_mb = usage.ru_maxrss * 1024 / 1e6  # kilobytes on Linux
        out.seek(0)
        err.seek(0)
        measured.stdout = out.read().decode("utf-8", "replace")
        measured.stderr = err.read().decode("utf-8", "replace")
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return measured
