"""GraphiQL without the internet: Strawberry's page, its assets served by the service itself.

Strawberry's GraphiQL page loads React, GraphiQL and the explorer plugin from unpkg, so with
no internet it shows "Loading..." forever. The same files (npm packages, production builds,
with their licences) are vendored under service/http/static/graphiql/ in unpkg's own layout, and
the page's unpkg URLs point there. The page's `integrity` hashes stay, so a browser checks
that each vendored file is byte for byte the one Strawberry pinned. A Strawberry upgrade that
pins other versions fails tests/integration/http/test_graphiql_offline.py until they are vendored.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"
CDN = "https://unpkg.com/"


@cache
def graphiql_html() -> str:
    return get_graphql_ide_html("graphiql").replace(CDN, ASSETS_PATH + "/")
