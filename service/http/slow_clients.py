"""Deadlines for slow clients, so none holds a request (and its buffers) for long.

- The request body must have arrived ``CX_BODY_TIMEOUT_S`` after the request began
  (:func:`receive_within`); past that, reading it raises :class:`BodyTimeout` (answered 408).
- Each piece of the answer must be taken by the client within ``CX_SEND_TIMEOUT_S``
  (:func:`send_within`): a client that stops reading an NDJSON answer raises
  :class:`SendTimeout` into the handler, which stops producing; the connection is closed.
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Send


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
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(timeout_s) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            body_done = True
        return message

    return receiving


def send_within(send: Send, timeout_s: float) -> Send:
    async def sending(message: Message) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await send(message)
        except TimeoutError:
            raise SendTimeout(timeout_s) from None

    return sending
