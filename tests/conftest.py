"""Shared fixtures: one embedded SecantusDB for the session, a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from service.app import create_app
from service.embedded import EmbeddedMongo
from service.settings import Settings


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CX_TEST_MONGO_URI points the suite at another server; otherwise an embedded one."""
    external = os.environ.get("CX_TEST_MONGO_URI")
    if external:
        yield external
        return
    with EmbeddedMongo(tmp_path_factory.mktemp("secantus")) as server:
        assert server.uri is not None
        yield server.uri


def make_settings(mongo_uri: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mongo_uri": mongo_uri,
        "mongo_db": f"cxtest_{uuid.uuid4().hex[:12]}",
        "mongo_driver": "pymongo",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        await application.state.cx.mongo.client.drop_database(settings.mongo_db)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cxgraph.test") as c:
        yield c


@pytest.fixture
def db(app: Starlette) -> Any:
    """The test's MongoDB database, to check what was stored."""
    return app.state.cx.mongo.db
