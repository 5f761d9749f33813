"""A bare Starlette endpoint returning fixed bytes: the yardstick for the full stack's hit path.

``python -m bench.bare_endpoint BODY_FILE`` serves ``POST /graphql`` (reading the request
body, as the real one does) and ``GET /readyz`` with uvicorn under the settings
``cxgraph serve`` uses (``CX_HOST``, ``CX_PORT``, ``CX_LOG_LEVEL``), in one process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(body: bytes) -> Starlette:
    async def graphql(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"ok")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"]),
                             Route("/readyz", ready)])  # fmt: skip


def main() -> None:
    app = build(Path(sys.argv[1]).read_bytes())
    uvicorn.run(app, host=os.environ.get("CX_HOST", "127.0.0.1"),
                port=int(os.environ["CX_PORT"]), log_level=os.environ.get("CX_LOG_LEVEL", "info"),
                server_header=False, access_log=False)  # fmt: skip


if __name__ == "__main__":
    main()
