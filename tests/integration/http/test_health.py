"""/livez and /readyz, including a database that stops and comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from devtools.embedded import EmbeddedMongo
from service.http.app import create_app
from tests.conftest import make_settings


async def test_livez_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_ok_when_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mongo": "up"}


async def _ready_status(client: httpx.AsyncClient) -> int:
    return (await client.get("/readyz")).status_code


async def test_readyz_follows_the_database_down_and_back(tmp_path: Path) -> None:
    first = EmbeddedMongo(tmp_path / "db")
    second: EmbeddedMongo | None = None
    settings = make_settings(first.start(), mongo_server_selection_timeout_s=0.5)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert await _ready_status(client) == 200

                first.stop()
                response = await client.get("/readyz")
                assert response.status_code == 503
                assert response.json() == {"status": "unavailable", "mongo": "down"}

                # The same port and files again: the client reconnects by itself.
                second = EmbeddedMongo(tmp_path / "db", port=first.port)
                second.start()
                statuses = []
                for _ in range(80):
                    statuses.append(await _ready_status(client))
                    if statuses[-1] == 200:
                        break
                    await asyncio.sleep(0.25)
                assert statuses[-1] == 200, statuses
    finally:
        first.stop()
        if second is not None:
            second.stop()
