"""GraphiQL works without the internet: the page and every asset it references come from
the service itself."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import make_settings, serving

REFERENCE = re.compile(r'\b(?:src|href)="([^"]+)"')


@pytest.fixture
async def browser(app: Starlette) -> Any:
    """A client without credentials, as a browser opening GraphiQL is."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cxgraph.test") as c:
        yield c


async def test_the_page_and_every_asset_it_references_come_from_the_app(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "GraphiQL" in page.text

    references = [r for r in REFERENCE.findall(page.text) if not r.startswith("data:")]
    assert sorted(references) == [
        "/graphiql-assets/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js",
        "/graphiql-assets/@graphiql/plugin-explorer@1.0.2/dist/style.css",
        "/graphiql-assets/graphiql@3.8.3/graphiql.min.css",
        "/graphiql-assets/graphiql@3.8.3/graphiql.min.js",
        "/graphiql-assets/js-cookie@3.0.5/dist/js.cookie.min.js",
        "/graphiql-assets/react-dom@18.2.0/umd/react-dom.production.min.js",
        "/graphiql-assets/react@18.2.0/umd/react.production.min.js",
    ]
    assert "unpkg" not in page.text
    assert not re.search(r'\b(?:src|href)="(?:https?:)?//', page.text)
    for reference in references:
        asset = await browser.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content, reference
        kind = "text/css" if reference.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"].startswith(kind), reference


async def test_every_vendored_package_ships_its_licence(browser: httpx.AsyncClient) -> None:
    for package in ("react@18.2.0", "react-dom@18.2.0", "js-cookie@3.0.5", "graphiql@3.8.3",
                    "@graphiql/plugin-explorer@1.0.2"):  # fmt: skip
        licence = await browser.get(f"/graphiql-assets/{package}/LICENSE")
        assert licence.status_code == 200, package
        assert "MIT License" in licence.text, package


async def test_in_production_there_is_neither_graphiql_nor_its_assets(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, env="production")) as (_, client):
        asset = await client.get("/graphiql-assets/graphiql@3.8.3/graphiql.min.js")
        page = await client.get("/graphql", headers={"accept": "text/html"})

    assert asset.status_code == 404
    assert page.status_code == 404
