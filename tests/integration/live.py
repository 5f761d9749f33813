"""A real server socket for an app running in the test's event loop, and a small
graphql-transport-ws client (the protocol: github.com/enisdenjo/graphql-ws, PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


@asynccontextmanager
async def listening(app: Starlette) -> AsyncIterator[str]:
    """``app`` (already started) served by uvicorn on a free port; yields its ws:// URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                            ws_max_size=app.state.cx.settings.max_body_bytes)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.exception()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


class Live:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """The next message other than a ping (answered with a pong)."""
        while True:
            async with asyncio.timeout(timeout_s):
                raw = await self.ws.recv()
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        await self.send({"id": op_id, "type": "subscribe",
                         "payload": {"query": query, "variables": variables}})  # fmt: skip

    async def next_data(self, op_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        message = await self.receive(timeout_s)
        assert message.get("id") == op_id and message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]["errors"]
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_within(self, seconds: float) -> None:
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no message for {seconds}s, got {message}")

    async def closed_with(self, timeout_s: float = 30.0) -> int:
        """The close code the server ended the connection with."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, closed
            return closed.rcvd.code
        raise AssertionError("unreachable")


@asynccontextmanager
async def live(url: str, init: dict[str, Any] | None = None) -> AsyncIterator[Live]:
    """A connection, acknowledged with ``init`` as the connection_init payload unless None."""
    async with connect(url, subprotocols=[PROTOCOL], open_timeout=30) as ws:
        client = Live(ws)
        if init is not None:
            ack = await client.init(init)
            assert ack["type"] == "connection_ack", ack
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
