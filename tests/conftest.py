"""Shared fixtures: one embedded SecantusDB for the session, a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from devtools.embedded import EmbeddedMongo
from service.auth.api_keys import create as create_key
from service.cli import main as cli
from service.http.app import create_app
from service.settings import Settings, get_settings


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
        # The suite sends thousands of requests a minute with one key; the rate-limit tests
        # turn the limit on for themselves.
        "rate_limit_per_minute": 0,
        "rate_limit_cost_per_minute": 0,
        # Most tests look at what runs beneath the response cache; its own tests turn it on.
        "response_cache_entries": 0,
        # Rollups materialised in the background would race the tests that look at rollup
        # state; the warming tests turn it on.
        "warm_rollups": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app started (lifespan) on its own database, dropped afterwards."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await application.state.cx.mongo.client.drop_database(settings.mongo_db)


ALL_SCOPES = ["metrics:read", "data:read", "data:write", "admin"]


async def api_key(
    application: Starlette, tenant: str = "default", scopes: list[str] | None = None
) -> str:
    """A new API key of the running app's database (all scopes unless told)."""
    state = application.state.cx
    key, _ = await create_key(state.mongo, tenant, scopes or ALL_SCOPES, "test",
                              state.settings.api_key_pepper)  # fmt: skip
    return key


@asynccontextmanager
async def http_client(
    application: Starlette, tenant: str = "default", scopes: list[str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends an API key for ``tenant`` with every request."""
    headers = {"authorization": f"Bearer {await api_key(application, tenant, scopes)}"}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://cxgraph.test", headers=headers
    ) as c:
        yield c


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app of its own settings and a client talking to it."""
    async with running_app(settings) as application, http_client(application) as c:
        yield application, c


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as c:
        yield c


@pytest.fixture
async def small_app(mongo_uri: str) -> AsyncIterator[Starlette]:
    """An app whose CX_MAX_BATCH is 5, for oversized batches and multi-chunk bodies."""
    async with running_app(make_settings(mongo_uri, max_batch=5)) as application:
        yield application


@pytest.fixture
async def small_client(small_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(small_app) as c:
        yield c


@pytest.fixture
def db(app: Starlette) -> Any:
    """The test's MongoDB database, to check what was stored."""
    return app.state.cx.mongo.db


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, mongo_uri: str) -> Iterator[None]:
    """`cxgraph` commands run in the test point at the test's own database."""
    monkeypatch.setenv("CX_MONGO_URI", mongo_uri)
    monkeypatch.setenv("CX_MONGO_DB", settings.mongo_db)
    monkeypatch.delenv("CX_TIMEZONE", raising=False)
    monkeypatch.delenv("CX_DEFAULT_TENANT", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run_cli(*args: str) -> int:
    """A `cxgraph` command; it runs its own event loop, so in a thread of its own."""
    return await asyncio.to_thread(cli.main, list(args))
