"""A throwaway three-master Redis Cluster for the routing tests.

Three `redis-server` processes in cluster mode on free ports in a temporary
directory (no persistence), joined with `redis-cli --cluster create`; stopped by
their process ids when the test session ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MASTERS = 3
BUS_OFFSET = 10_000  # Redis Cluster talks node to node on port + 10000


@dataclass(frozen=True)
class LocalCluster:
    host: str
    ports: tuple[int, ...]

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.ports[0]}/0"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    """`n` ports free on 127.0.0.1 whose cluster-bus ports are free too."""
    ports: list[int] = []
    rng = random.Random()
    for _ in range(1000):
        p = rng.randrange(20_000, 30_000)
        if p not in ports and _free(p) and _free(p + BUS_OFFSET):
            ports.append(p)
            if len(ports) == n:
                return ports
    raise RuntimeError("no free ports for a local Redis Cluster")


def _cli(*args: str, timeout: float = 30.0) -> str:
    out = subprocess.run(["redis-cli", *args], capture_output=True, text=True,
                         timeout=timeout, check=False)
    return out.stdout + out.stderr


def _wait(what: str, ok: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > end:
            raise RuntimeError(f"local Redis Cluster: timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def local_cluster(server: str = "redis-server") -> Iterator[LocalCluster]:
    """Start the cluster, yield it, stop every process it started."""
    exe = shutil.which(server)
    if exe is None:
        raise RuntimeError(f"{server} is not on PATH: cannot start a local Redis Cluster")
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="acd-cluster-") as tmp:
        try:
            ports = free_ports(MASTERS)
            for port in ports:
                d = Path(tmp) / str(port)
                d.mkdir()
                procs.append(subprocess.Popen(
                    [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                     "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "5000", "--appendonly", "no", "--save", "",
                     "--logfile", str(d / "redis.log")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for port, proc in zip(ports, procs, strict=True):
                _wait(f"redis-server on port {port}",
                      lambda p=port, pr=proc: pr.poll() is None
                      and "PONG" in _cli("-p", str(p), "ping"))
            out = _cli("--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                       "--cluster-replicas", "0", "--cluster-yes")
            if "[OK] All 16384 slots covered" not in out:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{out}")
            for port in ports:
                _wait(f"cluster_state:ok on port {port}",
                      lambda p=port: "cluster_state:ok" in _cli("-p", str(p), "cluster", "info"))
            yield LocalCluster("127.0.0.1", tuple(ports))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
