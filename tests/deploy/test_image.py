"""The image, without a Docker engine: its command starts the service from a clean virtualenv.

The virtualenv gets what the Dockerfile's build stage installs (requirements/prod.lock, then
the files the Dockerfile copies, without dependencies); the command is the Dockerfile's CMD
with the final stage's environment, run from an empty directory so nothing comes from the
source tree.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pymongo
import pytest

from tests.deploy.dockerfile import ROOT, stages
from tests.integration.http.test_shutdown import free_port

pytestmark = pytest.mark.image
IMAGE_ROOT = "/opt/cxgraph"  # where the Dockerfile puts its virtualenv


def test_the_final_stage_is_the_slim_pinned_base_as_a_numeric_non_root_user() -> None:
    build, final = stages()
    assert build.base == final.base
    assert final.base.startswith("python:3.11.") and final.base.endswith("-slim-trixie")
    uid, _, gid = final.user.partition(":")
    assert int(uid) > 0 and int(gid) > 0
    assert final.cmd == ["cxgraph", "serve"]
    assert final.env["CX_ENV"] == "production"
    assert build.copies == ["requirements/prod.lock", "pyproject.toml", "README.md", "schema/",
                            "resolvers/", "service/"]  # fmt: skip


def test_the_production_lock_has_no_embedded_database_and_no_dev_tools() -> None:
    pins = {line.split("==")[0] for line in (ROOT / "requirements/prod.lock").read_text()
            .splitlines() if "==" in line}  # fmt: skip
    assert pins.isdisjoint({"secantusdb", "pytest", "mypy", "ruff", "hypothesis", "motor"})
    assert {"uvicorn", "pymongo", "prometheus-client", "opentelemetry-sdk"} <= pins


def snapshot(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def test_the_image_command_serves_from_a_clean_virtualenv(mongo_uri: str, tmp_path: Path) -> None:
    build, final = stages()
    venv, context, workdir, tmp = (tmp_path / n for n in ("venv", "context", "work", "tmp"))
    for source in build.copies:  # the build context the Dockerfile sees
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, target)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]  # fmt: skip
    for args in (["-r", str(context / "requirements/prod.lock")], ["--no-deps", str(context)]):
        done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=600,
                              cwd=context)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    python = str(venv / "bin/python")
    probe = "import importlib.util as u; print([m for m in ('secantus', 'pytest', 'mypy', 'devtools') if u.find_spec(m)])"  # noqa: E501
    absent = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=tmp_path)  # fmt: skip
    assert absent.stdout.strip() == "[]"
    # The development commands say they are not part of the image rather than crash.
    dev = subprocess.run([str(venv / "bin/cxgraph"), "dev"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)  # fmt: skip
    assert dev.returncode == 2
    assert "not part of this install" in dev.stderr

    workdir.mkdir()
    tmp.mkdir()
    port, db = free_port(), f"cxtest_{uuid.uuid4().hex[:12]}"
    env = {key: value.replace(IMAGE_ROOT, str(venv)).replace("${PATH}", "/usr/bin:/bin")
           for key, value in final.env.items()}  # fmt: skip
    env.update(TMPDIR=str(tmp), HOME=str(tmp), CX_MONGO_URI=mongo_uri, CX_MONGO_DB=db,
               CX_PORT=str(port), LANG="C.UTF-8")  # fmt: skip
    assert not {k for k in env if k.startswith("PYTHONPATH")}
    before = snapshot(venv)
    command = [shutil.which(final.cmd[0], path=env["PATH"]) or final.cmd[0], *final.cmd[1:]]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        statuses: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and statuses != {"/livez": 200, "/readyz": 200}:
            assert proc.poll() is None, log_path.read_text()
            try:
                statuses = {p: httpx.get(base + p, timeout=1).status_code
                            for p in ("/livez", "/readyz")}  # fmt: skip
            except httpx.TransportError:
                time.sleep(0.2)
        assert statuses == {"/livez": 200, "/readyz": 200}
        graphiql = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, timeout=2)
        assert graphiql.status_code != 200  # CX_ENV=production from the image: no GraphiQL
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with pymongo.MongoClient(mongo_uri) as client:
            client.drop_database(db)
    # A read-only root filesystem would have been fine: nothing written but under TMPDIR.
    assert snapshot(venv) == before
    assert snapshot(workdir) == set()
