"""Small ASGI pieces the HTTP layers share: bodies read and handed on, headers added,
JSON answers sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import Message, Receive, Send


def media_type(headers: Mapping[str, str]) -> str:
    """The request's media type, without parameters (``; charset=...``), lower-case."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def error_shape(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    """The GraphQL error shape, so clients read one kind of error from every endpoint."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """An error in GraphQL's response shape, for answers given outside GraphQL."""
    return json.dumps(error_shape(message, code, **extensions)).encode()


async def read_body(receive: Receive, limit: int | None = None) -> tuple[bytes | None, Receive]:
    """The whole body (None as soon as it passes ``limit``: nothing more is read), and a
    receive that hands it on again. A body an outer layer read already is handed on as it
    is, without reading or copying it again (docs/adr/0024)."""
    if isinstance(receive, _Replay) and not receive.sent:
        if limit is not None and len(receive.body) > limit:
            return None, receive
        return receive.body, receive
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replay(body, receive)


def replay(body: bytes, then: Receive | None = None) -> Receive:
    """A receive that gives ``body`` once, then whatever ``then`` gives (or a disconnect)."""
    return _Replay(body, then)


class _Replay:
    __slots__ = ("body", "sent", "then")

    def __init__(self, body: bytes, then: Receive | None) -> None:
        self.body, self.then, self.sent = body, then, False

    async def __call__(self) -> Message:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        if self.then is None:
            return {"type": "http.disconnect"}
        return await self.then()


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


async def answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})  # fmt: skip
