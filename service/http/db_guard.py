"""A database failure that escapes the app is answered UNAVAILABLE, not 500.

Runs ``/ingest/*`` under :meth:`~service.store.liveness.DatabaseWatch.guard` (GraphQL is
watched per root field, authentication in the edge), and answers a database failure that
escapes — from authentication, which reads API keys, or from the watch: GraphQL with its
error shape (HTTP 200, ``extensions.code`` UNAVAILABLE, as a resolver's would be), NDJSON with
503 — or, once its stream has begun, with a last ``{"errors": [...]}`` line. A write cut
off this way was not acknowledged; write intents make its resend land once (docs/adr/0006).
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.store.client import UNAVAILABLE_ERRORS

log = logging.getLogger("cxgraph.errors")

MESSAGE = "the database is unavailable; retry shortly"
GUARDED_PREFIXES = ("/graphql", "/ingest/")


def unavailable_body() -> bytes:
    return json.dumps(
        {"data": None, "errors": [{"message": MESSAGE, "extensions": {"code": "UNAVAILABLE"}}]}
    ).encode()


class DatabaseGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        ndjson = path.startswith("/ingest/")
        # GraphQL is watched per root field (resolvers/database_watch.py) and authentication
        # in the edge, so one field cut off leaves the others their answers.
        watch = scope["app"].state.cx.watch if ndjson else None
        progress = {"started": False, "complete": False}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                progress["complete"] = True
            await send(message)

        try:
            if watch is None:
                await self.app(scope, receive, sending)
            else:
                async with watch.guard():
                    await self.app(scope, receive, sending)
        except UNAVAILABLE_ERRORS as exc:
            log.warning("database unavailable: %s", exc)
            if not progress["started"]:
                body = unavailable_body()
                if ndjson:
                    body = json.dumps({"errors": json.loads(body)["errors"]}).encode()
                await send({"type": "http.response.start", "status": 503 if ndjson else 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
            elif not progress["complete"]:
                errors = json.loads(unavailable_body())["errors"]
                line = json.dumps({"errors": errors}, separators=(",", ":")).encode() + b"\n"
                await send({"type": "http.response.body", "body": line if ndjson else b""})
