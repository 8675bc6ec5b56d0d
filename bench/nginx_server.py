"""Serves a rendered static site from Debian's nginx on 127.0.0.1 (1 worker, access log off), pinned
to one CPU, started and stopped by PID; falls back, loudly, to the fixture's own Python server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.process_probe import children, cpu_seconds
from bench.static_site import StaticSite, nginx_conf


def _wait_for_port(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing is listening on 127.0.0.1:{port}")


class NginxServer:
    """nginx serving ``site`` while the context is open; ``cpu()`` is its worker's CPU so far."""

    def __init__(self, site: StaticSite, run_dir: Path, cpu: str | None = "0") -> None:
        self.site = site
        self.run_dir = run_dir
        self.cpu_list = cpu
        self.process: subprocess.Popen | None = None
        self.fallback = None
        self.kind = "nginx"

    def __enter__(self) -> Self:
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            self._start_fallback()
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_conf(self.site, self.run_dir))
        command = [binary, "-c", str(conf), "-p", str(self.run_dir)]
        if self.cpu_list is not None:
            command = ["taskset", "-c", self.cpu_list, *command]
        check = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(self.run_dir)],
                               capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected its configuration:\n{check.stderr}")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_for_port(self.site.port)
        return self

    def _start_fallback(self) -> None:
        from fixture_site import FixtureSite

        print("=" * 78 + "\nWARNING: nginx is not installed (apt-get install -y nginx); serving the "
              "fixture site\nfrom its Python server instead. Its CPU competes with the crawlers "
              "and the figures\nare NOT comparable with the nginx ones.\n" + "=" * 78,
              file=sys.stderr, flush=True)
        self.kind = "fixture-python-server"
        site = FixtureSite(include_faults=False, extra_articles=max(self.site.articles - 30, 0))
        self.fallback = site.serve(host="127.0.0.1", port=self.site.port)

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process is not None else []

    def cpu(self) -> float:
        """CPU seconds of the master and its workers so far (0 for the fallback)."""
        if self.process is None:
            return 0.0
        return sum(cpu_seconds(pid) or 0.0 for pid in [self.process.pid, *self.worker_pids()])

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.fallback is not None:
            self.fallback.stop()
            return
        if self.process is not None:
            # SIGQUIT: graceful shutdown of master and worker; only this PID, never by name.
            os.kill(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
