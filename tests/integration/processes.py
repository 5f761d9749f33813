"""A real ``cxgraph serve`` process on a free 127.0.0.1 port, for the fault tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited:\n{self.log()}"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready:\n{self.log()}")


@contextmanager
def serve(mongo_uri: str, db: str, log_dir: Path, **env: str) -> Iterator[Server]:
    """``cxgraph serve`` with CX_* settings from ``env`` (limits and the response cache off
    unless given); killed at the end if still running."""
    port = free_port()
    environ = {**os.environ, "CX_MONGO_URI": mongo_uri, "CX_MONGO_DB": db,
               "CX_PORT": str(port), "CX_HOST": "127.0.0.1", "CX_SHUTDOWN_DELAY_S": "0",
               "CX_RATE_LIMIT_PER_MINUTE": "0", "CX_RATE_LIMIT_COST_PER_MINUTE": "0",
               # As in make_settings: the response cache would answer repeated queries before
               # the paths under test (the metric cache, the database) are reached.
               "CX_RESPONSE_CACHE_ENTRIES": "0", **env}  # fmt: skip
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve"], cwd=ROOT,
                                env=environ, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        server = Server(proc, port, log_path)
        try:
            server.wait_ready()
            yield server
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def create_key(mongo_uri: str, db: str, tenant: str = "default") -> str:
    """An API key with every scope, made by the CLI as an operator would."""
    environ = {**os.environ, "CX_MONGO_URI": mongo_uri, "CX_MONGO_DB": db}
    scopes = ["--scope", "metrics:read", "--scope", "data:read", "--scope", "data:write",
              "--scope", "admin"]  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "service.cli.main", "keys", "create", "--tenant",
                          tenant, *scopes], cwd=ROOT, env=environ, check=True,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]
