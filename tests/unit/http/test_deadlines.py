"""The slow-client deadlines (service/slow_clients.py) set no timer for a step that does not
wait, and still cut off one that waits too long."""

from __future__ import annotations

import asyncio

import pytest

from service.http.slow_clients import BodyTimeout, SendTimeout, _by, receive_within, send_within


async def test_a_step_that_does_not_wait_needs_no_timer() -> None:
    async def ready() -> str:
        return "done"

    loop = asyncio.get_running_loop()
    assert await _by(loop.time() - 1, ready()) == "done"  # even past its deadline


async def test_a_step_that_waits_finishes_within_its_deadline() -> None:
    async def later() -> int:
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        return 7

    assert await _by(asyncio.get_running_loop().time() + 5, later()) == 7


async def test_a_step_that_waits_too_long_is_cancelled() -> None:
    seen: list[str] = []

    async def stuck() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    with pytest.raises(TimeoutError):
        await _by(asyncio.get_running_loop().time() + 0.05, stuck())
    assert seen == ["cancelled"]


async def test_errors_of_a_waiting_step_come_through() -> None:
    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await _by(asyncio.get_running_loop().time() + 5, failing())


async def test_receive_and_send_keep_their_deadlines() -> None:
    async def never() -> dict[str, object]:
        await asyncio.sleep(30)
        return {}

    with pytest.raises(BodyTimeout):
        await receive_within(never, 0.05)()

    async def slow_send(message: dict[str, object]) -> None:
        await asyncio.sleep(30)

    with pytest.raises(SendTimeout):
        await send_within(slow_send, 0.05)({"type": "http.response.start"})

    async def quick() -> dict[str, object]:
        return {"type": "http.request", "body": b"x", "more_body": False}

    assert (await receive_within(quick, 0.05)())["body"] == b"x"
