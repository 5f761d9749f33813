"""The embedded MongoDB-compatible database (SecantusDB) in a child process.

A child process keeps the database's threads off the service's GIL. The child prints its URI
once it listens, and stops cleanly on SIGTERM, SIGINT or when its parent closes its stdin
(so it never outlives a parent that crashed).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

READY = "cxgraph-embedded-ready "


class EmbeddedMongo:
    def __init__(self, data_dir: str | Path, port: int = 0, start_timeout_s: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.uri: str | None = None
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "devtools.embedded", "--path", str(self.data_dir),
               "--port", str(self.port)]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.2)
            if ready:
                line = self._proc.stdout.readline()
                if line.startswith(READY):
                    self.uri = line[len(READY) :].strip()
                    self.port = urlparse(self.uri).port or self.port
                    return self.uri
                if not line and self._proc.poll() is not None:
                    break
            elif self._proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the embedded database did not start (data in {self.data_dir})")

    def stop(self, timeout_s: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused process would not see the SIGTERM
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream:
                stream.close()

    def pause(self) -> None:
        """Freeze the database process (SIGSTOP): connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("the embedded database is not running")
        self._proc.send_signal(sig)

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()


def serve(path: str, port: int) -> None:
    """Run the server in this process until told to stop."""
    try:
        from secantus import SecantusDBServer
    except ImportError:
        sys.exit("the embedded database needs the extra: pip install -e '.[embedded]'")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the parent is gone
        stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    server = SecantusDBServer(storage_path=path, port=port)
    server.start()
    print(READY + server.uri, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the embedded SecantusDB server.")
    parser.add_argument("--path", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.path, exist_ok=True)
    serve(args.path, args.port)


if __name__ == "__main__":
    main()
