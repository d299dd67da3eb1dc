"""The server under test: gunicorn with the production WSGI app on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_workers() -> int:
    """Sync workers: cores + 1. Measured on the 2-core benchmark machine, where the load
    generator and PostgreSQL share the cores: 3 workers served the tabs faster and with a
    lower p99 than gunicorn's "2 x cores + 1" (5) or 8 (see docs/performance.md); it is
    also what the Dockerfile runs."""
    return (os.cpu_count() or 1) + 1


class Gunicorn:
    def __init__(self, *, workers: int, env: dict[str, str], log_path: Path):
        self.workers = workers
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "billing_portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=BASE_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                url = f"{self.base_url}/healthz"  # http on loopback
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                    if resp.status == 200 and len(self.worker_pids()) == self.workers:
                        return
            except OSError:
                # Not up yet: refused, or (a busy machine, a worker still booting) the
                # answer took more than the probe's 2 s. URLError is an OSError too.
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        if children.exists():
            return [int(pid) for pid in children.read_text().split()]
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(stat.parent.name))
        return pids

    def worker_memory_mb(self) -> list[dict[str, float]]:
        """Peak (VmHWM) and current (VmRSS) resident memory of each worker, in MiB."""
        result = []
        for pid in self.worker_pids():
            status = {}
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    status[key] = int(value.split()[0]) / 1024  # kB -> MiB
            result.append({"pid": pid, "peak_mb": status["VmHWM"], "rss_mb": status["VmRSS"]})
        return result

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        self.process = None
