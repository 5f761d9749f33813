"""Automatic persisted queries (Apollo's protocol), over POST and GET.

A client sends ``extensions.persistedQuery {version: 1, sha256Hash}`` without the query;
an unknown hash answers ``PersistedQueryNotFound`` and the client sends it again with the
query, which is kept (bounded, per process) once its hash checks out; a document registered
with `cxgraph queries register` is found by its hash on every replica. The request then
goes on as an ordinary one, so every limit, scope and cache applies to it. Over GET a
browser or CDN can revalidate the answer with its ETag (service/http/response_cache.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from service.http.asgi import answer, error_body, read_body, replay

NOT_FOUND = "PersistedQueryNotFound"
MARK = b"persistedQuery"  # in any request that uses the protocol, JSON or URL-encoded


def request_of(scope: Scope, body: bytes) -> dict[str, Any] | None:
    """The GraphQL request of a POST body or GET query string; None if it is not one."""
    try:
        if scope["method"] == "POST":
            found = json.loads(body)
            return found if isinstance(found, dict) else None
        params = dict(parse_qsl(scope.get("query_string", b"").decode()))
        request: dict[str, Any] = {k: params[k] for k in ("query", "operationName") if k in params}
        for name in ("variables", "extensions"):
            if name in params:
                request[name] = json.loads(params[name])
        return request
    except (ValueError, UnicodeDecodeError):
        return None


class PersistedQueries:
    def __init__(self, app: ASGIApp, size: int = 5000) -> None:
        self.app = app
        self.size = size
        self.known: OrderedDict[str, str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/graphql"
            or scope["method"] not in ("GET", "POST")
        ):
            await self.app(scope, receive, send)
            return
        read, receive = await read_body(receive)
        if MARK not in (read or b"") and MARK not in scope.get("query_string", b""):
            await self.app(scope, receive, send)  # not a persisted query: nothing to parse
            return
        request = request_of(scope, read or b"")
        extensions = (request or {}).get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if request is None or not isinstance(persisted, dict):
            await self.app(scope, receive, send)
            return
        digest = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(digest, str):
            await answer(send, 400, error_body("only persisted query version 1 with a "
                                                "sha256Hash is supported",
                                                "PERSISTED_QUERY_NOT_SUPPORTED"))  # fmt: skip
            return
        query = request.get("query")
        if isinstance(query, str):
            if hashlib.sha256(query.encode()).hexdigest() != digest:
                await answer(send, 400, error_body("the sha256Hash does not match the query",
                                                    "INVALID_PERSISTED_QUERY"))  # fmt: skip
                return
            self._keep(digest, query)
        else:
            query = self.known.get(digest)
            if query is not None:
                self.known.move_to_end(digest)
            else:  # a document registered with `cxgraph queries register` (ADR 0023)
                registered = getattr(scope["app"].state.cx, "registered_queries", None)
                found = await registered.find(digest) if registered is not None else None
                if found is None:
                    await answer(send, 200, error_body(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND"))
                    return
                query = found.text
        assert isinstance(extensions, dict)  # it holds persistedQuery
        rest = {k: v for k, v in extensions.items() if k != "persistedQuery"}
        plain = {**request, "query": query}
        plain.pop("extensions", None)
        if rest:
            plain["extensions"] = rest
        scope, receive = _rewritten(scope, plain)
        await self.app(scope, receive, send)

    def _keep(self, digest: str, query: str) -> None:
        self.known[digest] = query
        self.known.move_to_end(digest)
        while len(self.known) > self.size:
            self.known.popitem(last=False)


def _rewritten(scope: Scope, request: dict[str, Any]) -> tuple[Scope, Receive]:
    """The same request carrying its query, as a POST body or a GET query string."""
    if scope["method"] == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in request.items()}
        return {**scope, "query_string": urlencode(params).encode()}, replay(b"")
    body = json.dumps(request).encode()
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**scope, "headers": headers}, replay(body)
