"""Deadlines for slow clients, so none holds a request (and its buffers) for long.

- The request body must have arrived ``CX_BODY_TIMEOUT_S`` after the request began
  (:func:`receive_within`); past that, reading it raises :class:`BodyTimeout` (answered 408).
- Each piece of the answer must be taken by the client within ``CX_SEND_TIMEOUT_S``
  (:func:`send_within`): a client that stops reading an NDJSON answer raises
  :class:`SendTimeout` into the handler, which stops producing; the connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from typing import Any, TypeVar, cast

from starlette.types import Message, Receive, Send

T = TypeVar("T")


class BodyTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the request body did not arrive within {timeout_s:g}s")
        self.timeout_s = timeout_s


class SendTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the client took no part of the answer for {timeout_s:g}s")


def receive_within(receive: Receive, timeout_s: float) -> Receive:
    """``receive`` with a deadline on the body; waiting for a disconnect afterwards is free."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    body_done = False

    async def receiving() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        try:
            message: Message = await _by(deadline, receive())
        except TimeoutError:
            raise BodyTimeout(timeout_s) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            body_done = True
        return message

    return receiving


def send_within(send: Send, timeout_s: float) -> Send:
    async def sending(message: Message) -> None:
        await send_by(send, message, timeout_s)

    return sending


async def send_by(send: Send, message: Message, timeout_s: float) -> None:
    """``send(message)``, taken by the client within ``timeout_s`` or SendTimeout."""
    try:
        await _by(asyncio.get_running_loop().time() + timeout_s, send(message))
    except TimeoutError:
        raise SendTimeout(timeout_s) from None


async def _by(deadline: float, step: Awaitable[T]) -> T:
    """``await step`` under ``asyncio.timeout_at(deadline)`` — but a step that finishes
    without waiting (a body already received, an answer the socket takes at once: nearly
    every one) finishes without a timer being set and cancelled (docs/adr/0024)."""
    steps = step.__await__()
    try:
        waiting_on = steps.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    async with asyncio.timeout_at(deadline):
        return cast(T, await _Resumed(steps, waiting_on))


class _Resumed:
    """Goes on awaiting steps that have already begun (and wait on ``waiting_on``), exactly
    as ``await`` would: what the task sends or throws in goes on to them."""

    def __init__(self, steps: Generator[Any, Any, Any], waiting_on: Any) -> None:
        self.steps, self.waiting_on = steps, waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        steps, pending = self.steps, self.waiting_on
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # a cancellation (the deadline) or another error
                try:
                    pending = steps.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                pending = steps.send(sent)
            except StopIteration as done:
                return done.value
