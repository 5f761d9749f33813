"""Admin commands reach the embedded database a running `cxgraph dev` (`make run`) started,
through the URI it records in the data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import dev_database
from service.cli import admin
from service.settings import Settings, get_settings
from tests.conftest import run_cli


@pytest.fixture
def no_uri(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    monkeypatch.delenv("CX_MONGO_URI", raising=False)
    monkeypatch.setenv("CX_MONGO_DB", settings.mongo_db)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_rebuild_check_uses_the_recorded_database(
    app: Any, no_uri: None, mongo_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_database.record(tmp_path, mongo_uri)

    code = await run_cli("rollups", "rebuild", "--check", "--data-dir", str(tmp_path))

    out, err = capsys.readouterr()
    assert code == 0
    assert out == "rollups: 0 days with data, 0 drifted, 0 pending materialisation\n"
    assert err == f"using the `make run` database at {mongo_uri} (recorded in {tmp_path})\n"


async def test_without_a_uri_or_a_record_the_command_says_what_to_do(
    no_uri: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run_cli("rollups", "rebuild", "--check", "--data-dir", str(tmp_path))

    assert code == 2
    assert capsys.readouterr().err == (
        "cxgraph rollups rebuild: CX_MONGO_URI is not set and no running `make run` database "
        f"is recorded in {tmp_path}: start `make run` (or pass --data-dir), or set CX_MONGO_URI\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_stale_record_is_reported(
    no_uri: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"mongodb://127.0.0.1:{_free_port()}/"
    dev_database.record(tmp_path, dead)

    code = await run_cli("demo", "load", "--data-dir", str(tmp_path))

    assert code == 2
    assert capsys.readouterr().err == (
        f"cxgraph demo load: the `make run` database recorded in {tmp_path} ({dead}) does not "
        "answer: is `make run` still running?\n"
    )


def test_cxgraph_dev_records_its_database_and_removes_the_record_on_exit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    env.update(CX_DATA_DIR=str(tmp_path / "data"), CX_MONGO_DB="cxtest_dev", CX_LOG_LEVEL="error")
    cxgraph = [sys.executable, "-m", "service.cli.main"]
    dev = subprocess.Popen([*cxgraph, "dev", "--no-demo", "--port", str(_free_port())], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while admin.recorded(tmp_path / "data") is None:
            assert dev.poll() is None and time.monotonic() < deadline, "cxgraph dev did not start"
            time.sleep(0.2)

        check = subprocess.run([*cxgraph, "rollups", "rebuild", "--check"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip

        assert (check.returncode, check.stdout) == (
            0, "rollups: 0 days with data, 0 drifted, 0 pending materialisation\n"
        )  # fmt: skip
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
    assert admin.recorded(tmp_path / "data") is None
