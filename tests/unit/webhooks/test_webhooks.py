"""The webhook machinery without a database: the connect-time guard against DNS rebinding,
the threshold debounce (on a clock of the test's), and background loops that stop."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from service.http.background import every
from service.settings import Settings
from service.webhooks.evaluator import ThresholdEvaluator
from service.webhooks.transport import delivery_client

# -- the guard at connect time ---------------------------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def test_a_name_that_resolves_to_loopback_is_refused_when_it_is_dialled() -> None:
    """A URL checked when it was defined may resolve elsewhere later (DNS rebinding): the
    client itself checks the addresses it is about to dial."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://localhost:{server.server_port}/hook"
    try:
        async with delivery_client(allow_private=False, timeout_s=5, max_connections=2) as c:
            with pytest.raises(httpx.ConnectError, match="loopback"):
                await c.post(url, content=b"{}")
        async with delivery_client(allow_private=True, timeout_s=5, max_connections=2) as c:
            assert (await c.post(url, content=b"{}")).status_code == 204
    finally:
        server.shutdown()
        server.server_close()


async def test_redirects_are_not_followed() -> None:
    class Redirect(_Ok):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with delivery_client(allow_private=True, timeout_s=5, max_connections=2) as c:
            answer = await c.post(f"http://127.0.0.1:{server.server_port}/", content=b"{}")
            assert answer.status_code == 307
    finally:
        server.shutdown()
        server.server_close()


def test_a_burst_of_versions_settles_once_after_the_debounce() -> None:
    now = [0.0]
    settings = Settings(webhook_threshold_debounce_ms=1000)
    evaluator = ThresholdEvaluator(
        mongo=None, settings=settings, metrics=None, tenants=None, versions=None,
        wake=lambda: None, clock=lambda: now[0],
    )  # fmt: skip

    def settled(at: float, version: int) -> bool:
        now[0] = at
        return evaluator._settled("t", version)

    assert not settled(0.0, 1)
    assert not settled(0.5, 2)
    assert not settled(1.0, 3)
    assert not settled(1.9, 3)
    assert settled(2.0, 3)  # a second without a new version
    assert not settled(2.2, 4)
    assert settled(3.3, 4)
    # writes without a pause are judged at least every ten debounce periods
    results = [settled(10.0 + 0.5 * i, 10 + i) for i in range(25)]
    assert results.index(True) == 20  # at 20.0 s: ten periods after 10.0 s
    assert not settled(20.5, 40)


# -- background loops stop even when a driver call swallows the cancellation ---------------------


async def test_a_background_loop_stops_when_its_job_swallowed_the_cancellation() -> None:
    """PyMongo's async client sometimes completes an operation it was cancelled in instead of
    raising; the loop must still end (else it runs on against closed clients)."""
    started, runs = asyncio.Event(), []

    async def job() -> None:
        runs.append(1)
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if len(runs) == 1:
                return  # swallowed once, as the driver may
            raise

    task = asyncio.create_task(every(0.001, "test job", job))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert runs == [1]


def test_an_outage_is_one_line_and_a_bug_has_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    from service.webhooks.looping import FailureStreak

    streak = FailureStreak("claiming")
    for error in (ServerSelectionTimeoutError("no primary"), ValueError("a bug")):
        streak.ok()
        caplog.clear()
        try:
            raise error
        except Exception:
            streak.failed()
            streak.failed()  # the streak goes on: nothing more
        (record,) = caplog.records
        assert (record.exc_info is not None) is isinstance(error, ValueError)
    assert caplog.records[0].getMessage().startswith("claiming failed; retrying quietly")
